/* json.c -- a JSON writer into a caller's buffer (see json.h). */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void json_put(struct json_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int k = vsnprintf(o->n < o->len ? o->buf + o->n : NULL, o->n < o->len ? o->len - o->n : 0,
			  fmt, ap);
	va_end(ap);
	o->n += k > 0 ? (size_t)k : 0;
}

static void put_char(struct json_out *o, char c)
{
	if (o->n + 1 < o->len) {
		o->buf[o->n] = c;
		o->buf[o->n + 1] = '\0';
	}
	o->n++;
}

void json_str(struct json_out *o, const char *s)
{
	if (!s) {
		json_put(o, "null");
		return;
	}
	put_char(o, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			put_char(o, '\\');
			put_char(o, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			json_put(o, "\\u%04x", *p);
		} else {
			put_char(o, (char)*p); /* UTF-8 passes through */
		}
	}
	put_char(o, '"');
}

unsigned json_counters(struct json_out *o, const char *text, bool lead_comma)
{
	unsigned k = 0;

	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n'), *sp = strchr(p, ' ');

		if (!eol)
			eol = p + strlen(p);
		if (sp && sp < eol && eol > sp + 1 &&
		    strspn(sp + 1, "0123456789") == (size_t)(eol - sp - 1)) {
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)(sp - p), p);
			json_put(o, "%s", lead_comma || k ? "," : "");
			json_str(o, name);
			json_put(o, ":%.*s", (int)(eol - sp - 1), sp + 1);
			k++;
		}
		p = *eol ? eol + 1 : eol;
	}
	return k;
}

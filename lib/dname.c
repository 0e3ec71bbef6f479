/* dname.c -- domain names in uncompressed wire form: text conversion,
 * comparison, hashing. */
#include "dname.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

int dname_from_str(const char *str, uint8_t *out, size_t out_max)
{
	size_t len = 0, lab = 0;
	const char *p = str;

	if (out_max < 1)
		return CAR_ESPACE;
	if (p[0] == '.' && p[1] == '\0') {
		out[0] = 0;
		return 1;
	}
	if (*p == '\0')
		return CAR_EMALF;
	out[0] = 0;
	len = 1;
	while (*p) {
		unsigned c = (unsigned char)*p++;

		if (c == '.') {
			if (out[lab] == 0)
				return CAR_EMALF; /* empty label */
			if (len + 1 > DNAME_MAXLEN || len + 1 > out_max)
				return CAR_EMALF;
			lab = len;
			out[len++] = 0; /* next label's length, or the root */
			continue;
		}
		if (c == '\\') {
			if (p[0] >= '0' && p[0] <= '9') {
				if (!(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9'))
					return CAR_EMALF;
				c = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
				    (unsigned)(p[2] - '0');
				if (c > 255)
					return CAR_EMALF;
				p += 3;
			} else if (*p) {
				c = (unsigned char)*p++;
			} else {
				return CAR_EMALF;
			}
		}
		if (out[lab] == DNAME_MAXLABEL || len + 1 > DNAME_MAXLEN - 1 || len + 1 > out_max)
			return CAR_EMALF;
		out[len++] = (uint8_t)c;
		out[lab]++;
	}
	if (out[lab] != 0) { /* no trailing dot: close the last label */
		if (len + 1 > DNAME_MAXLEN || len + 1 > out_max)
			return CAR_EMALF;
		out[len++] = 0;
	}
	return (int)len;
}

int dname_to_str(const uint8_t *name, char *out, size_t out_max)
{
	size_t n = 0;

	if (out_max < 2)
		return CAR_ESPACE;
	if (name[0] == 0) {
		out[0] = '.';
		out[1] = '\0';
		return 1;
	}
	while (name[0]) {
		for (unsigned i = 1; i <= name[0]; i++) {
			uint8_t c = name[i];

			if (n + 5 >= out_max)
				return CAR_ESPACE;
			if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' ||
			    c == '@' || c == '$')
				n += (size_t)snprintf(out + n, out_max - n, "\\%c", c);
			else if (c <= 0x20 || c >= 0x7f)
				n += (size_t)snprintf(out + n, out_max - n, "\\%03u", c);
			else
				out[n++] = (char)c;
		}
		if (n + 2 >= out_max)
			return CAR_ESPACE;
		out[n++] = '.';
		name += name[0] + 1;
	}
	out[n] = '\0';
	return (int)n;
}

size_t dname_len(const uint8_t *name)
{
	const uint8_t *p = name;

	while (*p)
		p += *p + 1;
	return (size_t)(p - name) + 1;
}

int dname_labels(const uint8_t *name)
{
	int n = 0;

	while (*name) {
		name += *name + 1;
		n++;
	}
	return n;
}

void dname_lower(uint8_t *name)
{
	while (*name) {
		uint8_t l = *name;

		for (unsigned i = 1; i <= l; i++)
			name[i] = dname_lower_char(name[i]);
		name += l + 1;
	}
}

uint32_t dname_hash(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	return h;
}

bool dname_equal(const uint8_t *a, const uint8_t *b)
{
	size_t la = dname_len(a);

	return la == dname_len(b) && memcmp(a, b, la) == 0;
}

bool dname_is_sub(const uint8_t *name, const uint8_t *parent)
{
	int ln = dname_labels(name), lp = dname_labels(parent);

	if (ln < lp)
		return false;
	for (int i = 0; i < ln - lp; i++)
		name += name[0] + 1;
	return dname_equal(name, parent);
}

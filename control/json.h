/* json.h -- a writer into a caller's buffer: text (json_put, which the
 * Prometheus exposition uses too) and JSON strings and members for the
 * HTTP API. Like snprintf it counts what it would need when the buffer is
 * too small, and never writes past it. */
#ifndef CAROUSEL_JSON_H
#define CAROUSEL_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct json_out {
	char *buf;
	size_t len, n; /* n may pass len: the size it would need */
};

/* Raw text (numbers, punctuation, keys known to need no escaping). */
__attribute__((format(printf, 2, 3))) void json_put(struct json_out *o, const char *fmt, ...);
/* s as a quoted JSON string (RFC 8259 7), or null when s is NULL. */
void json_str(struct json_out *o, const char *s);
/* "name value" lines (carouselctl stats) as "name":value members, each
 * after a comma but the first (that one too with lead_comma); lines whose
 * value is not a number are skipped. Returns how many were written. */
unsigned json_counters(struct json_out *o, const char *text, bool lead_comma);

#endif

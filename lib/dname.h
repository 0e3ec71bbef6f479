/* dname.h -- domain names in uncompressed wire form (RFC 1035 3.1) */
#ifndef CAROUSEL_DNAME_H
#define CAROUSEL_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAXLEN 255  /* RFC 1035 2.3.4, incl. the root byte */
#define DNAME_MAXLABEL 63 /* RFC 1035 2.3.4 */
#define DNAME_STRLEN 1010 /* worst case text form: every byte as \DDD */

/* Parse presentation form ("www.Example.test." or "www.example.test";
 * both are absolute) into wire form. Returns the wire length or CAR_EMALF. */
int dname_from_str(const char *str, uint8_t *out, size_t out_max);

/* Write the presentation form (with trailing dot). Returns the length. */
int dname_to_str(const uint8_t *name, char *out, size_t out_max);

size_t dname_len(const uint8_t *name);
int dname_labels(const uint8_t *name);
void dname_lower(uint8_t *name);
uint32_t dname_hash(const uint8_t *name, size_t len);

static inline bool dname_is_root(const uint8_t *name)
{
	return name[0] == 0;
}

/* The name one label up; the root has no parent (returns NULL). */
static inline const uint8_t *dname_parent(const uint8_t *name)
{
	return name[0] == 0 ? NULL : name + 1 + name[0];
}

/* Both names lower-case. */
bool dname_equal(const uint8_t *a, const uint8_t *b);
/* True when name equals parent or lies below it (both lower-case). */
bool dname_is_sub(const uint8_t *name, const uint8_t *parent);

static inline uint8_t dname_lower_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

#endif

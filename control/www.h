/* www.h -- the status page's files, compiled into carouseld from www/ by
 * scripts/embed.py (no request ever leaves for another host). */
#ifndef CAROUSEL_WWW_H
#define CAROUSEL_WWW_H

#include <stddef.h>

struct www_asset {
	const char *path; /* "/", "/app.js", ... */
	const char *type; /* Content-Type */
	const unsigned char *body;
	size_t len;
};

extern const struct www_asset www_assets[];
extern const unsigned www_nassets;

#endif

/* arena.h -- bump allocator: everything one config generation owns is
 * allocated here and freed at once when that generation is retired. */
#ifndef CAROUSEL_ARENA_H
#define CAROUSEL_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t used; /* bytes handed out, for `carouselctl status` */
	size_t held; /* bytes of its chunks */
};

void arena_init(struct arena *a);
/* Zeroed, 16-byte aligned; aborts on out-of-memory (config load time only). */
void *arena_alloc(struct arena *a, size_t n);
/* Zeroed, aligned to align (a power of two, e.g. a cache line). */
void *arena_alloc_aligned(struct arena *a, size_t n, size_t align);
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *src, size_t n);
void arena_free(struct arena *a);

#endif

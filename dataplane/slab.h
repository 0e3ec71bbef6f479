/* slab.h -- the DPDK table's entries by size class: one writer (the
 * publisher), memory in 2 MiB chunks, never handed back until
 * slab_destroy. */
#ifndef CAROUSEL_SLAB_H
#define CAROUSEL_SLAB_H

#include <stddef.h>

#define SLAB_STEP 64          /* classes every 64 bytes (a cache line) */
#define SLAB_MAX 2048         /* larger: calloc */
#define SLAB_CHUNK (2u << 20)

/* Under AddressSanitizer every block is malloc's (gcc's and
 * clang's), so that a use after
 * the grace period's free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ALL_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ALL_MALLOC 1
#endif
#endif
#ifndef SLAB_ALL_MALLOC
#define SLAB_ALL_MALLOC 0
#endif

struct slab_chunk;

struct slab {
	void *free[SLAB_MAX / SLAB_STEP + 1]; /* a free list per class */
	struct slab_chunk *chunks;
	unsigned char *next, *end; /* the chunk being cut */
	size_t held;               /* bytes in chunks */
};

/* size bytes, zeroed; NULL when memory is out. */
void *slab_alloc(struct slab *s, size_t size);
/* p, allocated with the same size. */
void slab_free(struct slab *s, void *p, size_t size);
void slab_destroy(struct slab *s);

#endif

/* slab.c -- size classes for the fast path's entries. A million names
 * are two million entries of 150 to 400 bytes: here a block is a pointer
 * bump or a pop, not malloc's search, and the table's memory is counted
 * (dpdk.entry-memory). Chunks are not asked for as transparent huge
 * pages: with the kernel's defrag at "madvise" the faults compacted
 * memory and a first publish of a million names took longer, not less. */
#include "slab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct slab_chunk {
	struct slab_chunk *next;
};

static size_t class_of(size_t size)
{
	return (size + SLAB_STEP - 1) / SLAB_STEP;
}

void *slab_alloc(struct slab *s, size_t size)
{
	if (SLAB_ALL_MALLOC || size == 0 || size > SLAB_MAX)
		return calloc(1, size ? size : 1);
	size_t c = class_of(size), bytes = c * SLAB_STEP;
	void *p = s->free[c];

	if (p) {
		memcpy(&s->free[c], p, sizeof(void *));
		memset(p, 0, bytes); /* a chunk's fresh blocks are zero already */
		return p;
	}
	if ((size_t)(s->end - s->next) < bytes) {
		/* populated in one call: not 512 faults */
		struct slab_chunk *k = mmap(NULL, SLAB_CHUNK, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (k == MAP_FAILED)
			return NULL;
		k->next = s->chunks;
		s->chunks = k;
		s->held += SLAB_CHUNK;
		/* the rest of the old chunk is lost: under a class's size */
		s->next = (unsigned char *)k + SLAB_STEP;
		s->end = (unsigned char *)k + SLAB_CHUNK;
	}
	p = s->next;
	s->next += bytes;
	return p;
}

void slab_free(struct slab *s, void *p, size_t size)
{
	if (!p)
		return;
	if (SLAB_ALL_MALLOC || size == 0 || size > SLAB_MAX) {
		free(p);
		return;
	}
	size_t c = class_of(size);

	memcpy(p, &s->free[c], sizeof(void *));
	s->free[c] = p;
}

void slab_destroy(struct slab *s)
{
	while (s->chunks) {
		struct slab_chunk *k = s->chunks;

		s->chunks = k->next;
		munmap(k, SLAB_CHUNK);
	}
	memset(s, 0, sizeof(*s));
}

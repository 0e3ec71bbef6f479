/* arena.c -- bump allocator for one config generation. */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Chunks grow with the arena, up to 32 MiB; from 2 MiB up they are
 * aligned and asked for as transparent huge pages: a million names touch
 * hundreds of MiB, and in a VM a fault per 4 KiB page cost more than
 * everything else the loader did. */
#define ARENA_CHUNK (64 * 1024)
#define ARENA_CHUNK_MAX (32u << 20)
#define ARENA_HUGE (2u << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, off;
	_Alignas(16) unsigned char mem[];
};

void arena_init(struct arena *a)
{
	a->head = NULL;
	a->used = 0;
	a->held = 0;
}

static struct arena_chunk *chunk_new(struct arena *a, size_t n)
{
	size_t size = a->held < ARENA_CHUNK ? ARENA_CHUNK : a->held;
	struct arena_chunk *c;

	if (size > ARENA_CHUNK_MAX)
		size = ARENA_CHUNK_MAX;
	if (size < n)
		size = n;
	if (sizeof(*c) + size >= ARENA_HUGE) {
		size =
		    ((sizeof(*c) + size + ARENA_HUGE - 1) & ~(size_t)(ARENA_HUGE - 1)) - sizeof(*c);
		c = aligned_alloc(ARENA_HUGE, sizeof(*c) + size);
		if (c)
			madvise(c, sizeof(*c) + size, MADV_HUGEPAGE); /* a hint: may fail */
	} else {
		c = malloc(sizeof(*c) + size);
	}
	if (!c) {
		fprintf(stderr, "event=fatal reason=out-of-memory\n");
		abort();
	}
	c->size = size;
	c->off = 0;
	c->next = a->head;
	a->head = c;
	a->held += size;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->head->size - a->head->off < n)
		chunk_new(a, n);
	void *p = a->head->mem + a->head->off;

	a->head->off += n;
	a->used += n;
	memset(p, 0, n);
	return p;
}

void *arena_alloc_aligned(struct arena *a, size_t n, size_t align)
{
	uintptr_t p = (uintptr_t)arena_alloc(a, n + align - 1);

	return (void *)((p + align - 1) & ~(uintptr_t)(align - 1));
}

void *arena_memdup(struct arena *a, const void *src, size_t n)
{
	void *p = arena_alloc(a, n);

	memcpy(p, src, n);
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_memdup(a, s, strlen(s) + 1);
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
	a->held = 0;
}

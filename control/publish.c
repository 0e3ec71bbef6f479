/* publish.c -- the publisher: which names go to the fast path, rendered
 * by the answer engine, handed over through fp_ops, withdrawn by
 * difference between generations. */
#include "publish.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "log.h"
#include "wire.h"

struct publisher {
	const struct fp_ops *fp;
	struct entry *scratch; /* one rendering at a time (main thread only) */
	/* this generation's configured keys, sorted: what the next full
	 * publish compares against, and what hot entries may not take */
	uint64_t *keys;
	size_t nkeys, cap;
	uint32_t generation;
	uint64_t published, skipped, collisions, removed, hot;
	uint64_t no_room; /* names the fast path could not hold */
	double last_ms; /* the last full publish took */
};

struct publisher *publish_create(const struct fp_ops *fp)
{
	struct publisher *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->fp = fp;
	p->scratch = aligned_alloc(64, sizeof(*p->scratch));
	if (!p->scratch) {
		free(p);
		return NULL;
	}
	return p;
}

void publish_destroy(struct publisher *p)
{
	if (!p)
		return;
	free(p->scratch);
	free(p->keys);
	free(p);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool has_key(const uint64_t *keys, size_t n, uint64_t key)
{
	return n && bsearch(&key, keys, n, sizeof(*keys), cmp_u64) != NULL;
}

enum pub_result { PUB_OK, PUB_NOT_HERE, PUB_NO_ROOM };

/* Render and hand over one name, or withdraw it where it cannot be served
 * on the fast path now, or where the fast path has no room for it (the
 * query then reaches carouseld). */
static enum pub_result publish_name(struct publisher *p, const struct config *cfg,
				    const uint8_t *name, uint16_t qtype)
{
	struct entry *e = p->scratch;
	enum pub_result r = PUB_NOT_HERE;

	if (engine_build_entry(cfg, name, qtype, e) == 0) {
		e->version = cfg->generation;
		if (p->fp->publish(e) == 0)
			return PUB_OK;
		r = PUB_NO_ROOM;
	}
	p->fp->withdraw(entry_digest(name, dname_len(name), qtype, CLASS_IN));
	return r;
}

/* Visit every name of pool i: fn(name, qtype). */
#define POOL_NAMES(pool, name, qtype)                                                      \
	for (unsigned j_ = 0; j_ <= (pool)->naliases; j_++)                                 \
		for (uint16_t t_ = 0, qtype = TYPE_A; t_ < 2; t_++, qtype = TYPE_AAAA)       \
			for (const uint8_t *name = j_ ? (pool)->aliases[j_ - 1] : (pool)->name; \
			     name; name = NULL)

/* Open addressing over keys, 0 marking a free slot (and *zero the key 0
 * itself): true when key was there already. */
static bool seen(uint64_t *set, size_t mask, bool *zero, uint64_t key)
{
	if (key == 0) {
		bool was = *zero;

		*zero = true;
		return was;
	}
	for (size_t i = (size_t)(key ^ key >> 32) & mask;; i = (i + 1) & mask) {
		if (set[i] == key)
			return true;
		if (set[i] == 0) {
			set[i] = key;
			return false;
		}
	}
}

void publish_config(struct publisher *p, const struct config *cfg)
{
	size_t n = 0, cap = 0, removed = 0, names = 0, slots = 64;
	uint64_t *keys = NULL, *set;
	bool zero = false;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (unsigned i = 0; i < cfg->npools; i++)
		names += 2 * (1 + (size_t)cfg->pools[i]->naliases);
	while (slots < 2 * names)
		slots *= 2;
	set = calloc(slots, sizeof(*set));
	if (!set)
		abort();
	p->published = p->skipped = p->collisions = p->no_room = 0;
	struct fp_cookies k = {.enable = cfg->cookies.enable,
			       .has_previous = cfg->cookies.has_previous};

	memcpy(k.secret, cfg->cookies.secret, sizeof(k.secret));
	memcpy(k.previous, cfg->cookies.previous, sizeof(k.previous));
	p->fp->cookies(&k);
	p->generation = cfg->generation;
	p->fp->rrl(&(struct fp_rrl){.enable = cfg->rrl.enable,
				    .rate = cfg->rrl.rate,
				    .slip = cfg->rrl.slip,
				    .v4_prefix = cfg->rrl.v4_prefix,
				    .v6_prefix = cfg->rrl.v6_prefix});
	for (unsigned i = 0; i < cfg->npools; i++) {
		const struct pool *pool = cfg->pools[i];

		POOL_NAMES(pool, name, qtype)
		{
			uint64_t key = entry_digest(name, dname_len(name), qtype, CLASS_IN);

			/* two names, one key: the first keeps it */
			if (seen(set, slots - 1, &zero, key)) {
				p->collisions++;
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				keys = realloc(keys, cap * sizeof(*keys));
				if (!keys)
					abort();
			}
			keys[n++] = key;
			switch (publish_name(p, cfg, name, qtype)) {
			case PUB_OK:
				p->published++;
				break;
			case PUB_NOT_HERE:
				p->skipped++;
				break;
			case PUB_NO_ROOM:
				p->no_room++;
				break;
			}
		}
	}
	free(set);
	if (n)
		qsort(keys, n, sizeof(*keys), cmp_u64);
	/* what the previous generation had and this one does not */
	for (size_t k = 0; k < p->nkeys; k++)
		if (!has_key(keys, n, p->keys[k])) {
			p->fp->withdraw(p->keys[k]);
			removed++;
		}
	free(p->keys);
	p->keys = keys;
	p->nkeys = n;
	p->cap = cap;
	p->removed = removed;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->last_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	log_info("event=publish path=%s generation=%u entries=%llu skipped=%llu removed=%zu "
		 "collisions=%llu not-held=%llu ms=%.1f",
		 p->fp->name, cfg->generation, (unsigned long long)p->published,
		 (unsigned long long)p->skipped, removed, (unsigned long long)p->collisions,
		 (unsigned long long)p->no_room, p->last_ms);
	if (p->no_room)
		log_warn("event=publish path=%s not-held=%llu note=\"the fast path is full: these "
			 "names are answered by carouseld; raise dataplane.max-entries (now %u)\"",
			 p->fp->name, (unsigned long long)p->no_room, cfg->dp.max_entries);
}

void publish_pool(struct publisher *p, const struct config *cfg, unsigned index)
{
	for (unsigned i = 0; i < cfg->npools; i++) {
		const struct pool *pool = cfg->pools[i];

		if (i != index && !pool->fallback)
			continue;
		POOL_NAMES(pool, name, qtype)
		{
			if (has_key(p->keys, p->nkeys,
				    entry_digest(name, dname_len(name), qtype, CLASS_IN)))
				publish_name(p, cfg, name, qtype);
		}
	}
}

void publish_hot(struct publisher *p, const struct entry *e)
{
	if (has_key(p->keys, p->nkeys, e->digest))
		return;
	if (p->fp->publish(e) == 0)
		p->hot++;
}

void publish_withdraw(struct publisher *p, uint64_t digest)
{
	if (!has_key(p->keys, p->nkeys, digest))
		p->fp->withdraw(digest);
}

size_t publish_status(const struct publisher *p, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "entries-published %llu generation %u skipped %llu collisions %llu "
			 "not-held %llu removed %llu hot %llu publish-ms %.1f\n",
			 (unsigned long long)p->published, p->generation,
			 (unsigned long long)p->skipped, (unsigned long long)p->collisions,
			 (unsigned long long)p->no_room, (unsigned long long)p->removed,
			 (unsigned long long)p->hot, p->last_ms);

	return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len);
}

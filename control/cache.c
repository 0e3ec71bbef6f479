/* cache.c -- the answer cache: N-way buckets of atomic pointers to
 * immutable entries, CLOCK eviction, grace-period reclamation. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

struct cache *cache_create(uint64_t max_bytes, unsigned nworkers, const struct cache_hooks *hooks)
{
	struct cache *c = calloc(1, sizeof(*c));
	/* one bucket of 4 ways per ~1 KiB of budget: entries average a few
	 * hundred bytes, so the budget, not the table, limits what is held */
	uint64_t buckets = 1024;

	if (!c)
		abort();
	while (buckets * 1024 < max_bytes && buckets < (1u << 24))
		buckets <<= 1;
	c->mask = (uint32_t)buckets - 1;
	c->slots = calloc(buckets * CACHE_WAYS, sizeof(*c->slots));
	c->max_bytes = max_bytes;
	c->hooks = *hooks;
	c->nworkers = nworkers;
	c->snapshot = calloc(nworkers, sizeof(*c->snapshot));
	c->sketch = aligned_alloc(alignof(struct cache_sketch), nworkers * sizeof(*c->sketch));
	c->wstats = aligned_alloc(alignof(struct cache_stats_w), nworkers * sizeof(*c->wstats));
	if (!c->slots || !c->snapshot || !c->sketch || !c->wstats)
		abort();
	memset(c->sketch, 0, nworkers * sizeof(*c->sketch));
	memset(c->wstats, 0, nworkers * sizeof(*c->wstats));
	pthread_mutex_init(&c->writer, NULL);
	return c;
}

static void free_list(struct centry *e)
{
	while (e) {
		struct centry *next = e->retired_next;

		free(e);
		e = next;
	}
}

void cache_destroy(struct cache *c)
{
	if (!c)
		return;
	for (uint64_t i = 0; i < ((uint64_t)c->mask + 1) * CACHE_WAYS; i++)
		free(atomic_load(&c->slots[i]));
	free_list(c->retired);
	free_list(c->retiring);
	free(c->slots);
	free(c->snapshot);
	free(c->sketch);
	free(c->wstats);
	pthread_mutex_destroy(&c->writer);
	free(c);
}

static inline uint32_t cms_col(uint64_t digest, unsigned row)
{
	return (uint32_t)((digest >> (row * 16)) ^ (digest >> 48)) & (CACHE_CMS_COLS - 1);
}

static void count_hit(struct cache *c, unsigned worker, uint64_t digest)
{
	struct cache_sketch *s = &c->sketch[worker];

	/* sample one hit in 8: the estimate is scaled back by the reader */
	if ((++s->sample & 7) != 0)
		return;
	for (unsigned r = 0; r < CACHE_CMS_ROWS; r++) {
		uint32_t *v = &s->c[r][cms_col(digest, r)];

		__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	}
}

uint64_t cache_hits_estimate(const struct cache *c, uint64_t digest)
{
	uint64_t best = UINT64_MAX;

	for (unsigned r = 0; r < CACHE_CMS_ROWS; r++) {
		uint64_t sum = 0;

		for (unsigned w = 0; w < c->nworkers; w++)
			sum += __atomic_load_n(&c->sketch[w].c[r][cms_col(digest, r)],
					       __ATOMIC_RELAXED);
		if (sum < best)
			best = sum;
	}
	return best * 8;
}

const struct centry *cache_lookup(struct cache *c, unsigned worker, const uint8_t *name,
				  size_t len, uint16_t qtype, uint16_t qclass, uint64_t now)
{
	uint64_t digest = entry_digest(name, len, qtype, qclass);
	_Atomic(struct centry *) *b = &c->slots[(digest & c->mask) * CACHE_WAYS];
	struct cache_stats_w *st = &c->wstats[worker];

	for (unsigned w = 0; w < CACHE_WAYS; w++) {
		struct centry *e = atomic_load_explicit(&b[w], memory_order_acquire);

		if (!e || e->digest != digest || e->qtype != qtype || e->qclass != qclass ||
		    e->name_len != len || memcmp(e->name, name, len) != 0)
			continue;
		if (now >= e->expires) {
			STATS_INC(st->expired);
			break;
		}
		if (!atomic_load_explicit(&e->referenced, memory_order_relaxed))
			atomic_store_explicit(&e->referenced, 1, memory_order_relaxed);
		STATS_INC(st->hits);
		count_hit(c, worker, digest);
		return e;
	}
	STATS_INC(st->misses);
	return NULL;
}

static void retire(struct cache *c, struct centry *e)
{
	c->used_bytes -= e->bytes;
	c->entries--;
	e->retired_next = c->retired;
	c->retired = e;
}

/* CLOCK over the whole table until the budget holds. */
static void evict_to_budget(struct cache *c)
{
	uint64_t nslots = ((uint64_t)c->mask + 1) * CACHE_WAYS;

	for (uint64_t turns = 0; c->used_bytes > c->max_bytes && turns < 2 * nslots; turns++) {
		uint32_t i = c->hand;

		c->hand = (uint32_t)((c->hand + 1) % nslots);
		struct centry *e = atomic_load(&c->slots[i]);

		if (!e)
			continue;
		if (atomic_exchange(&e->referenced, 0))
			continue; /* second chance */
		atomic_store_explicit(&c->slots[i], NULL, memory_order_release);
		retire(c, e);
		c->evictions++;
	}
}

void cache_insert(struct cache *c, struct centry *e)
{
	pthread_mutex_lock(&c->writer);
	_Atomic(struct centry *) *b = &c->slots[(e->digest & c->mask) * CACHE_WAYS];
	int slot = -1;

	for (unsigned w = 0; w < CACHE_WAYS && slot < 0; w++) {
		struct centry *o = atomic_load(&b[w]);

		if (o && o->digest == e->digest && o->qtype == e->qtype && o->name_len == e->name_len &&
		    memcmp(o->name, e->name, e->name_len) == 0)
			slot = (int)w;
	}
	for (unsigned w = 0; w < CACHE_WAYS && slot < 0; w++)
		if (!atomic_load(&b[w]))
			slot = (int)w;
	for (unsigned round = 0; round < 2 && slot < 0; round++)
		for (unsigned w = 0; w < CACHE_WAYS && slot < 0; w++) {
			struct centry *o = atomic_load(&b[w]);

			if (!atomic_exchange(&o->referenced, 0))
				slot = (int)w;
		}
	if (slot < 0)
		slot = 0;
	struct centry *old = atomic_exchange_explicit(&b[slot], e, memory_order_acq_rel);

	if (old) {
		retire(c, old);
		c->evictions += old->digest != e->digest;
	}
	c->used_bytes += e->bytes;
	c->entries++;
	c->inserts++;
	evict_to_budget(c);
	pthread_mutex_unlock(&c->writer);
}

unsigned cache_flush(struct cache *c, const uint8_t *name)
{
	uint64_t nslots = ((uint64_t)c->mask + 1) * CACHE_WAYS;
	size_t len = name ? dname_len(name) : 0;
	unsigned n = 0;

	pthread_mutex_lock(&c->writer);
	for (uint64_t i = 0; i < nslots; i++) {
		struct centry *e = atomic_load(&c->slots[i]);

		if (!e || (name && (e->name_len != len || memcmp(e->name, name, len) != 0)))
			continue;
		atomic_store_explicit(&c->slots[i], NULL, memory_order_release);
		retire(c, e);
		n++;
	}
	pthread_mutex_unlock(&c->writer);
	return n;
}

void cache_reclaim(struct cache *c)
{
	pthread_mutex_lock(&c->writer);
	if (c->retiring) {
		bool done = true;

		for (unsigned w = 0; w < c->nworkers && done; w++) {
			uint64_t s = c->snapshot[w];

			done = !(s & 1) || c->hooks.worker_qs(c->hooks.arg, w) != s;
		}
		if (done) {
			free_list(c->retiring);
			c->retiring = NULL;
		}
	}
	if (!c->retiring && c->retired) {
		c->retiring = c->retired;
		c->retired = NULL;
		for (unsigned w = 0; w < c->nworkers; w++)
			c->snapshot[w] = c->hooks.worker_qs(c->hooks.arg, w);
	}
	pthread_mutex_unlock(&c->writer);
}

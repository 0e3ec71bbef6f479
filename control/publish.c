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

struct loser {
	uint8_t name[DNAME_MAXLEN];
	uint16_t qtype;
};

/* An entry rendered and waiting for the rest of its batch. */
struct pending {
	uint64_t key, fingerprint;
	uint64_t *held;
};

struct publisher {
	const struct fp_ops *fp;
	struct entry *scratch; /* [FP_BATCH_MAX] renderings (main thread only) */
	/* the pool name's A and AAAA answers, for its aliases' */
	struct engine_alias_base *base[2];
	struct pending pending[FP_BATCH_MAX];
	unsigned npending;
	/* this generation's configured keys, sorted: what the next full
	 * publish compares against, and what hot entries may not take; for
	 * each, what the fast path holds under it (held[]) */
	uint64_t *keys;
	uint64_t *held;
	size_t nkeys;
	/* names that lost their key to an earlier one (rare): publish_pool
	 * must not hand them over either */
	struct loser *losers;
	size_t nlosers;
	uint32_t generation;
	/* of the last full publish */
	struct publish_counts {
		uint64_t published, unchanged, skipped;
		uint64_t no_room; /* names the fast path could not hold */
	} n;
	uint64_t collisions, removed, hot;
	uint64_t derived; /* of the last full publish: aliases built from their pool's answer */
	double last_ms; /* the last full publish took */
};

/* held[]: the fingerprint (entry_fingerprint, never 0 or 1) of the entry
 * last handed over under the key, or one of these */
#define HELD_UNKNOWN 0	 /* not published by this publisher yet */
#define HELD_WITHDRAWN 1 /* withdrawn by it: the fast path has nothing */

struct publisher *publish_create(const struct fp_ops *fp)
{
	struct publisher *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->fp = fp;
	p->scratch = aligned_alloc(64, FP_BATCH_MAX * sizeof(*p->scratch));
	p->base[0] = malloc(sizeof(*p->base[0]));
	p->base[1] = malloc(sizeof(*p->base[1]));
	if (!p->scratch || !p->base[0] || !p->base[1]) {
		publish_destroy(p);
		return NULL;
	}
	return p;
}

void publish_destroy(struct publisher *p)
{
	if (!p)
		return;
	free(p->scratch);
	free(p->base[0]);
	free(p->base[1]);
	free(p->keys);
	free(p->held);
	free(p->losers);
	free(p);
}

/* The index of key in the sorted keys, or -1. */
static ptrdiff_t key_index(const uint64_t *keys, size_t n, uint64_t key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && keys[lo] == key ? (ptrdiff_t)lo : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool has_key(const uint64_t *keys, size_t n, uint64_t key)
{
	return key_index(keys, n, key) >= 0;
}

/* Hand the pending entries over, in one batch where the fast path takes
 * one; what it cannot hold is withdrawn (the query then reaches
 * carouseld). */
static void flush(struct publisher *p)
{
	const struct entry *e[FP_BATCH_MAX];
	int ok[FP_BATCH_MAX];
	unsigned n = p->npending;

	if (!n)
		return;
	for (unsigned i = 0; i < n; i++)
		e[i] = &p->scratch[i];
	if (p->fp->publish_batch)
		p->fp->publish_batch(e, n, ok);
	else
		for (unsigned i = 0; i < n; i++)
			ok[i] = p->fp->publish(e[i]);
	for (unsigned i = 0; i < n; i++) {
		struct pending *w = &p->pending[i];

		if (ok[i] == 0) {
			*w->held = w->fingerprint;
			p->n.published++;
			continue;
		}
		p->fp->withdraw(w->key);
		*w->held = HELD_WITHDRAWN;
		p->n.no_room++;
	}
	p->npending = 0;
}

/* Forget the pool names' answers once the pools are done: a base must
 * never outlive the config it was read from. Between pools none is
 * needed: a pool's own name resets its base (engine_build_pool_entry),
 * and render takes a base only for the pool it was read for. */
static void forget_bases(struct publisher *p)
{
	for (int t = 0; t < 2; t++) {
		p->base[t]->ok = false;
		p->base[t]->pool = NULL;
	}
}

/* Render name j of pool (0 its own, then its aliases) into e: a pool's
 * name first, keeping what its aliases repeat, and an alias from that
 * where the engine allows it. */
static int render(struct publisher *p, const struct config *cfg, const struct pool *pool,
		  unsigned j, const uint8_t *name, uint16_t qtype, struct entry *e)
{
	struct engine_alias_base *b = p->base[qtype == TYPE_AAAA];

	if (j == 0)
		return engine_build_pool_entry(cfg, pool, name, qtype, e, b);
	if (b->pool == pool && engine_build_alias_entry(b, name, e) == 0) {
		p->derived++;
		return 0;
	}
	return engine_build_entry(cfg, name, qtype, e);
}

/* Render one name into the batch unless the fast path holds that very
 * entry already (*held, updated when the batch is handed over), or
 * withdraw it where it cannot be served on the fast path now. */
static void publish_name(struct publisher *p, const struct config *cfg, const struct pool *pool,
			 unsigned j, const uint8_t *name, uint16_t qtype, uint64_t *held)
{
	struct entry *e = &p->scratch[p->npending];

	if (render(p, cfg, pool, j, name, qtype, e) == 0) {
		uint64_t key = e->digest; /* the name's, as engine_build_entry keys it */
		uint64_t fp = entry_fingerprint(e);

		if (fp == *held) {
			p->n.published++;
			p->n.unchanged++;
			return;
		}
		e->version = cfg->generation;
		p->pending[p->npending++] = (struct pending){key, fp, held};
		if (p->npending == FP_BATCH_MAX)
			flush(p);
		return;
	}
	/* the fast path may hold something under the key (an earlier
	 * rendering, a hot entry from before the name was configured) */
	if (*held != HELD_WITHDRAWN)
		p->fp->withdraw(entry_digest(name, dname_len(name), qtype, CLASS_IN));
	*held = HELD_WITHDRAWN;
	p->n.skipped++;
}

/* Visit every name of a pool, its own first (j = 0), then its aliases;
 * A, then AAAA. */
#define POOL_NAMES(pool, j, name, qtype)                                                   \
	for (unsigned j = 0; j <= (pool)->naliases; j++)                                    \
		for (uint16_t t_ = 0, qtype = TYPE_A; t_ < 2; t_++, qtype = TYPE_AAAA)       \
			for (const uint8_t *name = j ? (pool)->aliases[j - 1] : (pool)->name;   \
			     name; name = NULL)

/* A name's key and its place in the config's order of names. */
struct ranked_key {
	uint64_t key;
	uint64_t rank;
};

/* Sort by key, stable (LSD radix, 11 bits a pass): of names sharing a
 * key, the first in config order comes first. tmp holds n as well. */
static struct ranked_key *sort_lsd(struct ranked_key *a, struct ranked_key *tmp, size_t n)
{
	enum { BITS = 11, BUCKETS = 1 << BITS };
	size_t count[BUCKETS];

	for (unsigned shift = 0; shift < 64; shift += BITS) {
		size_t sum = 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].key >> shift) & (BUCKETS - 1)]++;
		if (n && count[(a[0].key >> shift) & (BUCKETS - 1)] == n)
			continue; /* one digit for all: the order stays */
		for (size_t b = 0; b < BUCKETS; b++) {
			size_t c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i].key >> shift) & (BUCKETS - 1)]++] = a[i];
		struct ranked_key *t = a;

		a = tmp;
		tmp = t;
	}
	return a;
}

/* The same, returning tmp sorted: one pass by the keys' top 16 bits
 * (they are hashes: n / 65 536 keys to a bucket), then each bucket by
 * insertion, in cache (stable: a bucket keeps config order, and a key
 * moves only past larger ones); an unusually full bucket by sort_lsd,
 * with a's part of it as its scratch. */
static struct ranked_key *sort_keys(struct ranked_key *a, struct ranked_key *tmp, size_t n)
{
	enum { BITS = 16, BUCKETS = 1 << BITS, INSERTION_MAX = 64 };
	size_t *start = calloc(BUCKETS + 1, sizeof(*start));

	if (!start)
		abort();
	for (size_t i = 0; i < n; i++)
		start[(a[i].key >> (64 - BITS)) + 1]++;
	for (size_t b = 0; b < BUCKETS; b++)
		start[b + 1] += start[b];
	for (size_t i = 0; i < n; i++)
		tmp[start[a[i].key >> (64 - BITS)]++] = a[i];
	/* start[b] is now where bucket b ends */
	for (size_t b = 0, lo = 0; b < BUCKETS; lo = start[b++]) {
		size_t hi = start[b];

		if (hi - lo > INSERTION_MAX) {
			struct ranked_key *s = sort_lsd(tmp + lo, a + lo, hi - lo);

			if (s != tmp + lo)
				memcpy(tmp + lo, s, (hi - lo) * sizeof(*s));
			continue;
		}
		for (size_t i = lo + 1; i < hi; i++) {
			struct ranked_key k = tmp[i];
			size_t j = i;

			for (; j > lo && tmp[j - 1].key > k.key; j--)
				tmp[j] = tmp[j - 1];
			tmp[j] = k;
		}
	}
	free(start);
	return tmp;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void *alloc_or_die(size_t n, size_t size)
{
	void *v = malloc((n ? n : 1) * size);

	if (!v)
		abort();
	return v;
}

/*
 * A full publish in four passes, none of which probes a table per name
 * (with a million names each probe is a cache miss in the rendering loop):
 *   1. every name's key, in config order;
 *   2. a radix sort by key; the first name of a key keeps it, and a merge
 *      with the last generation's sorted keys tells each name what the
 *      fast path holds under its key;
 *   3. in config order: render, and hand over what changed;
 *   4. a merge again: withdraw what only the last generation had.
 */
void publish_config(struct publisher *p, const struct config *cfg)
{
	size_t n = 0, nkeys = 0, nlosers = 0, removed = 0;
	struct timespec t0;
	double pass_ms[4]; /* where each pass ended */

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < cfg->npools; i++)
		n += 2 * (1 + (size_t)cfg->pools[i]->naliases);
	p->n = (struct publish_counts){0};
	p->collisions = 0;
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

	/* 1 */
	struct ranked_key *rk = alloc_or_die(n, sizeof(*rk)), *tmp = alloc_or_die(n, sizeof(*tmp));
	size_t rank = 0;

	for (unsigned i = 0; i < cfg->npools; i++) {
		const struct pool *pool = cfg->pools[i];

		/* POOL_NAMES' order: each name, A then AAAA */
		for (unsigned j = 0; j <= pool->naliases; j++) {
			const uint8_t *name = j ? pool->aliases[j - 1] : pool->name;
			uint64_t h = entry_name_hash(name, dname_len(name));

			rk[rank] = (struct ranked_key){entry_hash_finish(h, TYPE_A, CLASS_IN), rank};
			rank++;
			rk[rank] = (struct ranked_key){entry_hash_finish(h, TYPE_AAAA, CLASS_IN), rank};
			rank++;
		}
	}

	pass_ms[0] = ms_since(&t0);
	/* 2 */
	struct ranked_key *sorted = sort_keys(rk, tmp, n);
	uint64_t *keys = alloc_or_die(n, sizeof(*keys));
	uint64_t *held_by_rank = alloc_or_die(n, sizeof(*held_by_rank));
	uint64_t *lost = NULL; /* ranks of the names that lost their key */
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t key = sorted[i].key;

		if (nkeys && keys[nkeys - 1] == key) {
			/* two names, one key: the first keeps it */
			if ((nlosers & (nlosers - 1)) == 0 &&
			    !(lost = realloc(lost, (nlosers ? 2 * nlosers : 1) * sizeof(*lost))))
				abort();
			lost[nlosers++] = sorted[i].rank;
			continue;
		}
		while (o < p->nkeys && p->keys[o] < key)
			o++;
		held_by_rank[sorted[i].rank] =
		    o < p->nkeys && p->keys[o] == key ? p->held[o] : HELD_UNKNOWN;
		sorted[nkeys] = sorted[i]; /* the keepers, in key order */
		keys[nkeys++] = key;
	}
	if (nlosers)
		qsort(lost, nlosers, sizeof(*lost), cmp_u64);
	free(p->losers);
	p->losers = nlosers ? alloc_or_die(nlosers, sizeof(*p->losers)) : NULL;
	p->nlosers = nlosers;

	pass_ms[1] = ms_since(&t0);
	/* 3 */
	size_t next_lost = 0;

	rank = 0;
	p->derived = 0;
	for (unsigned i = 0; i < cfg->npools; i++) {
		const struct pool *pool = cfg->pools[i];

		POOL_NAMES(pool, j, name, qtype)
		{
			size_t r = rank++, len = dname_len(name);

			if (next_lost < nlosers && lost[next_lost] == r) {
				struct loser *l = &p->losers[next_lost++];

				memcpy(l->name, name, len);
				l->qtype = qtype;
				p->collisions++;
				continue;
			}
			publish_name(p, cfg, pool, j, name, qtype, &held_by_rank[r]);
		}
	}
	forget_bases(p);
	flush(p);
	free(lost);

	pass_ms[2] = ms_since(&t0);
	/* 4 */
	o = 0;
	for (size_t i = 0; i < p->nkeys; i++) {
		while (o < nkeys && keys[o] < p->keys[i])
			o++;
		if (o < nkeys && keys[o] == p->keys[i])
			continue;
		if (p->held[i] != HELD_WITHDRAWN)
			p->fp->withdraw(p->keys[i]);
		removed++;
	}
	/* what each key holds now, in key order: one gather whose misses
	 * overlap, rather than one in every turn of the rendering loop */
	uint64_t *held = alloc_or_die(nkeys, sizeof(*held));

	for (size_t i = 0; i < nkeys; i++)
		held[i] = held_by_rank[sorted[i].rank];
	free(held_by_rank);
	free(rk);
	free(tmp);
	free(p->keys);
	free(p->held);
	p->keys = keys;
	p->held = held;
	p->nkeys = nkeys;
	p->removed = removed;
	p->last_ms = pass_ms[3] = ms_since(&t0);
	log_info("event=publish path=%s generation=%u entries=%llu unchanged=%llu skipped=%llu "
		 "removed=%zu collisions=%llu not-held=%llu derived=%llu ms=%.1f keys-ms=%.1f "
		 "sort-ms=%.1f render-ms=%.1f withdraw-ms=%.1f",
		 p->fp->name, cfg->generation, (unsigned long long)p->n.published,
		 (unsigned long long)p->n.unchanged, (unsigned long long)p->n.skipped, removed,
		 (unsigned long long)p->collisions, (unsigned long long)p->n.no_room,
		 (unsigned long long)p->derived, p->last_ms, pass_ms[0], pass_ms[1] - pass_ms[0],
		 pass_ms[2] - pass_ms[1], pass_ms[3] - pass_ms[2]);
	if (p->n.no_room)
		log_warn("event=publish path=%s not-held=%llu note=\"the fast path is full: these "
			 "names are answered by carouseld; raise dataplane.max-entries (%s %u; "
			 "the fast path's start-up line says what it holds)\"",
			 p->fp->name, (unsigned long long)p->n.no_room,
			 cfg->dp.max_entries_sized ? "sized to the config:" : "set to",
			 cfg->dp.max_entries);
}

static bool lost_key(const struct publisher *p, const uint8_t *name, uint16_t qtype)
{
	for (size_t i = 0; i < p->nlosers; i++)
		if (p->losers[i].qtype == qtype && dname_equal(p->losers[i].name, name))
			return true;
	return false;
}

void publish_pool(struct publisher *p, const struct config *cfg, unsigned index)
{
	struct publish_counts full = p->n; /* what status reports */
	uint64_t derived = p->derived;

	for (unsigned i = 0; i < cfg->npools; i++) {
		const struct pool *pool = cfg->pools[i];

		if (i != index && !pool->fallback)
			continue;
		POOL_NAMES(pool, j, name, qtype)
		{
			uint64_t key = entry_digest(name, dname_len(name), qtype, CLASS_IN);
			ptrdiff_t at = key_index(p->keys, p->nkeys, key);

			if (at >= 0 && !lost_key(p, name, qtype))
				publish_name(p, cfg, pool, j, name, qtype, &p->held[at]);
		}
	}
	forget_bases(p);
	flush(p);
	p->n = full;
	p->derived = derived;
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

double publish_last_ms(const struct publisher *p)
{
	return p->last_ms;
}

size_t publish_status(const struct publisher *p, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "entries-published %llu generation %u unchanged %llu skipped %llu "
			 "collisions %llu not-held %llu removed %llu hot %llu derived %llu "
			 "publish-ms %.1f\n",
			 (unsigned long long)p->n.published, p->generation,
			 (unsigned long long)p->n.unchanged, (unsigned long long)p->n.skipped,
			 (unsigned long long)p->collisions, (unsigned long long)p->n.no_room,
			 (unsigned long long)p->removed, (unsigned long long)p->hot,
			 (unsigned long long)p->derived, p->last_ms);

	return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len);
}

/* cache.h -- carouseld's answer cache for recursed names: lock-free reads
 * by the socket workers, one writer at a time (the resolver thread, or a
 * flush under the writer lock), CLOCK eviction under a byte budget, and
 * entries freed only after every worker has passed a quiescent point. */
#ifndef CAROUSEL_CACHE_H
#define CAROUSEL_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dname.h"
#include "entry.h"
#include <stdalign.h>
#include "stats.h"

/* How the cache learns that a worker has moved on, without knowing what a
 * worker is: its quiescent-state counter, odd while it may hold an entry
 * it read (the server's, handed in as health_hooks are). */
struct cache_hooks {
	uint64_t (*worker_qs)(void *arg, unsigned worker);
	void *arg;
};

/* One cached answer. Immutable once published, but for the CLOCK bit, the
 * prefetch flag and the resolver's own rate bookkeeping. */
struct centry {
	struct centry *retired_next;
	uint64_t digest;
	uint16_t qtype, qclass;
	uint8_t name_len;
	uint8_t name[DNAME_MAXLEN];
	uint8_t rcode;
	uint16_t ede;          /* RFC 8914 info code, with SERVFAIL; 0xffff = none */
	char ede_text[64];
	uint16_t count[2];     /* answer, authority */
	uint64_t inserted;     /* monotonic seconds */
	uint64_t expires;      /* monotonic seconds: inserted + lowest TTL */
	uint32_t ttl;          /* lowest TTL (after min-ttl/max-ttl) */
	uint32_t upstream_ttl; /* lowest TTL as it came from upstream */
	uint32_t bytes;        /* what it costs the budget */
	_Atomic uint8_t referenced;
	_Atomic uint8_t prefetching;
	/* resolver thread only */
	uint64_t hits_seen;
	uint32_t rate;
	bool promoted;
	uint32_t blob_len;
	/* RRs: section(1) owner_len(1) owner type(2) class(2) ttl(4) rdlen(2) rdata */
	uint8_t blob[];
};

#define CACHE_WAYS 4
#define CACHE_CMS_ROWS 4
#define CACHE_CMS_COLS 2048

/* Per-worker hit sketch (count-min): written by its worker only. */
struct cache_sketch {
	alignas(64) uint32_t c[CACHE_CMS_ROWS][CACHE_CMS_COLS];
	uint32_t sample;
};

struct cache_stats_w {
	alignas(64) uint64_t hits, misses, expired, stale;
};

struct cache {
	uint32_t mask; /* buckets - 1 */
	_Atomic(struct centry *) *slots;
	uint64_t max_bytes;
	pthread_mutex_t writer; /* one writer: the resolver, or a flush */
	uint64_t used_bytes, entries, evictions, inserts, prefetches;
	uint32_t hand;
	struct cache_hooks hooks;
	struct centry *retired, *retiring;
	uint64_t *snapshot; /* workers' quiescent counters when `retiring` closed */
	unsigned nworkers;
	struct cache_sketch *sketch;   /* [nworkers] */
	struct cache_stats_w *wstats;  /* [nworkers] */
};

struct cache *cache_create(uint64_t max_bytes, unsigned nworkers, const struct cache_hooks *hooks);
void cache_destroy(struct cache *c);

uint64_t cache_now(void); /* monotonic seconds */

/* Worker side, inside a quiescent-state bracket. Counts hit/miss. */
const struct centry *cache_lookup(struct cache *c, unsigned worker, const uint8_t *name,
				  size_t len, uint16_t qtype, uint16_t qclass, uint64_t now);

/* Writer side (takes the writer lock). The cache owns e from then on. */
void cache_insert(struct cache *c, struct centry *e);
/* Remove entries for name (NULL: everything). Returns how many. */
unsigned cache_flush(struct cache *c, const uint8_t *name);
/* Free what every worker can no longer see. */
void cache_reclaim(struct cache *c);

/* Estimated hits of an entry so far (sum of the workers' sketches). */
uint64_t cache_hits_estimate(const struct cache *c, uint64_t digest);

#endif

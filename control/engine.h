/* engine.h -- the answer engine: one query in, one response out, from the
 * config generation in force (zones, aliases, pools with rotation). */
#ifndef CAROUSEL_ENGINE_H
#define CAROUSEL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "entry.h"
#include "wire.h"

#define ENGINE_CHAIN_MAX 16 /* CNAMEs followed inside our data */

struct centry;
struct cache;
struct bentry;

/* Who asks, and what the caller brings. */
struct engine_ctx {
	unsigned worker;              /* selects rotation counters; owned by the caller */
	struct cache *cache;          /* NULL: no recursion here */
	const struct sockaddr *client; /* for the recursion ACL; NULL: trusted */
	const struct centry *answer;  /* a fresh upstream answer for this query */
	const struct bentry *fwd;     /* a backend group's answer for this query */
	bool fwd_stale;               /* ...expired, served for lack of servers */
	uint64_t now;                 /* monotonic seconds (cache TTLs) */
};

struct engine_result {
	bool dropped;   /* no reply at all */
	bool resolve;   /* not answered: the question must go upstream */
	bool forward;   /* not answered: the question goes to backend group `backend` */
	const struct backend *backend;
	bool prefetch;  /* answered from a cache entry that is about to expire */
	bool cache_hit;
	bool cookie_valid; /* a server cookie of ours came back (RRL lets it pass) */
	unsigned rcode; /* 0..15, or RCODE_BADVERS */
	uint16_t qtype; /* 0 when the question was unreadable */
	bool truncated;
};

/* Answer query (qlen bytes) into out (out_max >= WIRE_TCP_MAX for TCP).
 * Returns the response length, 0 when the query is dropped or must be
 * resolved first (res->resolve). */
size_t engine_answer(const struct config *cfg, const struct engine_ctx *ctx, const uint8_t *query,
		     size_t qlen, uint8_t *out, size_t out_max, bool tcp, struct engine_result *res);

/* Prebuild the fast-path entry for (name, qtype) from cfg: the same bytes
 * the socket path would send, with the pool's records laid out for
 * rotation. Returns 0, or -1 when the answer cannot be served from an
 * entry (too big, rotated records not uniform, more than ENTRY_MAX_RR). */
int engine_build_entry(const struct config *cfg, const uint8_t *name, uint16_t qtype,
		       struct entry *e);

/* What the aliases of a pool repeat of its name's answer (filled by
 * engine_build_pool_entry, read by engine_build_alias_entry; the fields
 * are theirs). */
#define ENGINE_BASE_RR_MAX 128
struct engine_base_rr {
	uint16_t owner, rdata; /* offsets in names[]: whole names, RDATA decompressed */
	uint16_t type, rclass, rdlen;
	uint32_t ttl;
};

struct engine_alias_base {
	bool ok;
	const struct pool *pool;
	uint16_t qtype;
	bool aa, rot_topology;
	uint16_t count[3];
	const struct pool *rot_pool;
	const struct rot_sched *rot_sched;
	uint32_t rot_ttl;
	int rot_fam;
	unsigned rot_count;
	int rot_rr; /* the first rotated record's index, -1 none */
	unsigned nrr;
	struct engine_base_rr rr[ENGINE_BASE_RR_MAX];
	uint8_t names[8192];
	struct wire_rr scratch;
};

/* engine_build_entry for pool p's own name; when base is given, also
 * what p's aliases need to be built from it (base->ok tells whether they
 * can be). */
int engine_build_pool_entry(const struct config *cfg, const struct pool *p, const uint8_t *name,
			    uint16_t qtype, struct entry *e, struct engine_alias_base *base);

/* The entry of alias (one of base->pool's aliases, as the pool lists it)
 * for base->qtype, built from its pool name's answer without a lookup:
 * the same entry engine_build_entry makes. Returns -1 when it cannot be
 * (then engine_build_entry decides). */
int engine_build_alias_entry(const struct engine_alias_base *base, const uint8_t *alias,
			     struct entry *e);

/* The fast-path entry for a cached (recursed) answer: no rotation, TTLs
 * counted down to its expiry (unix seconds derived from the monotonic
 * clock). Returns 0 or -1 when it does not fit an entry. */
int engine_build_cached_entry(const struct centry *ce, uint64_t mono_now, uint64_t unix_now,
			      struct entry *e);

#endif

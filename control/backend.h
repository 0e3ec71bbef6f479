/* backend.h -- backend groups: queries for the domains of a group are
 * forwarded to its DNS servers (chosen by the group's policy, watched by
 * check queries and by live timeouts) from one thread, and the answers are
 * cached per group. The worker answers from the cache, or hands the query
 * over and gets it back with an answer, as with the resolver. */
#ifndef CAROUSEL_BACKEND_H
#define CAROUSEL_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dname.h"
#include "wire.h"

struct rreq;
struct rreq_hooks;
struct backends;
struct bgroup;

/* One upstream answer: the reply as the server sent it, without its OPT
 * record, with where every TTL is. Immutable once made; shared by the
 * cache and the queries answered from it, freed with the last reference. */
struct bentry {
	struct bentry *hnext, *older, *newer; /* the cache's links (its lock) */
	_Atomic unsigned refs;
	uint64_t hash;
	uint16_t qtype, qclass;
	uint8_t kflags; /* BK_* */
	uint8_t name_len;
	uint8_t name[DNAME_MAXLEN]; /* lower case */
	uint64_t inserted_ms, expires_ms, stale_ms; /* monotonic */
	uint8_t rcode;
	uint16_t hflags;       /* the server's header flags */
	uint16_t ede;          /* RFC 8914 info code; 0xffff = none */
	char ede_text[64];
	uint16_t count[3];     /* answer, authority, additional (no OPT) */
	uint16_t body_off;     /* past the question: the question is the client's */
	uint32_t len;          /* of wire */
	uint32_t nttl;
	uint32_t bytes;        /* what it costs the cache */
	uint16_t *ttl_off;     /* offsets of TTL fields in wire */
	uint8_t *wire;
	uint8_t data[];
};

/* The flags that change an answer, in the cache key. */
#define BK_RD 1
#define BK_CD 2
#define BK_DO 4

static inline uint8_t backend_key_flags(const struct wire_query *q)
{
	return (uint8_t)((q->flags & WIRE_RD ? BK_RD : 0) | (q->flags & WIRE_CD ? BK_CD : 0) |
			 (q->has_edns && (q->edns_flags & WIRE_EDNS_DO) ? BK_DO : 0));
}

#define BACKEND_STALE_TTL 30 /* RFC 8767 4: the TTL of a stale answer */

uint64_t backend_now_ms(void); /* monotonic milliseconds */

/* Start the forwarding thread (always: a reload may add groups); answered
 * queries go back through done. */
struct backends *backend_start(const struct rreq_hooks *done, char *err, size_t err_len);
/* Stop the thread; queries it held stay until backend_free (call that
 * after the workers are stopped: they may still hand queries over). */
void backend_stop(struct backends *b);
void backend_free(struct backends *b);
/* Give cfg's groups their runtime before cfg serves: a group keeps its
 * cache and its servers their state and counters, by (name, address). */
void backend_adopt(struct backends *b, struct config *cfg);
/* Worker side: forward q (q->group set); it comes back through the
 * rreq_hooks with q->fwd set. */
void backend_submit(struct backends *b, struct rreq *q);

/* Worker side: a fresh cached answer (a reference: backend_entry_put it),
 * or NULL. Counts a hit or a miss. */
const struct bentry *backend_cache_get(struct bgroup *g, const uint8_t *name, size_t len,
				       uint16_t qtype, uint16_t qclass, uint8_t kflags,
				       uint64_t now_ms);
void backend_entry_put(const struct bentry *e);

/* The reply pkt to the question (lower-case name) as an entry: every RR
 * checked and its TTL noted, the OPT record left out. *cacheable when the
 * group (cache settings of `cache`) may keep it: for the lowest answer TTL,
 * or for a negative answer min(SOA TTL, SOA MINIMUM) (RFC 2308 5), within
 * min-ttl/max-ttl; not without either, nor at TTL 0. NULL when pkt is
 * malformed or answers another question. */
struct bentry *backend_entry_from_reply(const uint8_t *pkt, size_t len, const uint8_t *qname,
					uint8_t qname_len, uint16_t qtype, uint16_t qclass,
					uint8_t kflags, const struct backend *cache, bool *cacheable);

/* carouselctl `backends [GROUP]`; Prometheus lines (returns the length
 * the whole text needs, writing what fits, as snprintf). */
size_t backend_ctl(struct backends *b, const char *args, char *buf, size_t len, bool *ok);
size_t backend_metrics(struct backends *b, char *buf, size_t len);

/* ---- policies (pure, unit-tested) ---- */

/* A server as a policy sees it. */
struct backend_choice {
	bool eligible;         /* up, and not asked yet for this query */
	uint32_t weight, order, outstanding;
	uint64_t latency_us;   /* smoothed */
	int64_t wrr;           /* weighted: smooth round-robin state, kept by the caller */
	uint64_t id;           /* consistent-hash: stable per server (its address) */
};

/* The index of the server to ask, or -1 when none is eligible. *rr is the
 * group's round-robin counter; name (lower-case wire form) is what
 * consistent-hash hashes. */
int backend_policy_pick(enum backend_policy p, struct backend_choice *c, unsigned n, uint64_t *rr,
			const uint8_t *name, size_t name_len);
/* A server's consistent-hash id, from its "ADDRESS@PORT". */
uint64_t backend_server_id(const char *text);

#endif

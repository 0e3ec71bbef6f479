/* resolver.h -- the seam between answering and resolving: queries for
 * names outside our zones that miss the cache cross it once. A resolver
 * thread drives libunbound asynchronously (its fd in our own epoll),
 * merges identical questions in flight, fills the cache, and hands each
 * waiting query back to the worker that owns its socket. */
#ifndef CAROUSEL_RESOLVER_H
#define CAROUSEL_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "cache.h"
#include "config.h"
#include "entry.h"

struct server;

/* A query waiting for upstream, owned by the resolver until it comes back
 * on the worker's completion queue with `answer` (a private copy) set. */
struct rreq {
	struct rreq *next;
	unsigned worker;
	bool tcp, prefetch;
	int fd; /* UDP socket to reply from */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t ctl[64]; /* IP_PKTINFO to reply with (wildcard sockets) */
	size_t ctl_len;
	uint64_t conn_id; /* TCP connection, by id: it may be gone */
	bool tapped;      /* dnstap: the response is logged too */
	struct timespec query_time;
	struct sockaddr_storage local; /* the address the query came to */
	uint8_t qname[DNAME_MAXLEN];
	uint8_t qname_len;
	uint16_t qtype, qclass;
	struct centry *answer;
	/* forwarded to a backend group instead (control/backend.h) */
	struct bgroup *group;
	struct bentry *fwd;      /* its answer, a reference */
	bool stale;              /* fwd is expired: no server could answer */
	uint8_t kflags;          /* BK_*: what the cache key and the upstream query carry */
	bool has_edns;
	uint16_t edns_udp;
	uint16_t len;
	uint8_t query[];
};

struct resolver;

struct resolver *resolver_start(const struct config *cfg, struct server *srv, struct cache *cache,
				char *err, size_t err_len);
void resolver_stop(struct resolver *r);
/* Worker side: hand a query over (never blocks on upstream). */
void resolver_submit(struct resolver *r, struct rreq *q);
/* Reload: settings that can change without a new libunbound context. */
void resolver_update(struct resolver *r, const struct config *cfg);

/* Hot names for the fast path: the resolver queues entries to publish and
 * digests to withdraw; the main thread drains them (it owns the table). */
typedef void (*resolver_publish_fn)(struct entry *e);
typedef void (*resolver_withdraw_fn)(uint64_t digest);
void resolver_set_publisher(struct resolver *r, resolver_publish_fn pub, resolver_withdraw_fn wd);
void resolver_drain_promotions(struct resolver *r);

/* carouselctl: "cache stats", "cache top", "cache flush [NAME]". */
size_t resolver_ctl(struct resolver *r, const char *args, char *buf, size_t len, bool *ok);

#endif

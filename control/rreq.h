/* rreq.h -- a query that left its worker: handed to the resolver or to a
 * backend group, it comes back with an answer through the hook the server
 * gave them (struct rreq_hooks), so neither includes the server. */
#ifndef CAROUSEL_RREQ_H
#define CAROUSEL_RREQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "dname.h"

struct centry;
struct bgroup;
struct bentry;

/* A query waiting for upstream, owned by the resolver (or the backends)
 * until it comes back on the worker's completion queue with `answer` (a
 * private copy) or `fwd` (a reference) set. */
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

/* How a query comes back (as health_hooks: handed in, not included).
 * complete() takes q over; it is called from the resolver's or the
 * backends' thread. */
struct rreq_hooks {
	void (*complete)(void *arg, struct rreq *q);
	void *arg;
};

#endif

/* server.c -- UDP (recvmmsg/sendmmsg) and TCP (RFC 7766) workers, and the
 * one answer pipeline (serve) every query takes, whatever its transport. */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include "backend.h"
#include "cache.h"
#include "dnstap.h"
#include "engine.h"
#include "log.h"
#include "resolver.h"
#include "rreq.h"
#include "wire.h"

#define UDP_BATCH 32
#define UDP_RX_SIZE 4096
#define UDP_RCVBUF (4 << 20)
#define TCP_OUT_HIGH (4 * (WIRE_TCP_MAX + 2)) /* stop reading past this backlog */

enum pollable_kind { P_UDP, P_TCP_LISTEN, P_TCP_CONN, P_DONE, P_CLOSED };

struct pollable {
	enum pollable_kind kind;
	int fd;
	bool pktinfo; /* wildcard UDP: reply from the address asked */
	struct sockaddr_storage local; /* the listen address (dnstap) */
};

struct conn {
	struct pollable p;
	uint64_t id; /* resolver completions find their connection by id */
	struct sockaddr_storage peer;
	struct sockaddr_storage local; /* our end (dnstap) */
	struct conn *prev, *next;
	time_t last;
	size_t in_len;
	size_t out_len, out_off, out_cap;
	uint8_t *out;
	bool reading;
	uint8_t in[WIRE_TCP_MAX + 2];
};

/* Per-worker scratch, allocated once: no allocation per UDP packet. */
struct udp_scratch {
	struct mmsghdr rx[UDP_BATCH], tx[UDP_BATCH];
	struct iovec rxv[UDP_BATCH], txv[UDP_BATCH];
	struct sockaddr_storage addr[UDP_BATCH];
	uint8_t rxctl[UDP_BATCH][64], txctl[UDP_BATCH][64];
	uint8_t rxbuf[UDP_BATCH][UDP_RX_SIZE];
	uint8_t txbuf[UDP_BATCH][WIRE_EDNS_UDP];
	uint8_t tcpbuf[WIRE_TCP_MAX + 2];
	unsigned ntx; /* answers in this round's batch */
};

static time_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static bool is_wildcard(const struct listen_addr *l)
{
	if (l->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&l->ss)->sin_addr.s_addr == INADDR_ANY;
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&l->ss)->sin6_addr);
}

static int open_socket(const struct listen_addr *l, int type)
{
	int one = 1;
	int fd = socket(l->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* bind even while the address is not (yet) usable: e.g. IPv6 still in
	 * duplicate address detection on the dataplane's exception interface */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		/* Bursts must queue, not drop: ask for a deep receive queue
		 * (FORCE as root, else what rmem_max allows). */
		int size = UDP_RCVBUF;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	if (type == SOCK_DGRAM && is_wildcard(l)) {
		if (l->ss.ss_family == AF_INET)
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		else
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&l->ss, l->len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int watch(struct worker *w, struct pollable *p, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = p};

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, p->fd, &ev);
}

int server_open(struct server *srv, struct config *cfg)
{
	srv->nworkers = cfg->workers;
	/* aligned: each worker's counters own their cache lines */
	srv->workers = aligned_alloc(alignof(struct worker), cfg->workers * sizeof(*srv->workers));
	if (!srv->workers)
		abort();
	memset(srv->workers, 0, cfg->workers * sizeof(*srv->workers));
	atomic_store(&srv->cfg, cfg);
	srv->started = time(NULL);
	srv->rrl = rrl_create(cfg->rrl.table_size);
	for (unsigned i = 0; i < cfg->workers; i++) {
		struct worker *w = &srv->workers[i];

		w->srv = srv;
		w->id = i;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			return -1;
		pthread_mutex_init(&w->done_lock, NULL);
		topnames_init(&w->top);
		w->done_ev = calloc(1, sizeof(*w->done_ev));
		if (!w->done_ev)
			abort();
		w->done_ev->kind = P_DONE;
		w->done_ev->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->done_ev->fd < 0 || watch(w, w->done_ev, EPOLLIN) < 0)
			return -1;
		for (unsigned j = 0; j < cfg->nlisten; j++) {
			const struct listen_addr *l = &cfg->listen[j];

			for (int t = 0; t < 2; t++) {
				int fd = open_socket(l, t ? SOCK_STREAM : SOCK_DGRAM);
				struct pollable *p;

				if (fd < 0) {
					log_error("event=listen-failed address=%s proto=%s error=\"%s\"",
						  l->text, t ? "tcp" : "udp", strerror(errno));
					return -1;
				}
				p = calloc(1, sizeof(*p));
				if (!p)
					abort();
				p->kind = t ? P_TCP_LISTEN : P_UDP;
				p->fd = fd;
				p->pktinfo = !t && is_wildcard(l);
				memcpy(&p->local, &l->ss, sizeof(p->local));
				w->listeners[w->nlisteners++] = p;
				if (watch(w, p, EPOLLIN) < 0)
					return -1;
			}
		}
	}
	for (unsigned j = 0; j < cfg->nlisten; j++)
		log_info("event=listen address=%s proto=udp,tcp workers=%u", cfg->listen[j].text,
			 cfg->workers);
	return 0;
}

/* ---- TCP connections ---- */

/* A closed connection is freed after the epoll batch it was closed in: a
 * later event of the same batch may name it (a completion closing it
 * before its own event comes up). Taken out of epoll explicitly: close()
 * does not when another process (a spawned monitor, between its fork and
 * exec) holds the socket too, and its events would outlive it. */
static void conn_close(struct worker *w, struct conn *c)
{
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->p.fd, NULL);
	close(c->p.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	free(c->out);
	c->out = NULL;
	c->p.kind = P_CLOSED;
	c->next = w->closed;
	w->closed = c;
}

static void conns_free_closed(struct worker *w)
{
	while (w->closed) {
		struct conn *c = w->closed;

		w->closed = c->next;
		free(c);
	}
}

static void conn_events(struct worker *w, struct conn *c)
{
	bool want_read = c->out_len - c->out_off < TCP_OUT_HIGH;
	struct epoll_event ev = {
		.events = (want_read ? EPOLLIN : 0) | (c->out_len > c->out_off ? EPOLLOUT : 0),
		.data.ptr = &c->p,
	};

	c->reading = want_read;
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->p.fd, &ev);
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static unsigned conns_from(const struct worker *w, const struct sockaddr_storage *peer)
{
	unsigned n = 0;

	for (const struct conn *c = w->conns; c; c = c->next)
		n += same_host(&c->peer, peer);
	return n;
}

static void handle_accept(struct worker *w, struct pollable *p, const struct config *cfg)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(p->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		/* a global and a per-client cap, so one host cannot hold them all */
		if (w->nconns >= cfg->tcp_max_clients ||
		    conns_from(w, &peer) >= cfg->tcp_max_per_client) {
			STATS_INC(w->stats.tcp_refused);
			close(fd);
			continue;
		}
		struct conn *c = malloc(sizeof(*c));

		if (!c) {
			close(fd);
			continue;
		}
		memset(c, 0, offsetof(struct conn, in));
		c->peer = peer;
		if (w->srv->dnstap) {
			socklen_t llen = sizeof(c->local);

			getsockname(fd, (struct sockaddr *)&c->local, &llen);
		}
		c->id = ++w->next_conn_id;
		c->p.kind = P_TCP_CONN;
		c->p.fd = fd;
		c->last = now_sec();
		c->reading = true;
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		w->nconns++;
		STATS_INC(w->stats.tcp_accepted);
		if (watch(w, &c->p, EPOLLIN) < 0)
			conn_close(w, c);
	}
}

static bool conn_queue(struct conn *c, const uint8_t *msg, size_t len)
{
	if (c->out_cap - c->out_len < len + 2) {
		if (c->out_off > 0) { /* compact first */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_cap - c->out_len < len + 2) {
			size_t cap = c->out_cap ? c->out_cap * 2 : 4096;

			while (cap - c->out_len < len + 2)
				cap *= 2;
			uint8_t *o = realloc(c->out, cap);

			if (!o)
				return false;
			c->out = o;
			c->out_cap = cap;
		}
	}
	wire_write16(c->out + c->out_len, (uint16_t)len);
	memcpy(c->out + c->out_len + 2, msg, len);
	c->out_len += len + 2;
	return true;
}

/* Answer every complete message in the input buffer (pipelining,
 * RFC 7766 6.2.1). Returns false when the connection must close. */
static bool conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t k = send(c->p.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->out_off += (size_t)k;
	}
	c->out_off = c->out_len = 0;
	return true;
}

static void stats_answer(struct stats *st, const struct engine_result *r)
{
	static const uint16_t types[QT_OTHER] = {
		[QT_A] = TYPE_A,       [QT_NS] = TYPE_NS,   [QT_CNAME] = TYPE_CNAME,
		[QT_SOA] = TYPE_SOA,   [QT_PTR] = TYPE_PTR, [QT_MX] = TYPE_MX,
		[QT_TXT] = TYPE_TXT,   [QT_AAAA] = TYPE_AAAA, [QT_SRV] = TYPE_SRV,
		[QT_ANY] = TYPE_ANY,
	};
	unsigned k = QT_OTHER;

	if (r->dropped) {
		STATS_INC(st->dropped);
		return;
	}
	for (unsigned i = 0; i < QT_OTHER; i++)
		if (types[i] == r->qtype)
			k = i;
	STATS_INC(st->qtype[k]);
	STATS_INC(st->rcode[r->rcode == RCODE_BADVERS ? 16 : r->rcode & 15]);
	if (r->truncated)
		STATS_INC(st->truncated);
}

static struct engine_ctx ctx_for(struct worker *w, const struct sockaddr *client)
{
	return (struct engine_ctx){.worker = w->id, .cache = w->srv->cache, .client = client,
				   .now = w->srv->cache ? cache_now() : 0};
}

/* dnstap: the query and/or response of one exchange, on this worker's
 * queue. Recursion (a cache hit or an upstream answer) is CLIENT_*, the
 * rest (our zones and pools, refusals) AUTH_*. */
static void tap(struct worker *w, bool recursion, bool tcp, const struct sockaddr *client,
		const struct sockaddr_storage *local, const struct timespec *query_time,
		const uint8_t *query, size_t qlen, const uint8_t *response, size_t rlen)
{
	struct dnstap_record r = {
		.kind = recursion ? DNSTAP_CLIENT : DNSTAP_AUTH, .tcp = tcp, .client = client,
		.server = local && local->ss_family ? (const struct sockaddr *)local : NULL,
		.query_time = *query_time, .query = query, .query_len = qlen,
		.response = response, .response_len = rlen,
	};

	clock_gettime(CLOCK_REALTIME, &r.response_time);
	dnstap_log(w->srv->dnstap, w->id, &r);
}

static bool tap_sampled(struct worker *w)
{
	return w->srv->dnstap && dnstap_sampled(w->srv->dnstap, w->id);
}

/* The address a query was sent to: the listen address, or for a wildcard
 * socket the one IP_PKTINFO names. */
static void pktinfo_local(struct msghdr *rx, const struct sockaddr_storage *listen,
			  struct sockaddr_storage *out)
{
	*out = *listen;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(rx); c; c = CMSG_NXTHDR(rx, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			((struct sockaddr_in *)out)->sin_addr =
				((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr;
		else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			((struct sockaddr_in6 *)out)->sin6_addr =
				((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr;
	}
}

/* A query that must go upstream (or a refresh ahead of expiry when
 * prefetch is set: then nobody waits for it). */
static struct rreq *rreq_new(struct worker *w, const uint8_t *query, size_t len, bool prefetch)
{
	struct wire_query q;
	struct rreq *r;

	if (wire_query_parse(query, len, &q) != WIRE_ANSWER)
		return NULL;
	r = calloc(1, sizeof(*r) + len);
	if (!r)
		return NULL;
	r->worker = w->id;
	r->prefetch = prefetch;
	memcpy(r->qname, q.qname, q.qname_len);
	r->qname_len = q.qname_len;
	r->qtype = q.qtype;
	r->qclass = q.qclass;
	r->kflags = backend_key_flags(&q);
	r->has_edns = q.has_edns;
	r->edns_udp = q.edns_udp;
	r->len = (uint16_t)len;
	memcpy(r->query, query, len);
	return r;
}

/* Hand a query that was not answered here to the resolver or to its
 * backend group. */

static void after_answer(struct worker *w, const struct engine_result *res, const uint8_t *query,
			 size_t len)
{
	if (res->prefetch && w->srv->resolver) {
		struct rreq *r = rreq_new(w, query, len, true);

		if (r)
			resolver_submit(w->srv->resolver, r);
	}
}


/* RRL slip: the header and question only, TC set, so a real client
 * retries over TCP (where no limit applies). Never larger than the query. */
static size_t truncate_reply(uint8_t *msg, size_t len)
{
	size_t pos = WIRE_HDR_LEN;

	if (wire_read16(msg + 4) == 1 && wire_skip_question(msg, len, &pos, 1) != CAR_EOK)
		pos = WIRE_HDR_LEN;
	if (wire_read16(msg + 4) != 1)
		pos = WIRE_HDR_LEN;
	msg[2] |= WIRE_TC >> 8;
	memset(msg + 6, 0, 6);
	return pos;
}

/* Echo the destination address of a query to a wildcard socket. */
static size_t reply_pktinfo(struct msghdr *rx, uint8_t *ctl, size_t ctl_size)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(rx); c; c = CMSG_NXTHDR(rx, c)) {
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)) {
			if (c->cmsg_len > ctl_size)
				return 0;
			memcpy(ctl, c, c->cmsg_len);
			if (c->cmsg_level == IPPROTO_IP) {
				struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(
					(struct cmsghdr *)ctl);

				pi->ipi_spec_dst = pi->ipi_addr;
				pi->ipi_ifindex = 0;
			}
			return CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
		}
	}
	return 0;
}

/* ---- the answer pipeline: one query, whatever its transport ---- */

/* Where a query came from, and so where its answer goes: the one thing
 * that differs between transports. */
enum via {
	VIA_UDP_BATCH, /* a datagram of this round: the answer joins the sendmmsg batch */
	VIA_UDP,       /* a datagram back from upstream: sendmsg on its socket */
	VIA_TCP,       /* a connection (one back from upstream may be gone: conn NULL) */
};

struct query {
	enum via via;
	const uint8_t *msg;
	size_t len;
	bool unreadable;                       /* truncated on receipt: dropped */
	const struct sockaddr *client;         /* for the ACLs and RRL; NULL: unknown */
	const struct sockaddr_storage *peer;   /* where the answer goes (and dnstap) */
	socklen_t peer_len;
	struct rreq *back;     /* back from upstream, with the answer it brings */
	struct pollable *p;    /* VIA_UDP_BATCH: the socket it came in on */
	struct msghdr *rx;     /* VIA_UDP_BATCH: as received (the address asked) */
	struct conn *conn;     /* VIA_TCP */
	bool tapped;           /* dnstap */
	struct timespec rx_time;
	struct sockaddr_storage local;
};

/* What we know: the dispatch point of every query (one per opcode; the
 * engine answers QUERY and says NOTIMP to the rest). A query back from
 * upstream brings its answer. */
static size_t answer(struct worker *w, const struct config *cfg, const struct query *q,
		     uint8_t *out, size_t out_max, struct engine_result *r)
{
	struct engine_ctx ctx = ctx_for(w, q->client);
	size_t len;

	if (q->unreadable) {
		*r = (struct engine_result){.dropped = true};
		return 0;
	}
	if (q->back) {
		ctx.answer = q->back->answer;
		ctx.fwd = q->back->fwd;
		ctx.fwd_stale = q->back->stale;
	} else {
		topnames_query(&w->top, q->msg, q->len);
	}
	len = engine_answer(cfg, &ctx, q->msg, q->len, out, out_max, q->via == VIA_TCP, r);
	/* upstream only for a client we know, and only once per query */
	if ((r->resolve || r->forward) && (!q->client || q->back))
		*r = (struct engine_result){.dropped = true};
	return len;
}

/* What we must ask others: the query crosses the seam to the resolver or
 * its backend group, and comes back through server_complete(). */
static void hand_over(struct worker *w, const struct query *q, const struct engine_result *r)
{
	struct rreq *rq = rreq_new(w, q->msg, q->len, false);

	if (!rq)
		return;
	if (q->via == VIA_TCP) {
		rq->tcp = true;
		rq->conn_id = q->conn->id;
	} else {
		rq->fd = q->p->fd;
		rq->peer = *q->peer;
		rq->peer_len = q->peer_len;
		if (q->p->pktinfo)
			rq->ctl_len = reply_pktinfo(q->rx, rq->ctl, sizeof(rq->ctl));
	}
	if (q->tapped) {
		rq->tapped = true;
		rq->query_time = q->rx_time;
		rq->local = q->local;
		tap(w, true, rq->tcp, (const struct sockaddr *)q->peer, &q->local, &q->rx_time,
		    rq->query, rq->len, NULL, 0);
	}
	if (r->forward) {
		rq->group = r->backend->rt;
		backend_submit(w->srv->backends, rq);
	} else {
		resolver_submit(w->srv->resolver, rq);
	}
}

/* Send: join the batch, send the one datagram, or queue on the connection.
 * Returns false when the connection must close. */
static bool deliver(struct worker *w, const struct query *q, uint8_t *msg, size_t len,
		    struct udp_scratch *s)
{
	struct conn *c = q->conn;

	switch (q->via) {
	case VIA_UDP_BATCH: {
		unsigned k = s->ntx++;

		s->txv[k] = (struct iovec){msg, len};
		s->tx[k].msg_hdr = (struct msghdr){
			.msg_name = (void *)q->peer,
			.msg_namelen = q->peer_len,
			.msg_iov = &s->txv[k],
			.msg_iovlen = 1,
		};
		if (q->p->pktinfo) {
			size_t cl = reply_pktinfo(q->rx, s->txctl[k], sizeof(s->txctl[k]));

			s->tx[k].msg_hdr.msg_control = cl ? s->txctl[k] : NULL;
			s->tx[k].msg_hdr.msg_controllen = cl;
		}
		return true;
	}
	case VIA_UDP: {
		struct iovec iov = {msg, len};
		struct msghdr mh = {.msg_name = &q->back->peer, .msg_namelen = q->back->peer_len,
				    .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = q->back->ctl_len ? q->back->ctl : NULL,
				    .msg_controllen = q->back->ctl_len};

		sendmsg(q->back->fd, &mh, MSG_DONTWAIT);
		return true;
	}
	case VIA_TCP:
		if (!c)
			return true; /* the connection went while upstream answered */
		if (!q->back)
			return conn_queue(c, msg, len); /* conn_process flushes */
		if (conn_queue(c, msg, len)) {
			if (conn_flush(c))
				conn_events(w, c);
			else
				conn_close(w, c);
		}
		return true;
	}
	return true;
}

/* One query from any transport: answer it (or hand it over to be
 * resolved), count it, rate-limit it (every UDP answer, ours or
 * upstream's; a valid server cookie passes), log it (dnstap), send it.
 * out is where the answer is built. Returns false when a TCP connection
 * must close. */
static bool serve(struct worker *w, const struct config *cfg, struct query *q, uint8_t *out,
		  size_t out_max, struct udp_scratch *s)
{
	bool tcp = q->via == VIA_TCP;
	struct engine_result r;

	if (!q->back) {
		if (tcp)
			STATS_INC(w->stats.tcp);
		else
			STATS_INC(w->stats.udp);
		q->tapped = tap_sampled(w);
		if (q->tapped && tcp) {
			clock_gettime(CLOCK_REALTIME, &q->rx_time);
			q->local = q->conn->local;
		} else if (q->tapped) {
			pktinfo_local(q->rx, &q->p->local, &q->local);
		}
	}
	size_t len = answer(w, cfg, q, out, out_max, &r);

	if (r.resolve || r.forward) {
		hand_over(w, q, &r);
		return true;
	}
	stats_answer(&w->stats, &r);
	after_answer(w, &r, q->msg, q->len);
	if (len == 0)
		return true;
	if (!tcp && cfg->rrl.enable && !r.cookie_valid) {
		enum rrl_verdict v = rrl_check(w->srv->rrl, &cfg->rrl, q->client, now_sec());

		if (v == RRL_DROP) {
			if (q->tapped && !q->back) /* the query came; no response went */
				tap(w, r.cache_hit, false, (const struct sockaddr *)q->peer, &q->local,
				    &q->rx_time, q->msg, q->len, NULL, 0);
			return true;
		}
		if (v == RRL_SLIP)
			len = truncate_reply(out, len);
	}
	/* a query back from upstream was logged when it left */
	if (q->tapped && (!tcp || q->conn))
		tap(w, q->back || r.cache_hit, tcp, (const struct sockaddr *)q->peer, &q->local,
		    &q->rx_time, q->back ? NULL : q->msg, q->back ? 0 : q->len, out, len);
	return deliver(w, q, out, len, s);
}

/* ---- transports ---- */

static void handle_udp(struct worker *w, struct pollable *p, const struct config *cfg,
		       struct udp_scratch *s)
{
	for (int round = 0; round < 4; round++) { /* bounded: other sockets get a turn */
		for (int i = 0; i < UDP_BATCH; i++) {
			s->rxv[i] = (struct iovec){s->rxbuf[i], UDP_RX_SIZE};
			s->rx[i].msg_hdr = (struct msghdr){
				.msg_name = &s->addr[i],
				.msg_namelen = sizeof(s->addr[i]),
				.msg_iov = &s->rxv[i],
				.msg_iovlen = 1,
				.msg_control = p->pktinfo ? s->rxctl[i] : NULL,
				.msg_controllen = p->pktinfo ? sizeof(s->rxctl[i]) : 0,
			};
		}
		int n = recvmmsg(p->fd, s->rx, UDP_BATCH, MSG_DONTWAIT, NULL);
		struct timespec rx_time = {0};

		if (n <= 0)
			return;
		if (w->srv->dnstap)
			clock_gettime(CLOCK_REALTIME, &rx_time);
		s->ntx = 0;
		for (int i = 0; i < n; i++) {
			struct query q = {
				.via = VIA_UDP_BATCH,
				.msg = s->rxbuf[i],
				.len = s->rx[i].msg_len,
				.unreadable = s->rx[i].msg_hdr.msg_flags & MSG_TRUNC,
				.client = (struct sockaddr *)&s->addr[i],
				.peer = &s->addr[i],
				.peer_len = s->rx[i].msg_hdr.msg_namelen,
				.p = p,
				.rx = &s->rx[i].msg_hdr,
				.rx_time = rx_time,
			};

			serve(w, cfg, &q, s->txbuf[s->ntx], WIRE_EDNS_UDP, s);
		}
		for (unsigned sent = 0; sent < s->ntx;) {
			int k = sendmmsg(p->fd, s->tx + sent, s->ntx - sent, MSG_DONTWAIT);

			if (k <= 0)
				break; /* full socket buffer: UDP may be lost, as on the wire */
			sent += (unsigned)k;
		}
		if (n < UDP_BATCH)
			return;
	}
}

/* Answer every complete message in the input buffer (pipelining,
 * RFC 7766 6.2.1). Returns false when the connection must close. */
static bool conn_process(struct worker *w, struct conn *c, const struct config *cfg,
			 struct udp_scratch *s)
{
	size_t off = 0;
	bool ok = true;

	while (c->in_len - off >= 2 && c->out_len - c->out_off < TCP_OUT_HIGH) {
		size_t mlen = wire_read16(c->in + off);

		if (mlen == 0) { /* nothing to answer; a zero length is a broken peer */
			ok = false;
			break;
		}
		if (c->in_len - off < 2 + mlen)
			break;
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		bool known = getpeername(c->p.fd, (struct sockaddr *)&peer, &plen) == 0;
		struct query q = {
			.via = VIA_TCP,
			.msg = c->in + off + 2,
			.len = mlen,
			.client = known ? (struct sockaddr *)&peer : NULL,
			.peer = &c->peer,
			.conn = c,
		};

		off += 2 + mlen;
		if (!serve(w, cfg, &q, s->tcpbuf, sizeof(s->tcpbuf), s)) {
			ok = false;
			break;
		}
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return ok;
}

static void handle_conn(struct worker *w, struct conn *c, uint32_t events,
			const struct config *cfg, struct udp_scratch *s)
{
	bool eof = false;

	if (events & (EPOLLERR)) {
		conn_close(w, c);
		return;
	}
	if (c->reading && (events & (EPOLLIN | EPOLLHUP))) {
		while (c->in_len < sizeof(c->in)) {
			ssize_t k = read(c->p.fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

			if (k == 0) {
				eof = true;
				break;
			}
			if (k < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					eof = true;
				break;
			}
			c->in_len += (size_t)k;
			c->last = now_sec();
		}
	}
	if (!conn_process(w, c, cfg, s) || !conn_flush(c)) {
		conn_close(w, c);
		return;
	}
	/* Output drained below the mark: answer what is still buffered. */
	if (c->in_len >= 2 && (!conn_process(w, c, cfg, s) || !conn_flush(c))) {
		conn_close(w, c);
		return;
	}
	if (eof && c->out_len == c->out_off) {
		conn_close(w, c);
		return;
	}
	conn_events(w, c);
}

static void sweep_idle(struct worker *w, const struct config *cfg)
{
	time_t now = now_sec();

	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (now - c->last >= (time_t)cfg->tcp_idle_timeout) {
			STATS_INC(w->stats.tcp_timeouts);
			conn_close(w, c);
		}
	}
}


/* Queries back from upstream: answer them from the answer they carry, on
 * the socket or connection they came from. */
static void handle_done(struct worker *w, const struct config *cfg, struct udp_scratch *s)
{
	uint64_t v;

	if (read(w->done_ev->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&w->done_lock);
	struct rreq *rq = w->done;

	w->done = NULL;
	pthread_mutex_unlock(&w->done_lock);
	while (rq) {
		struct rreq *next = rq->next;
		struct query q = {
			.via = rq->tcp ? VIA_TCP : VIA_UDP,
			.msg = rq->query,
			.len = rq->len,
			.client = (struct sockaddr *)&rq->peer,
			.peer = &rq->peer,
			.peer_len = rq->peer_len,
			.back = rq,
			.tapped = rq->tapped,
			.rx_time = rq->query_time,
			.local = rq->local,
		};

		if (rq->tcp) {
			for (q.conn = w->conns; q.conn && q.conn->id != rq->conn_id;)
				q.conn = q.conn->next;
			q.client = q.conn ? (struct sockaddr *)&q.conn->peer : NULL;
			q.peer = q.conn ? &q.conn->peer : NULL;
		}
		serve(w, cfg, &q, s->tcpbuf, rq->tcp ? sizeof(s->tcpbuf) : WIRE_EDNS_UDP, s);
		free(rq->answer);
		backend_entry_put(rq->fwd);
		free(rq);
		rq = next;
	}
}

void server_complete(struct server *srv, struct rreq *q)
{
	struct worker *w = &srv->workers[q->worker];
	uint64_t one = 1;

	pthread_mutex_lock(&w->done_lock);
	q->next = w->done;
	w->done = q;
	pthread_mutex_unlock(&w->done_lock);
	if (write(w->done_ev->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("event=eventfd-write error=\"%s\"", strerror(errno));
}

uint64_t server_worker_qs(const struct server *srv, unsigned worker)
{
	return atomic_load(&srv->workers[worker].qs);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *srv = w->srv;
	struct udp_scratch *s = malloc(sizeof(*s));
	struct epoll_event evs[64];
	time_t last_sweep = now_sec();

	if (!s)
		abort();
	while (!atomic_load(&srv->stop)) {
		int n = epoll_wait(w->epfd, evs, 64, 1000);

		atomic_fetch_add(&w->qs, 1); /* odd: holding a config */
		const struct config *cfg = atomic_load(&srv->cfg);

		for (int i = 0; i < n; i++) {
			struct pollable *p = evs[i].data.ptr;

			switch (p->kind) {
			case P_UDP:
				handle_udp(w, p, cfg, s);
				break;
			case P_TCP_LISTEN:
				handle_accept(w, p, cfg);
				break;
			case P_TCP_CONN:
				handle_conn(w, (struct conn *)p, evs[i].events, cfg, s);
				break;
			case P_DONE:
				handle_done(w, cfg, s);
				break;
			case P_CLOSED:
				break;
			}
		}
		conns_free_closed(w);
		if (now_sec() != last_sweep) {
			last_sweep = now_sec();
			sweep_idle(w, cfg);
		}
		atomic_fetch_add(&w->qs, 1); /* even: quiescent */
	}
	while (w->conns)
		conn_close(w, w->conns);
	conns_free_closed(w);
	free(s);
	return NULL;
}

int server_start(struct server *srv)
{
	for (unsigned i = 0; i < srv->nworkers; i++)
		if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]))
			return -1;
	return 0;
}

void server_stop(struct server *srv)
{
	atomic_store(&srv->stop, true);
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct worker *w = &srv->workers[i];

		pthread_join(w->thread, NULL);
		close(w->done_ev->fd);
		free(w->done_ev);
		while (w->done) {
			struct rreq *next = w->done->next;

			free(w->done->answer);
			backend_entry_put(w->done->fwd);
			free(w->done);
			w->done = next;
		}
		pthread_mutex_destroy(&w->done_lock);
		topnames_destroy(&w->top);
		for (unsigned j = 0; j < w->nlisteners; j++) {
			close(w->listeners[j]->fd);
			free(w->listeners[j]);
		}
		close(w->epfd);
	}
	free(srv->workers);
	srv->workers = NULL;
	rrl_destroy(srv->rrl);
	srv->rrl = NULL;
}

void server_swap(struct server *srv, struct config *cfg)
{
	struct config *old = atomic_exchange(&srv->cfg, cfg);

	server_synchronize(srv);
	config_free(old);
}

void server_synchronize(struct server *srv)
{
	/* Grace period: a worker that was idle (even) will load the new
	 * pointer; one that was busy (odd) must move on first. */
	for (unsigned i = 0; i < srv->nworkers; i++) {
		uint64_t s = atomic_load(&srv->workers[i].qs);

		while ((s & 1) && atomic_load(&srv->workers[i].qs) == s) {
			struct timespec ts = {0, 100000};

			nanosleep(&ts, NULL);
		}
	}
}

const char *const stats_qtype_names[QT_COUNT] = {
	"A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "ANY", "other"};
const char *const stats_rcode_names[STATS_RCODES] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	"NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11",  "RCODE12", "RCODE13", "RCODE14", "RCODE15",
	"BADVERS"};

size_t server_top_names(const struct server *srv, unsigned limit, char *buf, size_t len)
{
	struct topnames *tables[64];
	unsigned n = srv->nworkers < 64 ? srv->nworkers : 64;

	for (unsigned i = 0; i < n; i++)
		tables[i] = &srv->workers[i].top;
	return topnames_text(tables, n, limit, buf, len);
}

void server_stats_total(const struct server *srv, struct stats *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct stats *s = &srv->workers[i].stats;

		t->udp += STATS_GET(s->udp);
		t->tcp += STATS_GET(s->tcp);
		t->dropped += STATS_GET(s->dropped);
		t->truncated += STATS_GET(s->truncated);
		t->tcp_accepted += STATS_GET(s->tcp_accepted);
		t->tcp_refused += STATS_GET(s->tcp_refused);
		t->tcp_timeouts += STATS_GET(s->tcp_timeouts);
		for (unsigned k = 0; k < STATS_RCODES; k++)
			t->rcode[k] += STATS_GET(s->rcode[k]);
		for (unsigned k = 0; k < QT_COUNT; k++)
			t->qtype[k] += STATS_GET(s->qtype[k]);
	}
}

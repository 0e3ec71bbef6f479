/* backend.c -- backend groups: one thread forwards queries over UDP (a
 * fresh socket, random port and ID per query, connected so only the server
 * asked can answer) and TCP, picks servers by policy, runs the check
 * queries, counts live timeouts toward `fall`, and fills each group's
 * answer cache (RFC 2308 negative caching, RFC 8767 stale answers). */
#include "backend.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rreq.h"
#include "siphash.h"

#define FLIGHTS 512     /* queries upstream at once (one socket each) */
#define MAX_TRIES 3     /* servers asked per query */
#define LAT_BUCKETS 64  /* latency histogram: bucket i ends at 10 us * 1.25^i */
#define QUERY_MAX 300   /* our queries: header, name, question, OPT */
#define EDE_STALE_ANSWER 3
#define EDE_NOT_READY 14
#define EDE_NO_REACHABLE_AUTHORITY 22
#define EDE_NETWORK_ERROR 23

/* One server of a group. Lives until backend_free: flights and the
 * server list of an old config may still point at it. */
struct bserver {
	struct bserver *next; /* every server the group ever had */
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];
	uint64_t id;
	uint32_t weight, order;
	int64_t wrr;
	/* health */
	bool up;
	unsigned ok_run, fail_run;
	bool checking;
	uint64_t next_check_ms, last_check_ms, changed_ms;
	char last_check[80];
	/* counters */
	unsigned outstanding;
	uint64_t queries, responses, timeouts, errors, mismatched, truncated;
	uint64_t checks_ok, checks_failed;
	uint64_t latency_us; /* smoothed (1/8) */
	uint64_t hist[LAT_BUCKETS];
};

struct bcache {
	pthread_mutex_t lock;
	bool enabled;
	uint64_t max_bytes, used;
	uint32_t min_ttl, max_ttl, stale;
	uint32_t mask;
	struct bentry **slots;
	struct bentry *oldest, *newest;
	uint64_t entries, hits, misses, stale_hits, inserts, evictions;
};

/* A group's runtime. Lives until backend_free: configs point at it. */
struct bgroup {
	struct bgroup *next;
	char name[64];
	bool active; /* in the config in force */
	/* settings of the config in force */
	struct backend cfg; /* copied: its pointers are not used */
	unsigned nservers;
	struct bserver **servers;
	struct bserver *all;
	uint64_t rr;
	uint64_t forwarded, servfails, stale_answers, busy;
	struct bcache cache;
};

enum fstate { F_FREE, F_UDP, F_TCP_CONNECT, F_TCP_WRITE, F_TCP_READ };

struct flight {
	enum fstate state;
	bool check, tcp;
	bool counted; /* in s->outstanding */
	int fd;
	struct bgroup *g;
	struct bserver *s;
	struct rreq *q; /* NULL for a check */
	struct bserver *tried[MAX_TRIES];
	unsigned ntries;
	uint16_t id;
	uint8_t name[DNAME_MAXLEN];
	uint8_t name_len;
	uint16_t qtype, qclass;
	uint8_t kflags;
	uint64_t sent_us, deadline_us;
	uint16_t msg_len;
	uint8_t msg[2 + QUERY_MAX]; /* TCP length, then the query */
	size_t io_off;
	uint8_t *rbuf; /* TCP reply */
	size_t rlen, rneed;
};

struct backends {
	struct rreq_hooks done;
	pthread_t thread;
	int epfd, efd;
	atomic_bool stop;
	pthread_mutex_t qlock; /* submissions */
	struct rreq *queue;
	pthread_mutex_t lock;  /* everything below; held by the thread while it works */
	struct bgroup *groups;
	struct flight flights[FLIGHTS];
	unsigned free_flights[FLIGHTS];
	unsigned nfree;
	uint64_t started_ms;
	uint8_t rx[WIRE_TCP_MAX + 1];
};

static uint8_t hash_key[16];
static uint64_t lat_bound[LAT_BUCKETS]; /* us */

uint64_t backend_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- policies ---- */

uint64_t backend_server_id(const char *text)
{
	static const uint8_t k[16] = "carousel-chash-1"; /* fixed: same mapping after a restart */

	return siphash24(k, (const uint8_t *)text, strlen(text));
}

/* Rendezvous hashing (highest random weight): each name goes to the
 * eligible server with the highest hash of (name, server), so removing a
 * server moves only the names it had, about 1/N of them. */
static uint64_t hrw_score(const uint8_t *name, size_t len, uint64_t id)
{
	static const uint8_t k[16] = "carousel-chash-2";
	uint8_t buf[DNAME_MAXLEN + 8];

	memcpy(buf, name, len);
	memcpy(buf + len, &id, 8);
	return siphash24(k, buf, len + 8);
}

int backend_policy_pick(enum backend_policy p, struct backend_choice *c, unsigned n, uint64_t *rr,
			const uint8_t *name, size_t name_len)
{
	unsigned neligible = 0;
	int best = -1;

	for (unsigned i = 0; i < n; i++)
		neligible += c[i].eligible;
	if (neligible == 0)
		return -1;
	switch (p) {
	case BP_ROUND_ROBIN: {
		unsigned k = (unsigned)((*rr)++ % neligible);

		for (unsigned i = 0; i < n; i++)
			if (c[i].eligible && k-- == 0)
				return (int)i;
		return -1;
	}
	case BP_WEIGHTED: {
		/* smooth weighted round-robin (as nginx): exact shares, spread out */
		int64_t total = 0;

		for (unsigned i = 0; i < n; i++) {
			if (!c[i].eligible)
				continue;
			c[i].wrr += c[i].weight;
			total += c[i].weight;
			if (best < 0 || c[i].wrr > c[best].wrr)
				best = (int)i;
		}
		c[best].wrr -= total;
		return best;
	}
	case BP_LEAST_OUTSTANDING:
		for (unsigned i = 0; i < n; i++) {
			if (!c[i].eligible)
				continue;
			if (best < 0 || c[i].outstanding < c[best].outstanding ||
			    (c[i].outstanding == c[best].outstanding &&
			     (c[i].order < c[best].order ||
			      (c[i].order == c[best].order && c[i].latency_us < c[best].latency_us))))
				best = (int)i;
		}
		return best;
	case BP_CONSISTENT_HASH: {
		uint64_t top = 0;

		for (unsigned i = 0; i < n; i++) {
			if (!c[i].eligible)
				continue;
			uint64_t s = hrw_score(name, name_len, c[i].id);

			if (best < 0 || s > top) {
				best = (int)i;
				top = s;
			}
		}
		return best;
	}
	case BP_FIRST_AVAILABLE:
	default:
		for (unsigned i = 0; i < n; i++)
			if (c[i].eligible && (best < 0 || c[i].order < c[best].order))
				best = (int)i;
		return best;
	}
}

/* ---- entries and the cache ---- */

void backend_entry_put(const struct bentry *ce)
{
	struct bentry *e = (struct bentry *)ce;

	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		free(e);
}

static struct bentry *entry_new(const uint8_t *name, uint8_t name_len, uint16_t qtype,
			        uint16_t qclass, uint8_t kflags, size_t len, unsigned nttl)
{
	size_t bytes = sizeof(struct bentry) + nttl * sizeof(uint16_t) + len;
	struct bentry *e = calloc(1, bytes);

	if (!e)
		abort();
	atomic_init(&e->refs, 1);
	e->qtype = qtype;
	e->qclass = qclass;
	e->kflags = kflags;
	e->name_len = name_len;
	memcpy(e->name, name, name_len);
	e->ede = 0xffff;
	e->ttl_off = (uint16_t *)e->data;
	e->wire = e->data + nttl * sizeof(uint16_t);
	e->nttl = nttl;
	e->len = (uint32_t)len;
	e->bytes = (uint32_t)bytes;
	e->inserted_ms = backend_now_ms();
	return e;
}

static struct bentry *servfail(const struct flight *f, uint16_t ede, const char *fmt, const char *arg)
{
	struct bentry *e = entry_new(f->name, f->name_len, f->qtype, f->qclass, f->kflags, 0, 0);

	e->rcode = RCODE_SERVFAIL;
	e->hflags = WIRE_RA;
	e->ede = ede;
	snprintf(e->ede_text, sizeof(e->ede_text), fmt, arg);
	return e;
}

static uint64_t key_hash(const uint8_t *name, size_t len, uint16_t qtype, uint16_t qclass,
			 uint8_t kflags)
{
	uint8_t buf[DNAME_MAXLEN + 5];

	memcpy(buf, name, len);
	wire_write16(buf + len, qtype);
	wire_write16(buf + len + 2, qclass);
	buf[len + 4] = kflags;
	return siphash24(hash_key, buf, len + 5);
}

static bool key_equal(const struct bentry *e, uint64_t h, const uint8_t *name, size_t len,
		      uint16_t qtype, uint16_t qclass, uint8_t kflags)
{
	return e->hash == h && e->qtype == qtype && e->qclass == qclass && e->kflags == kflags &&
	       e->name_len == len && memcmp(e->name, name, len) == 0;
}

/* Cache lock held. */
static void bcache_unlink(struct bcache *c, struct bentry *e)
{
	struct bentry **pp = &c->slots[e->hash & c->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->used -= e->bytes;
	c->entries--;
	backend_entry_put(e);
}

static struct bentry *bcache_find(struct bcache *c, const uint8_t *name, size_t len,
				 uint16_t qtype, uint16_t qclass, uint8_t kflags)
{
	uint64_t h = key_hash(name, len, qtype, qclass, kflags);

	if (!c->slots)
		return NULL;
	for (struct bentry *e = c->slots[h & c->mask]; e; e = e->hnext)
		if (key_equal(e, h, name, len, qtype, qclass, kflags))
			return e;
	return NULL;
}

const struct bentry *backend_cache_get(struct bgroup *g, const uint8_t *name, size_t len,
				       uint16_t qtype, uint16_t qclass, uint8_t kflags,
				       uint64_t now_ms)
{
	struct bcache *c = &g->cache;
	struct bentry *e;

	pthread_mutex_lock(&c->lock);
	if (!c->enabled) {
		pthread_mutex_unlock(&c->lock);
		return NULL;
	}
	e = bcache_find(c, name, len, qtype, qclass, kflags);
	if (e && e->stale_ms <= now_ms) {
		bcache_unlink(c, e); /* past any use */
		e = NULL;
	} else if (e && e->expires_ms <= now_ms) {
		e = NULL; /* kept for a stale answer */
	}
	if (e) {
		atomic_fetch_add(&e->refs, 1);
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

/* An expired answer still inside the group's `stale` window. */
static struct bentry *bcache_get_stale(struct bgroup *g, const struct flight *f, uint64_t now_ms)
{
	struct bcache *c = &g->cache;
	struct bentry *e;

	pthread_mutex_lock(&c->lock);
	e = c->enabled ? bcache_find(c, f->name, f->name_len, f->qtype, f->qclass, f->kflags)
		       : NULL;
	if (e && e->stale_ms > now_ms) {
		atomic_fetch_add(&e->refs, 1);
		c->stale_hits++;
	} else {
		e = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

static void bcache_evict(struct bcache *c)
{
	while (c->used > c->max_bytes && c->oldest) {
		bcache_unlink(c, c->oldest);
		c->evictions++;
	}
}

/* The cache takes its own reference to e. */
static void bcache_insert(struct bcache *c, struct bentry *e)
{
	pthread_mutex_lock(&c->lock);
	if (!c->enabled || e->bytes > c->max_bytes / 4) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	struct bentry *old = bcache_find(c, e->name, e->name_len, e->qtype, e->qclass, e->kflags);

	if (old)
		bcache_unlink(c, old);
	e->hash = key_hash(e->name, e->name_len, e->qtype, e->qclass, e->kflags);
	atomic_fetch_add(&e->refs, 1);
	e->hnext = c->slots[e->hash & c->mask];
	c->slots[e->hash & c->mask] = e;
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->used += e->bytes;
	c->entries++;
	c->inserts++;
	bcache_evict(c);
	pthread_mutex_unlock(&c->lock);
}

static void bcache_clear(struct bcache *c)
{
	while (c->oldest)
		bcache_unlink(c, c->oldest);
}

/* Settings of the config in force; the table is sized on first use. */
static void bcache_configure(struct bcache *c, const struct backend *cfg)
{
	pthread_mutex_lock(&c->lock);
	c->enabled = cfg->cache;
	c->max_bytes = cfg->cache_size;
	c->min_ttl = cfg->cache_min_ttl;
	c->max_ttl = cfg->cache_max_ttl;
	c->stale = cfg->cache_stale;
	if (!c->enabled)
		bcache_clear(c);
	if (c->enabled && !c->slots) {
		uint64_t want = c->max_bytes / 512;

		for (c->mask = 1023; c->mask + 1 < want && c->mask < (1u << 20) - 1;)
			c->mask = c->mask * 2 + 1;
		c->slots = calloc((size_t)c->mask + 1, sizeof(*c->slots));
		if (!c->slots)
			abort();
	}
	if (c->enabled)
		bcache_evict(c);
	pthread_mutex_unlock(&c->lock);
}

/* ---- upstream replies ---- */

/* Is pkt a reply to the question (lower-case name)? */
static bool answers_question(const uint8_t *pkt, size_t len, const uint8_t *qname,
			     size_t qname_len, uint16_t qtype, uint16_t qclass)
{
	uint8_t name[DNAME_MAXLEN];
	size_t pos = WIRE_HDR_LEN;

	if (len < WIRE_HDR_LEN || !(pkt[2] & 0x80) || WIRE_OPCODE(wire_read16(pkt + 2)) != 0 ||
	    wire_read16(pkt + 4) != 1)
		return false;
	if (wire_name_read(pkt, len, &pos, name) < 0 || pos + 4 > len)
		return false;
	dname_lower(name);
	return dname_len(name) == qname_len && memcmp(name, qname, qname_len) == 0 &&
	       wire_read16(pkt + pos) == qtype && wire_read16(pkt + pos + 2) == qclass;
}

/* Is pkt the reply to f's query? The socket is connected, so it came from
 * the server's address and port; the ID and the question must match too. */
static bool reply_matches(const struct flight *f, const uint8_t *pkt, size_t len)
{
	return len >= WIRE_HDR_LEN && wire_read16(pkt) == f->id &&
	       answers_question(pkt, len, f->name, f->name_len, f->qtype, f->qclass);
}

struct bentry *backend_entry_from_reply(const uint8_t *pkt, size_t len, const uint8_t *qname,
					uint8_t qname_len, uint16_t qtype, uint16_t qclass,
					uint8_t kflags, const struct backend *cache, bool *cacheable)
{
	uint16_t offs[WIRE_TCP_MAX / 11 + 1]; /* an RR takes at least 11 bytes */
	size_t pos = WIRE_HDR_LEN, end;
	unsigned nttl = 0, opt = 0;
	uint32_t ttl = UINT32_MAX;
	uint8_t name[DNAME_MAXLEN];

	*cacheable = false;
	if (len > WIRE_TCP_MAX || !answers_question(pkt, len, qname, qname_len, qtype, qclass) ||
	    wire_skip_question(pkt, len, &pos, 1) < 0)
		return NULL;
	unsigned an = wire_read16(pkt + 6), ns = wire_read16(pkt + 8), ar = wire_read16(pkt + 10);
	unsigned rcode = pkt[3] & 0xf;
	bool negative = rcode == RCODE_NXDOMAIN || (rcode == RCODE_NOERROR && an == 0);
	size_t body = pos;

	end = pos;
	for (unsigned i = 0; i < an + ns + ar; i++) {
		if (wire_name_read_any(pkt, len, &pos, name) < 0 || pos + 10 > len)
			return NULL;
		uint16_t type = wire_read16(pkt + pos), rdlen = wire_read16(pkt + pos + 8);
		uint32_t t = wire_read32(pkt + pos + 4);

		if (pos + 10 + rdlen > len)
			return NULL;
		if (type == TYPE_OPT) {
			/* one, the last record (no TSIG: we never sign) */
			if (i != an + ns + ar - 1 || i < an + ns)
				return NULL;
			opt = 1;
			break;
		}
		offs[nttl++] = (uint16_t)(pos + 4);
		if (!negative && i < an && t < ttl)
			ttl = t;
		if (negative && i >= an && i < an + ns && type == TYPE_SOA && rdlen >= 22) {
			uint32_t minimum = wire_read32(pkt + pos + 10 + rdlen - 4);

			t = t < minimum ? t : minimum; /* RFC 2308 5 */
			ttl = t < ttl ? t : ttl;
		}
		pos += 10 + rdlen;
		end = pos;
	}
	struct bentry *e = entry_new(qname, qname_len, qtype, qclass, kflags, end, nttl);

	memcpy(e->wire, pkt, end);
	memcpy(e->ttl_off, offs, nttl * sizeof(uint16_t));
	e->body_off = (uint16_t)body;
	e->rcode = (uint8_t)rcode;
	e->hflags = wire_read16(pkt + 2);
	e->count[0] = (uint16_t)an;
	e->count[1] = (uint16_t)ns;
	e->count[2] = (uint16_t)(ar - opt);
	if (ttl != UINT32_MAX) {
		ttl = ttl < cache->cache_min_ttl ? cache->cache_min_ttl : ttl;
		ttl = ttl > cache->cache_max_ttl ? cache->cache_max_ttl : ttl;
	}
	*cacheable = cache->cache && ttl != UINT32_MAX && ttl > 0 && !(e->hflags & WIRE_TC) &&
		     (rcode == RCODE_NOERROR || rcode == RCODE_NXDOMAIN);
	if (*cacheable) {
		e->expires_ms = e->inserted_ms + (uint64_t)ttl * 1000;
		e->stale_ms = e->expires_ms + (uint64_t)cache->cache_stale * 1000;
	}
	return e;
}

/* ---- health ---- */

static void set_state(struct bgroup *g, struct bserver *s, bool up, const char *why)
{
	s->up = up;
	s->changed_ms = backend_now_ms();
	log_info("event=backend-state group=%s server=%s state=%s reason=\"%s\"", g->name, s->text,
		 up ? "up" : "down", why);
}

/* A check result, or a live query's (live successes only keep a server
 * up; bringing one back takes `rise` passed checks). */
static void verdict(struct bgroup *g, struct bserver *s, bool ok, bool check, const char *why)
{
	if (ok) {
		s->fail_run = 0;
		if (check && ++s->ok_run >= g->cfg.rise && !s->up)
			set_state(g, s, true, why);
		return;
	}
	s->ok_run = 0;
	if (++s->fail_run >= g->cfg.fall && s->up)
		set_state(g, s, false, why);
}

static void record_latency(struct bserver *s, uint64_t us)
{
	unsigned i = 0;

	while (i < LAT_BUCKETS - 1 && us > lat_bound[i])
		i++;
	s->hist[i]++;
	s->latency_us = s->latency_us ? s->latency_us - s->latency_us / 8 + us / 8 : us;
}

static double percentile_ms(const struct bserver *s, double p)
{
	uint64_t total = 0, seen = 0;

	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		total += s->hist[i];
	if (total == 0)
		return 0;
	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += s->hist[i];
		if ((double)seen >= p * (double)total)
			return (double)lat_bound[i] / 1000.0;
	}
	return (double)lat_bound[LAT_BUCKETS - 1] / 1000.0;
}

/* ---- flights ---- */

static void build_query(struct flight *f, uint16_t flags, bool edns, uint16_t udp, bool dnssec_ok)
{
	uint8_t *m = f->msg + 2;
	size_t n = 0;

	f->id = (uint16_t)arc4random();
	wire_write16(m, f->id);
	wire_write16(m + 2, flags);
	wire_write16(m + 4, 1);
	wire_write16(m + 6, 0);
	wire_write16(m + 8, 0);
	wire_write16(m + 10, edns ? 1 : 0);
	n = WIRE_HDR_LEN;
	memcpy(m + n, f->name, f->name_len);
	n += f->name_len;
	wire_write16(m + n, f->qtype);
	wire_write16(m + n + 2, f->qclass);
	n += 4;
	if (edns) { /* RFC 6891 6.1.2: the client's size, DO as the client set it */
		m[n] = 0;
		wire_write16(m + n + 1, TYPE_OPT);
		wire_write16(m + n + 3, udp);
		wire_write32(m + n + 5, dnssec_ok ? WIRE_EDNS_DO : 0);
		wire_write16(m + n + 9, 0);
		n += WIRE_OPT_RR_LEN;
	}
	f->msg_len = (uint16_t)n;
	wire_write16(f->msg, (uint16_t)n);
}

static void flight_close(struct backends *b, struct flight *f)
{
	if (f->fd >= 0)
		close(f->fd); /* also leaves epoll */
	f->fd = -1;
	free(f->rbuf);
	f->rbuf = NULL;
	if (f->counted)
		f->s->outstanding--;
	f->counted = false;
	(void)b;
}

static void flight_free(struct backends *b, struct flight *f)
{
	flight_close(b, f);
	f->state = F_FREE;
	b->free_flights[b->nfree++] = (unsigned)(f - b->flights);
}

static void finish(struct backends *b, struct flight *f, struct bentry *e, bool stale)
{
	struct rreq *q = f->q;

	if (e->rcode == RCODE_SERVFAIL && !stale && e->len == 0)
		f->g->servfails++;
	if (stale)
		f->g->stale_answers++;
	q->fwd = e;
	q->stale = stale;
	f->q = NULL;
	flight_free(b, f);
	b->done.complete(b->done.arg, q);
}

/* Nobody answered (or nobody is up): an expired answer the group may
 * still serve, else SERVFAIL with an Extended DNS Error. */
static void finish_failed(struct backends *b, struct flight *f, const char *why)
{
	struct bentry *e = bcache_get_stale(f->g, f, backend_now_ms());

	if (e) {
		finish(b, f, e, true);
		return;
	}
	finish(b, f, servfail(f, f->ntries ? EDE_NO_REACHABLE_AUTHORITY : EDE_NETWORK_ERROR, why,
			      f->g->name),
	       false);
}

static int watch(struct backends *b, struct flight *f, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = f};

	return epoll_ctl(b->epfd, op, f->fd, &ev);
}

/* Open the socket for a try and send (UDP) or start connecting (TCP). */
static int open_try(struct backends *b, struct flight *f)
{
	struct bserver *s = f->s;
	int fd = socket(s->ss.ss_family, (f->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
						 SOCK_CLOEXEC,
			0);

	if (fd < 0)
		return -1;
	f->fd = fd;
	f->io_off = 0;
	/* connected UDP: the kernel drops datagrams from anyone else, and
	 * binds a random ephemeral port for this query alone */
	if (connect(fd, (const struct sockaddr *)&s->ss, s->len) < 0 && errno != EINPROGRESS)
		return -1;
	if (f->tcp) {
		f->state = F_TCP_CONNECT;
		return watch(b, f, EPOLLOUT, EPOLL_CTL_ADD);
	}
	if (send(fd, f->msg + 2, f->msg_len, MSG_DONTWAIT) != f->msg_len)
		return -1;
	f->state = F_UDP;
	return watch(b, f, EPOLLIN, EPOLL_CTL_ADD);
}

static void start_try(struct backends *b, struct flight *f);

static void fail_try(struct backends *b, struct flight *f, bool timeout, const char *why)
{
	struct bserver *s = f->s;

	flight_close(b, f);
	if (timeout)
		s->timeouts++;
	else
		s->errors++;
	if (f->check) {
		s->checks_failed++;
		s->checking = false;
		s->last_check_ms = backend_now_ms();
		snprintf(s->last_check, sizeof(s->last_check), "failed: %s", why);
		verdict(f->g, s, false, true, why);
		flight_free(b, f);
		return;
	}
	verdict(f->g, s, false, false, why);
	start_try(b, f);
}

static void start_try(struct backends *b, struct flight *f)
{
	struct bgroup *g = f->g;
	struct backend_choice c[BACKEND_MAX_SERVERS];
	uint64_t us = now_us();

	if (f->ntries == MAX_TRIES) {
		finish_failed(b, f, "no server of backend %.24s answered");
		return;
	}
	for (unsigned i = 0; i < g->nservers; i++) {
		struct bserver *s = g->servers[i];
		bool tried = false;

		for (unsigned k = 0; k < f->ntries; k++)
			tried |= f->tried[k] == s;
		c[i] = (struct backend_choice){.eligible = s->up && !tried, .weight = s->weight,
					       .order = s->order, .outstanding = s->outstanding,
					       .latency_us = s->latency_us, .wrr = s->wrr,
					       .id = s->id};
	}
	int k = backend_policy_pick(g->cfg.policy, c, g->nservers, &g->rr, f->name, f->name_len);

	if (g->cfg.policy == BP_WEIGHTED)
		for (unsigned i = 0; i < g->nservers; i++)
			g->servers[i]->wrr = c[i].wrr;
	if (k < 0) {
		finish_failed(b, f, f->ntries ? "no server of backend %.24s answered"
					      : "no server of backend %.24s is up");
		return;
	}
	struct bserver *s = g->servers[k];

	f->s = s;
	f->tried[f->ntries++] = s;
	f->sent_us = us;
	f->deadline_us = us + (uint64_t)g->cfg.timeout_ms * 1000;
	s->queries++;
	s->outstanding++;
	f->counted = true;
	if (open_try(b, f) < 0)
		fail_try(b, f, false, strerror(errno));
}

static void start_check(struct backends *b, struct bgroup *g, struct bserver *s)
{
	if (b->nfree == 0)
		return;
	struct flight *f = &b->flights[b->free_flights[--b->nfree]];

	memset(f, 0, offsetof(struct flight, msg));
	f->fd = -1;
	f->check = true;
	f->g = g;
	f->s = s;
	f->name_len = (uint8_t)dname_len(g->cfg.check_name);
	memcpy(f->name, g->cfg.check_name, f->name_len);
	f->qtype = g->cfg.check_type;
	f->qclass = CLASS_IN;
	build_query(f, 0, true, WIRE_EDNS_UDP, false);
	f->sent_us = now_us();
	f->deadline_us = f->sent_us + (uint64_t)g->cfg.check_timeout_ms * 1000;
	s->checking = true;
	if (open_try(b, f) < 0)
		fail_try(b, f, false, strerror(errno));
}

static void start_flight(struct backends *b, struct rreq *q)
{
	struct bgroup *g = q->group;

	if (b->nfree == 0) {
		struct flight tmp = {.g = g, .q = q, .name_len = q->qname_len, .qtype = q->qtype,
				     .qclass = q->qclass, .kflags = q->kflags, .fd = -1};

		memcpy(tmp.name, q->qname, q->qname_len);
		g->busy++;
		q->fwd = servfail(&tmp, EDE_NOT_READY, "backend %.20s: too many queries in flight",
				  g->name);
		b->done.complete(b->done.arg, q);
		return;
	}
	struct flight *f = &b->flights[b->free_flights[--b->nfree]];

	memset(f, 0, offsetof(struct flight, msg));
	f->fd = -1;
	f->g = g;
	f->q = q;
	f->tcp = q->tcp; /* TCP clients get TCP upstream */
	f->name_len = q->qname_len;
	memcpy(f->name, q->qname, q->qname_len);
	f->qtype = q->qtype;
	f->qclass = q->qclass;
	f->kflags = q->kflags;
	uint16_t udp = q->edns_udp < WIRE_UDP_MIN ? WIRE_UDP_MIN : q->edns_udp;

	build_query(f, (q->kflags & BK_RD ? WIRE_RD : 0) | (q->kflags & BK_CD ? WIRE_CD : 0),
		    q->has_edns, udp > 4096 ? 4096 : udp, q->kflags & BK_DO);
	g->forwarded++;
	start_try(b, f);
}

static void got_reply(struct backends *b, struct flight *f, const uint8_t *pkt, size_t len)
{
	struct bserver *s = f->s;
	uint64_t us = now_us() - f->sent_us;
	unsigned rcode = pkt[3] & 0xf;
	char why[80];

	if (f->check) {
		bool ok = rcode == RCODE_NOERROR || rcode == RCODE_NXDOMAIN;

		flight_close(b, f);
		s->checking = false;
		s->last_check_ms = backend_now_ms();
		snprintf(why, sizeof(why), "%s rcode %u in %.1f ms", ok ? "ok" : "failed:", rcode,
			 (double)us / 1000.0);
		snprintf(s->last_check, sizeof(s->last_check), "%s", why);
		*(ok ? &s->checks_ok : &s->checks_failed) += 1;
		verdict(f->g, s, ok, true, why);
		flight_free(b, f);
		return;
	}
	s->responses++;
	record_latency(s, us);
	verdict(f->g, s, true, false, "answered");
	if ((pkt[2] & (WIRE_TC >> 8)) && !f->tcp) {
		/* truncated: the same server again, over TCP */
		s->truncated++;
		flight_close(b, f);
		f->tcp = true;
		f->sent_us = now_us();
		f->deadline_us = f->sent_us + (uint64_t)f->g->cfg.timeout_ms * 1000;
		s->outstanding++;
		f->counted = true;
		if (open_try(b, f) < 0)
			fail_try(b, f, false, strerror(errno));
		return;
	}
	bool cacheable;
	struct bentry *e = backend_entry_from_reply(pkt, len, f->name, f->name_len, f->qtype,
						    f->qclass, f->kflags, &f->g->cfg, &cacheable);

	if (!e) {
		fail_try(b, f, false, "malformed reply");
		return;
	}
	if (cacheable)
		bcache_insert(&f->g->cache, e);
	finish(b, f, e, false);
}

static void on_udp(struct backends *b, struct flight *f)
{
	for (int i = 0; i < 16; i++) { /* bounded: a flood of wrong replies must not hold us */
		ssize_t n = recv(f->fd, b->rx, sizeof(b->rx), MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				fail_try(b, f, false, strerror(errno)); /* e.g. port unreachable */
			return;
		}
		if (reply_matches(f, b->rx, (size_t)n)) {
			got_reply(b, f, b->rx, (size_t)n);
			return;
		}
		f->s->mismatched++;
	}
}

static void on_tcp(struct backends *b, struct flight *f, uint32_t events)
{
	if (f->state == F_TCP_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			fail_try(b, f, false, strerror(err ? err : errno));
			return;
		}
		f->state = F_TCP_WRITE;
	}
	if (f->state == F_TCP_WRITE) {
		size_t total = 2u + f->msg_len;
		ssize_t k = send(f->fd, f->msg + f->io_off, total - f->io_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k < 0 && errno != EAGAIN) {
			fail_try(b, f, false, strerror(errno));
			return;
		}
		f->io_off += k > 0 ? (size_t)k : 0;
		if (f->io_off < total)
			return;
		f->state = F_TCP_READ;
		f->rneed = 2;
		f->rlen = 0;
		f->rbuf = malloc(2 + WIRE_TCP_MAX);
		if (!f->rbuf)
			abort();
		watch(b, f, EPOLLIN, EPOLL_CTL_MOD);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t k = recv(f->fd, f->rbuf + f->rlen, f->rneed - f->rlen, MSG_DONTWAIT);

		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
			fail_try(b, f, false, k == 0 ? "connection closed" : strerror(errno));
			return;
		}
		if (k < 0)
			return;
		f->rlen += (size_t)k;
		if (f->rlen < f->rneed)
			continue;
		if (f->rneed == 2) {
			f->rneed = 2u + wire_read16(f->rbuf);
			if (f->rneed == 2) {
				fail_try(b, f, false, "empty TCP message");
				return;
			}
			continue;
		}
		if (!reply_matches(f, f->rbuf + 2, f->rneed - 2)) {
			f->s->mismatched++;
			fail_try(b, f, false, "reply does not match the query");
			return;
		}
		/* got_reply frees the buffer with the flight: copy it out */
		memcpy(b->rx, f->rbuf + 2, f->rneed - 2);
		got_reply(b, f, b->rx, f->rneed - 2);
		return;
	}
}

/* Time out flights, start checks that are due; returns ms to the next. */
static int tick(struct backends *b)
{
	uint64_t us = now_us(), ms = us / 1000, next = ms + 1000;

	for (unsigned i = 0; i < FLIGHTS; i++) {
		struct flight *f = &b->flights[i];

		if (f->state == F_FREE)
			continue;
		/* a reply already queued is not late, however late we look
		 * (a busy machine, more ready sockets than one epoll batch) */
		if (f->deadline_us <= us && f->state == F_UDP)
			on_udp(b, f);
		if (f->state == F_FREE)
			continue;
		if (f->deadline_us <= us)
			fail_try(b, f, true, "timeout");
		else if (f->deadline_us / 1000 + 1 < next)
			next = f->deadline_us / 1000 + 1;
	}
	for (struct bgroup *g = b->groups; g; g = g->next) {
		for (unsigned i = 0; g->active && i < g->nservers; i++) {
			struct bserver *s = g->servers[i];

			if (!s->checking && s->next_check_ms <= ms) {
				s->next_check_ms = ms + g->cfg.check_interval_ms;
				start_check(b, g, s);
			}
			if (s->next_check_ms < next)
				next = s->next_check_ms;
		}
	}
	return next > ms ? (int)(next - ms) : 0;
}

static void *backend_main(void *arg)
{
	struct backends *b = arg;
	struct epoll_event evs[64];
	int timeout = 0;

	while (!atomic_load(&b->stop)) {
		int n = epoll_wait(b->epfd, evs, 64, timeout);

		pthread_mutex_lock(&b->lock);
		for (int i = 0; i < n; i++) {
			struct flight *f = evs[i].data.ptr;

			if (!f) {
				uint64_t v;

				if (read(b->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					continue;
				pthread_mutex_lock(&b->qlock);
				struct rreq *q = b->queue;

				b->queue = NULL;
				pthread_mutex_unlock(&b->qlock);
				while (q) {
					struct rreq *next = q->next;

					start_flight(b, q);
					q = next;
				}
				continue;
			}
			if (f->state == F_UDP)
				on_udp(b, f);
			else if (f->state != F_FREE)
				on_tcp(b, f, evs[i].events);
		}
		timeout = tick(b);
		pthread_mutex_unlock(&b->lock);
	}
	return NULL;
}

/* ---- life cycle ---- */

struct backends *backend_start(const struct rreq_hooks *done, char *err, size_t err_len)
{
	struct backends *b = calloc(1, sizeof(*b));

	if (!b)
		abort();
	if (getrandom(hash_key, sizeof(hash_key), 0) != sizeof(hash_key)) {
		snprintf(err, err_len, "no randomness for the backend cache");
		free(b);
		return NULL;
	}
	double bound = 10;

	for (unsigned i = 0; i < LAT_BUCKETS; i++, bound *= 1.25)
		lat_bound[i] = (uint64_t)bound;
	b->done = *done;
	b->started_ms = backend_now_ms();
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->qlock, NULL);
	for (unsigned i = 0; i < FLIGHTS; i++) {
		b->flights[i].fd = -1;
		b->free_flights[b->nfree++] = FLIGHTS - 1 - i;
	}
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	if (b->epfd < 0 || b->efd < 0 || epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->efd, &ev) < 0 ||
	    pthread_create(&b->thread, NULL, backend_main, b) != 0) {
		snprintf(err, err_len, "cannot start the backend thread: %s", strerror(errno));
		free(b);
		return NULL;
	}
	return b;
}

void backend_stop(struct backends *b)
{
	uint64_t one = 1;

	if (!b)
		return;
	atomic_store(&b->stop, true);
	if (write(b->efd, &one, sizeof(one)) < 0)
		log_warn("event=eventfd-write error=\"%s\"", strerror(errno));
	pthread_join(b->thread, NULL);
}

static void free_rreq(struct rreq *q)
{
	backend_entry_put(q->fwd);
	free(q);
}

void backend_free(struct backends *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < FLIGHTS; i++) {
		struct flight *f = &b->flights[i];

		if (f->state == F_FREE && !f->q)
			continue;
		flight_close(b, f);
		if (f->q)
			free_rreq(f->q);
	}
	while (b->queue) {
		struct rreq *next = b->queue->next;

		free_rreq(b->queue);
		b->queue = next;
	}
	while (b->groups) {
		struct bgroup *g = b->groups;

		b->groups = g->next;
		bcache_clear(&g->cache);
		free(g->cache.slots);
		pthread_mutex_destroy(&g->cache.lock);
		while (g->all) {
			struct bserver *s = g->all;

			g->all = s->next;
			free(s);
		}
		free(g->servers);
		free(g);
	}
	close(b->epfd);
	close(b->efd);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->qlock);
	free(b);
}

void backend_adopt(struct backends *b, struct config *cfg)
{
	uint64_t ms = backend_now_ms();

	pthread_mutex_lock(&b->lock);
	for (struct bgroup *g = b->groups; g; g = g->next)
		g->active = false;
	for (unsigned i = 0; i < cfg->nbackends; i++) {
		struct backend *bc = &cfg->backends[i];
		struct bgroup *g = b->groups;

		while (g && strcmp(g->name, bc->name) != 0)
			g = g->next;
		if (!g) {
			g = calloc(1, sizeof(*g));
			if (!g)
				abort();
			struct bgroup **tail = &b->groups;

			while (*tail) /* in the order first configured */
				tail = &(*tail)->next;
			*tail = g;
			snprintf(g->name, sizeof(g->name), "%s", bc->name);
			pthread_mutex_init(&g->cache.lock, NULL);
		}
		g->active = true;
		g->cfg = *bc;
		g->cfg.servers = NULL; /* the config's arena goes with it */
		g->cfg.domains = NULL;
		g->cfg.allow = NULL;
		g->cfg.name = g->name;
		bcache_configure(&g->cache, bc);
		struct bserver **list = calloc(bc->nservers, sizeof(*list));

		if (!list)
			abort();
		for (unsigned k = 0; k < bc->nservers; k++) {
			const struct backend_server *sc = &bc->servers[k];
			struct bserver *s = g->all;

			while (s && strcmp(s->text, sc->addr.text) != 0)
				s = s->next;
			if (!s) {
				s = calloc(1, sizeof(*s));
				if (!s)
					abort();
				memcpy(&s->ss, &sc->addr.ss, sizeof(s->ss));
				s->len = sc->addr.len;
				snprintf(s->text, sizeof(s->text), "%s", sc->addr.text);
				s->id = backend_server_id(s->text);
				s->up = true; /* until checks say otherwise */
				s->changed_ms = ms;
				snprintf(s->last_check, sizeof(s->last_check), "none yet");
				s->next_check_ms = ms + 10 * k; /* spread out a little */
				s->next = g->all;
				g->all = s;
			}
			s->weight = sc->weight;
			s->order = sc->order;
			s->wrr = 0;
			list[k] = s;
		}
		free(g->servers);
		g->servers = list;
		g->nservers = bc->nservers;
		bc->rt = g;
	}
	for (struct bgroup *g = b->groups; g; g = g->next)
		if (!g->active) {
			free(g->servers);
			g->servers = NULL;
			g->nservers = 0;
			pthread_mutex_lock(&g->cache.lock);
			bcache_clear(&g->cache);
			g->cache.enabled = false;
			pthread_mutex_unlock(&g->cache.lock);
		}
	pthread_mutex_unlock(&b->lock);
	uint64_t one = 1;

	if (write(b->efd, &one, sizeof(one)) < 0) /* checks of new servers are due */
		log_warn("event=eventfd-write error=\"%s\"", strerror(errno));
}

void backend_submit(struct backends *b, struct rreq *q)
{
	uint64_t one = 1;

	pthread_mutex_lock(&b->qlock);
	q->next = b->queue;
	b->queue = q;
	pthread_mutex_unlock(&b->qlock);
	if (write(b->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("event=eventfd-write error=\"%s\"", strerror(errno));
}

/* ---- carouselctl and metrics ---- */

struct out {
	char *buf;
	size_t len, n;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int k = vsnprintf(o->n < o->len ? o->buf + o->n : NULL, o->n < o->len ? o->len - o->n : 0,
			  fmt, ap);
	va_end(ap);
	o->n += k > 0 ? (size_t)k : 0;
}

static unsigned count_up(const struct bgroup *g)
{
	unsigned up = 0;

	for (unsigned i = 0; i < g->nservers; i++)
		up += g->servers[i]->up;
	return up;
}

size_t backend_ctl(struct backends *b, const char *args, char *buf, size_t len, bool *ok)
{
	struct out o = {.buf = buf, .len = len};
	uint64_t ms = backend_now_ms();
	bool found = false;

	*ok = true;
	pthread_mutex_lock(&b->lock);
	for (struct bgroup *g = b->groups; g; g = g->next) {
		if (!g->active || (*args && strcmp(args, g->name) != 0))
			continue;
		found = true;
		pthread_mutex_lock(&g->cache.lock);
		put(&o, "%s policy=%s servers=%u up=%u forwarded=%llu servfail=%llu stale=%llu "
			"busy=%llu cache=%s cache-entries=%llu cache-hits=%llu cache-misses=%llu "
			"cache-memory=%llu\n",
		    g->name, backend_policy_names[g->cfg.policy], g->nservers, count_up(g),
		    (unsigned long long)g->forwarded, (unsigned long long)g->servfails,
		    (unsigned long long)g->stale_answers, (unsigned long long)g->busy,
		    g->cache.enabled ? "on" : "off", (unsigned long long)g->cache.entries,
		    (unsigned long long)g->cache.hits, (unsigned long long)g->cache.misses,
		    (unsigned long long)g->cache.used);
		pthread_mutex_unlock(&g->cache.lock);
		for (unsigned i = 0; i < g->nservers; i++) {
			const struct bserver *s = g->servers[i];

			put(&o, "  %s state=%s order=%u weight=%u queries=%llu responses=%llu "
				"timeouts=%llu errors=%llu outstanding=%u p50=%.2fms p99=%.2fms "
				"since=%llus last-check=\"%s",
			    s->text, s->up ? "up" : "down", s->order, s->weight,
			    (unsigned long long)s->queries, (unsigned long long)s->responses,
			    (unsigned long long)s->timeouts, (unsigned long long)s->errors,
			    s->outstanding, percentile_ms(s, 0.5), percentile_ms(s, 0.99),
			    (unsigned long long)((ms - s->changed_ms) / 1000), s->last_check);
			if (s->last_check_ms)
				put(&o, ", %.1fs ago", (double)(ms - s->last_check_ms) / 1000.0);
			put(&o, "\"\n");
		}
	}
	pthread_mutex_unlock(&b->lock);
	if (*args && !found) {
		*ok = false;
		o.n = 0;
		put(&o, "error: no backend group '%.64s'\n", args);
	} else if (!found) {
		put(&o, "no backend groups\n");
	}
	return o.n < len ? o.n : len;
}

size_t backend_metrics(struct backends *b, char *buf, size_t len)
{
	static const char *const counters[][2] = {
		{"queries", "Queries sent to a backend server."},
		{"responses", "Responses received from a backend server."},
		{"timeouts", "Queries to a backend server that timed out."},
		{"errors", "Queries to a backend server that failed otherwise."},
	};
	struct out o = {.buf = buf, .len = len};
	uint64_t ms = backend_now_ms();

	pthread_mutex_lock(&b->lock);
	put(&o, "# HELP carousel_backend_up Whether a backend server is up (1) or down (0).\n"
		"# TYPE carousel_backend_up gauge\n");
	for (struct bgroup *g = b->groups; g; g = g->next)
		for (unsigned i = 0; g->active && i < g->nservers; i++)
			put(&o, "carousel_backend_up{group=\"%s\",server=\"%s\"} %d\n", g->name,
			    g->servers[i]->text, g->servers[i]->up);
	for (unsigned c = 0; c < 4; c++) {
		put(&o, "# HELP carousel_backend_%s_total %s\n# TYPE carousel_backend_%s_total "
			"counter\n",
		    counters[c][0], counters[c][1], counters[c][0]);
		for (struct bgroup *g = b->groups; g; g = g->next)
			for (unsigned i = 0; g->active && i < g->nservers; i++) {
				const struct bserver *s = g->servers[i];
				const uint64_t v[] = {s->queries, s->responses, s->timeouts,
						      s->errors};

				put(&o, "carousel_backend_%s_total{group=\"%s\",server=\"%s\"} %llu\n",
				    counters[c][0], g->name, s->text, (unsigned long long)v[c]);
			}
	}
	put(&o, "# HELP carousel_backend_outstanding Queries waiting for a backend server.\n"
		"# TYPE carousel_backend_outstanding gauge\n");
	for (struct bgroup *g = b->groups; g; g = g->next)
		for (unsigned i = 0; g->active && i < g->nservers; i++)
			put(&o, "carousel_backend_outstanding{group=\"%s\",server=\"%s\"} %u\n",
			    g->name, g->servers[i]->text, g->servers[i]->outstanding);
	put(&o, "# HELP carousel_backend_latency_seconds Response time of a backend server.\n"
		"# TYPE carousel_backend_latency_seconds summary\n");
	for (struct bgroup *g = b->groups; g; g = g->next)
		for (unsigned i = 0; g->active && i < g->nservers; i++) {
			const struct bserver *s = g->servers[i];

			put(&o, "carousel_backend_latency_seconds{group=\"%s\",server=\"%s\","
				"quantile=\"0.5\"} %.6f\n",
			    g->name, s->text, percentile_ms(s, 0.5) / 1000.0);
			put(&o, "carousel_backend_latency_seconds{group=\"%s\",server=\"%s\","
				"quantile=\"0.99\"} %.6f\n",
			    g->name, s->text, percentile_ms(s, 0.99) / 1000.0);
		}
	put(&o, "# HELP carousel_backend_last_check_age_seconds Time since the last check "
		"query finished (-1: none yet).\n"
		"# TYPE carousel_backend_last_check_age_seconds gauge\n");
	for (struct bgroup *g = b->groups; g; g = g->next)
		for (unsigned i = 0; g->active && i < g->nservers; i++) {
			const struct bserver *s = g->servers[i];

			put(&o, "carousel_backend_last_check_age_seconds{group=\"%s\",server=\"%s\"} "
				"%.3f\n",
			    g->name, s->text,
			    s->last_check_ms ? (double)(ms - s->last_check_ms) / 1000.0 : -1.0);
		}
	put(&o, "# HELP carousel_backend_cache_total Backend cache lookups by result.\n"
		"# TYPE carousel_backend_cache_total counter\n");
	for (struct bgroup *g = b->groups; g; g = g->next) {
		if (!g->active)
			continue;
		pthread_mutex_lock(&g->cache.lock);
		put(&o, "carousel_backend_cache_total{group=\"%s\",result=\"hit\"} %llu\n"
			"carousel_backend_cache_total{group=\"%s\",result=\"miss\"} %llu\n"
			"carousel_backend_cache_total{group=\"%s\",result=\"stale\"} %llu\n",
		    g->name, (unsigned long long)g->cache.hits, g->name,
		    (unsigned long long)g->cache.misses, g->name,
		    (unsigned long long)g->cache.stale_hits);
		pthread_mutex_unlock(&g->cache.lock);
	}
	put(&o, "# HELP carousel_backend_servfail_total SERVFAILs a backend group answered "
		"itself (nothing up or nothing answered).\n"
		"# TYPE carousel_backend_servfail_total counter\n");
	for (struct bgroup *g = b->groups; g; g = g->next)
		if (g->active)
			put(&o, "carousel_backend_servfail_total{group=\"%s\"} %llu\n", g->name,
			    (unsigned long long)g->servfails);
	pthread_mutex_unlock(&b->lock);
	return o.n;
}

/* resolver.c -- libunbound driven asynchronously from our own thread:
 * submissions in, merged flights, results into the cache and back to the
 * workers; cache reclamation, hot-name promotion. */
#include "resolver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "wire.h"

#define FLIGHTS 4096
#define EDE_OTHER 0
#define EDE_DNSSEC_BOGUS 6
#define EDE_NO_REACHABLE_AUTHORITY 22
#define PROMOTED_MAX 4096
#define STALE_REPLY_TTL 30 /* RFC 8767 4: what libunbound gives stale answers */
#define STALE_REPLY_TTL_TEXT "30"

struct flight {
	bool used;
	uint64_t digest;
	uint8_t name[DNAME_MAXLEN];
	uint8_t name_len;
	uint16_t qtype, qclass;
	struct rreq *waiters;
	struct resolver *r;
};

struct promo {
	struct promo *next;
	struct entry *e; /* to publish; NULL: withdraw digest */
	uint64_t digest;
};

struct resolver {
	struct ub_ctx *ub;
	struct cache *cache;
	struct rreq_hooks done;
	pthread_t thread;
	int epfd, efd;
	volatile bool stop;
	pthread_mutex_t lock; /* submissions and settings */
	struct rreq *queue;
	uint32_t min_ttl, max_ttl, promote_qps;
	struct flight flights[FLIGHTS];
	struct wire_rr rr; /* scratch: 64 KiB RDATA */
	uint8_t blob[65536];
	uint64_t resolutions, failures, prefetches, merged, promotions, withdrawals, stale;
	bool serve_stale;
	/* hot names */
	resolver_publish_fn publish;
	resolver_withdraw_fn withdraw;
	struct promo *promos;
	unsigned npromoted;
	struct {
		uint64_t digest, expires; /* the cached answer it was built from */
	} promoted[PROMOTED_MAX];
	uint64_t last_scan;
	struct {
		char name[DNAME_STRLEN];
		uint16_t qtype;
		uint32_t rate;
		bool promoted;
	} top[10];
	unsigned ntop;
};

static void wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("event=eventfd-write error=\"%s\"", strerror(errno));
}

/* ---- results ---- */

static struct centry *centry_new(const uint8_t *name, size_t len, uint16_t qtype,
				 uint16_t qclass, size_t blob_len)
{
	struct centry *e = calloc(1, sizeof(*e) + blob_len);

	if (!e)
		abort();
	e->name_len = (uint8_t)len;
	memcpy(e->name, name, len);
	e->qtype = qtype;
	e->qclass = qclass;
	e->digest = entry_digest(name, len, qtype, qclass);
	e->ede = 0xffff;
	e->blob_len = (uint32_t)blob_len;
	e->bytes = (uint32_t)(sizeof(*e) + blob_len);
	return e;
}

static struct centry *servfail(const struct flight *f, uint16_t ede, const char *text)
{
	struct centry *e = centry_new(f->name, f->name_len, f->qtype, f->qclass, 0);

	e->rcode = RCODE_SERVFAIL;
	e->ede = ede;
	snprintf(e->ede_text, sizeof(e->ede_text), "%s", text);
	return e;
}

static uint32_t clamp_ttl(const struct resolver *r, uint32_t ttl)
{
	if (ttl < r->min_ttl)
		ttl = r->min_ttl;
	return ttl > r->max_ttl ? r->max_ttl : ttl;
}

/* The upstream reply, decompressed into a cache entry: the answer section
 * for positive answers, the SOA (at its RFC 2308 TTL) for negative ones. */
static struct centry *from_packet(struct resolver *r, const struct flight *f, const uint8_t *pkt,
				  size_t len, bool *cacheable)
{
	size_t pos = WIRE_HDR_LEN, blen = 0;
	uint32_t ttl = UINT32_MAX, raw = UINT32_MAX;
	uint16_t count[2] = {0, 0};

	*cacheable = false;
	if (len < WIRE_HDR_LEN || wire_skip_question(pkt, len, &pos, wire_read16(pkt + 4)) < 0)
		return servfail(f, EDE_OTHER, "malformed upstream reply");
	unsigned rcode = pkt[3] & 0xf, an = wire_read16(pkt + 6), ns = wire_read16(pkt + 8);
	bool negative = rcode == RCODE_NXDOMAIN || (rcode == RCODE_NOERROR && an == 0);

	if (rcode != RCODE_NOERROR && rcode != RCODE_NXDOMAIN)
		return servfail(f, EDE_NO_REACHABLE_AUTHORITY, "upstream answered with an error");
	for (unsigned i = 0; i < an + ns; i++) {
		unsigned sec = i >= an;

		if (wire_rr_read(pkt, len, &pos, &r->rr) < 0)
			return servfail(f, EDE_OTHER, "malformed upstream reply");
		if (negative != (sec == 1) || (negative && r->rr.type != TYPE_SOA))
			continue; /* keep what the client needs: answers, or the SOA */
		dname_lower(r->rr.owner);
		uint32_t t = r->rr.ttl;

		if (r->rr.type == TYPE_SOA && r->rr.rdlen >= 4) {
			uint32_t minimum = wire_read32(r->rr.rdata + r->rr.rdlen - 4);

			t = t < minimum ? t : minimum; /* RFC 2308 5 */
		}
		if (t < raw)
			raw = t;
		t = clamp_ttl(r, t);
		size_t ol = dname_len(r->rr.owner);

		if (blen + 2 + ol + 10 + r->rr.rdlen > sizeof(r->blob))
			return servfail(f, EDE_OTHER, "upstream reply too large to cache");
		uint8_t *p = r->blob + blen;

		p[0] = (uint8_t)sec;
		p[1] = (uint8_t)ol;
		memcpy(p + 2, r->rr.owner, ol);
		p += 2 + ol;
		wire_write16(p, r->rr.type);
		wire_write16(p + 2, r->rr.rclass);
		wire_write32(p + 4, t);
		wire_write16(p + 8, r->rr.rdlen);
		memcpy(p + 10, r->rr.rdata, r->rr.rdlen);
		blen += 2 + ol + 10 + r->rr.rdlen;
		count[sec]++;
		if (t < ttl)
			ttl = t;
	}
	struct centry *e = centry_new(f->name, f->name_len, f->qtype, f->qclass, blen);

	memcpy(e->blob, r->blob, blen);
	e->rcode = (uint8_t)rcode;
	e->count[0] = count[0];
	e->count[1] = count[1];
	e->ttl = ttl == UINT32_MAX ? 0 : ttl;
	e->upstream_ttl = raw == UINT32_MAX ? 0 : raw;
	e->inserted = cache_now();
	e->expires = e->inserted + e->ttl;
	*cacheable = e->ttl > 0;
	return e;
}

/* libunbound does not say when it served expired data; it does give such
 * answers the TTL STALE_REPLY_TTL. An answer with only that TTL, for a
 * name whose cached answer had expired, is counted as stale. */
static bool looks_stale(struct resolver *r, const struct centry *e)
{
	struct cache *c = r->cache;
	_Atomic(struct centry *) *b = &c->slots[(e->digest & c->mask) * CACHE_WAYS];
	bool expired = false;

	if (!r->serve_stale || e->upstream_ttl != STALE_REPLY_TTL || e->count[0] == 0)
		return false;
	for (unsigned w = 0; w < CACHE_WAYS; w++) {
		struct centry *o = atomic_load(&b[w]); /* freed only by this thread */

		if (o && o->digest == e->digest && o->qtype == e->qtype)
			expired |= o->expires <= cache_now();
	}
	return expired;
}

static void complete(struct resolver *r, struct flight *f, struct centry *e, bool cacheable)
{
	if (looks_stale(r, e))
		r->stale++;
	struct rreq *w = f->waiters;

	while (w) {
		struct rreq *next = w->next;

		if (w->prefetch) {
			free(w);
		} else {
			w->answer = malloc(e->bytes);
			if (!w->answer)
				abort();
			memcpy(w->answer, e, e->bytes);
			r->done.complete(r->done.arg, w);
		}
		w = next;
	}
	f->waiters = NULL;
	f->used = false;
	if (cacheable)
		cache_insert(r->cache, e);
	else
		free(e);
}

static void on_result(void *arg, int err, struct ub_result *res)
{
	struct flight *f = arg;
	struct resolver *r = f->r;
	struct centry *e;
	bool cacheable = false;

	if (err != 0) {
		e = servfail(f, EDE_OTHER, ub_strerror(err));
	} else if (res->bogus) {
		e = servfail(f, EDE_DNSSEC_BOGUS, res->why_bogus ? res->why_bogus : "bogus");
	} else if (!res->answer_packet || res->rcode == RCODE_SERVFAIL) {
		e = servfail(f, EDE_NO_REACHABLE_AUTHORITY, "no authoritative server answered");
	} else {
		e = from_packet(r, f, res->answer_packet, (size_t)res->answer_len, &cacheable);
	}
	if (e->rcode == RCODE_SERVFAIL)
		r->failures++;
	if (res)
		ub_resolve_free(res);
	complete(r, f, e, cacheable);
}

/* ---- submissions ---- */

static void start_flight(struct resolver *r, struct rreq *q)
{
	uint64_t digest = entry_digest(q->qname, q->qname_len, q->qtype, q->qclass);
	struct flight *free_slot = NULL;

	for (unsigned i = 0; i < FLIGHTS; i++) {
		struct flight *f = &r->flights[i];

		if (!f->used) {
			if (!free_slot)
				free_slot = f;
			continue;
		}
		if (f->digest == digest && f->qtype == q->qtype && f->qclass == q->qclass &&
		    f->name_len == q->qname_len && memcmp(f->name, q->qname, q->qname_len) == 0) {
			q->next = f->waiters; /* same question already upstream */
			f->waiters = q;
			r->merged++;
			return;
		}
	}
	struct flight tmp = {.name_len = q->qname_len, .qtype = q->qtype, .qclass = q->qclass};

	memcpy(tmp.name, q->qname, q->qname_len);
	if (!free_slot) {
		tmp.waiters = q;
		q->next = NULL;
		complete(r, &tmp, servfail(&tmp, EDE_OTHER, "resolver busy"), false);
		return;
	}
	struct flight *f = free_slot;
	char text[DNAME_STRLEN];
	int id;

	*f = tmp;
	f->used = true;
	f->digest = digest;
	f->r = r;
	f->waiters = q;
	q->next = NULL;
	r->resolutions++;
	if (q->prefetch)
		r->prefetches++;
	dname_to_str(q->qname, text, sizeof(text));
	int rc = ub_resolve_async(r->ub, text, q->qtype, q->qclass, f, on_result, &id);

	if (rc != 0)
		on_result(f, rc, NULL);
}

void resolver_submit(struct resolver *r, struct rreq *q)
{
	pthread_mutex_lock(&r->lock);
	q->next = r->queue;
	r->queue = q;
	pthread_mutex_unlock(&r->lock);
	wake(r->efd);
}

/* ---- hot names ---- */

static bool is_promoted(struct resolver *r, uint64_t d, unsigned *at)
{
	for (unsigned i = 0; i < r->npromoted; i++)
		if (r->promoted[i].digest == d) {
			if (at)
				*at = i;
			return true;
		}
	return false;
}

static void queue_promo(struct resolver *r, struct entry *e, uint64_t digest)
{
	struct promo *p = calloc(1, sizeof(*p));

	if (!p)
		abort();
	p->e = e;
	p->digest = digest;
	pthread_mutex_lock(&r->lock);
	p->next = r->promos;
	r->promos = p;
	pthread_mutex_unlock(&r->lock);
}

/* Once a second: hit rates from the workers' sketches. A cached answer
 * hit promote-qps times a second becomes a fast-path entry. Once promoted
 * its hits go to the fast path and no longer show here, so it stays until
 * the cached answer it was built from expires or is replaced (the fast
 * path punts it once expired; the refreshed answer is promoted again if
 * it is still hot). */
static void scan_hot(struct resolver *r, uint64_t now)
{
	struct cache *c = r->cache;
	uint64_t nslots = ((uint64_t)c->mask + 1) * CACHE_WAYS, dt = now - r->last_scan;
	bool keep[PROMOTED_MAX] = {false};
	__typeof__(r->top) top;
	unsigned ntop = 0;

	if (dt == 0)
		return;
	r->last_scan = now;
	for (uint64_t i = 0; i < nslots; i++) {
		/* only this thread frees entries, so they stay valid here */
		struct centry *e = atomic_load(&c->slots[i]);
		unsigned at = 0;

		if (!e)
			continue;
		uint64_t est = cache_hits_estimate(c, e->digest);

		e->rate = (uint32_t)((est - (e->hits_seen < est ? e->hits_seen : est)) / dt);
		e->hits_seen = est;
		bool was = is_promoted(r, e->digest, &at);
		bool current = was && r->promoted[at].expires == e->expires && now < e->expires;

		if (current) {
			keep[at] = true;
		} else if (r->publish && r->promote_qps && e->rate >= r->promote_qps &&
			   (was || r->npromoted < PROMOTED_MAX)) {
			struct entry *fe = aligned_alloc(64, sizeof(*fe));

			if (fe && engine_build_cached_entry(e, now, (uint64_t)time(NULL), fe) == 0) {
				fe->version = (uint32_t)now;
				queue_promo(r, fe, fe->digest); /* replaces an older one */
				if (!was)
					at = r->npromoted++;
				r->promoted[at].digest = e->digest;
				r->promoted[at].expires = e->expires;
				keep[at] = current = true;
				r->promotions++;
			} else {
				free(fe);
			}
		}
		/* the ten hottest (promoted ones count as hot) for `cache top` */
		if (e->rate > 0 || current) {
			bool full = ntop == 10;
			unsigned k = full ? 9 : ntop++;

			if (full && top[9].rate >= e->rate)
				continue;
			dname_to_str(e->name, top[k].name, sizeof(top[k].name));
			top[k].qtype = e->qtype;
			top[k].rate = e->rate;
			top[k].promoted = current;
			for (; k > 0 && top[k].rate > top[k - 1].rate; k--) {
				__typeof__(top[0]) tmp = top[k];

				top[k] = top[k - 1];
				top[k - 1] = tmp;
			}
		}
	}
	pthread_mutex_lock(&r->lock); /* `cache top` reads it from the control thread */
	memcpy(r->top, top, sizeof(top));
	r->ntop = ntop;
	pthread_mutex_unlock(&r->lock);
	/* withdraw what expired or left the cache */
	for (unsigned i = r->npromoted; i-- > 0;) {
		if (keep[i])
			continue;
		queue_promo(r, NULL, r->promoted[i].digest);
		r->withdrawals++;
		r->promoted[i] = r->promoted[--r->npromoted];
		keep[i] = keep[r->npromoted];
	}
}

void resolver_set_publisher(struct resolver *r, resolver_publish_fn pub, resolver_withdraw_fn wd)
{
	r->publish = pub;
	r->withdraw = wd;
}

void resolver_drain_promotions(struct resolver *r)
{
	pthread_mutex_lock(&r->lock);
	struct promo *p = r->promos;

	r->promos = NULL;
	pthread_mutex_unlock(&r->lock);
	while (p) {
		struct promo *next = p->next;

		if (p->e)
			r->publish(p->e);
		else
			r->withdraw(p->digest);
		free(p);
		p = next;
	}
}

/* ---- the thread ---- */

static void *resolver_main(void *arg)
{
	struct resolver *r = arg;
	struct epoll_event evs[8];
	uint64_t last_reclaim = 0;

	while (!r->stop) {
		int n = epoll_wait(r->epfd, evs, 8, 100);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == r->efd) {
				uint64_t v;

				if (read(r->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					break;
				pthread_mutex_lock(&r->lock);
				struct rreq *q = r->queue;

				r->queue = NULL;
				pthread_mutex_unlock(&r->lock);
				while (q) {
					struct rreq *next = q->next;

					start_flight(r, q);
					q = next;
				}
			} else {
				ub_process(r->ub);
			}
		}
		uint64_t now = cache_now();

		cache_reclaim(r->cache);
		if (now != last_reclaim) {
			last_reclaim = now;
			scan_hot(r, now);
		}
	}
	return NULL;
}

static int set(struct ub_ctx *ub, const char *opt, const char *val, char *err, size_t err_len)
{
	int rc = ub_ctx_set_option(ub, opt, val);

	if (rc != 0)
		snprintf(err, err_len, "libunbound option %s %s: %s", opt, val, ub_strerror(rc));
	return rc;
}

struct resolver *resolver_start(const struct config *cfg, const struct rreq_hooks *done,
				struct cache *cache, char *err, size_t err_len)
{
	const struct rec_config *rc = &cfg->rec;
	struct resolver *r = calloc(1, sizeof(*r));
	char size[32], stale[32];

	if (!r)
		abort();
	r->done = *done;
	r->cache = cache;
	r->serve_stale = rc->serve_stale > 0;
	pthread_mutex_init(&r->lock, NULL);
	resolver_update(r, cfg);
	r->ub = ub_ctx_create();
	if (!r->ub) {
		snprintf(err, err_len, "libunbound: cannot create a context");
		goto fail;
	}
	/* libunbound keeps its own caches (messages and RRsets) in front of
	 * the network; each gets a quarter of our budget */
	snprintf(size, sizeof(size), "%llu", (unsigned long long)(rc->cache_size / 4));
	snprintf(stale, sizeof(stale), "%u", rc->serve_stale);
	if (ub_ctx_async(r->ub, 1) != 0 || set(r->ub, "msg-cache-size:", size, err, err_len) ||
	    set(r->ub, "rrset-cache-size:", size, err, err_len) ||
	    set(r->ub, "prefetch:", rc->prefetch ? "yes" : "no", err, err_len) ||
	    set(r->ub, "do-not-query-localhost:", rc->query_loopback ? "no" : "yes", err, err_len) ||
	    set(r->ub, "edns-buffer-size:", "1232", err, err_len) ||
	    set(r->ub, "cache-max-ttl:", "86400", err, err_len))
		goto fail;
	if (rc->serve_stale &&
	    (set(r->ub, "serve-expired:", "yes", err, err_len) ||
	     set(r->ub, "serve-expired-ttl:", stale, err, err_len) ||
	     set(r->ub, "serve-expired-reply-ttl:", STALE_REPLY_TTL_TEXT, err, err_len) ||
	     set(r->ub, "serve-expired-client-timeout:", "1500", err, err_len)))
		goto fail;
	if (rc->forward) {
		for (unsigned i = 0; i < rc->nforwarders; i++) {
			int e = ub_ctx_set_fwd(r->ub, rc->forwarders[i]);

			if (e != 0) {
				snprintf(err, err_len, "forwarder %s: %s", rc->forwarders[i],
					 ub_strerror(e));
				goto fail;
			}
		}
	} else if (set(r->ub, "root-hints:", rc->root_hints, err, err_len)) {
		goto fail;
	}
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = r->efd};

	epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->efd, &ev);
	ev.data.fd = ub_fd(r->ub);
	if (ev.data.fd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		snprintf(err, err_len, "libunbound: no file descriptor to wait on");
		goto fail;
	}
	r->last_scan = cache_now();
	if (pthread_create(&r->thread, NULL, resolver_main, r) != 0) {
		snprintf(err, err_len, "cannot start the resolver thread");
		goto fail;
	}
	log_info("event=recursion mode=%s %s=%s cache=%llu prefetch=%s serve-stale=%us",
		 rc->forward ? "forward" : "iterate", rc->forward ? "forwarders" : "root-hints",
		 rc->forward ? rc->forwarders[0] : rc->root_hints,
		 (unsigned long long)rc->cache_size, rc->prefetch ? "yes" : "no", rc->serve_stale);
	return r;
fail:
	if (r->ub)
		ub_ctx_delete(r->ub);
	free(r);
	return NULL;
}

void resolver_update(struct resolver *r, const struct config *cfg)
{
	pthread_mutex_lock(&r->lock);
	r->min_ttl = cfg->rec.min_ttl;
	r->max_ttl = cfg->rec.max_ttl;
	r->promote_qps = cfg->rec.promote_qps;
	pthread_mutex_unlock(&r->lock);
}

void resolver_stop(struct resolver *r)
{
	if (!r)
		return;
	r->stop = true;
	wake(r->efd);
	pthread_join(r->thread, NULL);
	ub_ctx_delete(r->ub); /* cancels what is still in flight */
	for (unsigned i = 0; i < FLIGHTS; i++) {
		struct rreq *w = r->flights[i].waiters;

		while (w) {
			struct rreq *next = w->next;

			free(w);
			w = next;
		}
	}
	struct rreq *q = r->queue;

	while (q) {
		struct rreq *next = q->next;

		free(q);
		q = next;
	}
	resolver_drain_promotions(r);
	close(r->epfd);
	close(r->efd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

size_t resolver_ctl(struct resolver *r, const char *args, char *buf, size_t len, bool *ok)
{
	struct cache *c = r->cache;
	int n = 0;

	*ok = true;
	if (strcmp(args, "stats") == 0) {
		uint64_t hits = 0, misses = 0, expired = 0;

		for (unsigned w = 0; w < c->nworkers; w++) {
			hits += STATS_GET(c->wstats[w].hits);
			misses += STATS_GET(c->wstats[w].misses);
			expired += STATS_GET(c->wstats[w].expired);
		}
		pthread_mutex_lock(&c->writer);
		n = snprintf(buf, len,
			     "cache.hits %llu\ncache.misses %llu\ncache.expired %llu\n"
			     "cache.entries %llu\ncache.memory %llu\ncache.memory-max %llu\n"
			     "cache.evictions %llu\ncache.inserts %llu\n"
			     "resolver.resolutions %llu\nresolver.merged %llu\n"
			     "resolver.failures %llu\nresolver.prefetches %llu\n"
			     "resolver.stale-answers %llu\n"
			     "fastpath.promotions %llu\nfastpath.withdrawals %llu\n"
			     "fastpath.promoted %u\n",
			     (unsigned long long)hits, (unsigned long long)misses,
			     (unsigned long long)expired, (unsigned long long)c->entries,
			     (unsigned long long)c->used_bytes, (unsigned long long)c->max_bytes,
			     (unsigned long long)c->evictions, (unsigned long long)c->inserts,
			     (unsigned long long)r->resolutions, (unsigned long long)r->merged,
			     (unsigned long long)r->failures, (unsigned long long)r->prefetches,
			     (unsigned long long)r->stale,
			     (unsigned long long)r->promotions, (unsigned long long)r->withdrawals,
			     r->npromoted);
		pthread_mutex_unlock(&c->writer);
	} else if (strcmp(args, "top") == 0) {
		n = snprintf(buf, len, "%-40s %-6s %10s %s\n", "name", "type", "hits/s", "fast-path");
		pthread_mutex_lock(&r->lock);
		for (unsigned i = 0; i < r->ntop && n > 0 && (size_t)n < len; i++)
			n += snprintf(buf + n, len - (size_t)n, "%-40s %-6u %10u %s\n",
				      r->top[i].name, r->top[i].qtype, r->top[i].rate,
				      r->top[i].promoted ? "yes" : "no");
		pthread_mutex_unlock(&r->lock);
	} else if (strncmp(args, "flush", 5) == 0 && (args[5] == '\0' || args[5] == ' ')) {
		uint8_t name[DNAME_MAXLEN];
		const char *arg = args[5] ? args + 6 : NULL;

		if (arg && dname_from_str(arg, name, sizeof(name)) < 0) {
			*ok = false;
			return (size_t)snprintf(buf, len, "error: '%s' is not a domain name\n", arg);
		}
		if (arg)
			dname_lower(name);
		n = snprintf(buf, len, "flushed %u\n", cache_flush(c, arg ? name : NULL));
	} else {
		*ok = false;
		n = snprintf(buf, len, "error: cache takes stats, top or flush [NAME]\n");
	}
	return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len);
}

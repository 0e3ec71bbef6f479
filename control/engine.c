/* engine.c -- authoritative answers (RFC 1034 4.3.2 with RFC 4592
 * wildcards, RFC 2308 negative answers, RFC 8482 minimal ANY), pools
 * rotated per worker, truncation by whole RRsets. */
#include "engine.h"

#include <string.h>

#include <arpa/inet.h>
#include <time.h>

#include "backend.h"
#include "cache.h"
#include "cookie.h"
#include "pool.h"
#include "wire.h"
#include "xfr.h"

#define TYPE_DS 43
#define TYPE_TKEY 249
#define TYPE_TSIG 250
#define EXTRA_MAX 16

struct answer {
	struct wire_buf b;
	const struct config *cfg;
	unsigned worker;
	uint16_t qtype;
	uint16_t count[3]; /* answer, authority, additional */
	unsigned rcode;
	bool aa, tc, ra, ad;
	uint16_t ede; /* RFC 8914, 0xffff = none */
	const char *ede_text;
	uint8_t cookie_len; /* the COOKIE option to send back: 0 or 24 bytes */
	uint8_t cookie[COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN];
	unsigned nextra;
	const uint8_t *extra[EXTRA_MAX]; /* names wanting addresses in additional */
	/* Entry mode (engine_build_entry): every member of a pool is written
	 * once, in member order, and where they went is noted. */
	bool entry_mode, entry_bad;
	const struct pool *rot_pool;
	const struct rot_sched *rot_sched; /* the schedule of the members served */
	bool rot_topology; /* ... chosen by topology_order */
	uint32_t rot_ttl;
	int rot_fam;
	size_t rot_off;
	unsigned rot_count;
	/* health: a pool in the answer with nothing to serve (on-all-down: servfail) */
	const struct pool *servfail_pool;
	/* topology: who asks (ECS address, else the source), and how much of
	 * it the answer depended on (ECS SCOPE PREFIX-LENGTH) */
	int client_family;
	uint8_t client_addr[16];
	unsigned ecs_scope;
};

enum section { SEC_AN, SEC_NS, SEC_AR };

static void put_rr_head(struct wire_buf *b, const uint8_t *owner, uint16_t type, uint32_t ttl)
{
	wire_put_name(b, owner, true);
	wire_put_u16(b, type);
	wire_put_u16(b, CLASS_IN);
	wire_put_u32(b, ttl);
}

/* Write a whole RRset or nothing. Returns false when it did not fit. */
static bool put_rrset(struct answer *A, enum section sec, const uint8_t *owner,
		      const struct rrset *s, uint32_t ttl)
{
	struct wire_mark m = wire_buf_mark(&A->b);

	for (const struct rr *r = s->head; r && !A->b.err; r = r->next)
		wire_put_rr(&A->b, owner, s->type, CLASS_IN, ttl, r->data, r->len);
	if (A->b.err) {
		wire_buf_rollback(&A->b, m);
		return false;
	}
	A->count[sec] += s->count;
	return true;
}

/* Topology: the serving members preferred for the client (those whose
 * clients: subnet matches it most specifically), rotated by step; all
 * serving members when none is meant for it. */
static unsigned topology_order(struct answer *A, const struct pool *p, int fam,
			       const struct rot_sched *s, uint64_t step, uint16_t *order)
{
	uint16_t pref[ROT_MAX_MEMBERS];
	unsigned n = 0, best = 0, max = p->answer_count;
	bool matched = false;

	for (uint16_t i = 0; i < s->nmembers; i++) {
		const struct member *m = &p->members[p->fam_member[fam][i]];
		bool hit = false;
		unsigned len = 0;

		if (!s->live[i])
			continue;
		for (unsigned j = 0; A->client_family && j < m->nclients; j++)
			if (acl_match(&m->clients[j], A->client_family, A->client_addr) &&
			    (!hit || m->clients[j].prefix > len)) {
				hit = true;
				len = m->clients[j].prefix;
			}
		if (hit && (!matched || len > best)) {
			matched = true;
			best = len;
			n = 0;
		}
		if (hit ? len == best : !matched)
			pref[n++] = i;
	}
	if (matched && best > A->ecs_scope)
		A->ecs_scope = best;
	if (max == 0 || max > n)
		max = n;
	for (unsigned k = 0; k < max; k++)
		order[k] = pref[(step + k) % n];
	return max;
}

/* The pool's addresses of one family, rotated over the members its view
 * serves now (health, drain, failover group, on-all-down). `advance`
 * moves this worker's counter (answers do, additional-section copies do
 * not). */
static bool put_pool(struct answer *A, enum section sec, const uint8_t *owner, struct pool *p,
		     int fam, bool advance)
{
	uint16_t order[ROT_MAX_MEMBERS];
	struct wire_mark m = wire_buf_mark(&A->b);
	uint16_t type = fam ? TYPE_AAAA : TYPE_A;
	const struct pool_view *v;
	uint32_t ttl;
	const struct pool *src = pool_serving(p, fam, &v, &ttl);
	unsigned k;

	if (!src) {
		if (sec == SEC_AN)
			A->servfail_pool = p;
		return true; /* elsewhere: no addresses to add */
	}
	const struct rot_sched *s = &v->sched[fam];

	if (A->entry_mode) {
		/* one rotated set, in the answer; topology's choice of members
		 * goes to the fast path as a prefix table (entry_topology) */
		if (sec != SEC_AN || A->rot_pool)
			A->entry_bad = true;
		A->rot_topology = p->method == ROT_TOPOLOGY && src == p;
		k = src->nfam[fam];
		for (unsigned i = 0; i < k; i++)
			order[i] = (uint16_t)i;
		A->rot_pool = p;
		A->rot_sched = s;
		A->rot_ttl = ttl;
		A->rot_fam = fam;
		A->rot_off = A->b.len;
		A->rot_count = k;
	} else {
		struct rot_state *st = &p->state[A->worker];
		uint64_t step = advance ? st->step[fam]++ : st->step[fam];

		if (p->method == ROT_TOPOLOGY && src == p)
			k = topology_order(A, p, fam, s, step, order);
		else
			k = rot_order(s, step, p->answer_count, order);
	}

	for (unsigned i = 0; i < k; i++) {
		const struct member *mem = &src->members[src->fam_member[fam][order[i]]];

		put_rr_head(&A->b, owner, type, ttl);
		wire_put_u16(&A->b, fam ? 16 : 4);
		wire_put_bytes(&A->b, mem->addr, fam ? 16 : 4);
	}
	if (A->b.err) {
		wire_buf_rollback(&A->b, m);
		return false;
	}
	A->count[sec] += (uint16_t)k;
	return true;
}

static bool node_has_family(const struct node *n, int fam)
{
	return n->pool && n->pool->nweighted[fam] > 0;
}

/* A/AAAA of a node: from its pool when it has one for the family. */
static bool put_addresses(struct answer *A, enum section sec, const uint8_t *owner,
			  const struct node *n, int fam, bool advance)
{
	if (node_has_family(n, fam))
		return put_pool(A, sec, owner, n->pool, fam, advance);
	const struct rrset *s = node_rrset(n, fam ? TYPE_AAAA : TYPE_A);

	return s ? put_rrset(A, sec, owner, s, s->ttl) : true;
}

static void want_extra(struct answer *A, const uint8_t *name)
{
	for (unsigned i = 0; i < A->nextra; i++)
		if (dname_equal(A->extra[i], name))
			return;
	if (A->nextra < EXTRA_MAX)
		A->extra[A->nextra++] = name;
}

static void note_extra(struct answer *A, const struct rrset *s)
{
	for (const struct rr *r = s->head; r; r = r->next) {
		if (s->type == TYPE_MX && r->len > 2)
			want_extra(A, r->data + 2);
		else if (s->type == TYPE_SRV && r->len > 6)
			want_extra(A, r->data + 6);
		else if (s->type == TYPE_NS)
			want_extra(A, r->data);
	}
}

/* Additional section: addresses we hold for MX/SRV/NS targets. It is
 * optional data, so running out of room stops it without setting TC. */
static void put_extra(struct answer *A)
{
	for (unsigned i = 0; i < A->nextra; i++) {
		const uint8_t *name = A->extra[i];
		const struct zone *z = config_find_zone(A->cfg, name);
		const struct node *n = z ? zone_find(z, name, dname_len(name)) : NULL;

		if (!n)
			continue;
		for (int fam = 0; fam < 2; fam++)
			if (!put_addresses(A, SEC_AR, name, n, fam, false))
				return;
	}
}

static void put_soa(struct answer *A, const struct zone *z)
{
	if (!put_rrset(A, SEC_NS, z->apex, z->soa, zone_negative_ttl(z)))
		A->tc = true;
}

/* zone_find_cut's cut, but not for DS at the cut itself: DS lives on
 * the parent side (RFC 4035 3.1.4.1). */
static const struct node *find_cut(const struct answer *A, const struct zone *z,
				   const uint8_t *name, const struct node **self, bool *seen)
{
	const struct node *cut = zone_find_cut(z, name, self, seen);

	if (cut && A->qtype == TYPE_DS && *seen && cut == *self)
		return NULL;
	return cut;
}

static void referral(struct answer *A, const struct node *cut)
{
	const struct rrset *ns = node_rrset(cut, TYPE_NS);

	if (A->count[SEC_AN] == 0)
		A->aa = false;
	if (!put_rrset(A, SEC_NS, cut->name, ns, ns->ttl)) {
		A->tc = true;
		return;
	}
	note_extra(A, ns); /* glue */
}

/* RFC 4592 3.3.1: the source of synthesis is *.<closest encloser>. */
static const struct node *find_wildcard(const struct zone *z, const uint8_t *name)
{
	const uint8_t *ce = dname_parent(name);
	uint8_t wild[DNAME_MAXLEN];

	while (!zone_find(z, ce, dname_len(ce)))
		ce = dname_parent(ce);
	size_t cl = dname_len(ce);

	if (cl + 2 > DNAME_MAXLEN)
		return NULL;
	wild[0] = 1;
	wild[1] = '*';
	memcpy(wild + 2, ce, cl);
	return zone_find(z, wild, cl + 2);
}

/* RFC 8482 4.1: answer ANY with one RRset of the node. */
static void answer_any(struct answer *A, const uint8_t *owner, const struct node *n,
		       const struct zone *z)
{
	if (node_has_family(n, 0) || node_has_family(n, 1)) {
		if (!put_addresses(A, SEC_AN, owner, n, node_has_family(n, 0) ? 0 : 1, true))
			A->tc = true;
		return;
	}
	if (!n->rrsets) {
		put_soa(A, z);
		return;
	}
	if (!put_rrset(A, SEC_AN, owner, n->rrsets, n->rrsets->ttl))
		A->tc = true;
}

static void answer_node(struct answer *A, const uint8_t *owner, const struct node *n,
			const struct zone *z)
{
	uint16_t qt = A->qtype;

	if (qt == TYPE_ANY) {
		answer_any(A, owner, n, z);
		return;
	}
	if ((qt == TYPE_A || qt == TYPE_AAAA) && node_has_family(n, qt == TYPE_AAAA)) {
		if (!put_pool(A, SEC_AN, owner, n->pool, qt == TYPE_AAAA, true))
			A->tc = true;
		return;
	}
	const struct rrset *s = node_rrset(n, qt);

	if (!s) {
		put_soa(A, z); /* NODATA: also empty non-terminals (RFC 8020 spirit) */
		return;
	}
	if (!put_rrset(A, SEC_AN, owner, s, s->ttl)) {
		A->tc = true;
		return;
	}
	note_extra(A, s);
}

static void answer_zone(struct answer *A, const struct zone *z, const uint8_t *qname)
{
	const uint8_t *name = qname;

	for (int hop = 0; hop < ENGINE_CHAIN_MAX && !A->tc; hop++) {
		const struct node *n = NULL;
		bool seen;
		const struct node *cut = find_cut(A, z, name, &n, &seen);

		if (cut) {
			referral(A, cut);
			return;
		}
		if (!seen)
			n = zone_find(z, name, dname_len(name));

		if (!n)
			n = find_wildcard(z, name);
		if (!n) {
			A->rcode = RCODE_NXDOMAIN;
			put_soa(A, z);
			return;
		}
		const struct rrset *cn = node_rrset(n, TYPE_CNAME);

		if (!cn || A->qtype == TYPE_CNAME || A->qtype == TYPE_ANY) {
			answer_node(A, name, n, z);
			return;
		}
		/* RFC 1034 4.3.2 3a: copy the CNAME, restart at its target. */
		if (!put_rrset(A, SEC_AN, name, cn, cn->ttl)) {
			A->tc = true;
			return;
		}
		name = cn->head->data;
		z = config_find_zone(A->cfg, name);
		/* out of our data, or into a secondary zone that cannot
		 * answer: the client follows it */
		if (!z || !xfr_zone_serving(z))
			return;
	}
}

/* A cached answer: every TTL counts down to the entry's expiry. */
static void answer_cached(struct answer *A, const struct centry *e, uint64_t now)
{
	uint32_t left = e->expires > now ? (uint32_t)(e->expires - now) : 0;
	const uint8_t *p = e->blob, *end = e->blob + e->blob_len;

	A->rcode = e->rcode;
	if (e->ede != 0xffff) {
		A->ede = e->ede;
		A->ede_text = e->ede_text;
	}
	while (p < end && !A->tc) {
		enum section sec = p[0] ? SEC_NS : SEC_AN;
		const uint8_t *owner = p + 2;
		const uint8_t *f = owner + p[1];
		uint32_t ttl = wire_read32(f + 4);
		uint16_t rdlen = wire_read16(f + 8);
		struct wire_mark m = wire_buf_mark(&A->b);

		wire_put_rr(&A->b, owner, wire_read16(f), wire_read16(f + 2), ttl < left ? ttl : left,
			    f + 10, rdlen);
		if (A->b.err) {
			wire_buf_rollback(&A->b, m);
			A->tc = true;
			break;
		}
		A->count[sec]++;
		p = f + 10 + rdlen;
	}
}

/* A backend group's answer: the server's sections as it sent them (their
 * compression pointers stay valid: the question before them has the same
 * length, in the client's case), every TTL counted down by the answer's
 * age in the cache. */
static void answer_forwarded(struct answer *A, const struct wire_query *q, const struct bentry *e,
			     bool stale)
{
	uint64_t now = backend_now_ms();
	uint32_t age = now > e->inserted_ms ? (uint32_t)((now - e->inserted_ms) / 1000) : 0;
	struct wire_mark m = wire_buf_mark(&A->b);

	A->rcode = e->rcode;
	A->aa = e->hflags & WIRE_AA;
	A->ra = e->hflags & WIRE_RA;
	A->tc = e->hflags & WIRE_TC;
	/* RFC 6840 5.8: AD only for clients that asked with DO or AD */
	A->ad = (e->hflags & WIRE_AD) &&
		((q->has_edns && (q->edns_flags & WIRE_EDNS_DO)) || (q->flags & WIRE_AD));
	if (e->ede != 0xffff) {
		A->ede = e->ede;
		A->ede_text = e->ede_text;
	}
	if (stale) {
		A->ede = 3; /* RFC 8914 4.4: Stale Answer */
		A->ede_text = "no server of the group answered";
	}
	if (e->len == 0)
		return;
	if (A->b.len != e->body_off) { /* cannot happen: the same question */
		A->rcode = RCODE_SERVFAIL;
		return;
	}
	wire_put_bytes(&A->b, e->wire + e->body_off, e->len - e->body_off);
	if (A->b.err) {
		wire_buf_rollback(&A->b, m);
		A->tc = true;
		return;
	}
	for (uint32_t i = 0; i < e->nttl; i++) {
		uint8_t *p = A->b.wire + e->ttl_off[i];
		uint32_t ttl = wire_read32(p);

		if (stale) /* RFC 8767 4 */
			ttl = ttl < BACKEND_STALE_TTL ? ttl : BACKEND_STALE_TTL;
		else
			ttl = ttl > age ? ttl - age : 0;
		wire_write32(p, ttl);
	}
	A->count[SEC_AN] = e->count[0];
	A->count[SEC_NS] = e->count[1];
	A->count[SEC_AR] = e->count[2];
}

static uint16_t limit_for(const struct wire_query *q, bool tcp)
{
	if (tcp)
		return WIRE_TCP_MAX;
	if (!q->has_edns)
		return WIRE_UDP_MIN;
	if (q->edns_udp < WIRE_UDP_MIN)
		return WIRE_UDP_MIN; /* RFC 6891 6.2.5 */
	return q->edns_udp < WIRE_EDNS_UDP ? q->edns_udp : WIRE_EDNS_UDP;
}

static size_t finish(struct answer *A, const struct wire_query *q, size_t limit)
{
	uint8_t *w = A->b.wire;
	uint16_t flags = wire_read16(w + 2);

	if (A->aa)
		flags |= WIRE_AA;
	if (A->tc)
		flags |= WIRE_TC;
	if (A->ra)
		flags |= WIRE_RA;
	if (A->ad)
		flags |= WIRE_AD;
	wire_write16(w + 2, flags);
	wire_write16(w + 6, A->count[SEC_AN]);
	wire_write16(w + 8, A->count[SEC_NS]);
	wire_write16(w + 10, A->count[SEC_AR]);
	wire_set_rcode(w, A->rcode);
	if (q->has_edns) {
		A->b.max = limit; /* the room kept for OPT (and an EDE) */
		wire_put_opt(&A->b, A->rcode, q->edns_flags & WIRE_EDNS_DO);
		size_t opt_off = A->b.len - WIRE_OPT_RR_LEN;

		if (A->cookie_len)
			wire_opt_add(&A->b, opt_off, COOKIE_OPTION, A->cookie, A->cookie_len);
		if (A->ede != 0xffff)
			wire_opt_add_ede(&A->b, opt_off, A->ede, A->ede_text);
		if (q->ecs_family) {
			/* RFC 7871 7.2.1: echo family, source and address; the scope
			 * says how much of the address the answer depended on */
			uint8_t ecs[4 + 16];
			size_t alen = (q->ecs_source + 7u) / 8u;

			wire_write16(ecs, q->ecs_family);
			ecs[2] = q->ecs_source;
			ecs[3] = (uint8_t)A->ecs_scope;
			memcpy(ecs + 4, q->ecs_addr, alen);
			wire_opt_add(&A->b, opt_off, WIRE_OPT_ECS, ecs, 4 + alen);
		}
	}
	return A->b.err ? 0 : A->b.len;
}

#define EDE_RESERVE 72    /* EDE option: 4 + 2 + up to 63 bytes of text */
#define COOKIE_RESERVE 28 /* COOKIE option: 4 + 8 + 16 */
#define ECS_RESERVE 24    /* ECS option: 4 + 4 + up to 16 address bytes */

/* The address topology pools choose by: the query's ECS, else its source. */
static void set_client(struct answer *A, const struct wire_query *q, const struct sockaddr *sa)
{
	A->client_family = 0;
	A->ecs_scope = 0;
	if (q->ecs_family) {
		A->client_family = q->ecs_family == 1 ? AF_INET : AF_INET6;
		memcpy(A->client_addr, q->ecs_addr, 16);
	} else if (sa && sa->sa_family == AF_INET) {
		A->client_family = AF_INET;
		memcpy(A->client_addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		A->client_family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
		memcpy(A->client_addr, a6->s6_addr + (A->client_family == AF_INET ? 12 : 0),
		       A->client_family == AF_INET ? 4 : 16);
	}
}

/* RFC 7873 5.2 with RFC 9018 server cookies: a client cookie alone gets a
 * fresh server cookie; a valid one is echoed (renewed after half an hour);
 * a bad one is answered as if absent, with a new cookie. Returns false for
 * a malformed option (FORMERR). */
static bool do_cookie(struct answer *A, const struct config *cfg, const struct engine_ctx *ctx,
		      const uint8_t *query, const struct wire_query *q, struct engine_result *res)
{
	const struct cookie_config *k = &cfg->cookies;
	const uint8_t *ip;
	size_t ip_len;

	if (!k->enable || !q->cookie_len || !ctx->client)
		return true;
	if (q->cookie_len != COOKIE_CLIENT_LEN &&
	    (q->cookie_len < COOKIE_CLIENT_LEN + 8 || q->cookie_len > COOKIE_CLIENT_LEN + 32))
		return false;
	if (ctx->client->sa_family == AF_INET) {
		ip = (const uint8_t *)&((const struct sockaddr_in *)ctx->client)->sin_addr;
		ip_len = 4;
	} else {
		ip = ((const struct sockaddr_in6 *)ctx->client)->sin6_addr.s6_addr;
		ip_len = 16;
	}
	const uint8_t *client = query + q->cookie_off, *server = client + COOKIE_CLIENT_LEN;
	size_t slen = q->cookie_len - COOKIE_CLIENT_LEN;
	uint32_t now = (uint32_t)time(NULL);
	enum cookie_state st = COOKIE_INVALID;

	if (slen) {
		st = cookie_check(k->secret, client, server, slen, ip, ip_len, now);
		if (st == COOKIE_INVALID && k->has_previous &&
		    cookie_check(k->previous, client, server, slen, ip, ip_len, now) != COOKIE_INVALID)
			st = COOKIE_WORN; /* valid under the old secret: renew */
	}
	res->cookie_valid = st != COOKIE_INVALID;
	memcpy(A->cookie, client, COOKIE_CLIENT_LEN);
	if (st == COOKIE_VALID)
		memcpy(A->cookie + COOKIE_CLIENT_LEN, server, COOKIE_SERVER_LEN);
	else
		cookie_make(k->secret, client, ip, ip_len, now, A->cookie + COOKIE_CLIENT_LEN);
	A->cookie_len = COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN;
	return true;
}

size_t engine_answer(const struct config *cfg, const struct engine_ctx *ctx, const uint8_t *query,
		     size_t qlen, uint8_t *out, size_t out_max, bool tcp, struct engine_result *res)
{
	struct wire_query q;
	struct answer A;
	enum wire_verdict v = wire_query_parse(query, qlen, &q);
	size_t limit;

	memset(res, 0, sizeof(*res));
	if (qlen >= WIRE_HDR_LEN && WIRE_OPCODE(wire_read16(query + 2)) == 4 &&
	    cfg->fleet.nsecondaries) {
		/* NOTIFY (RFC 1996); without secondary zones it is NOTIMP */
		size_t n = xfr_notify_answer(cfg, ctx->client, query, qlen, out, out_max);

		res->dropped = n == 0;
		res->rcode = n ? out[3] & 0xf : 0;
		return n;
	}
	if (v == WIRE_DROP) {
		res->dropped = true;
		return 0;
	}
	limit = limit_for(&q, tcp);
	if (limit > out_max)
		limit = out_max;
	A.cfg = cfg;
	A.worker = ctx->worker;
	A.ra = false;
	A.ede = 0xffff;
	A.ede_text = NULL;
	A.cookie_len = 0;
	A.qtype = q.question_ok ? q.qtype : 0;
	A.count[0] = A.count[1] = A.count[2] = 0;
	A.rcode = RCODE_NOERROR;
	A.aa = A.tc = A.ad = false;
	A.nextra = 0;
	A.entry_mode = A.entry_bad = false;
	A.rot_pool = NULL;
	A.servfail_pool = NULL;
	set_client(&A, &q, ctx->client);
	wire_buf_init(&A.b, out,
		      limit - (q.has_edns ? WIRE_OPT_RR_LEN + EDE_RESERVE + COOKIE_RESERVE +
						    ECS_RESERVE
					  : 0));
	wire_reply_begin(&A.b, query, &q);
	struct wire_mark question = wire_buf_mark(&A.b);
	if (A.b.err) { /* the question alone does not fit: cannot happen for >= 512 */
		res->dropped = true;
		return 0;
	}
	res->qtype = A.qtype;
	switch (v) {
	case WIRE_FORMERR:
		A.rcode = RCODE_FORMERR;
		break;
	case WIRE_NOTIMP:
		A.rcode = RCODE_NOTIMP;
		break;
	case WIRE_BADVERS:
		A.rcode = RCODE_BADVERS;
		break;
	default:
		break;
	}
	if (v != WIRE_ANSWER)
		goto done;
	if (!do_cookie(&A, cfg, ctx, query, &q, res)) {
		A.rcode = RCODE_FORMERR;
		goto done;
	}
	if (q.qtype == TYPE_OPT || q.qtype == TYPE_TKEY || q.qtype == TYPE_TSIG) {
		A.rcode = RCODE_FORMERR; /* meta types are not questions (RFC 6895 3.1) */
		goto done;
	}
	if (q.qtype == TYPE_MAILA || q.qtype == TYPE_MAILB) {
		A.rcode = RCODE_NOTIMP;
		goto done;
	}
	const struct zone *z = q.qclass == CLASS_IN ? config_find_zone(cfg, q.qname) : NULL;
	bool recurse = cfg->rec.enable && ctx->cache && q.qclass == CLASS_IN &&
		       (!ctx->client || config_rec_allowed(cfg, ctx->client));

	A.ra = recurse;
	if (q.qtype == TYPE_AXFR || q.qtype == TYPE_IXFR) {
		A.rcode = RCODE_REFUSED; /* no zone transfers */
		goto done;
	}
	size_t dlen = 0;
	const struct backend *bk =
		q.qclass == CLASS_IN ? config_find_backend(cfg, q.qname, &dlen) : NULL;

	if (bk && (!z || dlen >= z->apex_len)) {
		/* a backend group's domain (deeper than any zone of ours):
		 * from its cache, else from its servers */
		const struct bentry *e = ctx->fwd;
		bool held = false;

		A.ra = false;
		if (ctx->client && !config_backend_allowed(cfg, bk, ctx->client)) {
			A.rcode = RCODE_REFUSED; /* never an open proxy */
			goto done;
		}
		if (!e && bk->rt) {
			e = backend_cache_get(bk->rt, q.qname, q.qname_len, q.qtype, q.qclass,
					      backend_key_flags(&q), backend_now_ms());
			held = e != NULL;
		}
		if (!e && !bk->rt) {
			A.rcode = RCODE_SERVFAIL;
			A.ede = 14; /* RFC 8914 4.15: Not Ready */
			A.ede_text = "backend groups are not running";
			goto done;
		}
		if (!e) {
			res->forward = true;
			res->backend = bk;
			return 0;
		}
		res->cache_hit = held;
		answer_forwarded(&A, &q, e, ctx->fwd_stale);
		if (held)
			backend_entry_put(e);
		goto done;
	}
	if (!z && recurse) {
		/* names in our zones never go upstream; the rest cross the
		 * seam to the resolver once, when the cache has nothing */
		const struct centry *e = ctx->answer;

		if (!e)
			e = cache_lookup(ctx->cache, ctx->worker, q.qname, q.qname_len, q.qtype,
					 q.qclass, ctx->now);
		if (!e) {
			res->resolve = true;
			return 0;
		}
		res->cache_hit = !ctx->answer;
		/* refresh ahead: in the last tenth of the TTL (at least 2 s) */
		if (!ctx->answer && cfg->rec.prefetch && e->ttl >= 10 &&
		    e->expires - ctx->now <= (e->ttl / 10 > 2 ? e->ttl / 10 : 2) &&
		    !atomic_exchange_explicit(&((struct centry *)e)->prefetching, 1,
					      memory_order_relaxed))
			res->prefetch = true;
		answer_cached(&A, e, ctx->now);
		goto done;
	}
	if (!z) {
		A.rcode = RCODE_REFUSED; /* not ours, and no recursion for this client */
		goto done;
	}
	if (!xfr_zone_serving(z)) {
		/* a secondary zone never transferred, or expired (RFC 1034 4.3.5) */
		A.rcode = RCODE_SERVFAIL;
		A.ede = 14; /* RFC 8914 4.15: Not Ready */
		A.ede_text = z->soa ? "the zone expired: no primary answered" :
				      "the zone has not been transferred yet";
		goto done;
	}
	A.aa = true;
	answer_zone(&A, z, q.qname);
	if (A.servfail_pool) {
		/* on-all-down: servfail -- fail closed, and say why (RFC 8914) */
		wire_buf_rollback(&A.b, question);
		A.count[SEC_AN] = A.count[SEC_NS] = A.count[SEC_AR] = 0;
		A.rcode = RCODE_SERVFAIL;
		A.aa = A.tc = false;
		A.ede = 0;
		A.ede_text = "every replica of the pool is down";
	} else if (!A.tc) {
		put_extra(&A);
	}
done:
	res->rcode = A.rcode;
	res->truncated = A.tc;
	return finish(&A, &q, limit);
}

/* --- fast-path entries --- */

/* Step over a name of our own answer: labels, then a zero or a pointer. */
static int skip_name(const uint8_t *msg, size_t len, size_t *pos)
{
	size_t p = *pos;

	while (p < len) {
		uint8_t c = msg[p];

		if (c == 0 || (c & 0xc0) == 0xc0) {
			p += c ? 2 : 1;
			if (p > len)
				return -1;
			*pos = p;
			return 0;
		}
		if (c & 0xc0)
			return -1;
		p += 1 + (size_t)c;
	}
	return -1;
}

/* Offsets of the TTL field of each RR in msg[from, to). */
static int collect_ttls(const uint8_t *msg, size_t len, size_t from, size_t to, size_t base,
			struct entry *e)
{
	for (size_t pos = from; pos < to;) {
		if (skip_name(msg, len, &pos) < 0 || pos + 10 > to)
			return -1;
		if (e->nttl == ENTRY_MAX_TTL)
			return -1;
		e->ttl_off[e->nttl] = (uint16_t)(pos + 4 - base);
		e->ttl[e->nttl++] = wire_read32(msg + pos + 4);
		pos += 10 + wire_read16(msg + pos + 8);
	}
	return 0;
}

/* A topology pool's choice as a table the fast paths walk (lib/entry.h
 * struct entry_topo): the distinct clients: prefixes of live members,
 * longest first, each with the group of live members listing it; group 0
 * every live member. The same answer as topology_order for every client. */
static int entry_topology(struct entry *e, const struct pool *p, int fam,
			  const struct rot_sched *s)
{
	struct entry_group *all = &e->group[0];

	all->n = 0;
	e->ngroups = 1;
	for (uint16_t i = 0; i < s->nmembers && i < e->rr_count; i++) {
		const struct member *m = &p->members[p->fam_member[fam][i]];

		if (!s->live[i])
			continue;
		all->member[all->n++] = (uint8_t)i;
		for (unsigned j = 0; j < m->nclients; j++) {
			const struct acl_entry *c = &m->clients[j];
			struct entry_topo t = {.family = c->family == AF_INET ? 1 : 2,
					       .len = (uint8_t)c->prefix};
			uint8_t mask[16] = {0}, addr[16] = {0};
			unsigned k;

			for (unsigned b = 0; b < c->prefix && b < 128; b++)
				mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			for (unsigned b = 0; b < 16; b++)
				addr[b] = c->addr[b] & mask[b];
			memcpy(t.addr, addr, 16);
			memcpy(t.mask, mask, 16);
			for (k = 0; k < e->ntopo; k++)
				if (e->topo[k].family == t.family && e->topo[k].len == t.len &&
				    memcmp(e->topo[k].addr, t.addr, 16) == 0)
					break;
			if (k == e->ntopo) {
				if (e->ntopo == ENTRY_TOPO_MAX)
					return -1; /* more than the fast paths walk */
				t.group = e->ngroups++;
				e->group[t.group].n = 0;
				e->topo[e->ntopo++] = t;
			}
			struct entry_group *g = &e->group[e->topo[k].group];

			if (g->n == 0 || g->member[g->n - 1] != i)
				g->member[g->n++] = (uint8_t)i;
		}
	}
	/* longest first (a stable insertion sort: ties cannot hold one client) */
	for (unsigned a = 1; a < e->ntopo; a++) {
		struct entry_topo t = e->topo[a];
		unsigned b = a;

		for (; b > 0 && e->topo[b - 1].len < t.len; b--)
			e->topo[b] = e->topo[b - 1];
		e->topo[b] = t;
	}
	return all->n ? 0 : -1;
}

/* The query an entry answers: name, qtype, class IN, no EDNS; and what
 * wire_query_parse would read from it (the name is one of ours, in wire
 * form already: a million of them are not parsed again). */
static int entry_query(const uint8_t *name, uint16_t qtype, uint8_t *query, struct wire_query *q)
{
	size_t nlen = dname_len(name);

	if (nlen > DNAME_MAXLEN)
		return -1;
	memset(query, 0, WIRE_HDR_LEN);
	query[5] = 1;
	memcpy(query + WIRE_HDR_LEN, name, nlen);
	wire_write16(query + WIRE_HDR_LEN + nlen, qtype);
	wire_write16(query + WIRE_HDR_LEN + nlen + 2, CLASS_IN);
	memset(q, 0, sizeof(*q));
	q->qdcount = 1;
	memcpy(q->qname, name, nlen);
	dname_lower(q->qname);
	q->qname_len = (uint8_t)nlen;
	q->qtype = qtype;
	q->qclass = CLASS_IN;
	q->question_end = (uint16_t)(WIRE_HDR_LEN + nlen + 4);
	q->question_ok = true;
	return 0;
}

static void entry_answer_begin(struct answer *A, const struct config *cfg, uint16_t qtype,
			       uint8_t *out, size_t out_max, const uint8_t *query,
			       const struct wire_query *q)
{
	memset(A, 0, sizeof(*A));
	A->cfg = cfg;
	A->qtype = qtype;
	A->entry_mode = true;
	A->aa = true;
	A->ede = 0xffff;
	wire_buf_init(&A->b, out, out_max);
	wire_reply_begin(&A->b, query, q);
}

/* The entry from an answer rendered in entry mode (out, A->b.len bytes). */
static int entry_fill(const struct answer *A, const struct wire_query *q, const uint8_t *out,
		      uint16_t qtype, struct entry *e)
{
	/* a SERVFAIL is the socket path's to send, with its EDE */
	if (A->tc || A->entry_bad || A->b.err || A->servfail_pool)
		return -1;

	size_t nlen = dname_len(q->qname), start = q->question_end, end = A->b.len;
	const struct pool *p = A->rot_pool;

	entry_clear(e);
	e->qtype = qtype;
	e->qclass = CLASS_IN;
	e->name_len = (uint8_t)nlen;
	memcpy(e->name, q->qname, nlen);
	e->digest = entry_digest(e->name, nlen, qtype, CLASS_IN);
	e->hdr_flags = A->aa ? WIRE_AA : 0;
	e->rcode = (uint8_t)A->rcode;
	if (end - start > ENTRY_MAX_BYTES)
		return -1;
	memcpy(e->bytes, out + start, end - start);
	size_t rot_end = start, rot_start = start;

	if (p) {
		const struct rot_sched *s = A->rot_sched;

		if (A->rot_count == 0 || A->rot_count > ENTRY_MAX_RR || s->len > ENTRY_MAX_SCHED)
			return -1;
		rot_start = A->rot_off;
		e->rr_count = (uint16_t)A->rot_count;
		/* a rotated record: owner pointer, type, class, TTL, rdlength, address */
		e->rr_len = (uint16_t)(12 + (A->rot_fam ? 16 : 4));
		e->rr_ttl_off = 6;
		e->rr_ttl = A->rot_ttl;
		rot_end = rot_start + (size_t)e->rr_count * e->rr_len;
		if (rot_end > end || (out[rot_start] & 0xc0) != 0xc0)
			return -1;
		for (unsigned i = 1; i < e->rr_count; i++)
			if (memcmp(out + rot_start, out + rot_start + i * e->rr_len, 12) != 0)
				return -1; /* not uniform: cannot rotate them as blobs */
		e->answer_count = (uint16_t)p->answer_count;
		e->sched_len = (uint16_t)s->len;
		memcpy(e->sched, s->seq, s->len * sizeof(*s->seq));
		memcpy(e->live, s->live, e->rr_count);
		e->rot_id = (uint32_t)(p->index * 2 + A->rot_fam) % ENTRY_ROT_SLOTS;
		if (A->rot_topology && entry_topology(e, p, A->rot_fam, A->rot_sched) < 0)
			return -1;
	}
	e->head_len = (uint16_t)(rot_start - start);
	e->tail_len = (uint16_t)(end - rot_end);
	/* the head's records (each one TTL), then the tail's, section by
	 * section */
	if (collect_ttls(out, end, start, rot_start, start, e) < 0)
		return -1;
	e->head_an = (uint16_t)e->nttl;
	e->tail_an = (uint16_t)(A->count[SEC_AN] - e->rr_count - e->nttl);
	e->tail_ns = A->count[SEC_NS];
	e->tail_ar = A->count[SEC_AR];
	return collect_ttls(out, end, rot_end, end, start, e);
}

int engine_build_entry(const struct config *cfg, const uint8_t *name, uint16_t qtype,
		       struct entry *e)
{
	return engine_build_pool_entry(cfg, NULL, name, qtype, e, NULL);
}

/* The records of the pool name's answer, read back with their names
 * whole, for its aliases' answers (engine_build_alias_entry). Only an
 * answer the alias's would repeat unchanged after its CNAME: no
 * referral (it clears AA only when nothing came before it), no CNAME
 * (a longer chain counts hops from the alias), no records whose names
 * ask for additional data (MX, SRV, NS), nothing truncated. */
static void alias_base_read(struct engine_alias_base *b, const struct answer *A,
			    const struct wire_query *q, const uint8_t *out)
{
	size_t pos = q->question_end, used = 0;

	if (!A->aa || A->tc || A->rcode != RCODE_NOERROR || A->nextra || A->b.err)
		return;
	b->rot_rr = -1;
	for (b->nrr = 0; pos < A->b.len; b->nrr++) {
		struct wire_rr *rr = &b->scratch;
		struct engine_base_rr *r = &b->rr[b->nrr];
		size_t olen;

		if (b->nrr == ENGINE_BASE_RR_MAX)
			return;
		if (A->rot_pool && pos == A->rot_off)
			b->rot_rr = (int)b->nrr;
		if (wire_rr_read(out, A->b.len, &pos, rr) < 0)
			return;
		switch (rr->type) {
		case TYPE_CNAME:
		case TYPE_DNAME:
		case TYPE_NS:
		case TYPE_MX:
		case TYPE_SRV:
			return;
		default:
			break;
		}
		olen = dname_len(rr->owner);
		if (used + olen + rr->rdlen > sizeof(b->names))
			return;
		r->type = rr->type;
		r->rclass = rr->rclass;
		r->ttl = rr->ttl;
		r->rdlen = rr->rdlen;
		r->owner = (uint16_t)used;
		memcpy(b->names + used, rr->owner, olen);
		used += olen;
		r->rdata = (uint16_t)used;
		memcpy(b->names + used, rr->rdata, rr->rdlen);
		used += rr->rdlen;
	}
	if (A->rot_pool && b->rot_rr < 0)
		return;
	b->aa = A->aa;
	memcpy(b->count, A->count, sizeof(b->count));
	b->rot_pool = A->rot_pool;
	b->rot_sched = A->rot_sched;
	b->rot_topology = A->rot_topology;
	b->rot_ttl = A->rot_ttl;
	b->rot_fam = A->rot_fam;
	b->rot_count = A->rot_count;
	b->ok = true;
}

int engine_build_pool_entry(const struct config *cfg, const struct pool *p, const uint8_t *name,
			    uint16_t qtype, struct entry *e, struct engine_alias_base *base)
{
	uint8_t query[DNAME_MAXLEN + 16], out[WIRE_HDR_LEN + DNAME_MAXLEN + 4 + ENTRY_MAX_BYTES];
	struct wire_query q;
	struct answer A;

	if (base) {
		base->ok = false;
		base->pool = p;
		base->qtype = qtype;
	}
	if (entry_query(name, qtype, query, &q) < 0)
		return -1;
	/* a pool name in a primary zone above any delegation: answer_zone
	 * would find no cut and this node, which holds no CNAME */
	bool plain = p && p->plain_node && name == p->name;
	const struct zone *z = plain ? p->plain_zone : config_find_zone(cfg, q.qname);

	if (!z || !xfr_zone_serving(z))
		return -1; /* a secondary without data (or expired): SERVFAIL, socket path */
	entry_answer_begin(&A, cfg, qtype, out, sizeof(out), query, &q);
	if (plain)
		answer_node(&A, q.qname, p->plain_node, z);
	else
		answer_zone(&A, z, q.qname);
	if (!A.tc)
		put_extra(&A);
	if (entry_fill(&A, &q, out, qtype, e) < 0)
		return -1;
	if (base && p && p->plain_aliases && p->alias_cname)
		alias_base_read(base, &A, &q, out);
	return 0;
}

/*
 * An alias of a pool whose aliases are plain (config.h: in primary zones,
 * above any delegation, so nothing can come between the alias and its
 * pool name) is answered, in answer_zone, with its CNAME and then exactly
 * what the pool name's own query gets: the same lookups, the same
 * records. So its entry is that answer written again behind the alias's
 * question and CNAME, without looking anything up; only the name
 * compression differs, and wire_put_rr redoes it as put_rrset and
 * put_pool did. tests/unit/test_publish.c compares the two for every
 * alias of a set of configs, fuzz_config and fuzz_zone for whatever
 * configs and zones they make.
 */
int engine_build_alias_entry(const struct engine_alias_base *b, const uint8_t *alias,
			     struct entry *e)
{
	uint8_t query[DNAME_MAXLEN + 16], out[WIRE_HDR_LEN + DNAME_MAXLEN + 4 + ENTRY_MAX_BYTES];
	struct wire_query q;
	struct answer A;

	if (!b->ok)
		return -1;
	/* the pool's alias list points at its zone nodes' names */
	const struct node *n =
	    (const struct node *)(const void *)(alias - offsetof(struct node, name));

	if (n->alias_of != b->pool || n->rrsets != b->pool->alias_cname ||
	    entry_query(alias, b->qtype, query, &q) < 0)
		return -1;
	entry_answer_begin(&A, NULL, b->qtype, out, sizeof(out), query, &q);
	if (!put_rrset(&A, SEC_AN, q.qname, n->rrsets, n->rrsets->ttl))
		return -1;
	for (unsigned i = 0; i < b->nrr; i++) {
		const struct engine_base_rr *r = &b->rr[i];

		if ((int)i == b->rot_rr)
			A.rot_off = A.b.len;
		wire_put_rr(&A.b, b->names + r->owner, r->type, r->rclass, r->ttl,
			    b->names + r->rdata, r->rdlen);
	}
	/* more than the buffer (the engine: TC) is more than an entry holds */
	if (A.b.err)
		return -1;
	A.aa = b->aa;
	for (int s = 0; s < 3; s++)
		A.count[s] = (uint16_t)(A.count[s] + b->count[s]);
	A.rot_pool = b->rot_pool;
	A.rot_sched = b->rot_sched;
	A.rot_topology = b->rot_topology;
	A.rot_ttl = b->rot_ttl;
	A.rot_fam = b->rot_fam;
	A.rot_count = b->rot_count;
	return entry_fill(&A, &q, out, b->qtype, e);
}

int engine_build_cached_entry(const struct centry *ce, uint64_t mono_now, uint64_t unix_now,
			      struct entry *e)
{
	uint8_t query[DNAME_MAXLEN + 16], out[WIRE_HDR_LEN + DNAME_MAXLEN + 4 + ENTRY_MAX_BYTES];
	size_t qlen = WIRE_HDR_LEN + ce->name_len + 4;
	struct wire_query q;
	struct answer A;

	if (ce->expires <= mono_now + 1 || ce->ede != 0xffff)
		return -1;
	memset(query, 0, WIRE_HDR_LEN);
	query[5] = 1;
	memcpy(query + WIRE_HDR_LEN, ce->name, ce->name_len);
	wire_write16(query + WIRE_HDR_LEN + ce->name_len, ce->qtype);
	wire_write16(query + WIRE_HDR_LEN + ce->name_len + 2, ce->qclass);
	if (wire_query_parse(query, qlen, &q) != WIRE_ANSWER)
		return -1;
	memset(&A, 0, sizeof(A));
	A.ede = 0xffff;
	wire_buf_init(&A.b, out, sizeof(out));
	wire_reply_begin(&A.b, query, &q);
	answer_cached(&A, ce, mono_now);
	if (A.tc || A.b.err)
		return -1;
	size_t start = q.question_end, end = A.b.len;

	entry_clear(e);
	e->qtype = ce->qtype;
	e->qclass = ce->qclass;
	e->name_len = ce->name_len;
	memcpy(e->name, ce->name, ce->name_len);
	e->digest = ce->digest;
	e->hdr_flags = WIRE_RA;
	e->rcode = ce->rcode;
	e->expires = unix_now + (ce->expires - mono_now);
	/* answer records are the head, authority records the tail */
	size_t mid = start;
	uint8_t tmp[DNAME_MAXLEN];

	for (unsigned i = 0; i < A.count[SEC_AN]; i++) {
		if (wire_name_read_any(out, end, &mid, tmp) < 0)
			return -1;
		mid += 10 + wire_read16(out + mid + 8);
	}
	e->head_len = (uint16_t)(mid - start);
	e->head_an = A.count[SEC_AN];
	e->tail_len = (uint16_t)(end - mid);
	e->tail_ns = A.count[SEC_NS];
	memcpy(e->bytes, out + start, end - start);
	if (collect_ttls(out, end, start, end, start, e) < 0)
		return -1;
	/* the original TTLs: what the entry would show with all its life left */
	for (unsigned i = 0; i < e->nttl; i++)
		e->ttl[i] = ce->ttl;
	return 0;
}

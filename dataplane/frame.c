/* frame.c -- fast-path parse and in-place reply, bounds-checked on every
 * read; no allocation, no DPDK. */
#include "frame.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "wire.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define IP_HLEN 20
#define IP6_HLEN 40
#define UDP_HLEN 8
#define IPPROTO_UDP_ 17

#define FRAME_NAME(id, name) name,
const char *const frame_verdict_names[DROP_COUNT_END] = {
	"hit", FP_PUNTS(FRAME_NAME) FP_DROPS(FRAME_NAME)};

/* RFC 1071 2(B): the sum is byte-order independent, so add native 32-bit
 * words (8 bytes a step), fold, and turn the result to network order. */
uint32_t frame_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	uint16_t w16;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		s += (w & 0xffffffffu) + (w >> 32);
	}
	for (; len >= 2; p += 2, len -= 2) {
		memcpy(&w16, p, 2);
		s += w16;
	}
	if (len) {
		uint8_t last[2] = {p[0], 0};

		memcpy(&w16, last, 2);
		s += w16;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	w16 = (uint16_t)s;
	uint8_t be[2];

	memcpy(be, &w16, 2); /* native bytes in memory order = network order */
	return sum + (uint32_t)(be[0] << 8 | be[1]);
}

uint16_t frame_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The DNS part: one question, uncompressed name, at most one OPT without
 * options. Everything else is carouseld's to judge. */
static enum frame_verdict parse_dns(const uint8_t *m, size_t len, struct frame_query *q)
{
	if (len < WIRE_HDR_LEN)
		return PUNT_DNS_HEADER;
	uint16_t flags = wire_read16(m + 2);

	if ((flags & (WIRE_QR | WIRE_TC)) || WIRE_OPCODE(flags) != 0 || wire_read16(m + 4) != 1 ||
	    wire_read16(m + 6) != 0 || wire_read16(m + 8) != 0 || wire_read16(m + 10) > 1)
		return PUNT_DNS_HEADER;
	size_t pos = WIRE_HDR_LEN, n, i;

	/* the labels' lengths only, to find the end */
	for (;;) {
		if (pos >= len)
			return PUNT_QNAME;
		uint8_t l = m[pos];

		if (l & 0xc0)
			return PUNT_QNAME; /* pointers: let the full parser judge */
		if (pos - WIRE_HDR_LEN + 1 + l > DNAME_MAXLEN || pos + 1 + l > len)
			return PUNT_QNAME;
		pos += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	n = pos - WIRE_HDR_LEN;
	/* then the name a word at a time: fold, keep, hash (entry_digest) */
	uint64_t h = ENTRY_HASH_SEED, w;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, m + WIRE_HDR_LEN + i, 8);
		w = entry_fold_case8(w);
		memcpy(q->name + i, &w, 8);
		h = entry_hash_word(h, le64toh(w));
	}
	if (i < n) {
		w = 0;
		memcpy(&w, m + WIRE_HDR_LEN + i, n - i); /* zero-padded */
		w = entry_fold_case8(w); /* byte by byte: the same in either order */
		memcpy(q->name + i, &w, 8);
		h = entry_hash_word(h, le64toh(w));
	}
	if (pos + 4 > len)
		return PUNT_QNAME;
	q->name_len = (uint8_t)n;
	q->qtype = wire_read16(m + pos);
	q->qclass = wire_read16(m + pos + 2);
	pos += 4;
	q->question_end = (uint16_t)pos;
	q->edns = false;
	q->edns_do = false;
	q->edns_udp = 0;
	q->ecs_len = 0;
	q->cookie_len = 0;
	q->cookie_ok = false;
	q->extra_len = 0;
	q->group = 0;
	if (wire_read16(m + 10) == 1) {
		/* RFC 6891 6.1.2: root owner, type OPT, version 0. Options are
		 * checked as carouseld checks them (lib/wire.c): an ECS is echoed,
		 * the rest are ignored and not echoed, once they parse. */
		unsigned cookies = 0;

		if (len - pos < WIRE_OPT_RR_LEN || m[pos] != 0 ||
		    wire_read16(m + pos + 1) != TYPE_OPT || m[pos + 6] != 0)
			return PUNT_EDNS;
		size_t rdlen = wire_read16(m + pos + 9), o = pos + WIRE_OPT_RR_LEN;

		if (len - pos - WIRE_OPT_RR_LEN != rdlen)
			return PUNT_EDNS;
		while (o < len) {
			if (len - o < 4 || len - o - 4 < wire_read16(m + o + 2))
				return PUNT_EDNS;
			uint16_t code = wire_read16(m + o), olen = wire_read16(m + o + 2);

			/* two COOKIEs are carouseld's FORMERR (RFC 7873 5.2.2) */
			if (code == 10) {
				if (cookies++)
					return PUNT_EDNS;
				q->cookie_len = olen; /* 0 bytes: none, as carouseld reads it */
				memcpy(q->cookie, m + o + 4, olen < sizeof(q->cookie)
								    ? olen
								    : sizeof(q->cookie));
			}
			if (code == WIRE_OPT_ECS) {
				/* one, well formed, or carouseld's FORMERR */
				if (q->ecs_len || !wire_ecs_valid(m + o + 4, olen))
					return PUNT_EDNS;
				q->ecs_len = (uint8_t)(4 + olen);
				memcpy(q->ecs, m + o, q->ecs_len);
			}
			o += 4 + (size_t)olen;
		}
		q->edns = true;
		q->edns_udp = wire_read16(m + pos + 3);
		q->edns_do = (wire_read16(m + pos + 7) & WIRE_EDNS_DO) != 0;
		pos = len;
	}
	if (pos != len)
		return PUNT_DNS_HEADER;
	q->digest = entry_hash_finish(h, q->qtype, q->qclass);
	return FRAME_HIT;
}

enum frame_verdict frame_parse(const uint8_t *pkt, size_t len, const struct frame_addrs *ours,
			       struct frame_query *q)
{
	size_t off = ETH_HLEN;
	uint16_t type;

	if (len < ETH_HLEN)
		return DROP_BAD_LENGTH;
	type = wire_read16(pkt + 12);
	if (type == ETH_P_8021Q) {
		if (len < ETH_HLEN + 4)
			return DROP_BAD_LENGTH;
		type = wire_read16(pkt + 16);
		off += 4;
	}
	q->l3_off = (uint16_t)off;
	if (type == ETH_P_IP) {
		const uint8_t *ip = pkt + off;

		if (len < off + IP_HLEN)
			return DROP_BAD_LENGTH;
		if ((ip[0] >> 4) != 4)
			return PUNT_NOT_IP;
		if ((ip[0] & 0xf) != 5)
			return PUNT_IP_OPTIONS;
		size_t tot = wire_read16(ip + 2);

		if (tot < IP_HLEN || off + tot > len)
			return DROP_BAD_LENGTH;
		if (wire_read16(ip + 6) & 0x3fff) /* MF or offset */
			return PUNT_FRAGMENT;
		if (ip[9] != IPPROTO_UDP_)
			return PUNT_NOT_UDP;
		if (ours->ip4 == 0 || memcmp(ip + 16, &ours->ip4, 4) != 0)
			return PUNT_NOT_OURS;
		q->v6 = false;
		off += IP_HLEN;
		len = q->l3_off + tot; /* ignore Ethernet padding */
	} else if (type == ETH_P_IPV6) {
		const uint8_t *ip6 = pkt + off;

		if (len < off + IP6_HLEN)
			return DROP_BAD_LENGTH;
		if ((ip6[0] >> 4) != 6)
			return PUNT_NOT_IP;
		size_t plen = wire_read16(ip6 + 4);

		if (off + IP6_HLEN + plen > len)
			return DROP_BAD_LENGTH;
		if (ip6[6] != IPPROTO_UDP_)
			return ip6[6] == 44 ? PUNT_FRAGMENT
			       : (ip6[6] == 0 || ip6[6] == 43 || ip6[6] == 60) ? PUNT_IP_OPTIONS
										: PUNT_NOT_UDP;
		if (!ours->has_ip6 || memcmp(ip6 + 24, ours->ip6, 16) != 0)
			return PUNT_NOT_OURS;
		q->v6 = true;
		off += IP6_HLEN;
		len = off + plen;
	} else {
		return PUNT_NOT_IP;
	}
	q->l4_off = (uint16_t)off;
	if (len < off + UDP_HLEN)
		return DROP_BAD_LENGTH;
	const uint8_t *udp = pkt + off;
	size_t ulen = wire_read16(udp + 4);

	if (ulen < UDP_HLEN || off + ulen > len)
		return DROP_BAD_LENGTH;
	if (wire_read16(udp + 2) != ours->port)
		return PUNT_NOT_OURS;
	q->dns_off = (uint16_t)(off + UDP_HLEN);
	q->dns_len = (uint16_t)(ulen - UDP_HLEN);
	return parse_dns(pkt + q->dns_off, q->dns_len, q);
}

static void swap(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[16];

	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

static void swap_addresses(uint8_t *pkt, const struct frame_query *q)
{
	uint8_t *ip = pkt + q->l3_off, *udp = pkt + q->l4_off;

	swap(pkt, pkt + 6, 6);
	if (q->v6)
		swap(ip + 8, ip + 24, 16);
	else
		swap(ip + 12, ip + 16, 4);
	swap(udp, udp + 2, 2);
}

/* Lengths and checksums for a UDP payload of dns_len bytes whose RFC 1071
 * sum (frame_csum_add form) is dns_sum. */
static void finish_headers_sum(uint8_t *pkt, const struct frame_query *q, size_t dns_len,
			       uint32_t dns_sum)
{
	uint8_t *ip = pkt + q->l3_off, *udp = pkt + q->l4_off;
	size_t ulen = UDP_HLEN + dns_len;
	uint32_t sum;

	wire_write16(udp + 4, (uint16_t)ulen);
	wire_write16(udp + 6, 0);
	if (q->v6) {
		wire_write16(ip + 4, (uint16_t)ulen);
		ip[7] = 64;
		sum = frame_csum_add(0, ip + 8, 32); /* RFC 8200 8.1 pseudo-header */
	} else {
		wire_write16(ip + 2, (uint16_t)(IP_HLEN + ulen));
		ip[8] = 64;
		wire_write16(ip + 6, 0x4000); /* DF */
		wire_write16(ip + 10, 0);
		wire_write16(ip + 10, frame_csum_fold(frame_csum_add(0, ip, IP_HLEN)));
		sum = frame_csum_add(0, ip + 12, 8);
	}
	sum += IPPROTO_UDP_ + (uint32_t)ulen;
	sum = frame_csum_add(sum, udp, UDP_HLEN) + dns_sum;
	uint16_t c = frame_csum_fold(sum);

	wire_write16(udp + 6, c ? c : 0xffff); /* RFC 768: 0 means none */
}

static void finish_headers(uint8_t *pkt, const struct frame_query *q, size_t dns_len)
{
	finish_headers_sum(pkt, q, dns_len, frame_csum_add(0, pkt + q->dns_off, dns_len));
}

/* The most the reply may take: 512, or the client's EDNS size up to ours,
 * and what the buffer holds. */
static size_t reply_limit(const struct frame_query *q, size_t cap)
{
	size_t limit = WIRE_UDP_MIN;

	if (q->edns && q->edns_udp > WIRE_UDP_MIN)
		limit = q->edns_udp < WIRE_EDNS_UDP ? q->edns_udp : WIRE_EDNS_UDP;
	return q->dns_off + limit > cap ? cap - q->dns_off : limit;
}

/* header: keep ID, opcode 0, RD and CD; QR, AA and rcode from the entry */
static void put_header(uint8_t *m, uint16_t flags, uint16_t an, uint16_t ns, uint16_t ar)
{
	wire_write16(m + 2, (uint16_t)(flags | (wire_read16(m + 2) & (WIRE_RD | WIRE_CD))));
	wire_write16(m + 6, an);
	wire_write16(m + 8, ns);
	wire_write16(m + 10, ar);
}

int frame_options(struct frame_query *q, const uint8_t *pkt, const struct fp_cookies *k,
		  uint32_t now)
{
	uint8_t *x = q->extra;

	if (k && k->enable && q->cookie_len) {
		/* RFC 7873 5.2 with RFC 9018 server cookies, as engine.c's
		 * do_cookie: 8 bytes of client cookie, optionally 8..32 of ours */
		const uint8_t *client = q->cookie, *server = client + COOKIE_CLIENT_LEN;
		const uint8_t *ip = pkt + q->l3_off + (q->v6 ? 8 : 12);
		size_t slen = q->cookie_len - COOKIE_CLIENT_LEN, ip_len = q->v6 ? 16 : 4;
		enum cookie_state st = COOKIE_INVALID;

		if (q->cookie_len != COOKIE_CLIENT_LEN &&
		    (q->cookie_len < COOKIE_CLIENT_LEN + 8 || q->cookie_len > COOKIE_CLIENT_LEN + 32))
			return -PUNT_EDNS;
		if (slen) {
			st = cookie_check(k->secret, client, server, slen, ip, ip_len, now);
			if (st == COOKIE_INVALID && k->has_previous &&
			    cookie_check(k->previous, client, server, slen, ip, ip_len, now) !=
				    COOKIE_INVALID)
				st = COOKIE_WORN;
		}
		q->cookie_ok = st != COOKIE_INVALID;
		wire_write16(x, COOKIE_OPTION);
		wire_write16(x + 2, COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN);
		memcpy(x + 4, client, COOKIE_CLIENT_LEN);
		if (st == COOKIE_VALID)
			memcpy(x + 4 + COOKIE_CLIENT_LEN, server, COOKIE_SERVER_LEN);
		else
			cookie_make(k->secret, client, ip, ip_len, now, x + 4 + COOKIE_CLIENT_LEN);
		x += 4 + COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN;
	}
	memcpy(x, q->ecs, q->ecs_len);
	x += q->ecs_len;
	q->extra_len = (uint8_t)(x - q->extra);
	return 0;
}

int frame_respond(uint8_t *pkt, size_t cap, const struct frame_query *q, const struct entry *e,
		  uint64_t step, uint64_t now)
{
	uint8_t *m = pkt + q->dns_off;
	size_t limit = reply_limit(q, cap), room, len;
	uint16_t counts[3];

	size_t opt = q->edns ? WIRE_OPT_RR_LEN + (size_t)q->extra_len : 0;

	if (limit < (size_t)q->question_end + opt)
		return -PUNT_TOO_BIG;
	room = limit - q->question_end - opt;
	int n = entry_write_group(e, q->group, step, now, m + q->question_end, room, counts);

	if (n < 0)
		return -PUNT_TOO_BIG;
	len = q->question_end + (size_t)n;
	put_header(m, (uint16_t)(WIRE_QR | e->hdr_flags | (e->rcode & 0xf)), counts[0], counts[1],
		   (uint16_t)(counts[2] + q->edns));
	if (q->edns) {
		uint8_t *o = m + len;

		o[0] = 0;
		wire_write16(o + 1, TYPE_OPT);
		wire_write16(o + 3, WIRE_EDNS_UDP);
		wire_write32(o + 5, q->edns_do ? WIRE_EDNS_DO : 0);
		wire_write16(o + 9, q->extra_len);
		memcpy(o + WIRE_OPT_RR_LEN, q->extra, q->extra_len);
		len += WIRE_OPT_RR_LEN + q->extra_len;
	}
	swap_addresses(pkt, q);
	finish_headers(pkt, q, len);
	return (int)(q->dns_off + len);
}

void frame_topology(struct frame_query *q, const uint8_t *pkt, const struct entry_topo *t,
		    unsigned ntopo)
{
	uint32_t a[4] = {0};
	unsigned family, scope;

	if (q->ecs_len) {
		/* a valid option (frame_parse): family 1 or 2, the address
		 * bytes its SOURCE PREFIX-LENGTH needs, zero beyond */
		family = q->ecs[5];
		memcpy(a, q->ecs + 8, q->ecs_len - 8u);
	} else {
		family = q->v6 ? 2 : 1;
		memcpy(a, pkt + q->l3_off + (q->v6 ? 8 : 12), q->v6 ? 16 : 4);
	}
	q->group = (uint8_t)entry_topo_match(t, ntopo, family, a, &scope);
	if (q->ecs_len)
		q->ecs[7] = (uint8_t)scope;
}

int frame_answer(uint8_t *pkt, size_t cap, const struct frame_query *q,
		 const struct frame_entry *e, unsigned step)
{
	const struct frame_topo *t = e->topo;
	unsigned vi = t ? t->base[q->group] + step % t->n[q->group] : e->step_variant[step];
	const struct entry_variant *v = &e->variant[vi];
	uint16_t an = t ? t->an[q->group] : e->ancount;
	uint8_t *m = pkt + q->dns_off;
	size_t n = v->len + (q->edns ? WIRE_OPT_RR_LEN + (size_t)q->extra_len : 0);
	uint32_t sum;

	if (q->question_end + n > reply_limit(q, cap))
		return -PUNT_TOO_BIG;
	/* the variant and, with EDNS, its OPT template in one copy */
	memcpy(m + q->question_end, e->bytes + v->off, n - q->extra_len);
	if (q->edns_do)
		m[q->question_end + v->len + ENTRY_OPT_DO_OFF] = WIRE_EDNS_DO >> 8;
	put_header(m, e->flags, an, e->nscount, (uint16_t)(e->arcount + q->edns));
	swap_addresses(pkt, q);
	/* the header and question from the frame, the rest precomputed */
	sum = frame_csum_add(0, m, q->question_end);
	if (!q->extra_len) {
		sum += v->sum[q->edns ? 1 + q->edns_do : 0];
	} else {
		/* the OPT carries options (COOKIE, ECS): sum it where it sits */
		uint8_t *opt = m + q->question_end + v->len;
		uint32_t o;

		wire_write16(opt + 9, q->extra_len);
		memcpy(opt + WIRE_OPT_RR_LEN, q->extra, q->extra_len);
		o = frame_csum_add(0, opt, WIRE_OPT_RR_LEN + (size_t)q->extra_len);
		if ((q->question_end + v->len) & 1)
			o = (o & 0xff) << 8 | o >> 8;
		sum += v->sum[0] + o;
	}
	finish_headers_sum(pkt, q, q->question_end + n, sum);
	return (int)(q->dns_off + q->question_end + n);
}

static void *zeroed(void *arg, size_t size)
{
	(void)arg;
	return calloc(1, size);
}

struct frame_entry *frame_entry_build(const struct entry *e)
{
	return frame_entry_build_in(e, zeroed, NULL);
}

struct frame_entry *frame_entry_build_in(const struct entry *e,
					 void *(*alloc)(void *arg, size_t size), void *arg)
{
	static struct entry_prebuilt pb; /* publish time: the main thread only */
	static uint8_t bytes[FRAME_VARIANT_BYTES_MAX];
	size_t words = (e->name_len + 7u) / 8;
	int used = entry_prebuild(e, &pb, bytes, sizeof(bytes));
	size_t head = sizeof(struct frame_entry) + words * 8;
	size_t topo = e->ngroups ? sizeof(struct frame_topo) : 0;
	struct frame_entry *f;
	uint8_t *p;

	if (used < 0) {
		/* expires, or too large: keep the lib entry and assemble per hit */
		size_t size = head + topo + sizeof(struct entry) + 64;

		f = alloc(arg, size);
		if (!f)
			return NULL;
		f->size = (uint32_t)size;
		struct entry *copy =
			(struct entry *)(((uintptr_t)f + head + topo + 63) & ~(uintptr_t)63);

		memcpy(copy, e, sizeof(*copy));
		f->slow = copy;
		f->sched_len = e->sched_len ? e->sched_len : 1;
		p = (uint8_t *)f + head;
	} else {
		size_t vsz = pb.nvariants * sizeof(struct entry_variant);
		size_t size = head + topo + vsz + pb.sched_len + (size_t)used;

		f = alloc(arg, size);
		if (!f)
			return NULL;
		f->size = (uint32_t)size;
		f->variant_bytes = (uint32_t)used;
		p = (uint8_t *)f + head + topo;
		memcpy(p, pb.v, vsz);
		f->variant = (const struct entry_variant *)p;
		p += vsz;
		memcpy(p, pb.step_variant, pb.sched_len);
		f->step_variant = p;
		p += pb.sched_len;
		memcpy(p, bytes, (size_t)used);
		f->bytes = p;
		f->sched_len = pb.sched_len;
		f->flags = pb.flags;
		f->ancount = pb.ancount;
		f->nscount = pb.nscount;
		f->arcount = pb.arcount;
		p = (uint8_t *)f + head;
	}
	if (topo) {
		/* head is a multiple of 8: the table's words are aligned */
		struct frame_topo *t = (struct frame_topo *)(void *)p;

		t->ntopo = e->ntopo;
		t->ngroups = e->ngroups;
		memcpy(t->t, e->topo, sizeof(t->t));
		if (!f->slow) {
			memcpy(t->base, pb.group_base, sizeof(t->base));
			memcpy(t->n, pb.group_n, sizeof(t->n));
			memcpy(t->an, pb.group_an, sizeof(t->an));
		}
		f->topo = t;
	}
	f->digest = e->digest;
	f->qtype = e->qtype;
	f->qclass = e->qclass;
	f->name_len = e->name_len;
	f->name_words = (uint8_t)words;
	f->rot_id = e->rot_id;
	memcpy(f->name, e->name, e->name_len);
	return f;
}

int frame_slip(uint8_t *pkt, const struct frame_query *q, uint16_t flags)
{
	uint8_t *m = pkt + q->dns_off;

	put_header(m, (uint16_t)(flags | WIRE_TC), 0, 0, 0);
	swap_addresses(pkt, q);
	finish_headers(pkt, q, q->question_end);
	return (int)(q->dns_off + q->question_end);
}

void frame_reflect(uint8_t *pkt, const struct frame_query *q)
{
	swap_addresses(pkt, q);
}

volatile uint32_t frame_responder_sink;

int frame_respond_fixed(uint8_t *pkt, size_t len, size_t cap, const uint8_t *answer,
			size_t alen)
{
	static const struct frame_query q4 = {.l3_off = 14, .l4_off = 34, .dns_off = 42};
	const size_t dns = q4.dns_off;
	size_t pos = dns + WIRE_HDR_LEN;
	uint32_t seen = 0;

	/* the question: every byte read, as a parser would */
	while (pos < len && pkt[pos] != 0 && !(pkt[pos] & 0xc0)) {
		for (size_t i = pos + 1; i <= pos + pkt[pos] && i < len; i++)
			seen += pkt[i];
		pos += 1 + (size_t)pkt[pos];
	}
	pos += 5; /* root label, type, class */
	if (pos > len || pos + alen > cap)
		return -PUNT_TOO_BIG;
	memcpy(pkt + pos, answer, alen);
	frame_responder_sink = seen; /* the reads count */
	pkt[dns + 2] = (uint8_t)(0x84 | (pkt[dns + 2] & 0x01)); /* QR AA RD */
	pkt[dns + 3] = 0;
	wire_write16(pkt + dns + 6, 1);
	swap_addresses(pkt, &q4);
	finish_headers(pkt, &q4, pos + alen - dns);
	return (int)(pos + alen);
}

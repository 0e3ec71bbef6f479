// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* carousel.bpf.c -- the XDP fast path: answer queries for published
 * entries in the driver (XDP_TX), pass everything else to the kernel
 * untouched (XDP_PASS), drop only frames whose lengths lie. The same
 * checks and the same answer bytes as the DPDK path (dataplane/frame.c). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "carousel_xdp.h"
#include "entry_hash.h"
#include "rrl_bucket.h"
#include "siphash_round.h"

#define CONTINUE -1
#define DNS_HLEN 12
#define OPT_LEN 11
#define UDP_MIN 512
#define EDNS_UDP 1232

const volatile __u32 our_ip4 = 0; /* network order; 0: none */
const volatile __u8 our_ip6[16] = {};
const volatile __u8 has_ip6 = 0;
const volatile __u16 our_port = 53;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDP_ENTRIES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct xdp_entry);
} entries SEC(".maps");

/* the small class (carousel_xdp.h struct xdp_small): a key lives in this
 * map or in entries, never both; the loader sets the same capacity */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDP_ENTRIES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct xdp_small);
} entries_small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_policy);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* about 900 sampled exchanges */
} tap_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDP_RRL_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} rrl_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XC_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_ROT_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} rot SEC(".maps");

#define HEAD_MOVE_MAX 384 /* headers + DNS header + question, moved to grow */

struct scratch {
	__u8 raw[XDP_NAME_MAX + 8]; /* the question as it came: name, type, class */
	__u8 front[HEAD_MOVE_MAX];
	__u8 name[XDP_NAME_MAX];
	__u8 opt[72];  /* an OPT with COOKIE and ECS, built to store in one go */
	__u8 ecs[32];  /* the query's ECS option, whole: code, length, data */
	__u8 cookie[64];     /* the query's COOKIE data: client cookie, server cookie */
	__u8 cookie_out[24]; /* ours: client cookie, server cookie */
	__u64 sip[5];        /* SipHash input: client cookie, head, address */
	__u32 tap_count;     /* answers since the last one sampled for dnstap */
	__u32 tap_pending;   /* this answer is sampled: copy the reply too */
	struct xdp_tap tap;  /* the sampled exchange's query, until it is answered */
	__u8 ttl[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct query {
	__u32 l3, l4, dns, dns_len; /* offsets and the DNS length from UDP */
	__u32 qend;                 /* question end, from the DNS start */
	__u32 name_len;
	__u64 digest;
	__u32 qsum; /* RFC 1071 sum of the question's bytes (they stay) */
	__u16 qtype, qclass, edns_udp;
	__u8 v6, edns, edns_do;
	__u8 ecs_len; /* the query's ECS option (in scratch), echoed with SCOPE 0 */
	__u8 cookie_len; /* the query's COOKIE data (in scratch), cookies on */
	__u8 group;      /* topology: the client's group (topo_step), else 0 */
};

static __always_inline int count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &c);

	if (v)
		*v += 1;
	return CONTINUE;
}

static __always_inline int pass(__u32 c)
{
	count(c);
	return XDP_PASS;
}

static __always_inline __u32 fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	return (sum & 0xffff) + (sum >> 16);
}

static __always_inline __u16 swap16(__u16 v)
{
	return (__u16)(v >> 8 | v << 8);
}


/* keep the compiler from dropping a bound the verifier needs to see */
#define fence(v) asm volatile("" : "+r"(v))

/* Ethernet (+1 VLAN), IPv4/IPv6, UDP to us. */
static __always_inline int parse_l2_l4(struct xdp_md *ctx, struct query *q)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u16 proto;

	if ((void *)(eth + 1) > end)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		__u16 *inner = data + off + 2;

		if ((void *)(inner + 1) > end)
			return count(XC_DROP_BAD_LENGTH), XDP_DROP;
		proto = *inner;
		off += 4;
	}
	q->l3 = off;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > end)
			return count(XC_DROP_BAD_LENGTH), XDP_DROP;
		if (ip->version != 4)
			return pass(XC_PUNT_NOT_IP);
		if (ip->ihl != 5)
			return pass(XC_PUNT_IP_OPTIONS);
		if (ip->frag_off & bpf_htons(0x3fff))
			return pass(XC_PUNT_FRAGMENT);
		if (ip->protocol != IPPROTO_UDP)
			return pass(XC_PUNT_NOT_UDP);
		if (our_ip4 == 0 || ip->daddr != our_ip4)
			return pass(XC_PUNT_NOT_OURS);
		if (off + bpf_ntohs(ip->tot_len) > (__u32)(end - data) || bpf_ntohs(ip->tot_len) < 28)
			return count(XC_DROP_BAD_LENGTH), XDP_DROP;
		q->v6 = 0;
		off += sizeof(*ip);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return count(XC_DROP_BAD_LENGTH), XDP_DROP;
		if (ip6->version != 6)
			return pass(XC_PUNT_NOT_IP);
		if (ip6->nexthdr == 44)
			return pass(XC_PUNT_FRAGMENT);
		if (ip6->nexthdr == 0 || ip6->nexthdr == 43 || ip6->nexthdr == 60)
			return pass(XC_PUNT_IP_OPTIONS);
		if (ip6->nexthdr != IPPROTO_UDP)
			return pass(XC_PUNT_NOT_UDP);
		if (!has_ip6)
			return pass(XC_PUNT_NOT_OURS);
		for (int i = 0; i < 16; i++)
			if (ip6->daddr.in6_u.u6_addr8[i] != our_ip6[i])
				return pass(XC_PUNT_NOT_OURS);
		if (off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > (__u32)(end - data))
			return count(XC_DROP_BAD_LENGTH), XDP_DROP;
		q->v6 = 1;
		off += sizeof(*ip6);
	} else {
		return pass(XC_PUNT_NOT_IP);
	}
	q->l4 = off;
	struct udphdr *udp = data + off;

	if ((void *)(udp + 1) > end)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	__u32 ulen = bpf_ntohs(udp->len);

	if (ulen < sizeof(*udp) || off + ulen > (__u32)(end - data))
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	if (udp->dest != bpf_htons(our_port))
		return pass(XC_PUNT_NOT_OURS);
	q->dns = off + sizeof(*udp);
	q->dns_len = ulen - sizeof(*udp);
	return CONTINUE;
}

struct label_walk {
	const struct scratch *s;
	__u32 avail, pos;
	int done;
};

/* One label of the question name: its length byte, then a jump over it. */
static int label_step(__u32 i, void *arg)
{
	struct label_walk *w = arg;
	__u32 p = w->pos;

	(void)i;
	if (p >= w->avail || p >= XDP_NAME_MAX)
		return 1;
	__u8 c = w->s->raw[p & (XDP_NAME_MAX - 1)];

	if (c & 0xc0)
		return 1; /* pointers: carouseld judges (done stays 0) */
	w->pos = p + 1 + c;
	if (c == 0)
		w->done = 1;
	return w->done;
}

/* RFC 7871 6 (lib/wire.c wire_ecs_valid): one ECS, family 1 or 2, SOURCE
 * PREFIX-LENGTH within it, SCOPE 0, exactly the address bytes the prefix
 * needs and no bits beyond it; kept whole in scratch for the echo. */
static __always_inline int ecs_check(struct xdp_md *ctx, struct query *q, struct scratch *s,
				     __u32 pos, __u32 olen)
{
	if (q->ecs_len || olen < 4 || olen > 20)
		return 1;
	__u32 n = 4 + olen;

	fence(n);
	n &= 31;
	__builtin_memset(s->ecs, 0, sizeof(s->ecs)); /* put_opt copies all of it */
	if (n < 8 || bpf_xdp_load_bytes(ctx, pos, s->ecs, n) != 0)
		return 1;
	__u32 family = (__u32)(s->ecs[4] << 8 | s->ecs[5]), source = s->ecs[6];
	__u32 alen = (source + 7) / 8, max = family == 1 ? 32 : 128;

	if ((family != 1 && family != 2) || source > max || s->ecs[7] != 0 || olen != 4 + alen)
		return 1;
	if (source % 8 && (s->ecs[(8 + alen - 1) & 31] & (0xff >> (source % 8))))
		return 1;
	q->ecs_len = (__u8)n;
	return 0;
}

struct opt_walk {
	struct xdp_md *ctx;
	struct query *q;
	struct scratch *s;
	__u32 pos, end;
	int cookies, punt;
};

/* One EDNS option, checked as carouseld checks them (lib/wire.c): the
 * cookie answer follows `cookies:` and two COOKIEs are carouseld's
 * FORMERR; one well-formed ECS is echoed, anything else about it is
 * FORMERR; the rest are ignored once they parse. */
static int opt_step(__u32 i, void *arg)
{
	struct opt_walk *w = arg;
	void *data = (void *)(long)w->ctx->data, *end = (void *)(long)w->ctx->data_end;
	__u32 pos = w->pos;

	(void)i;
	if (pos >= w->end)
		return 1;
	__u8 *op = data + (pos & 0x3fff);

	if ((void *)(op + 4) > end) {
		w->punt = 1;
		return 1;
	}
	__u32 olen = (__u32)(op[2] << 8 | op[3]);

	if (op[0] == 0 && op[1] == 10) {
		__u32 zero = 0;
		const struct xdp_policy *k = bpf_map_lookup_elem(&policy, &zero);

		if (w->cookies++ || !k) {
			w->punt = 1;
			return 1;
		}
		/* cookies on: 8 bytes of client cookie, optionally 8..32 of
		 * ours; any other length is carouseld's FORMERR */
		if (k->enable) {
			__u32 cl = olen;

			fence(cl);
			cl &= 63;
			if ((olen != 8 && (olen < 16 || olen > 40)) || cl < 8 ||
			    bpf_xdp_load_bytes(w->ctx, pos + 4, w->s->cookie, cl) != 0) {
				w->punt = 1;
				return 1;
			}
			w->q->cookie_len = (__u8)olen;
		}
	}
	if (op[0] == 0 && op[1] == 8 && ecs_check(w->ctx, w->q, w->s, pos, olen)) {
		w->punt = 1;
		return 1;
	}
	w->pos = pos + 4 + olen;
	return 0;
}

/* One question, uncompressed name (lower-cased into scratch, digested),
 * at most one OPT whose options parse; nothing after. */
static __always_inline int parse_dns(struct xdp_md *ctx, struct query *q, struct scratch *s)
{
	int ret;

	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 *m = data + q->dns;

	if (q->dns > 0xffff || (void *)(m + DNS_HLEN) > end || q->dns_len < DNS_HLEN)
		return pass(XC_PUNT_DNS_HEADER);
	/* flags: QR, TC, opcode; counts: 1, 0, 0, <= 1 */
	if ((m[2] & 0x80) || (m[2] & 0x02) || (m[2] & 0x78) || m[4] || m[5] != 1 || m[6] || m[7] ||
	    m[8] || m[9] || m[10] || m[11] > 1)
		return pass(XC_PUNT_DNS_HEADER);
	/* copy the question out once, then walk it in a bpf_loop (one
	 * verification of the body instead of one per byte) */
	__u32 avail = q->dns_len - DNS_HLEN;

	if (avail > XDP_NAME_MAX + 4)
		avail = XDP_NAME_MAX + 4;
	if (avail < 5 || bpf_xdp_load_bytes(ctx, q->dns + DNS_HLEN, s->raw, avail) != 0)
		return pass(XC_PUNT_QNAME);
	struct label_walk lw = {.s = s, .avail = avail};

	bpf_loop(XDP_NAME_MAX / 2, label_step, &lw, 0);
	if (!lw.done || lw.pos > 255 || lw.pos + 4 > avail)
		return pass(XC_PUNT_QNAME);
	/* then the name eight bytes a step: summed as it came (the answer's
	 * checksum), folded into scratch, mixed into the key */
	__u32 n = lw.pos, pos = q->dns + DNS_HLEN + n, qsum;
	__u64 h = ENTRY_HASH_SEED, le = 0;

	for (int i = 0; i < XDP_NAME_MAX / 8; i++) {
		__u32 o = (__u32)i * 8;

		if (o >= n)
			break;
		__u64 w = *(const __u64 *)(s->raw + o);
		__u32 rest = n - o;

		if (rest < 8) /* little-endian: keep the low `rest` bytes */
			w &= (1ULL << (rest * 8)) - 1;
		le += (w & 0xffff) + ((w >> 16) & 0xffff) + ((w >> 32) & 0xffff) + (w >> 48);
		w = entry_fold_case8(w);
		*(__u64 *)(s->name + o) = w;
		h = entry_hash_word(h, w);
	}
	/* the little-endian words' sum is the byte-swapped sum (RFC 1071) */
	qsum = swap16((__u16)fold32(fold32((__u32)le + (__u32)(le >> 32))));
	fence(n);
	n &= XDP_NAME_MAX - 1;
	const __u8 *t = s->raw + n; /* type and class, from the copy */

	q->name_len = lw.pos;
	q->qtype = (__u16)(t[0] << 8 | t[1]);
	q->qclass = (__u16)(t[2] << 8 | t[3]);
	q->digest = entry_hash_finish(h, q->qtype, q->qclass);
	for (int i = 0; i < 4; i++)
		qsum += (pos + i - q->dns) & 1 ? t[i] : (__u32)t[i] << 8;
	q->qsum = qsum;
	pos += 4;
	q->qend = pos - q->dns;
	q->edns = 0;
	q->edns_do = 0;
	q->ecs_len = 0;
	q->cookie_len = 0;
	__u32 msg_end = q->dns + q->dns_len;

	if (m[11] == 1) {
		__u8 *o = data + (pos & 0x3fff);

		if ((void *)(o + OPT_LEN) > end || o[0] != 0 || o[1] != 0 || o[2] != 41 || o[6] != 0)
			return pass(XC_PUNT_EDNS);
		__u32 rdlen = (__u32)(o[9] << 8 | o[10]);

		q->edns_udp = (__u16)(o[3] << 8 | o[4]);
		q->edns_do = (o[7] & 0x80) != 0;
		pos += OPT_LEN;
		if (pos + rdlen != msg_end)
			return pass(XC_PUNT_EDNS);
		/* options: {code, length, data}, one bpf_loop step each */
		struct opt_walk ow = {.ctx = ctx, .q = q, .s = s, .pos = pos, .end = msg_end};

		bpf_loop(16, opt_step, &ow, 0);
		if (ow.punt)
			return pass(XC_PUNT_EDNS);
		pos = ow.pos;
		if (pos != msg_end)
			return pass(XC_PUNT_EDNS);
		q->edns = 1;
	}
	if (pos != msg_end)
		return pass(XC_PUNT_DNS_HEADER);
	return CONTINUE;
}

/* A piece's sum (computed for an even start) placed at offset off: bytes
 * at odd offsets swap within their words (RFC 1071 2(B)). */
static __always_inline __u32 add_piece(__u32 sum, __u16 piece, __u32 off)
{
	return fold32(sum + (off & 1 ? swap16(piece) : piece));
}

static __always_inline __u16 sum32(__u32 v)
{
	return (__u16)fold32((v >> 16) + (v & 0xffff));
}

/* Replace the 4-byte TTL at off (old value old) by ttl, fixing the sum. */
static __always_inline int put_ttl(struct xdp_md *ctx, struct scratch *s, __u32 off, __u32 old,
				   __u32 ttl, __u32 *sum, __u32 dns_off)
{
	s->ttl[0] = ttl >> 24;
	s->ttl[1] = ttl >> 16;
	s->ttl[2] = ttl >> 8;
	s->ttl[3] = ttl;
	*sum = add_piece(*sum, sum32(ttl), off - dns_off);
	*sum = add_piece(*sum, (__u16)~sum32(old), off - dns_off);
	return bpf_xdp_store_bytes(ctx, off & 0xffff, s->ttl, 4);
}

static __always_inline __u32 be32_at(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Swap addresses and ports, set lengths and both checksums; sum holds the
 * DNS message's RFC 1071 sum (offsets from the DNS start). */
static __always_inline int finish_headers(struct xdp_md *ctx, const struct query *q,
					  __u32 dns_len, __u32 sum)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];
	__u32 ulen = sizeof(struct udphdr) + dns_len;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	if (q->l3 > 18 || q->l4 > 58)
		return XDP_DROP;
	struct udphdr *udp = data + q->l4;

	if ((void *)(udp + 1) > end)
		return XDP_DROP;
	if (q->v6) {
		struct ipv6hdr *ip6 = data + q->l3;
		struct in6_addr a;

		if ((void *)(ip6 + 1) > end)
			return XDP_DROP;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->payload_len = bpf_htons(ulen);
		ip6->hop_limit = 64;
		for (int i = 0; i < 8; i++)
			sum = fold32(sum + bpf_ntohs(ip6->saddr.in6_u.u6_addr16[i]) +
				     bpf_ntohs(ip6->daddr.in6_u.u6_addr16[i]));
	} else {
		struct iphdr *ip = data + q->l3;
		__u32 a, hs = 0;

		if ((void *)(ip + 1) > end)
			return XDP_DROP;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->tot_len = bpf_htons(sizeof(*ip) + ulen);
		ip->ttl = 64;
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000);
		ip->check = 0;
		__u16 *w = (__u16 *)ip;

		for (int i = 0; i < 10; i++)
			hs += bpf_ntohs(w[i]);
		ip->check = bpf_htons((__u16)~fold32(hs));
		sum = fold32(sum + sum32(bpf_ntohl(ip->saddr)) + sum32(bpf_ntohl(ip->daddr)));
	}
	__u16 p = udp->source;

	udp->source = udp->dest;
	udp->dest = p;
	udp->len = bpf_htons(ulen);
	/* pseudo-header protocol and length, then the UDP header itself */
	sum = fold32(sum + IPPROTO_UDP + ulen);
	sum = fold32(sum + bpf_ntohs(udp->source) + bpf_ntohs(udp->dest) + ulen);
	__u16 c = (__u16)~fold32(sum);

	udp->check = bpf_htons(c ? c : 0xffff);
	return XDP_TX;
}

/* State shared with the bpf_loop bodies below (verified once each). */
struct emit {
	struct xdp_md *ctx;
	const struct xdp_entry *e;
	struct scratch *s;
	__u32 dns, at, first, n, k, emitted, rr_len, head, left, sum, base, tail_src, tail_dst;
	int err;
};

/* Rotated record i of the walk: member (first + i) mod n, if live. */
static int emit_rr(__u32 i, void *arg)
{
	struct emit *x = arg;
	const struct xdp_entry *e = x->e;

	if (i >= x->n || x->emitted >= x->k)
		return 1;
	__u32 m = x->first + i;

	if (m >= x->n)
		m -= x->n;
	fence(m);
	m &= XDP_RR_MAX - 1;
	if (!e->live[m])
		return 0;
	__u32 rr_len = x->rr_len, src = x->head + m * rr_len;

	if (src > XDP_BYTES_MAX || rr_len == 0 || rr_len > XDP_RR_LEN_MAX) {
		x->err = 1;
		return 1;
	}
	fence(src);
	src &= 2047; /* <= 1200 already: a bound the verifier keeps */
	fence(rr_len);
	rr_len &= 31;
	if (rr_len == 0)
		return 1;
	if (bpf_xdp_store_bytes(x->ctx, x->at & 0xffff, (void *)(e->bytes + src), rr_len) != 0) {
		x->err = 1;
		return 1;
	}
	x->sum = add_piece(x->sum, e->rr_sum[m], x->at - x->dns);
	if (e->expires_ns) {
		__u32 off = e->rr_ttl_off & 31, o = src + off;

		if (o > XDP_BYTES_MAX) {
			x->err = 1;
			return 1;
		}
		fence(o);
		o &= 2047;
		put_ttl(x->ctx, x->s, x->at + off, be32_at(e->bytes + o),
			x->left < e->rr_ttl ? x->left : e->rr_ttl, &x->sum, x->dns);
	}
	x->at += rr_len;
	x->emitted++;
	return 0;
}

/* TTL i of the head or tail of a cached entry: the time left. */
static int emit_ttl(__u32 i, void *arg)
{
	struct emit *x = arg;
	const struct xdp_entry *e = x->e;

	if (i >= e->nttl || i >= XDP_TTL_MAX)
		return 1;
	__u32 idx = i;

	fence(idx);
	idx &= 127;
	if (idx >= XDP_TTL_MAX)
		return 1;
	__u32 src = e->ttl_off[idx], ttl = e->ttl[idx], dst = src;

	if (src > XDP_BYTES_MAX) {
		x->err = 1;
		return 1;
	}
	fence(src);
	src &= 2047;
	if (src >= x->tail_src)
		dst = src - x->tail_src + x->tail_dst;
	put_ttl(x->ctx, x->s, x->base + dst, be32_at(e->bytes + src), x->left < ttl ? x->left : ttl,
		&x->sum, x->dns);
	return 0;
}

/* Make the frame dns_len bytes of DNS long. */
static __always_inline int grow(struct xdp_md *ctx, const struct query *q, struct scratch *s,
				__u32 dns_len)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	int delta = (int)(q->dns + dns_len) - (int)(end - data);

	if (bpf_xdp_adjust_tail(ctx, delta) != 0) {
		/* No tailroom (veth hands over the sender's skb as it is):
		 * grow at the front instead, where XDP guarantees headroom, and
		 * move headers and question there. Offsets stay as they were. */
		__u32 keep = q->dns + q->qend;

		if (delta <= 0 || delta > 256 || keep > HEAD_MOVE_MAX || keep == 0)
			return pass(XC_PUNT_TOO_BIG);
		fence(keep);
		keep &= 511;
		if (keep == 0 || keep > HEAD_MOVE_MAX)
			return pass(XC_PUNT_TOO_BIG);
		if (bpf_xdp_load_bytes(ctx, 0, s->front, keep) != 0 ||
		    bpf_xdp_adjust_head(ctx, -delta) != 0)
			return pass(XC_PUNT_TOO_BIG);
		if (bpf_xdp_store_bytes(ctx, 0, s->front, keep) != 0)
			return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	}
	return CONTINUE;
}

/* ---- DNS Cookies (RFC 7873, RFC 9018 server cookies: lib/cookie.c) ---- */


/* SipHash-2-4 of the len (20 or 32) bytes in s->sip, zero beyond them
 * (little-endian words: this program runs on little-endian hosts). */
static __always_inline __u64 siphash24(const __u8 *key, const struct scratch *s, __u32 len)
{
	__u64 k0 = *(const __u64 *)key, k1 = *(const __u64 *)(key + 8);
	__u64 v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	__u64 v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	__u64 b = (__u64)len << 56;

	for (int i = 0; i < 4; i++) {
		if ((__u32)i * 8 + 8 > len)
			break;
		__u64 m = s->sip[i];

		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	if (len & 7)
		b |= s->sip[(len / 8) & 3]; /* the last bytes, zero-padded */
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct sip_call {
	const __u8 *key;
	const struct scratch *s;
	__u32 len;
	__u64 mac;
};

/* siphash24 as a bpf_loop body: verified once, whichever caller. */
static int sip_step(__u32 i, void *arg)
{
	struct sip_call *c = arg;

	(void)i;
	c->mac = siphash24(c->key, c->s, c->len);
	return 1;
}

static __always_inline __u64 sip(const __u8 *key, const struct scratch *s, __u32 len)
{
	struct sip_call c = {.key = key, .s = s, .len = len};

	bpf_loop(1, sip_step, &c, 0);
	return c.mac;
}

/* The server cookie the client sent back, checked with one secret:
 * 0 not ours (or malformed, old, from the future), 1 fresh, 2 worn (older
 * than half an hour: renew). s->sip holds client cookie and address. */
static __always_inline int cookie_check(const __u8 *secret, struct scratch *s, __u32 slen,
					__u32 iplen, __u32 now)
{
	const __u8 *server = s->cookie + 8;

	if (slen != 16 || server[0] != 1)
		return 0;
	__u32 ts = (__u32)server[4] << 24 | (__u32)server[5] << 16 | (__u32)server[6] << 8 |
		   server[7];
	__s32 age = (__s32)(now - ts); /* serial arithmetic: survives the wrap */

	if (age > 3600 || age < -300)
		return 0;
	s->sip[1] = *(const __u64 *)server; /* version, reserved, timestamp as sent */
	if (sip(secret, s, 16 + iplen) != *(const __u64 *)(server + 8))
		return 0;
	return age > 1800 ? 2 : 1;
}

/* The COOKIE option's data for the reply, into s->cookie_out: the client
 * cookie, then the client's server cookie if fresh and ours, else a new
 * one (engine.c do_cookie). */
static __always_inline int make_cookie(struct xdp_md *ctx, const struct query *q,
				       struct scratch *s, int *valid)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	const struct xdp_policy *k = bpf_map_lookup_elem(&policy, &zero);

	if (!k)
		return XDP_DROP;
	__u32 iplen = q->v6 ? 16 : 4, slen = q->cookie_len - 8;
	__u32 now = (__u32)((bpf_ktime_get_tai_ns() - (__u64)k->tai_offset_ns) / 1000000000ULL);
	int st = 0;

	if (q->l3 > 18)
		return XDP_DROP;
	__u8 *ip = data + q->l3 + (q->v6 ? 8 : 12);

	if ((void *)(ip + 16) > end)
		return XDP_DROP;
	s->sip[0] = *(const __u64 *)s->cookie; /* the client cookie */
	s->sip[2] = 0;
	s->sip[3] = 0;
	s->sip[4] = 0;
	__builtin_memcpy((__u8 *)s->sip + 16, ip, 4);
	if (q->v6)
		__builtin_memcpy((__u8 *)s->sip + 20, ip + 4, 12);
	if (slen) {
		st = cookie_check(k->secret, s, slen, iplen, now);
		if (st == 0 && k->has_previous && cookie_check(k->previous, s, slen, iplen, now))
			st = 2; /* valid under the old secret: renew */
	}
	*valid = st != 0;
	__builtin_memcpy(s->cookie_out, s->cookie, 8);
	if (st == 1) {
		__builtin_memcpy(s->cookie_out + 8, s->cookie + 8, 16);
		return CONTINUE;
	}
	__u8 *head = (__u8 *)&s->sip[1];

	head[0] = 1;
	head[1] = 0;
	head[2] = 0;
	head[3] = 0;
	head[4] = now >> 24;
	head[5] = now >> 16;
	head[6] = now >> 8;
	head[7] = now;
	__u64 mac = sip(k->secret, s, 16 + iplen);

	__builtin_memcpy(s->cookie_out + 8, head, 8);
	__builtin_memcpy(s->cookie_out + 16, &mac, 8); /* SipHash's little-endian output */
	return CONTINUE;
}

/* Our OPT record at `at`, with our COOKIE (s->cookie_out) and the query's
 * ECS echoed (SCOPE 0: fast-path
 * answers do not depend on the client's subnet), stored in one go and its
 * sum added where it sits. */
static __always_inline int put_opt(struct xdp_md *ctx, const struct query *q,
				   struct scratch *s, __u32 at, __u32 *sum)
{
	__u32 c = q->cookie_len ? 4 + 24 : 0, n = OPT_LEN + c + q->ecs_len, piece = 0;
	/* fixed-size work, no branch on the lengths: the verifier walks
	 * it once (zeros beyond n add nothing to the sum) */
	__builtin_memset(s->opt, 0, sizeof(s->opt));
	if (!q->ecs_len)
		__builtin_memset(s->ecs, 0, sizeof(s->ecs));
	s->opt[2] = 41;
	s->opt[3] = EDNS_UDP >> 8;
	s->opt[4] = EDNS_UDP & 0xff;
	s->opt[7] = q->edns_do ? 0x80 : 0;
	s->opt[10] = c + q->ecs_len;
	if (c) { /* COOKIE first, as carouseld writes them */
		s->opt[OPT_LEN + 1] = 10;
		s->opt[OPT_LEN + 3] = 24;
		__builtin_memcpy(s->opt + OPT_LEN + 4, s->cookie_out, 24);
		__builtin_memcpy(s->opt + OPT_LEN + 28, s->ecs, 24);
	} else {
		__builtin_memcpy(s->opt + OPT_LEN, s->ecs, 24);
	}
	for (int i = 0; i < (int)sizeof(s->opt); i += 2)
		piece += (__u32)s->opt[i] << 8 | s->opt[i + 1];
	fence(n);
	n &= 63;
	if (n < OPT_LEN || bpf_xdp_store_bytes(ctx, at & 0xffff, s->opt, n) != 0)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	*sum = add_piece(*sum, (__u16)fold32(piece), at - q->dns);
	if (c)
		count(XC_COOKIE);
	if (q->ecs_len)
		count(XC_ECS);
	return CONTINUE;
}

/* QR, AA, RD and CD, rcode and the counts; ID and question stay. */
static __always_inline int put_header(struct xdp_md *ctx, const struct query *q, __u16 flags,
				      __u16 an, __u16 ns, __u16 ar, __u32 *sum)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	if (q->dns > 62)
		return XDP_DROP;
	__u8 *m = data + q->dns;

	if ((void *)(m + DNS_HLEN) > end)
		return XDP_DROP;
	m[2] = (flags >> 8) | (m[2] & 0x01);
	m[3] = (flags & 0xff) | (m[3] & 0x10);
	m[6] = an >> 8;
	m[7] = an & 0xff;
	m[8] = ns >> 8;
	m[9] = ns & 0xff;
	m[10] = ar >> 8;
	m[11] = ar & 0xff;
	for (int i = 0; i < DNS_HLEN; i += 2)
		*sum = fold32(*sum + ((__u32)m[i] << 8 | m[i + 1]));
	return CONTINUE;
}

/* Response rate limiting as carouseld does it (lib/rrl_bucket.h), with
 * one table for all CPUs (a compare-and-swap per answer), so the limit is
 * the configured one, not one per CPU. */
static __always_inline int rrl_check(struct xdp_md *ctx, const struct query *q,
				     const struct xdp_policy *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 addr[16] = {};

	if (q->l3 > 18)
		return RRL_PASS;
	__u8 *ip = data + q->l3 + (q->v6 ? 8 : 12);

	if ((void *)(ip + 16) > end)
		return RRL_PASS;
	__builtin_memcpy(addr, ip, 4);
	if (q->v6)
		__builtin_memcpy(addr + 4, ip + 4, 12);
	__u64 h = rrl_prefix_hash(addr, q->v6, q->v6 ? p->rrl_v6_prefix : p->rrl_v4_prefix);
	__u32 sec = (__u32)((bpf_ktime_get_tai_ns() - (__u64)p->tai_offset_ns) / 1000000000ULL);
	__u32 idx = (__u32)h & (XDP_RRL_SLOTS - 1);
	__u64 *b = bpf_map_lookup_elem(&rrl_buckets, &idx);

	if (!b)
		return RRL_PASS;
	for (int tries = 0; tries < 4; tries++) {
		__u64 old = *(volatile __u64 *)b, next = rrl_bucket_next(old, h, sec);

		if (__sync_val_compare_and_swap(b, old, next) == old)
			return rrl_over(next, p->rrl_rate)
				       ? rrl_limited(p->rrl_slip, bpf_get_prandom_u32())
				       : RRL_PASS;
	}
	return RRL_PASS; /* heavy contention on one bucket: let it through */
}

/* A limited response that slips out: the header with the reply's flags
 * and TC, no records, the question (control/server.c truncate_reply). */
static __always_inline int slip(struct xdp_md *ctx, const struct query *q, __u16 flags)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	int delta = (int)(q->dns + q->qend) - (int)(end - data);
	__u32 sum = fold32(q->qsum);
	int ret;

	if (delta > 0 || bpf_xdp_adjust_tail(ctx, delta) != 0)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	ret = put_header(ctx, q, flags | 0x0200, 0, 0, 0, &sum);
	if (ret >= 0)
		return ret;
	count(XC_SLIPPED);
	return finish_headers(ctx, q, q->qend, sum);
}

/* The cookie answer, then the rate limit (a valid cookie is exempt):
 * CONTINUE to answer, else what to do with the frame. */
static __always_inline int admit(struct xdp_md *ctx, const struct query *q, struct scratch *s,
				 __u16 flags)
{
	__u32 zero = 0;
	const struct xdp_policy *p = bpf_map_lookup_elem(&policy, &zero);
	int valid = 0, ret;

	if (!p)
		return CONTINUE;
	if (q->cookie_len) {
		ret = make_cookie(ctx, q, s, &valid);
		if (ret >= 0)
			return ret;
	}
	if (!p->rrl_enable || valid)
		return CONTINUE;
	switch (rrl_check(ctx, q, p)) {
	case RRL_SLIP:
		return slip(ctx, q, flags);
	case RRL_DROP:
		return count(XC_DROP_RRL), XDP_DROP;
	default:
		return CONTINUE;
	}
}

struct tap_call {
	struct xdp_md *ctx;
	const struct query *q;
	struct scratch *s;
};

/* dnstap, 1 in tap_sample answers: the query into scratch before the
 * frame becomes the reply. Returns whether this one is sampled. */
static __always_inline int tap_query_body(struct xdp_md *ctx, const struct query *q,
					  struct scratch *s)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0, n = q->dns_len;
	const struct xdp_policy *p = bpf_map_lookup_elem(&policy, &zero);
	struct xdp_tap *t = &s->tap;

	if (!p || !p->tap_sample || ++s->tap_count < p->tap_sample || n > XDP_TAP_MSG_MAX ||
	    n == 0 || q->l3 > 18)
		return 0;
	s->tap_count = 0;
	__u8 *ip = data + q->l3;
	__u8 *udp = data + (q->l4 & 0x7f);

	if ((void *)(ip + 40) > end || (void *)(udp + 4) > end)
		return 0;
	t->v6 = q->v6;
	__builtin_memset(t->client, 0, 16);
	__builtin_memset(t->server, 0, 16);
	if (q->v6) {
		__builtin_memcpy(t->client, ip + 8, 16);
		__builtin_memcpy(t->server, ip + 24, 16);
	} else {
		__builtin_memcpy(t->client, ip + 12, 4);
		__builtin_memcpy(t->server, ip + 16, 4);
	}
	t->client_port = (__u16)(udp[0] << 8 | udp[1]);
	t->server_port = (__u16)(udp[2] << 8 | udp[3]);
	t->time_ns = bpf_ktime_get_tai_ns() - (__u64)p->tai_offset_ns;
	fence(n);
	n &= 1023;
	if (n == 0 || n > XDP_TAP_MSG_MAX || bpf_xdp_load_bytes(ctx, q->dns, t->query, n) != 0)
		return 0;
	t->query_len = (__u16)n;
	return 1;
}

/* ... and the reply as it leaves, with it, into the ring buffer (full: the
 * copy is dropped and counted). */
static __always_inline void tap_response_body(struct xdp_md *ctx, const struct query *q,
					      struct scratch *s)
{
	__u32 n = (__u32)(ctx->data_end - ctx->data) - q->dns;
	struct xdp_tap *t;

	if (n == 0 || n > XDP_TAP_MSG_MAX)
		return;
	t = bpf_ringbuf_reserve(&tap_ring, sizeof(*t), 0);
	if (!t) {
		count(XC_TAP_DROPPED);
		return;
	}
	__builtin_memcpy(t, &s->tap, sizeof(*t) - XDP_TAP_MSG_MAX);
	fence(n);
	n &= 1023;
	if (n == 0 || n > XDP_TAP_MSG_MAX || bpf_xdp_load_bytes(ctx, q->dns, t->response, n) != 0) {
		bpf_ringbuf_discard(t, 0);
		return;
	}
	t->response_len = (__u16)n;
	bpf_ringbuf_submit(t, 0);
}

/* Both as bpf_loop bodies: verified once, apart from the answer paths. */
static int tap_query_step(__u32 i, void *arg)
{
	struct tap_call *c = arg;

	(void)i;
	c->s->tap_pending = tap_query_body(c->ctx, c->q, c->s);
	return 1;
}

static int tap_response_step(__u32 i, void *arg)
{
	struct tap_call *c = arg;

	(void)i;
	tap_response_body(c->ctx, c->q, c->s);
	return 1;
}

/* Topology (lib/entry.h entry_topo_match): the client's group, from the
 * query's ECS address (zero beyond its prefix: ecs_check) or else its
 * source; with ECS the matched prefix length becomes the echo's SCOPE,
 * as carouseld answers. A bpf_loop body: verified once. */
struct topo_call {
	struct xdp_md *ctx;
	struct query *q;
	struct scratch *s;
	const struct xdp_entry *e;
};

static long topo_step(__u32 index, void *arg)
{
	struct topo_call *c = arg;
	struct query *q = c->q;
	struct scratch *s = c->s;
	const struct xdp_entry *e = c->e;
	__u32 a[4] = {0, 0, 0, 0}, family, group = 0, scope = 0;

	if (q->ecs_len) {
		family = s->ecs[5];
		__builtin_memcpy(a, s->ecs + 8, 16);
	} else if (q->v6) {
		family = 2;
		if (bpf_xdp_load_bytes(c->ctx, q->l3 + 8, a, 16) != 0)
			return 1;
	} else {
		family = 1;
		if (bpf_xdp_load_bytes(c->ctx, q->l3 + 12, a, 4) != 0)
			return 1;
	}
	for (int i = 0; i < XDP_TOPO_MAX; i++) {
		if (i >= e->ntopo)
			break;
		if (e->topo[i].family == family &&
		    ((a[0] & e->topo[i].mask[0]) ^ e->topo[i].addr[0]) == 0 &&
		    ((a[1] & e->topo[i].mask[1]) ^ e->topo[i].addr[1]) == 0 &&
		    ((a[2] & e->topo[i].mask[2]) ^ e->topo[i].addr[2]) == 0 &&
		    ((a[3] & e->topo[i].mask[3]) ^ e->topo[i].addr[3]) == 0) {
			group = e->topo[i].group;
			scope = e->topo[i].len;
			break;
		}
	}
	q->group = (__u8)group;
	if (q->ecs_len)
		s->ecs[7] = (__u8)scope;
	return 1;
}

/* A prebuilt answer, variant v of an entry of either class (its bytes at
 * vbytes + v->off, vmax the size of vbytes): one store of the variant
 * (and its OPT template), the DO bit, the header, and the checksum from
 * the question's sum and the variant's precomputed one; the rotation
 * counter moves to next. */
static __always_inline int respond_variant(struct xdp_md *ctx, struct query *q,
					   struct scratch *s, const struct xdp_variant *v,
					   const __u8 *vbytes, __u32 vmax, __u16 flags, __u16 an,
					   __u16 ns, __u16 ar, __u32 *step, __u32 next)
{
	__u32 limit = UDP_MIN, off = v->off, len = v->len, n;
	int ret;

	n = len + (q->edns ? OPT_LEN : 0);
	if (off > vmax || n > vmax || n == 0)
		return pass(XC_PUNT_MISS);
	/* with options to send (COOKIE, ECS) the OPT is built apart: the
	 * variant alone here */
	__u32 extra = (q->cookie_len ? 4 + 24 : 0) + q->ecs_len;

	if (extra)
		n = len;
	if (q->edns && q->edns_udp > UDP_MIN)
		limit = q->edns_udp < EDNS_UDP ? q->edns_udp : EDNS_UDP;
	__u32 opt = extra ? OPT_LEN + extra : 0; /* built apart */

	if (q->qend + n + opt > limit)
		return pass(XC_PUNT_TOO_BIG);
	ret = grow(ctx, q, s, q->qend + n + opt);
	if (ret >= 0)
		return ret;
	/* from here on the frame is ours to finish: never pass it on */
	__u32 at = q->dns + q->qend, sum;

	fence(off);
	off &= 4095;
	fence(n);
	n &= 4095;
	if (off > vmax || n == 0 || n > vmax)
		return XDP_DROP;
	if (bpf_xdp_store_bytes(ctx, at & 0xffff, (void *)(vbytes + off), n) != 0)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	if (extra) {
		sum = fold32(q->qsum + v->sum[0]);
		ret = put_opt(ctx, q, s, at + n, &sum);
		if (ret >= 0)
			return ret;
	} else {
		if (q->edns_do) {
			s->opt[0] = 0x80;
			if (bpf_xdp_store_bytes(ctx, (at + len + 7) & 0xffff, s->opt, 1) != 0)
				return count(XC_DROP_BAD_LENGTH), XDP_DROP;
		}
		sum = fold32(q->qsum + v->sum[q->edns ? 1 + (q->edns_do & 1) : 0]);
	}
	ret = put_header(ctx, q, flags, an, ns, ar + q->edns, &sum);
	if (ret >= 0)
		return ret;
	*step = next;
	count(XC_TX);
	ret = finish_headers(ctx, q, q->qend + n + opt, sum);
	if (ret == XDP_TX && s->tap_pending) {
		struct tap_call tc = {.ctx = ctx, .q = q, .s = s};

		bpf_loop(1, tap_response_step, &tc, 0);
	}
	return ret;
}

/* The rotation counter of slot rot_id: its step, 0 once past the end of
 * a schedule that shrank since; NULL for none. */
static __always_inline __u32 *rot_step(__u32 rot_id, __u32 sched_len, __u32 *st)
{
	__u32 slot = rot_id & (XDP_ROT_SLOTS - 1);
	__u32 *step = bpf_map_lookup_elem(&rot, &slot);

	if (step)
		*st = *step < sched_len ? *step : 0;
	return step;
}

/* A hit on an entry with prebuilt variants: the step's variant, or for a
 * topology pool the client's group's. */
static __always_inline int respond_prebuilt(struct xdp_md *ctx, struct query *q,
					    struct scratch *s, const struct xdp_entry *e)
{
	__u32 st = 0, vi;
	__u32 *step = rot_step(e->rot_id, e->pb_sched_len, &st);

	if (!step)
		return pass(XC_PUNT_MISS);
	__u16 an = e->pb_an;

	if (e->ngroups) {
		__u32 g = q->group, gn;

		if (g > XDP_TOPO_MAX)
			g = 0;
		gn = e->tg_n[g];
		vi = (e->tg_base[g] + (gn ? st % gn : 0)) & (XDP_RR_MAX - 1);
		an = e->tg_an[g];
	} else {
		vi = e->step_variant[st & (XDP_SCHED_MAX - 1)] & (XDP_RR_MAX - 1);
	}
	return respond_variant(ctx, q, s, &e->var[vi], e->vbytes, XDP_VARIANT_BYTES_MAX,
			       e->pb_flags, an, e->pb_ns, e->pb_ar, step,
			       st + 1 < e->pb_sched_len ? st + 1 : 0);
}

/* The same for the small class. */
static __always_inline int respond_small(struct xdp_md *ctx, struct query *q,
					 struct scratch *s, const struct xdp_small *e)
{
	__u32 st = 0, vi;
	__u32 *step = rot_step(e->rot_id, e->pb_sched_len, &st);

	if (!step)
		return pass(XC_PUNT_MISS);
	vi = e->step_variant[st & (XDP_SMALL_SCHED - 1)] & (XDP_SMALL_VARIANTS - 1);
	return respond_variant(ctx, q, s, &e->var[vi], e->vbytes, XDP_SMALL_BYTES_MAX,
			       e->pb_flags, e->pb_an, e->pb_ns, e->pb_ar, step,
			       st + 1 < e->pb_sched_len ? st + 1 : 0);
}

/* Rewrite the frame into the answer for e: the sections after the question,
 * the header, OPT, then addresses and checksums. */
static __always_inline int respond(struct xdp_md *ctx, struct query *q, struct scratch *s,
				   const struct xdp_entry *e, __u64 now)
{
	__u32 rot_id = e->rot_id & (XDP_ROT_SLOTS - 1);
	__u32 *step = bpf_map_lookup_elem(&rot, &rot_id);
	__u32 head = e->head_len, tail = e->tail_len, rr_len = e->rr_len, n = e->rr_count;
	__u32 k = 0, limit = UDP_MIN;
	int ret;

	if (!step || head > XDP_BYTES_MAX || tail > XDP_BYTES_MAX || rr_len > XDP_RR_LEN_MAX ||
	    n > XDP_RR_MAX || e->sched_len > XDP_SCHED_MAX || e->nttl > XDP_TTL_MAX)
		return pass(XC_PUNT_MISS);
	for (int i = 0; i < XDP_RR_MAX; i++) {
		if ((__u32)i >= n)
			break;
		k += e->live[i];
	}
	if (e->answer_count && k > e->answer_count)
		k = e->answer_count;
	if (head + n * rr_len + tail > XDP_BYTES_MAX)
		return pass(XC_PUNT_MISS);
	if (q->edns && q->edns_udp > UDP_MIN)
		limit = q->edns_udp < EDNS_UDP ? q->edns_udp : EDNS_UDP;
	__u32 dns_len = q->qend + head + k * rr_len + tail +
			(q->edns ? OPT_LEN + (q->cookie_len ? 4 + 24 : 0) + q->ecs_len : 0);

	if (dns_len > limit)
		return pass(XC_PUNT_TOO_BIG);
	ret = grow(ctx, q, s, dns_len);
	if (ret >= 0)
		return ret;
	/* from here on the frame is ours to finish: never pass it on */
	__u32 base = q->dns + q->qend, at = base, left = 0, sum = fold32(q->qsum);

	if (e->expires_ns)
		left = (__u32)((e->expires_ns - now) / 1000000000ULL);
	if (head && bpf_xdp_store_bytes(ctx, at & 0xffff, (void *)e->bytes, head) != 0)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	sum = add_piece(sum, e->head_sum, at - q->dns);
	at += head;
	/* rotated records: the scheduled member first, then the live ones
	 * after it in configured order (lib/entry.h entry_rot_order) */
	struct emit x = {.ctx = ctx, .e = e, .s = s, .dns = q->dns, .at = at, .n = n, .k = k,
			 .rr_len = rr_len, .head = head, .left = left, .sum = sum, .base = base};

	if (e->sched_len)
		x.first = e->sched[(*step % e->sched_len) & (XDP_SCHED_MAX - 1)];
	bpf_loop(XDP_RR_MAX, emit_rr, &x, 0);
	if (x.err)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	at = x.at;
	sum = x.sum;
	__u32 tail_src = head + n * rr_len, tail_dst = head + k * rr_len;

	if (tail && tail_src <= XDP_BYTES_MAX &&
	    bpf_xdp_store_bytes(ctx, at & 0xffff, (void *)(e->bytes + tail_src), tail) != 0)
		return count(XC_DROP_BAD_LENGTH), XDP_DROP;
	sum = add_piece(sum, e->tail_sum, at - q->dns);
	if (e->expires_ns) {
		x.sum = sum;
		x.tail_src = tail_src;
		x.tail_dst = tail_dst;
		bpf_loop(XDP_TTL_MAX, emit_ttl, &x, 0);
		if (x.err)
			return count(XC_DROP_BAD_LENGTH), XDP_DROP;
		sum = x.sum;
	}
	at += tail;
	if (q->edns) {
		ret = put_opt(ctx, q, s, at, &sum);
		if (ret >= 0)
			return ret;
	}
	ret = put_header(ctx, q, 0x8000 | e->hdr_flags | (e->rcode & 0x0f),
			 e->head_an + k + e->tail_an, e->tail_ns, e->tail_ar + q->edns, &sum);
	if (ret >= 0)
		return ret;
	*step += 1;
	count(XC_TX);
	return finish_headers(ctx, q, dns_len, sum);
}

/* Whether an entry's name (zero-padded, room for max bytes) differs from
 * the question's in its first len bytes, compared eight at a time. */
static __always_inline int name_differs(const __u8 *name, const struct scratch *s, __u32 len,
					__u32 max)
{
	for (__u32 i = 0; i < max / 8; i++) {
		__u32 o = i * 8;

		if (o >= len)
			break;
		__u64 a = *(const __u64 *)(name + o), b = *(const __u64 *)(s->name + o);
		__u32 rest = len - o;

		if (rest < 8) { /* little-endian: keep the low `rest` bytes */
			__u64 mask = (1ULL << (rest * 8)) - 1;

			a &= mask;
			b &= mask;
		}
		if (a != b)
			return 1;
	}
	return 0;
}

/* The small class's hit: never expires, always prebuilt, no topology. */
static __always_inline int answer_small(struct xdp_md *ctx, struct query *q, struct scratch *s,
					const struct xdp_small *e)
{
	int ret;

	if (e->name_len != q->name_len || e->qtype != q->qtype || e->qclass != q->qclass ||
	    name_differs(e->name, s, q->name_len, XDP_SMALL_NAME_MAX))
		return pass(XC_PUNT_MISS); /* a digest collision: never a wrong answer */
	/* as for the large class: cookies, then the rate limit, then the
	 * dnstap sample (written out in both: with one helper for the two,
	 * clang's stack layout keeps the verifier from pruning admit's paths,
	 * and it walks 830 000 instructions instead of 450 000) */
	ret = admit(ctx, q, s, e->pb_flags);
	if (ret >= 0)
		return ret;
	struct tap_call tc = {.ctx = ctx, .q = q, .s = s};

	s->tap_pending = 0;
	bpf_loop(1, tap_query_step, &tc, 0);
	return respond_small(ctx, q, s, e);
}

SEC("xdp")
int carousel_xdp(struct xdp_md *ctx)
{
	struct query q = {};
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	int ret;

	count(XC_RX);
	if (!s)
		return XDP_PASS;
	ret = parse_l2_l4(ctx, &q);
	if (ret >= 0)
		return ret;
	ret = parse_dns(ctx, &q, s);
	if (ret >= 0)
		return ret;
	/* most entries are small: that map first */
	const struct xdp_small *small = bpf_map_lookup_elem(&entries_small, &q.digest);

	if (small)
		return answer_small(ctx, &q, s, small);
	struct xdp_entry *e = bpf_map_lookup_elem(&entries, &q.digest);

	if (!e || e->name_len != q.name_len || e->qtype != q.qtype || e->qclass != q.qclass ||
	    name_differs(e->name, s, q.name_len, XDP_NAME_MAX))
		return pass(XC_PUNT_MISS); /* a digest collision: never a wrong answer */
	/* entries that expire: the clock, the answer assembled, and the
	 * cookie answer left to carouseld */
	__u64 now = 0;

	if (!e->nvariants) {
		now = bpf_ktime_get_ns();
		if (e->expires_ns && now >= e->expires_ns)
			return pass(XC_PUNT_EXPIRED);
		if (q.cookie_len)
			return pass(XC_PUNT_EDNS);
	}
	if (e->ngroups) {
		struct topo_call t = {.ctx = ctx, .q = &q, .s = s, .e = e};

		bpf_loop(1, topo_step, &t, 0);
	}
	/* cookies, then the rate limit: once, before either answer */
	ret = admit(ctx, &q, s, e->nvariants ? e->pb_flags
					     : 0x8000 | e->hdr_flags | (e->rcode & 0x0f));
	if (ret >= 0)
		return ret;
	struct tap_call tc = {.ctx = ctx, .q = &q, .s = s};

	s->tap_pending = 0;
	bpf_loop(1, tap_query_step, &tc, 0);
	if (e->nvariants)
		return respond_prebuilt(ctx, &q, s, e);
	return respond(ctx, &q, s, e, now);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xdp_respond.bpf.c -- the benchmark's second baseline, a minimal DNS
 * responder: read every byte of an IPv4 query's question, write a fixed
 * answer after it (as long as carousel's, set by the benchmark), set QR,
 * AA and the answer count, swap addresses and ports, and compute both
 * checksums the slow way, over every byte. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define DNS_OFF 42  /* Ethernet, IPv4 without options, UDP */
#define MSG_MAX 512 /* the DNS message, query or reply */
#define fence(v) asm volatile("" : "+r"(v))

const volatile __u32 answer_len = 0;

struct blob {
	__u8 b[MSG_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct blob);
} answer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct blob);
} scratch SEC(".maps");

struct walk {
	struct blob *s;
	__u32 dlen, qend, seen, done;
};

/* One byte of the question: summed (read), and a label length followed. */
static int question_byte(__u32 i, void *arg)
{
	struct walk *w = arg;
	__u32 p = 12 + i;

	if (p >= w->dlen)
		return 1;
	__u8 c = w->s->b[p & 511];

	w->seen += c;
	if (p == w->qend) {
		if (c == 0) {
			w->done = 1;
			return 1;
		}
		w->qend += 1 + c;
	}
	return 0;
}

struct csum {
	struct blob *s;
	__u32 n, sum;
};

static int csum_word(__u32 i, void *arg)
{
	struct csum *c = arg;
	__u32 o = i * 2;

	if (o >= c->n)
		return 1;
	__u16 v = c->s->b[o & 511];

	if (o + 1 < c->n)
		v |= (__u16)c->s->b[(o + 1) & 511] << 8;
	c->sum += v;
	return 0;
}

static __always_inline __u32 fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	return (s & 0xffff) + (s >> 16);
}

SEC("xdp")
int xdp_respond(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u32 zero = 0, qend, alen = answer_len, dlen, sum = 0;
	struct blob *s = bpf_map_lookup_elem(&scratch, &zero);
	struct blob *a = bpf_map_lookup_elem(&answer, &zero);

	if (!s || !a || (void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	dlen = bpf_ntohs(udp->len) - sizeof(*udp);
	if (dlen < 17 || dlen > 300 || alen == 0 || alen > 256)
		return XDP_PASS;
	fence(dlen);
	dlen &= 511;
	if (dlen == 0 || bpf_xdp_load_bytes(ctx, DNS_OFF, s->b, dlen) != 0)
		return XDP_PASS;
	/* the question: every byte of the name read, labels walked */
	struct walk w = {.s = s, .dlen = dlen, .qend = 12};

	bpf_loop(300, question_byte, &w, 0);
	qend = w.qend + 5; /* root label, type, class */
	if (!w.done || qend > dlen || w.seen == 0xffffffff)
		return XDP_PASS;
	/* the reply: question kept, the fixed answer after it */
	int delta = (int)(DNS_OFF + qend + alen) - (int)(end - data);

	if (bpf_xdp_adjust_tail(ctx, delta) != 0)
		return XDP_PASS;
	fence(qend);
	qend &= 511;
	fence(alen);
	alen &= 255;
	if (alen == 0 || bpf_xdp_store_bytes(ctx, DNS_OFF + qend, a->b, alen) != 0)
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	udp = (void *)(ip + 1);
	__u8 *m = (void *)(udp + 1);

	if ((void *)(m + 12) > end)
		return XDP_DROP;
	m[2] = 0x84 | (m[2] & 0x01); /* QR AA, RD kept */
	m[3] = 0;
	m[6] = 0;
	m[7] = 1;
	__u8 mac[ETH_ALEN];
	__u32 addr = ip->saddr;
	__u16 port = udp->source, ulen = (__u16)(sizeof(*udp) + qend + alen);

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	ip->tot_len = bpf_htons(sizeof(*ip) + ulen);
	ip->check = 0;
	__u16 *hw = (__u16 *)ip;

	for (int i = 0; i < 10; i++)
		sum += hw[i];
	ip->check = (__u16)~fold(sum);
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons(ulen);
	udp->check = 0;
	/* the UDP checksum over every byte: pseudo-header, header, message */
	sum = (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) +
	      (ip->daddr >> 16) + bpf_htons(IPPROTO_UDP) + udp->len;
	__u32 n = ulen;

	fence(n);
	n &= 511;
	if (n < 8 || bpf_xdp_load_bytes(ctx, 34, s->b, n) != 0)
		return XDP_DROP;
	struct csum cs = {.s = s, .n = n, .sum = sum};

	bpf_loop(MSG_MAX / 2, csum_word, &cs, 0);
	sum = cs.sum;
	__u16 c = (__u16)~fold(sum);

	udp = (void *)((__u8 *)(long)ctx->data + 34);
	if ((void *)(udp + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	udp->check = c ? c : 0xffff;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

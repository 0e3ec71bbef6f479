/* frame.h -- the fast path's packet logic, free of DPDK types so unit
 * tests and fuzzers run it on plain buffers: parse Ethernet (+1 VLAN),
 * IPv4/IPv6, UDP and the DNS query; turn the frame into the reply in place. */
#ifndef CAROUSEL_FRAME_H
#define CAROUSEL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"
#include "entry.h"
#include "verdict.h"

/* What the fast path does not answer goes to the kernel (punt) with one of
 * these reasons (lib/verdict.h); frames too broken for anyone are dropped. */
#define FRAME_PUNT_ENUM(id, name) PUNT_##id,
#define FRAME_DROP_ENUM(id, name) DROP_##id,
enum frame_verdict {
	FRAME_HIT = 0, /* a query we may answer: look it up */
	FP_PUNTS(FRAME_PUNT_ENUM) PUNT_COUNT,
	DROP_FIRST_ = PUNT_COUNT - 1,
	FP_DROPS(FRAME_DROP_ENUM) DROP_COUNT_END,
};

#define DROP_COUNT (DROP_COUNT_END - PUNT_COUNT)

extern const char *const frame_verdict_names[DROP_COUNT_END];

struct frame_addrs {
	uint32_t ip4; /* network order; 0 = none */
	uint8_t ip6[16];
	bool has_ip6;
	uint16_t port; /* host order */
	bool punt_cookies; /* DNS Cookies on: queries with a COOKIE go to carouseld */
};

struct frame_query {
	uint16_t l3_off, l4_off, dns_off, dns_len;
	bool v6;
	uint16_t question_end; /* offset in the DNS message */
	uint8_t name[DNAME_MAXLEN];
	uint8_t name_len;
	uint16_t qtype, qclass;
	bool edns, edns_do;
	uint16_t edns_udp;
	uint64_t digest;
};

enum frame_verdict frame_parse(const uint8_t *pkt, size_t len, const struct frame_addrs *ours,
			       struct frame_query *q);

/* Rewrite the query frame into the reply for entry e at rotation step
 * `step`: swap MAC/IP/ports, keep ID and question, write the sections,
 * append OPT when the query had one, fix lengths and checksums. cap is the
 * room in the buffer. Returns the new frame length or -PUNT_TOO_BIG. */
int frame_respond(uint8_t *pkt, size_t cap, const struct frame_query *q, const struct entry *e,
		  uint64_t step, uint64_t now);

/* Swap MAC, IP and UDP ports only: the reflector baseline of the benchmark. */
void frame_reflect(uint8_t *pkt, const struct frame_query *q);

/* RFC 1071 one's-complement sum, folded; exposed for tests. */
uint16_t frame_csum_fold(uint32_t sum);
uint32_t frame_csum_add(uint32_t sum, const uint8_t *p, size_t len);

#endif

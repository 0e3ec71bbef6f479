/* frame.h -- the fast path's packet logic, free of DPDK types so unit
 * tests and fuzzers run it on plain buffers: parse Ethernet (+1 VLAN),
 * IPv4/IPv6, UDP and the DNS query; turn the frame into the reply in place. */
#ifndef CAROUSEL_FRAME_H
#define CAROUSEL_FRAME_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"
#include "entry.h"
#include "fastpath.h"
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
};

struct frame_query {
	uint16_t l3_off, l4_off, dns_off, dns_len;
	bool v6;
	uint16_t question_end; /* offset in the DNS message */
	/* lower-case wire name, zero-padded to whole 8-byte words */
	alignas(8) uint8_t name[DNAME_MAXLEN + 8];
	uint8_t name_len;
	uint16_t qtype, qclass;
	bool edns, edns_do;
	uint16_t edns_udp;
	/* the query's ECS option, whole (code, length, data), echoed with
	 * SCOPE 0 as carouseld echoes it for answers that do not depend on the
	 * client's subnet (RFC 7871 7.2.1); ecs_len 0: none */
	uint8_t ecs_len;
	uint8_t ecs[4 + 4 + 16];
	/* the query's COOKIE option data (client cookie, server cookie) */
	uint16_t cookie_len; /* as sent; 0: none */
	uint8_t cookie[8 + 32];
	bool cookie_ok; /* a server cookie of ours came back: RRL lets it pass */
	/* the options our OPT carries (frame_options): COOKIE, then ECS, in
	 * carouseld's order */
	uint8_t extra_len;
	uint8_t extra[4 + 24 + 4 + 4 + 16];
	uint8_t group; /* topology: the client's group (frame_topology), else 0 */
	uint64_t digest;
};

enum frame_verdict frame_parse(const uint8_t *pkt, size_t len, const struct frame_addrs *ours,
			       struct frame_query *q);

/* The options the reply's OPT carries, as carouseld writes them: with
 * cookies on (k->enable), a COOKIE option with the client cookie and a
 * server cookie (the client's if valid and fresh, else a new one made at
 * `now`, unix seconds: lib/cookie.h), then the ECS echo. Call before the
 * reply is written (it reads the client's address). Returns 0, or
 * -PUNT_EDNS for a COOKIE carouseld would answer FORMERR. */
int frame_options(struct frame_query *q, const uint8_t *pkt, const struct fp_cookies *k,
		  uint32_t now);

/* Topology (lib/entry.h struct entry_topo): the client's group, from
 * the query's ECS address or else its source, into q->group; with ECS,
 * the matched prefix length becomes the echo's SCOPE, as carouseld
 * answers. Call after frame_parse and before frame_options. */
void frame_topology(struct frame_query *q, const uint8_t *pkt, const struct entry_topo *t,
		    unsigned ntopo);

/* Rewrite the query frame into the reply for entry e at rotation step
 * `step` (for a topology entry, in q->group): swap MAC/IP/ports, keep ID and question, write the sections,
 * append OPT when the query had one, fix lengths and checksums. cap is the
 * room in the buffer. Returns the new frame length or -PUNT_TOO_BIG. */
int frame_respond(uint8_t *pkt, size_t cap, const struct frame_query *q, const struct entry *e,
		  uint64_t step, uint64_t now);

/*
 * A published entry as the DPDK path holds it, in one allocation sized by
 * what it holds: the name to verify (whole words), the prebuilt variants
 * (lib/entry.h) and the step -> variant table. An entry that expires, or
 * whose variants exceed FRAME_VARIANT_BYTES_MAX, keeps a copy of the lib
 * entry instead (`slow`) and is assembled on every hit as before.
 */
#define FRAME_VARIANT_BYTES_MAX 8192

/* A topology entry's table and, when prebuilt, its groups' variants:
 * group g at step s is variant base[g] + s % n[g], with an[g] answers. */
struct frame_topo {
	uint8_t ntopo, ngroups;
	uint8_t base[ENTRY_TOPO_GROUPS], n[ENTRY_TOPO_GROUPS];
	uint16_t an[ENTRY_TOPO_GROUPS];
	struct entry_topo t[ENTRY_TOPO_MAX];
};

struct frame_entry {
	uint64_t digest;
	const struct entry *slow;
	const struct frame_topo *topo; /* NULL: not a topology pool */
	uint16_t qtype, qclass;
	uint8_t name_len, name_words;
	uint16_t flags; /* QR | AA | rcode */
	uint16_t ancount, nscount, arcount;
	uint16_t sched_len;
	uint32_t rot_id;
	uint32_t size, variant_bytes; /* of the allocation; of it, the variants' */
	const uint8_t *step_variant;         /* [sched_len] */
	const struct entry_variant *variant; /* [nvariants] */
	const uint8_t *bytes;
	uint64_t name[]; /* name_words words */
};

/* Publish time (allocates): the DPDK form of e, or NULL (no memory).
 * Free with free(). */
struct frame_entry *frame_entry_build(const struct entry *e);
/* The same in memory from alloc (zeroed, f->size bytes). */
struct frame_entry *frame_entry_build_in(const struct entry *e,
					 void *(*alloc)(void *arg, size_t size), void *arg);

static inline bool frame_entry_matches(const struct frame_entry *e, const struct frame_query *q)
{
	const uint64_t *a = e->name, *b = (const uint64_t *)(const void *)q->name;
	uint64_t diff = 0;

	if (e->name_len != q->name_len || e->qtype != q->qtype || e->qclass != q->qclass)
		return false;
	for (unsigned i = 0; i < e->name_words; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The reply from a prebuilt variant (e->slow == NULL) at rotation step
 * `step` (< e->sched_len; for a topology entry, in q->group): copy the variant after the question, patch the
 * header, swap addresses, finish lengths and checksums from the variant's
 * precomputed sum. Returns the new frame length or -PUNT_TOO_BIG. */
int frame_answer(uint8_t *pkt, size_t cap, const struct frame_query *q,
		 const struct frame_entry *e, unsigned step);

/* The benchmark's minimal responder (an IPv4 query without a VLAN tag):
 * read every byte of the question, write `answer` after it, set QR and
 * the counts, swap addresses, fix lengths and both checksums the slow way.
 * Returns the new length or -PUNT_TOO_BIG. */
int frame_respond_fixed(uint8_t *pkt, size_t len, size_t cap, const uint8_t *answer,
			size_t alen);
extern volatile uint32_t frame_responder_sink;

/* A response over the rate limit that slips out (control/server.c's
 * truncate_reply): header with the reply's flags (QR, AA, rcode: `flags`)
 * and TC, no records, the question; addresses swapped, lengths and
 * checksums fixed. Returns the new frame length. */
int frame_slip(uint8_t *pkt, const struct frame_query *q, uint16_t flags);

/* Swap MAC, IP and UDP ports only: the reflector baseline of the benchmark. */
void frame_reflect(uint8_t *pkt, const struct frame_query *q);

/* RFC 1071 one's-complement sum, folded; exposed for tests. */
uint16_t frame_csum_fold(uint32_t sum);
uint32_t frame_csum_add(uint32_t sum, const uint8_t *p, size_t len);

#endif

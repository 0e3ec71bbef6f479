/* entry.h -- the fast-path entry: an answer carouseld has prebuilt for one
 * (qname, qtype, class), published to the DPDK table (and later the XDP
 * map) and served there without the daemon. See docs/architecture.md. */
#ifndef CAROUSEL_ENTRY_H
#define CAROUSEL_ENTRY_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"

#define ENTRY_MAX_RR 64      /* rotated records (members of one family) */
#define ENTRY_MAX_SCHED 1024 /* rotation schedule steps (Σ weights for WRR) */
#define ENTRY_MAX_BYTES 1200 /* head + rotated records + tail */
#define ENTRY_MAX_TTL 80     /* TTL fields outside the rotated records */
#define ENTRY_ROT_SLOTS 65536 /* rotation counters per fast-path worker */

/*
 * The answer after the question is
 *     head | rr[order[0]] | rr[order[1]] | ... | tail
 * where order comes from entry_rot_order(step). Names are compressed only
 * against the question (at offset 12) and the head, so every piece sits at
 * the same place whatever the rotation: the bytes are built once. The TTL
 * of record i lives at ttl_off[i] in bytes[] (head and tail) and at
 * rr_ttl_off inside every rotated record.
 */
struct entry {
	/* cache-line aligned, so its size is a multiple of 64 (aligned_alloc) */
	alignas(64) uint64_t digest; /* entry_digest(name, qtype, qclass): the key */
	uint32_t version; /* config generation (or cache fill) that made it */
	uint32_t rot_id;  /* rotation counter slot; aliases share their pool's */
	uint64_t expires; /* unix seconds after which it is punted; 0 = never */
	uint16_t qtype, qclass;
	uint8_t name_len;
	uint8_t name[DNAME_MAXLEN]; /* lower-case wire form, verified on a hit */
	uint16_t hdr_flags;         /* added to the reply's flags: AA */
	uint8_t rcode;
	uint16_t head_an;            /* answer RRs in head */
	uint16_t tail_an, tail_ns, tail_ar; /* RRs in tail, by section */
	uint16_t head_len, tail_len;
	uint16_t rr_len;       /* bytes of one rotated record */
	uint16_t rr_ttl_off;   /* TTL offset inside a rotated record */
	uint16_t rr_count;     /* rotated records: every member, weight 0 too */
	uint16_t answer_count; /* records per answer, 0 = all live ones */
	uint16_t sched_len;
	uint16_t nttl;
	uint32_t rr_ttl; /* original TTL of the rotated records */
	/* served on every hit: kept together at the front */
	uint8_t bytes[ENTRY_MAX_BYTES];
	uint8_t live[ENTRY_MAX_RR];      /* weight > 0 */
	uint16_t sched[ENTRY_MAX_SCHED]; /* member index per step */
	/* only for entries that expire (cached data) */
	uint16_t ttl_off[ENTRY_MAX_TTL];
	uint32_t ttl[ENTRY_MAX_TTL]; /* original TTLs of head and tail records */
};

/* FNV-1a 64 over name, qtype, qclass: simple enough for BPF too. The
 * byte step is exposed so a parser can fold it into its own name loop. */
#define ENTRY_DIGEST_INIT 0xcbf29ce484222325ULL

static inline uint64_t entry_digest_byte(uint64_t h, uint8_t c)
{
	return (h ^ c) * 0x100000001b3ULL;
}

static inline uint64_t entry_digest_finish(uint64_t h, uint16_t qtype, uint16_t qclass)
{
	h = entry_digest_byte(h, (uint8_t)(qtype >> 8));
	h = entry_digest_byte(h, (uint8_t)qtype);
	h = entry_digest_byte(h, (uint8_t)(qclass >> 8));
	return entry_digest_byte(h, (uint8_t)qclass);
}

static inline uint64_t entry_digest(const uint8_t *name, size_t len, uint16_t qtype,
				    uint16_t qclass)
{
	uint64_t h = ENTRY_DIGEST_INIT;

	for (size_t i = 0; i < len; i++)
		h = entry_digest_byte(h, name[i]);
	return entry_digest_finish(h, qtype, qclass);
}

/* Rotation: the scheduled member first, then the other live members in
 * configured order after it, at most max (0 = all). The control plane's
 * socket answers use the same function. */
static inline unsigned entry_rot_order(const uint16_t *sched, uint32_t sched_len,
				       const uint8_t *live, uint16_t n, uint64_t step,
				       unsigned max, uint16_t *order)
{
	unsigned k = 0;

	if (sched_len == 0)
		return 0;
	uint16_t first = sched[step % sched_len];

	for (uint16_t i = 0; i < n && (max == 0 || k < max); i++) {
		uint16_t m = (uint16_t)((first + i) % n);

		if (live[m])
			order[k++] = m;
	}
	return k;
}

bool entry_matches(const struct entry *e, const uint8_t *name, size_t len, uint16_t qtype,
		   uint16_t qclass);

/* Size of the answer part for a step (before writing it). */
size_t entry_answer_len(const struct entry *e);

/* Write the sections after the question for rotation step `step` into dst.
 * counts[] receives ancount, nscount, arcount. For an entry with expires,
 * TTLs are rewritten as the time left (now = unix seconds). Returns bytes
 * written, or CAR_ESPACE when more than max would be needed. */
int entry_write(const struct entry *e, uint64_t step, uint64_t now, uint8_t *dst, size_t max,
		uint16_t counts[3]);

#endif

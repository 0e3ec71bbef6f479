/* entry.h -- the fast-path entry: an answer carouseld has prebuilt for one
 * (qname, qtype, class), published to the DPDK table (and later the XDP
 * map) and served there without the daemon. See docs/architecture.md. */
#ifndef CAROUSEL_ENTRY_H
#define CAROUSEL_ENTRY_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dname.h"
#include "entry_hash.h"

#define ENTRY_MAX_RR 64      /* rotated records (members of one family) */
#define ENTRY_MAX_SCHED 1024 /* rotation schedule steps (Σ weights for WRR) */
#define ENTRY_MAX_BYTES 1200 /* head + rotated records + tail */
#define ENTRY_MAX_TTL 80     /* TTL fields outside the rotated records */
#define ENTRY_ROT_SLOTS 65536 /* rotation counters per fast-path worker */
#define ENTRY_TOPO_MAX 16    /* client prefixes of a topology pool on the fast paths */
#define ENTRY_TOPO_GROUPS (ENTRY_TOPO_MAX + 1)

/*
 * Topology pools (control/engine.c topology_order): a client (the query's
 * ECS address, else its source) is served the live members that list the
 * longest `clients:` prefix holding it, rotated among themselves, and the
 * ECS SCOPE is that prefix's length; a client no prefix holds gets every
 * live member, scope 0. The publisher turns that into a table: the
 * distinct prefixes of live members, longest first, each naming the group
 * of members that list it; group 0 is every live member.
 */
struct entry_topo {
	uint32_t addr[4], mask[4]; /* network order, addr masked; IPv4 in [0] */
	uint8_t family;            /* 1 IPv4, 2 IPv6 (the ECS family numbers) */
	uint8_t len;               /* prefix length: the ECS scope it answers with */
	uint8_t group;             /* 1..ngroups-1 */
	uint8_t pad;
};

struct entry_group {
	uint8_t n;                    /* members, >= 1 */
	uint8_t member[ENTRY_MAX_RR]; /* rotated-record indexes, in member order */
};

/* The group for a client (family 1 or 2; its address as four words in
 * network order, IPv4 in the first, the rest zero) and the scope it gives. */
static inline unsigned entry_topo_match(const struct entry_topo *t, unsigned ntopo,
					unsigned family, const uint32_t a[4], unsigned *scope)
{
	for (unsigned i = 0; i < ntopo; i++)
		if (t[i].family == family && ((a[0] & t[i].mask[0]) ^ t[i].addr[0]) == 0 &&
		    ((a[1] & t[i].mask[1]) ^ t[i].addr[1]) == 0 &&
		    ((a[2] & t[i].mask[2]) ^ t[i].addr[2]) == 0 &&
		    ((a[3] & t[i].mask[3]) ^ t[i].addr[3]) == 0) {
			*scope = t[i].len;
			return t[i].group;
		}
	*scope = 0;
	return 0;
}

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
	/* only for topology pools: ngroups > 0, and the rotation is
	 * group[g].member[(step + k) % group[g].n] instead of sched */
	uint8_t ntopo, ngroups;
	struct entry_topo topo[ENTRY_TOPO_MAX];
	struct entry_group group[ENTRY_TOPO_GROUPS];
};

/* The key of an entry: the lower-case wire name read as little-endian
 * 64-bit words (the last one zero-padded), then qtype and qclass, mixed
 * a word at a time so a fast path hashes a name in a few multiplies. The
 * XDP program computes the same (lib/entry_hash.h). */
/* 8 bytes as a little-endian word, whatever the host's order. */
static inline uint64_t entry_le64(const uint8_t *p)
{
	uint64_t w = 0;

	for (int i = 7; i >= 0; i--)
		w = w << 8 | p[i];
	return w;
}

/* The name's part of entry_digest: the same name under two types
 * hashes once. */
static inline uint64_t entry_name_hash(const uint8_t *name, size_t len)
{
	uint64_t h = ENTRY_HASH_SEED;
	size_t i = 0;

	for (; i + 8 <= len; i += 8)
		h = entry_hash_word(h, entry_le64(name + i));
	if (i < len) {
		uint8_t tail[8] = {0};

		for (size_t k = 0; k < len - i; k++)
			tail[k] = name[i + k];
		h = entry_hash_word(h, entry_le64(tail));
	}
	return h;
}

static inline uint64_t entry_digest(const uint8_t *name, size_t len, uint16_t qtype,
				    uint16_t qclass)
{
	return entry_hash_finish(entry_name_hash(name, len), qtype, qclass);
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

/* Ready e to be filled: the fields before bytes[] and live[] zeroed, and
 * no topology; the other arrays are read only up to their counts
 * (head_len + ..., sched_len, nttl, ntopo and ngroups), so the kilobytes
 * beyond are left as they are (a publish of a million names clears
 * gigabytes otherwise). */
static inline void entry_clear(struct entry *e)
{
	memset(e, 0, offsetof(struct entry, bytes));
	memset(e->live, 0, sizeof(e->live));
	e->ntopo = e->ngroups = 0;
}

bool entry_matches(const struct entry *e, const uint8_t *name, size_t len, uint16_t qtype,
		   uint16_t qclass);

/* A 64-bit summary of everything a fast path is handed from e (not its
 * version): the publisher compares it with the last one it published
 * under the key and skips an entry that did not change. Never 0 or 1. */
uint64_t entry_fingerprint(const struct entry *e);

/* Size of the answer part for a step (before writing it). */
size_t entry_answer_len(const struct entry *e);

/* Write the sections after the question for rotation step `step` into dst.
 * counts[] receives ancount, nscount, arcount. For an entry with expires,
 * TTLs are rewritten as the time left (now = unix seconds). Returns bytes
 * written, or CAR_ESPACE when more than max would be needed. */
int entry_write(const struct entry *e, uint64_t step, uint64_t now, uint8_t *dst, size_t max,
		uint16_t counts[3]);
/* The same for a topology entry's group (entry_topo_match); entry_write
 * is group 0. */
int entry_write_group(const struct entry *e, unsigned group, uint64_t step, uint64_t now,
		      uint8_t *dst, size_t max, uint16_t counts[3]);

/*
 * Prebuilt answers. What an answer holds depends only on the entry, the
 * rotation step (which member comes first), and whether the query had
 * EDNS with DO or not; the UDP size only decides whether it fits. So every
 * variant is rendered once at publish time: for each member a step can
 * put first, the answer bytes after the question followed by an OPT
 * record template (DO=0), with the RFC 1071 sums a hit needs to finish the
 * UDP checksum without reading them: of the answer alone, and of the
 * answer and the OPT with DO=0 and with DO=1, each placed where it will
 * sit (the question ends at an odd offset when the name's length is odd).
 * Only for entries that never expire (their TTLs are fixed).
 *
 * A topology entry has a variant per group and member of the group a step
 * can put first: the reply for step s to a client in group g is variant
 * group_base[g] + s % group_n[g], and sched_len is a common multiple of
 * the group sizes so a wrapping step counter stays fair.
 */
#define ENTRY_VARIANTS_MAX ENTRY_MAX_RR
#define ENTRY_OPT_DO_OFF 7 /* the DO bit's byte inside the OPT template */

struct entry_variant {
	uint16_t off, len; /* in the variant bytes; an 11-byte OPT follows */
	uint16_t sum[3];   /* plain, EDNS DO=0, EDNS DO=1 */
};

struct entry_prebuilt {
	uint16_t nvariants, sched_len;
	uint16_t flags; /* QR | AA | rcode: the query's RD and CD are added */
	uint16_t ancount, nscount, arcount; /* without the OPT */
	struct entry_variant v[ENTRY_VARIANTS_MAX];
	uint8_t step_variant[ENTRY_MAX_SCHED]; /* rotation step -> variant */
	uint8_t ngroups; /* topology: 0 none */
	uint8_t group_base[ENTRY_TOPO_GROUPS], group_n[ENTRY_TOPO_GROUPS];
	uint16_t group_an[ENTRY_TOPO_GROUPS]; /* ancount of the group's answers */
};

/* Render e's variants into bytes (at most max). Returns the bytes used,
 * CAR_ESPACE when they do not fit, CAR_EINVAL for an entry that expires. */
int entry_prebuild(const struct entry *e, struct entry_prebuilt *pb, uint8_t *bytes, size_t max);

/* RFC 1071 one's-complement sum of len bytes starting at an even offset,
 * folded to 16 bits (the value as a big-endian word). */
uint16_t entry_sum(const uint8_t *p, size_t len);

#endif

/* entry.c -- serving a fast-path entry: name check and answer writer. */
#include "entry.h"

#include <endian.h>
#include <string.h>

#include "wire.h"

bool entry_matches(const struct entry *e, const uint8_t *name, size_t len, uint16_t qtype,
		   uint16_t qclass)
{
	return e->qtype == qtype && e->qclass == qclass && e->name_len == len &&
	       memcmp(e->name, name, len) == 0;
}

static unsigned live_members(const struct entry *e)
{
	unsigned n = 0;

	for (unsigned i = 0; i < e->rr_count; i++)
		n += e->live[i];
	return n;
}

/* The records an answer holds. */
static unsigned live_count(const struct entry *e)
{
	unsigned n = live_members(e);

	return e->answer_count && e->answer_count < n ? e->answer_count : n;
}

size_t entry_answer_len(const struct entry *e)
{
	return (size_t)e->head_len + live_count(e) * (size_t)e->rr_len + e->tail_len;
}

static uint32_t ttl_left(uint32_t ttl, uint64_t expires, uint64_t now)
{
	if (expires == 0)
		return ttl;
	uint64_t left = expires > now ? expires - now : 0;

	return left < ttl ? (uint32_t)left : ttl;
}

/* The rotated records of a step: the schedule's order, or for a
 * topology entry its group's members from step on. */
static unsigned step_order(const struct entry *e, unsigned group, uint64_t step, uint16_t *order)
{
	if (!e->ngroups)
		return entry_rot_order(e->sched, e->sched_len, e->live, e->rr_count, step,
				       e->answer_count, order);
	const struct entry_group *g = &e->group[group < e->ngroups ? group : 0];
	unsigned n = g->n, max = e->answer_count && e->answer_count < n ? e->answer_count : n;

	for (unsigned k = 0; k < max; k++)
		order[k] = g->member[(step + k) % n];
	return max;
}

int entry_write(const struct entry *e, uint64_t step, uint64_t now, uint8_t *dst, size_t max,
		uint16_t counts[3])
{
	return entry_write_group(e, 0, step, now, dst, max, counts);
}

int entry_write_group(const struct entry *e, unsigned group, uint64_t step, uint64_t now,
		      uint8_t *dst, size_t max, uint16_t counts[3])
{
	uint16_t order[ENTRY_MAX_RR];
	unsigned k = step_order(e, group, step, order);
	size_t len = (size_t)e->head_len + k * (size_t)e->rr_len + e->tail_len;
	const uint8_t *rr = e->bytes + e->head_len;
	uint8_t *p = dst;

	if (len > max)
		return CAR_ESPACE;
	memcpy(p, e->bytes, e->head_len);
	p += e->head_len;
	for (unsigned i = 0; i < k; i++) {
		memcpy(p, rr + (size_t)order[i] * e->rr_len, e->rr_len);
		if (e->expires)
			wire_write32(p + e->rr_ttl_off, ttl_left(e->rr_ttl, e->expires, now));
		p += e->rr_len;
	}
	memcpy(p, rr + (size_t)e->rr_count * e->rr_len, e->tail_len);
	if (e->expires) {
		/* head and tail offsets are in bytes[]; map the tail ones */
		size_t tail_src = e->head_len + (size_t)e->rr_count * e->rr_len;
		size_t tail_dst = e->head_len + k * (size_t)e->rr_len;

		for (unsigned i = 0; i < e->nttl; i++) {
			size_t off = e->ttl_off[i];

			if (off >= tail_src)
				off = off - tail_src + tail_dst;
			wire_write32(dst + off, ttl_left(e->ttl[i], e->expires, now));
		}
	}
	counts[0] = (uint16_t)(e->head_an + k + e->tail_an);
	counts[1] = e->tail_ns;
	counts[2] = e->tail_ar;
	return (int)len;
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t w;

	if (len >= 32) {
		/* four lanes: their multiplies overlap instead of waiting on
		 * one another (a fingerprint per name in a publish) */
		uint64_t l[4] = {h, h ^ 1, h ^ 2, h ^ 3};

		for (; len >= 32; b += 32, len -= 32)
			for (int i = 0; i < 4; i++) {
				memcpy(&w, b + 8 * i, 8);
				l[i] = entry_hash_word(l[i], w);
			}
		h = entry_hash_word(entry_hash_word(l[0], l[1]), entry_hash_word(l[2], l[3]));
	}
	for (; len >= 8; b += 8, len -= 8) {
		memcpy(&w, b, 8);
		h = entry_hash_word(h, w);
	}
	if (len) {
		w = 0;
		for (size_t i = 0; i < len; i++) /* not a call to memcpy */
			w |= (uint64_t)b[i] << 8 * i;
		h = entry_hash_word(h, w ^ (uint64_t)len << 56);
	}
	return h;
}

/* Append n bytes of p to the fingerprint's buffer. */
static uint8_t *put(uint8_t *at, const void *p, size_t n)
{
	memcpy(at, p, n);
	return at + n;
}

uint64_t entry_fingerprint(const struct entry *e)
{
	/* the fields before bytes[] were zeroed whole (entry_clear), padding
	 * too; the name and the arrays count only up to their lengths, which
	 * the fields before them give: one buffer, hashed in one pass (its
	 * four lanes overlap; ten short passes did not) */
	uint8_t buf[offsetof(struct entry, bytes) + ENTRY_MAX_BYTES + ENTRY_MAX_RR +
		    sizeof(e->sched) + sizeof(e->ttl_off) + sizeof(e->ttl) + 2 + sizeof(e->topo) +
		    sizeof(e->group)];
	uint8_t *at = buf;
	size_t n = (size_t)e->head_len + (size_t)e->rr_count * e->rr_len + e->tail_len;
	size_t nttl = e->nttl < ENTRY_MAX_TTL ? e->nttl : ENTRY_MAX_TTL;

	at = put(at, e, offsetof(struct entry, version));
	at = put(at, &e->rot_id, offsetof(struct entry, name) - offsetof(struct entry, rot_id));
	at = put(at, e->name, e->name_len);
	at = put(at, &e->hdr_flags, offsetof(struct entry, bytes) - offsetof(struct entry, hdr_flags));
	at = put(at, e->bytes, n < sizeof(e->bytes) ? n : sizeof(e->bytes));
	at = put(at, e->live, e->rr_count < ENTRY_MAX_RR ? e->rr_count : ENTRY_MAX_RR);
	at = put(at, e->sched,
		 (e->sched_len < ENTRY_MAX_SCHED ? e->sched_len : ENTRY_MAX_SCHED) *
		     sizeof(e->sched[0]));
	at = put(at, e->ttl_off, nttl * sizeof(e->ttl_off[0]));
	at = put(at, e->ttl, nttl * sizeof(e->ttl[0]));
	*at++ = e->ntopo;
	*at++ = e->ngroups;
	at = put(at, e->topo,
		 (e->ntopo < ENTRY_TOPO_MAX ? e->ntopo : ENTRY_TOPO_MAX) * sizeof(e->topo[0]));
	for (unsigned g = 0; g < e->ngroups && g < ENTRY_TOPO_GROUPS; g++)
		at = put(at, &e->group[g], 1 + (size_t)e->group[g].n);

	uint64_t h = mix_bytes(ENTRY_HASH_SEED, buf, (size_t)(at - buf));

	h ^= h >> 29;
	return h > 1 ? h : h + 2;
}

uint16_t entry_sum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;
	size_t i = 0;

	/* eight bytes at a time as two big-endian 32-bit words: 2^16 is 1
	 * modulo 2^16 - 1, so their sum folds to the 16-bit words' sum */
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		w = be64toh(w);
		sum += (w >> 32) + (w & 0xffffffffu);
	}
	for (; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The sum of bytes that will sit at an odd offset is the byte-swapped sum
 * (RFC 1071 2(B)). */
static uint16_t placed(uint16_t sum, bool odd)
{
	return odd ? (uint16_t)(sum << 8 | sum >> 8) : sum;
}

static uint16_t add16(uint16_t a, uint16_t b)
{
	uint32_t s = (uint32_t)a + b;

	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/* One variant: the answer for (group, step) and its OPT template, with
 * the sums. Returns the bytes used or CAR_ESPACE. */
static int add_variant(const struct entry *e, struct entry_prebuilt *pb, unsigned group,
		       unsigned step, uint8_t *bytes, size_t used, size_t max,
		       const struct entry_variant *same)
{
	static const uint8_t opt[WIRE_OPT_RR_LEN] = {
		0, TYPE_OPT >> 8, TYPE_OPT & 0xff, WIRE_EDNS_UDP >> 8, WIRE_EDNS_UDP & 0xff};
	struct entry_variant *v = &pb->v[pb->nvariants];
	uint16_t counts[3];
	int n;

	if (pb->nvariants >= ENTRY_VARIANTS_MAX || max - used < WIRE_OPT_RR_LEN)
		return CAR_ESPACE;
	n = entry_write_group(e, group, step, 0, bytes + used, max - used - WIRE_OPT_RR_LEN,
			      counts);
	if (n < 0)
		return CAR_ESPACE;
	memcpy(bytes + used + n, opt, sizeof(opt));
	v->off = (uint16_t)used;
	v->len = (uint16_t)n;
	if (same && same->len == n) {
		/* the same records in another order: the same sums */
		memcpy(v->sum, same->sum, sizeof(v->sum));
	} else {
		/* the answer starts after 12 + name + 4 bytes: at an odd
		 * offset when the name's length is odd; so may the OPT */
		bool odd = e->name_len & 1, opt_odd = (e->name_len + n) & 1;
		uint16_t o0 = placed(entry_sum(opt, sizeof(opt)), opt_odd);

		v->sum[0] = placed(entry_sum(bytes + used, (size_t)n), odd);
		v->sum[1] = add16(v->sum[0], o0);
		v->sum[2] = add16(v->sum[1], opt_odd ? 0x8000 : 0x0080);
	}
	pb->nvariants++;
	/* counts differ between topology groups only in the answer count:
	 * the caller keeps it per group */
	pb->ancount = counts[0];
	pb->nscount = counts[1];
	pb->arcount = counts[2];
	return n + WIRE_OPT_RR_LEN;
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b) {
		unsigned t = a % b;

		a = b;
		b = t;
	}
	return a;
}

int entry_prebuild(const struct entry *e, struct entry_prebuilt *pb, uint8_t *bytes, size_t max)
{
	int16_t var_of[ENTRY_MAX_RR];
	size_t used = 0;
	int n;

	if (e->expires)
		return CAR_EINVAL;
	memset(pb, 0, offsetof(struct entry_prebuilt, v));
	pb->flags = (uint16_t)(WIRE_QR | e->hdr_flags | (e->rcode & 0xf));
	if (e->ngroups) {
		unsigned len = 1;

		pb->ngroups = e->ngroups;
		for (unsigned g = 0; g < e->ngroups; g++) {
			unsigned gn = e->group[g].n;

			if (gn == 0 || gn > ENTRY_MAX_RR)
				return CAR_EINVAL;
			len = len / gcd(len, gn) * gn;
			if (len > ENTRY_MAX_SCHED)
				return CAR_EINVAL;
			pb->group_base[g] = (uint8_t)pb->nvariants;
			pb->group_n[g] = (uint8_t)gn;
			for (unsigned j = 0; j < gn; j++) {
				if ((n = add_variant(e, pb, g, j, bytes, used, max, NULL)) < 0)
					return n;
				used += (size_t)n;
			}
			pb->group_an[g] = pb->ancount;
		}
		pb->sched_len = (uint16_t)len;
		for (unsigned s = 0; s < len; s++)
			pb->step_variant[s] = (uint8_t)(s % pb->group_n[0]);
		return (int)used;
	}
	memset(var_of, -1, sizeof(var_of));
	/* every variant holds every live record (only their order differs)
	 * and each record covers whole 16-bit words: one checksum for all */
	bool one_sum = e->rr_len % 2 == 0 && live_count(e) == live_members(e);
	pb->sched_len = e->sched_len ? e->sched_len : 1;
	for (unsigned s = 0; s < pb->sched_len; s++) {
		unsigned first = e->sched_len ? e->sched[s] : 0;

		if (first >= ENTRY_MAX_RR)
			return CAR_EINVAL;
		if (var_of[first] < 0) {
			var_of[first] = (int16_t)pb->nvariants;
			if ((n = add_variant(e, pb, 0, s, bytes, used, max,
					     one_sum && pb->nvariants ? &pb->v[0] : NULL)) < 0)
				return n;
			used += (size_t)n;
		}
		pb->step_variant[s] = (uint8_t)var_of[first];
	}
	return (int)used;
}

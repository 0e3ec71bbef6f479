/* entry.c -- serving a fast-path entry: name check and answer writer. */
#include "entry.h"

#include <string.h>

#include "wire.h"

bool entry_matches(const struct entry *e, const uint8_t *name, size_t len, uint16_t qtype,
		   uint16_t qclass)
{
	return e->qtype == qtype && e->qclass == qclass && e->name_len == len &&
	       memcmp(e->name, name, len) == 0;
}

static unsigned live_count(const struct entry *e)
{
	unsigned n = 0;

	for (unsigned i = 0; i < e->rr_count; i++)
		n += e->live[i];
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

int entry_write(const struct entry *e, uint64_t step, uint64_t now, uint8_t *dst, size_t max,
		uint16_t counts[3])
{
	uint16_t order[ENTRY_MAX_RR];
	unsigned k = entry_rot_order(e->sched, e->sched_len, e->live, e->rr_count, step,
				     e->answer_count, order);
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

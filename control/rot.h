/* rot.h -- replica rotation: round-robin and smooth weighted round-robin
 * schedules, precomputed per pool and address family, walked with a
 * per-worker counter (no shared writes, no lock). */
#ifndef CAROUSEL_ROT_H
#define CAROUSEL_ROT_H

#include <stdbool.h>
#include <stdint.h>

#include "entry.h"

#define ROT_MAX_WORKERS 64
#define ROT_MAX_WEIGHT 1000
#define ROT_MAX_MEMBERS 256

enum rot_method {
	ROT_ROUND_ROBIN,
	ROT_WEIGHTED,
	ROT_FAILOVER, /* groups in order; weighted rotation inside the serving group */
	ROT_TOPOLOGY, /* members preferred by client subnet; weighted rotation */
};

struct rot_sched {
	uint16_t nmembers;  /* members of this family, weight 0 included */
	uint32_t len;       /* schedule length */
	uint16_t *seq;      /* member index for each step of the cycle */
	uint8_t *live;      /* per member: weight > 0 */
};

/* The schedule for members with the given weights, in caller memory: seq
 * holds rot_sched_len() steps, live n members. Round-robin walks members
 * with weight > 0 in order; weighted is nginx's smooth WRR over one full
 * cycle (sum of weights steps). */
uint32_t rot_sched_len(enum rot_method m, const uint32_t *weights, uint16_t n);
void rot_sched_fill(struct rot_sched *s, enum rot_method m, const uint32_t *weights, uint16_t n,
		    uint16_t *seq, uint8_t *live);

/* Fill order[] with the member indexes for step `step`: the scheduled
 * member first, then the others with weight > 0 in configured order after
 * it, at most max (0 = all). Returns how many. Shared with the fast paths
 * (lib/entry.h), so both rotate alike. */
static inline unsigned rot_order(const struct rot_sched *s, uint64_t step, unsigned max,
				 uint16_t *order)
{
	return entry_rot_order(s->seq, s->len, s->live, s->nmembers, step, max, order);
}

#endif

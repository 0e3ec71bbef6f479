/* rot.c -- replica rotation schedules. */
#include "rot.h"

#include <stdlib.h>

uint32_t rot_sched_len(enum rot_method m, const uint32_t *weights, uint16_t n)
{
	uint64_t total = 0;
	uint32_t live = 0;

	for (uint16_t i = 0; i < n; i++) {
		total += weights[i];
		live += weights[i] > 0;
	}
	return m == ROT_ROUND_ROBIN || live == 0 ? live : (uint32_t)total;
}

void rot_sched_fill(struct rot_sched *s, enum rot_method m, const uint32_t *weights, uint16_t n,
		    uint16_t *seq, uint8_t *live)
{
	uint32_t total = rot_sched_len(m, weights, n);

	s->nmembers = n;
	s->live = live;
	s->seq = seq;
	s->len = total;
	for (uint16_t i = 0; i < n; i++)
		live[i] = weights[i] > 0;
	if (m == ROT_ROUND_ROBIN || total == 0) {
		for (uint16_t i = 0, k = 0; i < n; i++)
			if (weights[i] > 0)
				seq[k++] = i;
		return;
	}
	/* Smooth weighted round-robin (nginx ngx_http_upstream_get_peer):
	 * every step each member gains its weight, the richest is chosen and
	 * pays the total. Over `total` steps each appears weight times. */
	int64_t *current = calloc(n, sizeof(*current));

	if (!current)
		abort();
	for (uint32_t step = 0; step < total; step++) {
		uint16_t best = 0;

		for (uint16_t i = 0; i < n; i++) {
			current[i] += weights[i];
			if (weights[i] > 0 && (weights[best] == 0 || current[i] > current[best]))
				best = i;
		}
		current[best] -= (int64_t)total;
		seq[step] = best;
	}
	free(current);
}

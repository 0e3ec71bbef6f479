/* rot.c -- replica rotation schedules. */
#include "rot.h"

#include <stdlib.h>

void rot_sched_build(struct arena *a, struct rot_sched *s, enum rot_method m,
		     const uint32_t *weights, uint16_t n)
{
	uint64_t total = 0;
	uint16_t live = 0;

	s->nmembers = n;
	s->live = arena_alloc(a, (n ? n : 1) * sizeof(*s->live));
	for (uint16_t i = 0; i < n; i++) {
		s->live[i] = weights[i] > 0;
		total += weights[i];
		live += weights[i] > 0;
	}
	if (m == ROT_ROUND_ROBIN || live == 0) {
		s->len = live;
		s->seq = arena_alloc(a, (live ? live : 1) * sizeof(*s->seq));
		for (uint16_t i = 0, k = 0; i < n; i++)
			if (weights[i] > 0)
				s->seq[k++] = i;
		return;
	}
	/* Smooth weighted round-robin (nginx ngx_http_upstream_get_peer):
	 * every step each member gains its weight, the richest is chosen and
	 * pays the total. Over `total` steps each appears weight times. */
	int64_t *current = calloc(n, sizeof(*current));

	if (!current)
		abort();
	s->len = (uint32_t)total;
	s->seq = arena_alloc(a, total * sizeof(*s->seq));
	for (uint32_t step = 0; step < total; step++) {
		uint16_t best = 0;

		for (uint16_t i = 0; i < n; i++) {
			current[i] += weights[i];
			if (weights[i] > 0 && (weights[best] == 0 || current[i] > current[best]))
				best = i;
		}
		current[best] -= (int64_t)total;
		s->seq[step] = best;
	}
	free(current);
}

/* pool.c -- pool views: which members a pool hands out, given their health. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* Which members of family fam (indexes into fam_member[fam]) are served. */
static unsigned choose(const struct pool *p, int fam, const bool *up, const bool *drained,
		       uint32_t *w, bool *all_down)
{
	uint16_t n = p->nfam[fam];
	unsigned serving = 0;

	for (uint16_t i = 0; i < n; i++) {
		unsigned m = p->fam_member[fam][i];
		bool ok = (!up || up[m]) && !(drained && drained[m]) && p->members[m].weight > 0;

		w[i] = ok ? p->members[m].weight : 0;
		serving += ok;
	}
	*all_down = serving == 0 && n > 0;
	if (p->method == ROT_FAILOVER && serving) {
		/* the lowest group with min-up members serves alone */
		unsigned best = UINT32_MAX;

		for (uint16_t i = 0; i < n; i++) {
			unsigned g = p->members[p->fam_member[fam][i]].group, count = 0;

			if (!w[i] || g >= best)
				continue;
			for (uint16_t j = 0; j < n; j++)
				count += w[j] && p->members[p->fam_member[fam][j]].group == g;
			if (count >= p->min_up)
				best = g;
		}
		/* no group has enough: every member that is up serves */
		for (uint16_t i = 0; best != UINT32_MAX && i < n; i++)
			if (p->members[p->fam_member[fam][i]].group != best)
				w[i] = 0;
	}
	if (serving == 0 && p->on_all_down == ALL_DOWN_SERVE_ALL) {
		/* fail open: members not drained, else all of them */
		for (int pass = 0; pass < 2 && serving == 0; pass++)
			for (uint16_t i = 0; i < n; i++) {
				unsigned m = p->fam_member[fam][i];

				if (pass == 0 && drained && drained[m])
					continue;
				w[i] = p->members[m].weight;
				serving += w[i] > 0;
			}
	}
	return serving;
}

struct pool_view *pool_view_build(const struct pool *p, const bool *up, const bool *drained)
{
	uint32_t w[2][ROT_MAX_MEMBERS];
	uint32_t len[2];
	enum rot_method m = p->method == ROT_ROUND_ROBIN ? ROT_ROUND_ROBIN : ROT_WEIGHTED;
	struct pool_view tmp = {.ttl = p->ttl};

	for (int f = 0; f < 2; f++) {
		tmp.serving[f] = (uint16_t)choose(p, f, up, drained, w[f], &tmp.all_down[f]);
		len[f] = rot_sched_len(m, w[f], p->nfam[f]);
		tmp.action[f] = VIEW_SERVE;
		if (tmp.all_down[f] && p->on_all_down == ALL_DOWN_SERVFAIL)
			tmp.action[f] = VIEW_SERVFAIL;
		else if (tmp.all_down[f] && p->on_all_down == ALL_DOWN_POOL)
			tmp.action[f] = VIEW_FALLBACK;
		tmp.degraded |= tmp.all_down[f];
	}
	for (unsigned i = 0; up && i < p->nmembers; i++)
		tmp.degraded |= !up[i] && !(drained && drained[i]) && p->members[i].weight > 0;
	if (tmp.degraded && p->degraded_ttl < tmp.ttl)
		tmp.ttl = p->degraded_ttl;

	size_t size = sizeof(tmp);

	for (int f = 0; f < 2; f++)
		size += (len[f] + 1) * sizeof(uint16_t) + ((p->nfam[f] + 2u) & ~1u);
	struct pool_view *v = malloc(size);

	if (!v)
		abort();
	*v = tmp;
	uint8_t *mem = (uint8_t *)(v + 1);

	for (int f = 0; f < 2; f++) {
		uint16_t *seq = (uint16_t *)mem;
		uint8_t *live = mem + (len[f] + 1) * sizeof(uint16_t);

		rot_sched_fill(&v->sched[f], m, w[f], p->nfam[f], seq, live);
		mem = live + ((p->nfam[f] + 2u) & ~1u); /* keeps seq 2-aligned */
	}
	return v;
}

void pool_view_free(struct pool_view *v)
{
	free(v);
}

void pool_views_init(struct config *cfg)
{
	for (unsigned i = 0; i < cfg->npools; i++) {
		struct pool *p = cfg->pools[i];
		bool up[ROT_MAX_MEMBERS];

		for (unsigned j = 0; j < p->nmembers; j++)
			up[j] = !p->members[j].monitor || p->members[j].monitor->initial_up;
		atomic_store(&p->view, pool_view_build(p, up, NULL));
	}
}

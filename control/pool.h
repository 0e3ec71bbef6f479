/* pool.h -- what a pool serves now: its members' health and drain state
 * folded with the pool's policy (failover groups, on-all-down, degraded
 * TTL) into an immutable view. The health module replaces a pool's view on
 * every state change; workers read it through one atomic pointer. */
#ifndef CAROUSEL_POOL_H
#define CAROUSEL_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "rot.h"

#define POOL_FALLBACK_HOPS 4 /* on-all-down: pool: chains followed this far */

enum view_action {
	VIEW_SERVE,    /* rotate over sched[fam] */
	VIEW_SERVFAIL, /* on-all-down: servfail */
	VIEW_FALLBACK, /* on-all-down: pool: NAME answers instead */
};

struct pool_view {
	struct rot_sched sched[2]; /* per family, over the members served now */
	enum view_action action[2];
	uint32_t ttl;              /* the pool's, or degraded-ttl */
	bool degraded;             /* a member is down, or all are */
	bool all_down[2];
	uint16_t serving[2];       /* members up and not drained, per family */
};

/* Member states by index in p->members. up NULL: every member up. */
struct pool_view *pool_view_build(const struct pool *p, const bool *up, const bool *drained);
void pool_view_free(struct pool_view *v);
/* First views of a loaded config: monitors at their `initial` state. */
void pool_views_init(struct config *cfg);

static inline const struct pool_view *pool_view_get(const struct pool *p)
{
	return atomic_load_explicit(&((struct pool *)p)->view, memory_order_acquire);
}

/* The pool whose members answer for p's family fam now, following
 * on-all-down fallbacks; *v gets its view, *ttl p's own TTL now (degraded
 * or not). NULL: SERVFAIL. */
static inline const struct pool *pool_serving(const struct pool *p, int fam,
					      const struct pool_view **v, uint32_t *ttl)
{
	const struct pool_view *view = pool_view_get(p);

	*ttl = view->ttl;
	for (int hop = 0; hop <= POOL_FALLBACK_HOPS; hop++) {
		*v = view;
		switch (view->action[fam]) {
		case VIEW_SERVE:
			return view->sched[fam].len ? p : NULL;
		case VIEW_SERVFAIL:
			return NULL;
		case VIEW_FALLBACK:
			p = p->fallback;
			if (!p)
				return NULL;
			view = pool_view_get(p);
			break;
		}
	}
	return NULL;
}

#endif

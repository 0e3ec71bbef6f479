/* health.h -- pool member monitors (tcp, http(s), pop3(s), imap(s), smtp,
 * dns, exec), run non-blocking on the main thread's event loop. Each
 * verdict moves a rise/fall counter; a state change (or a drain) makes a
 * new view of the pool, which is swapped in and handed to the fast paths. */
#ifndef CAROUSEL_HEALTH_H
#define CAROUSEL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct health;

struct health_hooks {
	/* Return once no worker can still hold a view it read before. */
	void (*synchronize)(void *arg);
	/* Pool `index` of cfg serves something else now (fast paths). */
	void (*changed)(void *arg, const struct config *cfg, unsigned index);
	void *arg;
};

/* A member's state machine, one verdict at a time: `up` changes after
 * `rise` passing (down -> up) or `fall` failing (up -> down) verdicts in a
 * row; *streak counts the ones in a row that disagree with *up. Returns
 * true when *up changed. No clock, no probe: the unit tests drive it. */
bool health_transition(bool *up, unsigned *streak, bool ok, unsigned rise, unsigned fall);

struct health *health_create(const struct health_hooks *hooks);
void health_destroy(struct health *h);
/* Watch this fd (epoll) and call health_run() when it is readable. */
int health_fd(const struct health *h);
void health_run(struct health *h);
/* Take on cfg before it is swapped in: members keep their state, drain
 * and counters by (pool name, address); cfg's views are rebuilt from
 * them. Checks in flight against the old config are dropped. */
void health_adopt(struct health *h, struct config *cfg);

/* carouselctl: `pools`, `drain POOL MEMBER`, `undrain POOL MEMBER`.
 * Return bytes written; *ok false for an error reply. */
size_t health_ctl(struct health *h, const char *cmd, char *buf, size_t len, bool *ok);
struct json_out;
/* Every pool and its members as a JSON array (the HTTP API). */
void health_pools_json(struct health *h, struct json_out *o);
/* Prometheus lines for every member (metrics.c). */
size_t health_metrics(struct health *h, char *buf, size_t len);

#endif

/* metrics.h -- Prometheus text exposition (libmicrohttpd) of the query
 * counters, cache, health and dataplane counters, served from the main
 * thread's event loop: GET /metrics on the `metrics.listen` address. */
#ifndef CAROUSEL_METRICS_H
#define CAROUSEL_METRICS_H

#include <stddef.h>

#include "config.h"

struct server;
struct health;

struct metrics_sources {
	struct server *srv;
	struct health *health;
	const char *dataplane;                 /* "dpdk", "xdp" or NULL */
	size_t (*dataplane_stats)(char *buf, size_t len); /* "name value" lines */
};

struct metrics;

/* Listen on addr. NULL (logged) when it cannot. */
struct metrics *metrics_start(const struct listen_addr *addr, const struct metrics_sources *src);
/* Watch this fd; call metrics_run() when it is readable, and now and then. */
int metrics_fd(const struct metrics *m);
void metrics_run(struct metrics *m);
void metrics_stop(struct metrics *m);
/* The exposition text (tests, and the HTTP handler). Returns its length;
 * when that is >= len, call again with a bigger buffer. */
size_t metrics_render(const struct metrics_sources *src, char *buf, size_t len);

#endif

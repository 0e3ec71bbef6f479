/* metrics.h -- Prometheus text exposition of the query counters, cache,
 * health and dataplane counters (GET /metrics on the http listener). */
#ifndef CAROUSEL_METRICS_H
#define CAROUSEL_METRICS_H

#include <stddef.h>

#include "config.h"

struct server;
struct health;

/* What the metrics, the JSON API and the status page read. */
struct metrics_sources {
	struct server *srv;
	struct health *health;
	const char *dataplane;                 /* "dpdk", "xdp" or NULL */
	size_t (*dataplane_stats)(char *buf, size_t len); /* "name value" lines */
};

/* The exposition text (tests, and the HTTP handler). Returns its length;
 * when that is >= len, call again with a bigger buffer. */
size_t metrics_render(const struct metrics_sources *src, char *buf, size_t len);

#endif

/* api.h -- the JSON documents of the HTTP API (docs/configuration.md,
 * "http"): /api/v1/status, /api/v1/pools, /api/v1/stats. */
#ifndef CAROUSEL_API_H
#define CAROUSEL_API_H

#include "json.h"
#include "metrics.h"

void api_status(const struct metrics_sources *src, struct json_out *o);
void api_pools(const struct metrics_sources *src, struct json_out *o);
void api_stats(const struct metrics_sources *src, struct json_out *o);

#endif

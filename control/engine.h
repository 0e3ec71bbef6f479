/* engine.h -- the answer engine: one query in, one response out, from the
 * config generation in force (zones, aliases, pools with rotation). */
#ifndef CAROUSEL_ENGINE_H
#define CAROUSEL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define ENGINE_CHAIN_MAX 16 /* CNAMEs followed inside our data */

struct engine_result {
	bool dropped;   /* no reply at all */
	unsigned rcode; /* 0..15, or RCODE_BADVERS */
	uint16_t qtype; /* 0 when the question was unreadable */
	bool truncated;
};

/* Answer query (qlen bytes) into out (out_max >= WIRE_TCP_MAX for TCP).
 * Returns the response length, 0 when the query is dropped. `worker`
 * selects the rotation counters: it must be owned by the caller's thread. */
size_t engine_answer(const struct config *cfg, unsigned worker, const uint8_t *query, size_t qlen,
		     uint8_t *out, size_t out_max, bool tcp, struct engine_result *res);

#endif

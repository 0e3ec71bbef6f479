/* publish.h -- the one publisher: it alone decides which names a fast
 * path holds (pool names and aliases, promoted cache entries), with the
 * cookie secrets and rate limits in force, renders them with the engine
 * into lib/'s entry format and hands them over through the fast path's
 * fp_ops. It keeps each generation's keys and withdraws the difference,
 * so a fast path never scans its own table. */
#ifndef CAROUSEL_PUBLISH_H
#define CAROUSEL_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "entry.h"
#include "fastpath.h"

struct publisher;

/* How long the last full publish took, in milliseconds (publish-ms). */
double publish_last_ms(const struct publisher *p);

struct publisher *publish_create(const struct fp_ops *fp);
void publish_destroy(struct publisher *p);
/* Every pool's names of cfg, A and AAAA; keys the previous generation
 * had and this one lacks are withdrawn. */
void publish_config(struct publisher *p, const struct config *cfg);
/* A pool's view changed (health, drain): its names again, and those of
 * the pools that may fall back on another. */
void publish_pool(struct publisher *p, const struct config *cfg, unsigned index);
/* A hot cached answer (the resolver's promotion; e carries its expiry):
 * published unless a configured name holds its key. */
void publish_hot(struct publisher *p, const struct entry *e);
void publish_withdraw(struct publisher *p, uint64_t digest);
/* "entries-published N ..." lines for carouselctl status. */
size_t publish_status(const struct publisher *p, char *buf, size_t len);

#endif

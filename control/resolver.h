/* resolver.h -- the seam between answering and resolving: queries for
 * names outside our zones that miss the cache cross it once. A resolver
 * thread drives libunbound asynchronously (its fd in our own epoll),
 * merges identical questions in flight, fills the cache, and hands each
 * waiting query back through its rreq_hooks (the server: to the worker
 * that owns its socket). */
#ifndef CAROUSEL_RESOLVER_H
#define CAROUSEL_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"
#include "entry.h"
#include "rreq.h"

struct resolver;

/* Start the resolver thread; answered queries go back through done. */
struct resolver *resolver_start(const struct config *cfg, const struct rreq_hooks *done,
				struct cache *cache, char *err, size_t err_len);
void resolver_stop(struct resolver *r);
/* Worker side: hand a query over (never blocks on upstream). */
void resolver_submit(struct resolver *r, struct rreq *q);
/* Reload: settings that can change without a new libunbound context. */
void resolver_update(struct resolver *r, const struct config *cfg);

/* Hot names for the fast path: the resolver queues entries to publish and
 * digests to withdraw; the main thread drains them (it owns the table). */
typedef void (*resolver_publish_fn)(struct entry *e);
typedef void (*resolver_withdraw_fn)(uint64_t digest);
void resolver_set_publisher(struct resolver *r, resolver_publish_fn pub, resolver_withdraw_fn wd);
void resolver_drain_promotions(struct resolver *r);

/* carouselctl: "cache stats", "cache top", "cache flush [NAME]". */
size_t resolver_ctl(struct resolver *r, const char *args, char *buf, size_t len, bool *ok);

#endif

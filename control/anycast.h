/* anycast.h -- anycast prefixes that follow health: carouseld owns a TUN
 * device (ANYCAST_DEVICE) and puts each prefix's address on it while the
 * prefix's pools serve; bird2's `direct` protocol turns the addresses into
 * routes and BGP announces them. The device is not persistent: when
 * carouseld dies, the kernel removes it, and the routes go with it. */
#ifndef CAROUSEL_ANYCAST_H
#define CAROUSEL_ANYCAST_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct anycast;

/* A clean stop withdraws, then keeps answering this long: what the peers
 * still send while the withdrawal spreads gets an answer. */
#define ANYCAST_DRAIN_MS 1000

/* NULL when cfg has no anycast: section (nothing is created). */
struct anycast *anycast_create(const struct config *cfg);
/* Main thread: after a reload or a pool's view changed, (re)announce or
 * withdraw every prefix of cfg. */
void anycast_update(struct anycast *a, const struct config *cfg);
/* Clean stop: withdraw everything (the device goes). */
void anycast_withdraw_all(struct anycast *a);
void anycast_destroy(struct anycast *a);
/* carouselctl anycast. */
size_t anycast_ctl(struct anycast *a, char *buf, size_t len);

#endif

/* xfr.h -- secondary zones: SOA checks on the SOA's refresh/retry/expire
 * timers, IXFR (RFC 1995) with AXFR fallback over TCP, TSIG on every
 * exchange, NOTIFY (RFC 1996) from the primaries, the transferred zone kept
 * on disk with its timers, swapped in as a reload swaps a config. One
 * thread of its own does the network; the main thread swaps. */
#ifndef CAROUSEL_XFR_H
#define CAROUSEL_XFR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

struct xfr;

/* What the workers read of a secondary zone's state. The rest of struct
 * xfr_zone is the xfr thread's (xfr.c). */
struct xfr_zone_public {
	_Atomic bool expired; /* no successful refresh for `expire`: SERVFAIL */
};

/* Can z answer? A secondary without data, or expired, cannot. */
static inline bool xfr_zone_serving(const struct zone *z)
{
	if (!z->soa)
		return false;
	return !z->xfr || !atomic_load_explicit(&((struct xfr_zone_public *)z->xfr)->expired,
						memory_order_relaxed);
}

/* RFC 1982 3.2: is a newer than b? (undefined pairs, 2^31 apart: no) */
static inline bool xfr_serial_gt(uint32_t a, uint32_t b)
{
	return (a < b && b - a > 0x80000000u) || (a > b && a - b < 0x80000000u);
}

struct xfr_hooks {
	/* Main thread: load and swap in a new generation, as a reload does
	 * (config_fleet's staged file is set around the call). 0, or -1 with
	 * the reason in err (the old generation keeps serving). */
	int (*apply)(void *arg, char *err, size_t err_len);
	void *arg;
};

struct xfr *xfr_create(const struct xfr_hooks *hooks);
/* Main thread, before cfg serves: every secondary zone of cfg gets its
 * runtime state (kept across generations by name); the thread is told
 * about new primaries and keys. */
void xfr_adopt(struct xfr *x, struct config *cfg);
/* An fd for the main loop: readable when the xfr thread has a new zone
 * to swap in; then call xfr_run(). */
int xfr_fd(const struct xfr *x);
void xfr_run(struct xfr *x);
void xfr_destroy(struct xfr *x);

/* carouselctl zones | refresh ZONE. (size_t)-1: not ours. */
size_t xfr_ctl(struct xfr *x, const char *cmd, char *buf, size_t len, bool *ok);
/* "xfr.<counter> N" lines (carouselctl stats) and the Prometheus text. */
size_t xfr_stats(struct xfr *x, char *buf, size_t len);
size_t xfr_metrics(struct xfr *x, char *buf, size_t len);

/* A worker's answer to a NOTIFY (opcode 4) query: RFC 1996 from a
 * primary of the zone, REFUSED from anyone else, NOTAUTH (with the TSIG
 * error) for a bad key or signature. Sets off an SOA check. Returns the
 * length of the response, 0 to drop. */
size_t xfr_notify_answer(const struct config *cfg, const struct sockaddr *client,
			 const uint8_t *query, size_t qlen, uint8_t *out, size_t out_max);

#endif

/* xdp.h -- the XDP fast path's loader inside carouseld: load the program
 * (libbpf skeleton), attach it to the configured interface, keep its entry
 * map as the publisher says (xdp_ops), read its counters. It sees only
 * lib/: the publisher in control/ decides what it holds. */
#ifndef CAROUSEL_XDP_LOADER_H
#define CAROUSEL_XDP_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "entry.h"
#include "fastpath.h"

/* Load the program with the dataplane addresses; attach it to
 * c->interface unless attach is false (tests). Returns 0 or -1 (logged). */
int xdp_init(const struct fp_config *c, bool attach);
/* publish, withdraw, poll (the watch on the driver's XDP transmit errors:
 * when they grow while the program answers, auto mode moves to generic,
 * native mode warns once with the fix), stats, status, stop (detach) */
extern const struct fp_ops xdp_ops;

/* The driver's XDP_TX errors on the interface since attach. */
uint64_t xdp_tx_errors(void);
int xdp_prog_fd(void);
/* The entry maps (tests): the small class's, else the large class's. */
int xdp_map_fd(bool small);
/* One counter summed over CPUs (tests), by its stats name without "xdp." */
uint64_t xdp_counter(const char *name);

#endif

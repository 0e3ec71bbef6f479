/* xdp.h -- the XDP fast path's loader inside carouseld: load the program
 * (libbpf skeleton), attach it to the configured interface, keep its entry
 * map in step with carouseld's entries, read its counters. */
#ifndef CAROUSEL_XDP_LOADER_H
#define CAROUSEL_XDP_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "entry.h"

/* Load the program with the dataplane addresses; attach it to
 * cfg->dp.interface unless attach is false (tests). Returns 0 or -1. */
int xdp_init(const struct config *cfg, bool attach);
/* Publish cfg's pool and alias entries; remove config entries no longer
 * there (cached entries, which expire, are the resolver's to withdraw). */
void xdp_publish(const struct config *cfg);
/* Re-publish the names of one pool (its view changed: health, drain). */
void xdp_publish_pool(const struct config *cfg, unsigned index);
/* Publish one entry (the caller keeps e). Returns 0 or -1. */
int xdp_publish_entry(const struct entry *e);
void xdp_withdraw(uint64_t digest);
void xdp_stop(void);
/* From the main loop, a few times a second: reads the driver's XDP transmit
 * errors; when they grow while the program answers, auto mode moves to
 * generic, native mode warns once with the fix. */
void xdp_watch(void);
/* The driver's XDP_TX errors on the interface since attach. */
uint64_t xdp_tx_errors(void);

int xdp_prog_fd(void);
size_t xdp_stats_text(char *buf, size_t len);
size_t xdp_status_text(char *buf, size_t len);
/* One counter summed over CPUs (tests), by its name in carousel_xdp.h. */
uint64_t xdp_counter(const char *name);

#endif

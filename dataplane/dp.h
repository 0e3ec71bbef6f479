/* dp.h -- the DPDK poll-mode fast path inside carouseld: EAL, the wire
 * port and the kernel exception port, the lock-free entry table and the
 * worker lcores. carouseld reaches it only through these calls. */
#ifndef CAROUSEL_DP_H
#define CAROUSEL_DP_H

#include <stddef.h>

#include "config.h"
#include "entry.h"

/* EAL init (eal_argv as after "--" on carouseld's command line), ports,
 * exception interface addresses, table. Returns 0 or -1 (logged). */
int dp_init(const struct config *cfg, int eal_argc, char **eal_argv);
/* The same, after the caller initialised EAL and created the ports named
 * by cfg->dp.port and cfg->dp.exception itself (tests: net_ring ports). */
int dp_setup(const struct config *cfg);
/* Launch the worker lcores. */
int dp_launch(void);
/* Publish the entries of cfg (pools and aliases, A and AAAA); entries of
 * older generations are removed. Never blocks a worker. */
void dp_publish(const struct config *cfg);
/* Re-publish the names of one pool (its view changed: health, drain). */
void dp_publish_pool(const struct config *cfg, unsigned index);
/* Publish one entry (malloc'd; the table owns it from now on): added, or
 * swapped for the entry with the same key, which is freed after the grace
 * period. Returns -1 (caller keeps e) on a digest collision or full table. */
int dp_publish_entry(struct entry *e);
/* Remove the entry with this key (freed after the grace period). */
void dp_withdraw(uint64_t digest);
/* Free entries whose RCU grace period has ended (call periodically). */
void dp_reclaim(void);
void dp_stop(void);

enum dp_mode {
	DP_MODE_ANSWER,  /* the fast path */
	DP_MODE_REFLECT, /* benchmark baseline: swap addresses and send back */
};

/* Benchmarks only: switch what the worker lcores do with each frame. */
void dp_set_mode(enum dp_mode mode);

size_t dp_stats_text(char *buf, size_t len);
size_t dp_status_text(char *buf, size_t len);

#endif

/* dp.h -- the DPDK poll-mode fast path inside carouseld: EAL, the wire
 * port and the kernel exception port, the lock-free entry table and the
 * worker lcores. It sees only lib/: carouseld's publisher reaches it
 * through dp_ops. */
#ifndef CAROUSEL_DP_H
#define CAROUSEL_DP_H

#include <stddef.h>
#include <stdint.h>

#include "fastpath.h"

/* EAL init (eal_argv as after "--" on carouseld's command line), ports,
 * exception interface addresses, table. Returns 0 or -1 (logged). */
int dp_init(const struct fp_config *c, int eal_argc, char **eal_argv);
/* The same, after the caller initialised EAL and created the ports named
 * by c->port and c->exception itself (tests: net_ring ports). */
int dp_setup(const struct fp_config *c);
/* Launch the worker lcores. */
int dp_launch(void);
/* publish, withdraw (never blocking a worker: old entries are freed after
 * the RCU grace period, in poll), stats, status, stop */
extern const struct fp_ops dp_ops;

enum dp_mode {
	DP_MODE_ANSWER,  /* the fast path */
	DP_MODE_REFLECT, /* benchmark baseline: swap addresses and send back */
	DP_MODE_RESPOND, /* benchmark baseline: read the question, answer fixed bytes */
	DP_MODE_ANSWER_NO_PREFETCH, /* benchmark: the fast path without its own
				     * prefetches of frames and entries */
};

/* Benchmarks only: switch what the worker lcores do with each frame; the
 * fixed answer of DP_MODE_RESPOND (copied). */
void dp_set_mode(enum dp_mode mode);
void dp_set_fixed_answer(const uint8_t *answer, size_t len);

#endif

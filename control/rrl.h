/* rrl.h -- response rate limiting (as Knot's mod-rrl, BIND's RRL): UDP
 * responses per second per client prefix; over the limit a response is
 * dropped, but one in slip (at random) goes out truncated (TC=1) so real
 * clients retry over TCP. Shared by all workers, lock-free (one CAS per
 * answer). */
#ifndef CAROUSEL_RRL_H
#define CAROUSEL_RRL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rrl_bucket.h"

struct rrl_config {
	bool enable;
	unsigned rate; /* responses per second per prefix */
	unsigned slip; /* one in slip limited responses is sent truncated; 0: none */
	unsigned v4_prefix, v6_prefix;
	unsigned table_size;
};

struct rrl {
	uint32_t mask;
	_Atomic uint64_t *b; /* tag:32 | second:16 | count:16 */
	_Atomic uint64_t slipped, dropped;
};

struct rrl *rrl_create(unsigned table_size);
void rrl_destroy(struct rrl *r);
enum rrl_verdict rrl_check(struct rrl *r, const struct rrl_config *c, const struct sockaddr *client,
			   uint64_t now_sec);

#endif

/* rrl.c -- response rate limiting: a table of per-prefix counters for the
 * current second, updated with compare-and-swap. */
#include "rrl.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dname.h"
#include "xorshift.h"

struct rrl *rrl_create(unsigned table_size)
{
	struct rrl *r = calloc(1, sizeof(*r));
	uint32_t n = 1024;

	if (!r)
		abort();
	while (n < table_size && n < (1u << 24))
		n <<= 1;
	r->mask = n - 1;
	r->b = calloc(n, sizeof(*r->b));
	if (!r->b)
		abort();
	return r;
}

void rrl_destroy(struct rrl *r)
{
	if (!r)
		return;
	free(r->b);
	free(r);
}

/* The die rrl_limited rolls: a xorshift of each thread's own, seeded
 * once from getrandom. */
static unsigned roll(void)
{
	static _Thread_local uint64_t x;

	if (!x && (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x) || !x))
		x = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&x;
	return (unsigned)(xorshift64(&x) >> 32);
}

enum rrl_verdict rrl_check(struct rrl *r, const struct rrl_config *c, const struct sockaddr *client,
			   uint64_t now_sec)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)client;
	bool v6 = client->sa_family == AF_INET6;
	uint64_t h = rrl_prefix_hash(v6 ? s6->sin6_addr.s6_addr
				     : (const uint8_t *)&((const struct sockaddr_in *)client)->sin_addr,
				     v6, v6 ? c->v6_prefix : c->v4_prefix);
	_Atomic uint64_t *b = &r->b[h & r->mask];

	for (int tries = 0; tries < 4; tries++) {
		uint64_t old = atomic_load_explicit(b, memory_order_relaxed);
		uint64_t next = rrl_bucket_next(old, h, (unsigned)now_sec);

		if (!atomic_compare_exchange_weak_explicit(b, &old, next, memory_order_relaxed,
							   memory_order_relaxed))
			continue;
		enum rrl_verdict v = rrl_over(next, c->rate) ? rrl_limited(c->slip, roll()) : RRL_PASS;

		if (v == RRL_SLIP)
			atomic_fetch_add_explicit(&r->slipped, 1, memory_order_relaxed);
		else if (v == RRL_DROP)
			atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return v;
	}
	return RRL_PASS; /* heavy contention on one bucket: let it through */
}

/* rrl.c -- response rate limiting: a table of per-prefix counters for the
 * current second, updated with compare-and-swap. */
#include "rrl.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"

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

/* The client's prefix (/24, /56 by default), hashed. */
static uint64_t prefix_hash(const struct rrl_config *c, const struct sockaddr *sa)
{
	uint8_t key[17] = {0};
	unsigned bits;
	const uint8_t *addr;

	if (sa->sa_family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		bits = c->v4_prefix;
		key[16] = 4;
		memcpy(key, addr, 4);
	} else {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		bits = c->v6_prefix;
		key[16] = 6;
		memcpy(key, addr, 16);
	}
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits > i * 8 ? bits - i * 8 : 0;

		if (keep < 8)
			key[i] &= (uint8_t)(0xff00 >> keep);
	}
	uint64_t h = 0xcbf29ce484222325ULL;

	for (unsigned i = 0; i < sizeof(key); i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	return h;
}

enum rrl_verdict rrl_check(struct rrl *r, const struct rrl_config *c, const struct sockaddr *client,
			   uint64_t now_sec)
{
	uint64_t h = prefix_hash(c, client);
	uint32_t tag = (uint32_t)(h >> 32);
	uint16_t sec = (uint16_t)now_sec;
	_Atomic uint64_t *b = &r->b[h & r->mask];

	for (int tries = 0; tries < 4; tries++) {
		uint64_t old = atomic_load_explicit(b, memory_order_relaxed);
		uint32_t otag = (uint32_t)(old >> 32);
		uint16_t osec = (uint16_t)(old >> 16), count = (uint16_t)old;
		/* another prefix or another second: the bucket starts over */
		if (otag != tag || osec != sec)
			count = 0;
		if (count < 0xffff)
			count++;
		uint64_t next = (uint64_t)tag << 32 | (uint64_t)sec << 16 | count;

		if (!atomic_compare_exchange_weak_explicit(b, &old, next, memory_order_relaxed,
							   memory_order_relaxed))
			continue;
		if (count <= c->rate)
			return RRL_PASS;
		if (c->slip && (count - c->rate) % c->slip == 0) {
			atomic_fetch_add_explicit(&r->slipped, 1, memory_order_relaxed);
			return RRL_SLIP;
		}
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return RRL_DROP;
	}
	return RRL_PASS; /* heavy contention on one bucket: let it through */
}

/* xorshift.h -- Marsaglia's xorshift64: a cheap random step where a
 * sample or a slip is drawn at random rather than every n-th, so no
 * client's rhythm decides which. The state must not be 0. */
#ifndef CAROUSEL_XORSHIFT_H
#define CAROUSEL_XORSHIFT_H

#include <stdint.h>

static inline uint64_t xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

#endif

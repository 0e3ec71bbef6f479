/* topnames.h -- the most asked names, per worker: a Space-Saving sketch
 * (Metwally et al., 2005) of TOPNAMES_K (name, type) counters, fed with
 * one query in TOPNAMES_SAMPLE, chosen at random. Counts are estimates that only grow (an
 * evicted name's count goes to its successor), good for ranking and, as
 * differences between two reads, for rates of the heavy hitters. */
#ifndef CAROUSEL_TOPNAMES_H
#define CAROUSEL_TOPNAMES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"

#define TOPNAMES_K 64
#define TOPNAMES_SAMPLE 8 /* a power of 2 */

struct topname {
	uint8_t name[DNAME_MAXLEN]; /* lower-case wire form */
	uint8_t len;
	uint16_t qtype;
	uint64_t count;
};

struct topnames {
	pthread_mutex_t lock; /* the worker, and a reader now and then */
	uint64_t seq;         /* the worker's own random state: which queries count */
	unsigned n;
	struct topname e[TOPNAMES_K];
};

void topnames_init(struct topnames *t);
void topnames_destroy(struct topnames *t);
/* Count one query of the worker that owns t (sampled inside). */
void topnames_query(struct topnames *t, const uint8_t *query, size_t len);
/* The first `limit` names over tables[0..n) merged, by count: lines
 * "NAME TYPE COUNT". Returns bytes written. */
size_t topnames_text(struct topnames *const *tables, unsigned n, unsigned limit, char *buf,
		     size_t len);

#endif

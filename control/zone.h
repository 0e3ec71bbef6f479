/* zone.h -- in-memory zone data: nodes keyed by lower-case wire name, each
 * holding RRsets in file order; loaded from master files by libzscanner. */
#ifndef CAROUSEL_ZONE_H
#define CAROUSEL_ZONE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "dname.h"

struct pool;
struct secondary;
struct xfr_zone;

struct rr {
	struct rr *next;
	uint16_t len;
	uint8_t data[]; /* RDATA, names uncompressed and lower-case */
};

struct rrset {
	struct rrset *next;
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	struct rr *head, *tail;
};

struct node {
	struct node *hash_next;
	struct rrset *rrsets;
	struct pool *pool;     /* A/AAAA here come from this pool, rotated */
	struct pool *alias_of; /* this name is an alias (CNAME) of that pool */
	uint32_t hash;
	uint8_t name_len;
	uint8_t name[];
};

struct zone {
	struct zone *hash_next;
	uint8_t apex[DNAME_MAXLEN];
	uint8_t apex_len;
	const char *file;
	struct node *apex_node;
	struct rrset *soa;
	struct node **buckets;
	uint32_t mask;
	uint32_t nodes;
	uint32_t records;
	uint32_t cuts; /* NS RRs below the apex (delegations), from the zone file */
	/* A secondary zone (control/xfr.h): its config, and its transfer
	 * state, which outlives config generations (NULL when only checked). */
	const struct secondary *secondary;
	struct xfr_zone *xfr;
};

/* Load a zone from a master file. On error fills err ("file:line: message")
 * and returns NULL. */
struct zone *zone_load(struct arena *a, const uint8_t *apex, const char *file, char *err,
		       size_t err_len);

/* A zone with no data yet (a secondary before its first transfer): no
 * SOA, answered SERVFAIL. */
struct zone *zone_empty(struct arena *a, const uint8_t *apex, const char *file);

struct node *zone_find(const struct zone *z, const uint8_t *name, size_t len);
/* The highest zone cut (a node with NS below the apex) on the way from
 * the apex to name, name included, or NULL. When the walk got to name
 * itself (or to an ancestor that does not exist), *self is name's node
 * (or NULL) and *seen true: the caller need not look it up again. A zone
 * without cuts is not walked (*seen false). */
const struct node *zone_find_cut(const struct zone *z, const uint8_t *name,
				 const struct node **self, bool *seen);
/* Is name at or below a delegation of z? */
bool zone_below_cut(const struct zone *z, const uint8_t *name);
/* Find or create the node, creating empty non-terminals up to the apex. */
struct node *zone_add_node(struct arena *a, struct zone *z, const uint8_t *name);
struct rrset *node_rrset(const struct node *n, uint16_t type);
/* Append one record; the RRset takes the lowest TTL seen (RFC 2181 5.2). */
void node_add_rr(struct arena *a, struct node *n, uint16_t type, uint32_t ttl,
		 const uint8_t *rdata, uint16_t rdlen);

/* The negative-caching TTL: min(SOA TTL, SOA MINIMUM) (RFC 2308 5). */
uint32_t zone_negative_ttl(const struct zone *z);

#endif

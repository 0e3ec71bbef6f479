/* config_fleet.h -- the fleet's config: TSIG `keys:`, secondary zones
 * (`primary:`/`key:` on a zone) and `anycast:` prefixes. Parsed apart from
 * config.c, which calls in at four places. */
#ifndef CAROUSEL_CONFIG_FLEET_H
#define CAROUSEL_CONFIG_FLEET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "arena.h"
#include "dname.h"
#include "tsig.h"
#include "ytree.h"

#define FLEET_MAX_PRIMARIES 8
#define FLEET_MAX_ANYCAST_POOLS 16
#define ANYCAST_DEVICE "carousel-any0"

struct fleet_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];
};

struct fleet_key {
	const char *name_text;
	struct tsig_key key;
	int line;
};

/* A zone transferred from a hidden primary (docs/configuration.md, "zones"). */
struct secondary {
	uint8_t apex[DNAME_MAXLEN];
	const char *name_text;
	const char *file; /* where the transferred zone is kept */
	unsigned nprimaries;
	struct fleet_addr primaries[FLEET_MAX_PRIMARIES];
	const char *key_name; /* NULL: no TSIG */
	const struct tsig_key *key;
	struct zone *zone;
	int line;
};

struct pool;

/* An anycast prefix announced while its pools serve. */
struct anycast_prefix {
	int family;
	uint8_t addr[16];
	unsigned prefix;
	char text[64];
	unsigned npools; /* 0: announced while carouseld runs */
	const char *pool_names[FLEET_MAX_ANYCAST_POOLS];
	const struct pool *pools[FLEET_MAX_ANYCAST_POOLS];
	int line;
};

struct fleet_config {
	unsigned nkeys;
	struct fleet_key *keys;
	unsigned nsecondaries;
	struct secondary *secondaries; /* room for every zone */
	unsigned nanycast;
	struct anycast_prefix *anycast;
};

struct config;
struct zone;

/* What config.c hands over: its file and error buffer. */
struct fleet_ctx {
	struct config *cfg;
	const char *path, *dir;
	char *err;
	size_t err_len;
};

/* `keys:` and `anycast:` at the top level. */
int fleet_parse_keys(struct fleet_ctx *c, struct ynode *seq);
int fleet_parse_anycast(struct fleet_ctx *c, struct ynode *seq);
/* A zone with `primary:` (and `key:`): load the kept file, or an empty
 * zone that answers SERVFAIL until the first transfer. nzones sizes the
 * table on the first call. Returns NULL with the error set. */
struct zone *fleet_load_secondary(struct fleet_ctx *c, struct ynode *zone_node, const uint8_t *apex,
				  const char *file, struct ynode *primary, struct ynode *key,
				  unsigned nzones);
/* After the whole file (pools included): key names and pool names. */
int fleet_finish(struct fleet_ctx *c);

/* A transfer's new data is loaded from staged (instead of the zone's
 * file) by the next config load; NULL clears. Main thread only. */
void fleet_stage(const uint8_t *apex, const char *staged);

const struct secondary *fleet_find_secondary(const struct fleet_config *f, const uint8_t *apex);

#endif

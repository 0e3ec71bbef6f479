/* config.h -- one configuration generation: server settings, zones, pools.
 * Built aside from YAML, validated whole, then swapped in atomically. */
#ifndef CAROUSEL_CONFIG_H
#define CAROUSEL_CONFIG_H

#include <netinet/in.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "arena.h"
#include "config_fleet.h"
#include "dname.h"
#include "fastpath.h"
#include "rot.h"
#include "rrl.h"
#include "zone.h"

#define CFG_MAX_LISTEN 16
#define CFG_ERR_LEN 1024

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];
};

/* A health monitor (docs/configuration.md, "Health checks"). */
enum monitor_type {
	MON_NONE, MON_TCP, MON_HTTP, MON_HTTPS, MON_POP3, MON_POP3S, MON_IMAP, MON_IMAPS,
	MON_SMTP, MON_DNS, MON_EXEC, MON_TYPES
};

struct monitor {
	enum monitor_type type;
	uint16_t port;            /* 0: the type's well-known port */
	unsigned interval_ms, timeout_ms;
	unsigned rise, fall;      /* consecutive results that change the state */
	bool initial_up;          /* state before the first verdict */
	const char *path;         /* http(s): GET this */
	const char *host;         /* http(s): Host header and TLS SNI; NULL: the address */
	bool tls_verify;          /* TLS types: verify the certificate (system CAs, name) */
	const char *body;         /* http(s): expected substring of the body, NULL: any */
	unsigned expect;          /* http(s): expected status */
	const char *credentials;  /* pop3/imap: the file the user and password came from */
	const char *user, *password;
	uint8_t qname[DNAME_MAXLEN]; /* dns: the question */
	uint16_t qtype;
	const char *command;      /* exec: run by /bin/sh -c */
};

/* "10.0.0.0/8", "::1/128": recursion ACLs and topology client sets. */
struct acl_entry {
	int family;
	uint8_t addr[16];
	unsigned prefix;
};

struct member {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t weight;
	char text[48];
	const struct monitor *monitor; /* NULL: not checked, always up */
	unsigned group;                /* failover: lower groups serve first */
	unsigned nclients;             /* topology: the clients this member is for */
	struct acl_entry *clients;
};

/* Per-worker rotation counters, one cache line each: no shared writes. */
struct rot_state {
	alignas(64) uint64_t step[2]; /* [0] A, [1] AAAA */
};

/* What to hand out when no member of a family is up (or drained). */
enum all_down { ALL_DOWN_SERVE_ALL, ALL_DOWN_SERVFAIL, ALL_DOWN_POOL };

struct pool_view;

struct pool {
	uint8_t name[DNAME_MAXLEN];
	const char *name_text;
	enum rot_method method;
	uint32_t answer_count; /* 0 = all */
	uint32_t ttl;
	uint16_t nmembers;
	struct member *members;
	/* Per family: the member indexes, and how many have weight > 0 (a
	 * family without those is not answered from the pool at all). */
	uint16_t nfam[2];
	uint16_t *fam_member[2];
	uint16_t nweighted[2];
	struct rot_state *state; /* [state_workers] */
	unsigned state_workers;
	unsigned naliases;
	const uint8_t **aliases; /* the names of their zone nodes */
	const struct rrset *alias_cname; /* the one CNAME they all have */
	/* the name's zone and node when the zone is a primary one and the
	 * name is above any delegation in it (else NULL): the answer for the
	 * name is its node's, found without a lookup (engine_build_pool_entry) */
	const struct zone *plain_zone;
	const struct node *plain_node;
	/* every alias lives in a primary zone, above any delegation in it:
	 * its answer is its CNAME and then its pool name's answer, whatever
	 * the zone holds (engine_build_alias_entry) */
	bool plain_aliases;
	int line; /* where it was configured, for later messages */
	unsigned index; /* in cfg->pools */
	/* health policy */
	const struct monitor *monitor; /* the pool's default, NULL: none */
	enum all_down on_all_down;
	const char *fallback_name;     /* on-all-down: {pool: NAME} */
	struct pool *fallback;
	uint32_t degraded_ttl;         /* TTL while a member is down */
	unsigned min_up;               /* failover: up members a group needs */
	/* What is served now (control/pool.h): replaced by the health module
	 * on every state change, read by workers without a lock. */
	_Atomic(struct pool_view *) view;
};

/* The `recursion:` section (docs/configuration.md). */
#define REC_MAX_ALLOW 64
#define REC_MAX_FORWARDERS 8

struct rec_config {
	bool enable;
	bool forward; /* mode: forward; else iterate from the root hints */
	const char *root_hints;
	unsigned nforwarders;
	const char *forwarders[REC_MAX_FORWARDERS]; /* "ADDR@PORT" as libunbound takes */
	unsigned nallow;
	struct acl_entry allow[REC_MAX_ALLOW];
	uint64_t cache_size; /* bytes, ours; libunbound gets its own of the same size */
	bool prefetch;
	unsigned serve_stale; /* seconds; 0 = off */
	bool query_loopback;
	uint32_t min_ttl, max_ttl;
	uint32_t promote_qps; /* cache hits per second that make a fast-path entry */
};

/* The `backends:` section: groups of DNS servers that queries for chosen
 * domains are forwarded to (docs/configuration.md, "backends"). */
enum backend_policy {
	BP_ROUND_ROBIN, BP_WEIGHTED, BP_LEAST_OUTSTANDING, BP_CONSISTENT_HASH, BP_FIRST_AVAILABLE,
	BP_POLICIES
};

#define BACKEND_MAX_SERVERS 64

struct backend_server {
	struct listen_addr addr;
	uint32_t weight;
	uint32_t order;
};

struct bgroup;

struct backend {
	const char *name;
	unsigned ndomains;
	uint8_t (*domains)[DNAME_MAXLEN];
	enum backend_policy policy;
	unsigned nservers;
	struct backend_server *servers;
	unsigned timeout_ms;             /* per query and server */
	uint8_t check_name[DNAME_MAXLEN];
	uint16_t check_type;
	unsigned check_interval_ms, check_timeout_ms, rise, fall;
	bool cache;                      /* the `cache:` key is there */
	uint64_t cache_size;
	uint32_t cache_min_ttl, cache_max_ttl, cache_stale; /* seconds */
	unsigned nallow;                 /* 0: recursion.allow decides */
	struct acl_entry *allow;
	int line;
	/* The runtime of the group (control/backend.h), found by name when
	 * the config is adopted, before it serves; NULL in a config that is
	 * only checked. */
	struct bgroup *rt;
};

extern const char *const backend_policy_names[BP_POLICIES];

/* The `cookies:` section: DNS Cookies (RFC 7873, RFC 9018 server cookies). */
struct cookie_config {
	bool enable;
	bool configured;        /* secret given in the file (shared by a fleet) */
	bool has_previous;
	uint8_t secret[16];     /* the one new cookies are made with */
	uint8_t previous[16];   /* still accepted: rotation without BADCOOKIE storms */
};

/* The `http:` section: status page, JSON API and /metrics on one
 * listener (the old `metrics:` section is the same listener, /metrics only). */
#define HTTP_MAX_ALLOW 64

struct http_config {
	bool enable;
	bool metrics_only;    /* configured as `metrics:` */
	struct listen_addr listen;
	unsigned nallow;      /* 0: every address */
	struct acl_entry allow[HTTP_MAX_ALLOW];
	const char *password_file, *user, *password; /* NULL: no basic auth */
	const char *api_key_file, *api_key;          /* NULL: POSTs are refused */
};

/* The `dnstap:` section: query and response logging (control/dnstap.h). */
enum dnstap_sink { DNSTAP_SINK_UNIX, DNSTAP_SINK_TCP, DNSTAP_SINK_FILE };

struct dnstap_config {
	bool enable;
	enum dnstap_sink sink_type;
	const char *sink;       /* as written */
	const char *path;       /* unix socket or file */
	char tcp_host[48], tcp_port[8];
	const char *identity;   /* NULL: the host name */
	bool log_queries, log_responses;
	unsigned sample;        /* log 1 in sample exchanges, per path */
};

struct config {
	struct arena arena;
	const char *path;
	/* server: */
	struct listen_addr listen[CFG_MAX_LISTEN];
	unsigned nlisten;
	unsigned workers;
	const char *control_socket;
	unsigned tcp_idle_timeout; /* seconds */
	unsigned tcp_max_clients;  /* per worker */
	unsigned tcp_max_per_client; /* per worker, per client address */
	/* data: */
	unsigned nzones;
	struct zone **zones;
	struct zone **zone_buckets; /* by apex, for the deepest-match walk */
	uint32_t zone_mask;
	uint8_t zone_apex_max; /* the longest apex, in wire bytes */
	unsigned npools;
	struct pool **pools; /* each in the arena: zone nodes point at them */
	struct fp_config dp; /* the `dataplane:` section */
	struct rec_config rec;
	struct rrl_config rrl;
	struct cookie_config cookies;
	unsigned nbackends;
	struct backend *backends;
	struct http_config http;
	struct dnstap_config dnstap;
	struct fleet_config fleet; /* keys:, secondary zones, anycast: (config_fleet.h) */
	uint32_t generation; /* counts loads, for fast-path entry versions */
};

/* Load and validate a config file. On failure returns NULL and writes
 * "file:line:col: message" into err. */
struct config *config_load(const char *path, char *err, size_t err_len);
void config_free(struct config *cfg);
/* Size the per-worker rotation state for this many workers. */
void config_set_workers(struct config *cfg, unsigned workers);

/* The zone that is authoritative for name (deepest apex), or NULL. */
struct zone *config_find_zone(const struct config *cfg, const uint8_t *name);

/* Is addr (AF_INET / AF_INET6 sockaddr) allowed by the recursion ACL? */
bool config_rec_allowed(const struct config *cfg, const struct sockaddr *addr);
/* Does family/addr fall in a? */
bool acl_match(const struct acl_entry *a, int family, const uint8_t *addr);

/* The backend group whose deepest domain holds name (lower-case wire
 * form), or NULL; *domain_len is that domain's length. */
const struct backend *config_find_backend(const struct config *cfg, const uint8_t *name,
					  size_t *domain_len);
/* May this client (sockaddr) use the group? Its own allow list, else the
 * recursion ACL. */
bool config_backend_allowed(const struct config *cfg, const struct backend *b,
			    const struct sockaddr *addr);

/* The pool called name (wire form), or NULL. */
struct pool *config_find_pool(const struct config *cfg, const uint8_t *name);

extern const char *const monitor_type_names[MON_TYPES];

static inline bool monitor_uses_tls(enum monitor_type t)
{
	return t == MON_HTTPS || t == MON_POP3S || t == MON_IMAPS;
}

static inline int family_index(int family)
{
	return family == AF_INET6;
}

#endif

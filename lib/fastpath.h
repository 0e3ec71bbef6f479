/* fastpath.h -- the seam between carouseld and a fast path (DPDK, XDP):
 * what a fast path is told at start (struct fp_config), the calls the
 * control plane's publisher makes (struct fp_ops), and the one list of
 * verdicts and counter names both paths and the metrics use. */
#ifndef CAROUSEL_FASTPATH_H
#define CAROUSEL_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

struct entry;

enum xdp_mode { XDP_MODE_AUTO, XDP_MODE_NATIVE, XDP_MODE_GENERIC };

/* The `dataplane:` section (docs/configuration.md), plus what carouseld
 * derives for the fast path from the rest of the config. */
struct fp_config {
	bool present;
	const char *port;      /* DPDK: devargs of the wire port (a vdev or a PCI address) */
	const char *interface; /* XDP: the kernel interface to attach to */
	enum xdp_mode xdp_mode;
	const char *exception; /* devargs of the kernel exception port (net_tap) */
	unsigned burst;
	unsigned mbufs;
	unsigned idle_sleep_us; /* back-off of an idle worker lcore; 0 = spin */
	uint16_t dns_port;
	bool has_ip4, has_ip6;
	uint8_t ip4[4], ip6[16];
	unsigned ip4_prefix, ip6_prefix;
	unsigned max_entries; /* dataplane.max-entries, else sized to the config */
	bool max_entries_sized; /* ... sized to the config (not set by the operator) */
};

/* DNS Cookies as carouseld answers them (lib/cookie.h, RFC 9018): a fast
 * path makes and checks server cookies with the same secrets, so a cookie
 * made on one path verifies on the other. */
struct fp_cookies {
	bool enable;
	bool has_previous;
	uint8_t secret[16];   /* new cookies are made with it */
	uint8_t previous[16]; /* still accepted, renewed */
};

/* Response rate limiting (the `rrl:` section; lib/rrl_bucket.h): the
 * fast path limits its own answers per client prefix with the same rate,
 * slip and prefix lengths. */
struct fp_rrl {
	bool enable;
	unsigned rate, slip, v4_prefix, v6_prefix;
};

/* One exchange a fast path answered, sampled for dnstap: the 5-tuple, the
 * time, the query as it came and the response as it left (DNS messages,
 * at most FP_TAP_MSG_MAX bytes each; longer ones are not sampled). */
#define FP_TAP_MSG_MAX 512

struct fp_tap {
	uint64_t time_ns; /* CLOCK_REALTIME, when the query was answered */
	uint8_t v6;
	uint8_t client[16], server[16]; /* the first 4 bytes for IPv4 */
	uint16_t client_port, server_port;
	uint16_t query_len, response_len;
	uint8_t query[FP_TAP_MSG_MAX], response[FP_TAP_MSG_MAX];
};

typedef void fp_tap_fn(const struct fp_tap *t, void *arg);

#define FP_BATCH_MAX 32 /* entries in one fp_ops.publish_batch */

/* A fast path as the publisher sees it. Entries are copied in: the
 * caller keeps e. Every call comes from carouseld's main thread. */
struct fp_ops {
	const char *name; /* "dpdk", "xdp": the prefix of its counters */
	/* Add or replace the entry with e's key. 0, or -1 when it cannot be
	 * held (no memory, table full, too large for this path). */
	int (*publish)(const struct entry *e);
	/* The same for n entries (n <= FP_BATCH_MAX, distinct keys), ok[i]
	 * as publish would return it; NULL where a path gains nothing from
	 * a batch. A batch overlaps the table's cache misses (DPDK) or makes
	 * one system call (XDP). */
	void (*publish_batch)(const struct entry *const *e, unsigned n, int *ok);
	/* Remove the entry with this key, if any. */
	void (*withdraw)(uint64_t digest);
	/* The cookie secrets in force (at start and on every reload). */
	void (*cookies)(const struct fp_cookies *k);
	/* The rate limits in force (at start and on every reload). */
	void (*rrl)(const struct fp_rrl *r);
	/* dnstap: copy 1 in `sample` answered exchanges (0: none) ... */
	void (*tap)(unsigned sample);
	/* ... and hand what was copied to fn, from the main thread; returns
	 * how many. A full ring drops (counted: <path>.dnstap.dropped). */
	unsigned (*tap_drain)(fp_tap_fn *fn, void *arg);
	/* A few times a second from the main loop: reclaim retired entries,
	 * watch the link and transmit errors. */
	void (*poll)(void);
	size_t (*stats)(char *buf, size_t len);
	size_t (*status)(char *buf, size_t len);
	void (*stop)(void);
};

#endif

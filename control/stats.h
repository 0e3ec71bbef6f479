/* stats.h -- per-worker query counters: written only by their worker,
 * read by the control thread with relaxed atomics (no shared writes). */
#ifndef CAROUSEL_STATS_H
#define CAROUSEL_STATS_H

#include <stdalign.h>
#include <stdint.h>

enum stats_qtype {
	QT_A, QT_NS, QT_CNAME, QT_SOA, QT_PTR, QT_MX, QT_TXT, QT_AAAA, QT_SRV, QT_ANY,
	QT_OTHER, QT_COUNT
};

#define STATS_RCODES 17 /* 0..15 and BADVERS */

/* Names for carouselctl stats and the metrics labels. */
extern const char *const stats_qtype_names[QT_COUNT];
extern const char *const stats_rcode_names[STATS_RCODES];

struct stats {
	alignas(64) uint64_t udp;
	uint64_t tcp;
	uint64_t rcode[STATS_RCODES];
	uint64_t qtype[QT_COUNT];
	uint64_t dropped;      /* unreadable header, QR=1, oversize */
	uint64_t truncated;    /* TC=1 sent */
	uint64_t tcp_accepted;
	uint64_t tcp_refused;  /* over tcp-max-clients */
	uint64_t tcp_timeouts; /* closed idle */
};

#define STATS_INC(field) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + 1, \
			 __ATOMIC_RELAXED)
#define STATS_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif

/* dnstap.h -- query and response logging in dnstap (protobuf) over Frame
 * Streams (libfstrm) to a unix socket, a TCP reader or a file. Writers
 * never block: each has its own queue into fstrm's I/O thread, and a full
 * queue (a slow or absent reader) drops the record and counts it.
 *
 * A record is one exchange as any path sees it: the 5-tuple, the times
 * and the messages. The socket workers fill one per sampled query; a fast
 * path (DPDK ring, XDP ring buffer) would copy the same into its ring and
 * have the control plane hand it to dnstap_log() on a queue of its own. */
#ifndef CAROUSEL_DNSTAP_H
#define CAROUSEL_DNSTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"

enum dnstap_kind {
	DNSTAP_AUTH,   /* AUTH_QUERY / AUTH_RESPONSE: our zones and pools */
	DNSTAP_CLIENT, /* CLIENT_QUERY / CLIENT_RESPONSE: recursion */
};

struct dnstap_record {
	enum dnstap_kind kind;
	bool tcp;
	const struct sockaddr *client;        /* AF_INET or AF_INET6 */
	const struct sockaddr *server;        /* our address; NULL: unknown */
	struct timespec query_time;           /* CLOCK_REALTIME */
	struct timespec response_time;
	const uint8_t *query;                 /* NULL: no query message to log */
	size_t query_len;
	const uint8_t *response;              /* NULL: no response message to log */
	size_t response_len;
};

struct dnstap;

/* Start the I/O thread with nqueues writer queues (one per thread that
 * logs). The sink need not be there yet: it is (re)connected every second
 * until it is. NULL with err filled when the options are unusable. */
struct dnstap *dnstap_open(const struct dnstap_config *cfg, unsigned nqueues, char *err,
			   size_t err_len);
/* Flush what is queued (briefly) and stop. */
void dnstap_close(struct dnstap *d);
/* Reload: sample, log-queries and log-responses (the sink stays open). */
void dnstap_update(struct dnstap *d, const struct dnstap_config *cfg);

/* Is the next exchange on this queue logged (1 in `sample`)? Call once
 * per exchange, before building a record. */
bool dnstap_sampled(struct dnstap *d, unsigned queue);
/* Log the record's query and/or response (as configured). Never blocks;
 * only the thread that owns `queue` may call it. */
void dnstap_log(struct dnstap *d, unsigned queue, const struct dnstap_record *r);

/* "dnstap.queued N\ndnstap.dropped N\n" (carouselctl stats, metrics):
 * frames handed to the writer thread, and frames dropped because their
 * queue was full (a slow reader). While no reader is connected fstrm's
 * writer thread discards what it cannot write (counted as queued). */
size_t dnstap_stats(const struct dnstap *d, char *buf, size_t len);

/* Encode one dnstap frame (no I/O; unit tests). Returns its length, or 0
 * when it does not fit in len. response: the RESPONSE message, else the QUERY. */
size_t dnstap_encode(const struct dnstap_record *r, bool response, const char *identity,
		     uint8_t *buf, size_t len);

#endif

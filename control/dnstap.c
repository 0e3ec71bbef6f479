/* dnstap.c -- dnstap frames (protobuf-c, control/dnstap.proto) into
 * libfstrm's I/O thread: one SPSC queue per writer, no blocking, drops
 * counted; fstrm reconnects a sink that went away every second. */
#include "dnstap.h"

#include <fstrm.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnstap.pb-c.h"
#include "log.h"

#define CONTENT_TYPE "protobuf:dnstap.Dnstap"
#define QUEUE_SIZE 4096 /* frames per writer queue (a power of 2) */

/* Per writer queue: only its thread writes these. */
struct dnstap_queue {
	alignas(64) struct fstrm_iothr_queue *q;
	uint64_t seq;
	_Atomic uint64_t queued, dropped;
};

struct dnstap {
	struct fstrm_iothr *iothr;
	char identity[256];
	_Atomic unsigned sample;
	atomic_bool log_queries, log_responses;
	unsigned nqueues;
	struct dnstap_queue *queues;
};

static void set_addr(const struct sockaddr *sa, ProtobufCBinaryData *addr, protobuf_c_boolean *has,
		     uint32_t *port, protobuf_c_boolean *has_port)
{
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		addr->data = (uint8_t *)&sin->sin_addr;
		addr->len = 4;
		*port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		addr->data = (uint8_t *)&sin6->sin6_addr;
		addr->len = 16;
		*port = ntohs(sin6->sin6_port);
	} else {
		return;
	}
	*has = *has_port = 1;
}

/* The frame of r's query (or response) in d and m, pointing into r. */
static void fill(const struct dnstap_record *r, bool response, const char *identity,
		 Dnstap__Dnstap *dp, Dnstap__Message *mp)
{
	static const char version[] = "carousel " CAROUSEL_VERSION;
	Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
	Dnstap__Message m = DNSTAP__MESSAGE__INIT;

	d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	d.has_identity = 1;
	d.identity = (ProtobufCBinaryData){strlen(identity), (uint8_t *)identity};
	d.has_version = 1;
	d.version = (ProtobufCBinaryData){sizeof(version) - 1, (uint8_t *)version};
	d.message = mp;
	if (r->kind == DNSTAP_AUTH)
		m.type = response ? DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE
				  : DNSTAP__MESSAGE__TYPE__AUTH_QUERY;
	else
		m.type = response ? DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE
				  : DNSTAP__MESSAGE__TYPE__CLIENT_QUERY;
	m.has_socket_family = 1;
	m.socket_family = r->client && r->client->sa_family == AF_INET6
				  ? DNSTAP__SOCKET_FAMILY__INET6
				  : DNSTAP__SOCKET_FAMILY__INET;
	m.has_socket_protocol = 1;
	m.socket_protocol = r->tcp ? DNSTAP__SOCKET_PROTOCOL__TCP : DNSTAP__SOCKET_PROTOCOL__UDP;
	set_addr(r->client, &m.query_address, &m.has_query_address, &m.query_port,
		 &m.has_query_port);
	set_addr(r->server, &m.response_address, &m.has_response_address, &m.response_port,
		 &m.has_response_port);
	/* a response carries its query's time too (the dnstap schema's advice) */
	m.has_query_time_sec = m.has_query_time_nsec = 1;
	m.query_time_sec = (uint64_t)r->query_time.tv_sec;
	m.query_time_nsec = (uint32_t)r->query_time.tv_nsec;
	if (response) {
		m.has_response_time_sec = m.has_response_time_nsec = 1;
		m.response_time_sec = (uint64_t)r->response_time.tv_sec;
		m.response_time_nsec = (uint32_t)r->response_time.tv_nsec;
		m.has_response_message = 1;
		m.response_message = (ProtobufCBinaryData){r->response_len, (uint8_t *)r->response};
	} else {
		m.has_query_message = 1;
		m.query_message = (ProtobufCBinaryData){r->query_len, (uint8_t *)r->query};
	}
	*dp = d;
	*mp = m;
}

size_t dnstap_encode(const struct dnstap_record *r, bool response, const char *identity,
		     uint8_t *buf, size_t len)
{
	Dnstap__Dnstap d;
	Dnstap__Message m;

	fill(r, response, identity, &d, &m);
	if (dnstap__dnstap__get_packed_size(&d) > len)
		return 0;
	return dnstap__dnstap__pack(&d, buf);
}

static void submit(struct dnstap *d, struct dnstap_queue *q, const struct dnstap_record *r,
		   bool response)
{
	Dnstap__Dnstap msg;
	Dnstap__Message m;

	fill(r, response, d->identity, &msg, &m);
	size_t n = dnstap__dnstap__get_packed_size(&msg);
	uint8_t *copy = malloc(n);

	if (copy) {
		dnstap__dnstap__pack(&msg, copy);
		if (fstrm_iothr_submit(d->iothr, q->q, copy, n, fstrm_free_wrapper, NULL) ==
		    fstrm_res_success) {
			atomic_fetch_add_explicit(&q->queued, 1, memory_order_relaxed);
			return;
		}
		free(copy);
	}
	/* full queue (slow or absent reader), or no memory: drop, count */
	atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
}

bool dnstap_sampled(struct dnstap *d, unsigned queue)
{
	struct dnstap_queue *q = &d->queues[queue];
	unsigned sample = atomic_load_explicit(&d->sample, memory_order_relaxed);

	return q->seq++ % sample == 0;
}

void dnstap_log(struct dnstap *d, unsigned queue, const struct dnstap_record *r)
{
	struct dnstap_queue *q = &d->queues[queue];

	if (r->query && atomic_load_explicit(&d->log_queries, memory_order_relaxed))
		submit(d, q, r, false);
	if (r->response && atomic_load_explicit(&d->log_responses, memory_order_relaxed))
		submit(d, q, r, true);
}

void dnstap_update(struct dnstap *d, const struct dnstap_config *cfg)
{
	atomic_store(&d->sample, cfg->sample);
	atomic_store(&d->log_queries, cfg->log_queries);
	atomic_store(&d->log_responses, cfg->log_responses);
}

size_t dnstap_stats(const struct dnstap *d, char *buf, size_t len)
{
	uint64_t queued = 0, dropped = 0;

	for (unsigned i = 0; i < d->nqueues; i++) {
		queued += atomic_load_explicit(&d->queues[i].queued, memory_order_relaxed);
		dropped += atomic_load_explicit(&d->queues[i].dropped, memory_order_relaxed);
	}
	int k = snprintf(buf, len, "dnstap.queued %llu\ndnstap.dropped %llu\n",
			 (unsigned long long)queued, (unsigned long long)dropped);

	return k < 0 ? 0 : (size_t)k < len ? (size_t)k : len ? len - 1 : 0;
}

static struct fstrm_writer *make_writer(const struct dnstap_config *cfg)
{
	struct fstrm_writer_options *wopt = fstrm_writer_options_init();
	struct fstrm_writer *w = NULL;

	fstrm_writer_options_add_content_type(wopt, CONTENT_TYPE, strlen(CONTENT_TYPE));
	if (cfg->sink_type == DNSTAP_SINK_UNIX) {
		struct fstrm_unix_writer_options *uopt = fstrm_unix_writer_options_init();

		fstrm_unix_writer_options_set_socket_path(uopt, cfg->path);
		w = fstrm_unix_writer_init(uopt, wopt);
		fstrm_unix_writer_options_destroy(&uopt);
	} else if (cfg->sink_type == DNSTAP_SINK_TCP) {
		struct fstrm_tcp_writer_options *topt = fstrm_tcp_writer_options_init();

		fstrm_tcp_writer_options_set_socket_address(topt, cfg->tcp_host);
		fstrm_tcp_writer_options_set_socket_port(topt, cfg->tcp_port);
		w = fstrm_tcp_writer_init(topt, wopt);
		fstrm_tcp_writer_options_destroy(&topt);
	} else {
		struct fstrm_file_options *fopt = fstrm_file_options_init();

		fstrm_file_options_set_file_path(fopt, cfg->path);
		w = fstrm_file_writer_init(fopt, wopt);
		fstrm_file_options_destroy(&fopt);
	}
	fstrm_writer_options_destroy(&wopt);
	return w;
}

struct dnstap *dnstap_open(const struct dnstap_config *cfg, unsigned nqueues, char *err,
			   size_t err_len)
{
	struct dnstap *d = calloc(1, sizeof(*d));
	struct fstrm_iothr_options *opt;
	struct fstrm_writer *w;

	if (!d)
		abort();
	d->nqueues = nqueues;
	d->queues = aligned_alloc(alignof(struct dnstap_queue), nqueues * sizeof(*d->queues));
	if (!d->queues)
		abort();
	memset(d->queues, 0, nqueues * sizeof(*d->queues));
	if (cfg->identity)
		snprintf(d->identity, sizeof(d->identity), "%s", cfg->identity);
	else if (gethostname(d->identity, sizeof(d->identity) - 1) < 0)
		snprintf(d->identity, sizeof(d->identity), "carousel");
	dnstap_update(d, cfg);
	w = make_writer(cfg);
	if (!w) {
		snprintf(err, err_len, "dnstap sink %s: cannot make a writer", cfg->sink);
		goto fail;
	}
	opt = fstrm_iothr_options_init();
	fstrm_iothr_options_set_num_input_queues(opt, nqueues);
	fstrm_iothr_options_set_queue_model(opt, FSTRM_IOTHR_QUEUE_MODEL_SPSC);
	fstrm_iothr_options_set_input_queue_size(opt, QUEUE_SIZE);
	fstrm_iothr_options_set_reopen_interval(opt, 1);
	fstrm_iothr_options_set_flush_timeout(opt, 1);
	/* fstrm_iothr_init takes the writer, and opens it in its own thread:
	 * a file is created now, a socket reader may come later */
	d->iothr = fstrm_iothr_init(opt, &w);
	fstrm_iothr_options_destroy(&opt);
	if (!d->iothr) {
		fstrm_writer_destroy(&w);
		snprintf(err, err_len, "dnstap sink %s: cannot start the I/O thread", cfg->sink);
		goto fail;
	}
	for (unsigned i = 0; i < nqueues; i++)
		d->queues[i].q = fstrm_iothr_get_input_queue_idx(d->iothr, i);
	log_info("event=dnstap sink=%s identity=%s sample=%u queries=%s responses=%s", cfg->sink,
		 d->identity, cfg->sample, cfg->log_queries ? "yes" : "no",
		 cfg->log_responses ? "yes" : "no");
	return d;
fail:
	free(d->queues);
	free(d);
	return NULL;
}

void dnstap_close(struct dnstap *d)
{
	if (!d)
		return;
	fstrm_iothr_destroy(&d->iothr); /* flushes what is queued */
	free(d->queues);
	free(d);
}

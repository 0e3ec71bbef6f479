/* server.h -- socket workers: one thread per `workers`, each with its own
 * SO_REUSEPORT UDP and TCP sockets and epoll loop, all reading the config
 * generation in force through one atomic pointer. */
#ifndef CAROUSEL_SERVER_H
#define CAROUSEL_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "stats.h"
#include "topnames.h"

struct conn;
struct pollable;
struct cache;
struct resolver;
struct rreq;
struct dnstap;
struct xfr;

struct worker {
	struct server *srv;
	unsigned id;
	pthread_t thread;
	int epfd;
	unsigned nlisteners;
	struct pollable *listeners[2 * CFG_MAX_LISTEN];
	/* Quiescent-state counter: odd while the worker holds a config. */
	alignas(64) _Atomic uint64_t qs;
	struct stats stats;
	struct conn *conns; /* open TCP connections, for the idle sweep */
	unsigned nconns;
	struct conn *closed; /* closed in this epoll batch, freed after it */
	uint64_t next_conn_id;
	/* queries back from the resolver, answered by this worker */
	pthread_mutex_t done_lock;
	struct rreq *done;
	struct pollable *done_ev;
	struct topnames top; /* the most asked names (carouselctl top) */
};

struct server {
	_Atomic(struct config *) cfg;
	atomic_bool stop;
	unsigned nworkers;
	struct worker *workers;
	time_t started;
	uint64_t reloads_ok, reloads_failed;
	struct cache *cache;       /* recursion: set before server_start */
	struct rrl *rrl;           /* response rate limiting table (always there) */
	struct resolver *resolver;
	struct backends *backends; /* backend groups (always there in carouseld) */
	struct dnstap *dnstap;     /* set before server_start; NULL: no dnstap */
	struct xfr *xfr;           /* secondary zones (control/xfr.h); NULL: none */
	char last_error[CFG_ERR_LEN];
};

/* Bind every listen address for every worker. Returns 0 or -1 (logged). */
int server_open(struct server *srv, struct config *cfg);
int server_start(struct server *srv);
/* Stop the workers, close every socket, free the workers. */
void server_stop(struct server *srv);
/* The resolver's and the backends' completion (their rreq_hooks, which
 * carouseld hands them): give a query back to its worker, which answers it
 * through the same pipeline as any other. */
void server_complete(struct server *srv, struct rreq *q);
/* A worker's quiescent-state counter (odd while it holds a config): the
 * cache's grace periods (its cache_hooks). */
uint64_t server_worker_qs(const struct server *srv, unsigned worker);
/* Swap in a new config and retire the old one after every worker has
 * passed a quiescent point. */
void server_swap(struct server *srv, struct config *cfg);
/* Return once every worker has passed a quiescent point: nothing read
 * before the call (a config, a pool view) is still in use. */
void server_synchronize(struct server *srv);
/* The most asked names over every worker: "NAME TYPE COUNT" lines. */
size_t server_top_names(const struct server *srv, unsigned limit, char *buf, size_t len);
/* Every worker's counters added up (relaxed reads). */
void server_stats_total(const struct server *srv, struct stats *t);

#endif

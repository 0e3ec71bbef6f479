/* carouseld.c -- the daemon: load the config, start the socket workers,
 * then serve signals (SIGHUP reload, SIGTERM/SIGINT stop) and the control
 * socket from the main thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "anycast.h"
#include "backend.h"
#include "cache.h"
#include "config.h"
#include "ctl.h"
#include "dnstap.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "publish.h"
#include "resolver.h"
#include "server.h"
#include "xfr.h"
#ifdef HAVE_DPDK
#include "dp.h"
#endif
#ifdef HAVE_XDP
#include "xdp.h"
#endif

static bool dataplane_dpdk, dataplane_xdp;
/* the fast path in use, if any, and the one publisher that feeds it */
static const struct fp_ops *fast;
static struct publisher *the_publisher;
static struct server *the_server;
static struct health *the_health;
static struct anycast *the_anycast;

static size_t extra_command(const char *cmd, char *buf, size_t len, bool *ok)
{
	size_t n = xfr_ctl(the_server->xfr, cmd, buf, len, ok);

	if (n != (size_t)-1)
		return n;
	if (strcmp(cmd, "anycast") == 0)
		return anycast_ctl(the_anycast, buf, len);
	if (strncmp(cmd, "backends", 8) == 0 && (cmd[8] == ' ' || cmd[8] == '\0'))
		return backend_ctl(the_server->backends, cmd[8] ? cmd + 9 : "", buf, len, ok);
	if (strncmp(cmd, "cache", 5) != 0 || (cmd[5] != ' ' && cmd[5] != '\0'))
		return health_ctl(the_health, cmd, buf, len, ok);
	if (!the_server->resolver) {
		*ok = false;
		return (size_t)snprintf(buf, len, "error: recursion is not enabled\n");
	}
	return resolver_ctl(the_server->resolver, cmd[5] ? cmd + 6 : "stats", buf, len, ok);
}

/* Hot cached names go to the fast path through the publisher. */
static void publish_hot_entry(struct entry *e)
{
	publish_hot(the_publisher, e);
	free(e);
}

static void withdraw_hot_entry(uint64_t digest)
{
	publish_withdraw(the_publisher, digest);
}

/* dnstap: a fast path's sampled exchange, logged from the main thread on
 * the queue after the workers'. */
static void tap_to_dnstap(const struct fp_tap *t, void *arg)
{
	struct server *srv = arg;
	struct sockaddr_storage client = {0}, ours = {0};
	struct timespec ts = {.tv_sec = (time_t)(t->time_ns / 1000000000ULL),
			      .tv_nsec = (long)(t->time_ns % 1000000000ULL)};

	if (t->v6) {
		struct sockaddr_in6 *c = (struct sockaddr_in6 *)&client, *o = (struct sockaddr_in6 *)&ours;

		c->sin6_family = o->sin6_family = AF_INET6;
		memcpy(&c->sin6_addr, t->client, 16);
		memcpy(&o->sin6_addr, t->server, 16);
		c->sin6_port = htons(t->client_port);
		o->sin6_port = htons(t->server_port);
	} else {
		struct sockaddr_in *c = (struct sockaddr_in *)&client, *o = (struct sockaddr_in *)&ours;

		c->sin_family = o->sin_family = AF_INET;
		memcpy(&c->sin_addr, t->client, 4);
		memcpy(&o->sin_addr, t->server, 4);
		c->sin_port = htons(t->client_port);
		o->sin_port = htons(t->server_port);
	}
	struct dnstap_record r = {.kind = DNSTAP_AUTH,
				  .client = (struct sockaddr *)&client,
				  .server = (struct sockaddr *)&ours,
				  .query_time = ts,
				  .response_time = ts,
				  .query = t->query,
				  .query_len = t->query_len,
				  .response = t->response,
				  .response_len = t->response_len};

	dnstap_log(srv->dnstap, srv->nworkers, &r);
}

/* carouselctl status: the fast path's own lines, then the publisher's. */
static size_t fast_status(char *buf, size_t len)
{
	size_t n = fast->status(buf, len);

	return n + publish_status(the_publisher, buf + n, len - n);
}

/* Health: wait out readers of a replaced pool view. */
static void health_synchronize(void *arg)
{
	server_synchronize(arg);
}

/* The resolver and the backends give answered queries back to the workers;
 * the cache waits for the workers' quiescent points. */
static void rreq_complete(void *arg, struct rreq *q)
{
	server_complete(arg, q);
}

static uint64_t cache_worker_qs(void *arg, unsigned worker)
{
	return server_worker_qs(arg, worker);
}

/* Health: a pool serves other members now; so do pools that fall back
 * on it. The fast paths get new entries for their names. */
static void health_changed(void *arg, const struct config *cfg, unsigned index)
{
	(void)arg;
	if (the_publisher)
		publish_pool(the_publisher, cfg, index);
	anycast_update(the_anycast, cfg); /* a prefix follows its pools */
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: carouseld -c FILE [--dataplane dpdk -- EAL-ARGS | --dataplane xdp]\n"
		"                                run in the foreground, logging to stderr\n"
		"       carouseld --check FILE validate a config and exit (0 valid, 1 not)\n"
		"\n"
		"Carousel DNS load-balancing and alias proxy: serves the zones, aliases\n"
		"and replica pools of FILE, rotating replica addresses.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   configuration file (YAML; see docs/configuration.md)\n"
		"  -k, --check FILE    check FILE and its zone files, print the result\n"
		"  -d, --dataplane dpdk  also run the DPDK fast path on the config's\n"
		"                      dataplane: section; EAL arguments follow \"--\"\n"
		"                      (e.g. -- -l 0-1 --no-huge --no-pci -m 256)\n"
		"  -d, --dataplane xdp   also run the XDP fast path on dataplane.interface\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"Signals: SIGHUP reloads the config (a bad file keeps the old one);\n"
		"SIGTERM and SIGINT stop. Control: carouselctl status|stats|top|reload|\n"
		"pools|drain|undrain|cache|backends|zones|refresh|anycast (see carouselctl\n"
		"--help); the http: section adds a status page and a JSON API, dnstap:\n"
		"query logging, keys: and a zone's primary: secondary zones, anycast:\n"
		"announced prefixes (man carousel.yaml).\n");
}

/* systemd Type=notify: READY=1 once serving, RELOADING=1 around a reload,
 * STOPPING=1; a no-op when not started by systemd (no NOTIFY_SOCKET). */
__attribute__((format(printf, 1, 2))) static void notify(const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sd_notify(0, msg);
#else
	(void)fmt;
#endif
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int reload_config(struct server *srv, char *err, size_t err_len);

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Every reload (SIGHUP, carouselctl reload) tells systemd it runs. */
static int do_reload(struct server *srv, char *err, size_t err_len)
{
	notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
	       (unsigned long long)monotonic_usec(), atomic_load(&srv->cfg)->path);
	int rc = reload_config(srv, err, err_len);
	const struct config *cfg = atomic_load(&srv->cfg);

	notify("READY=1\nSTATUS=serving %u zones, %u pools; last reload %s", cfg->nzones,
	       cfg->npools, rc == 0 ? "ok" : "failed, old config kept");
	return rc;
}

static int reload_config(struct server *srv, char *err, size_t err_len)
{
	const struct config *cur = atomic_load(&srv->cfg);
	uint64_t t_start = monotonic_usec();
	struct config *cfg = config_load(cur->path, err, err_len);
	uint64_t t_loaded = monotonic_usec();

	if (!cfg) {
		srv->reloads_failed++;
		snprintf(srv->last_error, sizeof(srv->last_error), "%s", err);
		log_error("event=reload result=failed kept=old error=\"%s\"", err);
		return -1;
	}
	/* Sockets and threads were made for the first config: a change to
	 * them takes a restart. Serve the new data on the old sockets. */
	bool same = cfg->nlisten == cur->nlisten && cfg->workers == cur->workers &&
		    strcmp(cfg->control_socket, cur->control_socket) == 0;

	for (unsigned i = 0; same && i < cfg->nlisten; i++)
		same = strcmp(cfg->listen[i].text, cur->listen[i].text) == 0;
	if (!same) {
		log_warn("event=reload note=\"listen, workers and control-socket changes "
			 "take effect on restart\"");
		cfg->nlisten = cur->nlisten;
		memcpy(cfg->listen, cur->listen, sizeof(cfg->listen));
		cfg->workers = cur->workers;
		config_set_workers(cfg, cfg->workers);
		cfg->control_socket = arena_strdup(&cfg->arena, cur->control_socket);
	}
	if (cfg->rec.enable != cur->rec.enable || cfg->rec.forward != cur->rec.forward ||
	    cfg->rec.cache_size != cur->rec.cache_size)
		log_warn("event=reload note=\"recursion enable, mode and cache-size changes take "
			 "effect on restart\"");
	/* cookies: a random secret lives as long as the process; a configured
	 * one that changed makes the old one `previous`, so clients holding
	 * cookies made with it are not turned away (no BADCOOKIE storm) */
	if (!cfg->cookies.configured) {
		memcpy(cfg->cookies.secret, cur->cookies.secret, 16);
		cfg->cookies.has_previous = cur->cookies.has_previous;
		memcpy(cfg->cookies.previous, cur->cookies.previous, 16);
	} else if (memcmp(cfg->cookies.secret, cur->cookies.secret, 16) != 0 &&
		   !cfg->cookies.has_previous) {
		memcpy(cfg->cookies.previous, cur->cookies.secret, 16);
		cfg->cookies.has_previous = true;
	}
	if (srv->resolver)
		resolver_update(srv->resolver, cfg);
	if (memcmp(&cfg->http.listen, &cur->http.listen, sizeof(cfg->http.listen)) != 0 ||
	    cfg->http.enable != cur->http.enable || cfg->http.nallow != cur->http.nallow ||
	    memcmp(cfg->http.allow, cur->http.allow, sizeof(cfg->http.allow)) != 0 ||
	    !same_str(cfg->http.user, cur->http.user) ||
	    !same_str(cfg->http.password, cur->http.password) ||
	    !same_str(cfg->http.api_key, cur->http.api_key))
		log_warn("event=reload note=\"http (and metrics) changes take effect on restart\"");
	/* the dnstap connection (or file) stays open across reloads */
	if (cfg->dnstap.enable != cur->dnstap.enable ||
	    (cfg->dnstap.enable && (strcmp(cfg->dnstap.sink, cur->dnstap.sink) != 0 ||
				    !same_str(cfg->dnstap.identity, cur->dnstap.identity))))
		log_warn("event=reload note=\"dnstap sink and identity changes take effect on "
			 "restart\"");
	if (srv->dnstap && cfg->dnstap.enable)
		dnstap_update(srv->dnstap, &cfg->dnstap);
	if (fast)
		fast->tap(srv->dnstap && cfg->dnstap.enable ? cfg->dnstap.sample : 0);
	xfr_adopt(srv->xfr, cfg); /* secondary zones keep their transfer state */
	health_adopt(the_health, cfg); /* members keep their state */
	backend_adopt(srv->backends, cfg); /* so do backend servers, and caches */
	uint64_t t_adopted = monotonic_usec();
	server_swap(srv, cfg);
	uint64_t t_swapped = monotonic_usec();
	if (the_publisher)
		publish_config(the_publisher, atomic_load(&srv->cfg));
	if (!the_anycast && cfg->fleet.nanycast)
		the_anycast = anycast_create(cfg); /* the first anycast: prefix */
	anycast_update(the_anycast, atomic_load(&srv->cfg));
	srv->reloads_ok++;
	srv->last_error[0] = '\0';
	/* where a long reload spends its time: load, adopt (health, backends),
	 * swap (grace period and freeing the old config), publish */
	log_info("event=reload result=ok zones=%u pools=%u backends=%u load_ms=%llu adopt_ms=%llu "
		 "swap_ms=%llu publish_ms=%llu",
		 cfg->nzones, cfg->npools, cfg->nbackends,
		 (unsigned long long)(t_loaded - t_start) / 1000,
		 (unsigned long long)(t_adopted - t_loaded) / 1000,
		 (unsigned long long)(t_swapped - t_adopted) / 1000,
		 (unsigned long long)(monotonic_usec() - t_swapped) / 1000);
	return 0;
}

/* A transfer's new zone is swapped in as a reload swaps a config. */
static int xfr_apply(void *arg, char *err, size_t err_len)
{
	return do_reload(arg, err, err_len);
}

static int check(const char *path)
{
	char err[CFG_ERR_LEN];
	struct config *cfg = config_load(path, err, sizeof(err));
	unsigned records = 0;

	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (unsigned i = 0; i < cfg->nzones; i++)
		records += cfg->zones[i]->records;
	printf("%s: ok (%u zones, %u records, %u pools, %u backends)\n", path, cfg->nzones,
	       records, cfg->npools, cfg->nbackends);
	config_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"check", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
		{"dataplane", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	static struct ctl_ops ops = {.reload = do_reload, .command = extra_command};
	const char *path = NULL;
	char err[CFG_ERR_LEN];
	struct server srv = {.nworkers = 0};
	int c, ctl_fd, sig_fd, ep;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "+c:k:hVd:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (strcmp(optarg, "xdp") == 0) {
#ifndef HAVE_XDP
				fprintf(stderr, "carouseld: built without XDP (libbpf-dev, clang, "
						"bpftool)\n");
				return 2;
#endif
				dataplane_xdp = true;
				break;
			}
			if (strcmp(optarg, "dpdk") != 0) {
				fprintf(stderr, "carouseld: --dataplane takes dpdk or xdp\n");
				return 2;
			}
#ifndef HAVE_DPDK
			fprintf(stderr, "carouseld: built without DPDK (install libdpdk-dev)\n");
			return 2;
#endif
			dataplane_dpdk = true;
			break;
		case 'c':
			path = optarg;
			break;
		case 'k':
			return check(optarg);
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("carouseld %s (dataplanes:%s%s)\n", CAROUSEL_VERSION,
#ifdef HAVE_DPDK
			       " dpdk",
#else
			       "",
#endif
#ifdef HAVE_XDP
			       " xdp"
#else
			       ""
#endif
			);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || (optind != argc && !dataplane_dpdk) || (dataplane_dpdk && dataplane_xdp)) {
		usage(stderr);
		return 2;
	}
	/* Signals go to the main thread only, through a signalfd. Blocked
	 * before anything is set up: a SIGTERM during start-up waits for the
	 * loop, which then stops cleanly (detaching XDP, removing the tap). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct config *cfg = config_load(path, err, sizeof(err));

	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	ctl_fd = ctl_open(cfg->control_socket);
	if (ctl_fd < 0) {
		log_error("event=control-socket path=%s error=\"%s\"", cfg->control_socket,
			  strerror(errno));
		return 1;
	}
#ifdef HAVE_DPDK
	if (dataplane_dpdk) {
		if (!cfg->dp.present || !cfg->dp.port) {
			fprintf(stderr, "%s: --dataplane dpdk needs dataplane.port\n", path);
			return 1;
		}
		/* before the sockets: the exception interface carries the
		 * addresses they may bind */
		if (dp_init(&cfg->dp, argc - optind, argv + optind) < 0)
			return 1;
		fast = &dp_ops;
	}
#endif
	the_server = &srv;
#ifdef HAVE_XDP
	if (dataplane_xdp) {
		if (!cfg->dp.present || !cfg->dp.interface) {
			fprintf(stderr, "%s: --dataplane xdp needs dataplane.interface\n", path);
			return 1;
		}
		if (xdp_init(&cfg->dp, true) < 0)
			return 1;
		fast = &xdp_ops;
	}
#endif
	if (fast) {
		the_publisher = publish_create(fast);
		if (!the_publisher)
			return 1;
		ops.stats_extra = fast->stats;
		ops.status_extra = fast_status;
	}
	if (server_open(&srv, cfg) < 0)
		return 1;
	if (cfg->dnstap.enable) {
		/* one queue per worker, and one for the fast path's copies */
		srv.dnstap = dnstap_open(&cfg->dnstap, srv.nworkers + (fast != NULL), err,
					 sizeof(err));
		if (!srv.dnstap) {
			log_error("event=dnstap error=\"%s\"", err);
			return 1;
		}
	}
	struct rreq_hooks completion = {.complete = rreq_complete, .arg = &srv};

	if (cfg->rec.enable) {
		struct cache_hooks cache_hooks = {.worker_qs = cache_worker_qs, .arg = &srv};

		srv.cache = cache_create(cfg->rec.cache_size, srv.nworkers, &cache_hooks);
		srv.resolver = resolver_start(cfg, &completion, srv.cache, err, sizeof(err));
		if (!srv.resolver) {
			log_error("event=recursion error=\"%s\"", err);
			return 1;
		}
		if (fast)
			resolver_set_publisher(srv.resolver, publish_hot_entry, withdraw_hot_entry);
	}
	srv.backends = backend_start(&completion, err, sizeof(err));
	if (!srv.backends) {
		log_error("event=backends error=\"%s\"", err);
		return 1;
	}
	backend_adopt(srv.backends, cfg);
	struct health_hooks hooks = {.synchronize = health_synchronize,
				      .changed = health_changed, .arg = &srv};

	the_health = health_create(&hooks);
	/* always there (its thread sleeps without zones): a reload may add
	 * secondary zones */
	struct xfr_hooks xh = {.apply = xfr_apply, .arg = &srv};

	srv.xfr = xfr_create(&xh);
	xfr_adopt(srv.xfr, cfg);
	health_adopt(the_health, cfg);
	struct http *http = NULL;

	if (cfg->http.enable) {
		struct metrics_sources ms = {.srv = &srv, .health = the_health};

		if (fast) {
			ms.dataplane = fast->name;
			ms.dataplane_stats = fast->stats;
		}
		http = http_start(&cfg->http, &ms, extra_command);
		if (!http)
			return 1;
	}
	if (server_start(&srv) < 0)
		return 1;
	if (the_publisher)
		publish_config(the_publisher, cfg);
	if (fast)
		fast->tap(srv.dnstap ? cfg->dnstap.sample : 0);
	if (cfg->fleet.nanycast) {
		/* after the listeners: announced only once they answer */
		the_anycast = anycast_create(cfg);
		if (!the_anycast)
			return 1;
		anycast_update(the_anycast, cfg);
	}
#ifdef HAVE_DPDK
	if (dataplane_dpdk && dp_launch() < 0)
		return 1;
#endif
	log_info("event=started version=%s config=%s zones=%u pools=%u backends=%u control=%s",
		 CAROUSEL_VERSION, path, cfg->nzones, cfg->npools, cfg->nbackends,
		 cfg->control_socket);
	notify("READY=1\nSTATUS=serving %u zones, %u pools, %u backends", cfg->nzones,
	       cfg->npools, cfg->nbackends);
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = sig_fd};

	epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &ev);
	ev.data.fd = ctl_fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, ctl_fd, &ev);
	int health_ep = health_fd(the_health), http_ep = http ? http_fd(http) : -1;

	ev.data.fd = health_ep;
	epoll_ctl(ep, EPOLL_CTL_ADD, health_ep, &ev);
	if (http_ep >= 0) {
		ev.data.fd = http_ep;
		epoll_ctl(ep, EPOLL_CTL_ADD, http_ep, &ev);
	}
	int xfr_ep = srv.xfr ? xfr_fd(srv.xfr) : -1;

	if (xfr_ep >= 0) {
		ev.data.fd = xfr_ep;
		epoll_ctl(ep, EPOLL_CTL_ADD, xfr_ep, &ev);
	}
	for (bool run = true; run;) {
		struct epoll_event evs[8];
		/* the fast paths reclaim, and http times idle clients out */
		int n = epoll_wait(ep, evs, 8,
				   fast ? 100 : http ? 1000 : -1);

		if (http)
			http_run(http);

		if (fast) {
			if (srv.resolver)
				resolver_drain_promotions(srv.resolver);
			fast->poll();
			if (srv.dnstap)
				fast->tap_drain(tap_to_dnstap, &srv);
		}

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == ctl_fd) {
				ctl_serve(ctl_fd, &srv, &ops);
				continue;
			}
			if (evs[i].data.fd == health_ep) {
				health_run(the_health);
				continue;
			}
			if (evs[i].data.fd == http_ep)
				continue; /* http_run() above */
			if (evs[i].data.fd == xfr_ep) {
				xfr_run(srv.xfr);
				continue;
			}
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				do_reload(&srv, err, sizeof(err));
			} else {
				log_info("event=stopping signal=%s",
					 si.ssi_signo == SIGTERM ? "TERM" : "INT");
				notify("STOPPING=1\nSTATUS=stopping");
				run = false;
			}
		}
	}
	if (the_anycast) {
		/* withdraw first: the peers move the traffic elsewhere while
		 * the listeners still answer what is on its way */
		anycast_withdraw_all(the_anycast);
		struct timespec drain = {.tv_sec = ANYCAST_DRAIN_MS / 1000,
					 .tv_nsec = (ANYCAST_DRAIN_MS % 1000) * 1000000L};

		nanosleep(&drain, NULL);
	}
	http_stop(http);
	health_destroy(the_health);
	backend_stop(srv.backends); /* no more completions for the workers */
	server_stop(&srv);
	/* after the workers (a NOTIFY reaches it), before the configs go */
	xfr_destroy(srv.xfr);
	srv.xfr = NULL;
	backend_free(srv.backends);
	dnstap_close(srv.dnstap);
	if (dataplane_xdp)
		fast->stop(); /* detach before anything else goes */
	resolver_stop(srv.resolver);
	cache_destroy(srv.cache);
	if (dataplane_dpdk)
		fast->stop();
	publish_destroy(the_publisher);
	cfg = atomic_load(&srv.cfg);
	unlink(cfg->control_socket);
	config_free(cfg);
	anycast_destroy(the_anycast);
	log_info("event=stopped");
	return 0;
}

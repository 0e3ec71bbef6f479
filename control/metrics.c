/* metrics.c -- Prometheus text exposition format 0.0.4 over libmicrohttpd
 * in its epoll mode, driven by carouseld's main loop (no extra thread: it
 * reads health state owned by that loop). */
#include "metrics.h"

#include <ctype.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "health.h"
#include "log.h"
#include "resolver.h"
#include "server.h"

struct metrics {
	struct MHD_Daemon *d;
	struct metrics_sources src;
};

struct out {
	char *buf;
	size_t len, n; /* n may pass len: the size it would need */
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int k = vsnprintf(o->n < o->len ? o->buf + o->n : NULL, o->n < o->len ? o->len - o->n : 0,
			  fmt, ap);
	va_end(ap);
	o->n += k > 0 ? (size_t)k : 0;
}

/* "cache.hits 5" lines -> carousel_cache_hits 5 (names in [a-z0-9_]). */
static void put_lines(struct out *o, const char *text, const char *help)
{
	char name[128];

	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n'), *sp = strchr(p, ' ');

		if (!eol)
			eol = p + strlen(p);
		if (sp && sp < eol && (size_t)(sp - p) < sizeof(name) - 10) {
			size_t k = 0;

			for (const char *c = p; c < sp; c++)
				name[k++] = isalnum((unsigned char)*c) ? (char)tolower(*c) : '_';
			name[k] = '\0';
			/* only plain numbers: "dataplane dpdk" status words are skipped */
			if (strspn(sp + 1, "0123456789") == (size_t)(eol - sp - 1) && eol > sp + 1)
				put(o, "# HELP carousel_%s %s\n# TYPE carousel_%s untyped\n"
				       "carousel_%s %.*s\n",
				    name, help, name, name, (int)(eol - sp - 1), sp + 1);
		}
		p = *eol ? eol + 1 : eol;
	}
}

static uint64_t dp_value(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return strtoull(p + kl + 1, NULL, 10);
	return 0;
}

size_t metrics_render(const struct metrics_sources *src, char *buf, size_t len)
{
	struct out o = {.buf = buf, .len = len};
	struct server *srv = src->srv;
	struct stats t = {0};
	char *dp = NULL;

	server_stats_total(srv, &t);
	if (src->dataplane_stats) {
		dp = calloc(1, 65536);
		if (dp)
			src->dataplane_stats(dp, 65535);
	}
	put(&o, "# HELP carousel_queries_total Queries answered, by path and transport.\n"
		"# TYPE carousel_queries_total counter\n"
		"carousel_queries_total{path=\"socket\",transport=\"udp\"} %llu\n"
		"carousel_queries_total{path=\"socket\",transport=\"tcp\"} %llu\n",
	    (unsigned long long)t.udp, (unsigned long long)t.tcp);
	if (dp && src->dataplane)
		put(&o, "carousel_queries_total{path=\"%s\",transport=\"udp\"} %llu\n", src->dataplane,
		    (unsigned long long)dp_value(dp, strcmp(src->dataplane, "dpdk") == 0
							     ? "dpdk.answered"
							     : "xdp.answered"));
	put(&o, "# HELP carousel_responses_total Socket-path responses by rcode.\n"
		"# TYPE carousel_responses_total counter\n");
	for (unsigned k = 0; k < STATS_RCODES; k++)
		if (t.rcode[k] || k <= 5)
			put(&o, "carousel_responses_total{path=\"socket\",rcode=\"%s\"} %llu\n",
			    stats_rcode_names[k], (unsigned long long)t.rcode[k]);
	put(&o, "# HELP carousel_queries_by_qtype_total Socket-path queries by type.\n"
		"# TYPE carousel_queries_by_qtype_total counter\n");
	for (unsigned k = 0; k < QT_COUNT; k++)
		put(&o, "carousel_queries_by_qtype_total{path=\"socket\",qtype=\"%s\"} %llu\n",
		    stats_qtype_names[k], (unsigned long long)t.qtype[k]);
	put(&o, "# HELP carousel_dropped_total Queries dropped unanswered.\n"
		"# TYPE carousel_dropped_total counter\ncarousel_dropped_total %llu\n"
		"# HELP carousel_truncated_total Responses sent with TC=1.\n"
		"# TYPE carousel_truncated_total counter\ncarousel_truncated_total %llu\n",
	    (unsigned long long)t.dropped, (unsigned long long)t.truncated);
	put(&o, "# HELP carousel_reloads_total Config reloads by result.\n"
		"# TYPE carousel_reloads_total counter\n"
		"carousel_reloads_total{result=\"ok\"} %llu\n"
		"carousel_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)srv->reloads_ok, (unsigned long long)srv->reloads_failed);
	if (srv->rrl)
		put(&o, "# HELP carousel_rrl_total Responses held back by RRL.\n"
			"# TYPE carousel_rrl_total counter\n"
			"carousel_rrl_total{action=\"slip\"} %llu\n"
			"carousel_rrl_total{action=\"drop\"} %llu\n",
		    (unsigned long long)atomic_load(&srv->rrl->slipped),
		    (unsigned long long)atomic_load(&srv->rrl->dropped));
	if (srv->resolver) {
		char text[2048];
		bool ok;

		resolver_ctl(srv->resolver, "stats", text, sizeof(text), &ok);
		put_lines(&o, text, "Resolver and cache counter (carouselctl cache stats).");
	}
	if (dp)
		put_lines(&o, dp, "Dataplane counter (carouselctl stats).");
	free(dp);
	if (srv->backends) {
		size_t room = o.n < o.len ? o.len - o.n : 0;

		o.n += backend_metrics(srv->backends, room ? o.buf + o.n : NULL, room);
	}
	if (src->health) {
		size_t room = o.n < o.len ? o.len - o.n : 0;
		size_t k = health_metrics(src->health, room ? o.buf + o.n : NULL, room);

		/* health_metrics stops at the end of the buffer: ask for more */
		o.n += k;
		if (room && k >= room - 1)
			o.n = o.len + 65536;
	}
	return o.n;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **req)
{
	struct metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result rc;
	unsigned status = MHD_HTTP_OK;
	size_t cap = 65536, n;
	char *buf = NULL;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		buf = strdup("only GET /metrics\n");
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		buf = strdup("Carousel exposes GET /metrics\n");
	} else {
		for (;;) {
			buf = realloc(buf, cap);
			if (!buf)
				return MHD_NO;
			n = metrics_render(&m->src, buf, cap);
			if (n < cap)
				break;
			cap = n + 65536;
		}
	}
	if (!buf)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(buf), buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

struct metrics *metrics_start(const struct listen_addr *addr, const struct metrics_sources *src)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		abort();
	m->src = *src;
	unsigned flags = MHD_USE_EPOLL | (addr->ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);

	m->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, &addr->ss,
				MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_CONNECTION_LIMIT,
				64u, MHD_OPTION_END);
	if (!m->d) {
		log_error("event=metrics listen=%s error=\"cannot listen (address in use?)\"",
			  addr->text);
		free(m);
		return NULL;
	}
	log_info("event=metrics listen=%s path=/metrics", addr->text);
	return m;
}

int metrics_fd(const struct metrics *m)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

void metrics_run(struct metrics *m)
{
	MHD_run(m->d);
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}

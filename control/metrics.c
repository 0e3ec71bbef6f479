/* metrics.c -- Prometheus text exposition format 0.0.4 of every counter
 * (served as /metrics by http.c, on carouseld's main loop: it reads health
 * state owned by that loop). */
#include "metrics.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dnstap.h"
#include "health.h"
#include "json.h"
#include "log.h"
#include "resolver.h"
#include "server.h"
#include "xfr.h"

/* "cache.hits 5" lines -> carousel_cache_hits 5 (names in [a-z0-9_]). */
static void put_lines(struct json_out *o, const char *text, const char *help)
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
				json_put(o, "# HELP carousel_%s %s\n# TYPE carousel_%s untyped\n"
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
	struct json_out o = {.buf = buf, .len = len};
	struct server *srv = src->srv;
	struct stats t = {0};
	char *dp = NULL;

	server_stats_total(srv, &t);
	if (src->dataplane_stats) {
		dp = calloc(1, 65536);
		if (dp)
			src->dataplane_stats(dp, 65535);
	}
	json_put(&o, "# HELP carousel_queries_total Queries answered, by path and transport.\n"
		"# TYPE carousel_queries_total counter\n"
		"carousel_queries_total{path=\"socket\",transport=\"udp\"} %llu\n"
		"carousel_queries_total{path=\"socket\",transport=\"tcp\"} %llu\n",
	    (unsigned long long)t.udp, (unsigned long long)t.tcp);
	if (dp && src->dataplane)
		json_put(&o, "carousel_queries_total{path=\"%s\",transport=\"udp\"} %llu\n", src->dataplane,
		    (unsigned long long)dp_value(dp, strcmp(src->dataplane, "dpdk") == 0
							     ? "dpdk.answered"
							     : "xdp.answered"));
	json_put(&o, "# HELP carousel_responses_total Socket-path responses by rcode.\n"
		"# TYPE carousel_responses_total counter\n");
	for (unsigned k = 0; k < STATS_RCODES; k++)
		if (t.rcode[k] || k <= 5)
			json_put(&o, "carousel_responses_total{path=\"socket\",rcode=\"%s\"} %llu\n",
			    stats_rcode_names[k], (unsigned long long)t.rcode[k]);
	json_put(&o, "# HELP carousel_queries_by_qtype_total Socket-path queries by type.\n"
		"# TYPE carousel_queries_by_qtype_total counter\n");
	for (unsigned k = 0; k < QT_COUNT; k++)
		json_put(&o, "carousel_queries_by_qtype_total{path=\"socket\",qtype=\"%s\"} %llu\n",
		    stats_qtype_names[k], (unsigned long long)t.qtype[k]);
	json_put(&o, "# HELP carousel_dropped_total Queries dropped unanswered.\n"
		"# TYPE carousel_dropped_total counter\ncarousel_dropped_total %llu\n"
		"# HELP carousel_truncated_total Responses sent with TC=1.\n"
		"# TYPE carousel_truncated_total counter\ncarousel_truncated_total %llu\n",
	    (unsigned long long)t.dropped, (unsigned long long)t.truncated);
	json_put(&o, "# HELP carousel_reloads_total Config reloads by result.\n"
		"# TYPE carousel_reloads_total counter\n"
		"carousel_reloads_total{result=\"ok\"} %llu\n"
		"carousel_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)srv->reloads_ok, (unsigned long long)srv->reloads_failed);
	if (srv->rrl)
		json_put(&o, "# HELP carousel_rrl_total Responses held back by RRL.\n"
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
	if (srv->dnstap) {
		char text[128];

		dnstap_stats(srv->dnstap, text, sizeof(text));
		put_lines(&o, text, "dnstap frames handed to the writer, or dropped (queue full).");
	}
	free(dp);
	if (srv->backends) {
		size_t room = o.n < o.len ? o.len - o.n : 0;

		o.n += backend_metrics(srv->backends, room ? o.buf + o.n : NULL, room);
	}
	if (srv->xfr) {
		size_t room = o.n < o.len ? o.len - o.n : 0;

		o.n += xfr_metrics(srv->xfr, room ? o.buf + o.n : NULL, room);
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

/* api.c -- the JSON documents of the HTTP API, read on the main thread
 * from the same sources as carouselctl and the Prometheus metrics. */
#include "api.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "dnstap.h"
#include "health.h"
#include "resolver.h"
#include "server.h"
#include "wire.h"

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

void api_status(const struct metrics_sources *src, struct json_out *o)
{
	const struct server *srv = src->srv;
	const struct config *cfg = atomic_load(&srv->cfg); /* only this thread frees configs */
	char name[DNAME_STRLEN];

	json_put(o, "{\"version\":\"%s\",\"time_ms\":%llu,\"uptime_seconds\":%lld,\"config\":",
		 CAROUSEL_VERSION, now_ms(), (long long)(time(NULL) - srv->started));
	json_str(o, cfg->path);
	json_put(o, ",\"workers\":%u,\"dataplane\":", srv->nworkers);
	json_str(o, src->dataplane);
	json_put(o, ",\"recursion\":%s,\"listen\":[", srv->resolver ? "true" : "false");
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		json_put(o, "%s", i ? "," : "");
		json_str(o, cfg->listen[i].text);
	}
	json_put(o, "],\"zones\":[");
	for (unsigned i = 0; i < cfg->nzones; i++) {
		const struct zone *z = cfg->zones[i];
		/* a secondary zone before its first transfer has no SOA */
		const struct rr *soa = z->soa ? z->soa->head : NULL;

		dname_to_str(z->apex, name, sizeof(name));
		json_put(o, "%s{\"name\":", i ? "," : "");
		json_str(o, name);
		/* RFC 1035 3.3.13: SERIAL is the first of the five numbers */
		json_put(o, ",\"serial\":%u,\"records\":%u}",
			 soa ? wire_read32(soa->data + soa->len - 20) : 0, z->records);
	}
	json_put(o, "],\"pools\":%u,\"reloads\":{\"ok\":%llu,\"failed\":%llu},"
		    "\"last_reload_error\":",
		 cfg->npools, (unsigned long long)srv->reloads_ok,
		 (unsigned long long)srv->reloads_failed);
	json_str(o, srv->last_error[0] ? srv->last_error : NULL);
	json_put(o, "}");
}

void api_pools(const struct metrics_sources *src, struct json_out *o)
{
	health_pools_json(src->health, o);
}

void api_stats(const struct metrics_sources *src, struct json_out *o)
{
	struct server *srv = src->srv;
	struct stats t = {0};

	server_stats_total(srv, &t);
	json_put(o, "{\"time_ms\":%llu,\"socket\":{\"udp\":%llu,\"tcp\":%llu,\"dropped\":%llu,"
		    "\"truncated\":%llu,\"tcp_accepted\":%llu,\"tcp_refused\":%llu,"
		    "\"tcp_idle_closed\":%llu},\"rcode\":{",
		 now_ms(), (unsigned long long)t.udp, (unsigned long long)t.tcp,
		 (unsigned long long)t.dropped, (unsigned long long)t.truncated,
		 (unsigned long long)t.tcp_accepted, (unsigned long long)t.tcp_refused,
		 (unsigned long long)t.tcp_timeouts);
	for (unsigned k = 0, n = 0; k < STATS_RCODES; k++)
		if (t.rcode[k] || k <= 5)
			json_put(o, "%s\"%s\":%llu", n++ ? "," : "", stats_rcode_names[k],
				 (unsigned long long)t.rcode[k]);
	json_put(o, "},\"qtype\":{");
	for (unsigned k = 0; k < QT_COUNT; k++)
		json_put(o, "%s\"%s\":%llu", k ? "," : "", stats_qtype_names[k],
			 (unsigned long long)t.qtype[k]);
	json_put(o, "},\"rrl\":{\"enabled\":%s,\"slipped\":%llu,\"dropped\":%llu}",
		 srv->rrl && atomic_load(&srv->cfg)->rrl.enable ? "true" : "false",
		 srv->rrl ? (unsigned long long)atomic_load(&srv->rrl->slipped) : 0ULL,
		 srv->rrl ? (unsigned long long)atomic_load(&srv->rrl->dropped) : 0ULL);
	json_put(o, ",\"dnstap\":");
	if (srv->dnstap) {
		char text[128];

		dnstap_stats(srv->dnstap, text, sizeof(text));
		json_put(o, "{");
		json_counters(o, text, false);
		json_put(o, "}");
	} else {
		json_put(o, "null");
	}
	json_put(o, ",\"resolver\":");
	if (srv->resolver) {
		char text[2048];
		bool ok;

		resolver_ctl(srv->resolver, "stats", text, sizeof(text), &ok);
		json_put(o, "{");
		json_counters(o, text, false);
		json_put(o, "}");
	} else {
		json_put(o, "null");
	}
	json_put(o, ",\"dataplane\":");
	char *dp = src->dataplane_stats ? calloc(1, 65536) : NULL;

	if (dp) {
		src->dataplane_stats(dp, 65535);
		json_put(o, "{\"name\":");
		json_str(o, src->dataplane);
		json_counters(o, dp, true);
		json_put(o, "}");
		free(dp);
	} else {
		json_put(o, "null");
	}
	json_put(o, "}");
}

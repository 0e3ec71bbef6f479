/* health.c -- member monitors on the main thread's event loop: one probe
 * (probe.c) per member at a time, scheduled from a heap of due times;
 * verdicts move rise/fall counters, state changes make new pool views. */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "entry.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "probe.h"

#define PROBE_IN 8192
#define FIRST_PROBES_PER_S 5000 /* at most, when a config is adopted */
#define RUN_MAX 256               /* probes started or timed out per call */

/* One pool member: its state lives here across reloads. */
struct mstate {
	struct health *h;
	unsigned pool;         /* index in the config in force */
	const struct pool *p;
	const struct member *m;
	const struct monitor *mon; /* NULL: not monitored */
	bool up, drained;
	unsigned streak;      /* verdicts in a row that disagree with `up` */
	uint64_t since_ms;    /* last state change */
	uint64_t next_ms;     /* next probe starts */
	bool last_ok;
	char last[PROBE_REASON_LEN];
	unsigned latency_us;
	uint64_t checks, failures, changes;
	struct probe *probe;  /* in flight, or NULL */
	uint64_t probe_ms, probe_us, deadline_ms; /* when it started, when it fails */
	uint64_t due_ms;      /* heap key: the probe's deadline, or next_ms */
	unsigned heap_pos;
	uint64_t key;         /* member_key(), for the next reload's index */
};

struct health {
	struct health_hooks hooks;
	int ep, timer;
	uint64_t armed_ms;    /* the timer's expiry as last set: 0 none */
	struct config *cfg;
	struct mstate *st;    /* every member of every pool, pool by pool */
	unsigned nst;
	unsigned *first;      /* per pool: its first member in st */
	struct mstate **heap; /* monitored members, soonest due first */
	unsigned nheap;
	uint8_t *dirty;       /* per pool: its view must be rebuilt */
	unsigned *dirty_list, ndirty;
	SSL_CTX *tls;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000;
}

static uint32_t rnd(uint32_t n)
{
	uint32_t r = 0;

	if (n == 0 || getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		return 0;
	return r % n;
}

/* The next probe: one interval on, give or take a tenth, so that checks
 * of many members do not fall into step. */
static uint64_t next_start(const struct monitor *mon, uint64_t from)
{
	uint32_t j = mon->interval_ms / 10;

	return from + mon->interval_ms - j + rnd(2 * j + 1);
}

/* A verdict to show: last_ok, last, latency_us. */
static bool has_result(const struct mstate *ms)
{
	return ms->mon && ms->checks > 0;
}

/* --- the schedule: a binary min-heap of due times, so a loop over many
 * monitored members costs log n per event, not n --- */

static void heap_place(struct health *h, unsigned i, struct mstate *ms)
{
	h->heap[i] = ms;
	ms->heap_pos = i;
}

static void heap_fix(struct health *h, unsigned i)
{
	struct mstate *ms = h->heap[i];

	while (i > 0 && h->heap[(i - 1) / 2]->due_ms > ms->due_ms) {
		heap_place(h, i, h->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= h->nheap)
			break;
		if (c + 1 < h->nheap && h->heap[c + 1]->due_ms < h->heap[c]->due_ms)
			c++;
		if (h->heap[c]->due_ms >= ms->due_ms)
			break;
		heap_place(h, i, h->heap[c]);
		i = c;
	}
	heap_place(h, i, ms);
}

/* The member's next event moved: a probe started or ended. */
static void reschedule(struct mstate *ms)
{
	ms->due_ms = ms->probe ? ms->deadline_ms : ms->next_ms;
	heap_fix(ms->h, ms->heap_pos);
}

static void mark_dirty(struct health *h, unsigned pool)
{
	if (!h->dirty[pool]) {
		h->dirty[pool] = 1;
		h->dirty_list[h->ndirty++] = pool;
	}
}

/* --- views --- */

static void publish(struct health *h, unsigned pool)
{
	struct pool *p = h->cfg->pools[pool];
	bool up[ROT_MAX_MEMBERS], drained[ROT_MAX_MEMBERS];
	unsigned first = h->first[pool];

	for (unsigned i = 0; i < p->nmembers; i++) {
		up[i] = h->st[first + i].up;
		drained[i] = h->st[first + i].drained;
	}
	struct pool_view *v = pool_view_build(p, up, drained);
	struct pool_view *old = atomic_exchange(&p->view, v);

	for (int f = 0; f < 2; f++)
		if (v->all_down[f] && !old->all_down[f])
			log_warn("event=pool-all-down pool=%s family=%s action=%s", p->name_text,
				 f ? "ipv6" : "ipv4",
				 p->on_all_down == ALL_DOWN_SERVFAIL ? "servfail"
				 : p->on_all_down == ALL_DOWN_POOL   ? "fallback-pool"
								     : "serve-all");
		else if (!v->all_down[f] && old->all_down[f])
			log_info("event=pool-recovered pool=%s family=%s", p->name_text,
				 f ? "ipv6" : "ipv4");
	if (h->hooks.synchronize)
		h->hooks.synchronize(h->hooks.arg);
	pool_view_free(old);
	if (h->hooks.changed)
		h->hooks.changed(h->hooks.arg, h->cfg, pool);
}

/* --- probes --- */

static void probe_end(struct mstate *ms)
{
	int fd = probe_fd(ms->probe);

	if (fd >= 0)
		epoll_ctl(ms->h->ep, EPOLL_CTL_DEL, fd, NULL);
	probe_free(ms->probe);
	ms->probe = NULL;
}

bool health_transition(bool *up, unsigned *streak, bool ok, unsigned rise, unsigned fall)
{
	if (ok == *up) {
		*streak = 0;
		return false;
	}
	if (++*streak < (ok ? rise : fall))
		return false;
	*up = ok;
	*streak = 0;
	return true;
}

/* The end of one probe: count it, maybe change state. Returns true when
 * the member's state changed. */
static bool verdict(struct mstate *ms, bool ok, const char *reason)
{
	uint64_t now = now_ms();

	ms->checks++;
	ms->failures += !ok;
	ms->last_ok = ok;
	ms->latency_us = (unsigned)(now_us() - ms->probe_us);
	snprintf(ms->last, sizeof(ms->last), "%s", reason);
	ms->next_ms = next_start(ms->mon, ms->probe_ms);
	if (ms->next_ms <= now)
		ms->next_ms = now + 1;
	probe_end(ms);
	reschedule(ms);
	if (!health_transition(&ms->up, &ms->streak, ok, ms->mon->rise, ms->mon->fall))
		return false;
	ms->changes++;
	log_info("event=health pool=%s member=%s state=%s reason=\"%s\" latency_ms=%.3f "
		 "after=%us checks=%llu",
		 ms->p->name_text, ms->m->text, ok ? "up" : "down", ms->last, ms->latency_us / 1e3,
		 (unsigned)((now - ms->since_ms) / 1000), (unsigned long long)ms->checks);
	ms->since_ms = now;
	return true;
}

static void watch(struct mstate *ms, int op)
{
	struct epoll_event ev = {.events = probe_events(ms->probe), .data.ptr = ms};

	epoll_ctl(ms->h->ep, op, probe_fd(ms->probe), &ev);
}

static bool start(struct mstate *ms, uint64_t now)
{
	char reason[PROBE_REASON_LEN];
	int rc;

	ms->probe_ms = now;
	ms->probe_us = now_us();
	ms->deadline_ms = now + ms->mon->timeout_ms;
	ms->probe = probe_start(ms->mon, ms->m, ms->p->name_text, ms->h->tls, reason, &rc);
	if (rc != PROBE_MORE)
		return verdict(ms, rc == PROBE_OK, reason);
	watch(ms, EPOLL_CTL_ADD);
	reschedule(ms);
	return false;
}

/* --- the loop --- */

static void arm(struct health *h)
{
	uint64_t next = h->nheap ? h->heap[0]->due_ms : 0;
	struct itimerspec its = {0};

	/* most events (a probe's reply) leave the soonest due time as it
	 * was: one system call less for each */
	if (next == h->armed_ms)
		return;
	h->armed_ms = next;
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
	}
	timerfd_settime(h->timer, TFD_TIMER_ABSTIME, &its, NULL);
}

void health_run(struct health *h)
{
	struct epoll_event evs[64];
	int n;

	while ((n = epoll_wait(h->ep, evs, 64, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			struct mstate *ms = evs[i].data.ptr;
			char reason[PROBE_REASON_LEN];

			if (!ms) {
				uint64_t ticks;

				if (read(h->timer, &ticks, sizeof(ticks)) < 0)
					(void)0; /* spurious: the heap below decides */
				continue;
			}
			int rc = probe_run(ms->probe, reason);

			if (rc == PROBE_MORE)
				watch(ms, EPOLL_CTL_MOD);
			else if (verdict(ms, rc == PROBE_OK, reason))
				mark_dirty(h, ms->pool);
		}
		if (n < 64)
			break;
	}
	uint64_t now = now_ms();
	unsigned done = 0;

	/* a bounded share at a time: the main loop's other events (signals,
	 * the control socket, replies to probes) wait for this one */
	while (h->nheap && h->heap[0]->due_ms <= now && done++ < RUN_MAX) {
		struct mstate *ms = h->heap[0];
		bool changed;

		if (ms->probe) {
			char reason[PROBE_REASON_LEN];

			snprintf(reason, sizeof(reason), "timeout after %ums", ms->mon->timeout_ms);
			changed = verdict(ms, false, reason);
		} else {
			changed = start(ms, now);
		}
		if (changed)
			mark_dirty(h, ms->pool);
	}
	for (unsigned i = 0; i < h->ndirty; i++) {
		h->dirty[h->dirty_list[i]] = 0;
		publish(h, h->dirty_list[i]);
	}
	h->ndirty = 0;
	if (h->nheap && h->heap[0]->due_ms <= now)
		h->armed_ms = 0; /* more is due: a timer in the past fires at once */
	arm(h);
}

struct health *health_create(const struct health_hooks *hooks)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->hooks = *hooks;
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	h->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	h->tls = SSL_CTX_new(TLS_client_method());
	if (h->ep < 0 || h->timer < 0 || !h->tls) {
		log_error("event=health-start error=\"%s\"", strerror(errno));
		abort();
	}
	/* a health check asks "does it answer", not "is its certificate
	 * trusted": self-signed replicas are the common case, so verifying
	 * is a monitor's choice (tls-verify), against the system's CAs */
	SSL_CTX_set_verify(h->tls, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_default_verify_paths(h->tls);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	epoll_ctl(h->ep, EPOLL_CTL_ADD, h->timer, &ev);
	return h;
}

int health_fd(const struct health *h)
{
	return h->ep;
}

/* Members of the old generation by (pool name, address): a reload of a
 * big config stays linear. */
struct old_index {
	struct mstate **slot;
	size_t mask;
};

static uint64_t member_key(const struct pool *p, const struct member *m)
{
	uint64_t h = entry_digest(p->name, dname_len(p->name), (uint16_t)m->family, 0);

	h = entry_hash_word(h, entry_le64(m->addr));
	return entry_hash_word(h, entry_le64(m->addr + 8));
}

static void old_index_build(struct old_index *ix, struct mstate *old, unsigned nold)
{
	size_t size = 16;

	while (size < 2 * (size_t)nold)
		size *= 2;
	ix->mask = size - 1;
	ix->slot = calloc(size, sizeof(*ix->slot));
	if (!ix->slot)
		abort();
	for (unsigned i = 0; i < nold; i++) {
		size_t k = old[i].key & ix->mask;

		while (ix->slot[k])
			k = (k + 1) & ix->mask;
		ix->slot[k] = &old[i];
	}
}

static struct mstate *find_old(const struct old_index *ix, const struct pool *p,
			       const struct member *m, uint64_t key)
{
	for (size_t k = key & ix->mask; ix->slot[k]; k = (k + 1) & ix->mask) {
		const struct mstate *o = ix->slot[k];

		if (o->key == key && o->m->family == m->family && memcmp(o->m->addr, m->addr, 16) == 0 &&
		    dname_equal(o->p->name, p->name))
			return ix->slot[k];
	}
	return NULL;
}

void health_adopt(struct health *h, struct config *cfg)
{
	struct mstate *old = h->st;
	unsigned nold = h->nst, n = 0;
	uint64_t now = now_ms();
	struct old_index ix;

	old_index_build(&ix, old, nold);
	free(h->first);
	free(h->dirty);
	free(h->dirty_list);
	h->first = calloc(cfg->npools ? cfg->npools : 1, sizeof(*h->first));
	h->dirty = calloc(cfg->npools ? cfg->npools : 1, sizeof(*h->dirty));
	h->dirty_list = calloc(cfg->npools ? cfg->npools : 1, sizeof(*h->dirty_list));
	h->ndirty = 0;
	if (!h->first || !h->dirty || !h->dirty_list)
		abort();

	unsigned nmon = 0;

	for (unsigned i = 0; i < cfg->npools; i++) {
		n += cfg->pools[i]->nmembers;
		for (unsigned j = 0; j < cfg->pools[i]->nmembers; j++)
			nmon += cfg->pools[i]->members[j].monitor != NULL;
	}
	/* first probes soon, spread over a second; over longer, up to the
	 * interval, when there are more monitors than FIRST_PROBES_PER_S:
	 * a burst of them all would run out of sockets and ephemeral ports,
	 * and the schedule (one interval on, ± a tenth) would keep them in
	 * step ever after */
	uint64_t spread_ms = (uint64_t)nmon * 1000 / FIRST_PROBES_PER_S;

	if (spread_ms < 1000)
		spread_ms = 1000;
	h->st = calloc(n ? n : 1, sizeof(*h->st));
	if (!h->st)
		abort();
	h->nst = 0;
	for (unsigned i = 0; i < cfg->npools; i++) {
		struct pool *p = cfg->pools[i];
		bool up[ROT_MAX_MEMBERS], drained[ROT_MAX_MEMBERS], as_loaded = true;

		h->first[i] = h->nst;
		for (unsigned j = 0; j < p->nmembers; j++) {
			struct mstate *ms = &h->st[h->nst++];
			uint64_t key = member_key(p, &p->members[j]);
			const struct mstate *o = find_old(&ix, p, &p->members[j], key);

			ms->key = key;
			ms->h = h;
			ms->pool = i;
			ms->p = p;
			ms->m = &p->members[j];
			ms->mon = ms->m->monitor;
			ms->up = !ms->mon || ms->mon->initial_up;
			ms->since_ms = now;
			if (o) {
				/* a member that stays keeps its state and history */
				ms->up = !ms->mon || (o->mon ? o->up : ms->up);
				ms->drained = o->drained;
				ms->since_ms = o->since_ms;
				ms->last_ok = o->last_ok;
				ms->latency_us = o->latency_us;
				memcpy(ms->last, o->last, sizeof(ms->last));
				ms->checks = o->checks;
				ms->failures = o->failures;
				ms->changes = o->changes;
			}
			if (ms->mon)
				ms->next_ms = now + rnd(ms->mon->interval_ms < spread_ms
							? ms->mon->interval_ms
							: (uint32_t)spread_ms);
			up[j] = ms->up;
			drained[j] = ms->drained;
			/* pool_views_init built the view from the initial states */
			as_loaded &= !ms->drained && ms->up == (!ms->mon || ms->mon->initial_up);
		}
		/* cfg is not serving yet: its views change without a grace
		 * period; most pools of a big config are as they were loaded */
		if (!as_loaded)
			pool_view_free(atomic_exchange(&p->view, pool_view_build(p, up, drained)));
	}
	for (unsigned i = 0; i < nold; i++)
		if (old[i].probe)
			probe_end(&old[i]);
	free(ix.slot);
	free(old);
	h->cfg = cfg;
	free(h->heap);
	h->heap = calloc(h->nst ? h->nst : 1, sizeof(*h->heap));
	if (!h->heap)
		abort();
	h->nheap = 0;
	for (unsigned i = 0; i < h->nst; i++) {
		struct mstate *ms = &h->st[i];

		if (!ms->mon)
			continue;
		ms->due_ms = ms->next_ms;
		heap_place(h, h->nheap, ms);
		heap_fix(h, h->nheap++);
	}
	arm(h);
}

void health_destroy(struct health *h)
{
	if (!h)
		return;
	for (unsigned i = 0; i < h->nst; i++)
		if (h->st[i].probe)
			probe_end(&h->st[i]);
	free(h->st);
	free(h->first);
	free(h->heap);
	free(h->dirty);
	free(h->dirty_list);
	SSL_CTX_free(h->tls);
	close(h->timer);
	close(h->ep);
	free(h);
}

/* --- control --- */

#define SAY(...)                                                                           \
	do {                                                                                \
		if (k < len) {                                                              \
			int w_ = snprintf(buf + k, len - k, __VA_ARGS__);                   \
			k += w_ > 0 ? (size_t)w_ : 0;                                       \
		}                                                                           \
	} while (0)

static const char *method_name(enum rot_method m)
{
	static const char *const names[] = {"round-robin", "weighted", "failover", "topology"};

	return names[m];
}

/* Every pool, or only (when only is not NULL) that one. */
static size_t pools_text(struct health *h, const struct pool *only, char *buf, size_t len)
{
	uint64_t now = now_ms();
	size_t k = 0;

	for (unsigned i = 0; i < h->cfg->npools; i++) {
		const struct pool *p = h->cfg->pools[i];
		const struct pool_view *v = pool_view_get(p);

		if (only && p != only)
			continue;
		bool all_down = v->all_down[0] || v->all_down[1];

		SAY("pool %s method %s state %s ttl %u serving %u", p->name_text,
		    method_name(p->method), all_down ? "all-down" : v->degraded ? "degraded" : "ok",
		    v->ttl, v->serving[0] + v->serving[1]);
		if (all_down)
			SAY(" on-all-down %s%s", p->on_all_down == ALL_DOWN_SERVFAIL ? "servfail"
						 : p->on_all_down == ALL_DOWN_POOL   ? "pool:"
										     : "serve-all",
			    p->on_all_down == ALL_DOWN_POOL ? p->fallback->name_text : "");
		SAY("\n");
		for (unsigned j = h->first[i]; j < h->first[i] + p->nmembers; j++) {
			const struct mstate *ms = &h->st[j];

			SAY("  member %s state %s drained %s since %llus", ms->m->text,
			    ms->up ? "up" : "down", ms->drained ? "yes" : "no",
			    (unsigned long long)((now - ms->since_ms) / 1000));
			if (!ms->mon) {
				SAY(" monitor none\n");
				continue;
			}
			SAY(" monitor %s/%u checks %llu failures %llu", monitor_type_names[ms->mon->type],
			    probe_port(ms->mon), (unsigned long long)ms->checks,
			    (unsigned long long)ms->failures);
			if (has_result(ms))
				SAY(" latency %.3fms last %s \"%s\"", ms->latency_us / 1e3,
				    ms->last_ok ? "ok" : "fail", ms->last);
			SAY("\n");
		}
	}
	return k < len ? k : len;
}

void health_pools_json(struct health *h, struct json_out *o)
{
	uint64_t now = now_ms();

	json_put(o, "[");
	for (unsigned i = 0; i < h->cfg->npools; i++) {
		const struct pool *p = h->cfg->pools[i];
		const struct pool_view *v = pool_view_get(p);
		bool all_down = v->all_down[0] || v->all_down[1];

		json_put(o, "%s{\"name\":", i ? "," : "");
		json_str(o, p->name_text);
		json_put(o, ",\"method\":\"%s\",\"state\":\"%s\",\"ttl\":%u,\"serving\":%u,"
			    "\"members\":[",
			 method_name(p->method),
			 all_down ? "all-down" : v->degraded ? "degraded" : "ok", v->ttl,
			 v->serving[0] + v->serving[1]);
		for (unsigned j = h->first[i]; j < h->first[i] + p->nmembers; j++) {
			const struct mstate *ms = &h->st[j];

			json_put(o, "%s{\"address\":\"%s\",\"state\":\"%s\",\"drained\":%s,"
				    "\"since_seconds\":%llu,\"weight\":%u",
				 j > h->first[i] ? "," : "", ms->m->text, ms->up ? "up" : "down",
				 ms->drained ? "true" : "false",
				 (unsigned long long)((now - ms->since_ms) / 1000), ms->m->weight);
			if (ms->mon)
				json_put(o, ",\"monitor\":\"%s/%u\",\"checks\":%llu,\"failures\":%llu",
					 monitor_type_names[ms->mon->type], probe_port(ms->mon),
					 (unsigned long long)ms->checks,
					 (unsigned long long)ms->failures);
			else
				json_put(o, ",\"monitor\":null");
			if (has_result(ms)) {
				json_put(o, ",\"latency_ms\":%.3f,\"last_ok\":%s,\"last\":",
					 ms->latency_us / 1e3, ms->last_ok ? "true" : "false");
				json_str(o, ms->last);
			}
			json_put(o, "}");
		}
		json_put(o, "]}");
	}
	json_put(o, "]");
}

static struct mstate *lookup(struct health *h, const char *pool, const char *member,
			     char *buf, size_t len, size_t *k)
{
	uint8_t name[DNAME_MAXLEN];
	struct pool *p;

	if (dname_from_str(pool, name, sizeof(name)) < 0) {
		*k = (size_t)snprintf(buf, len, "error: '%s' is not a pool name\n", pool);
		return NULL;
	}
	dname_lower(name);
	p = config_find_pool(h->cfg, name);
	if (!p) {
		*k = (size_t)snprintf(buf, len, "error: no pool %s\n", pool);
		return NULL;
	}
	uint8_t addr[16] = {0};
	int family = inet_pton(AF_INET, member, addr) == 1    ? AF_INET
		     : inet_pton(AF_INET6, member, addr) == 1 ? AF_INET6
							      : 0;

	for (unsigned i = 0; family && i < h->nst; i++)
		if (h->st[i].p == p && h->st[i].m->family == family &&
		    memcmp(h->st[i].m->addr, addr, 16) == 0)
			return &h->st[i];
	*k = (size_t)snprintf(buf, len, "error: pool %s has no member %s\n", p->name_text, member);
	return NULL;
}

size_t health_ctl(struct health *h, const char *cmd, char *buf, size_t len, bool *ok)
{
	char verb[16], pool[300], member[64], extra;
	size_t k = 0;

	int n = sscanf(cmd, "%15s %299s %63s %c", verb, pool, member, &extra);

	if (n >= 1 && strcmp(verb, "pools") == 0) {
		uint8_t name[DNAME_MAXLEN];
		const struct pool *p = NULL;

		*ok = false;
		if (n > 2)
			return (size_t)snprintf(buf, len, "error: usage: pools [POOL]\n");
		if (n == 2) {
			if (dname_from_str(pool, name, sizeof(name)) < 0)
				return (size_t)snprintf(buf, len, "error: '%s' is not a pool name\n",
							pool);
			dname_lower(name);
			p = config_find_pool(h->cfg, name);
			if (!p)
				return (size_t)snprintf(buf, len, "error: no pool %s\n", pool);
		}
		*ok = true;
		return pools_text(h, p, buf, len);
	}
	bool drain = strcmp(verb, "drain") == 0;

	if (n < 1 || (!drain && strcmp(verb, "undrain") != 0))
		return (size_t)-1;
	*ok = false;
	if (n != 3)
		return (size_t)snprintf(buf, len, "error: usage: %s POOL MEMBER\n", verb);
	struct mstate *ms = lookup(h, pool, member, buf, len, &k);

	if (!ms)
		return k < len ? k : len;
	*ok = true;
	if (ms->drained != drain) {
		ms->drained = drain;
		log_info("event=%s pool=%s member=%s", verb, ms->p->name_text, ms->m->text);
		publish(h, ms->pool);
	}
	SAY("%s %s %s\n", drain ? "drained" : "undrained", ms->p->name_text, ms->m->text);
	return k < len ? k : len;
}

/* Per-member series: one table, one loop. */
enum member_series { MS_UP, MS_DRAINED, MS_LATENCY, MS_CHECKS, MS_FAILURES, MS_CHANGES };

static const struct {
	const char *name, *type, *help;
} member_series[] = {
	[MS_UP] = {"carousel_member_up", "gauge",
		   "1 when the member passes its monitor (or has none)."},
	[MS_DRAINED] = {"carousel_member_drained", "gauge", "1 when the member is drained by hand."},
	[MS_LATENCY] = {"carousel_member_check_latency_seconds", "gauge",
			"Duration of the last check."},
	[MS_CHECKS] = {"carousel_member_checks_total", "counter", "Checks run."},
	[MS_FAILURES] = {"carousel_member_check_failures_total", "counter",
			 "Checks that failed."},
	[MS_CHANGES] = {"carousel_member_state_changes_total", "counter", "Up/down transitions."},
};

size_t health_metrics(struct health *h, char *buf, size_t len)
{
	size_t k = 0;

	for (unsigned s = 0; s < sizeof(member_series) / sizeof(member_series[0]); s++) {
		SAY("# HELP %s %s\n# TYPE %s %s\n", member_series[s].name, member_series[s].help,
		    member_series[s].name, member_series[s].type);
		for (unsigned i = 0; i < h->nst; i++) {
			const struct mstate *ms = &h->st[i];
			unsigned long long v = 0;

			/* no latency before a check, no check counts without a monitor */
			if ((s == MS_LATENCY && !has_result(ms)) ||
			    ((s == MS_CHECKS || s == MS_FAILURES) && !ms->mon))
				continue;
			SAY("%s{pool=\"%s\",member=\"%s\"} ", member_series[s].name, ms->p->name_text,
			    ms->m->text);
			switch (s) {
			case MS_LATENCY:
				SAY("%.6f\n", ms->latency_us / 1e6);
				continue;
			case MS_UP:
				v = ms->up;
				break;
			case MS_DRAINED:
				v = ms->drained;
				break;
			case MS_CHECKS:
				v = ms->checks;
				break;
			case MS_FAILURES:
				v = ms->failures;
				break;
			default:
				v = ms->changes;
				break;
			}
			SAY("%llu\n", v);
		}
	}
	SAY("# HELP carousel_pool_serving Members a pool hands out now (both families).\n"
	    "# TYPE carousel_pool_serving gauge\n");
	for (unsigned i = 0; i < h->cfg->npools; i++) {
		const struct pool_view *v = pool_view_get(h->cfg->pools[i]);

		SAY("carousel_pool_serving{pool=\"%s\"} %u\n", h->cfg->pools[i]->name_text,
		    (unsigned)v->serving[0] + v->serving[1]);
	}
	SAY("# HELP carousel_pool_degraded 1 while a member of the pool is down.\n"
	    "# TYPE carousel_pool_degraded gauge\n");
	for (unsigned i = 0; i < h->cfg->npools; i++)
		SAY("carousel_pool_degraded{pool=\"%s\"} %d\n", h->cfg->pools[i]->name_text,
		    pool_view_get(h->cfg->pools[i])->degraded);
	return k < len ? k : len;
}

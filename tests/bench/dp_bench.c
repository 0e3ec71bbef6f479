/* dp_bench.c -- DPDK fast-path benchmark, in one process: the main lcore
 * generates query frames (Zipf over 10 000 alias names, 90 % hits, half
 * with EDNS) into a net_ring port, one worker lcore runs the real
 * dataplane loop. Two baselines run the same loop in the same run, in
 * turn with carousel, three rounds: a reflector (MAC/IP/port swap only)
 * and a minimal responder (reads every byte of the question, writes a
 * fixed answer as long as carousel's, fixes both checksums the slow way).
 * Punted misses count as handled work. Prints Mqps delivered, worker
 * capacity (frames per busy second), latency percentiles with one burst in
 * flight, and last
 * `dpdk mqps=M responder_ratio=R reflector_ratio=F p99_us=P mix_ratio=X mix_fastpath=S`
 * (medians of the rounds; P is the p99 latency carousel adds to the
 * reflector's).
 *
 *   dp_bench [SECONDS [NAMES [scale]]]
 *   dp_bench 0 0 publish CONFIG
 *
 * NAMES (default 10 000) sets the table's size; `scale` runs only the
 * lookup-vs-size comparison (scale_run), then the worker alone and while
 * a publisher thread replaces every entry, and prints
 * `dpdk-publish-under-load names=N … ratio=R …` and
 * `dpdk-scale names=N … prefetch_gain=G … rss_mib=R` last. `publish`
 * loads CONFIG (e.g. tests/bench/bigconfig.py's), times its publish to the
 * table (first, unchanged, every entry replaced) and prints
 * `dpdk-publish names=N entries=E first_ms=… unchanged_ms=… replaced_ms=…`. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "../unit/frame_util.h"
#include "../unit/ring_ports.h"
#include "cookie.h"
#include "dp.h"
#include "engine.h"
#include "publish.h"

static int NAMES = 10000; /* argv[2]: more names */
#define FRAMES_MIN 65536
#define FRAMES_MAX (1 << 20)
#define INFLIGHT 2048
#define BURST 32
#define ROUNDS 3

static struct rte_ring *wire_rx, *wire_tx, *exc_tx;
/* two query sets: plain (half with EDNS), and shaped like resolver
 * traffic: 50 % with a client cookie (half of them with a valid server
 * cookie), 10 % with ECS, 30 % DO=1, the rest plain */
static unsigned FRAMES = FRAMES_MIN; /* at least one frame per name, up to FRAMES_MAX */
static uint8_t (*frame_set[2])[192];
static uint16_t *frame_set_len[2];
static uint8_t (*frames)[192];
static uint16_t *frame_len;
static const uint8_t bench_secret[16] = {42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static uint64_t sent_at[65536];

static struct config *make_config(const char *dir)
{
	char path[512], err[CFG_ERR_LEN];
	FILE *z, *y;

	snprintf(path, sizeof(path), "%s/bench.zone", dir);
	z = fopen(path, "w");
	fprintf(z, "$ORIGIN bench.test.\n$TTL 300\n@ SOA ns hm 1 2 3 4 60\n@ NS ns\n"
		   "ns A 192.0.2.1\n");
	fclose(z);
	snprintf(path, sizeof(path), "%s/bench.yaml", dir);
	y = fopen(path, "w");
	fprintf(y, "server:\n  listen: [127.0.0.1@53]\nzones:\n"
		   "  - {name: bench.test., file: bench.zone}\npools:\n");
	for (int i = 0; i < NAMES / 2; i++) {
		int b = i >> 14, c = (i >> 6) & 255, d = (i & 63) << 2; /* 10.b.c.d+1..3 */

		fprintf(y, "  - {name: p%d.bench.test., aliases: [a%d.bench.test.], members: "
			   "[{address: 10.%d.%d.%d}, {address: 10.%d.%d.%d}, {address: 10.%d.%d.%d}]}\n",
			i, i, b, c, d + 1, b, c, d + 2, b, c, d + 3);
	}
	fclose(y);
	struct config *cfg = config_load(path, err, sizeof(err));

	if (!cfg)
		fprintf(stderr, "%s\n", err);
	return cfg;
}

/* Zipf(s = 1) rank over n by inverse CDF on a precomputed table. */
static void make_frames(void)
{
	double *cdf = calloc((size_t)NAMES, sizeof(double));
	double h = 0;
	uint8_t dns[512];

	for (int i = 0; i < NAMES; i++)
		cdf[i] = (h += 1.0 / (i + 1));
	srand(42);
	for (unsigned f = 0; f < FRAMES; f++) {
		char name[64];
		double u = (double)rand() / RAND_MAX * h;
		int lo = 0, hi = NAMES - 1;

		while (lo < hi) {
			int mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (rand() % 10 == 0) /* 10 %: names the table does not hold */
			snprintf(name, sizeof(name), "m%d.bench.test", lo);
		else
			snprintf(name, sizeof(name), "%c%d.bench.test", lo & 1 ? 'a' : 'p', lo / 2);
		size_t dl = fu_dns_query(dns, 0, name, TYPE_A, f % 2 ? 1232 : 0, false);

		frame_set_len[0][f] = (uint16_t)fu_frame(frame_set[0][f], false, dns, dl,
							 (uint16_t)(1024 + f % 60000));
		/* the resolver-like mix, by f's position in a cycle of 20 */
		int k = f % 20, cookie = k < 10, ecs = k >= 10 && k < 12, dok = k % 10 < 3;
		uint8_t opts[64];
		size_t ol = 0;

		dl = fu_dns_query(dns, 0, name, TYPE_A, cookie || ecs || dok ? 1232 : 0, dok);
		if (cookie) {
			static const uint8_t client[8] = {1, 2, 3, 4, 5, 6, 7, 8};

			wire_write16(opts, 10);
			wire_write16(opts + 2, k < 5 ? 8 : 24);
			memcpy(opts + 4, client, 8);
			if (k >= 5) /* a valid server cookie: echoed */
				cookie_make(bench_secret, client, fu_client_ip4, 4,
					    (uint32_t)time(NULL), opts + 12);
			ol = k < 5 ? 12 : 28;
		}
		if (ecs) {
			static const uint8_t e[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};

			memcpy(opts + ol, e, sizeof(e));
			ol += sizeof(e);
		}
		memcpy(dns + dl, opts, ol);
		if (ol)
			wire_write16(dns + dl - 2, (uint16_t)ol);
		frame_set_len[1][f] = (uint16_t)fu_frame(frame_set[1][f], false, dns, dl + ol,
							 (uint16_t)(1024 + f % 60000));
	}
}

static uint64_t stat_value(const char *name)
{
	char buf[16384], *p;

	dp_ops.stats(buf, sizeof(buf));
	p = strstr(buf, name);
	return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double mqps, capacity, p50_ns, p99_ns;
	double punted; /* share of the frames the worker punted (misses) */
};

static uint64_t busy_cycles(void)
{
	char buf[8192];
	const char *p;

	dp_ops.stats(buf, sizeof(buf));
	p = strstr(buf, ".busy-cycles ");
	return p ? strtoull(p + 13, NULL, 10) : 0;
}

static struct result run(struct rte_mempool *pool, enum dp_mode mode, double seconds,
			 unsigned max_inflight)
{
	static uint64_t lat[4 << 20];
	uint64_t hz = rte_get_tsc_hz(), start, end, done = 0, punted = 0, nlat = 0, seq = 0;
	struct rte_mbuf *m[BURST];
	unsigned inflight = 0;
	struct result r;

	dp_set_mode(mode);
	usleep(1000);
	uint64_t busy0 = busy_cycles();

	start = rte_rdtsc();
	end = start + (uint64_t)(seconds * hz);
	while (rte_rdtsc() < end) {
		/* top up the pipeline */
		unsigned want = max_inflight - inflight;

		if (want > BURST)
			want = BURST;
		if (want && rte_pktmbuf_alloc_bulk(pool, m, want) == 0) {
			uint64_t now = rte_rdtsc();

			for (unsigned i = 0; i < want; i++) {
				unsigned f = (unsigned)(seq % FRAMES);
				uint8_t *d = (uint8_t *)rte_pktmbuf_append(m[i], frame_len[f]);

				memcpy(d, frames[f], frame_len[f]);
				wire_write16(d + 42, (uint16_t)seq); /* DNS ID: the slot */
				sent_at[seq & 0xffff] = now;
				seq++;
			}
			unsigned q = rte_ring_enqueue_burst(wire_rx, (void **)m, want, NULL);

			if (q < want)
				rte_pktmbuf_free_bulk(m + q, want - q);
			inflight += q;
		}
		unsigned n = rte_ring_dequeue_burst(wire_tx, (void **)m, BURST, NULL);
		uint64_t now = rte_rdtsc();

		for (unsigned i = 0; i < n; i++) {
			uint16_t id = wire_read16(rte_pktmbuf_mtod(m[i], uint8_t *) + 42);

			if (nlat < sizeof(lat) / sizeof(lat[0]))
				lat[nlat++] = now - sent_at[id];
		}
		done += n;
		inflight -= n;
		rte_pktmbuf_free_bulk(m, n);
		n = rte_ring_dequeue_burst(exc_tx, (void **)m, BURST, NULL); /* misses: handled */
		done += n;
		punted += n;
		inflight -= n;
		rte_pktmbuf_free_bulk(m, n);
	}
	double secs = (double)(rte_rdtsc() - start) / hz;
	/* drain */
	for (int i = 0; i < 1000 && inflight; i++) {
		unsigned n = rte_ring_dequeue_burst(wire_tx, (void **)m, BURST, NULL);

		inflight -= n;
		rte_pktmbuf_free_bulk(m, n);
		n = rte_ring_dequeue_burst(exc_tx, (void **)m, BURST, NULL);
		inflight -= n;
		rte_pktmbuf_free_bulk(m, n);
		usleep(100);
	}
	uint64_t busy = busy_cycles() - busy0;

	qsort(lat, nlat, sizeof(lat[0]), cmp_u64);
	r.mqps = done / secs / 1e6;
	r.capacity = busy ? (double)done / ((double)busy / hz) / 1e6 : 0;
	r.p50_ns = nlat ? (double)lat[nlat / 2] * 1e9 / hz : 0;
	r.p99_ns = nlat ? (double)lat[nlat * 99 / 100] * 1e9 / hz : 0;
	r.punted = done ? (double)punted / (double)done : 0;
	return r;
}

static double rss_mib(void)
{
	char line[256];
	double kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atof(line + 6);
	if (f)
		fclose(f);
	return kb / 1024;
}

/* this thread's CPU time: what a publish costs, whatever else runs here */
static double thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int set_responder_answer(struct config *cfg)
{
	uint8_t name[DNAME_MAXLEN], answer[ENTRY_MAX_BYTES];
	uint16_t counts[3];
	struct entry *e = aligned_alloc(64, sizeof(*e));
	int alen = -1;

	dname_from_str("a1.bench.test", name, sizeof(name));
	if (e && engine_build_entry(cfg, name, TYPE_A, e) == 0)
		alen = entry_write(e, 0, 0, answer, sizeof(answer), counts);
	free(e);
	if (alen < 0)
		return -1;
	dp_set_fixed_answer(answer, (size_t)alen);
	return 0;
}

/* Lookup throughput vs table size (issue 20): per round, the minimal
 * responder (no table at all), carousel, and carousel without its own
 * prefetches of frames and entries (rte_hash's bulk lookup still
 * prefetches its buckets). One row per round; last line
 * `dpdk-scale names=N ...` with medians. */
/* Issue 20's "without stalling workers": every entry replaced by a new
 * publisher, on a thread of its own, while the worker serves. */
struct publish_call {
	const struct config *cfg;
	double ms;
	_Atomic bool done;
};

static void *publish_thread(void *arg)
{
	struct publish_call *c = arg;
	struct publisher *p = publish_create(&dp_ops);

	publish_config(p, c->cfg);
	c->ms = publish_last_ms(p);
	c->done = true;
	publish_destroy(p); /* the publisher's keys only: the table keeps the entries */
	return NULL;
}

static int scale_run(struct rte_mempool *pool, struct config *cfg, double seconds,
		     unsigned long long entries, unsigned long long bytes, unsigned long long memory)
{
	enum { S_RESPOND, S_CAROUSEL, S_NOPF, NS };
	static const enum dp_mode modes[NS] = {DP_MODE_RESPOND, DP_MODE_ANSWER,
					       DP_MODE_ANSWER_NO_PREFETCH};
	static const char *const names[NS] = {"minimal responder", "carousel",
					      "carousel, no prefetch"};
	double cap[NS][ROUNDS], pf_gain[ROUNDS], resp_ratio[ROUNDS];
	struct rte_malloc_socket_stats ms;

	if (set_responder_answer(cfg) < 0)
		return 1;
	rte_malloc_get_socket_stats((int)rte_socket_id(), &ms);
	printf("| names | round | mode | worker capacity Mqps |\n|---|---|---|---|\n");
	for (int round = 0; round < ROUNDS; round++) {
		for (int k = 0; k < NS; k++) {
			cap[k][round] = run(pool, modes[k], seconds, INFLIGHT).capacity;
			printf("| %d | %d | %s | %.2f |\n", NAMES, round + 1, names[k],
			       cap[k][round]);
		}
		pf_gain[round] = cap[S_CAROUSEL][round] / cap[S_NOPF][round];
		resp_ratio[round] = cap[S_CAROUSEL][round] / cap[S_RESPOND][round];
	}
	for (int k = 0; k < NS; k++)
		qsort(cap[k], ROUNDS, sizeof(double), cmp_double);
	qsort(pf_gain, ROUNDS, sizeof(double), cmp_double);
	qsort(resp_ratio, ROUNDS, sizeof(double), cmp_double);
	printf("carousel: min %.2f median %.2f max %.2f Mqps per lcore; prefetch gain min %.2f "
	       "median %.2f max %.2f\n",
	       cap[S_CAROUSEL][0], cap[S_CAROUSEL][1], cap[S_CAROUSEL][2], pf_gain[0], pf_gain[1],
	       pf_gain[2]);
	/* the same worker, first alone, then while a publish replaces every
	 * entry; its capacity (frames per busy second) and the share it
	 * punts (misses: 10 % of the mix) must not move */
	double window = NAMES >= 1000000 ? 6 : NAMES >= 100000 ? 2 : 1;
	struct result alone = run(pool, DP_MODE_ANSWER, window, INFLIGHT);
	struct publish_call pc = {.cfg = cfg};
	pthread_t t;

	if (pthread_create(&t, NULL, publish_thread, &pc) != 0)
		return 1;
	struct result during = run(pool, DP_MODE_ANSWER, window, INFLIGHT);
	bool in_window = pc.done; /* read before the join, which waits for it */

	pthread_join(t, NULL);
	printf("\n| names | worker | capacity Mqps | punted | publish |\n|---|---|---|---|---|\n"
	       "| %d | serving alone | %.2f | %.2f %% | — |\n"
	       "| %d | while every entry is replaced | %.2f | %.2f %% | %.0f ms%s |\n\n",
	       NAMES, alone.capacity, 100 * alone.punted, NAMES, during.capacity,
	       100 * during.punted, pc.ms, in_window ? "" : " (not done in the window)");
	dp_ops.stop();
	printf("dpdk-publish-under-load names=%d alone_mqps=%.2f during_mqps=%.2f ratio=%.2f "
	       "alone_punted=%.4f during_punted=%.4f publish_ms=%.0f\n",
	       NAMES, alone.capacity, during.capacity,
	       alone.capacity ? during.capacity / alone.capacity : 0, alone.punted, during.punted,
	       pc.ms);
	printf("dpdk-scale names=%d entries=%llu frames=%u mqps=%.2f noprefetch_mqps=%.2f "
	       "responder_mqps=%.2f responder_ratio=%.2f prefetch_gain=%.2f entry_mib=%.1f "
	       "bytes_per_entry=%.0f entry_memory_mib=%.1f dpdk_heap_mib=%.1f rss_mib=%.0f\n",
	       NAMES, entries, FRAMES, cap[S_CAROUSEL][1], cap[S_NOPF][1], cap[S_RESPOND][1],
	       resp_ratio[1], pf_gain[1], (double)bytes / (1 << 20),
	       entries ? (double)bytes / entries : 0, (double)memory / (1 << 20),
	       (double)ms.heap_allocsz_bytes / (1 << 20), rss_mib());
	return 0;
}

int main(int argc, char **argv)
{
	char mem[16];
	char *eal[] = {"dp_bench", "-l", "0-1", "--no-huge", "--no-pci", "-m", mem,
		       "--no-shconf", "--log-level=*:error", NULL};
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	bool scale = argc > 3 && strcmp(argv[3], "scale") == 0;
	const char *config_path = argc > 4 && strcmp(argv[3], "publish") == 0 ? argv[4] : NULL;

	if (argc > 2)
		NAMES = atoi(argv[2]) < 2 ? 2 : atoi(argv[2]);
	/* the table (rte_hash: keys, buckets) lives in DPDK's heap */
	snprintf(mem, sizeof(mem), "%d", config_path ? 1024 : 512 + NAMES / 1000);
	/* a frame per name at least, so a large table is walked, not a
	 * 64 k sample of it that would fit the caches */
	while (FRAMES < (unsigned)NAMES && FRAMES < FRAMES_MAX)
		FRAMES *= 2;
	for (int i = 0; i < 2; i++) {
		frame_set[i] = malloc((size_t)FRAMES * sizeof(*frame_set[i]));
		frame_set_len[i] = malloc((size_t)FRAMES * sizeof(*frame_set_len[i]));
		if (!frame_set[i] || !frame_set_len[i])
			return 1;
	}
	frames = frame_set[0];
	frame_len = frame_set_len[0];
	char dir[] = "/tmp/carousel-dpbench-XXXXXX";

	if (rte_eal_init(9, eal) < 0 || rte_lcore_count() < 2) {
		printf("SKIP: EAL with 2 lcores is needed\n");
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	char err[CFG_ERR_LEN];
	struct config *cfg = config_path ? config_load(config_path, err, sizeof(err))
					 : make_config(dir);

	if (!cfg) {
		if (config_path)
			fprintf(stderr, "%s\n", err);
		return 1;
	}
	static struct ring_ports rp;

	if (ring_ports_create(&rp, 4096) < 0)
		return 1;
	wire_rx = rp.wire_rx;
	wire_tx = rp.wire_tx;
	exc_tx = rp.exc_tx;
	cfg->dp = (struct fp_config){.port = rp.wire, .exception = rp.exc, .burst = BURST,
				     .max_entries = cfg->dp.max_entries,
				     .mbufs = 16383};
	fu_dp_addresses(cfg);
	if (dp_setup(&cfg->dp) < 0)
		return 1;
	struct publisher *pub = publish_create(&dp_ops);
	double cpu0 = thread_cpu_ms();

	publish_config(pub, cfg);
	double cpu_ms = thread_cpu_ms() - cpu0;
	/* what the table holds, and what publishing it took */
	char st[65536], *p;
	double ms = publish_last_ms(pub);
	unsigned long long entries = 0, bytes = 0, vbytes = 0, memory = 0;

	size_t names = 0;

	for (unsigned i = 0; i < cfg->npools; i++)
		names += 1 + (size_t)cfg->pools[i]->naliases;
	dp_ops.stats(st, sizeof(st));
	if ((p = strstr(st, "dpdk.entries ")))
		entries = strtoull(p + 13, NULL, 10);
	if ((p = strstr(st, "dpdk.entry-bytes ")))
		bytes = strtoull(p + 17, NULL, 10);
	if ((p = strstr(st, "dpdk.variant-bytes ")))
		vbytes = strtoull(p + 19, NULL, 10);
	if ((p = strstr(st, "dpdk.entry-memory ")))
		memory = strtoull(p + 18, NULL, 10);
	printf("published %zu names (%llu entries, A and AAAA) in %.0f ms (%.0f ms CPU); per entry "
	       "%.0f bytes, of which %.0f beyond the answer variants\n",
	       names, entries, ms, cpu_ms, entries ? (double)bytes / entries : 0,
	       entries ? (double)(bytes - vbytes) / entries : 0);
	/* a reload that changes nothing, then every entry replaced (a new
	 * publisher knows nothing of what the table holds) */
	cpu0 = thread_cpu_ms();
	publish_config(pub, cfg);
	cpu_ms = thread_cpu_ms() - cpu0;
	double unchanged_ms = publish_last_ms(pub);

	printf("republished unchanged in %.0f ms (%.0f ms CPU)", unchanged_ms, cpu_ms);
	struct publisher *fresh = publish_create(&dp_ops);

	cpu0 = thread_cpu_ms();
	publish_config(fresh, cfg);
	cpu_ms = thread_cpu_ms() - cpu0;
	double replaced_ms = publish_last_ms(fresh);

	printf("; every entry replaced in %.0f ms (%.0f ms CPU)\n\n", replaced_ms, cpu_ms);
	publish_destroy(fresh);
	if (config_path) {
		printf("dpdk-publish names=%zu entries=%llu first_ms=%.0f unchanged_ms=%.0f "
		       "replaced_ms=%.0f bytes_per_entry=%.0f entry_memory_mib=%.0f\n",
		       names, entries, ms, unchanged_ms, replaced_ms,
		       entries ? (double)bytes / entries : 0, (double)memory / (1 << 20));
		dp_ops.stop();
		publish_destroy(pub);
		config_free(cfg);
		rmdir(dir);
		return 0;
	}
	make_frames();
	if (dp_launch() < 0)
		return 1;
	struct rte_mempool *pool = rte_mempool_lookup("carousel_mbufs");

	if (scale) {
		int rc = scale_run(pool, cfg, seconds, entries, bytes, memory);

		snprintf(st, sizeof(st), "rm -rf %s", dir);
		return system(st) != 0 ? 1 : rc;
	}
	/* the responder's answer: carousel's for an alias, as long as most */
	uint8_t name[DNAME_MAXLEN], answer[ENTRY_MAX_BYTES];
	uint16_t counts[3];
	struct entry *e = aligned_alloc(64, sizeof(*e));

	dname_from_str("a100.bench.test", name, sizeof(name));
	if (!e || engine_build_entry(cfg, name, TYPE_A, e) < 0)
		return 1;
	int alen = entry_write(e, 0, 0, answer, sizeof(answer), counts);

	if (alen < 0)
		return 1;
	dp_set_fixed_answer(answer, (size_t)alen);
	free(e);

	enum { MODE_REFLECT, MODE_RESPOND, MODE_CAROUSEL, NMODES };
	static const enum dp_mode modes[NMODES] = {DP_MODE_REFLECT, DP_MODE_RESPOND,
						   DP_MODE_ANSWER};
	static const char *const mode_names[NMODES] = {"reflector", "minimal responder",
						       "carousel"};
	struct result res[ROUNDS][NMODES];

	/* throughput with a deep pipeline; latency with one burst in flight
	 * (a deep queue would only measure its own length) */
	for (int round = 0; round < ROUNDS; round++)
		for (int k = 0; k < NMODES; k++) {
			struct result r;

			res[round][k] = run(pool, modes[k], seconds, INFLIGHT);
			r = run(pool, modes[k], seconds / 2, BURST);
			res[round][k].p50_ns = r.p50_ns;
			res[round][k].p99_ns = r.p99_ns;
		}
	printf("| round | mode | delivered Mqps | worker capacity Mqps | p50 µs | p99 µs (one burst "
	       "in flight) |\n|---|---|---|---|---|---|\n");
	for (int round = 0; round < ROUNDS; round++)
		for (int k = 0; k < NMODES; k++)
			printf("| %d | %s | %.2f | %.2f | %.1f | %.1f |\n", round + 1, mode_names[k],
			       res[round][k].mqps, res[round][k].capacity, res[round][k].p50_ns / 1e3,
			       res[round][k].p99_ns / 1e3);
	/* per round ratios (the machine drifts between rounds), then medians */
	double ratio_resp[ROUNDS], ratio_refl[ROUNDS], p99_add[ROUNDS];
	struct {
		double cap[NMODES];
	} med;

	for (int k = 0; k < NMODES; k++) {
		double v[ROUNDS];

		for (int round = 0; round < ROUNDS; round++)
			v[round] = res[round][k].capacity;
		qsort(v, ROUNDS, sizeof(v[0]), cmp_double);
		med.cap[k] = v[ROUNDS / 2];
		printf("%s: worker capacity min %.2f median %.2f max %.2f Mqps per lcore\n",
		       mode_names[k], v[0], v[ROUNDS / 2], v[ROUNDS - 1]);
	}
	for (int round = 0; round < ROUNDS; round++) {
		ratio_resp[round] = res[round][MODE_CAROUSEL].capacity /
				    res[round][MODE_RESPOND].capacity;
		ratio_refl[round] = res[round][MODE_CAROUSEL].capacity /
				    res[round][MODE_REFLECT].capacity;
		p99_add[round] = (res[round][MODE_CAROUSEL].p99_ns -
				  res[round][MODE_REFLECT].p99_ns) / 1e3;
	}
	qsort(ratio_resp, ROUNDS, sizeof(double), cmp_double);
	qsort(ratio_refl, ROUNDS, sizeof(double), cmp_double);
	qsort(p99_add, ROUNDS, sizeof(double), cmp_double);
	printf("carousel / minimal responder: min %.2f median %.2f max %.2f\n", ratio_resp[0],
	       ratio_resp[ROUNDS / 2], ratio_resp[ROUNDS - 1]);
	printf("carousel / reflector: min %.2f median %.2f max %.2f\n", ratio_refl[0],
	       ratio_refl[ROUNDS / 2], ratio_refl[ROUNDS - 1]);
	printf("added p99 latency vs reflector: min %+.1f median %+.1f max %+.1f µs\n", p99_add[0],
	       p99_add[ROUNDS / 2], p99_add[ROUNDS - 1]);
	double added_p99 = p99_add[ROUNDS / 2];

	/* the resolver-like mix against the plain set, carousel only, in turn */
	double mix_ratio[ROUNDS];
	uint64_t ans0 = stat_value("dpdk.answered "), rx0 = stat_value("dpdk.rx ");
	uint64_t miss0 = stat_value("dpdk.punted.miss ");

	dp_ops.cookies(&(struct fp_cookies){.enable = true,
					    .secret = {42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
						       13, 14, 15}});
	printf("\n| round | queries | worker capacity Mqps |\n|---|---|---|\n");
	for (int round = 0; round < ROUNDS; round++) {
		frames = frame_set[0];
		frame_len = frame_set_len[0];
		struct result plain = run(pool, DP_MODE_ANSWER, seconds, INFLIGHT);

		frames = frame_set[1];
		frame_len = frame_set_len[1];
		if (round == 0) {
			ans0 = stat_value("dpdk.answered ");
			rx0 = stat_value("dpdk.rx ");
			miss0 = stat_value("dpdk.punted.miss ");
		}
		struct result mix = run(pool, DP_MODE_ANSWER, seconds, INFLIGHT);

		mix_ratio[round] = mix.capacity / plain.capacity;
		printf("| %d | plain | %.2f |\n| %d | resolver mix | %.2f |\n", round + 1,
		       plain.capacity, round + 1, mix.capacity);
	}
	/* of the mix's queries for names the table holds, the fast path's share
	 * (the plain runs in between are all answered or missed too) */
	uint64_t held = stat_value("dpdk.rx ") - rx0 - (stat_value("dpdk.punted.miss ") - miss0);
	double share = held ? (double)(stat_value("dpdk.answered ") - ans0) / (double)held : 0;

	qsort(mix_ratio, ROUNDS, sizeof(double), cmp_double);
	printf("resolver mix / plain: min %.2f median %.2f max %.2f; answered on the fast path: "
	       "%.1f %% of queries for held names (cookies %llu, ECS %llu)\n",
	       mix_ratio[0], mix_ratio[ROUNDS / 2], mix_ratio[ROUNDS - 1], 100 * share,
	       (unsigned long long)stat_value("dpdk.answered.cookie "),
	       (unsigned long long)stat_value("dpdk.answered.ecs "));

	/* the ratios' medians are what the last line reports */
	med.cap[MODE_RESPOND] = med.cap[MODE_CAROUSEL] / ratio_resp[ROUNDS / 2];
	med.cap[MODE_REFLECT] = med.cap[MODE_CAROUSEL] / ratio_refl[ROUNDS / 2];
	dp_ops.stop();
	publish_destroy(pub);
	config_free(cfg);
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	printf("dpdk mqps=%.2f responder_ratio=%.2f reflector_ratio=%.2f p99_us=%.1f "
	       "mix_ratio=%.2f mix_fastpath=%.3f\n",
	       med.cap[MODE_CAROUSEL], med.cap[MODE_CAROUSEL] / med.cap[MODE_RESPOND],
	       med.cap[MODE_CAROUSEL] / med.cap[MODE_REFLECT], added_p99, mix_ratio[ROUNDS / 2],
	       share);
	return 0;
}

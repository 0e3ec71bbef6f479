/* xdp_bench.c -- the XDP program against two baselines run by the kernel
 * on the same query frames, in turn, three rounds, in one run: a
 * reflector (MAC, IPv4, port swap: bpf/xdp_reflect.bpf.c) and a minimal
 * responder (reads the question, writes a fixed answer as long as
 * carousel's, both checksums over every byte: bpf/xdp_respond.bpf.c).
 *
 * Every run starts from a fresh copy of the query (bpf_prog_test_run_opts
 * with repeat 1 copies it in; a repeated run would answer its own answer)
 * and every output is checked: carousel's equals one of the socket path's
 * answers for that query, the reflector's the swapped query, the
 * responder's has valid checksums. Time comes from the kernel's own BPF
 * statistics (run_time_ns / run_cnt with kernel.bpf_stats_enabled), less
 * the floor that accounting costs (an XDP_PASS program's time, measured
 * alike). Then the resolver-like mix (issue 13: 50 % with a client or
 * full cookie, 10 % with ECS, 30 % DO=1, the rest plain, cookies on)
 * against the plain frames, carousel only, in turn: every mix reply must
 * be an answer (XDP_TX, checksums valid, the query's ID) or a pass.
 * Last line: `xdp ns=N responder_ratio=R reflector_ratio=F mix_ratio=X
 * mix_fastpath=S` (medians; a ratio is the baseline's ns over carousel's;
 * mix_ratio is plain ns over mix ns; mix_fastpath the share of the mix
 * the program answered itself).
 *
 *   xdp_bench BUILD publish CONFIG
 *
 * instead times CONFIG's publish into the maps (first, unchanged, every
 * entry replaced by a new publisher) and the kernel memory the entries
 * take (the Slab line of /proc/meminfo before and after), and prints
 * `xdp-publish names=N entries=E first_ms=… unchanged_ms=… replaced_ms=…
 * slab_mib=…`.
 *
 *   xdp_bench BUILD htab N
 *
 * times the kernel's side of a publish alone: N new elements of the small
 * class's size into a bare BPF_F_NO_PREALLOC hash map (as the entry maps
 * are made), then the same N replaced, then N new into a preallocated map,
 * in batches as the loader writes them: `xdp-htab value=B n=N insert_us=…
 * replace_us=… prealloc_insert_us=…` (per element). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../unit/frame_util.h"
#include "carousel_xdp.h"
#include "cookie.h"
#include "engine.h"
#include "publish.h"
#include "xdp.h"

#define RUNS 100000
#define ROUNDS 3
#define NFRAMES 8
#define NMIX 20 /* one cycle of the resolver-like mix */
#define MIX_RUNS 20000

enum { P_PASS, P_REFLECT, P_RESPOND, P_CAROUSEL, NPROGS };
static const char *const prog_names[NPROGS] = {"pass (floor)", "reflector",
					       "minimal responder", "carousel"};

struct frame {
	uint8_t bytes[2048];
	size_t len;
	char label[64];
	/* carousel's expected replies: one per rotation step */
	uint8_t expect[64][1024];
	size_t expect_len[64];
	unsigned nexpect;
};

static struct frame frames[NFRAMES];
static struct frame mix[NMIX];
static const uint8_t bench_secret[16] = {42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static uint64_t mix_answered, mix_sent;

static int prog_stats(int fd, uint64_t *ns, uint64_t *cnt)
{
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
		return -1;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return 0;
}

static bool expected(const struct frame *f, const uint8_t *out, size_t len)
{
	for (unsigned i = 0; i < f->nexpect; i++)
		if (f->expect_len[i] == len && memcmp(f->expect[i], out, len) == 0)
			return true;
	return false;
}

/* RUNS fresh runs of fd on frame f, every output checked. ns per run, or
 * -1 on a wrong answer. */
static double run_n(int fd, int which, const struct frame *f, int runs);

static double run(int fd, int which, const struct frame *f)
{
	return run_n(fd, which, f, RUNS);
}

/* The mix: an answer with valid checksums and the query's ID; a pass is
 * counted (the program's share), anything else is an error. */
static bool mix_ok(const struct frame *f, const uint8_t *out, size_t len, unsigned action)
{
	mix_sent++;
	if (action == XDP_PASS)
		return true;
	mix_answered++;
	return action == XDP_TX && len > 42 + 12 && fu_checksums_ok(out, len) &&
	       memcmp(out + 42, f->bytes + 42, 2) == 0 && (out[44] & 0x80);
}

static double run_n(int fd, int which, const struct frame *f, int runs)
{
	uint8_t out[2048], want[2048];
	uint64_t ns0, c0, ns1, c1;

	memcpy(want, f->bytes, f->len);
	frame_reflect(want, &(struct frame_query){.l3_off = 14, .l4_off = 34});
	if (prog_stats(fd, &ns0, &c0) != 0)
		return -1;
	for (int i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->bytes,
			    .data_size_in = (uint32_t)f->len, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);
		if (bpf_prog_test_run_opts(fd, &o) != 0)
			return -1;
		bool ok = which == P_PASS	   ? o.retval == XDP_PASS
			  : which == P_REFLECT ? o.retval == XDP_TX && o.data_size_out == f->len &&
						     memcmp(out, want, f->len) == 0
			  : which == P_RESPOND ? o.retval == XDP_TX &&
						     fu_checksums_ok(out, o.data_size_out)
			  : which == NPROGS ? mix_ok(f, out, o.data_size_out, o.retval)
					    : o.retval == XDP_TX &&
						     expected(f, out, o.data_size_out);

		if (!ok) {
			fprintf(stderr, "%s on %s: unexpected output (action %u, %u bytes)\n",
				which < NPROGS ? prog_names[which] : "carousel (mix)", f->label, o.retval, o.data_size_out);
			return -1;
		}
	}
	if (prog_stats(fd, &ns1, &c1) != 0 || c1 == c0)
		return -1;
	return (double)(ns1 - ns0) / (double)(c1 - c0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int load(const char *path, const char *prog, struct bpf_object **obj,
		const uint8_t *answer, uint32_t alen)
{
	*obj = bpf_object__open_file(path, NULL);
	if (!*obj)
		return -1;
	if (answer) {
		struct bpf_map *rodata = NULL, *m;

		bpf_object__for_each_map(m, *obj)
			if (strstr(bpf_map__name(m), ".rodata"))
				rodata = m;
		if (!rodata || bpf_map__set_initial_value(rodata, &alen, sizeof(alen)) != 0)
			return -1;
	}
	if (bpf_object__load(*obj) != 0)
		return -1;
	if (answer) {
		uint8_t blob[512] = {0};
		uint32_t zero = 0;

		memcpy(blob, answer, alen);
		if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(*obj, "answer"), &zero, blob,
					0) != 0)
			return -1;
	}
	return bpf_program__fd(bpf_object__find_program_by_name(*obj, prog));
}

/* Kernel slab memory now, in KiB (/proc/meminfo). */
static long slab_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* xdp_bench BUILD publish CONFIG: issue 20's publish of a large config. */
static int publish_run(const char *path)
{
	char err[CFG_ERR_LEN], st[1024];
	struct config *cfg = config_load(path, err, sizeof(err));

	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	size_t names = 0;

	for (unsigned i = 0; i < cfg->npools; i++)
		names += 1 + (size_t)cfg->pools[i]->naliases;
	fu_dp_addresses(cfg);
	if (xdp_init(&cfg->dp, false) < 0)
		return 1;
	long slab0 = slab_kib();
	struct publisher *pub = publish_create(&xdp_ops), *fresh;

	publish_config(pub, cfg);
	double first = publish_last_ms(pub);
	long slab1 = slab_kib();

	publish_status(pub, st, sizeof(st));
	unsigned long long entries = strtoull(strstr(st, "entries-published ") + 18, NULL, 10);

	publish_config(pub, cfg);
	double unchanged = publish_last_ms(pub);

	fresh = publish_create(&xdp_ops);
	publish_config(fresh, cfg);
	double replaced = publish_last_ms(fresh);

	xdp_ops.status(st, sizeof(st));
	printf("%s", st);
	printf("xdp-publish names=%zu entries=%llu first_ms=%.0f unchanged_ms=%.0f "
	       "replaced_ms=%.0f slab_mib=%.0f\n",
	       names, entries, first, unchanged, replaced, (double)(slab1 - slab0) / 1024);
	publish_destroy(fresh);
	publish_destroy(pub);
	xdp_ops.stop();
	config_free(cfg);
	return 0;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* us per element to write n keys (new or replaced) into fd, a batch at a
 * time as xdp_publish_batch does. */
static double htab_pass(int fd, const uint8_t *values, unsigned n)
{
	uint64_t keys[FP_BATCH_MAX];
	double t0 = now_ms();

	for (unsigned i = 0; i < n; i += FP_BATCH_MAX) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
		__u32 count = FP_BATCH_MAX;

		for (unsigned k = 0; k < FP_BATCH_MAX; k++)
			keys[k] = (uint64_t)(i + k + 1) * 0x9e3779b97f4a7c15ULL;
		if (bpf_map_update_batch(fd, keys, values, &count, &opts) != 0) {
			fprintf(stderr, "map update: %s\n", strerror(errno));
			return -1;
		}
	}
	return (now_ms() - t0) * 1000 / n;
}

/* xdp_bench BUILD htab N: the kernel's cost of an element, alone. */
static int htab_run(unsigned n)
{
	size_t vs = sizeof(struct xdp_small);
	uint8_t *values = calloc(FP_BATCH_MAX, vs);
	LIBBPF_OPTS(bpf_map_create_opts, lazy, .map_flags = BPF_F_NO_PREALLOC);
	LIBBPF_OPTS(bpf_map_create_opts, pre);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_lazy", 8, (__u32)vs, 2 * n, &lazy);
	int pfd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_pre", 8, (__u32)vs, n, &pre);

	n -= n % FP_BATCH_MAX;
	if (!values || fd < 0 || pfd < 0 || !n) {
		fprintf(stderr, "cannot create the maps: %s\n", strerror(errno));
		return 1;
	}
	memset(values, 0x5a, FP_BATCH_MAX * vs);
	double insert = htab_pass(fd, values, n), replace = htab_pass(fd, values, n);
	double prealloc = htab_pass(pfd, values, n);

	printf("xdp-htab value=%zu n=%u insert_us=%.2f replace_us=%.2f prealloc_insert_us=%.2f\n",
	       vs, n, insert, replace, prealloc);
	close(fd);
	close(pfd);
	free(values);
	return insert < 0 || replace < 0 || prealloc < 0;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"www.example.test", "shop.example.test",
					    "web.example.test", "app.example.test"};
	const char *dir = argc > 1 ? argv[1] : "build";
	char path[3][512];

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	if (argc > 3 && strcmp(argv[2], "publish") == 0)
		return publish_run(argv[3]);
	if (argc > 3 && strcmp(argv[2], "htab") == 0)
		return htab_run((unsigned)strtoul(argv[3], NULL, 10));
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (stats_fd < 0) {
		printf("SKIP: BPF run-time statistics cannot be enabled here\n");
		return 77;
	}
	struct config *cfg = fu_load_bundled(), *ref = fu_load_bundled();

	if (!cfg || !ref)
		return 1;
	fu_dp_addresses(cfg);
	if (xdp_init(&cfg->dp, false) < 0)
		return 1;
	struct publisher *pub = publish_create(&xdp_ops);

	publish_config(pub, cfg);
	/* the frames, and what the fast path must answer to each at every
	 * rotation step: frame_respond's replies, which the unit tests hold to
	 * the socket path's byte for byte */
	struct frame_addrs addrs = fu_addrs();

	for (unsigned i = 0; i < NFRAMES; i++) {
		struct frame *f = &frames[i];
		uint8_t dns[512], n[DNAME_MAXLEN];
		int edns = i & 1 ? 1232 : 0;
		size_t dl = fu_dns_query(dns, 7, names[i / 2], TYPE_A, edns, false);
		struct entry *e = aligned_alloc(64, sizeof(*e));

		f->len = fu_frame(f->bytes, false, dns, dl, 40000);
		snprintf(f->label, sizeof(f->label), "%s A%s", names[i / 2], edns ? " +EDNS" : "");
		dname_from_str(names[i / 2], n, sizeof(n));
		if (!e || engine_build_entry(cfg, n, TYPE_A, e) < 0)
			return 1;
		for (unsigned step = 0; step < (e->sched_len ? e->sched_len : 1u); step++) {
			uint8_t w[2048];
			struct frame_query q;

			memcpy(w, f->bytes, f->len);
			if (frame_parse(w, f->len, &addrs, &q) != FRAME_HIT)
				return 1;
			int len = frame_respond(w, sizeof(w), &q, e, step, 0);

			if (len < 0 || (size_t)len > sizeof(f->expect[0]) || f->nexpect == 64)
				return 1;
			memcpy(f->expect[f->nexpect], w, (size_t)len);
			f->expect_len[f->nexpect++] = (size_t)len;
		}
		free(e);
	}
	/* the resolver-like mix, by position in a cycle of 20 (as dp_bench):
	 * 0-4 a client cookie, 5-9 a valid server cookie too, 10-11 ECS, and
	 * DO=1 at 0-2 and 10-12 (30 %); cookies on with the bench's secret */
	struct fp_cookies ck = {.enable = true};

	memcpy(ck.secret, bench_secret, 16);
	xdp_ops.cookies(&ck);
	for (unsigned k = 0; k < NMIX; k++) {
		static const uint8_t client[8] = {1, 2, 3, 4, 5, 6, 7, 8};
		static const uint8_t ecs[] = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
		struct frame *f = &mix[k];
		bool cookie = k < 10, with_ecs = k >= 10 && k < 12, dok = k % 10 < 3;
		uint8_t dns[512], opts[64];
		size_t ol = 0, dl = fu_dns_query(dns, (uint16_t)(0x500 + k), names[k % 4], TYPE_A,
						  cookie || with_ecs || dok ? 1232 : 0, dok);

		if (cookie) {
			wire_write16(opts, 10);
			wire_write16(opts + 2, k < 5 ? 8 : 24);
			memcpy(opts + 4, client, 8);
			if (k >= 5)
				cookie_make(bench_secret, client, fu_client_ip4, 4,
					    (uint32_t)time(NULL), opts + 12);
			ol = k < 5 ? 12 : 28;
		}
		if (with_ecs) {
			memcpy(opts + ol, ecs, sizeof(ecs));
			ol += sizeof(ecs);
		}
		memcpy(dns + dl, opts, ol);
		if (ol)
			wire_write16(dns + dl - 2, (uint16_t)ol);
		f->len = fu_frame(f->bytes, false, dns, dl + ol, (uint16_t)(40000 + k));
		snprintf(f->label, sizeof(f->label), "mix %u %s", k, names[k % 4]);
	}
	/* the responder answers with carousel's bytes for the first name */
	uint8_t name[DNAME_MAXLEN], answer[ENTRY_MAX_BYTES];
	uint16_t counts[3];
	struct entry *e = aligned_alloc(64, sizeof(*e));

	dname_from_str(names[0], name, sizeof(name));
	if (!e || engine_build_entry(cfg, name, TYPE_A, e) < 0)
		return 1;
	int alen = entry_write(e, 0, 0, answer, sizeof(answer), counts);

	free(e);
	struct bpf_object *objs[3];
	int fds[NPROGS];

	snprintf(path[0], sizeof(path[0]), "%s/xdp_pass.bpf.o", dir);
	snprintf(path[1], sizeof(path[1]), "%s/xdp_reflect.bpf.o", dir);
	snprintf(path[2], sizeof(path[2]), "%s/xdp_respond.bpf.o", dir);
	fds[P_PASS] = load(path[0], "xdp_pass", &objs[0], NULL, 0);
	fds[P_REFLECT] = load(path[1], "xdp_reflect", &objs[1], NULL, 0);
	fds[P_RESPOND] = load(path[2], "xdp_respond", &objs[2], answer, (uint32_t)alen);
	fds[P_CAROUSEL] = xdp_prog_fd();
	for (int p = 0; p < NPROGS; p++)
		if (fds[p] < 0) {
			fprintf(stderr, "cannot load %s\n", prog_names[p]);
			return 1;
		}
	double ns[ROUNDS][NPROGS];

	for (int round = 0; round < ROUNDS; round++)
		for (int p = 0; p < NPROGS; p++) {
			double total = 0;

			for (unsigned i = 0; i < NFRAMES; i++) {
				double t = run(fds[p], p, &frames[i]);

				if (t < 0)
					return 1;
				total += t;
			}
			ns[round][p] = total / NFRAMES;
		}
	/* the mix against the plain frames, carousel only, in turn */
	double mix_ratio[ROUNDS];

	for (int round = 0; round < ROUNDS; round++) {
		double plain = 0, mixed = 0, floor = 0;

		for (unsigned i = 0; i < NMIX; i++) {
			double tp = run_n(fds[P_CAROUSEL], P_CAROUSEL, &frames[i % NFRAMES], MIX_RUNS);
			double tm = run_n(fds[P_CAROUSEL], NPROGS, &mix[i], MIX_RUNS);
			double tf = run_n(fds[P_PASS], P_PASS, &mix[i], MIX_RUNS);

			if (tp < 0 || tm < 0 || tf < 0)
				return 1;
			plain += tp;
			mixed += tm;
			floor += tf;
		}
		mix_ratio[round] = (plain - floor) / (mixed - floor);
		printf("| %d | resolver mix | %.0f ns | plain %.0f ns | ratio %.2f |\n", round + 1,
		       (mixed - floor) / NMIX, (plain - floor) / NMIX, mix_ratio[round]);
	}
	qsort(mix_ratio, ROUNDS, sizeof(double), cmp_double);
	double share = mix_sent ? (double)mix_answered / (double)mix_sent : 0;

	printf("resolver mix / plain: min %.2f median %.2f max %.2f; answered by the program: "
	       "%.1f %%\n",
	       mix_ratio[0], mix_ratio[ROUNDS / 2], mix_ratio[ROUNDS - 1], 100 * share);
	printf("| round | pass (floor) ns | reflector ns | minimal responder ns | carousel ns |\n"
	       "|---|---|---|---|---|\n");
	for (int round = 0; round < ROUNDS; round++)
		printf("| %d | %.0f | %.0f | %.0f | %.0f |\n", round + 1, ns[round][P_PASS],
		       ns[round][P_REFLECT], ns[round][P_RESPOND], ns[round][P_CAROUSEL]);
	double net[NPROGS][ROUNDS], r_resp[ROUNDS], r_refl[ROUNDS];

	for (int round = 0; round < ROUNDS; round++) {
		for (int p = 1; p < NPROGS; p++)
			net[p][round] = ns[round][p] - ns[round][P_PASS];
		r_resp[round] = net[P_RESPOND][round] / net[P_CAROUSEL][round];
		r_refl[round] = net[P_REFLECT][round] / net[P_CAROUSEL][round];
	}
	for (int p = 1; p < NPROGS; p++) {
		qsort(net[p], ROUNDS, sizeof(double), cmp_double);
		printf("%s: min %.0f median %.0f max %.0f ns per frame above the floor\n",
		       prog_names[p], net[p][0], net[p][ROUNDS / 2], net[p][ROUNDS - 1]);
	}
	qsort(r_resp, ROUNDS, sizeof(double), cmp_double);
	qsort(r_refl, ROUNDS, sizeof(double), cmp_double);
	printf("minimal responder / carousel: min %.2f median %.2f max %.2f\n", r_resp[0],
	       r_resp[ROUNDS / 2], r_resp[ROUNDS - 1]);
	printf("reflector / carousel: min %.2f median %.2f max %.2f\n", r_refl[0],
	       r_refl[ROUNDS / 2], r_refl[ROUNDS - 1]);
	printf("every run started from the query and was checked: %d runs per program\n",
	       ROUNDS * NFRAMES * RUNS);
	printf("xdp ns=%.0f responder_ratio=%.2f reflector_ratio=%.2f mix_ratio=%.2f "
	       "mix_fastpath=%.3f\n",
	       net[P_CAROUSEL][ROUNDS / 2], r_resp[ROUNDS / 2], r_refl[ROUNDS / 2],
	       mix_ratio[ROUNDS / 2], share);
	for (int i = 0; i < 3; i++)
		bpf_object__close(objs[i]);
	close(stats_fd);
	xdp_ops.stop();
	publish_destroy(pub);
	config_free(cfg);
	config_free(ref);
	return 0;
}

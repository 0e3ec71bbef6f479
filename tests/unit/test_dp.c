/* test_dp.c -- the DPDK lcore loop on net_ring ports: crafted frames in,
 * replies out, compared with carouseld's socket answers; punts reach the
 * exception port untouched, the kernel's frames reach the wire; and a
 * publisher replacing an entry 100 000 times while the worker answers
 * never shows a torn answer (ASan: no use-after-free). Needs 2 lcores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp.h"
#include "engine.h"
#include "frame_util.h"
#include "publish.h"
#include "ring_ports.h"
#include "socket_answer.h"

static struct config *cfg;
static struct rte_ring *wire_rx, *wire_tx, *exc_rx, *exc_tx;
static struct rte_mempool *pool;

static struct rte_mbuf *mbuf_of(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), f, len);
	return m;
}

/* Wait for one frame on a ring: bounded by tries, not by a clock (the
 * worker lcore answers within a few bursts). */
static struct rte_mbuf *take(struct rte_ring *r)
{
	void *m = NULL;

	for (long i = 0; i < 100000000L && rte_ring_dequeue(r, &m) != 0; i++)
		sched_yield();
	return m;
}

static void test_answers_match_socket(void **state)
{
	struct config *ref = fu_load_bundled();

	(void)state;
	for (int i = 0; i < 6; i++) {
		uint8_t dns[512], f[2048];
		bool v6 = i & 1;
		size_t dl = fu_dns_query(dns, (uint16_t)(77 + i), "Shop.example.test", TYPE_A,
					 i % 3 ? 1232 : 0, false);
		size_t fl = fu_frame(f, v6, dns, dl, (uint16_t)(30000 + i));

		assert_int_equal(rte_ring_enqueue(wire_rx, mbuf_of(f, fl)), 0);
		struct rte_mbuf *m = take(wire_tx);

		assert_non_null(m);
		fu_assert_socket_answer(ref, NULL, dns, dl, rte_pktmbuf_mtod(m, const uint8_t *),
					rte_pktmbuf_data_len(m), (uint16_t)(30000 + i));
		rte_pktmbuf_free(m);
	}
	config_free(ref);
}

static void test_punt_and_kernel(void **state)
{
	uint8_t dns[512], f[2048];

	(void)state;
	/* a name only carouseld knows: punted, byte for byte */
	size_t dl = fu_dns_query(dns, 5, "static.example.test", TYPE_A, 0, false);
	size_t fl = fu_frame(f, false, dns, dl, 4444);

	assert_int_equal(rte_ring_enqueue(wire_rx, mbuf_of(f, fl)), 0);
	struct rte_mbuf *m = take(exc_tx);

	assert_non_null(m);
	assert_int_equal(rte_pktmbuf_data_len(m), fl);
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), f, fl);
	rte_pktmbuf_free(m);
	/* ARP: punted too */
	wire_write16(f + 12, 0x0806);
	assert_int_equal(rte_ring_enqueue(wire_rx, mbuf_of(f, 60)), 0);
	m = take(exc_tx);
	assert_non_null(m);
	rte_pktmbuf_free(m);
	/* a truncated frame: dropped, nothing comes out */
	fl = fu_frame(f, false, dns, dl, 4444);
	assert_int_equal(rte_ring_enqueue(wire_rx, mbuf_of(f, 30)), 0);
	/* what the kernel sends goes to the wire unchanged */
	assert_int_equal(rte_ring_enqueue(exc_rx, mbuf_of(f, fl)), 0);
	m = take(wire_tx);
	assert_non_null(m);
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), f, fl);
	rte_pktmbuf_free(m);
	char stats[8192];

	dp_ops.stats(stats, sizeof(stats));
	assert_non_null(strstr(stats, "dpdk.punted.miss 1\n"));
	assert_non_null(strstr(stats, "dpdk.punted.not-ip 1\n"));
	assert_non_null(strstr(stats, "dpdk.dropped.bad-length 1\n"));
	assert_non_null(strstr(stats, "dpdk.from-kernel 1\n"));
}

static void test_publish_under_load(void **state)
{
	uint8_t name[DNAME_MAXLEN], dns[512], f[2048];
	struct entry *a = aligned_alloc(64, sizeof(*a)), *b = aligned_alloc(64, sizeof(*b));
	unsigned answered = 0, torn = 0, outstanding = 0, seen_a = 0, seen_b = 0;

	(void)state;
	dname_from_str("www.example.test", name, sizeof(name));
	assert_int_equal(engine_build_entry(cfg, name, TYPE_A, a), 0);
	/* version b: every replica address rewritten to 203.0.113.x */
	*b = *a;
	for (unsigned i = 0; i < b->rr_count; i++)
		b->bytes[b->head_len + i * b->rr_len + 12] = 203;
	size_t dl = fu_dns_query(dns, 9, "www.example.test", TYPE_A, 0, false);
	size_t fl = fu_frame(f, false, dns, dl, 5555);

	for (unsigned n = 0; n < 100000; n++) {
		assert_int_equal(dp_ops.publish(n & 1 ? b : a), 0);
		if (n % 64 == 0)
			dp_ops.poll();
		if (n % 16 == 0 && rte_ring_enqueue(wire_rx, mbuf_of(f, fl)) == 0)
			outstanding++;
		void *m;

		while (rte_ring_dequeue(wire_tx, &m) == 0) {
			const uint8_t *d = rte_pktmbuf_mtod((struct rte_mbuf *)m, uint8_t *) + 42;
			size_t first = dl + a->head_len;
			/* all three first octets from one version */
			uint8_t o1 = d[first + 12], o2 = d[first + 28], o3 = d[first + 44];

			torn += !(o1 == o2 && o2 == o3 && (o1 == 192 || o1 == 203));
			seen_a += o1 == 192;
			seen_b += o1 == 203;
			answered++;
			outstanding--;
			rte_pktmbuf_free(m);
		}
	}
	while (outstanding > 0) {
		struct rte_mbuf *m = take(wire_tx);

		assert_non_null(m);
		answered++;
		outstanding--;
		rte_pktmbuf_free(m);
	}
	printf("published 100000 times, %u answers checked\n", answered);
	assert_true(answered > 1000);
	assert_int_equal(torn, 0);
	assert_true(seen_a > 0 && seen_b > 0); /* both versions were served */
	free(a);
	free(b);
}

static uint64_t stat_of(const char *name)
{
	char buf[16384], *p;

	dp_ops.stats(buf, sizeof(buf));
	p = strstr(buf, name);
	return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

/* RRL on the DPDK path: one client's flood within a second gets what
 * carouseld's limiter (the same lib/rrl_bucket.h arithmetic) gives it:
 * `rate` answers, one in `slip` limited ones truncated (at random), the
 * rest dropped. */
static void test_rrl(void **state)
{
	struct fp_rrl r = {.enable = true, .rate = 20, .slip = 2, .v4_prefix = 24,
			   .v6_prefix = 56};
	uint8_t dns[512], f[2048];
	size_t dl = fu_dns_query(dns, 0x6666, "www.example.test", TYPE_A, 0, false);
	size_t fl = fu_frame(f, false, dns, dl, 43000);
	int answered = 0, slipped = 0;
	uint64_t dropped0;

	(void)state;
	/* a flood that crossed a second's boundary (or began within a tick
	 * of one) is retried from a fresh /24, whose bucket starts empty */
	for (int tries = 0; tries < 20; tries++) {
		struct timespec before, after;
		uint32_t h = 0;

		clock_gettime(CLOCK_REALTIME, &before);

		f[14 + 12 + 2] = (uint8_t)(150 + tries); /* 198.51.(150 + tries).2 */
		wire_write16(f + 14 + 10, 0);
		for (int i = 0; i < 20; i += 2)
			h += wire_read16(f + 14 + i);
		while (h >> 16)
			h = (h & 0xffff) + (h >> 16);
		wire_write16(f + 14 + 10, (uint16_t)~h);
		answered = slipped = 0;
		dp_ops.rrl(&r);
		dropped0 = stat_of("dpdk.dropped.rrl ");
		for (int i = 0; i < 100; i++)
			assert_int_equal(rte_ring_enqueue(wire_rx, mbuf_of(f, fl)), 0);
		/* every frame is answered, slipped or dropped: wait for all */
		for (long spin = 0; spin < 100000000L; spin++) {
			void *m;

			if (rte_ring_dequeue(wire_tx, &m) == 0) {
				const uint8_t *d = rte_pktmbuf_mtod((struct rte_mbuf *)m, uint8_t *);

				if (d[42 + 2] & 0x02) {
					slipped++;
					assert_int_equal(rte_pktmbuf_data_len((struct rte_mbuf *)m),
							 42 + dl);
					assert_int_equal(wire_read16(d + 42 + 6), 0);
					assert_true(fu_checksums_ok(d, 42 + dl));
				} else {
					answered++;
				}
				rte_pktmbuf_free(m);
			} else if (answered + slipped + (int)(stat_of("dpdk.dropped.rrl ") - dropped0) >=
				   100) {
				break;
			} else {
				sched_yield();
			}
		}
		clock_gettime(CLOCK_REALTIME, &after);
		if (before.tv_sec == after.tv_sec && before.tv_nsec > 20000000L)
			break;
	}
	printf("rrl: answered %d slipped %d dropped %d\n", answered, slipped,
	       (int)(stat_of("dpdk.dropped.rrl ") - dropped0));
	assert_int_equal(answered, 20);
	assert_in_range(slipped, 20, 60); /* one in two of the 80 limited, at random */
	assert_int_equal(slipped + (int)(stat_of("dpdk.dropped.rrl ") - dropped0), 80);
	assert_int_equal(stat_of("dpdk.slipped ") >= (uint64_t)slipped, 1);
	r.enable = false;
	dp_ops.rrl(&r);
}

int main(void)
{
	char *eal[] = {"test_dp", "-l", "0-1", "--no-huge", "--no-pci", "-m", "256",
		       "--no-shconf", "--log-level=*:error", NULL};

	if (rte_eal_init(9, eal) < 0) {
		printf("SKIP: EAL cannot start here: %s\n", rte_strerror(rte_errno));
		return 77;
	}
	if (rte_lcore_count() < 2) {
		printf("SKIP: needs 2 lcores\n");
		return 77;
	}
	cfg = fu_load_bundled();
	if (!cfg)
		return 1;
	static struct ring_ports rp;

	if (ring_ports_create(&rp, 1024) < 0)
		return 1;
	wire_rx = rp.wire_rx;
	wire_tx = rp.wire_tx;
	exc_rx = rp.exc_rx;
	exc_tx = rp.exc_tx;
	cfg->dp.port = rp.wire;
	cfg->dp.exception = rp.exc;
	fu_dp_addresses(cfg);
	cfg->dp.burst = 32;
	cfg->dp.mbufs = 8191;
	cfg->dp.idle_sleep_us = 0;
	if (dp_setup(&cfg->dp) < 0)
		return 1;
	pool = rte_mempool_lookup("carousel_mbufs");
	struct publisher *pub = publish_create(&dp_ops);

	publish_config(pub, cfg);
	if (dp_launch() < 0)
		return 1;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_match_socket),
		cmocka_unit_test(test_punt_and_kernel),
		cmocka_unit_test(test_publish_under_load),
		cmocka_unit_test(test_rrl),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	dp_ops.stop();
	publish_destroy(pub);
	config_free(cfg);
	return rc;
}

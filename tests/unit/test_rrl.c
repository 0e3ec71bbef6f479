/* test_rrl.c -- response rate limiting's accounting (control/rrl.c over
 * lib/rrl_bucket.h, the arithmetic the fast paths share): a flood within
 * a second gets `rate` answers, then one in `slip` limited responses
 * slips, at random, and the rest are dropped (a flood's rhythm cannot
 * decide which of a neighbour's queries slip); a new second starts over;
 * a prefix is the
 * configured /24 or /56 (or a single address at /32); slip 0 drops every
 * limited one; the counters add up to what was limited, and a flood
 * longer than the bucket's count saturates, never wrapping to pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "rrl.h"

static struct sockaddr_storage v4(const char *a)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	s->sin_family = AF_INET;
	inet_pton(AF_INET, a, &s->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *a)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

	s->sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &s->sin6_addr);
	return ss;
}

static void flood(struct rrl *r, const struct rrl_config *c, struct sockaddr_storage *ss, int n,
		  uint64_t sec, int got[3])
{
	got[0] = got[1] = got[2] = 0;
	for (int i = 0; i < n; i++)
		got[rrl_check(r, c, (struct sockaddr *)ss, sec)]++;
}

static void test_flood(void **state)
{
	struct rrl_config c = {.enable = true, .rate = 20, .slip = 2, .v4_prefix = 24,
			       .v6_prefix = 56, .table_size = 1024};
	struct rrl *r = rrl_create(c.table_size);
	struct sockaddr_storage a = v4("198.51.100.77"), b = v4("198.51.100.78"),
				other = v4("203.0.113.9");
	int got[3];
	uint64_t limited;

	(void)state;
	flood(r, &c, &a, 100, 1000, got);
	assert_int_equal(got[RRL_PASS], 20);
	/* one in two of the 80 limited, at random: 40 +- 4.5 */
	assert_in_range(got[RRL_SLIP], 20, 60);
	assert_int_equal(got[RRL_SLIP] + got[RRL_DROP], 80);
	/* the same /24: the same bucket, still over */
	flood(r, &c, &b, 2, 1000, got);
	assert_int_equal(got[RRL_PASS], 0);
	/* another prefix has its own budget */
	flood(r, &c, &other, 20, 1000, got);
	assert_int_equal(got[RRL_PASS], 20);
	/* the next second starts over */
	flood(r, &c, &a, 21, 1001, got);
	assert_int_equal(got[RRL_PASS], 20);
	assert_int_equal(got[RRL_SLIP] + got[RRL_DROP], 1);
	/* 80 + b's two + 1: every limited response counted once */
	limited = r->slipped + r->dropped;
	assert_int_equal(limited, 83);
	rrl_destroy(r);
}

static void test_v6_and_no_slip(void **state)
{
	struct rrl_config c = {.enable = true, .rate = 5, .slip = 0, .v4_prefix = 24,
			       .v6_prefix = 56, .table_size = 1024};
	struct rrl *r = rrl_create(c.table_size);
	struct sockaddr_storage a = v6("2001:db8:1:2300::1"), b = v6("2001:db8:1:23ff::2"),
				other = v6("2001:db8:1:2400::1");
	int got[3];

	(void)state;
	flood(r, &c, &a, 10, 7, got);
	assert_int_equal(got[RRL_PASS], 5);
	assert_int_equal(got[RRL_SLIP], 0); /* slip 0: every limited one dropped */
	assert_int_equal(got[RRL_DROP], 5);
	flood(r, &c, &b, 1, 7, got); /* the same /56 */
	assert_int_equal(got[RRL_DROP], 1);
	flood(r, &c, &other, 1, 7, got); /* the next /56 */
	assert_int_equal(got[RRL_PASS], 1);
	rrl_destroy(r);
}

static void test_accounting(void **state)
{
	struct rrl_config c = {.enable = true, .rate = 4, .slip = 3, .v4_prefix = 32,
			       .v6_prefix = 56, .table_size = 1024};
	struct rrl *r = rrl_create(c.table_size);
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
	int got[3];

	(void)state;
	flood(r, &c, &a, 100, 50, got);
	assert_int_equal(got[RRL_PASS], 4);
	assert_in_range(got[RRL_SLIP], 12, 52); /* one in three of the 96 limited: 32 +- 4.6 */
	assert_int_equal(got[RRL_SLIP] + got[RRL_DROP], 96);
	assert_int_equal(r->slipped, (uint64_t)got[RRL_SLIP]);
	assert_int_equal(r->dropped, (uint64_t)got[RRL_DROP]);
	/* /32: the neighbour has its own budget */
	flood(r, &c, &b, 4, 50, got);
	assert_int_equal(got[RRL_PASS], 4);
	/* more responses in one second than the count holds: still limited */
	flood(r, &c, &a, 70000, 51, got);
	assert_int_equal(got[RRL_PASS], 4);
	flood(r, &c, &a, 1000, 51, got);
	assert_int_equal(got[RRL_PASS], 0);
	assert_int_equal(r->slipped + r->dropped, 96 + 69996 + 1000);
	rrl_destroy(r);
}

/* A flood in step with a neighbour of its prefix: the flood spends the
 * second's budget, then the neighbour's responses and the flood's come
 * in turn. Every slip-th by count put each of the neighbour's on an odd
 * count past the rate, with slip 2: all 200 dropped, never a TC to retry
 * over TCP. At random, about half of them slip. */
static void test_in_step(void **state)
{
	struct rrl_config c = {.enable = true, .rate = 20, .slip = 2, .v4_prefix = 24,
			       .v6_prefix = 56, .table_size = 1024};
	struct rrl *r = rrl_create(c.table_size);
	struct sockaddr_storage flooder = v4("198.51.100.200"), neighbour = v4("198.51.100.5");
	int got[3], slipped = 0;

	(void)state;
	flood(r, &c, &flooder, 20, 9, got);
	for (int i = 0; i < 200; i++) {
		slipped += rrl_check(r, &c, (struct sockaddr *)&neighbour, 9) == RRL_SLIP;
		flood(r, &c, &flooder, 1, 9, got);
	}
	printf("the neighbour's 200 limited queries: %d slipped\n", slipped);
	assert_in_range(slipped, 50, 150); /* 100 +- 7 */
	rrl_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_v6_and_no_slip),
		cmocka_unit_test(test_accounting),
		cmocka_unit_test(test_in_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

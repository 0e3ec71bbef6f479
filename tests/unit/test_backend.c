/* test_backend.c -- the backend groups' server policies: round-robin
 * spreads evenly, weighted by weight, least-outstanding by load then order
 * then latency, first-available by order, consistent-hash keeps names in
 * place and moves about 1/N of them when one of N servers goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"

static void servers(struct backend_choice *c, unsigned n)
{
	char text[32];

	for (unsigned i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "127.0.0.%u@53", i + 1);
		c[i] = (struct backend_choice){.eligible = true, .weight = 1, .order = 1,
					       .id = backend_server_id(text)};
	}
}

static size_t name_of(unsigned i, uint8_t *wire)
{
	char text[64];

	snprintf(text, sizeof(text), "name%u.corp.example.", i);
	return (size_t)dname_from_str(text, wire, DNAME_MAXLEN);
}

static void test_round_robin(void **state)
{
	struct backend_choice c[3];
	unsigned hits[3] = {0};
	uint64_t rr = 0;

	(void)state;
	servers(c, 3);
	for (int i = 0; i < 300; i++)
		hits[backend_policy_pick(BP_ROUND_ROBIN, c, 3, &rr, NULL, 0)]++;
	for (int i = 0; i < 3; i++)
		assert_int_equal(hits[i], 100);
	/* one down: the others share */
	c[1].eligible = false;
	memset(hits, 0, sizeof(hits));
	for (int i = 0; i < 100; i++)
		hits[backend_policy_pick(BP_ROUND_ROBIN, c, 3, &rr, NULL, 0)]++;
	assert_int_equal(hits[1], 0);
	assert_int_equal(hits[0], 50);
	assert_int_equal(hits[2], 50);
	c[0].eligible = c[2].eligible = false;
	assert_int_equal(backend_policy_pick(BP_ROUND_ROBIN, c, 3, &rr, NULL, 0), -1);
}

static void test_weighted(void **state)
{
	struct backend_choice c[3];
	unsigned hits[3] = {0};
	uint64_t rr = 0;

	(void)state;
	servers(c, 3);
	c[1].weight = 2;
	for (int i = 0; i < 400; i++) {
		hits[backend_policy_pick(BP_WEIGHTED, c, 3, &rr, NULL, 0)]++;
		if (i % 4 == 3) /* smooth: exact shares in every round of 1+2+1 */
			assert_int_equal(hits[1], (unsigned)(i + 1) / 2);
	}
	assert_int_equal(hits[0], 100);
	assert_int_equal(hits[1], 200);
	assert_int_equal(hits[2], 100);
	/* a server not eligible gets nothing, the rest share by weight */
	c[0].eligible = false;
	memset(hits, 0, sizeof(hits));
	for (int i = 0; i < 300; i++)
		hits[backend_policy_pick(BP_WEIGHTED, c, 3, &rr, NULL, 0)]++;
	assert_int_equal(hits[0], 0);
	assert_int_equal(hits[1], 200);
	assert_int_equal(hits[2], 100);
}

static void test_least_outstanding(void **state)
{
	struct backend_choice c[3];
	uint64_t rr = 0;

	(void)state;
	servers(c, 3);
	c[0].outstanding = 3;
	c[1].outstanding = 1;
	c[2].outstanding = 2;
	assert_int_equal(backend_policy_pick(BP_LEAST_OUTSTANDING, c, 3, &rr, NULL, 0), 1);
	c[2].outstanding = 1;
	c[1].order = 2; /* a tie on load: the lower order */
	assert_int_equal(backend_policy_pick(BP_LEAST_OUTSTANDING, c, 3, &rr, NULL, 0), 2);
	c[1].order = 1;
	c[1].latency_us = 5000; /* a tie on order: the faster */
	c[2].latency_us = 200;
	assert_int_equal(backend_policy_pick(BP_LEAST_OUTSTANDING, c, 3, &rr, NULL, 0), 2);
	c[2].eligible = false;
	assert_int_equal(backend_policy_pick(BP_LEAST_OUTSTANDING, c, 3, &rr, NULL, 0), 1);
}

static void test_first_available(void **state)
{
	struct backend_choice c[3];
	uint64_t rr = 0;

	(void)state;
	servers(c, 3);
	c[0].order = 2;
	c[1].order = 1;
	c[2].order = 1;
	for (int i = 0; i < 10; i++)
		assert_int_equal(backend_policy_pick(BP_FIRST_AVAILABLE, c, 3, &rr, NULL, 0), 1);
	c[1].eligible = false;
	assert_int_equal(backend_policy_pick(BP_FIRST_AVAILABLE, c, 3, &rr, NULL, 0), 2);
	c[2].eligible = false;
	assert_int_equal(backend_policy_pick(BP_FIRST_AVAILABLE, c, 3, &rr, NULL, 0), 0);
}

/* N servers, 10000 names; then one server goes: the names it had move
 * (about 1/N of all), no other name does, and the load stays even. */
static void remap(unsigned n)
{
	enum { NAMES = 10000 };
	static int before[NAMES];
	struct backend_choice c[8];
	unsigned hits[8] = {0}, moved = 0;
	uint8_t name[DNAME_MAXLEN];
	uint64_t rr = 0;

	servers(c, n);
	for (unsigned i = 0; i < NAMES; i++) {
		size_t len = name_of(i, name);

		before[i] = backend_policy_pick(BP_CONSISTENT_HASH, c, n, &rr, name, len);
		hits[before[i]]++;
		/* stable: the same name, the same server */
		assert_int_equal(backend_policy_pick(BP_CONSISTENT_HASH, c, n, &rr, name, len),
				 before[i]);
	}
	for (unsigned k = 0; k < n; k++) /* even: within 10% of a fair share */
		assert_true(hits[k] > NAMES / n * 9 / 10 && hits[k] < NAMES / n * 11 / 10);
	c[n - 1].eligible = false;
	for (unsigned i = 0; i < NAMES; i++) {
		size_t len = name_of(i, name);
		int now = backend_policy_pick(BP_CONSISTENT_HASH, c, n, &rr, name, len);

		if (now != before[i]) {
			assert_int_equal(before[i], (int)n - 1); /* only its names move */
			moved++;
		} else {
			assert_int_not_equal(before[i], (int)n - 1);
		}
	}
	/* about 1/N: within 10% of it */
	assert_true(moved > NAMES / n * 9 / 10 && moved < NAMES / n * 11 / 10);
}

static void test_consistent_hash(void **state)
{
	(void)state;
	remap(3);
	remap(5);
	remap(8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_weighted),
		cmocka_unit_test(test_least_outstanding),
		cmocka_unit_test(test_first_available),
		cmocka_unit_test(test_consistent_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

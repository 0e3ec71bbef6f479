/* test_pool.c -- pool views: which members a pool serves for given member
 * states (health, drain), under each method and on-all-down policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "pool.h"

static char dir[64];
static struct config *cfg;

static const char config_text[] =
	"server:\n  listen: [127.0.0.1@5353]\n"
	"zones:\n  - {name: example.test., file: z.zone}\n"
	"pools:\n"
	"  - name: rr.example.test.\n"
	"    ttl: 60\n"
	"    degraded-ttl: 7\n"
	"    members: [{address: 192.0.2.1}, {address: 192.0.2.2}, {address: 192.0.2.3},\n"
	"              {address: '2001:db8::1'}]\n"
	"  - name: fo.example.test.\n"
	"    method: failover\n"
	"    min-up: 2\n"
	"    on-all-down: servfail\n"
	"    members:\n"
	"      - {address: 192.0.2.11, group: 0}\n"
	"      - {address: 192.0.2.12, group: 0}\n"
	"      - {address: 192.0.2.13, group: 1}\n"
	"      - {address: 192.0.2.14, group: 1}\n"
	"  - name: spare.example.test.\n"
	"    on-all-down: {pool: fo.example.test.}\n"
	"    members: [{address: 192.0.2.21}]\n"
	"  - name: loop1.example.test.\n"
	"    on-all-down: {pool: loop2.example.test.}\n"
	"    members: [{address: 192.0.2.31}]\n"
	"  - name: loop2.example.test.\n"
	"    on-all-down: {pool: loop1.example.test.}\n"
	"    members: [{address: 192.0.2.32}]\n";

static int setup(void **state)
{
	char path[128], err[CFG_ERR_LEN];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/carousel-pool-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/z.zone", dir);
	f = fopen(path, "w");
	fputs("$ORIGIN example.test.\n$TTL 300\n@ SOA ns hostmaster 1 2 3 4 60\n@ NS ns\n"
	      "ns A 192.0.2.1\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	f = fopen(path, "w");
	fputs(config_text, f);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "%s\n", err);
	return cfg ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	config_free(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* Install a view made from these states, as the health module would. */
static const struct pool_view *set(unsigned pool, const bool *up, const bool *drained)
{
	struct pool *p = cfg->pools[pool];

	pool_view_free(atomic_exchange(&p->view, pool_view_build(p, up, drained)));
	return pool_view_get(p);
}

/* The members (last address byte) answered at step, in order. */
static unsigned answer(unsigned pool, uint64_t step, uint8_t *out)
{
	const struct pool_view *v;
	uint32_t ttl;
	const struct pool *src = pool_serving(cfg->pools[pool], 0, &v, &ttl);
	uint16_t order[ROT_MAX_MEMBERS];

	if (!src)
		return 0;
	unsigned k = rot_order(&v->sched[0], step, 0, order);

	for (unsigned i = 0; i < k; i++)
		out[i] = src->members[src->fam_member[0][order[i]]].addr[3];
	return k;
}

static void test_all_up(void **state)
{
	uint8_t got[8];

	(void)state;
	const struct pool_view *v = set(0, NULL, NULL);

	assert_false(v->degraded);
	assert_int_equal(v->ttl, 60);
	assert_int_equal(v->serving[0], 3);
	assert_int_equal(v->serving[1], 1);
	for (uint64_t step = 0; step < 3; step++) {
		assert_int_equal(answer(0, step, got), 3);
		assert_int_equal(got[0], 1 + step); /* each replica leads in turn */
	}
}

/* A dead member is skipped, and the others share its turns evenly. */
static void test_one_down(void **state)
{
	bool up[4] = {true, false, true, true};
	unsigned lead[4] = {0};
	uint8_t got[8];

	(void)state;
	const struct pool_view *v = set(0, up, NULL);

	assert_true(v->degraded);
	assert_int_equal(v->ttl, 7);
	assert_int_equal(v->serving[0], 2);
	for (uint64_t step = 0; step < 100; step++) {
		assert_int_equal(answer(0, step, got), 2);
		assert_true(got[0] != 2 && got[1] != 2);
		lead[got[0]]++;
	}
	assert_int_equal(lead[1], 50);
	assert_int_equal(lead[3], 50);
}

/* Drained: out of the answers, but the pool is not degraded by it. */
static void test_drained(void **state)
{
	bool drained[4] = {false, false, true, false};
	uint8_t got[8];

	(void)state;
	const struct pool_view *v = set(0, NULL, drained);

	assert_false(v->degraded);
	assert_int_equal(v->ttl, 60);
	assert_int_equal(answer(0, 0, got), 2);
	assert_true(got[0] != 3 && got[1] != 3);
}

/* Every member down, serve-all (the default): fail open, degraded TTL. */
static void test_all_down_serve_all(void **state)
{
	bool up[4] = {false, false, false, true};
	uint8_t got[8];

	(void)state;
	const struct pool_view *v = set(0, up, NULL);

	assert_true(v->all_down[0]);
	assert_false(v->all_down[1]);
	assert_int_equal(v->action[0], VIEW_SERVE);
	assert_int_equal(v->ttl, 7);
	assert_int_equal(answer(0, 0, got), 3);
}

/* Failover: the lowest group with min-up members serves alone. */
static void test_failover(void **state)
{
	bool up[4] = {true, true, true, true};
	uint8_t got[8];

	(void)state;
	set(1, up, NULL);
	assert_int_equal(answer(1, 0, got), 2);
	assert_int_equal(got[0] + got[1], 11 + 12);
	up[0] = false; /* group 0 has 1 < min-up 2: group 1 takes over */
	set(1, up, NULL);
	assert_int_equal(answer(1, 0, got), 2);
	assert_int_equal(got[0] + got[1], 13 + 14);
	up[2] = false; /* no group has 2: every member that is up serves */
	set(1, up, NULL);
	assert_int_equal(answer(1, 0, got), 2);
	assert_int_equal(got[0] + got[1], 12 + 14);
	up[1] = up[3] = false; /* none: servfail */
	const struct pool_view *v = set(1, up, NULL);

	assert_int_equal(v->action[0], VIEW_SERVFAIL);
	assert_int_equal(answer(1, 0, got), 0);
	set(1, NULL, NULL);
}

/* on-all-down: pool answers with the other pool's serving members, and
 * fails when that one fails too; a loop of fallbacks ends in SERVFAIL. */
static void test_fallback(void **state)
{
	bool down[4] = {false, false, false, false};
	uint8_t got[8];

	(void)state;
	set(2, down, NULL);
	assert_int_equal(answer(2, 0, got), 2);
	assert_int_equal(got[0] + got[1], 11 + 12);
	set(1, down, NULL); /* fo: servfail */
	assert_int_equal(answer(2, 0, got), 0);
	set(1, NULL, NULL);
	set(3, down, NULL);
	set(4, down, NULL);
	assert_int_equal(answer(3, 0, got), 0);
	set(4, NULL, NULL);
	assert_int_equal(answer(3, 0, got), 1);
	assert_int_equal(got[0], 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_up),	   cmocka_unit_test(test_one_down),
		cmocka_unit_test(test_drained),	   cmocka_unit_test(test_all_down_serve_all),
		cmocka_unit_test(test_failover),   cmocka_unit_test(test_fallback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

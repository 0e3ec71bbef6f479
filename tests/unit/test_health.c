/* test_health.c -- a member's health state machine without probes or
 * sockets (health_transition, as control/health.c applies each verdict):
 * `fall` failures in a row take an up member down, `rise` passes in a row
 * bring it back, a verdict that agrees with the state starts the count
 * over; and, folded into pool views as the health module does on each
 * change, a failover pool moves to its next group and back. */
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
#include "health.h"
#include "pool.h"

static char dir[64];
static struct config *cfg;

#define MON(initial) "monitor: {type: exec, command: 'true', rise: 2, fall: 3, initial: " initial "}"

static const char config_text[] =
	"server:\n  listen: [127.0.0.1@5353]\n"
	"zones:\n  - {name: example.test., file: z.zone}\n"
	"pools:\n"
	"  - name: fo.example.test.\n"
	"    method: failover\n"
	"    on-all-down: servfail\n"
	"    members:\n"
	"      - {address: 192.0.2.11, group: 0, " MON("up") "}\n"
	"      - {address: 192.0.2.12, group: 0, " MON("up") "}\n"
	"      - {address: 192.0.2.13, group: 1, " MON("down") "}\n";

static int setup(void **state)
{
	char path[128], err[CFG_ERR_LEN];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/carousel-health-XXXXXX");
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

/* Verdicts ("+" pass, "-" fail) for one member; the indexes (0-based) of
 * those that changed its state go to changed[], -1 terminated. */
static void run(bool *up, unsigned *streak, const char *verdicts, unsigned rise, unsigned fall,
		int *changed)
{
	int k = 0;

	for (int i = 0; verdicts[i]; i++)
		if (health_transition(up, streak, verdicts[i] == '+', rise, fall))
			changed[k++] = i;
	changed[k] = -1;
}

static void test_fall(void **state)
{
	bool up = true;
	unsigned streak = 0;
	int changed[16];

	(void)state;
	/* two failures, a pass (the count starts over), then three */
	run(&up, &streak, "--+---", 2, 3, changed);
	assert_int_equal(changed[0], 5);
	assert_int_equal(changed[1], -1);
	assert_false(up);
	assert_int_equal(streak, 0);
	/* down stays down on failures */
	run(&up, &streak, "-----", 2, 3, changed);
	assert_int_equal(changed[0], -1);
	assert_false(up);
}

static void test_rise(void **state)
{
	bool up = false;
	unsigned streak = 0;
	int changed[16];

	(void)state;
	/* a pass, a failure (over again), two passes */
	run(&up, &streak, "+-++", 2, 3, changed);
	assert_int_equal(changed[0], 3);
	assert_int_equal(changed[1], -1);
	assert_true(up);
	/* a flapping member that never fails `fall` times in a row stays up */
	run(&up, &streak, "--+--+--+-", 2, 3, changed);
	assert_int_equal(changed[0], -1);
	assert_true(up);
	/* rise 1, fall 1: every verdict that disagrees is a change */
	run(&up, &streak, "-+-++--", 1, 1, changed);
	assert_int_equal(changed[0], 0);
	assert_int_equal(changed[1], 1);
	assert_int_equal(changed[2], 2);
	assert_int_equal(changed[3], 3);
	assert_int_equal(changed[4], 5);
	assert_int_equal(changed[5], -1);
	assert_false(up);
}

/* The members (last address byte) the pool serves now. */
static unsigned serving(const struct pool *p, uint8_t *out)
{
	const struct pool_view *v;
	uint32_t ttl;
	const struct pool *src = pool_serving(p, 0, &v, &ttl);
	uint16_t order[ROT_MAX_MEMBERS];

	if (!src)
		return 0;
	unsigned k = rot_order(&v->sched[0], 0, 0, order);

	for (unsigned i = 0; i < k; i++)
		out[i] = src->members[src->fam_member[0][order[i]]].addr[3];
	return k;
}

/* What the health module does: one verdict for member i, a new view when
 * it changed the member's state. Returns whether it did. */
static bool verdict(struct pool *p, bool *up, unsigned *streak, unsigned i, bool ok)
{
	const struct monitor *mon = p->members[i].monitor;

	if (!health_transition(&up[i], &streak[i], ok, mon->rise, mon->fall))
		return false;
	pool_view_free(atomic_exchange(&p->view, pool_view_build(p, up, NULL)));
	return true;
}

static void test_failover(void **state)
{
	struct pool *p = cfg->pools[0];
	bool up[3];
	unsigned streak[3] = {0, 0, 0};
	uint8_t got[8];

	(void)state;
	for (unsigned i = 0; i < 3; i++)
		up[i] = p->members[i].monitor->initial_up;
	assert_true(up[0] && up[1] && !up[2]); /* `initial` */
	pool_view_free(atomic_exchange(&p->view, pool_view_build(p, up, NULL)));
	assert_int_equal(serving(p, got), 2);
	assert_int_equal(got[0] + got[1], 11 + 12);
	/* the spare passes its checks: up after `rise`, group 0 still serves */
	assert_false(verdict(p, up, streak, 2, true));
	assert_true(verdict(p, up, streak, 2, true));
	assert_int_equal(serving(p, got), 2);
	assert_int_equal(got[0] + got[1], 11 + 12);
	/* group 0 fails: its last member down after `fall` moves the pool */
	for (int i = 0; i < 2; i++) {
		assert_false(verdict(p, up, streak, 0, false));
		assert_false(verdict(p, up, streak, 1, false));
	}
	assert_true(verdict(p, up, streak, 0, false));
	assert_int_equal(serving(p, got), 1);
	assert_int_equal(got[0], 12);
	assert_true(verdict(p, up, streak, 1, false));
	assert_int_equal(serving(p, got), 1);
	assert_int_equal(got[0], 13);
	/* the spare goes too: nothing is up, SERVFAIL (on-all-down) */
	for (int i = 0; i < 3; i++)
		verdict(p, up, streak, 2, false);
	assert_false(up[2]);
	assert_int_equal(serving(p, got), 0);
	/* group 0 back after `rise`: it serves again, before the spare */
	assert_false(verdict(p, up, streak, 0, true));
	assert_true(verdict(p, up, streak, 0, true));
	assert_false(verdict(p, up, streak, 2, true));
	assert_true(verdict(p, up, streak, 2, true));
	assert_int_equal(serving(p, got), 1);
	assert_int_equal(got[0], 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fall),
		cmocka_unit_test(test_rise),
		cmocka_unit_test(test_failover),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

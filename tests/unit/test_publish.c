/* test_publish.c -- the publisher against a fast path that only records
 * what it is handed: a reload that changes nothing hands over nothing, a
 * changed pool only its own names, a dropped pool is withdrawn, a full
 * fast path is asked again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "frame_util.h"
#include "publish.h"

#define HELD_MAX 256

static struct {
	uint64_t key[HELD_MAX];
	unsigned n;
	unsigned publishes, withdraws;
	unsigned room; /* entries it accepts before it is full */
} fake;

static int find(uint64_t key)
{
	for (unsigned i = 0; i < fake.n; i++)
		if (fake.key[i] == key)
			return (int)i;
	return -1;
}

static int fake_publish(const struct entry *e)
{
	fake.publishes++;
	if (find(e->digest) >= 0)
		return 0;
	if (fake.n == fake.room)
		return -1;
	fake.key[fake.n++] = e->digest;
	return 0;
}

static void fake_withdraw(uint64_t digest)
{
	int i = find(digest);

	fake.withdraws++;
	if (i >= 0)
		fake.key[i] = fake.key[--fake.n];
}

static void fake_cookies(const struct fp_cookies *k)
{
	(void)k;
}

static void fake_rrl(const struct fp_rrl *r)
{
	(void)r;
}

static const struct fp_ops fake_ops = {
    .name = "fake",
    .publish = fake_publish,
    .withdraw = fake_withdraw,
    .cookies = fake_cookies,
    .rrl = fake_rrl,
};

static const char two_pools[] = "pools:\n"
				"  - {name: www.example.test., aliases: [w.example.test.],\n"
				"     members: [{address: 192.0.2.1}, {address: 192.0.2.2}]}\n"
				"  - {name: api.example.test., members: [{address: 192.0.2.%d}]}\n"
				"%s";

static struct config *load(int api_member, const char *more)
{
	char text[1024];

	snprintf(text, sizeof(text), two_pools, api_member, more);
	return fu_load_pools(text);
}

static void reset(unsigned room)
{
	memset(&fake, 0, sizeof(fake));
	fake.room = room;
}

static uint64_t status_field(const struct publisher *p, const char *field)
{
	char buf[512], *at;

	publish_status(p, buf, sizeof(buf));
	at = strstr(buf, field);
	assert_non_null(at);
	return strtoull(at + strlen(field) + 1, NULL, 10);
}

static uint64_t key_of(const char *name, uint16_t qtype)
{
	uint8_t wire[DNAME_MAXLEN];

	dname_from_str(name, wire, sizeof(wire));
	return entry_digest(wire, dname_len(wire), qtype, CLASS_IN);
}

static void test_reload_unchanged(void **state)
{
	struct config *a = load(10, ""), *b = load(10, "");
	struct publisher *p = publish_create(&fake_ops);

	(void)state;
	reset(HELD_MAX);
	publish_config(p, a);
	unsigned held = fake.n;

	assert_true(held >= 3); /* www, w, api: A (AAAA has no members) */
	assert_int_equal(fake.publishes, held);
	assert_int_equal(status_field(p, "entries-published"), held);
	/* the same config again, a new generation: nothing handed over */
	fake.publishes = fake.withdraws = 0;
	publish_config(p, b);
	assert_int_equal(fake.publishes, 0);
	assert_int_equal(fake.n, held);
	assert_int_equal(status_field(p, "unchanged"), held);
	assert_int_equal(status_field(p, "entries-published"), held);
	publish_destroy(p);
	config_free(a);
	config_free(b);
}

static void test_reload_changed(void **state)
{
	struct config *a = load(10, "  - {name: old.example.test., members: [{address: "
				    "192.0.2.9}]}\n"),
		      *b = load(11, "");
	struct publisher *p = publish_create(&fake_ops);

	(void)state;
	reset(HELD_MAX);
	publish_config(p, a);
	assert_true(find(key_of("old.example.test", TYPE_A)) >= 0);
	unsigned held = fake.n, old = 1 + (find(key_of("old.example.test", TYPE_AAAA)) >= 0);

	fake.publishes = 0;
	publish_config(p, b);
	/* api's member changed: its A entry again; old's are gone */
	assert_int_equal(fake.publishes, 1);
	assert_true(find(key_of("api.example.test", TYPE_A)) >= 0);
	assert_true(find(key_of("old.example.test", TYPE_A)) < 0);
	assert_int_equal(fake.n, held - old);
	assert_int_equal(status_field(p, "removed"), old);
	assert_int_equal(status_field(p, "unchanged"), held - old - 1);
	publish_destroy(p);
	config_free(a);
	config_free(b);
}

static void test_full_fast_path(void **state)
{
	struct config *a = load(10, ""), *b = load(10, "");
	struct publisher *p = publish_create(&fake_ops);

	(void)state;
	reset(1);
	publish_config(p, a);
	assert_int_equal(fake.n, 1);
	uint64_t not_held = status_field(p, "not-held");

	assert_true(not_held >= 2);
	/* room again: what did not fit is handed over on the next publish */
	fake.room = HELD_MAX;
	fake.publishes = 0;
	publish_config(p, b);
	assert_int_equal(fake.publishes, not_held);
	assert_int_equal(status_field(p, "not-held"), 0);
	publish_destroy(p);
	config_free(a);
	config_free(b);
}

/* A pool's view changed: its names are rendered again, and what did not
 * change is not handed over again. */
static void test_pool(void **state)
{
	struct config *a = load(10, "");
	struct publisher *p = publish_create(&fake_ops);

	(void)state;
	reset(HELD_MAX);
	publish_config(p, a);
	fake.publishes = 0;
	publish_pool(p, a, 0);
	assert_int_equal(fake.publishes, 0);
	publish_destroy(p);
	config_free(a);
}

/* The entries of one pool's aliases built from its name's answer
 * (engine_build_alias_entry) against engine_build_entry's, byte for
 * byte; returns how many were built that way. */
static unsigned compare_aliases(const struct config *cfg, const struct pool *p)
{
	static struct engine_alias_base base;
	struct entry *ref = aligned_alloc(64, sizeof(*ref)), *got = aligned_alloc(64, sizeof(*got));
	unsigned derived = 0;

	assert_non_null(ref);
	assert_non_null(got);
	for (uint16_t qtype = TYPE_A;; qtype = TYPE_AAAA) {
		int rc = engine_build_pool_entry(cfg, p, p->name, qtype, got, &base);

		assert_int_equal(rc, engine_build_entry(cfg, p->name, qtype, ref));
		if (rc == 0)
			assert_int_equal(entry_fingerprint(got), entry_fingerprint(ref));
		for (unsigned j = 0; j < p->naliases; j++) {
			const uint8_t *alias = p->aliases[j];
			int want = engine_build_entry(cfg, alias, qtype, ref);

			int rc_alias = engine_build_alias_entry(&base, alias, got);

			/* from a usable base only an answer too big fails, as it
			 * does for engine_build_entry */
			if (base.ok)
				assert_int_equal(rc_alias, want);
			if (rc_alias < 0)
				continue; /* the publisher asks engine_build_entry */
			derived++;
			assert_int_equal(want, 0);
			assert_int_equal(got->digest, ref->digest);
			assert_int_equal(got->name_len, ref->name_len);
			assert_memory_equal(got->name, ref->name, ref->name_len);
			assert_int_equal(got->head_len, ref->head_len);
			assert_int_equal(got->tail_len, ref->tail_len);
			assert_int_equal(got->rr_count, ref->rr_count);
			assert_memory_equal(got->bytes, ref->bytes,
					    ref->head_len + ref->rr_count * ref->rr_len + ref->tail_len);
			assert_int_equal(got->nttl, ref->nttl);
			assert_memory_equal(got->ttl_off, ref->ttl_off, ref->nttl * sizeof(ref->ttl_off[0]));
			assert_int_equal(entry_fingerprint(got), entry_fingerprint(ref));
		}
		if (qtype == TYPE_AAAA)
			break;
	}
	free(ref);
	free(got);
	return derived;
}

static struct pool *pool_named(const struct config *cfg, const char *name)
{
	uint8_t wire[DNAME_MAXLEN];

	dname_from_str(name, wire, sizeof(wire));
	struct pool *p = config_find_pool(cfg, wire);

	if (!p)
		fail_msg("no pool %s", name);
	return p;
}

/* Shapes of answers and of names: both families, NODATA (SOA in
 * authority), weights and answer-count, aliases below their own pool
 * name (the CNAME target then compresses into the question), deep aliases
 * with empty non-terminals, upper case in the config, an answer near an
 * entry's limit and one over it, and aliases below a delegation (never
 * built from the pool's answer). */
static void test_alias_entries(void **state)
{
#define BIG "big-0123456789abcdef0123456789abcdef0123456789abc"
	char text[8192];
	int n = snprintf(text, sizeof(text),
		"pools:\n"
		"  - {name: www.example.test., aliases: [w.example.test., x.www.example.test.,\n"
		"     a.b.c.deep.example.test., W2.Example.TEST., long-alias-name-%s.example.test.],\n"
		"     members: [{address: 192.0.2.1}, {address: 192.0.2.2}, {address: \"2001:db8::1\"}]}\n"
		"  - {name: v4.example.test., aliases: [v4a.example.test., y.v4.example.test.],\n"
		"     members: [{address: 192.0.2.3}]}\n"
		"  - {name: wrr.example.test., aliases: [wrr-a.example.test., wrr-b.example.test.],\n"
		"     method: weighted, answer-count: 1, ttl: 7,\n"
		"     members: [{address: 192.0.2.4, weight: 3}, {address: 192.0.2.5, weight: 1},\n"
		"               {address: 192.0.2.6, weight: 0}]}\n"
		"  - {name: deleg.example.test., aliases: [x.sub.example.test., deleg-b.example.test.],\n"
		"     members: [{address: 192.0.2.7}]}\n"
		"  - name: %s.example.test.\n"
		"    aliases: [big-a.example.test., x.%s.example.test.]\n"
		"    members:\n",
		"0123456789abcdef0123456789abcdef", BIG, BIG);

	(void)state;
	/* 41 AAAA: 1148 bytes, fits an entry (1200); behind a CNAME whose
	 * target takes 53 bytes it does not, behind one that points into
	 * the question it does */
	for (int i = 1; i <= 41; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "      - {address: \"2001:db8::%x\"}\n", i);
	n += snprintf(text + n, sizeof(text) - (size_t)n,
		      "  - name: huge.example.test.\n    aliases: [huge-a.example.test.]\n"
		      "    members:\n");
	for (int i = 1; i <= 60; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "      - {address: \"2001:db8::1:%x\"}\n", i);
	struct config *cfg = fu_load_pools(text);

	assert_non_null(cfg);
	/* A and AAAA of 5 aliases; of 2 (AAAA: NODATA); of 2 (weighted) */
	assert_int_equal(compare_aliases(cfg, pool_named(cfg, "www.example.test")), 10);
	assert_int_equal(compare_aliases(cfg, pool_named(cfg, "v4.example.test")), 4);
	assert_int_equal(compare_aliases(cfg, pool_named(cfg, "wrr.example.test")), 4);
	/* one alias below `sub` (a delegation): none of the pool's */
	assert_false(pool_named(cfg, "deleg.example.test")->plain_aliases);
	assert_int_equal(compare_aliases(cfg, pool_named(cfg, "deleg.example.test")), 0);
	/* near the limit: A (NODATA) for both, AAAA only behind the short CNAME */
	assert_int_equal(compare_aliases(cfg, pool_named(cfg, BIG ".example.test")), 3);
	/* too big for the pool name itself: A (NODATA) only */
	assert_int_equal(compare_aliases(cfg, pool_named(cfg, "huge.example.test")), 1);
	config_free(cfg);
	/* the bundled config: the publisher builds every alias of its pools
	 * this way (none lives below the demo zone's delegation) */
	cfg = fu_load_bundled();
	assert_non_null(cfg);
	struct publisher *p = publish_create(&fake_ops);
	uint64_t aliases = 0;

	for (unsigned i = 0; i < cfg->npools; i++) {
		assert_true(cfg->pools[i]->plain_aliases);
		aliases += cfg->pools[i]->naliases;
	}
	assert_true(aliases >= 3);
	reset(HELD_MAX);
	publish_config(p, cfg);
	assert_int_equal(status_field(p, "derived"), 2 * aliases);
	publish_destroy(p);
	config_free(cfg);
	/* topology: a prefix table per entry */
	cfg = fu_load_pools(fu_topology_pools);
	assert_non_null(cfg);
	assert_int_equal(compare_aliases(cfg, pool_named(cfg, "geo.example.test")), 2);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reload_unchanged),
	    cmocka_unit_test(test_reload_changed),
	    cmocka_unit_test(test_full_fast_path),
	    cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_alias_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

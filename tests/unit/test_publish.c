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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reload_unchanged),
	    cmocka_unit_test(test_reload_changed),
	    cmocka_unit_test(test_full_fast_path),
	    cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

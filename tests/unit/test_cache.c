/* test_cache.c -- the answer cache: lookups, expiry, replacement, the byte
 * budget (CLOCK eviction), flush, reclamation only after the workers'
 * quiescent points; and the RR reader that fills it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"
#include "wire.h"

/* Two workers' quiescent-state counters, as the server would give them. */
static _Atomic uint64_t qs[2];

static uint64_t worker_qs(void *arg, unsigned worker)
{
	(void)arg;
	return atomic_load(&qs[worker]);
}

static const struct cache_hooks hooks = {.worker_qs = worker_qs};

static int setup(void **state)
{
	(void)state;
	atomic_store(&qs[0], 0);
	atomic_store(&qs[1], 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return 0;
}

static struct centry *make(const char *text, uint16_t qtype, uint64_t now, uint32_t ttl,
			   size_t blob)
{
	uint8_t n[DNAME_MAXLEN];
	int len = dname_from_str(text, n, sizeof(n));
	struct centry *e = calloc(1, sizeof(*e) + blob);

	e->name_len = (uint8_t)len;
	memcpy(e->name, n, (size_t)len);
	e->qtype = qtype;
	e->qclass = CLASS_IN;
	e->digest = entry_digest(n, (size_t)len, qtype, CLASS_IN);
	e->inserted = now;
	e->ttl = ttl;
	e->expires = now + ttl;
	e->ede = 0xffff;
	e->blob_len = (uint32_t)blob;
	e->bytes = (uint32_t)(sizeof(*e) + blob);
	return e;
}

static const struct centry *find(struct cache *c, const char *text, uint16_t qtype, uint64_t now)
{
	uint8_t n[DNAME_MAXLEN];
	int len = dname_from_str(text, n, sizeof(n));

	return cache_lookup(c, 0, n, (size_t)len, qtype, CLASS_IN, now);
}

static void test_lookup_and_expiry(void **state)
{
	struct cache *c = cache_create(1 << 20, 2, &hooks);

	(void)state;
	cache_insert(c, make("www.example.org", TYPE_A, 100, 30, 16));
	assert_non_null(find(c, "www.example.org", TYPE_A, 100));
	assert_non_null(find(c, "www.example.org", TYPE_A, 129));
	assert_null(find(c, "www.example.org", TYPE_A, 130)); /* expired */
	assert_null(find(c, "www.example.org", TYPE_AAAA, 100));
	assert_null(find(c, "example.org", TYPE_A, 100));
	assert_int_equal(c->wstats[0].hits, 2);
	assert_int_equal(c->wstats[0].expired, 1);
	/* a refresh replaces the entry in place */
	cache_insert(c, make("www.example.org", TYPE_A, 200, 30, 16));
	assert_int_equal(c->entries, 1);
	assert_non_null(find(c, "www.example.org", TYPE_A, 210));
	cache_destroy(c);
}

static void test_budget(void **state)
{
	struct cache *c = cache_create(1 << 20, 2, &hooks);
	char name[64];

	(void)state;
	/* 4000 entries of ~1.3 KiB: far more than 1 MiB */
	for (int i = 0; i < 4000; i++) {
		snprintf(name, sizeof(name), "n%d.example.org", i);
		cache_insert(c, make(name, TYPE_A, 0, 300, 1024));
		assert_true(c->used_bytes <= c->max_bytes);
	}
	assert_true(c->evictions > 0);
	assert_true(c->entries < 4000 && c->entries > 100);
	/* the most recent one is still there */
	assert_non_null(find(c, "n3999.example.org", TYPE_A, 1));
	cache_destroy(c);
}

static void test_flush_and_reclaim(void **state)
{
	struct cache *c = cache_create(1 << 20, 2, &hooks);

	(void)state;
	cache_insert(c, make("a.example.org", TYPE_A, 0, 300, 0));
	cache_insert(c, make("a.example.org", TYPE_AAAA, 0, 300, 0));
	cache_insert(c, make("b.example.org", TYPE_A, 0, 300, 0));
	uint8_t n[DNAME_MAXLEN];

	dname_from_str("a.example.org", n, sizeof(n));
	assert_int_equal(cache_flush(c, n), 2);
	assert_null(find(c, "a.example.org", TYPE_A, 1));
	assert_non_null(find(c, "b.example.org", TYPE_A, 1));
	/* worker 1 is inside a batch (odd): nothing is freed until it moves */
	atomic_store(&qs[1], 1);
	cache_reclaim(c); /* closes the batch, snapshot taken */
	cache_reclaim(c);
	assert_non_null(c->retiring);
	atomic_store(&qs[1], 2);
	cache_reclaim(c);
	assert_null(c->retiring);
	assert_int_equal(cache_flush(c, NULL), 1);
	cache_destroy(c);
}

static void test_rr_read(void **state)
{
	/* a response: question www.example.org/A, answer CNAME (compressed
	 * target) and A, authority SOA with compressed names */
	static const uint8_t msg[] = {
		0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 1, 0, 0,
		3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 5, 2, 'w', '2', 0xc0, 16,
		0xc0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1,
		0xc0, 16, 0, 6, 0, 1, 0, 0, 0, 60, 0, 30, 2, 'n', 's', 0xc0, 16, 2, 'h', 'm', 0xc0, 16,
		0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,
	};
	struct wire_rr *rr = malloc(sizeof(*rr));
	size_t pos = 12;

	(void)state;
	assert_int_equal(wire_skip_question(msg, sizeof(msg), &pos, 1), CAR_EOK);
	assert_int_equal(wire_rr_read(msg, sizeof(msg), &pos, rr), CAR_EOK);
	assert_int_equal(rr->type, TYPE_CNAME);
	assert_int_equal(rr->rdlen, 16);
	assert_memory_equal(rr->rdata, "\2w2\7example\3org", 16);
	assert_int_equal(wire_rr_read(msg, sizeof(msg), &pos, rr), CAR_EOK);
	assert_memory_equal(rr->owner, "\2w2\7example\3org", 16);
	assert_int_equal(wire_rr_read(msg, sizeof(msg), &pos, rr), CAR_EOK);
	assert_int_equal(rr->type, TYPE_SOA);
	assert_int_equal(rr->rdlen, 16 + 16 + 20);
	assert_int_equal(pos, sizeof(msg));
	/* a pointer loop in RDATA is refused */
	uint8_t bad[sizeof(msg)];

	memcpy(bad, msg, sizeof(msg));
	bad[45 + 3] = 0xc0;
	bad[45 + 4] = 48; /* w2's pointer now points at itself */
	pos = 33;
	assert_int_not_equal(wire_rr_read(bad, sizeof(bad), &pos, rr), CAR_EOK);
	free(rr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_and_expiry),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_flush_and_reclaim),
		cmocka_unit_test(test_rr_read),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

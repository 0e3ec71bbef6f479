/* test_xfr.c -- the transfer state machine of control/xfr.c (included, so
 * its static functions are reachable): an AXFR builds a zone; an IXFR of
 * two differences is applied to the store; a deletion of a record we do
 * not have, differences out of sequence, records after the closing SOA,
 * another class and names outside the zone are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../control/xfr.c"

static struct xfr_zone zone;

static size_t soa_rdata(uint8_t *rd, uint32_t serial)
{
	size_t n = 0;
	int k = dname_from_str("ns.example.net.", rd, DNAME_MAXLEN);

	n += (size_t)k;
	k = dname_from_str("hm.example.net.", rd + n, DNAME_MAXLEN);
	n += (size_t)k;
	uint32_t f[5] = {serial, 3600, 60, 86400, 60};

	for (int i = 0; i < 5; i++, n += 4)
		wire_write32(rd + n, f[i]);
	return n;
}

/* One record into the state machine; its verdict. */
static int feed(struct xfer *x, const char *owner, uint16_t type, uint16_t cls, const uint8_t *rd,
		size_t len)
{
	uint8_t o[DNAME_MAXLEN];
	knot_rrset_t r;

	assert_true(dname_from_str(owner, o, sizeof(o)) > 0);
	knot_rrset_init(&r, o, type, cls, 60);
	assert_int_equal(knot_rrset_add_rdata(&r, rd, (uint16_t)len, NULL), KNOT_EOK);
	int rc = xfer_rr(x, &r);

	knot_rdataset_clear(&r.rrs, NULL);
	return rc;
}

static int soa(struct xfer *x, uint32_t serial)
{
	uint8_t rd[600];

	return feed(x, "example.net.", TYPE_SOA, KNOT_CLASS_IN, rd, soa_rdata(rd, serial));
}

static int a(struct xfer *x, const char *owner, uint8_t last)
{
	uint8_t rd[4] = {192, 0, 2, last};

	return feed(x, owner, TYPE_A, KNOT_CLASS_IN, rd, 4);
}

static bool has_a(const struct store *st, const char *owner, uint8_t last)
{
	uint8_t o[DNAME_MAXLEN], rd[4] = {192, 0, 2, last};
	size_t ol = (size_t)dname_from_str(owner, o, sizeof(o));
	uint32_t h = rec_hash(o, ol, TYPE_A, rd, 4);

	return *store_slot((struct store *)st, o, ol, TYPE_A, rd, 4, h) != NULL;
}

static uint32_t store_serial(const struct store *st)
{
	return soa_field(st->soa->data + st->soa->olen, st->soa->rdlen, 0);
}

static void start(struct xfer *x, bool ixfr)
{
	memset(x, 0, sizeof(*x));
	x->z = &zone;
	x->ixfr = ixfr;
}

static int setup(void **state)
{
	(void)state;
	memset(&zone, 0, sizeof(zone));
	dname_from_str("example.net.", zone.apex, sizeof(zone.apex));
	snprintf(zone.name, sizeof(zone.name), "example.net.");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_clear(&zone.st);
	return 0;
}

static void test_axfr(void **state)
{
	struct xfer x;

	(void)state;
	start(&x, false);
	assert_int_equal(soa(&x, 5), 0);
	assert_int_equal(a(&x, "a.example.net.", 1), 0);
	assert_int_equal(a(&x, "b.example.net.", 2), 0);
	assert_int_equal(a(&x, "b.example.net.", 2), 0); /* a duplicate is one record */
	assert_int_equal(soa(&x, 5), 0);
	assert_int_equal(x.phase, XP_DONE);
	assert_true(x.full);
	assert_int_equal(x.fresh.n, 3);
	assert_int_equal(store_serial(&x.fresh), 5);
	assert_true(has_a(&x.fresh, "a.example.net.", 1));
	/* nothing may follow the closing SOA */
	assert_int_equal(a(&x, "c.example.net.", 3), -1);
	store_clear(&x.fresh);

	/* another serial inside the zone, another class, a name outside */
	start(&x, false);
	soa(&x, 5);
	a(&x, "a.example.net.", 1);
	assert_int_equal(soa(&x, 6), -1);
	store_clear(&x.fresh);
	start(&x, false);
	soa(&x, 5);
	uint8_t rd[4] = {192, 0, 2, 9};

	assert_int_equal(feed(&x, "a.example.net.", TYPE_A, 3 /* CH */, rd, 4), -1);
	assert_int_equal(a(&x, "a.example.org.", 1), -1);
	store_clear(&x.fresh);
	/* an answer that does not start with the SOA */
	start(&x, false);
	assert_int_equal(a(&x, "a.example.net.", 1), -1);
}

/* The zone at serial 5: SOA, a (.1), b (.2). */
static void zone_at_5(void)
{
	struct xfer x;

	store_clear(&zone.st);
	start(&x, false);
	soa(&x, 5);
	a(&x, "a.example.net.", 1);
	a(&x, "b.example.net.", 2);
	soa(&x, 5);
	zone.st = x.fresh;
	zone.serial = 5;
	zone.have_data = true;
}

static void test_ixfr(void **state)
{
	struct xfer x;

	(void)state;
	zone_at_5();
	/* RFC 1995 4: 7, then 5 -> 6 (a out, c in), 6 -> 7 (d in), 7 */
	start(&x, true);
	assert_int_equal(soa(&x, 7), 0);
	assert_int_equal(soa(&x, 5), 0);
	assert_int_equal(x.phase, XP_DEL);
	assert_int_equal(a(&x, "a.example.net.", 1), 0);
	assert_int_equal(soa(&x, 6), 0);
	assert_int_equal(x.phase, XP_ADD);
	assert_int_equal(a(&x, "c.example.net.", 3), 0);
	assert_int_equal(soa(&x, 6), 0);
	assert_int_equal(soa(&x, 7), 0);
	assert_int_equal(a(&x, "d.example.net.", 4), 0);
	assert_int_equal(soa(&x, 7), 0);
	assert_int_equal(x.phase, XP_DONE);
	assert_false(x.full);
	assert_int_equal(x.changes, 3);
	assert_int_equal(store_serial(&zone.st), 7);
	assert_false(has_a(&zone.st, "a.example.net.", 1));
	assert_true(has_a(&zone.st, "b.example.net.", 2));
	assert_true(has_a(&zone.st, "c.example.net.", 3));
	assert_true(has_a(&zone.st, "d.example.net.", 4));
	assert_int_equal(zone.st.n, 4);
}

static void test_ixfr_errors(void **state)
{
	struct xfer x;

	(void)state;
	/* a deletion of a record we do not have */
	zone_at_5();
	start(&x, true);
	soa(&x, 6);
	soa(&x, 5);
	assert_int_equal(a(&x, "zz.example.net.", 9), -1);
	assert_string_equal(x.err, "the IXFR deletes a record we do not have");
	/* differences out of sequence: 5 -> 6, then one from 8 */
	zone_at_5();
	start(&x, true);
	soa(&x, 9);
	soa(&x, 5);
	soa(&x, 6);
	assert_int_equal(soa(&x, 8), -1);
	assert_string_equal(x.err, "the IXFR's differences are out of sequence");
	/* an IXFR answered AXFR-style: the whole zone, our store untouched */
	zone_at_5();
	start(&x, true);
	soa(&x, 6);
	assert_int_equal(a(&x, "x.example.net.", 7), 0);
	soa(&x, 6);
	assert_int_equal(x.phase, XP_DONE);
	assert_true(x.full);
	assert_int_equal(x.fresh.n, 2);
	assert_int_equal(zone.st.n, 3);
	store_clear(&x.fresh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_axfr),
		cmocka_unit_test(test_ixfr),
		cmocka_unit_test(test_ixfr_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_engine.c -- the answer engine on the bundled demo config: aliases,
 * rotation per worker, negative answers, referrals, truncation by whole
 * RRsets, error rcodes, case preservation. */
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
#include "wire.h"

static struct config *cfg;

static int setup(void **state)
{
	(void)state;
	cfg = fu_load_bundled();
	if (!cfg)
		return -1;
	config_set_workers(cfg, 4); /* the tests answer as workers 0-2 */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(cfg);
	return 0;
}

struct rr_view {
	uint8_t owner[DNAME_MAXLEN];
	uint16_t type;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
	size_t owner_off;
};

struct msg_view {
	uint16_t flags, an, ns, ar;
	unsigned count;
	struct rr_view rr[32];
};

static void view(const uint8_t *p, size_t len, struct msg_view *m)
{
	size_t pos = 12;
	uint8_t name[DNAME_MAXLEN];

	assert_true(len >= 12);
	m->flags = wire_read16(p + 2);
	m->an = wire_read16(p + 6);
	m->ns = wire_read16(p + 8);
	m->ar = wire_read16(p + 10);
	if (wire_read16(p + 4) == 1) {
		assert_true(wire_name_read(p, len, &pos, name) > 0);
		pos += 4;
	}
	m->count = (unsigned)(m->an + m->ns + m->ar);
	assert_true(m->count <= 32);
	for (unsigned i = 0; i < m->count; i++) {
		struct rr_view *r = &m->rr[i];

		r->owner_off = pos;
		assert_true(wire_name_read(p, len, &pos, r->owner) > 0);
		dname_lower(r->owner);
		assert_true(pos + 10 <= len);
		r->type = wire_read16(p + pos);
		r->ttl = wire_read32(p + pos + 4);
		r->rdlen = wire_read16(p + pos + 8);
		r->rdata = p + pos + 10;
		pos += 10 + r->rdlen;
		assert_true(pos <= len);
	}
	assert_int_equal(pos, len); /* nothing after the last record */
}

static unsigned rcode_of(const uint8_t *p)
{
	return p[3] & 0xf;
}

static size_t ask(const char *name, uint16_t qtype, int edns, bool tcp, uint8_t *out,
		  struct msg_view *m, unsigned worker)
{
	uint8_t q[512];
	struct engine_result r;
	size_t qlen = fu_dns_query(q, 0xabcd, name, qtype, edns, false);
	size_t len = engine_answer(cfg, &(struct engine_ctx){.worker = worker}, q, qlen, out, WIRE_TCP_MAX, tcp, &r);

	assert_true(len > 0);
	assert_int_equal(wire_read16(out), 0xabcd);
	view(out, len, m);
	return len;
}

static void test_alias_rotation(void **state)
{
	uint8_t out[WIRE_TCP_MAX];
	struct msg_view m;
	uint8_t first[3][4];

	(void)state;
	for (int i = 0; i < 3; i++) {
		ask("Www.Example.TEST", TYPE_A, 1232, false, out, &m, 0);
		assert_int_equal(rcode_of(out), RCODE_NOERROR);
		assert_true(m.flags & WIRE_AA);
		assert_true(m.flags & WIRE_RD);
		assert_false(m.flags & WIRE_RA);
		assert_int_equal(m.an, 4);
		assert_int_equal(m.rr[0].type, TYPE_CNAME);
		/* owner points at the question: the client's case is kept */
		assert_int_equal(out[m.rr[0].owner_off], 0xc0);
		assert_int_equal(out[m.rr[0].owner_off + 1], 12);
		assert_memory_equal(out + 12, "\3Www\7Example\4TEST", 18);
		for (int k = 1; k < 4; k++)
			assert_int_equal(m.rr[k].type, TYPE_A);
		memcpy(first[i], m.rr[1].rdata, 4);
		assert_int_equal(m.ar, 1); /* OPT */
	}
	assert_memory_equal(first[0], "\xc0\x00\x02\x0a", 4);
	assert_memory_equal(first[1], "\xc0\x00\x02\x0b", 4);
	assert_memory_equal(first[2], "\xc0\x00\x02\x0c", 4);
	/* worker 1 has its own counter: it starts from the first replica */
	ask("www.example.test", TYPE_A, 0, false, out, &m, 1);
	assert_memory_equal(m.rr[1].rdata, "\xc0\x00\x02\x0a", 4);
	/* AAAA rotates independently of A */
	ask("web.example.test", TYPE_AAAA, 0, false, out, &m, 0);
	assert_int_equal(m.an, 2);
	assert_int_equal(m.rr[0].rdata[15], 0x10);
}

static void test_negative(void **state)
{
	uint8_t out[WIRE_TCP_MAX];
	struct msg_view m;

	(void)state;
	ask("nope.example.test", TYPE_A, 0, false, out, &m, 0);
	assert_int_equal(rcode_of(out), RCODE_NXDOMAIN);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.ns, 1);
	assert_int_equal(m.rr[0].type, TYPE_SOA);
	assert_int_equal(m.rr[0].ttl, 300); /* min(SOA TTL, MINIMUM) */
	/* empty non-terminal: NODATA, not NXDOMAIN */
	ask("ent.example.test", TYPE_A, 0, false, out, &m, 0);
	assert_int_equal(rcode_of(out), RCODE_NOERROR);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.rr[0].type, TYPE_SOA);
	/* unknown type: NODATA */
	ask("static.example.test", 4321, 0, false, out, &m, 0);
	assert_int_equal(rcode_of(out), RCODE_NOERROR);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.ns, 1);
}

static void test_referral_and_wildcard(void **state)
{
	uint8_t out[WIRE_TCP_MAX];
	struct msg_view m;

	(void)state;
	ask("deep.sub.example.test", TYPE_A, 0, false, out, &m, 0);
	assert_int_equal(rcode_of(out), RCODE_NOERROR);
	assert_false(m.flags & WIRE_AA);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.ns, 1);
	assert_int_equal(m.rr[0].type, TYPE_NS);
	assert_int_equal(m.ar, 1);
	assert_int_equal(m.rr[1].type, TYPE_A); /* glue */
	ask("a.b.wild.example.test", TYPE_TXT, 0, false, out, &m, 0);
	assert_int_equal(m.an, 1);
	assert_true(m.flags & WIRE_AA);
	assert_int_equal(out[m.rr[0].owner_off], 0xc0); /* synthesised owner = qname */
	assert_int_equal(out[m.rr[0].owner_off + 1], 12);
}

static void test_mx_srv_additional(void **state)
{
	uint8_t out[WIRE_TCP_MAX];
	struct msg_view m;

	(void)state;
	ask("mail.example.test", TYPE_MX, 0, false, out, &m, 0);
	assert_int_equal(m.an, 1);
	assert_int_equal(m.ar, 3); /* the mx pool: 2 A, 1 AAAA */
	ask("_imaps._tcp.example.test", TYPE_SRV, 0, false, out, &m, 0);
	assert_int_equal(m.an, 1);
	assert_int_equal(wire_read16(m.rr[0].rdata + 4), 993);
	assert_int_equal(m.ar, 3);
}

static void test_truncation(void **state)
{
	uint8_t out[WIRE_TCP_MAX];
	struct msg_view m;
	size_t len;

	(void)state;
	len = ask("big.example.test", TYPE_TXT, 0, false, out, &m, 0);
	assert_true(m.flags & WIRE_TC);
	assert_int_equal(m.an, 0); /* whole RRset or nothing */
	assert_true(len <= 512);
	len = ask("big.example.test", TYPE_TXT, 1232, false, out, &m, 0);
	assert_true(m.flags & WIRE_TC);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.ar, 1); /* OPT is still there */
	len = ask("big.example.test", TYPE_TXT, 0, true, out, &m, 0);
	assert_false(m.flags & WIRE_TC);
	assert_int_equal(m.an, 6);
	assert_true(len > 1232);
}

static void test_errors(void **state)
{
	uint8_t q[512], out[WIRE_TCP_MAX];
	struct engine_result r;
	struct msg_view m;
	size_t qlen, len;

	(void)state;
	ask("example.org", TYPE_A, 0, false, out, &m, 0);
	assert_int_equal(rcode_of(out), RCODE_REFUSED);
	assert_false(m.flags & WIRE_AA);
	ask("example.test", TYPE_OPT, 0, false, out, &m, 0);
	assert_int_equal(rcode_of(out), RCODE_FORMERR);
	ask("example.test", TYPE_AXFR, 0, true, out, &m, 0);
	assert_int_equal(rcode_of(out), RCODE_REFUSED);
	/* BADVERS: extended rcode 1 in OPT, low bits 0 in the header */
	qlen = fu_dns_query(q, 0xabcd, "example.test", TYPE_SOA, 1232, false);
	q[qlen - 5] = 1;
	len = engine_answer(cfg, &(struct engine_ctx){.worker = 0}, q, qlen, out, sizeof(out), false, &r);
	view(out, len, &m);
	assert_int_equal(r.rcode, RCODE_BADVERS);
	assert_int_equal(rcode_of(out), 0);
	assert_int_equal(m.ar, 1);
	assert_int_equal(m.rr[0].ttl >> 24, 1);
	/* NOTIMP for opcode STATUS */
	qlen = fu_dns_query(q, 0xabcd, "example.test", TYPE_SOA, 0, false);
	q[2] |= 2 << 3;
	len = engine_answer(cfg, &(struct engine_ctx){.worker = 0}, q, qlen, out, sizeof(out), false, &r);
	assert_int_equal(rcode_of(out), RCODE_NOTIMP);
	assert_int_equal(out[2] & 0x78, 2 << 3);
	/* garbage: FORMERR without a question */
	memset(q, 0xff, 40);
	q[2] = 0x01;
	len = engine_answer(cfg, &(struct engine_ctx){.worker = 0}, q, 40, out, sizeof(out), false, &r);
	assert_int_equal(len, 12);
	assert_int_equal(rcode_of(out), RCODE_FORMERR);
	/* a response is never answered */
	q[2] = 0x81;
	assert_int_equal(engine_answer(cfg, &(struct engine_ctx){.worker = 0}, q, 40, out, sizeof(out), false, &r), 0);
	assert_true(r.dropped);
}

static void test_chain_and_out_of_zone(void **state)
{
	uint8_t out[WIRE_TCP_MAX];
	struct msg_view m;

	(void)state;
	ask("chain.example.test", TYPE_A, 0, false, out, &m, 2);
	assert_int_equal(m.an, 5); /* chain -> www -> web -> 3 A */
	assert_int_equal(m.rr[0].type, TYPE_CNAME);
	assert_int_equal(m.rr[1].type, TYPE_CNAME);
	ask("ext.example.test", TYPE_A, 0, false, out, &m, 0);
	assert_int_equal(m.an, 1);
	assert_int_equal(m.rr[0].type, TYPE_CNAME);
	assert_int_equal(rcode_of(out), RCODE_NOERROR);
	/* ANY: one RRset (RFC 8482) */
	ask("static.example.test", TYPE_ANY, 0, false, out, &m, 0);
	assert_int_equal(m.an, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alias_rotation),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_referral_and_wildcard),
		cmocka_unit_test(test_mx_srv_additional),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_chain_and_out_of_zone),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

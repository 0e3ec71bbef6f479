/* test_wire.c -- lib/wire and lib/dname: parser verdicts on valid and
 * hostile queries, builder compression, name text conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dname.h"
#include "wire.h"

/* A query for www.example.test/A; tests then break one thing. */
static size_t make_query(uint8_t *p, bool edns)
{
	static const uint8_t q[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'w', 'W', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
		0, 1, 0, 1,
	};
	static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0};

	memcpy(p, q, sizeof(q));
	if (!edns)
		return sizeof(q);
	memcpy(p + sizeof(q), opt, sizeof(opt));
	p[11] = 1;
	return sizeof(q) + sizeof(opt);
}

static void test_valid(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, true);

	(void)state;
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_ANSWER);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.qtype, TYPE_A);
	assert_int_equal(q.qclass, CLASS_IN);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_udp, 4096);
	assert_int_equal(q.edns_flags, WIRE_EDNS_DO);
	assert_int_equal(q.qname_len, 18);
	/* lower-cased for lookup */
	assert_memory_equal(q.qname, "\3www\7example\4test", 18);
	assert_int_equal(q.question_end, 34);
}

static void test_truncated(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, true);

	(void)state;
	assert_int_equal(wire_query_parse(p, 11, &q), WIRE_DROP);
	for (size_t cut = 12; cut < len; cut++)
		assert_int_equal(wire_query_parse(p, cut, &q), WIRE_FORMERR);
}

static void test_response_dropped(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, false);

	(void)state;
	p[2] |= 0x80;
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_DROP);
}

static void test_pointer_loop(void **state)
{
	uint8_t p[64] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	struct wire_query q;

	(void)state;
	/* label "a" then a pointer to itself */
	memcpy(p + 12, "\1a\xc0\x0c\0\1\0\1", 8);
	assert_int_equal(wire_query_parse(p, 20, &q), WIRE_FORMERR);
	/* pointer pointing at itself */
	memcpy(p + 12, "\xc0\x0c\0\1\0\1", 6);
	assert_int_equal(wire_query_parse(p, 18, &q), WIRE_FORMERR);
	/* forward pointer */
	memcpy(p + 12, "\xc0\x10\0\1\1a\0", 7);
	assert_int_equal(wire_query_parse(p, 19, &q), WIRE_FORMERR);
}

static void test_pointer_into_header(void **state)
{
	uint8_t p[64] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	struct wire_query q;

	(void)state;
	memcpy(p + 12, "\xc0\x02\0\1\0\1", 6);
	assert_int_equal(wire_query_parse(p, 18, &q), WIRE_FORMERR);
}

static void test_backward_pointer_in_additional(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, false);

	(void)state;
	/* an additional record whose owner points at the question name */
	static const uint8_t rr[] = {0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0};

	memcpy(p + len, rr, sizeof(rr));
	p[11] = 1;
	assert_int_equal(wire_query_parse(p, len + sizeof(rr), &q), WIRE_ANSWER);
	assert_false(q.has_edns);
}

static void test_label_64(void **state)
{
	uint8_t p[512] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	struct wire_query q;

	(void)state;
	p[12] = 64; /* 0x40: a reserved label type, not a length */
	memset(p + 13, 'a', 64);
	p[77] = 0;
	memcpy(p + 78, "\0\1\0\1", 4);
	assert_int_equal(wire_query_parse(p, 82, &q), WIRE_FORMERR);
	p[12] = 63; /* the longest label is fine */
	p[76] = 0;
	memcpy(p + 77, "\0\1\0\1", 4);
	assert_int_equal(wire_query_parse(p, 81, &q), WIRE_ANSWER);
}

static size_t long_name_query(uint8_t *p, size_t namelen)
{
	size_t pos = 12;

	memset(p, 0, 12);
	p[5] = 1;
	/* labels of 49 bytes (50 on the wire) then one filler label */
	while (namelen - (pos - 12) > 51) {
		p[pos] = 49;
		memset(p + pos + 1, 'x', 49);
		pos += 50;
	}
	size_t rest = namelen - (pos - 12) - 2;

	p[pos] = (uint8_t)rest;
	memset(p + pos + 1, 'y', rest);
	pos += 1 + rest;
	p[pos++] = 0;
	memcpy(p + pos, "\0\1\0\1", 4);
	return pos + 4;
}

static void test_name_256(void **state)
{
	uint8_t p[600];
	struct wire_query q;

	(void)state;
	size_t len = long_name_query(p, 255);

	assert_int_equal(wire_query_parse(p, len, &q), WIRE_ANSWER);
	assert_int_equal(q.qname_len, 255);
	len = long_name_query(p, 256);
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_FORMERR);
}

static void test_qdcount(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, false);

	(void)state;
	p[5] = 0;
	assert_int_equal(wire_query_parse(p, 12, &q), WIRE_FORMERR);
	assert_false(q.question_ok);
	p[5] = 2;
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_FORMERR);
	assert_false(q.question_ok);
}

static void test_opt_twice(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, true);

	(void)state;
	memcpy(p + len, p + len - 11, 11);
	p[11] = 2;
	assert_int_equal(wire_query_parse(p, len + 11, &q), WIRE_FORMERR);
	assert_true(q.question_ok); /* FORMERR echoes the question */
}

static void test_opt_bad(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, true);

	(void)state;
	p[len - 11] = 1; /* owner not the root: "\1" eats the type byte */
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_FORMERR);
	len = make_query(p, true);
	/* an option whose length runs past the RDATA */
	static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9};

	memcpy(p + len - 11, opt, sizeof(opt));
	assert_int_equal(wire_query_parse(p, len - 11 + sizeof(opt), &q), WIRE_FORMERR);
	/* the same option, well-formed: unknown options are fine */
	static const uint8_t ok[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 0};

	memcpy(p + len - 11, ok, sizeof(ok));
	assert_int_equal(wire_query_parse(p, len - 11 + sizeof(ok), &q), WIRE_ANSWER);
	assert_int_equal(q.edns_options, 1);
}

/* The query with one ECS option (RFC 7871 6) of olen bytes. */
static enum wire_verdict with_ecs(const uint8_t *ecs, size_t olen, struct wire_query *q)
{
	static uint8_t p[512];
	size_t len = make_query(p, true) - 11;
	uint8_t opt[11] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};

	opt[10] = (uint8_t)(4 + olen);
	memcpy(p + len, opt, sizeof(opt));
	len += sizeof(opt);
	p[len++] = 0;
	p[len++] = WIRE_OPT_ECS;
	p[len++] = 0;
	p[len++] = (uint8_t)olen;
	memcpy(p + len, ecs, olen);
	return wire_query_parse(p, len + olen, q);
}

static void test_ecs(void **state)
{
	struct wire_query q;

	(void)state;
	static const uint8_t v4[] = {0, 1, 20, 0, 127, 77, 16}; /* 127.77.16.0/20 */
	assert_int_equal(with_ecs(v4, sizeof(v4), &q), WIRE_ANSWER);
	assert_int_equal(q.ecs_family, 1);
	assert_int_equal(q.ecs_source, 20);
	assert_memory_equal(q.ecs_addr, ((uint8_t[]){127, 77, 16, 0}), 4);
	static const uint8_t zero[] = {0, 2, 0, 0}; /* ::/0: no address bytes */
	assert_int_equal(with_ecs(zero, sizeof(zero), &q), WIRE_ANSWER);
	assert_int_equal(q.ecs_family, 2);
	static const uint8_t bits[] = {0, 1, 20, 0, 127, 77, 17}; /* a bit past /20 */
	assert_int_equal(with_ecs(bits, sizeof(bits), &q), WIRE_FORMERR);
	static const uint8_t extra[] = {0, 1, 8, 0, 127, 0}; /* 2 bytes for a /8 */
	assert_int_equal(with_ecs(extra, sizeof(extra), &q), WIRE_FORMERR);
	static const uint8_t family[] = {0, 3, 0, 0};
	assert_int_equal(with_ecs(family, sizeof(family), &q), WIRE_FORMERR);
	static const uint8_t source[] = {0, 1, 33, 0, 1, 2, 3, 4, 5};
	assert_int_equal(with_ecs(source, sizeof(source), &q), WIRE_FORMERR);
	static const uint8_t scope[] = {0, 1, 8, 8, 127}; /* scope must be 0 in a query */
	assert_int_equal(with_ecs(scope, sizeof(scope), &q), WIRE_FORMERR);
	assert_int_equal(with_ecs(v4, 3, &q), WIRE_FORMERR); /* shorter than its header */
}

static void test_edns_version(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, true);

	(void)state;
	p[len - 5] = 1; /* version byte of the OPT TTL */
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_BADVERS);
	assert_int_equal(q.edns_version, 1);
}

static void test_opcode_and_counts(void **state)
{
	uint8_t p[512];
	struct wire_query q;
	size_t len = make_query(p, false);

	(void)state;
	p[2] = (uint8_t)(p[2] | (2 << 3)); /* STATUS */
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_NOTIMP);
	assert_true(q.question_ok);
	len = make_query(p, false);
	p[7] = 1; /* ancount that lies */
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_FORMERR);
	len = make_query(p, false);
	p[len] = 0; /* trailing garbage */
	assert_int_equal(wire_query_parse(p, len + 1, &q), WIRE_FORMERR);
	len = make_query(p, false);
	p[11] = 200; /* arcount beyond the work cap (RFC 9267) */
	assert_int_equal(wire_query_parse(p, len, &q), WIRE_FORMERR);
}

static void test_builder_compression(void **state)
{
	uint8_t q[512], out[512];
	struct wire_query wq;
	struct wire_buf b;
	uint8_t web[DNAME_MAXLEN], www[DNAME_MAXLEN];

	(void)state;
	size_t qlen = make_query(q, false);

	assert_int_equal(wire_query_parse(q, qlen, &wq), WIRE_ANSWER);
	wire_buf_init(&b, out, sizeof(out));
	wire_reply_begin(&b, q, &wq);
	assert_int_equal(b.len, 34);
	/* the question keeps the client's case */
	assert_memory_equal(out + 12, "\3wWw", 4);
	dname_from_str("www.example.test.", www, sizeof(www));
	wire_put_name(&b, www, true);
	assert_int_equal(b.len, 36);
	assert_int_equal(out[34], 0xc0);
	assert_int_equal(out[35], 12);
	/* web.example.test -> "web" + pointer to example.test at 16 */
	dname_from_str("WEB.example.test", web, sizeof(web));
	wire_put_name(&b, web, true);
	assert_int_equal(b.len, 36 + 4 + 2);
	assert_memory_equal(out + 36, "\3WEB\xc0\x10", 6);
	/* and now web.example.test is itself a target */
	dname_lower(web);
	wire_put_name(&b, web, true);
	assert_memory_equal(out + 42, "\xc0\x24", 2);
	/* uncompressed (SRV target) */
	wire_put_name(&b, web, false);
	assert_int_equal(b.len, 44 + 18);
	assert_int_equal(b.err, CAR_EOK);
}

static void test_builder_space(void **state)
{
	uint8_t out[16];
	struct wire_buf b;
	uint8_t name[DNAME_MAXLEN];

	(void)state;
	wire_buf_init(&b, out, sizeof(out));
	wire_put_u32(&b, 1);
	struct wire_mark m = wire_buf_mark(&b);

	dname_from_str("example.test", name, sizeof(name));
	wire_put_name(&b, name, true);
	wire_put_u32(&b, 2);
	assert_int_equal(b.err, CAR_ESPACE); /* sticky */
	wire_buf_rollback(&b, m);
	assert_int_equal(b.len, 4);
	assert_int_equal(b.err, CAR_EOK);
}

static void test_dname_text(void **state)
{
	uint8_t n[DNAME_MAXLEN];
	char s[DNAME_STRLEN];

	(void)state;
	assert_int_equal(dname_from_str("www.Example.test.", n, sizeof(n)), 18);
	assert_int_equal(dname_from_str("www.Example.test", n, sizeof(n)), 18);
	assert_int_equal(dname_from_str(".", n, sizeof(n)), 1);
	assert_int_equal(dname_from_str("a..b", n, sizeof(n)), CAR_EMALF);
	assert_int_equal(dname_from_str("", n, sizeof(n)), CAR_EMALF);
	assert_int_equal(dname_from_str("a\\.b.test", n, sizeof(n)), 10);
	assert_int_equal(n[0], 3);
	char label[80];

	memset(label, 'a', 64);
	label[64] = '\0';
	assert_int_equal(dname_from_str(label, n, sizeof(n)), CAR_EMALF);
	label[63] = '\0';
	assert_int_equal(dname_from_str(label, n, sizeof(n)), 65);
	dname_from_str("a\\032b.Test.", n, sizeof(n));
	dname_to_str(n, s, sizeof(s));
	assert_string_equal(s, "a\\032b.Test.");
	uint8_t sub[DNAME_MAXLEN], parent[DNAME_MAXLEN];

	dname_from_str("x.y.test", sub, sizeof(sub));
	dname_from_str("y.test", parent, sizeof(parent));
	assert_true(dname_is_sub(sub, parent));
	assert_false(dname_is_sub(parent, sub));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_response_dropped),
		cmocka_unit_test(test_pointer_loop),
		cmocka_unit_test(test_pointer_into_header),
		cmocka_unit_test(test_backward_pointer_in_additional),
		cmocka_unit_test(test_label_64),
		cmocka_unit_test(test_name_256),
		cmocka_unit_test(test_qdcount),
		cmocka_unit_test(test_opt_twice),
		cmocka_unit_test(test_opt_bad),
		cmocka_unit_test(test_edns_version),
		cmocka_unit_test(test_ecs),
		cmocka_unit_test(test_opcode_and_counts),
		cmocka_unit_test(test_builder_compression),
		cmocka_unit_test(test_builder_space),
		cmocka_unit_test(test_dname_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_tsig.c -- TSIG (RFC 8945): a signed request verifies and a changed
 * byte, another key, a stale time do not; a transfer's responses verify
 * message by message against MACs computed here independently (§4.3.1 for
 * the first, §4.3.2 for the later ones with unsigned messages between);
 * RFC 1982 serial arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/hmac.h>

#include "tsig.h"
#include "wire.h"
#include "xfr.h"

#define NOW 1700000000ULL

static void key_init(struct tsig_key *k, const char *name, const char *b64)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(dname_from_str(name, k->name, sizeof(k->name)) > 0, 1);
	k->alg = TSIG_HMAC_SHA256;
	assert_int_equal(tsig_key_secret(k, b64), 0);
}

/* A message: header (id, flags, counts) and one question example.net./SOA,
 * plus n answer A records (so transfer messages differ). */
static size_t message(uint8_t *m, uint16_t id, uint16_t flags, unsigned n)
{
	static const uint8_t q[] = {7,	 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
				    'n', 'e', 't', 0,	0,   6,	  0,   1};
	size_t len = WIRE_HDR_LEN;

	memset(m, 0, WIRE_HDR_LEN);
	wire_write16(m, id);
	wire_write16(m + 2, flags);
	wire_write16(m + 4, 1);
	wire_write16(m + 6, (uint16_t)n);
	memcpy(m + len, q, sizeof(q));
	len += sizeof(q);
	for (unsigned i = 0; i < n; i++) {
		static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2};

		memcpy(m + len, rr, sizeof(rr));
		m[len + sizeof(rr)] = (uint8_t)i;
		len += sizeof(rr) + 1;
	}
	return len;
}

static void test_request(void **state)
{
	struct tsig_key k, other;
	uint8_t m[1024], mac[TSIG_MAC_MAX];
	size_t mac_len, len = message(m, 0x1234, 0, 0);
	struct tsig_rr t;

	(void)state;
	key_init(&k, "xfr-key.", "Y2Fyb3VzZWwtZmxlZXQtdGVzdC1zZWNyZXQtMDEyMw==");
	key_init(&other, "xfr-key.", "bm90LXRoZS1zZWNyZXQtdGhlLXByaW1hcnktaGFzIQ==");
	size_t signed_len = tsig_sign(&k, m, len, sizeof(m), NULL, 0, NOW, mac, &mac_len);

	assert_true(signed_len > len);
	assert_int_equal(mac_len, 32);
	assert_int_equal(wire_read16(m + 10), 1);
	assert_int_equal(tsig_find(m, signed_len, &t), 1);
	assert_int_equal(t.off, len);
	assert_int_equal(t.mac_len, 32);
	assert_memory_equal(t.mac, mac, 32);
	assert_int_equal(tsig_verify_request(&k, m, signed_len, &t, NOW + 10), 0);
	assert_int_equal(tsig_verify_request(&other, m, signed_len, &t, NOW), TSIG_BADSIG);
	assert_int_equal(tsig_verify_request(NULL, m, signed_len, &t, NOW), TSIG_BADKEY);
	assert_int_equal(tsig_verify_request(&k, m, signed_len, &t, NOW + 301), TSIG_BADTIME);
	other.alg = TSIG_HMAC_SHA512;
	assert_int_equal(tsig_verify_request(&other, m, signed_len, &t, NOW), TSIG_BADKEY);
	m[13] ^= 0x20; /* one bit of the question */
	assert_int_equal(tsig_verify_request(&k, m, signed_len, &t, NOW), TSIG_BADSIG);
	m[13] ^= 0x20;
	/* a TSIG that is not the last record is malformed */
	wire_write16(m + 10, 2);
	assert_int_equal(tsig_find(m, signed_len, &t), -1);
	/* truncated */
	wire_write16(m + 10, 1);
	assert_int_equal(tsig_find(m, signed_len - 1, &t), -1);
	assert_int_equal(tsig_find(m, len, &t), -1); /* ARCOUNT 1, nothing there */
	wire_write16(m + 10, 0);
	assert_int_equal(tsig_find(m, len, &t), 0);
}

/* The TSIG RR a primary appends to a later message: MAC over prior MAC,
 * the messages since, and the timers (RFC 8945 4.3.2), computed here with
 * OpenSSL's one-shot HMAC as an independent check of tsig.c. */
static size_t sign_next(const struct tsig_key *k, uint8_t *prior, size_t *prior_len,
			const uint8_t *unsigned_msgs, size_t ulen, uint8_t *m, size_t len)
{
	uint8_t buf[8192], mac[64], alg[32];
	size_t n = 0;
	unsigned ml = 0;
	int al = dname_from_str("hmac-sha256", alg, sizeof(alg));

	buf[n++] = (uint8_t)(*prior_len >> 8);
	buf[n++] = (uint8_t)*prior_len;
	memcpy(buf + n, prior, *prior_len);
	n += *prior_len;
	memcpy(buf + n, unsigned_msgs, ulen);
	n += ulen;
	memcpy(buf + n, m, len);
	n += len;
	uint8_t timers[8] = {
	    0, 0, (uint8_t)(NOW >> 24), (uint8_t)(NOW >> 16), (uint8_t)(NOW >> 8), (uint8_t)NOW,
	    1, 44};

	memcpy(buf + n, timers, 8);
	n += 8;
	HMAC(EVP_sha256(), k->secret, (int)k->secret_len, buf, n, mac, &ml);
	/* append the TSIG RR */
	size_t p = len, nl = dname_len(k->name);

	memcpy(m + p, k->name, nl);
	p += nl;
	wire_write16(m + p, TSIG_TYPE);
	wire_write16(m + p + 2, TSIG_CLASS_ANY);
	wire_write32(m + p + 4, 0);
	wire_write16(m + p + 8, (uint16_t)(al + 10 + ml + 6));
	p += 10;
	memcpy(m + p, alg, (size_t)al);
	p += (size_t)al;
	memcpy(m + p, timers, 8);
	wire_write16(m + p + 8, (uint16_t)ml);
	p += 10;
	memcpy(m + p, mac, ml);
	p += ml;
	wire_write16(m + p, wire_read16(m));
	wire_write16(m + p + 2, 0);
	wire_write16(m + p + 4, 0);
	p += 6;
	wire_write16(m + 10, (uint16_t)(wire_read16(m + 10) + 1));
	memcpy(prior, mac, ml);
	*prior_len = ml;
	return p;
}

static void test_stream(void **state)
{
	struct tsig_key k;
	struct tsig_stream s;
	uint8_t req[512], r1[1024], r2[1024], r3[1024], r4[1024], both[2048];
	uint8_t req_mac[TSIG_MAC_MAX], prior[TSIG_MAC_MAX];
	size_t req_mac_len, prior_len;
	const char *why = NULL;

	(void)state;
	key_init(&k, "xfr-key.", "Y2Fyb3VzZWwtZmxlZXQtdGVzdC1zZWNyZXQtMDEyMw==");
	size_t ql = tsig_sign(&k, req, message(req, 7, 0, 0), sizeof(req), NULL, 0, NOW, req_mac,
			      &req_mac_len);

	assert_true(ql > 0);
	/* first response: signed over the request MAC (§4.3.1) */
	size_t l1 = tsig_sign(&k, r1, message(r1, 7, WIRE_QR | WIRE_AA, 3), sizeof(r1), req_mac,
			      req_mac_len, NOW, prior, &prior_len);
	/* two unsigned messages, then a signed one covering both (§5.3.1) */
	size_t l2 = message(r2, 7, WIRE_QR | WIRE_AA, 4);
	size_t l3 = message(r3, 7, WIRE_QR | WIRE_AA, 5);

	memcpy(both, r2, l2);
	memcpy(both + l2, r3, l3);
	size_t l4 = sign_next(&k, prior, &prior_len, both, l2 + l3, r4,
			      message(r4, 7, WIRE_QR | WIRE_AA, 2));

	tsig_stream_init(&s, &k, req_mac, req_mac_len);
	assert_int_equal(tsig_stream_next(&s, r1, l1, NOW, &why), 0);
	assert_int_equal(tsig_stream_next(&s, r2, l2, NOW, &why), 0);
	assert_int_equal(tsig_stream_end(&s, &why), -1); /* the last one was unsigned */
	assert_int_equal(tsig_stream_next(&s, r3, l3, NOW, &why), 0);
	assert_int_equal(tsig_stream_next(&s, r4, l4, NOW, &why), 0);
	assert_int_equal(tsig_stream_end(&s, &why), 0);
	tsig_stream_free(&s);

	/* a changed byte in an unsigned message breaks the next MAC */
	tsig_stream_init(&s, &k, req_mac, req_mac_len);
	assert_int_equal(tsig_stream_next(&s, r1, l1, NOW, &why), 0);
	r2[l2 - 1] ^= 1;
	assert_int_equal(tsig_stream_next(&s, r2, l2, NOW, &why), 0);
	assert_int_equal(tsig_stream_next(&s, r3, l3, NOW, &why), 0);
	assert_int_equal(tsig_stream_next(&s, r4, l4, NOW, &why), -1);
	tsig_stream_free(&s);
	r2[l2 - 1] ^= 1;

	/* an unsigned first response is refused */
	tsig_stream_init(&s, &k, req_mac, req_mac_len);
	assert_int_equal(tsig_stream_next(&s, r2, l2, NOW, &why), -1);
	tsig_stream_free(&s);

	/* the first response against another request's MAC */
	req_mac[0] ^= 1;
	tsig_stream_init(&s, &k, req_mac, req_mac_len);
	assert_int_equal(tsig_stream_next(&s, r1, l1, NOW, &why), -1);
	tsig_stream_free(&s);
}

static void test_secret(void **state)
{
	struct tsig_key k;

	(void)state;
	assert_int_equal(tsig_key_secret(&k, "YWJj"), 0);
	assert_int_equal(k.secret_len, 3);
	assert_int_equal(tsig_key_secret(&k, "YWI="), 0);
	assert_int_equal(k.secret_len, 2);
	assert_int_equal(tsig_key_secret(&k, "not base64!"), -1);
	assert_int_equal(tsig_key_secret(&k, ""), -1);
	assert_int_equal(tsig_alg_from_str("hmac-sha256."), TSIG_HMAC_SHA256);
	assert_int_equal(tsig_alg_from_str("HMAC-SHA1"), TSIG_HMAC_SHA1);
	assert_int_equal(tsig_alg_from_str("hmac-md5"), -1);
}

static void test_serial(void **state)
{
	(void)state;
	/* RFC 1982 3.2 */
	assert_true(xfr_serial_gt(5, 4294967295u)); /* the wrap: newer */
	assert_false(xfr_serial_gt(4294967295u, 5));
	assert_true(xfr_serial_gt(1, 0));
	assert_false(xfr_serial_gt(0, 1));
	assert_false(xfr_serial_gt(7, 7));
	assert_true(xfr_serial_gt(0x7fffffffu, 0));
	/* 2^31 apart: undefined, never taken as newer */
	assert_false(xfr_serial_gt(0x80000000u, 0));
	assert_false(xfr_serial_gt(0, 0x80000000u));
	assert_true(xfr_serial_gt(2000000000u, 4000000000u) == false);
	assert_true(xfr_serial_gt(4000000000u, 2000000000u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request),
	    cmocka_unit_test(test_stream),
	    cmocka_unit_test(test_secret),
	    cmocka_unit_test(test_serial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cookie.c -- SipHash-2-4 against its reference vector, and RFC 9018
 * Appendix A server cookies (IPv4 and IPv6, secret rotation), the age
 * window and its wrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "cookie.h"
#include "siphash.h"

static void unhex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
}

static void test_siphash_reference(void **state)
{
	/* the paper's Appendix A: key 00..0f, message 00..0e */
	uint8_t key[16], msg[15];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_int_equal(siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
}

static void vector(const char *secret_hex, const char *client_hex, const char *ip_text,
		   uint32_t ts, const char *want_hex)
{
	uint8_t secret[16], client[8], ip[16], want[16], got[16];
	int v6 = strchr(ip_text, ':') != NULL;

	unhex(secret_hex, secret);
	unhex(client_hex, client);
	unhex(want_hex, want);
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, ip_text, ip), 1);
	cookie_make(secret, client, ip, v6 ? 16 : 4, ts, got);
	assert_memory_equal(got, want, 16);
	assert_int_equal(cookie_check(secret, client, got, 16, ip, v6 ? 16 : 4, ts), COOKIE_VALID);
}

static void test_rfc9018_vectors(void **state)
{
	(void)state;
	/* A.1 learning a new server cookie */
	vector("e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100",
	       1559731985, "010000005cf79f111f8130c3eee29480");
	/* A.2 the same client learning a renewed cookie */
	vector("e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100",
	       1559734385, "010000005cf7a871d4a564a1442aca77");
	/* A.4 IPv6, after the secret was rotated */
	vector("445536bcd2513298075a5d379663c962", "22681ab97d52c298",
	       "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, "010000005cf7c609a6bb79d16625507a");
}

static void test_check(void **state)
{
	uint8_t s1[16], s2[16], client[8], server[16], ip4[4], ip6[16];

	(void)state;
	unhex("e5e973e5a6b2a43f48e7dc849e37bfcf", s1);
	unhex("dd3bdf9344b678b185a6f5cb60fca715", s2);
	/* A.3: the reserved bytes the client returns are part of the hash */
	unhex("fc93fc62807ddb86", client);
	unhex("01abcdef5cf78f71a314227b6679ebf5", server);
	inet_pton(AF_INET, "203.0.113.203", ip4);
	assert_int_not_equal(cookie_check(s1, client, server, 16, ip4, 4, 0x5cf78f71),
			     COOKIE_INVALID);
	inet_pton(AF_INET, "203.0.113.204", ip4);
	assert_int_equal(cookie_check(s1, client, server, 16, ip4, 4, 0x5cf78f71), COOKIE_INVALID);
	/* A.4: the old secret's cookie still checks with the old secret only */
	unhex("22681ab97d52c298", client);
	unhex("010000005cf7c57926556bd0934c72f8", server);
	inet_pton(AF_INET6, "2001:db8:220:1:59de:d0f4:8769:82b8", ip6);
	assert_int_equal(cookie_check(s2, client, server, 16, ip6, 16, 0x5cf7c579), COOKIE_VALID);
	assert_int_equal(cookie_check(s1, client, server, 16, ip6, 16, 0x5cf7c579), COOKIE_INVALID);
	/* the window: worn after 30 min, gone after an hour, 5 min skew */
	assert_int_equal(cookie_check(s2, client, server, 16, ip6, 16, 0x5cf7c579 + 1801),
			 COOKIE_WORN);
	assert_int_equal(cookie_check(s2, client, server, 16, ip6, 16, 0x5cf7c579 + 3601),
			 COOKIE_INVALID);
	assert_int_equal(cookie_check(s2, client, server, 16, ip6, 16, 0x5cf7c579 - 300),
			 COOKIE_VALID);
	assert_int_equal(cookie_check(s2, client, server, 16, ip6, 16, 0x5cf7c579 - 301),
			 COOKIE_INVALID);
	/* across the 2^32 wrap an hour is still an hour */
	cookie_make(s1, client, ip6, 16, 4294964696u, server);
	assert_int_equal(cookie_check(s1, client, server, 16, ip6, 16, 1000), COOKIE_WORN);
	assert_int_equal(cookie_check(s1, client, server, 8, ip6, 16, 1000), COOKIE_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_reference),
		cmocka_unit_test(test_rfc9018_vectors),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_json.c -- the JSON writer: strings escaped as RFC 8259 7 asks,
 * NULL as null, counter lines as members, and a buffer too small is never
 * overrun but reports the size it needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static void test_strings(void **state)
{
	char buf[256];
	struct json_out o = {.buf = buf, .len = sizeof(buf)};

	(void)state;
	json_str(&o, "a\"b\\c\n\x01\x7f é");
	json_put(&o, ",");
	json_str(&o, NULL);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f é\",null");
	assert_int_equal(o.n, strlen(buf));
}

static void test_counters(void **state)
{
	char buf[256];
	struct json_out o = {.buf = buf, .len = sizeof(buf)};

	(void)state;
	json_put(&o, "{");
	unsigned n = json_counters(&o, "cache.hits 5\ndataplane dpdk\ncache.misses 12\n", false);
	json_put(&o, "}");
	assert_int_equal(n, 2);
	assert_string_equal(buf, "{\"cache.hits\":5,\"cache.misses\":12}");
	o.n = 0;
	json_put(&o, "{\"name\":1");
	json_counters(&o, "x 1", true);
	json_put(&o, "}");
	assert_string_equal(buf, "{\"name\":1,\"x\":1}");
}

static void test_small_buffer(void **state)
{
	char buf[8];
	struct json_out o = {.buf = buf, .len = sizeof(buf)};

	(void)state;
	memset(buf, 'Z', sizeof(buf));
	json_str(&o, "0123456789");
	json_put(&o, "%d", 42);
	assert_int_equal(o.n, 14); /* what it would need */
	assert_true(memchr(buf, '\0', sizeof(buf)) != NULL); /* stays a string */
	assert_int_equal(strlen(buf), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

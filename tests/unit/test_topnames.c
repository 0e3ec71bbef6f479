/* test_topnames.c -- the Space-Saving sketch keeps the heavy hitters among
 * many rare names, in order and near their true counts though only one
 * query in 8 is looked at (at random: a cycle of names is not aliased),
 * and merges the workers' tables by (name, type). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topnames.h"
#include "wire.h"

static size_t query(const char *name, uint16_t qtype, uint8_t *out)
{
	uint8_t wire[DNAME_MAXLEN];
	int n = dname_from_str(name, wire, sizeof(wire));

	assert_true(n > 0);
	memset(out, 0, 12);
	out[5] = 1; /* QDCOUNT */
	memcpy(out + 12, wire, (size_t)n);
	wire_write16(out + 12 + n, qtype);
	wire_write16(out + 14 + n, 1);
	return 16 + (size_t)n;
}

static void test_heavy_hitters(void **state)
{
	struct topnames t;
	uint8_t q[300];
	char name[64], text[4096];
	unsigned rare = 0;

	(void)state;
	topnames_init(&t);
	/* 8000 www A, 4000 mail MX, and 4000 names asked once each */
	for (unsigned i = 0; i < 16000; i++) {
		size_t n;

		if (i % 4 == 0 || i % 4 == 2)
			n = query("WWW.example.test.", TYPE_A, q);
		else if (i % 4 == 1)
			n = query("mail.example.test.", TYPE_MX, q);
		else {
			snprintf(name, sizeof(name), "rare%u.example.test.", rare++);
			n = query(name, TYPE_A, q);
		}
		topnames_query(&t, q, n);
	}
	struct topnames *tables[] = {&t};
	size_t k = topnames_text(tables, 1, 2, text, sizeof(text));
	unsigned long long www, mail;

	text[k] = '\0';
	assert_int_equal(sscanf(text, "www.example.test. A %llu\nmail.example.test. MX %llu\n", &www,
				&mail),
			 2);
	/* 1000 and 500 samples: within 15 % (several standard deviations) */
	assert_true(www > 6800 && www < 9200);
	assert_true(mail > 3400 && mail < 4600);
	topnames_destroy(&t);
}

static void test_merge(void **state)
{
	struct topnames a, b;
	uint8_t q[300];
	char text[4096];

	(void)state;
	topnames_init(&a);
	topnames_init(&b);
	size_t n = query("x.example.test.", TYPE_AAAA, q);

	for (int i = 0; i < 80; i++)
		topnames_query(&a, q, n);
	for (int i = 0; i < 160; i++)
		topnames_query(&b, q, n);
	n = query("y.example.test.", 99, q);
	for (int i = 0; i < 200; i++)
		topnames_query(&b, q, n);
	struct topnames *tables[] = {&a, &b};
	size_t k = topnames_text(tables, 2, 10, text, sizeof(text));

	text[k] = '\0';
	assert_non_null(strstr(text, "x.example.test. AAAA "));
	assert_non_null(strstr(text, "y.example.test. TYPE99 "));
	assert_int_equal(strchr(strchr(text, '\n') + 1, '\n')[1], '\0'); /* two lines: merged */
	/* a garbled query is not counted */
	uint8_t junk[5] = {1, 2, 3, 4, 5};

	for (int i = 0; i < 16; i++)
		topnames_query(&a, junk, sizeof(junk));
	char again[4096];

	k = topnames_text(tables, 2, 10, again, sizeof(again));
	again[k] = '\0';
	assert_string_equal(again, text);
	topnames_destroy(&a);
	topnames_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heavy_hitters),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

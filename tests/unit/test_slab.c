/* test_slab.c -- the DPDK table's allocator: blocks come zeroed (also
 * when reused), never overlap, a freed block is taken again by its size
 * class, large ones go to calloc, the memory held is counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slab.h"

static void test_classes(void **state)
{
	struct slab s = {0};
	unsigned char *p[64];

	(void)state;
	for (int i = 0; i < 64; i++) {
		size_t size = 1 + (size_t)i * 31;

		p[i] = slab_alloc(&s, size);
		assert_non_null(p[i]);
		for (size_t k = 0; k < size; k++)
			assert_int_equal(p[i][k], 0);
		memset(p[i], 0xa5, size);
	}
	/* nothing overwrote another block */
	for (int i = 0; i < 64; i++)
		for (size_t k = 0; k < 1 + (size_t)i * 31; k++)
			assert_int_equal(p[i][k], 0xa5);
#if !SLAB_ALL_MALLOC /* else every block is malloc's */
	assert_true(s.held >= SLAB_CHUNK);
#endif
	/* a freed block is its class's next one, zeroed again */
	slab_free(&s, p[10], 1 + 10 * 31);
	unsigned char *again = slab_alloc(&s, 1 + 10 * 31);

#if !SLAB_ALL_MALLOC
	assert_ptr_equal(again, p[10]);
#endif
	for (size_t k = 0; k < 1 + 10 * 31; k++)
		assert_int_equal(again[k], 0);
	for (int i = 0; i < 64; i++)
		slab_free(&s, i == 10 ? again : p[i], 1 + (size_t)i * 31);
	/* beyond the classes: calloc and free */
	unsigned char *big = slab_alloc(&s, SLAB_MAX + 1);

	assert_non_null(big);
	assert_int_equal(big[SLAB_MAX], 0);
	slab_free(&s, big, SLAB_MAX + 1);
	slab_destroy(&s);
	assert_int_equal(s.held, 0);
}

/* More than a chunk holds: new chunks, every block still apart. */
static void test_many(void **state)
{
	struct slab s = {0};
	enum { N = 20000, SIZE = 256 };
	static unsigned char *p[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		p[i] = slab_alloc(&s, SIZE);
		assert_non_null(p[i]);
		memcpy(p[i], &i, sizeof(i));
	}
	for (int i = 0; i < N; i++) {
		int v;

		memcpy(&v, p[i], sizeof(v));
		assert_int_equal(v, i);
	}
#if !SLAB_ALL_MALLOC
	assert_true(s.held >= (size_t)N * SIZE);
	assert_true(s.held <= (size_t)N * SIZE + 2 * SLAB_CHUNK);
#endif
	slab_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classes),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

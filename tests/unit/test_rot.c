/* test_rot.c -- rotation schedules: round-robin order, smooth weighted
 * round-robin's known sequence, weight 0 never answered, shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rot.h"

/* A schedule in the test's own memory (at most 16 steps, 4 members). */
struct sched_mem {
	struct rot_sched s;
	uint16_t seq[16];
	uint8_t live[4];
};

static struct rot_sched *build(struct sched_mem *mem, enum rot_method m, const uint32_t *w,
			       uint16_t n)
{
	assert_true(rot_sched_len(m, w, n) <= 16 && n <= 4);
	rot_sched_fill(&mem->s, m, w, n, mem->seq, mem->live);
	return &mem->s;
}

static void test_round_robin(void **state)
{
	struct sched_mem mem;
	struct rot_sched *s;
	uint32_t w[3] = {1, 1, 1};
	uint16_t order[8];
	static const uint16_t want[3][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}};

	(void)state;
	s = build(&mem, ROT_ROUND_ROBIN, w, 3);
	for (uint64_t step = 0; step < 9; step++) {
		assert_int_equal(rot_order(s, step, 0, order), 3);
		assert_memory_equal(order, want[step % 3], sizeof(want[0]));
	}
	assert_int_equal(rot_order(s, 4, 2, order), 2); /* answer-count */
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
}

static void test_smooth_wrr(void **state)
{
	struct sched_mem mem;
	struct rot_sched *s;
	uint32_t w[3] = {5, 1, 1};
	uint16_t order[3];
	/* nginx's documented sequence for weights 5:1:1: a a b a c a a */
	static const uint16_t want[7] = {0, 0, 1, 0, 2, 0, 0};

	(void)state;
	s = build(&mem, ROT_WEIGHTED, w, 3);
	assert_int_equal(s->len, 7);
	for (uint64_t step = 0; step < 21; step++) {
		assert_int_equal(rot_order(s, step, 1, order), 1);
		assert_int_equal(order[0], want[step % 7]);
	}
}

static void test_weight_zero(void **state)
{
	struct sched_mem mem;
	struct rot_sched *s;
	uint32_t w[4] = {2, 0, 1, 3};
	uint16_t order[4];
	unsigned count[4] = {0};

	(void)state;
	for (int m = 0; m < 2; m++) {
			s = build(&mem, m ? ROT_WEIGHTED : ROT_ROUND_ROBIN, w, 4);
		for (uint64_t step = 0; step < 600; step++) {
			unsigned k = rot_order(s, step, 0, order);

			assert_int_equal(k, 3);
			for (unsigned i = 0; i < k; i++)
				assert_int_not_equal(order[i], 1);
			count[order[0]]++;
		}
		}
	/* weighted shares are exact over whole cycles: 2:1:3 of 600 */
	assert_int_equal(count[1], 0);
	assert_int_equal(count[0], 200 + 200);
	assert_int_equal(count[2], 200 + 100);
	assert_int_equal(count[3], 200 + 300);
}

static void test_all_zero(void **state)
{
	struct sched_mem mem;
	struct rot_sched *s;
	uint32_t w[2] = {0, 0};
	uint16_t order[2];

	(void)state;
	s = build(&mem, ROT_WEIGHTED, w, 2);
	assert_int_equal(rot_order(s, 0, 0, order), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_smooth_wrr),
		cmocka_unit_test(test_weight_zero),
		cmocka_unit_test(test_all_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

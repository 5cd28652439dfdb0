/*
 * The log-line rate limit: per_second lines pass in a second, the rest are
 * held back and counted, and the first line of the next second says how many.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/rate_limit.h"

static void test_caps_a_second_and_counts_the_rest(void **state)
{
	struct rate_limit l;
	unsigned suppressed = 99, passed = 0;

	rate_limit_init(&l, 3);
	/* Start at the beginning of a second, so the burst falls in one. */
	while (clock_now_ms() % 1000 > 100)
		usleep(10 * 1000);
	for (int i = 0; i < 10; i++) {
		if (rate_limit_allow(&l, &suppressed)) {
			assert_int_equal(suppressed, 0);
			passed++;
		}
	}
	assert_int_equal(passed, 3);
	usleep(1000 * 1000);
	assert_true(rate_limit_allow(&l, &suppressed));
	assert_int_equal(suppressed, 7);
	assert_true(rate_limit_allow(&l, NULL));
	assert_true(rate_limit_allow(&l, &suppressed));
	assert_int_equal(suppressed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_a_second_and_counts_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The circuit breaker: slow failures in a row open it, quick ones do not;
 * while open nobody calls the backend; once due exactly one caller probes,
 * and the probe's outcome closes or reopens it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/breaker.h"
#include "common/clock.h"

#define TIMEOUT_MS 20
#define OPEN_MS 50

/* A call that failed after taking the whole timeout. */
static void slow_failure(struct breaker *b)
{
	uint64_t started = clock_now_ms() - TIMEOUT_MS;

	breaker_record(b, false, started, TIMEOUT_MS);
}

static void test_slow_failures_open_it(void **state)
{
	struct breaker b;

	breaker_init(&b, 3, OPEN_MS);
	for (int i = 0; i < 2; i++) {
		assert_true(breaker_allow(&b));
		slow_failure(&b);
		assert_false(breaker_is_open(&b));
	}
	assert_true(breaker_allow(&b));
	slow_failure(&b);
	assert_true(breaker_is_open(&b));
	assert_false(breaker_allow(&b));
	assert_in_range(breaker_retry_in_ms(&b), 1, OPEN_MS);
}

static void test_quick_failures_and_successes_do_not(void **state)
{
	struct breaker b;

	breaker_init(&b, 3, OPEN_MS);
	for (int i = 0; i < 10; i++) {
		/* A refused connection: failed at once. */
		breaker_record(&b, false, clock_now_ms(), TIMEOUT_MS);
		assert_false(breaker_is_open(&b));
	}
	slow_failure(&b);
	slow_failure(&b);
	breaker_record(&b, true, clock_now_ms(), TIMEOUT_MS);   /* the run is broken */
	slow_failure(&b);
	slow_failure(&b);
	assert_false(breaker_is_open(&b));
	assert_true(breaker_allow(&b));
}

static void test_one_probe_then_closed_or_reopened(void **state)
{
	struct breaker b;

	breaker_init(&b, 1, OPEN_MS);
	slow_failure(&b);
	assert_false(breaker_allow(&b));
	usleep((OPEN_MS + 10) * 1000);
	assert_false(breaker_is_open(&b));
	assert_true(breaker_allow(&b));    /* the probe */
	assert_false(breaker_allow(&b));   /* everybody else waits for its outcome */
	slow_failure(&b);
	assert_true(breaker_is_open(&b));
	assert_false(breaker_allow(&b));

	usleep((OPEN_MS + 10) * 1000);
	assert_true(breaker_allow(&b));
	breaker_record(&b, true, clock_now_ms(), TIMEOUT_MS);
	assert_false(breaker_is_open(&b));
	assert_true(breaker_allow(&b));
	assert_true(breaker_allow(&b));
	assert_int_equal(breaker_retry_in_ms(&b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_failures_open_it),
		cmocka_unit_test(test_quick_failures_and_successes_do_not),
		cmocka_unit_test(test_one_probe_then_closed_or_reopened),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

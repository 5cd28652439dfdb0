/*
 * The expiry horizon on an injected clock: keys leave after their window
 * unless seen again, the table never holds more than its capacity and says
 * how many it forgot early, and the counts by horizon follow the expiry
 * days, the time of the scrape and what was forgotten.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/expiry_horizon.h"

#define DAY 86400
#define WINDOW_MS (30ull * DAY * 1000)
/* 2026-03-01T12:00:00Z: wall-clock now, noon so that "+N days" stays inside a UTC day. */
#define NOW ((int64_t)1772366400)
/* Some CLOCK_MONOTONIC reading. */
#define T0_MS 5000000ull

static const unsigned horizons[] = { 7, 30, 90 };

static void see(struct expiry_horizon *h, unsigned id, int64_t not_after, uint64_t now_ms)
{
	uint8_t key[32] = { 0 };

	key[0] = (uint8_t)id;
	key[1] = (uint8_t)(id >> 8);
	key[2] = (uint8_t)(id >> 16);
	expiry_horizon_see(h, key, sizeof(key), not_after, now_ms);
}

static void expect_counts(const struct expiry_horizon *h, int64_t now, size_t in7, size_t in30, size_t in90)
{
	size_t counts[3];

	expiry_horizon_count(h, now, horizons, counts, 3);
	assert_int_equal(counts[0], in7);
	assert_int_equal(counts[1], in30);
	assert_int_equal(counts[2], in90);
}

/* A sweep at now_ms of at most max keys forgets `forgotten` and leaves `tracked`. */
static void expect_sweep(struct expiry_horizon *h, uint64_t now_ms, size_t max, size_t forgotten, size_t tracked)
{
	assert_int_equal(expiry_horizon_sweep(h, now_ms, max), forgotten);
	assert_int_equal(expiry_horizon_tracked(h), tracked);
}

static void test_counts_by_horizon(void **state)
{
	struct expiry_horizon *h = expiry_horizon_new(100, WINDOW_MS, NOW);

	(void)state;
	assert_non_null(h);
	see(h, 1, NOW - 3 * DAY, T0_MS);       /* already expired: in every horizon */
	see(h, 2, NOW + 5 * DAY, T0_MS);
	see(h, 3, NOW + 20 * DAY, T0_MS);
	see(h, 4, NOW + 60 * DAY, T0_MS);
	see(h, 5, NOW + 365 * DAY, T0_MS);     /* in none */
	see(h, 6, NOW - 4000 * DAY, T0_MS);    /* long before the table: expired too */
	see(h, 7, NOW + 40 * 365 * DAY, T0_MS); /* beyond the days told apart: in none */
	assert_int_equal(expiry_horizon_tracked(h), 7);
	expect_counts(h, NOW, 3, 4, 5);
	/* Fifteen days on, the 20-day certificate is within 7 days... */
	expect_counts(h, NOW + 15 * DAY, 4, 4, 5);
	/* ...and a year on, all but the far ones have expired. */
	expect_counts(h, NOW + 300 * DAY, 5, 5, 6);
	assert_int_equal(expiry_horizon_forgotten(h), 0);
	expiry_horizon_free(h);
}

static void test_window_expiry(void **state)
{
	struct expiry_horizon *h = expiry_horizon_new(100, WINDOW_MS, NOW);

	(void)state;
	see(h, 1, NOW + 5 * DAY, T0_MS);
	see(h, 2, NOW + 5 * DAY, T0_MS + 10ull * DAY * 1000);
	/* Just inside the first one's window: both held. */
	expect_sweep(h, T0_MS + WINDOW_MS - 1, 10, 0, 2);
	/* Its window ends: a sweep forgets it, and it leaves the counts. */
	expect_sweep(h, T0_MS + WINDOW_MS, 10, 1, 1);
	expect_counts(h, NOW, 1, 1, 1);
	/* A sweep does at most what it is told. */
	for (unsigned i = 10; i < 20; i++)
		see(h, i, NOW + 50 * DAY, T0_MS + WINDOW_MS);
	expect_sweep(h, T0_MS + 2 * WINDOW_MS, 4, 4, 7);
	/* A new key forgets expired ones too, a few at a time. */
	see(h, 30, NOW + 50 * DAY, T0_MS + 2 * WINDOW_MS);
	assert_int_equal(expiry_horizon_tracked(h), 6);
	expect_sweep(h, T0_MS + 2 * WINDOW_MS, 100, 5, 1);
	expect_counts(h, NOW, 0, 0, 1);
	assert_int_equal(expiry_horizon_forgotten(h), 0);
	expiry_horizon_free(h);
}

static void test_seen_again_refreshes(void **state)
{
	struct expiry_horizon *h = expiry_horizon_new(100, WINDOW_MS, NOW);

	(void)state;
	see(h, 1, NOW + 5 * DAY, T0_MS);
	see(h, 1, NOW + 5 * DAY, T0_MS + 20ull * DAY * 1000);
	/* The same key counts once. */
	assert_int_equal(expiry_horizon_tracked(h), 1);
	expect_counts(h, NOW, 1, 1, 1);
	/* Past the first sighting's window, the second keeps it. */
	expect_sweep(h, T0_MS + WINDOW_MS + 1, 10, 0, 1);
	expect_sweep(h, T0_MS + 20ull * DAY * 1000 + WINDOW_MS, 10, 1, 0);
	expect_counts(h, NOW, 0, 0, 0);
	expiry_horizon_free(h);
}

static void test_capacity(void **state)
{
	const size_t capacity = 3000;   /* more than one allocation of entries */
	struct expiry_horizon *h = expiry_horizon_new(capacity, WINDOW_MS, NOW);
	size_t counts[3];

	(void)state;
	/* The first 100 expire in 5 days, the rest in 60. */
	for (unsigned i = 0; i < capacity; i++)
		see(h, i, NOW + (i < 100 ? 5 : 60) * DAY, T0_MS + i);
	assert_int_equal(expiry_horizon_tracked(h), capacity);
	assert_int_equal(expiry_horizon_forgotten(h), 0);
	/* 150 more: the 150 seen longest ago make room, the soon-expiring first. */
	for (unsigned i = 0; i < 150; i++)
		see(h, 100000 + i, NOW + 60 * DAY, T0_MS + capacity + i);
	assert_int_equal(expiry_horizon_tracked(h), capacity);
	assert_int_equal(expiry_horizon_forgotten(h), 150);
	expect_counts(h, NOW, 0, 0, capacity);
	/* A key seen again is not new: nothing goes. */
	see(h, 100000, NOW + 60 * DAY, T0_MS + 2 * capacity);
	assert_int_equal(expiry_horizon_forgotten(h), 150);
	/* Room made by a key past its window is not "forgotten early". */
	see(h, 200000, NOW + 5 * DAY, T0_MS + WINDOW_MS + 2 * capacity);
	assert_int_equal(expiry_horizon_forgotten(h), 150);
	assert_true(expiry_horizon_tracked(h) <= capacity);
	expiry_horizon_count(h, NOW, horizons, counts, 3);
	assert_int_equal(counts[0], 1);
	expiry_horizon_free(h);
}

static void test_capacity_one(void **state)
{
	struct expiry_horizon *h = expiry_horizon_new(1, WINDOW_MS, NOW);

	(void)state;
	assert_null(expiry_horizon_new(0, WINDOW_MS, NOW));
	see(h, 1, NOW + 5 * DAY, T0_MS);
	see(h, 2, NOW + 60 * DAY, T0_MS + 1);
	assert_int_equal(expiry_horizon_tracked(h), 1);
	assert_int_equal(expiry_horizon_forgotten(h), 1);
	expect_counts(h, NOW, 0, 0, 1);
	expiry_horizon_free(h);
	expiry_horizon_free(NULL);
}

static void test_oversized_key_ignored(void **state)
{
	struct expiry_horizon *h = expiry_horizon_new(10, WINDOW_MS, NOW);
	uint8_t key[64] = { 0 };

	(void)state;
	expiry_horizon_see(h, key, sizeof(key), NOW, T0_MS);
	assert_int_equal(expiry_horizon_tracked(h), 0);
	expiry_horizon_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_by_horizon),
		cmocka_unit_test(test_window_expiry),
		cmocka_unit_test(test_seen_again_refreshes),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_capacity_one),
		cmocka_unit_test(test_oversized_key_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

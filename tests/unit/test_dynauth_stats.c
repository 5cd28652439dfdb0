/*
 * The Disconnect/CoA figures authd reads back from Redis: what a field of
 * the hash may say, and that whatever else a writer puts there changes no
 * figure; and the histogram they end up in, as a scrape reads it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authd/dynauth_stats.h"
#include "common/metrics.h"

static const char *const nas[] = { "lab-switch", "wlc:1", "" };

static int field(struct dynauth_stats *st, const char *f, const char *v)
{
	return dynauth_stats_field(st, f, strlen(f), v, strlen(v));
}

static void test_reads_known_fields(void **state)
{
	struct dynauth_stats st;

	assert_int_equal(dynauth_stats_init(&st, nas, 3), 0);
	assert_int_equal(field(&st, "req:lab-switch:disconnect:ack", "3"), 0);
	assert_int_equal(field(&st, "req:wlc:1:coa:nak", "2"), 0);   /* a colon in the NAS name */
	assert_int_equal(field(&st, "req::disconnect:refused", "1"), 0);
	assert_int_equal(field(&st, "nak:wlc:1:503", "2"), 0);
	assert_int_equal(field(&st, "nak:lab-switch:none", "1"), 0);
	assert_int_equal(field(&st, "wait:le:0.005", "2"), 0);
	assert_int_equal(field(&st, "wait:le:+Inf", "1"), 0);
	assert_int_equal(field(&st, "wait:count", "3"), 0);
	assert_int_equal(field(&st, "wait:sum", "30.25"), 0);
	dynauth_stats_finish(&st);
	assert_int_equal(st.ignored, 0);
	assert_int_equal(st.requests[(0 * 2 + DYNAUTH_DISCONNECT) * 5 + DYNAUTH_STATS_ACK], 3);
	assert_int_equal(st.requests[(1 * 2 + DYNAUTH_COA) * 5 + DYNAUTH_STATS_NAK], 2);
	assert_int_equal(st.requests[(2 * 2 + DYNAUTH_DISCONNECT) * 5 + DYNAUTH_STATS_REFUSED], 1);
	assert_int_equal(st.naks[1 * DYNAUTH_STATS_CAUSES + 11], 2);
	assert_int_equal(st.naks[0 * DYNAUTH_STATS_CAUSES + DYNAUTH_STATS_CAUSES - 1], 1);
	assert_int_equal(st.wait[0], 2);
	assert_int_equal(st.wait[DYNAUTH_STATS_WAIT_BOUNDS], 1);
	assert_true(st.wait_sum == 30.25);
	dynauth_stats_free(&st);
}

static void test_ignores_what_it_cannot_name(void **state)
{
	static const char *const garbage[][2] = {
		{ "req:evil:disconnect:ack", "1" }, { "req:lab-switch:reboot:ack", "1" },
		{ "req:lab-switch:disconnect:bogus", "1" }, { "req:lab-switch:ack", "1" }, { "req:", "1" },
		{ "nak:lab-switch:999", "1" }, { "nak:evil:503", "1" }, { "nak:lab-switch", "1" },
		{ "req:lab-switch:coa:ack", "-1" }, { "req:lab-switch:coa:ack", "+1" }, { "req:lab-switch:coa:ack", " 1" },
		{ "req:lab-switch:coa:ack", "1e3" }, { "req:lab-switch:coa:ack", "" },
		{ "req:lab-switch:coa:ack", "99999999999999999999" }, { "req:lab-switch:coa:ack", "1000000000001" },
		{ "wait:sum", "nan" }, { "wait:sum", "inf" }, { "wait:sum", "-1" }, { "wait:sum", ".5" },
		{ "wait:sum", "1.2.3" }, { "wait:sum", "1e300" }, { "wait:le:0.07", "1" }, { "wait:le:+Inf ", "1" },
		{ "WAIT:COUNT", "1" }, { "unknown", "1" },
	};
	struct dynauth_stats st;
	uint64_t zero[DYNAUTH_STATS_WAIT_BOUNDS + 1] = { 0 };

	assert_int_equal(dynauth_stats_init(&st, nas, 3), 0);
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		assert_int_equal(field(&st, garbage[i][0], garbage[i][1]), -1);
	/* Embedded bytes: a NUL in the field, a newline in the NAS name. */
	assert_int_equal(dynauth_stats_field(&st, "req:lab-switch\0:coa:ack", 23, "1", 1), -1);
	assert_int_equal(field(&st, "req:lab\nswitch:coa:ack", "1"), -1);
	assert_int_equal(st.ignored, sizeof(garbage) / sizeof(garbage[0]) + 2);
	assert_string_equal(st.first_ignored, "req:evil:disconnect:ack");
	for (size_t i = 0; i < 3 * 2 * 5; i++)
		assert_int_equal(st.requests[i], 0);
	for (size_t i = 0; i < 3 * DYNAUTH_STATS_CAUSES; i++)
		assert_int_equal(st.naks[i], 0);
	assert_memory_equal(st.wait, zero, sizeof(zero));
	/* A count that is not the sum of the buckets drops the histogram. */
	dynauth_stats_reset(&st);
	assert_int_equal(field(&st, "wait:le:1", "2"), 0);
	assert_int_equal(field(&st, "wait:count", "5"), 0);
	assert_int_equal(field(&st, "wait:sum", "1.5"), 0);
	dynauth_stats_finish(&st);
	assert_memory_equal(st.wait, zero, sizeof(zero));
	assert_true(st.wait_sum == 0 && st.wait_count == 0 && st.ignored == 1);
	dynauth_stats_free(&st);
}

static void test_sets_a_histogram(void **state)
{
	static const double bounds[] = { 0.1, 1 };
	const uint64_t buckets[] = { 2, 0, 1 };
	struct metrics *m = metrics_new();
	struct metrics_family *h;
	char *text;
	size_t len;

	assert_non_null(m);
	h = metrics_histogram(m, "authd_wait_seconds", "Waits.", NULL, 0, bounds, 2);
	assert_non_null(h);
	metrics_observe(h, 0, 0.5);   /* replaced by what is set */
	metrics_set_histogram(h, 0, buckets, 4.25);
	text = metrics_render(m, &len);
	assert_non_null(text);
	assert_string_equal(text, "# HELP authd_wait_seconds Waits.\n"
	                          "# TYPE authd_wait_seconds histogram\n"
	                          "authd_wait_seconds_bucket{le=\"0.1\"} 2\n"
	                          "authd_wait_seconds_bucket{le=\"1\"} 2\n"
	                          "authd_wait_seconds_bucket{le=\"+Inf\"} 3\n"
	                          "authd_wait_seconds_sum 4.250000000\n"
	                          "authd_wait_seconds_count 3\n");
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_known_fields),
		cmocka_unit_test(test_ignores_what_it_cannot_name),
		cmocka_unit_test(test_sets_a_histogram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

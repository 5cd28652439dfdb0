/*
 * The metrics registry's text: what a Prometheus scrape reads, byte for byte
 * (HELP and TYPE lines, label escaping, cumulative histogram buckets, which
 * series are left out), and what the allow-list's prefixes contain.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/ip_prefix.h"
#include "common/metrics.h"

static const char *const outcomes[] = { "accept", "reject" };
static const char *const nases[] = { "ap-1", "we\"ird\\nas\n" };

static void collect(void *arg)
{
	metrics_set(arg, 0, 7);
}

static void test_renders_the_text_format(void **state)
{
	static const double bounds[] = { 0.01, 0.1, 1 };
	const struct metrics_label nas = { "nas", nases, 2 };
	const struct metrics_label by_outcome_nas[] = { { "outcome", outcomes, 2 }, nas };
	struct metrics *m = metrics_new();
	struct metrics_family *started, *requests, *decisions, *in_flight, *duration;
	char *text;
	size_t len;

	assert_non_null(m);
	started = metrics_gauge(m, "authd_start_time_seconds", "When it started.", NULL, 0);
	requests = metrics_counter(m, "authd_requests_total", "Requests\\by NAS\nclient.", &nas, 1);
	decisions = metrics_counter(m, "authd_decisions_total", "Decisions.", by_outcome_nas, 2);
	in_flight = metrics_gauge(m, "authd_in_flight", "In flight.", &nas, 1);
	duration = metrics_histogram(m, "authd_duration_seconds", "Duration.", &by_outcome_nas[0], 1,
	                             bounds, 3);
	assert_non_null(started);
	assert_non_null(requests);
	assert_non_null(decisions);
	assert_non_null(in_flight);
	assert_non_null(duration);
	metrics_on_render(m, collect, started);
	metrics_add(requests, metrics_series(requests, (size_t[]){ 1 }), 3);
	metrics_add(decisions, metrics_series(decisions, (size_t[]){ 1, 0 }), 2);
	metrics_add(in_flight, metrics_series(in_flight, (size_t[]){ 0 }), 1);
	metrics_add(in_flight, metrics_series(in_flight, (size_t[]){ 0 }), -2);
	metrics_observe(duration, 0, 0.05);
	metrics_observe(duration, 0, 0.01);   /* on a bound: that bucket (le is "less or equal") */
	metrics_observe(duration, 0, 2.5);
	text = metrics_render(m, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_string_equal(text,
	                    "# HELP authd_start_time_seconds When it started.\n"
	                    "# TYPE authd_start_time_seconds gauge\n"
	                    "authd_start_time_seconds 7\n"
	                    "# HELP authd_requests_total Requests\\\\by NAS\\nclient.\n"
	                    "# TYPE authd_requests_total counter\n"
	                    "authd_requests_total{nas=\"ap-1\"} 0\n"
	                    "authd_requests_total{nas=\"we\\\"ird\\\\nas\\n\"} 3\n"
	                    "# HELP authd_decisions_total Decisions.\n"
	                    "# TYPE authd_decisions_total counter\n"
	                    "authd_decisions_total{outcome=\"reject\",nas=\"ap-1\"} 2\n"
	                    "# HELP authd_in_flight In flight.\n"
	                    "# TYPE authd_in_flight gauge\n"
	                    "authd_in_flight{nas=\"ap-1\"} -1\n"
	                    "authd_in_flight{nas=\"we\\\"ird\\\\nas\\n\"} 0\n"
	                    "# HELP authd_duration_seconds Duration.\n"
	                    "# TYPE authd_duration_seconds histogram\n"
	                    "authd_duration_seconds_bucket{outcome=\"accept\",le=\"0.01\"} 1\n"
	                    "authd_duration_seconds_bucket{outcome=\"accept\",le=\"0.1\"} 2\n"
	                    "authd_duration_seconds_bucket{outcome=\"accept\",le=\"1\"} 2\n"
	                    "authd_duration_seconds_bucket{outcome=\"accept\",le=\"+Inf\"} 3\n"
	                    "authd_duration_seconds_sum{outcome=\"accept\"} 2.560000000\n"
	                    "authd_duration_seconds_count{outcome=\"accept\"} 3\n"
	                    "authd_duration_seconds_bucket{outcome=\"reject\",le=\"0.01\"} 0\n"
	                    "authd_duration_seconds_bucket{outcome=\"reject\",le=\"0.1\"} 0\n"
	                    "authd_duration_seconds_bucket{outcome=\"reject\",le=\"1\"} 0\n"
	                    "authd_duration_seconds_bucket{outcome=\"reject\",le=\"+Inf\"} 0\n"
	                    "authd_duration_seconds_sum{outcome=\"reject\"} 0.000000000\n"
	                    "authd_duration_seconds_count{outcome=\"reject\"} 0\n");
	free(text);
	metrics_free(m);
}

static void test_refuses_unbounded_families(void **state)
{
	const struct metrics_label empty = { "nas", nases, 0 };
	const struct metrics_label four[4] = { { "a", nases, 1 }, { "b", nases, 1 }, { "c", nases, 1 },
	                                       { "d", nases, 1 } };
	struct metrics *m = metrics_new();

	assert_null(metrics_counter(m, "authd_x_total", "x", &empty, 1));
	assert_null(metrics_counter(m, "authd_y_total", "y", four, 4));
	metrics_free(m);
}

/* Label values learnt at run time, a gauge at 0 that was set, seconds kept in ns. */
static void test_published_values_set_gauges_and_seconds(void **state)
{
	static const char *const kinds[] = { "redis", "ocsp" };
	static char urls[2][32];
	static const char *const targets[] = { "127.0.0.1:6379", urls[0], urls[1] };
	const struct metrics_label by_kind_target[] = { { "backend", kinds, 2 }, { "target", targets, 3 } };
	atomic_size_t published = 1;
	struct metrics *m = metrics_new();
	struct metrics_family *up, *busy;
	char *text;
	size_t len;

	up = metrics_gauge(m, "authd_up", "Up.", by_kind_target, 2);
	busy = metrics_seconds_counter(m, "authd_busy_seconds_total", "Busy.", NULL, 0);
	assert_non_null(up);
	assert_non_null(busy);
	metrics_label_published(up, 1, &published);
	metrics_set(up, metrics_series(up, (size_t[]){ 0, 0 }), 0);
	metrics_set(up, metrics_series(up, (size_t[]){ 1, 1 }), 1);   /* not published yet */
	metrics_add(busy, 0, 1500000000LL);
	metrics_add(busy, 0, 25);
	text = metrics_render(m, &len);
	assert_string_equal(text, "# HELP authd_up Up.\n# TYPE authd_up gauge\n"
	                          "authd_up{backend=\"redis\",target=\"127.0.0.1:6379\"} 0\n"
	                          "# HELP authd_busy_seconds_total Busy.\n# TYPE authd_busy_seconds_total counter\n"
	                          "authd_busy_seconds_total 1.500000025\n");
	free(text);
	snprintf(urls[0], sizeof(urls[0]), "http://ocsp.test/");
	atomic_store(&published, 2);
	text = metrics_render(m, &len);
	assert_non_null(strstr(text, "authd_up{backend=\"ocsp\",target=\"http://ocsp.test/\"} 1\n"));
	free(text);
	metrics_free(m);
}

static void test_prefix_contains(void **state)
{
	struct ip_prefix loopback, v6;
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	char err[128];

	assert_int_equal(ip_prefix_parse("127.0.0.1/32", &loopback, err, sizeof(err)), 0);
	assert_int_equal(ip_prefix_parse("::1/128", &v6, err, sizeof(err)), 0);
	assert_int_equal(ip_prefix_parse("127.0.0.1/8", &loopback, err, sizeof(err)), -1);
	assert_int_equal(ip_prefix_parse("127.0.0.1/32", &loopback, err, sizeof(err)), 0);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	assert_true(ip_prefix_contains(&loopback, (struct sockaddr *)&in));
	inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
	assert_false(ip_prefix_contains(&loopback, (struct sockaddr *)&in));
	/* A dual-stack listener sees IPv4 clients as IPv4-mapped IPv6. */
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
	assert_true(ip_prefix_contains(&loopback, (struct sockaddr *)&in6));
	assert_false(ip_prefix_contains(&v6, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	assert_true(ip_prefix_contains(&v6, (struct sockaddr *)&in6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renders_the_text_format),
		cmocka_unit_test(test_refuses_unbounded_families),
		cmocka_unit_test(test_published_values_set_gauges_and_seconds),
		cmocka_unit_test(test_prefix_contains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

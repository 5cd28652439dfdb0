#include "policy/report.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* At most this many reports per second. */
#define REPORTS_PER_SECOND 10

/* Written once before the threads exist, read-only afterwards. */
static report_sink_fn *report_sink;
static atomic_llong report_second;
static atomic_uint report_count;
static atomic_uint report_dropped;

void report_set_sink(report_sink_fn *sink)
{
	report_sink = sink;
}

void report_refused(const char *fmt, ...)
{
	long long now = (long long)time(NULL), second = atomic_load(&report_second);
	unsigned dropped;
	char line[512];
	va_list ap;
	int n;

	if (report_sink == NULL)
		return;
	if (second != now && atomic_compare_exchange_strong(&report_second, &second, now))
		atomic_store(&report_count, 0);
	if (atomic_fetch_add(&report_count, 1) >= REPORTS_PER_SECOND) {
		atomic_fetch_add(&report_dropped, 1);
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	dropped = atomic_exchange(&report_dropped, 0);
	if (dropped > 0 && n >= 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, " (%u similar reports suppressed)", dropped);
	report_sink(line);
}

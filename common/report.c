#include "common/report.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/rate_limit.h"

/* At most this many reports per second. */
#define REPORTS_PER_SECOND 10

/* Written once before the threads exist, read-only afterwards. */
static report_sink_fn *report_sink;
static struct rate_limit report_limit = { .per_second = REPORTS_PER_SECOND };

void report_set_sink(report_sink_fn *sink)
{
	report_sink = sink;
}

void report_refused(const char *fmt, ...)
{
	unsigned suppressed;
	char line[512];
	va_list ap;
	int n;

	if (report_sink == NULL || !rate_limit_allow(&report_limit, &suppressed))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (suppressed > 0 && n >= 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, " (%u similar reports suppressed)", suppressed);
	report_sink(line);
}

/*
 * Where code below authd/ reports what it refused from outside the process
 * (a value in Redis that does not verify), since policy/ and common/ have no log of their
 * own. authd points the sink at its log once at startup, before threads
 * start; without a sink, reports go nowhere. Reports are rate-limited so a
 * Redis writer cannot flood the log; what was dropped is counted in the next
 * report that passes.
 */
#ifndef COMMON_REPORT_H
#define COMMON_REPORT_H

typedef void report_sink_fn(const char *line);

/* Set once, before threads start. NULL: no reports. */
void report_set_sink(report_sink_fn *sink);

/* One warning line (printf format). Thread-safe. */
void report_refused(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

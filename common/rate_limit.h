/*
 * A per-second cap on log lines that outsiders can cause (dropped packets, a
 * NAS over its session cap, values in Redis that do not verify), so that a
 * flood cannot flood the log. What is held back is counted, and the next
 * line that passes can say how many were suppressed. Lock-free.
 */
#ifndef COMMON_RATE_LIMIT_H
#define COMMON_RATE_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>

struct rate_limit {
	unsigned per_second;
	atomic_llong second;        /* the second being counted (monotonic) */
	atomic_uint count;          /* lines asked for in it */
	atomic_uint suppressed;     /* held back since the last line that passed */
};

void rate_limit_init(struct rate_limit *l, unsigned per_second);

/* True: the line may go out; *suppressed (may be NULL) then gets how many
 * were held back before it. False: hold it back (counted). */
bool rate_limit_allow(struct rate_limit *l, unsigned *suppressed);

#endif

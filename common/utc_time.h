/*
 * Times as the logs, audit records and details write them: ISO 8601 in
 * UTC to the second, e.g. "2026-11-27T10:00:00Z".
 */
#ifndef COMMON_UTC_TIME_H
#define COMMON_UTC_TIME_H

#include <stddef.h>
#include <time.h>

/* At least 21 bytes of out; "?" when t cannot be represented. */
void utc_time_format(time_t t, char *out, size_t len);

#endif

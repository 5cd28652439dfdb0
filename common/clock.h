/*
 * The one monotonic clock: what every timeout, expiry and duration in authd
 * is measured on, so that a change of the wall clock neither expires nor
 * prolongs anything.
 */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t clock_now_ms(void);

/* The same clock with the sub-millisecond part, for short durations that
 * are reported (a Disconnect/CoA round trip takes well under a millisecond
 * on a LAN). */
double clock_now_ms_precise(void);

/* Milliseconds from t0 (a CLOCK_MONOTONIC reading) to now; 0 when t0 is
 * not in the past. */
uint64_t clock_ms_since(const struct timespec *t0);

#endif

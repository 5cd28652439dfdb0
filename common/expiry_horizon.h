/*
 * An expiry horizon: the distinct keys (certificate digests) seen in the
 * last window, each with the time it expires, and how many of them expire
 * within so many days from now. What a metrics scrape asks ("how many of the
 * devices we saw this month expire next week") without a walk of the table:
 * a count per expiry day is kept up to date as keys come and go, and a
 * reader sums a few of those counts, lock-free.
 *
 * Bounded: at most `capacity` keys (a new key then pushes out the one seen
 * longest ago, which is counted as forgotten), memory allocated as the table
 * grows and never beyond that. Keys are opaque bytes; store digests, never
 * identities. Writers (see, sweep) take an internal lock held for a bounded
 * amount of work; readers (tracked, forgotten, count) take none. All may
 * run concurrently from any threads.
 *
 * Times are passed in, so that tests inject their clock: `now_ms` is
 * CLOCK_MONOTONIC milliseconds (what the window is measured on), `now` and
 * `not_after` are Unix seconds (what certificates say).
 */
#ifndef COMMON_EXPIRY_HORIZON_H
#define COMMON_EXPIRY_HORIZON_H

#include <stddef.h>
#include <stdint.h>

struct expiry_horizon;

/*
 * A horizon keeping each key window_ms after it was last seen, at most
 * capacity keys (>= 1). `now` (Unix seconds) anchors the day counts: expiry
 * days are told apart from the day before `now` to 22 years after it
 * (earlier ones count as already expired, later ones in no horizon). NULL
 * when out of memory or capacity is 0.
 */
struct expiry_horizon *expiry_horizon_new(size_t capacity, uint64_t window_ms, int64_t now);
/* NULL: nothing. */
void expiry_horizon_free(struct expiry_horizon *h);

/*
 * key (keylen bytes, at most 40; longer keys are ignored) seen at now_ms,
 * expiring at not_after. A key already held is kept another window (its
 * expiry is not read again: the same digest is the same certificate). A new
 * key first forgets a few keys past their window, then takes the place of
 * the key seen longest ago when the table is full. When memory runs out a
 * new key is not tracked.
 */
void expiry_horizon_see(struct expiry_horizon *h, const uint8_t *key, size_t keylen, int64_t not_after,
                        uint64_t now_ms);
/* Forgets at most max keys past their window at now_ms (the oldest first);
 * returns how many it forgot. Called periodically, so that keys leave the
 * counts on time when nothing new is seen. */
size_t expiry_horizon_sweep(struct expiry_horizon *h, uint64_t now_ms, size_t max);

/* Keys held now (those past their window count until a sweep or a new key
 * forgets them). */
size_t expiry_horizon_tracked(const struct expiry_horizon *h);
/* Keys pushed out by a new one because the table was full, since creation. */
uint64_t expiry_horizon_forgotten(const struct expiry_horizon *h);
/*
 * For each i < n, counts[i] = the keys held that expire on or before the UTC
 * day `days[i]` days after now (to the day; already expired keys included).
 * days must be ascending.
 */
void expiry_horizon_count(const struct expiry_horizon *h, int64_t now, const unsigned *days, size_t *counts,
                          size_t n);

#endif

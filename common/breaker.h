/*
 * A circuit breaker for one backend (a Redis server, an LDAP directory, an
 * OCSP responder). After `threshold` slow failures in a row (timeouts, or
 * anything else that cost half the backend's timeout) it opens for
 * `open_ms`: callers skip the backend and take its fallback at once, instead
 * of each spending a timeout on it and holding a thread meanwhile. A quick
 * failure (a refused connection) costs nothing and opens nothing. When the
 * interval is over one caller probes (half-open) while the others keep
 * skipping; its success closes the breaker, its failure opens it again.
 * Lock-free; thread-safe.
 */
#ifndef COMMON_BREAKER_H
#define COMMON_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define BREAKER_DEFAULT_THRESHOLD 3
#define BREAKER_DEFAULT_OPEN_MS 2000

struct breaker {
	unsigned threshold;
	unsigned open_ms;
	atomic_uint failures;          /* in a row */
	atomic_ullong open_until_ms;   /* 0: closed */
	atomic_bool probing;           /* a half-open probe is out */
};

void breaker_init(struct breaker *b, unsigned threshold, unsigned open_ms);

/* True: call the backend (the breaker is closed, or this caller is the
 * probe), and report the outcome with breaker_record. False: skip it. */
bool breaker_allow(struct breaker *b);
/* ok: the backend answered. A failure counts when the call took at least
 * half of timeout_ms since started_ms (clock_now_ms()). */
void breaker_record(struct breaker *b, bool ok, uint64_t started_ms, unsigned timeout_ms);

/* True while the breaker is open and not yet due for a probe: a caller that
 * would queue for this backend can take the fallback right away. Pure read. */
bool breaker_is_open(const struct breaker *b);

/* Milliseconds until the next probe may go (0 when closed or due). */
unsigned breaker_retry_in_ms(const struct breaker *b);

#endif

/*
 * The cluster-wide figures of Disconnect/CoA requests. authctl, not authd,
 * sends them (session_disconnect.h), so authctl counts each outcome in one
 * Redis hash that every authd node reads back for its /metrics. This module
 * owns that hash's layout, for both sides:
 *
 *   key   "<prefix>dynauth:stats"
 *   req:<nas>:<request>:<outcome>   requests, request "disconnect" | "coa",
 *                                   outcome "ack" | "nak" | "timeout" |
 *                                   "error" | "refused"
 *   nak:<nas>:<cause>               NAKs by Error-Cause: "201".."508" (RFC
 *                                   5176 3.5), "other", or "none"
 *   wait:le:<bound>                 requests that left within <bound> seconds
 *                                   of the revocation (not cumulative;
 *                                   "+Inf" last), and wait:sum, wait:count
 *
 * <nas> is a configured client name, or "" for a session whose NAS is not
 * configured (always "refused"). The hash is input like any other from Redis:
 * the reader keeps only fields it can name and values that make sense.
 */
#ifndef AUTHD_DYNAUTH_STATS_H
#define AUTHD_DYNAUTH_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "authd/dynauth.h"
#include "common/redis_pool.h"

#define DYNAUTH_STATS_KEY "dynauth:stats"   /* after the Redis prefix */

enum dynauth_stats_outcome {
	DYNAUTH_STATS_ACK, DYNAUTH_STATS_NAK, DYNAUTH_STATS_TIMEOUT, DYNAUTH_STATS_ERROR,
	DYNAUTH_STATS_REFUSED,         /* not sent: the session's NAS or address failed the checks */
	DYNAUTH_STATS_OUTCOMES
};
#define DYNAUTH_STATS_REQUESTS 2           /* indexed by enum dynauth_request */
#define DYNAUTH_STATS_CAUSES 19            /* the 17 of RFC 5176, "other", "none" */
#define DYNAUTH_STATS_WAIT_BOUNDS 11

/* The label values, in the order of the figures below. */
extern const char *const dynauth_stats_requests[DYNAUTH_STATS_REQUESTS];
extern const char *const dynauth_stats_outcomes[DYNAUTH_STATS_OUTCOMES];
extern const char *const dynauth_stats_causes[DYNAUTH_STATS_CAUSES];
/* Upper bounds, in seconds, of the revocation-to-request histogram. */
extern const double dynauth_stats_wait_bounds[DYNAUTH_STATS_WAIT_BOUNDS];

/* The outcome of a request that was sent (or not: DYNAUTH_ERROR). */
enum dynauth_stats_outcome dynauth_stats_outcome_of(enum dynauth_outcome o);

/*
 * authctl's side: counts one request to NAS `nas` ("" when not configured)
 * with its outcome and, for a NAK, the Error-Cause (0: none). wait_s is the
 * time from the revocation recorded to the request leaving, or negative when
 * nothing left. One round trip (a script). 0, or -1 with err.
 */
int dynauth_stats_record(struct redis_pool *redis, const char *nas, enum dynauth_request request,
                         enum dynauth_stats_outcome outcome, unsigned error_cause, double wait_s, char *err,
                         size_t errlen);

/* authd's side: the figures read back, for n_nas NAS names, of which the
 * first n_named are in use (a name table's: the others are not published
 * yet); figures of other NASes are ignored. */
struct dynauth_stats {
	const char *const *nas;        /* borrowed */
	size_t n_nas;
	size_t n_named;                /* n_nas unless set (before the fields are read) */
	uint64_t *requests;            /* [nas][request][outcome] */
	uint64_t *naks;                /* [nas][cause] */
	uint64_t wait[DYNAUTH_STATS_WAIT_BOUNDS + 1];
	double wait_sum;
	uint64_t wait_count;
	size_t ignored;                /* fields ignored since the last reset */
	char first_ignored[64];        /* the first one's name, printable */
};

/* Borrows nas (the labels: client names, "" among them if wanted, n_nas
 * slots, all named), which must outlive st. 0, or -1 out of memory (free st all the same). */
int dynauth_stats_init(struct dynauth_stats *st, const char *const *nas, size_t n_nas);
void dynauth_stats_free(struct dynauth_stats *st);
/* Every figure and the ignored fields back to zero. */
void dynauth_stats_reset(struct dynauth_stats *st);

/*
 * Takes one field of the hash (binary-safe, as Redis gives it): a known
 * field with a plain decimal value from 0 to DYNAUTH_STATS_MAX_COUNT (a sum:
 * a finite number of seconds from 0 to DYNAUTH_STATS_MAX_SECONDS) sets its
 * figure; anything else is counted in ignored and changes nothing. 0, or
 * -1 when ignored. A pure function of its inputs and st.
 */
#define DYNAUTH_STATS_MAX_COUNT  1000000000000ULL
#define DYNAUTH_STATS_MAX_SECONDS 1e9
int dynauth_stats_field(struct dynauth_stats *st, const char *field, size_t field_len, const char *value,
                        size_t value_len);
/* After the last field: a histogram whose count is not the sum of its
 * buckets, or whose sum is set without a count, is dropped (and counted as
 * ignored). */
void dynauth_stats_finish(struct dynauth_stats *st);

#endif

/*
 * What authd learned about a certificate's revocation status (from OCSP, or
 * from a CRL the helpdesk imported), kept until the source's nextUpdate and
 * never longer than a configured maximum. With Redis every node shares it,
 * so one node's OCSP query serves them all; without Redis a bounded table in
 * the process serves this node alone. Calls on the Redis side block (bounded
 * by its timeout) and belong on the backend threads.
 */
#ifndef AUTHD_STATUS_CACHE_H
#define AUTHD_STATUS_CACHE_H

#include <stddef.h>
#include <time.h>

#include "policy/cert_ref.h"
#include "policy/redis_pool.h"

enum cert_status { CERT_STATUS_GOOD, CERT_STATUS_REVOKED, CERT_STATUS_UNKNOWN };

struct cached_status {
	enum cert_status status;
	char source[8];             /* who said so: "ocsp" or "crl" */
	time_t learned;
};

const char *cert_status_name(enum cert_status s);   /* "good", "revoked", "unknown" */

struct status_cache;

/* redis NULL: the in-process table, holding at most local_capacity entries.
 * Borrows redis. */
struct status_cache *status_cache_new(struct redis_pool *redis, unsigned max_ttl_s,
                                      size_t local_capacity, char *err, size_t errlen);
void status_cache_free(struct status_cache *c);

/* 1 found (out filled), 0 nothing current, -1 Redis unreachable (err). */
int status_cache_get(struct status_cache *c, const struct cert_ref *ref, struct cached_status *out,
                     char *err, size_t errlen);

/*
 * Keeps st until next_update (0: the source gave none) or for the maximum
 * TTL, whichever comes first; a revoked status with a next_update is kept
 * until then, past the maximum. A next_update already past stores nothing.
 * 0, or -1 with err (Redis unreachable: the next check asks the source again).
 */
int status_cache_put(struct status_cache *c, const struct cert_ref *ref,
                     const struct cached_status *st, time_t next_update, char *err, size_t errlen);

#endif

/*
 * What authd learned about a certificate's revocation status (from OCSP, or
 * from a CRL the helpdesk imported), kept until the source's nextUpdate and
 * never longer than a configured maximum. With Redis every node shares it,
 * so one node's OCSP query serves them all; without Redis a bounded table in
 * the process serves this node alone. Calls on the Redis side block (bounded
 * by its timeout) and belong on the backend threads.
 *
 * Redis is untrusted storage: a value is "STATUS SOURCE LEARNED EXPIRES TAG"
 * (e.g. "good ocsp 1795000000 1795003600 <22 characters>"), TAG a MAC under
 * the node key over the key name and the rest. A "good" or "unknown" without
 * a valid MAC, or past EXPIRES, is ignored as absent (and reported); a
 * "revoked" is honoured with or without one, since forging it only refuses a
 * device. A cache without the node key (authctl import-crl) writes only
 * revocations.
 */
#ifndef AUTHD_STATUS_CACHE_H
#define AUTHD_STATUS_CACHE_H

#include <stddef.h>
#include <time.h>

#include "common/cert_ref.h"
#include "common/redis_pool.h"

enum cert_status { CERT_STATUS_GOOD, CERT_STATUS_REVOKED, CERT_STATUS_UNKNOWN };

struct cached_status {
	enum cert_status status;
	char source[8];             /* who said so: "ocsp" or "crl" */
	time_t learned;
};

const char *cert_status_name(enum cert_status s);   /* "good", "revoked", "unknown" */

/* A value read back from Redis, taken apart (no MAC checked). */
#define STATUS_VALUE_MAX 128
struct status_value {
	struct cached_status status;
	long long expires;          /* Unix seconds; 0 when absent */
	size_t signed_len;          /* the leading bytes of the value the tag covers */
	const char *tag;            /* into the value; NULL when absent */
	size_t taglen;
};

/* "STATUS SOURCE LEARNED[ EXPIRES[ TAG]]", single spaces, printable ASCII,
 * at most STATUS_VALUE_MAX bytes (v need not be NUL-terminated). A pure
 * function (the fuzz target). 0, or -1 when v is not of that form. */
int status_cache_parse_value(const char *v, size_t len, struct status_value *out);

struct status_cache;

/* redis NULL: the in-process table, holding at most local_capacity entries.
 * Borrows redis. */
struct status_cache *status_cache_new(struct redis_pool *redis, unsigned max_ttl_s,
                                      size_t local_capacity, char *err, size_t errlen);
void status_cache_free(struct status_cache *c);

enum status_cache_answer {
	STATUS_CACHE_UNREACHABLE = -1,   /* Redis did not answer (err) */
	STATUS_CACHE_MISS = 0,           /* nothing current */
	STATUS_CACHE_HIT = 1,            /* out filled */
};

enum status_cache_answer status_cache_get(struct status_cache *c, const struct cert_ref *ref, struct cached_status *out,
                     char *err, size_t errlen);

/*
 * Keeps st until next_update (0: the source gave none) or for the maximum
 * TTL, whichever comes first; a revoked status with a next_update is kept
 * until then, past the maximum. A next_update already past stores nothing,
 * and so does anything but a revocation in a cache without the node key.
 * 0, or -1 with err (Redis unreachable: the next check asks the source again).
 */
int status_cache_put(struct status_cache *c, const struct cert_ref *ref,
                     const struct cached_status *st, time_t next_update, char *err, size_t errlen);

#endif

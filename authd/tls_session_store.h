/*
 * Where resumable TLS sessions live between a device's authentications: in
 * Redis when there is one, so a device roaming to another authd node resumes
 * there, else in a bounded table in the process. Sessions are kept DER-encoded
 * under the id the device will offer (TLS 1.2 session ID, TLS 1.3 ticket),
 * for the configured lifetime. In Redis each session is sealed under the
 * node key (common/seal.h) for its key name: a Redis reader learns no master
 * secret, and a value altered, copied under another id or sealed under a key
 * this node does not hold is ignored (logged, counted in the line logged
 * when the store is freed), so the device makes a full handshake. The Redis
 * side blocks (bounded by its timeout): call it from backend threads.
 */
#ifndef AUTHD_TLS_SESSION_STORE_H
#define AUTHD_TLS_SESSION_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/redis_pool.h"

struct tls_session_store;

/* redis NULL: in process, at most capacity sessions. Borrows redis, and
 * seals with its node key (redis_pool_seal): without one nothing is kept. */
struct tls_session_store *tls_session_store_new(struct redis_pool *redis, unsigned lifetime_s,
                                                size_t capacity);
void tls_session_store_free(struct tls_session_store *s);

/* True when calls may block (Redis). */
int tls_session_store_blocks(const struct tls_session_store *s);

/* 0, or -1 with err. */
int tls_session_store_put(struct tls_session_store *s, const uint8_t *id, size_t idlen,
                          const uint8_t *der, size_t derlen, char *err, size_t errlen);
enum tls_session_store_answer {
	TLS_SESSION_STORE_ERROR = -1,   /* the store did not answer (err) */
	TLS_SESSION_STORE_NONE = 0,
	TLS_SESSION_STORE_FOUND = 1,    /* *der malloc'd, caller frees */
};

enum tls_session_store_answer tls_session_store_get(struct tls_session_store *s, const uint8_t *id,
                                                    size_t idlen, uint8_t **der, size_t *derlen,
                                                    char *err, size_t errlen);

#endif

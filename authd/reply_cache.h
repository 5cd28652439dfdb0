/*
 * RFC 5080 duplicate detection: a request with the same client address and
 * port, RADIUS id and Request Authenticator as one already seen is a
 * retransmission. It gets the cached reply byte for byte, or nothing while
 * the original is still being worked on, and never re-runs the EAP machine.
 * One entry per (address, port, id): a new Request Authenticator replaces it.
 * When the cache is full the oldest entry goes.
 */
#ifndef AUTHD_REPLY_CACHE_H
#define AUTHD_REPLY_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define REPLY_CACHE_MAX_REPLY 4096

enum reply_cache_status {
	REPLY_CACHE_NEW,          /* first sight: now marked in progress, process it */
	REPLY_CACHE_IN_PROGRESS,  /* the original is being processed: drop this copy */
	REPLY_CACHE_HIT,          /* out and *outlen hold the reply to resend */
	REPLY_CACHE_FULL,         /* out of memory: drop, the NAS will retry */
};

struct reply_cache;

struct reply_cache *reply_cache_new(size_t max_entries, unsigned lifetime_s);
void reply_cache_free(struct reply_cache *c);

/* Looks the request up; on REPLY_CACHE_HIT copies the reply into out (which
 * holds REPLY_CACHE_MAX_REPLY bytes) and sets *outlen. */
enum reply_cache_status reply_cache_begin(struct reply_cache *c,
                                          const struct sockaddr_storage *from,
                                          uint8_t id, const uint8_t authenticator[16],
                                          uint8_t *out, size_t *outlen);
/* Stores the reply of a request begun with REPLY_CACHE_NEW; len 0 means no
 * reply was sent, and the entry is forgotten so a retry is processed afresh. */
void reply_cache_complete(struct reply_cache *c, const struct sockaddr_storage *from,
                          uint8_t id, const uint8_t authenticator[16],
                          const uint8_t *reply, size_t len);
/* Forgets entries older than the lifetime. */
void reply_cache_expire(struct reply_cache *c);

#endif

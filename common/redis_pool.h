/*
 * A small pool of blocking hiredis connections shared by everything authd
 * keeps in Redis (the helpdesk's list, the revocation status cache, the
 * live-session table). Each command is bounded by the configured timeout; a
 * connection that failed is replaced on its next use, so a Redis restart
 * costs one failed command per connection and nothing else. Three timeouts
 * in a row mark Redis down for 2 s: commands then fail at once. Calls block and
 * belong on authd's backend threads (or in authctl).
 */
#ifndef COMMON_REDIS_POOL_H
#define COMMON_REDIS_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "common/backend_observer.h"
#include "common/seal.h"

struct redis_settings {
	char *host;
	unsigned port;
	char *username;             /* Redis 6 ACL user; NULL: the default user */
	char *password;             /* NULL: no AUTH */
	char *prefix;               /* of every key, e.g. "authd:" */
	unsigned timeout_ms;        /* connect and per command */
	unsigned connections;
	struct seal *seal;          /* the node key (redis.key_file), owned; NULL: none (authctl) */
};

struct redis_pool;

/* Borrows settings, which must outlive the pool. Connects lazily. */
struct redis_pool *redis_pool_new(const struct redis_settings *settings, char *err, size_t errlen);
void redis_pool_free(struct redis_pool *p);

/* Every command from now on is reported to o (copied; target 0, the
 * server): its answer, error reply or failure (timeout when the deadline
 * passed), not the commands refused while Redis is marked down. Call it
 * before the pool is shared. */
void redis_pool_observe(struct redis_pool *p, const struct backend_observer *o);

const char *redis_pool_prefix(const struct redis_pool *p);
/* How many connections the pool holds: as many commands run in parallel. */
unsigned redis_pool_connections(const struct redis_pool *p);
/* The node key that seals and MACs what authd keeps here; NULL when the
 * settings have none (then only values that need no key are written). */
const struct seal *redis_pool_seal(const struct redis_pool *p);

/* True while Redis is marked down (its breaker is open: see common/breaker.h):
 * commands fail at once, so callers need not queue for it. */
bool redis_pool_down(const struct redis_pool *p);

/*
 * One command on a free pooled connection (arguments are binary-safe
 * strings). Returns the reply, which the caller frees with freeReplyObject(),
 * or NULL with err when Redis cannot be reached or answered with an error.
 * Thread-safe.
 */
redisReply *redis_pool_command(struct redis_pool *p, int argc, const char **argv, char *err,
                               size_t errlen);

/*
 * A connection of the caller's own, outside the pool, with the pool's
 * settings (address, AUTH, timeout): for a subscriber, which keeps its
 * connection for itself. The caller frees it with redisFree(); NULL with err.
 */
redisContext *redis_pool_connect(struct redis_pool *p, char *err, size_t errlen);

#endif

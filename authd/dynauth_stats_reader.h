/*
 * authd's side of dynauth_stats.h: the Disconnect/CoA figures authctl keeps
 * in Redis, read back once a second for /metrics. A thread of its own reads
 * them on a Redis connection of its own (redis_pool_connect: its AUTH goes
 * through the pool's wiped buffer), never one of the pool's that
 * authentication needs: a scrape never waits on Redis, it renders the
 * figures last read. A failed read drops the connection; the next connects
 * again. Unreadable fields are ignored and said at most once a minute.
 */
#ifndef AUTHD_DYNAUTH_STATS_READER_H
#define AUTHD_DYNAUTH_STATS_READER_H

#include <stddef.h>
#include <time.h>

#include "common/redis_pool.h"

struct authd_metrics;
struct dynauth_stats_reader;

/* Starts the reading thread. Borrows redis and am (the figures go to its
 * dynauth families), which must outlive the reader. NULL with err. */
struct dynauth_stats_reader *dynauth_stats_reader_new(struct redis_pool *redis, struct authd_metrics *am,
                                                      char *err, size_t errlen);
/* Stops the thread, waiting until deadline (CLOCK_REALTIME; NULL: no limit).
 * -1 when it is still in a Redis call then: r must not be freed under it. */
int dynauth_stats_reader_stop(struct dynauth_stats_reader *r, const struct timespec *deadline);
/* Stops (without a limit) and frees. NULL: nothing. */
void dynauth_stats_reader_free(struct dynauth_stats_reader *r);

#endif

/*
 * authd's side of dynauth_stats.h: the Disconnect/CoA figures authctl keeps
 * in Redis, read back once a second for /metrics. It runs on an event loop
 * (the metrics listener's) on a Redis connection of its own, never one of
 * the pool's that authentication needs, and asynchronously: a scrape never
 * waits on Redis, it renders the figures last read. A read that takes
 * longer than the Redis timeout (at least a second) drops the connection;
 * the next tick connects again. Unreadable fields are ignored and said at
 * most once a minute.
 */
#ifndef AUTHD_DYNAUTH_STATS_READER_H
#define AUTHD_DYNAUTH_STATS_READER_H

#include <stddef.h>

#include "common/redis_pool.h"

struct authd_metrics;
struct event_base;
struct dynauth_stats_reader;

/*
 * Starts reading on base, whose thread alone may run it from then on.
 * Borrows base, settings and am (the figures go to its dynauth families),
 * which must outlive the reader. NULL with err.
 */
struct dynauth_stats_reader *dynauth_stats_reader_new(struct event_base *base,
                                                      const struct redis_settings *settings,
                                                      struct authd_metrics *am, char *err, size_t errlen);
/* Stops and frees, on base's thread or once its loop has stopped. NULL: nothing. */
void dynauth_stats_reader_free(struct dynauth_stats_reader *r);

#endif

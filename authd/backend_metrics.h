/*
 * The metric families of authd's backends and threads, in authd_metrics's
 * registry: every call to each backend target (the Redis server, each LDAP
 * URI, each OCSP responder, each CRL file) by result, its latency, whether
 * the target is up, each CRL's nextUpdate, and how many threads each pool
 * has and how long they spent working. The backends report through
 * common/backend_observer.h, knowing nothing of metrics. Every function
 * takes a NULL struct backend_metrics (metrics not configured) and then does
 * nothing; updates are lock-free and may come from any thread.
 */
#ifndef AUTHD_BACKEND_METRICS_H
#define AUTHD_BACKEND_METRICS_H

#include <stdint.h>

#include "common/backend_observer.h"

struct authd_config;
struct backend_metrics;
struct metrics;
struct policy;

/* The backends whose targets are counted (the label backend). */
enum backend_kind { BACKEND_REDIS, BACKEND_DIRECTORY, BACKEND_OCSP, BACKEND_CRL, BACKEND_KIND_COUNT };

/* The thread pools (the label pool): the TLS/dispatch workers, then each
 * backend's threads and accounting's. */
enum thread_pool { POOL_WORKER, POOL_REDIS, POOL_DIRECTORY, POOL_OCSP, POOL_ACCOUNTING, POOL_COUNT };

/* Registers the families in m for cfg's targets. Borrows m and cfg, which
 * must outlive it. NULL when out of memory. */
struct backend_metrics *backend_metrics_new(struct metrics *m, const struct authd_config *cfg);
void backend_metrics_free(struct backend_metrics *bm);

/* At a scrape: the up gauges and the CRLs' nextUpdate, read from p
 * (lock-free). p NULL (not watched): left as they are. */
void backend_metrics_collect(struct backend_metrics *bm, const struct policy *p);

/* The observer that counts backend b's calls: its arg is bm, valid while bm
 * is. A NULL bm gives one that watches nothing. */
struct backend_observer backend_metrics_observer(struct backend_metrics *bm, enum backend_kind b);

/* delta threads of pool started (> 0) or ended (< 0). */
void backend_metrics_threads(struct backend_metrics *bm, enum thread_pool pool, int delta);
/* A thread of pool worked ns nanoseconds (a job, a burst of datagrams). */
void backend_metrics_thread_busy(struct backend_metrics *bm, enum thread_pool pool, uint64_t ns);

#endif

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

#include <stddef.h>
#include <stdint.h>

#include "common/backend_observer.h"

struct authd_config;
struct backend_metrics;
struct backend_names;
struct metrics;
struct policy;

/* The backends whose targets are counted (the label backend). */
enum backend_kind { BACKEND_REDIS, BACKEND_DIRECTORY, BACKEND_OCSP, BACKEND_CRL, BACKEND_KIND_COUNT };

/* The thread pools (the label pool): the TLS/dispatch workers, then each
 * backend's threads and accounting's. */
enum thread_pool { POOL_WORKER, POOL_REDIS, POOL_DIRECTORY, POOL_OCSP, POOL_ACCOUNTING, POOL_COUNT };

/* Registers the families in m, with room for cfg's targets and those
 * reloads add (common/name_table.h). Borrows m, which must outlive it.
 * NULL when out of memory. */
struct backend_metrics *backend_metrics_new(struct metrics *m, const struct authd_config *cfg);
void backend_metrics_free(struct backend_metrics *bm);

/*
 * What one generation of the config names (the Redis server, ldap.uris,
 * revocation.crl) and the OCSP responders its policy asks, as label values:
 * made from cfg without interning (NULL when out of memory), checked
 * (backend_names_check), then interned (backend_names_intern). Borrows bm
 * and cfg, which must outlive it. Made and interned one at a time (config
 * loads are).
 */
struct backend_names *backend_names_new(struct backend_metrics *bm, const struct authd_config *cfg);
/* 0 when its names fit beside those already interned, with room left for
 * its OCSP responders; -1 with err. */
int backend_names_check(const struct backend_names *bn, char *err, size_t errlen);
/* Interns them (after a check): 0, or -1 out of memory. */
int backend_names_intern(struct backend_names *bn);
/* NULL: nothing. After every backend reporting to its observers is gone. */
void backend_names_free(struct backend_names *bn);

/* The observer that counts backend b's calls to bn's targets (target n: the
 * n-th configured; OCSP: the policy's slot n, named when first asked). Its
 * arg is in bn, valid while bn is, but Redis's: the pool outlives
 * generations, and so does its observer (valid while bm is; Redis's
 * settings need a restart). A NULL bn gives one that watches nothing. */
/* The Redis pool's observer: the pool outlives generations (its settings
 * need a restart), so its target is bm's. Valid while bm is. */
struct backend_observer backend_metrics_redis_observer(struct backend_metrics *bm);
struct backend_observer backend_names_observer(const struct backend_names *bn, enum backend_kind b);

/* The swap from generation `from` (NULL: none yet) to `to` (NULL: none):
 * the up gauges of from's targets stop being shown (to's are set at the next
 * collect), and the nextUpdate of a CRL file to does not name reads 0. One
 * thread at a time, not during a collect. */
void backend_metrics_use(struct backend_metrics *bm, const struct backend_names *from,
                         const struct backend_names *to);
/* At a scrape: the up gauges and the CRLs' nextUpdate of bn's targets, read
 * from its policy p (lock-free). bn or p NULL: left as they are. */
void backend_metrics_collect(struct backend_metrics *bm, const struct backend_names *bn, const struct policy *p);

/* delta threads of pool started (> 0) or ended (< 0). */
void backend_metrics_threads(struct backend_metrics *bm, enum thread_pool pool, int delta);
/* A thread of pool worked ns nanoseconds (a job, a burst of datagrams). */
void backend_metrics_thread_busy(struct backend_metrics *bm, enum thread_pool pool, uint64_t ns);

#endif

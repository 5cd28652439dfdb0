#include "authd/backend_metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "authd/config.h"
#include "common/metrics.h"
#include "common/printable.h"
#include "policy/ldap_directory.h"
#include "policy/policy.h"

/* An OCSP responder's URL as a label value: longer ones are cut. */
#define OCSP_LABEL_MAX 256

static const char *const kinds[BACKEND_KIND_COUNT] = {
	[BACKEND_REDIS] = "redis", [BACKEND_DIRECTORY] = "directory", [BACKEND_OCSP] = "ocsp",
	[BACKEND_CRL] = "crl",
};
static const char *const results[] = {
	[BACKEND_OK] = "ok", [BACKEND_ERROR] = "error", [BACKEND_TIMEOUT] = "timeout",
};
static const char *const pools[POOL_COUNT] = {
	[POOL_WORKER] = "worker", [POOL_REDIS] = "redis", [POOL_DIRECTORY] = "directory",
	[POOL_OCSP] = "ocsp", [POOL_ACCOUNTING] = "accounting",
};
/* From a Redis round trip on loopback to an OCSP responder at its timeout. */
static const double duration_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

/* What an observer's arg points to: which backend reports. */
struct observed {
	struct backend_metrics *bm;
	enum backend_kind kind;
};

struct backend_metrics {
	/* The label target: the Redis server, the LDAP URIs, the CRL files,
	 * then OCSP's slots, published as responders are first asked. Each
	 * backend's targets start at first[kind]; count[kind] of them. */
	const char **targets;
	size_t n_targets;
	atomic_size_t published;
	size_t first[BACKEND_KIND_COUNT], count[BACKEND_KIND_COUNT];
	char *redis_target;                                  /* owned */
	char ocsp_urls[POLICY_OCSP_RESPONDERS][OCSP_LABEL_MAX];
	/* Per target: its last call failed (the directory's up gauge). */
	atomic_bool *last_failed;
	struct observed observed[BACKEND_KIND_COUNT];
	struct metrics_family *requests, *duration, *up, *crl_next_update, *threads, *busy;
};

static int register_families(struct backend_metrics *bm, struct metrics *m)
{
	const struct metrics_label backend = { "backend", kinds, BACKEND_KIND_COUNT };
	const struct metrics_label target = { "target", bm->targets, bm->n_targets };
	const struct metrics_label requests[] = { backend, target, { "result", results, 3 } };
	const struct metrics_label per_target[] = { backend, target };
	const struct metrics_label file = { "file", bm->targets + bm->first[BACKEND_CRL], bm->count[BACKEND_CRL] };
	const struct metrics_label pool = { "pool", pools, POOL_COUNT };

	bm->requests = metrics_counter(m, "authd_backend_requests_total",
	                               "Calls to each backend target by result (crl: a lookup a file's CRL "
	                               "answered is ok, a failed reload of the file an error).", requests, 3);
	bm->duration = metrics_histogram(m, "authd_backend_request_duration_seconds",
	                                 "Time each call to a backend target took, whatever its result.",
	                                 per_target, 2, duration_bounds,
	                                 sizeof(duration_bounds) / sizeof(duration_bounds[0]));
	bm->up = metrics_gauge(m, "authd_backend_up",
	                       "1 while a backend target is up, 0 while down: redis and each OCSP responder, "
	                       "its circuit breaker is closed; directory, the last call to the URI succeeded; "
	                       "crl, the file's CRL is not past its nextUpdate.", per_target, 2);
	/* No CRL files, no such series (a label needs a value). */
	if (bm->count[BACKEND_CRL] > 0)
		bm->crl_next_update = metrics_gauge(m, "authd_crl_next_update_timestamp_seconds",
		                                    "nextUpdate of the CRL in force from each file, in seconds "
		                                    "since the Unix epoch (0: the CRL has none).", &file, 1);
	bm->threads = metrics_gauge(m, "authd_threads", "Threads running in each pool.", &pool, 1);
	bm->busy = metrics_seconds_counter(m, "authd_thread_busy_seconds_total",
	                                   "Seconds the threads of each pool spent working, not waiting for "
	                                   "work.", &pool, 1);
	if (bm->requests == NULL || bm->duration == NULL || bm->up == NULL || bm->threads == NULL ||
	    bm->busy == NULL || (bm->count[BACKEND_CRL] > 0 && bm->crl_next_update == NULL))
		return -1;
	metrics_label_published(bm->requests, 1, &bm->published);
	metrics_label_published(bm->duration, 1, &bm->published);
	metrics_label_published(bm->up, 1, &bm->published);
	return 0;
}

/* The targets known from cfg, then the OCSP slots (unpublished). */
static int list_targets(struct backend_metrics *bm, const struct authd_config *cfg)
{
	const struct ldap_settings *ldap = cfg->policy.ldap;
	const struct revocation_settings *rev = &cfg->policy.revocation;
	size_t n = 0;

	bm->count[BACKEND_REDIS] = cfg->redis != NULL;
	bm->count[BACKEND_DIRECTORY] = ldap != NULL ? ldap->n_uris : 0;
	bm->count[BACKEND_CRL] = rev->n_crl_files;
	bm->count[BACKEND_OCSP] = POLICY_OCSP_RESPONDERS;
	/* OCSP last: its slots are published in order after every other. */
	for (int k = 0; k < BACKEND_KIND_COUNT; k++) {
		if (k != BACKEND_OCSP) {
			bm->first[k] = n;
			n += bm->count[k];
		}
	}
	bm->first[BACKEND_OCSP] = n;
	bm->n_targets = n + POLICY_OCSP_RESPONDERS;
	atomic_init(&bm->published, n);
	bm->targets = calloc(bm->n_targets, sizeof(*bm->targets));
	bm->last_failed = calloc(bm->n_targets, sizeof(*bm->last_failed));
	if (bm->targets == NULL || bm->last_failed == NULL)
		return -1;
	if (cfg->redis != NULL) {
		if (asprintf(&bm->redis_target, "%s:%u", cfg->redis->host, cfg->redis->port) < 0) {
			bm->redis_target = NULL;
			return -1;
		}
		bm->targets[bm->first[BACKEND_REDIS]] = bm->redis_target;
	}
	for (size_t i = 0; i < bm->count[BACKEND_DIRECTORY]; i++)
		bm->targets[bm->first[BACKEND_DIRECTORY] + i] = ldap->uris[i];
	for (size_t i = 0; i < bm->count[BACKEND_CRL]; i++)
		bm->targets[bm->first[BACKEND_CRL] + i] = rev->crl_files[i];
	for (size_t i = 0; i < POLICY_OCSP_RESPONDERS; i++)
		bm->targets[bm->first[BACKEND_OCSP] + i] = bm->ocsp_urls[i];
	return 0;
}

struct backend_metrics *backend_metrics_new(struct metrics *m, const struct authd_config *cfg)
{
	struct backend_metrics *bm = calloc(1, sizeof(*bm));

	if (bm == NULL)
		return NULL;
	for (int k = 0; k < BACKEND_KIND_COUNT; k++)
		bm->observed[k] = (struct observed){ bm, (enum backend_kind)k };
	if (list_targets(bm, cfg) < 0 || register_families(bm, m) < 0) {
		backend_metrics_free(bm);
		return NULL;
	}
	return bm;
}

void backend_metrics_free(struct backend_metrics *bm)
{
	if (bm == NULL)
		return;
	free(bm->targets);
	free(bm->last_failed);
	free(bm->redis_target);
	free(bm);
}

static void set_up(struct backend_metrics *bm, enum backend_kind k, size_t target, bool up)
{
	metrics_set(bm->up, metrics_series(bm->up, (size_t[]){ k, target }), up);
}

void backend_metrics_collect(struct backend_metrics *bm, const struct policy *p)
{
	size_t published, first;
	time_t now = time(NULL);

	if (bm == NULL || p == NULL)
		return;
	if (bm->count[BACKEND_REDIS] > 0)
		set_up(bm, BACKEND_REDIS, bm->first[BACKEND_REDIS], !policy_backend_down(p, POLICY_BACKEND_REDIS));
	first = bm->first[BACKEND_DIRECTORY];
	for (size_t i = first; i < first + bm->count[BACKEND_DIRECTORY]; i++)
		set_up(bm, BACKEND_DIRECTORY, i, !atomic_load_explicit(&bm->last_failed[i], memory_order_relaxed));
	first = bm->first[BACKEND_OCSP];
	published = atomic_load_explicit(&bm->published, memory_order_acquire);
	for (size_t i = first; i < published; i++)
		set_up(bm, BACKEND_OCSP, i, !policy_ocsp_responder_down(p, (unsigned)(i - first)));
	first = bm->first[BACKEND_CRL];
	for (size_t i = 0; i < bm->count[BACKEND_CRL]; i++) {
		int64_t next_update = policy_crl_next_update(p, i);

		metrics_set(bm->crl_next_update, i, next_update);
		set_up(bm, BACKEND_CRL, first + i, next_update == 0 || now <= next_update);
	}
}

static void on_call(void *arg, unsigned target, enum backend_result result, double seconds)
{
	const struct observed *o = arg;
	struct backend_metrics *bm = o->bm;
	size_t t = bm->first[o->kind] + target;

	if (target >= bm->count[o->kind])
		return;
	metrics_add(bm->requests, metrics_series(bm->requests, (size_t[]){ o->kind, t, result }), 1);
	metrics_observe(bm->duration, metrics_series(bm->duration, (size_t[]){ o->kind, t }), seconds);
	atomic_store_explicit(&bm->last_failed[t], result != BACKEND_OK, memory_order_relaxed);
}

/* An OCSP slot taken: its URL (a certificate's, so only printable bytes)
 * becomes the next target value, written before it is published. */
static void on_named(void *arg, unsigned target, const char *name)
{
	const struct observed *o = arg;
	struct backend_metrics *bm = o->bm;
	size_t t = bm->first[o->kind] + target;

	if (target >= bm->count[o->kind] || t != atomic_load_explicit(&bm->published, memory_order_relaxed))
		return;
	printable_string(bm->ocsp_urls[target], sizeof(bm->ocsp_urls[target]), name);
	atomic_store_explicit(&bm->published, t + 1, memory_order_release);
}

struct backend_observer backend_metrics_observer(struct backend_metrics *bm, enum backend_kind b)
{
	if (bm == NULL)
		return (struct backend_observer){ 0 };
	return (struct backend_observer){ .call = on_call,
	                                  .named = b == BACKEND_OCSP ? on_named : NULL,
	                                  .arg = &bm->observed[b] };
}

void backend_metrics_threads(struct backend_metrics *bm, enum thread_pool pool, int delta)
{
	if (bm != NULL)
		metrics_add(bm->threads, pool, delta);
}

void backend_metrics_thread_busy(struct backend_metrics *bm, enum thread_pool pool, uint64_t ns)
{
	if (bm != NULL)
		metrics_add(bm->busy, pool, (int64_t)ns);
}

#include "authd/backend_metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "authd/config.h"
#include "common/metrics.h"
#include "common/name_table.h"
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

/* What an observer's arg points to: which backend reports, of which
 * generation (NULL for Redis, whose target is bm's). */
struct observed {
	struct backend_metrics *bm;
	struct backend_names *bn;
	enum backend_kind kind;
};

struct backend_metrics {
	/* The label target: every backend's targets of every generation (the
	 * Redis server, the LDAP URIs, the CRL files, the OCSP responders as
	 * first asked); the label file: the CRL files. Owned. */
	struct name_table *targets, *files;
	atomic_bool *last_failed;            /* per target: its last call failed (the directory's up gauge) */
	size_t redis_target;                 /* the Redis server's target; SIZE_MAX until interned */
	struct observed redis;
	struct metrics_family *requests, *duration, *up, *crl_next_update, *threads, *busy;
};

struct backend_names {
	struct backend_metrics *bm;
	/* The configured targets of each kind but OCSP, as named (borrowed from
	 * cfg, but Redis's, owned), then their target values once interned. */
	char *redis_name;
	const char *const *names[BACKEND_KIND_COUNT];
	size_t count[BACKEND_KIND_COUNT];
	size_t *target[BACKEND_KIND_COUNT];
	size_t *file;                        /* per CRL file: its value of the label file */
	/* Per OCSP slot of this generation's policy: its target + 1, 0 until
	 * the responder is first asked. */
	atomic_size_t ocsp[POLICY_OCSP_RESPONDERS];
	struct observed observed[BACKEND_KIND_COUNT];
};

static int register_families(struct backend_metrics *bm, struct metrics *m)
{
	const struct metrics_label backend = { "backend", kinds, BACKEND_KIND_COUNT };
	const struct metrics_label target = { "target", name_table_values(bm->targets),
	                                      name_table_capacity(bm->targets) };
	const struct metrics_label requests[] = { backend, target, { "result", results, 3 } };
	const struct metrics_label per_target[] = { backend, target };
	const struct metrics_label file = { "file", name_table_values(bm->files), name_table_capacity(bm->files) };
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
	                       "crl, the file's CRL is not past its nextUpdate. Only the targets of the config "
	                       "in force.", per_target, 2);
	bm->crl_next_update = metrics_gauge(m, "authd_crl_next_update_timestamp_seconds",
	                                    "nextUpdate of the CRL in force from each file, in seconds since the "
	                                    "Unix epoch (0: the CRL has none, or the config in force no longer "
	                                    "names the file).", &file, 1);
	bm->threads = metrics_gauge(m, "authd_threads", "Threads running in each pool.", &pool, 1);
	bm->busy = metrics_seconds_counter(m, "authd_thread_busy_seconds_total",
	                                   "Seconds the threads of each pool spent working, not waiting for "
	                                   "work.", &pool, 1);
	if (bm->requests == NULL || bm->duration == NULL || bm->up == NULL || bm->crl_next_update == NULL ||
	    bm->threads == NULL || bm->busy == NULL)
		return -1;
	metrics_label_published(bm->requests, 1, name_table_published(bm->targets));
	metrics_label_published(bm->duration, 1, name_table_published(bm->targets));
	metrics_label_published(bm->up, 1, name_table_published(bm->targets));
	metrics_label_published(bm->crl_next_update, 0, name_table_published(bm->files));
	return 0;
}

struct backend_metrics *backend_metrics_new(struct metrics *m, const struct authd_config *cfg)
{
	struct backend_metrics *bm = calloc(1, sizeof(*bm));
	size_t n_crl = cfg->policy.revocation.n_crl_files;
	size_t n_targets = (cfg->redis != NULL) + n_crl + POLICY_OCSP_RESPONDERS +
	                   (cfg->policy.ldap != NULL ? cfg->policy.ldap->n_uris : 0);
	size_t capacity = name_table_capacity_for(n_targets + POLICY_OCSP_RESPONDERS);

	if (bm == NULL)
		return NULL;
	bm->redis_target = SIZE_MAX;
	bm->redis = (struct observed){ bm, NULL, BACKEND_REDIS };
	bm->targets = name_table_new(capacity);
	bm->files = name_table_new(name_table_capacity_for(n_crl));
	bm->last_failed = calloc(capacity, sizeof(*bm->last_failed));
	if (bm->targets == NULL || bm->files == NULL || bm->last_failed == NULL || register_families(bm, m) < 0) {
		backend_metrics_free(bm);
		return NULL;
	}
	return bm;
}

void backend_metrics_free(struct backend_metrics *bm)
{
	if (bm == NULL)
		return;
	name_table_free(bm->targets);
	name_table_free(bm->files);
	free(bm->last_failed);
	free(bm);
}

struct backend_names *backend_names_new(struct backend_metrics *bm, const struct authd_config *cfg)
{
	struct backend_names *bn = calloc(1, sizeof(*bn));
	const struct ldap_settings *ldap = cfg->policy.ldap;
	const struct revocation_settings *rev = &cfg->policy.revocation;

	if (bn == NULL)
		return NULL;
	bn->bm = bm;
	for (int k = 0; k < BACKEND_KIND_COUNT; k++)
		bn->observed[k] = (struct observed){ bm, bn, (enum backend_kind)k };
	for (size_t i = 0; i < POLICY_OCSP_RESPONDERS; i++)
		atomic_init(&bn->ocsp[i], 0);
	if (cfg->redis != NULL) {
		if (asprintf(&bn->redis_name, "%s:%u", cfg->redis->host, cfg->redis->port) < 0) {
			bn->redis_name = NULL;
			goto fail;
		}
		bn->names[BACKEND_REDIS] = (const char *const *)&bn->redis_name;
		bn->count[BACKEND_REDIS] = 1;
	}
	if (ldap != NULL) {
		bn->names[BACKEND_DIRECTORY] = ldap->uris;
		bn->count[BACKEND_DIRECTORY] = ldap->n_uris;
	}
	bn->names[BACKEND_CRL] = (const char *const *)rev->crl_files;
	bn->count[BACKEND_CRL] = rev->n_crl_files;
	for (int k = 0; k < BACKEND_KIND_COUNT; k++) {
		if (bn->count[k] > 0 && (bn->target[k] = calloc(bn->count[k], sizeof(*bn->target[k]))) == NULL)
			goto fail;
	}
	if (bn->count[BACKEND_CRL] > 0 && (bn->file = calloc(bn->count[BACKEND_CRL], sizeof(*bn->file))) == NULL)
		goto fail;
	return bn;
fail:
	backend_names_free(bn);
	return NULL;
}

void backend_names_free(struct backend_names *bn)
{
	if (bn == NULL)
		return;
	for (int k = 0; k < BACKEND_KIND_COUNT; k++)
		free(bn->target[k]);
	free(bn->file);
	free(bn->redis_name);
	free(bn);
}

int backend_names_check(const struct backend_names *bn, char *err, size_t errlen)
{
	const char **list = calloc(bn->count[BACKEND_REDIS] + bn->count[BACKEND_DIRECTORY] + bn->count[BACKEND_CRL] + 1,
	                           sizeof(*list));
	size_t n = 0;
	int rc;

	if (list == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int k = 0; k < BACKEND_KIND_COUNT; k++) {
		for (size_t i = 0; i < bn->count[k]; i++)
			list[n++] = bn->names[k][i];
	}
	/* Room for as many OCSP responders as the policy can ask. */
	rc = name_table_check_room(bn->bm->targets, list, n, POLICY_OCSP_RESPONDERS, "backend target(s)", err,
	                           errlen);
	free(list);
	if (rc < 0)
		return -1;
	return name_table_check_room(bn->bm->files, bn->names[BACKEND_CRL], bn->count[BACKEND_CRL], 0, "CRL file(s)",
	                             err, errlen);
}

int backend_names_intern(struct backend_names *bn)
{
	struct backend_metrics *bm = bn->bm;
	long t;

	for (int k = 0; k < BACKEND_KIND_COUNT; k++) {
		for (size_t i = 0; i < bn->count[k]; i++) {
			if ((t = name_table_intern(bm->targets, bn->names[k][i])) < 0)
				return -1;
			bn->target[k][i] = (size_t)t;
		}
	}
	for (size_t i = 0; i < bn->count[BACKEND_CRL]; i++) {
		if ((t = name_table_intern(bm->files, bn->names[BACKEND_CRL][i])) < 0)
			return -1;
		bn->file[i] = (size_t)t;
	}
	if (bn->count[BACKEND_REDIS] > 0 && bm->redis_target == SIZE_MAX)
		bm->redis_target = bn->target[BACKEND_REDIS][0];
	return 0;
}

static void set_up(struct backend_metrics *bm, enum backend_kind k, size_t target, bool up)
{
	metrics_set(bm->up, metrics_series(bm->up, (size_t[]){ k, target }), up);
}

/* Whether to names target t of kind k (OCSP: has asked it). */
static bool names_target(const struct backend_names *bn, enum backend_kind k, size_t t)
{
	if (k == BACKEND_OCSP) {
		for (size_t i = 0; i < POLICY_OCSP_RESPONDERS; i++) {
			if (atomic_load_explicit(&bn->ocsp[i], memory_order_acquire) == t + 1)
				return true;
		}
		return false;
	}
	for (size_t i = 0; i < bn->count[k]; i++) {
		if (bn->target[k][i] == t)
			return true;
	}
	return false;
}

void backend_metrics_use(struct backend_metrics *bm, const struct backend_names *from,
                         const struct backend_names *to)
{
	if (bm == NULL || from == NULL)
		return;
	for (int k = 0; k < BACKEND_KIND_COUNT; k++) {
		for (size_t i = 0; i < (k == BACKEND_OCSP ? POLICY_OCSP_RESPONDERS : from->count[k]); i++) {
			size_t t = k == BACKEND_OCSP ? atomic_load_explicit(&from->ocsp[i], memory_order_acquire) - 1
			                             : from->target[k][i];

			/* OCSP's are all cleared: to's policy has asked none yet. */
			if (t != SIZE_MAX && (to == NULL || k == BACKEND_OCSP || !names_target(to, (enum backend_kind)k, t)))
				metrics_clear(bm->up, metrics_series(bm->up, (size_t[]){ (size_t)k, t }));
		}
	}
	for (size_t i = 0; i < from->count[BACKEND_CRL]; i++) {
		bool named = false;

		for (size_t j = 0; to != NULL && j < to->count[BACKEND_CRL] && !named; j++)
			named = to->file[j] == from->file[i];
		if (!named)
			metrics_set(bm->crl_next_update, from->file[i], 0);
	}
}

void backend_metrics_collect(struct backend_metrics *bm, const struct backend_names *bn, const struct policy *p)
{
	time_t now = time(NULL);
	size_t t;

	if (bm == NULL || bn == NULL || p == NULL)
		return;
	if (bn->count[BACKEND_REDIS] > 0)
		set_up(bm, BACKEND_REDIS, bn->target[BACKEND_REDIS][0], !policy_backend_down(p, POLICY_BACKEND_REDIS));
	for (size_t i = 0; i < bn->count[BACKEND_DIRECTORY]; i++) {
		t = bn->target[BACKEND_DIRECTORY][i];
		set_up(bm, BACKEND_DIRECTORY, t, !atomic_load_explicit(&bm->last_failed[t], memory_order_relaxed));
	}
	for (unsigned i = 0; i < POLICY_OCSP_RESPONDERS; i++) {
		if ((t = atomic_load_explicit(&bn->ocsp[i], memory_order_acquire)) != 0)
			set_up(bm, BACKEND_OCSP, t - 1, !policy_ocsp_responder_down(p, i));
	}
	for (size_t i = 0; i < bn->count[BACKEND_CRL]; i++) {
		int64_t next_update = policy_crl_next_update(p, i);

		metrics_set(bm->crl_next_update, bn->file[i], next_update);
		set_up(bm, BACKEND_CRL, bn->target[BACKEND_CRL][i], next_update == 0 || now <= next_update);
	}
}

/* The target of a call to target n of the observed backend; SIZE_MAX: none. */
static size_t target_of(const struct observed *o, unsigned n)
{
	if (o->kind == BACKEND_REDIS)
		return n == 0 ? o->bm->redis_target : SIZE_MAX;
	if (o->kind == BACKEND_OCSP)
		return n < POLICY_OCSP_RESPONDERS ? atomic_load_explicit(&o->bn->ocsp[n], memory_order_acquire) - 1
		                                  : SIZE_MAX;
	return n < o->bn->count[o->kind] ? o->bn->target[o->kind][n] : SIZE_MAX;
}

static void on_call(void *arg, unsigned target, enum backend_result result, double seconds)
{
	const struct observed *o = arg;
	struct backend_metrics *bm = o->bm;
	size_t t = target_of(o, target);

	if (t == SIZE_MAX)
		return;
	metrics_add(bm->requests, metrics_series(bm->requests, (size_t[]){ o->kind, t, result }), 1);
	metrics_observe(bm->duration, metrics_series(bm->duration, (size_t[]){ o->kind, t }), seconds);
	atomic_store_explicit(&bm->last_failed[t], result != BACKEND_OK, memory_order_relaxed);
}

/* An OCSP slot taken: its URL (a certificate's; only printable bytes, cut
 * to a bound) is interned as a target, the same one whichever generation
 * first asked it. A full table leaves the responder uncounted. */
static void on_named(void *arg, unsigned target, const char *name)
{
	struct observed *o = arg;
	char url[OCSP_LABEL_MAX];
	long t;

	if (target >= POLICY_OCSP_RESPONDERS)
		return;
	printable_string(url, sizeof(url), name);
	if ((t = name_table_intern(o->bm->targets, url)) >= 0)
		atomic_store_explicit(&o->bn->ocsp[target], (size_t)t + 1, memory_order_release);
}

struct backend_observer backend_metrics_redis_observer(struct backend_metrics *bm)
{
	if (bm == NULL)
		return (struct backend_observer){ 0 };
	return (struct backend_observer){ .call = on_call, .arg = &bm->redis };
}

struct backend_observer backend_names_observer(const struct backend_names *bn, enum backend_kind b)
{
	/* The observers write only bn's atomics: bn was made writable. */
	struct backend_names *w = (struct backend_names *)bn;

	if (bn == NULL)
		return (struct backend_observer){ 0 };
	if (b == BACKEND_REDIS)
		return backend_metrics_redis_observer(w->bm);
	return (struct backend_observer){ .call = on_call,
	                                  .named = b == BACKEND_OCSP ? on_named : NULL,
	                                  .arg = &w->observed[b] };
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

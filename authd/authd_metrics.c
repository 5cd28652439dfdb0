#include "authd/authd_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#include "authd/accept_metrics.h"
#include "authd/backend_metrics.h"
#include "authd/client.h"
#include "authd/config.h"
#include "authd/dynauth_stats.h"
#include "common/metrics.h"
#include "common/name_table.h"
#include "eap/eap_tls.h"
#include "policy/decision.h"
#include "policy/policy.h"

#ifndef AUTHD_VERSION
#define AUTHD_VERSION "unknown"
#endif

/* Label values fixed by code. The drop causes name the stats counters that
 * count them. */
static const char *const request_types[] = { "access_request", "accounting_request", "status_server" };
static const char *const outcomes[] = { "accept", "reject" };
static const char *const tls_versions[] = { "TLSv1.2", "TLSv1.3" };
static const char *const yes_no[] = { "false", "true" };
static const char *const revocation_sources[] = { "helpdesk", "cache", "ocsp", "crl", "none" };
static const char *const revocation_results[] = { "good", "revoked", "unknown" };
static const char *const build_version[] = { AUTHD_VERSION };
static const char *const helpdesk_actions[] = { "revoke", "unrevoke" };
static const char *const reload_results[] = { "ok", "refused" };
/* The backends a decision waits on (enum policy_backend but NONE), and 1 +
 * the index of each in backends. */
static const char *const backends[] = { "redis", "directory", "ocsp" };
static const unsigned char backend_index[POLICY_BACKEND_COUNT] = {
	[POLICY_BACKEND_REDIS] = 1 + 0, [POLICY_BACKEND_DIRECTORY] = 1 + 1, [POLICY_BACKEND_OCSP] = 1 + 2,
};

enum drop_cause {
	DROP_UNKNOWN_CLIENT, DROP_MALFORMED, DROP_UNSUPPORTED_CODE, DROP_NO_MESSAGE_AUTHENTICATOR,
	DROP_BAD_MESSAGE_AUTHENTICATOR, DROP_REFUSED_ATTRIBUTE, DROP_DUPLICATE, DROP_OVERLOAD,
	DROP_RATE_LIMITED, DROP_COUNT
};
static const char *const drop_causes[DROP_COUNT] = {
	[DROP_UNKNOWN_CLIENT] = "unknown_client",
	[DROP_MALFORMED] = "malformed",
	[DROP_UNSUPPORTED_CODE] = "unsupported_code",
	[DROP_NO_MESSAGE_AUTHENTICATOR] = "no_message_authenticator",
	[DROP_BAD_MESSAGE_AUTHENTICATOR] = "bad_message_authenticator",
	[DROP_REFUSED_ATTRIBUTE] = "refused_attribute",
	[DROP_DUPLICATE] = "duplicate",
	[DROP_OVERLOAD] = "overload",
	[DROP_RATE_LIMITED] = "rate_limited",
};
/* 1 + the cause, so that 0 says "not a drop". */
static const unsigned char drop_of_stat[STAT_COUNT] = {
	[STAT_UNKNOWN_CLIENT] = 1 + DROP_UNKNOWN_CLIENT,
	[STAT_MALFORMED] = 1 + DROP_MALFORMED,
	[STAT_UNSUPPORTED_CODE] = 1 + DROP_UNSUPPORTED_CODE,
	[STAT_NO_MESSAGE_AUTHENTICATOR] = 1 + DROP_NO_MESSAGE_AUTHENTICATOR,
	[STAT_BAD_MESSAGE_AUTHENTICATOR] = 1 + DROP_BAD_MESSAGE_AUTHENTICATOR,
	[STAT_REFUSED_ATTRIBUTE] = 1 + DROP_REFUSED_ATTRIBUTE,
	[STAT_DUPLICATE_IN_PROGRESS] = 1 + DROP_DUPLICATE,
	[STAT_OVERLOAD] = 1 + DROP_OVERLOAD,
	[STAT_NAS_RATE] = 1 + DROP_RATE_LIMITED,
};

/* First packet to final answer: from a resumed handshake on loopback to a
 * slow directory behind a timeout. */
static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
static const double round_trip_bounds[] = { 2, 3, 4, 5, 6, 8, 10, 15, 20, 30 };
/* Hand-over to a backend's thread: nothing when a thread is idle, up to a
 * backend's timeout times the jobs ahead when it is slow. */
static const double queue_wait_bounds[] = { 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10 };

struct authd_metrics {
	struct metrics *registry;
	/* What scrapes read of the generation in force (borrowed; NULL until
	 * used), swapped under lock, which a scrape's collect holds. The hot
	 * path never takes it. */
	pthread_mutex_t lock;
	const struct policy *policy;
	const struct authd_metrics_names *names;
	/* The counters previous policies kept, at their swap: the exported
	 * counters go on from there (under lock). */
	unsigned long long soft_fail_before, revokes_before, unrevokes_before;
	size_t (*queue_depth)(void *arg, enum policy_backend b);   /* NULL until watched */
	void *queue_arg;                      /* borrowed */
	/* The decision log's reason codes: the policy's, then EAP's. */
	const char *reasons[POLICY_REASON_COUNT + EAP_REASON_COUNT];
	size_t n_reasons;
	struct name_table *clients;           /* borrowed: the nas label, "" (no client) at 0 */
	struct metrics_family *reloads, *generation;
	struct metrics_family *requests, *drops, *retransmissions, *decisions, *duration, *round_trips,
	                      *handshakes, *in_flight, *evicted, *revocation_checks, *soft_fail_accepts,
	                      *build_info, *start_time, *queue_depth_gauge, *queue_wait;
	struct metrics_family *dynauth_requests, *dynauth_naks, *revoke_to_disconnect, *helpdesk_changes,
	                      *helpdesk_revoked;
	struct backend_metrics *backends;     /* per target and per thread pool */
	struct accept_metrics *accepts;       /* placements, certificate expiry */
};

struct authd_metrics_names {
	struct backend_names *backends;
	struct accept_names *accepts;
};

static void collect(void *arg)
{
	struct authd_metrics *am = arg;
	struct revocation_mirror_figures mirror;

	pthread_mutex_lock(&am->lock);
	if (am->policy != NULL) {
		policy_helpdesk_figures(am->policy, &mirror);
		metrics_set(am->helpdesk_changes, 0, (int64_t)(am->revokes_before + mirror.revokes));
		metrics_set(am->helpdesk_changes, 1, (int64_t)(am->unrevokes_before + mirror.unrevokes));
		metrics_set(am->helpdesk_revoked, 0, (int64_t)mirror.entries);
		metrics_set(am->soft_fail_accepts, 0,
		            (int64_t)(am->soft_fail_before +
		                      policy_revocation_counter(am->policy, REVOCATION_SOFT_FAIL_ACCEPTS)));
		backend_metrics_collect(am->backends, am->names->backends, am->policy);
	}
	pthread_mutex_unlock(&am->lock);
	if (am->queue_depth != NULL) {
		for (int b = POLICY_BACKEND_NONE + 1; b < POLICY_BACKEND_COUNT; b++)
			metrics_set(am->queue_depth_gauge, backend_index[b] - 1u,
			            (int64_t)am->queue_depth(am->queue_arg, (enum policy_backend)b));
	}
	accept_metrics_collect(am->accepts);
}

static int register_families(struct authd_metrics *am)
{
	struct metrics *m = am->registry;
	const struct metrics_label nas = { "nas", name_table_values(am->clients), name_table_capacity(am->clients) };
	const struct metrics_label outcome = { "outcome", outcomes, 2 };
	const struct metrics_label requests[] = { { "type", request_types, 3 }, nas };
	const struct metrics_label drops[] = { { "cause", drop_causes, DROP_COUNT }, nas };
	const struct metrics_label decisions[] = { outcome, { "reason", am->reasons, am->n_reasons }, nas };
	const struct metrics_label handshakes[] = { { "version", tls_versions, 2 }, { "resumed", yes_no, 2 } };
	const struct metrics_label revocation[] = { { "source", revocation_sources, 5 },
	                                            { "result", revocation_results, 3 } };
	const struct metrics_label build = { "version", build_version, 1 };
	const struct metrics_label backend = { "backend", backends, 3 };
	const struct metrics_label dynauth[] = {
		nas, { "request", dynauth_stats_requests, DYNAUTH_STATS_REQUESTS },
		{ "outcome", dynauth_stats_outcomes, DYNAUTH_STATS_OUTCOMES } };
	const struct metrics_label naks[] = { nas, { "error_cause", dynauth_stats_causes, DYNAUTH_STATS_CAUSES } };
	const struct metrics_label action = { "action", helpdesk_actions, 2 };
	const struct metrics_label reload = { "result", reload_results, 2 };
	/* Which label of each family is nas, and whether "" (no client) is
	 * a value it can take. */
	struct { struct metrics_family **f; size_t label; bool none; } nas_of[] = {
		{ &am->requests, 1, false }, { &am->drops, 1, true }, { &am->retransmissions, 0, false },
		{ &am->decisions, 2, false }, { &am->in_flight, 0, false }, { &am->evicted, 0, false },
		{ &am->dynauth_requests, 0, true }, { &am->dynauth_naks, 0, true },
	};

	am->requests = metrics_counter(m, "authd_requests_total",
	                               "RADIUS requests from configured clients that passed the checks, by type.",
	                               requests, 2);
	am->drops = metrics_counter(m, "authd_requests_dropped_total",
	                            "RADIUS requests dropped without an answer, by cause (nas empty: not a client).",
	                            drops, 2);
	am->retransmissions = metrics_counter(m, "authd_retransmissions_answered_total",
	                                      "Retransmitted requests answered from the reply cache.", &nas, 1);
	am->decisions = metrics_counter(m, "authd_decisions_total",
	                                "Decisions written to the decision log, by outcome and reason code.",
	                                decisions, 3);
	am->duration = metrics_histogram(m, "authd_authentication_duration_seconds",
	                                 "Time from a conversation's first packet to its final answer.", &outcome, 1,
	                                 duration_bounds, sizeof(duration_bounds) / sizeof(duration_bounds[0]));
	am->round_trips = metrics_histogram(m, "authd_authentication_round_trips",
	                                    "RADIUS round trips a conversation took to its decision.", NULL, 0,
	                                    round_trip_bounds,
	                                    sizeof(round_trip_bounds) / sizeof(round_trip_bounds[0]));
	am->handshakes = metrics_counter(m, "authd_tls_handshakes_total",
	                                 "TLS handshakes completed with a verified device, by version and resumption.",
	                                 handshakes, 2);
	am->in_flight = metrics_gauge(m, "authd_conversations_in_flight",
	                              "Conversations started and not decided yet.", &nas, 1);
	am->evicted = metrics_counter(m, "authd_conversations_evicted_total",
	                              "Idle conversations ended to make room for others (per-NAS quotas).", &nas, 1);
	am->revocation_checks = metrics_counter(m, "authd_revocation_checks_total",
	                                        "Revocation checks of decided conversations, by the source that "
	                                        "answered (none: no source knew) and the result.", revocation, 2);
	am->soft_fail_accepts = metrics_counter(m, "authd_revocation_soft_fail_accepts_total",
	                                        "Devices accepted although no source knew their revocation status "
	                                        "(revocation.unknown = \"accept\").", NULL, 0);
	am->build_info = metrics_gauge(m, "authd_build_info", "authd's version; always 1.", &build, 1);
	am->start_time = metrics_gauge(m, "authd_start_time_seconds",
	                               "When authd started, in seconds since the Unix epoch.", NULL, 0);
	am->queue_depth_gauge = metrics_gauge(m, "authd_backend_queue_depth",
	                                      "Jobs waiting in a backend's work queue (ocsp: every responder's "
	                                      "queue summed).", &backend, 1);
	am->queue_wait = metrics_histogram(m, "authd_backend_queue_wait_seconds",
	                                   "Time from a conversation's hand-over to a backend to its start on "
	                                   "one of that backend's threads.", &backend, 1, queue_wait_bounds,
	                                   sizeof(queue_wait_bounds) / sizeof(queue_wait_bounds[0]));
	am->dynauth_requests = metrics_counter(m, "authd_dynauth_requests_total",
	                                       "Disconnect/CoA requests authctl sent (cluster-wide, from Redis), by "
	                                       "outcome (refused: not sent, the session's NAS failed the checks).",
	                                       dynauth, 3);
	am->dynauth_naks = metrics_counter(m, "authd_dynauth_naks_total",
	                                   "Disconnect/CoA NAKs by Error-Cause (cluster-wide, from Redis).", naks, 2);
	am->revoke_to_disconnect = metrics_histogram(m, "authd_revoke_to_disconnect_seconds",
	                                             "Time from a revocation recorded to its Disconnect/CoA request "
	                                             "leaving (cluster-wide, from Redis).", NULL, 0,
	                                             dynauth_stats_wait_bounds, DYNAUTH_STATS_WAIT_BOUNDS);
	am->helpdesk_changes = metrics_counter(m, "authd_helpdesk_changes_total",
	                                       "Helpdesk list changes this node's mirror applied.", &action, 1);
	am->helpdesk_revoked = metrics_gauge(m, "authd_helpdesk_revoked_certificates",
	                                     "Entries in this node's mirror of the helpdesk list.", NULL, 0);
	am->reloads = metrics_counter(m, "authd_config_reloads_total",
	                              "Config reloads asked for (SIGHUP), by result (refused: the config failed a "
	                              "check and the one in force stayed).", &reload, 1);
	am->generation = metrics_gauge(m, "authd_config_generation",
	                               "The config in force: 1 as started, one more per reload taken.", NULL, 0);
	if (am->dynauth_requests == NULL || am->dynauth_naks == NULL || am->revoke_to_disconnect == NULL ||
	    am->helpdesk_changes == NULL || am->helpdesk_revoked == NULL || am->reloads == NULL ||
	    am->generation == NULL)
		return -1;
	if (am->requests == NULL || am->drops == NULL || am->retransmissions == NULL || am->decisions == NULL ||
	    am->duration == NULL || am->round_trips == NULL || am->handshakes == NULL || am->in_flight == NULL ||
	    am->evicted == NULL || am->revocation_checks == NULL || am->soft_fail_accepts == NULL ||
	    am->build_info == NULL || am->start_time == NULL || am->queue_depth_gauge == NULL ||
	    am->queue_wait == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(nas_of) / sizeof(nas_of[0]); i++) {
		metrics_label_published(*nas_of[i].f, nas_of[i].label, name_table_published(am->clients));
		if (!nas_of[i].none)
			metrics_label_hide(*nas_of[i].f, nas_of[i].label, 0);
	}
	metrics_set(am->build_info, 0, 1);
	metrics_set(am->start_time, 0, (int64_t)time(NULL));
	metrics_set(am->generation, 0, 1);
	metrics_on_render(m, collect, am);
	return 0;
}

struct authd_metrics *authd_metrics_new(const struct authd_config *cfg, struct name_table *clients)
{
	struct authd_metrics *am = calloc(1, sizeof(*am));

	if (am == NULL)
		return NULL;
	pthread_mutex_init(&am->lock, NULL);
	/* A handshake failure is logged with EAP's code, never "handshake";
	 * needs_ocsp is never recorded. */
	for (int r = 0; r < POLICY_REASON_COUNT; r++) {
		if (r != POLICY_REASON_HANDSHAKE && r != POLICY_REASON_NEEDS_OCSP)
			am->reasons[am->n_reasons++] = policy_reason_code((enum policy_reason)r);
	}
	for (int r = EAP_REASON_OK + 1; r < EAP_REASON_COUNT; r++)
		am->reasons[am->n_reasons++] = eap_reason_code((enum eap_reason)r);
	am->clients = clients;
	am->registry = metrics_new();
	if (am->registry == NULL || register_families(am) < 0 ||
	    (am->backends = backend_metrics_new(am->registry, cfg)) == NULL ||
	    (am->accepts = accept_metrics_new(am->registry, cfg)) == NULL)
		goto fail;
	return am;
fail:
	authd_metrics_free(am);
	return NULL;
}

void authd_metrics_free(struct authd_metrics *am)
{
	if (am == NULL)
		return;
	backend_metrics_free(am->backends);
	accept_metrics_free(am->accepts);
	metrics_free(am->registry);
	pthread_mutex_destroy(&am->lock);
	free(am);
}

struct metrics *authd_metrics_registry(struct authd_metrics *am)
{
	return am->registry;
}

struct backend_metrics *authd_metrics_backends(struct authd_metrics *am)
{
	return am != NULL ? am->backends : NULL;
}

struct authd_metrics_names *authd_metrics_names_new(struct authd_metrics *am, const struct authd_config *cfg,
                                                    char *err, size_t errlen)
{
	struct authd_metrics_names *mn;

	if (errlen > 0)
		err[0] = '\0';
	if (am == NULL)
		return NULL;
	/* Every table is checked before any is written: a refused config
	 * leaves no name behind. */
	if ((mn = calloc(1, sizeof(*mn))) == NULL ||
	    (mn->backends = backend_names_new(am->backends, cfg)) == NULL ||
	    (mn->accepts = accept_names_new(am->accepts, cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (backend_names_check(mn->backends, err, errlen) < 0 || accept_names_check(mn->accepts, err, errlen) < 0)
		goto fail;
	if (backend_names_intern(mn->backends) < 0 || accept_names_intern(mn->accepts) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return mn;
fail:
	authd_metrics_names_free(mn);
	return NULL;
}

void authd_metrics_names_free(struct authd_metrics_names *mn)
{
	if (mn == NULL)
		return;
	backend_names_free(mn->backends);
	accept_names_free(mn->accepts);
	free(mn);
}

struct backend_observer authd_metrics_observer(const struct authd_metrics_names *mn, enum backend_kind b)
{
	return backend_names_observer(mn != NULL ? mn->backends : NULL, b);
}

struct backend_observer authd_metrics_redis_observer(struct authd_metrics *am)
{
	return backend_metrics_redis_observer(am != NULL ? am->backends : NULL);
}

void authd_metrics_use(struct authd_metrics *am, const struct authd_metrics_names *mn, const struct policy *p)
{
	struct revocation_mirror_figures mirror;

	if (am == NULL)
		return;
	pthread_mutex_lock(&am->lock);
	if (am->policy != NULL) {
		policy_helpdesk_figures(am->policy, &mirror);
		am->revokes_before += mirror.revokes;
		am->unrevokes_before += mirror.unrevokes;
		am->soft_fail_before += policy_revocation_counter(am->policy, REVOCATION_SOFT_FAIL_ACCEPTS);
	}
	if (p != NULL) {
		backend_metrics_use(am->backends, am->names != NULL ? am->names->backends : NULL, mn->backends);
		accept_metrics_use(am->accepts, am->names != NULL ? am->names->accepts : NULL, mn->accepts);
	}
	am->policy = p;
	am->names = p != NULL ? mn : NULL;
	pthread_mutex_unlock(&am->lock);
}

void authd_metrics_reload(struct authd_metrics *am, bool ok, unsigned generation)
{
	if (am == NULL)
		return;
	metrics_add(am->reloads, ok ? 0 : 1, 1);
	if (ok)
		metrics_set(am->generation, 0, generation);
}

void authd_metrics_watch_queues(struct authd_metrics *am, size_t (*depth)(void *arg, enum policy_backend b),
                                void *arg)
{
	if (am != NULL) {
		am->queue_depth = depth;
		am->queue_arg = arg;
	}
}

void authd_metrics_backend_wait(struct authd_metrics *am, enum policy_backend b, double seconds)
{
	if (am != NULL && backend_index[b] != 0)
		metrics_observe(am->queue_wait, backend_index[b] - 1u, seconds);
}

void authd_metrics_request(struct authd_metrics *am, const struct client *c, unsigned code)
{
	size_t type;

	if (am == NULL)
		return;
	switch (code) {
	case PW_CODE_ACCESS_REQUEST:
		type = 0;
		break;
	case PW_CODE_ACCOUNTING_REQUEST:
		type = 1;
		break;
	case PW_CODE_STATUS_SERVER:
		type = 2;
		break;
	default:
		return;
	}
	metrics_add(am->requests, metrics_series(am->requests, (size_t[]){ type, c->index }), 1);
}

void authd_metrics_drop(struct authd_metrics *am, const struct client *c, enum stat_counter cause)
{
	if (am == NULL || drop_of_stat[cause] == 0)
		return;
	metrics_add(am->drops, metrics_series(am->drops, (size_t[]){ drop_of_stat[cause] - 1u, c != NULL ? c->index : 0 }),
	            1);
}

void authd_metrics_retransmission(struct authd_metrics *am, const struct client *c)
{
	if (am != NULL)
		metrics_add(am->retransmissions, c->index, 1);
}

void authd_metrics_conversation_started(struct authd_metrics *am, const struct client *c)
{
	if (am != NULL)
		metrics_add(am->in_flight, c->index, 1);
}

void authd_metrics_conversation_abandoned(struct authd_metrics *am, const struct client *c)
{
	if (am != NULL)
		metrics_add(am->in_flight, c->index, -1);
}

void authd_metrics_conversation_evicted(struct authd_metrics *am, const struct client *c)
{
	if (am != NULL)
		metrics_add(am->evicted, c->index, 1);
}

/* The index of s in values, or n when absent. */
static size_t find(const char *const *values, size_t n, const char *s)
{
	size_t i = 0;

	while (i < n && (s == NULL || strcmp(values[i], s) != 0))
		i++;
	return i;
}

void authd_metrics_decision(struct authd_metrics *am, const struct authd_metrics_names *mn,
                            const struct client *c, const struct decision *dec)
{
	size_t outcome, reason, version, source, result;
	struct timespec now;

	if (am == NULL)
		return;
	outcome = dec->accept ? 0 : 1;
	metrics_add(am->in_flight, c->index, -1);
	reason = find(am->reasons, am->n_reasons, decision_reason_code(dec));
	if (reason < am->n_reasons)
		metrics_add(am->decisions, metrics_series(am->decisions, (size_t[]){ outcome, reason, c->index }), 1);
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_observe(am->duration, outcome,
	                (double)(now.tv_sec - dec->started.tv_sec) + (double)(now.tv_nsec - dec->started.tv_nsec) / 1e9);
	metrics_observe(am->round_trips, 0, dec->round_trips);
	/* Past the handshake: the device's certificate was verified. */
	version = find(tls_versions, 2, dec->tls_version);
	if (version < 2 && dec->reason != POLICY_REASON_HANDSHAKE && dec->reason != POLICY_REASON_TIMEOUT)
		metrics_add(am->handshakes, metrics_series(am->handshakes, (size_t[]){ version, dec->resumed }), 1);
	result = find(revocation_results, 3, dec->revocation);
	if (result < 3) {
		source = find(revocation_sources, 4, dec->revocation_source);
		metrics_add(am->revocation_checks, metrics_series(am->revocation_checks, (size_t[]){ source, result }),
		            1);
	}
	if (dec->accept)
		accept_metrics_accept(am->accepts, mn->accepts, dec);
}

void authd_metrics_tick(struct authd_metrics *am)
{
	if (am != NULL)
		accept_metrics_sweep(am->accepts);
}

struct name_table *authd_metrics_clients(const struct authd_metrics *am)
{
	return am->clients;
}

void authd_metrics_dynauth(struct authd_metrics *am, const struct dynauth_stats *st)
{
	size_t n_requests = st->n_nas * DYNAUTH_STATS_REQUESTS * DYNAUTH_STATS_OUTCOMES;

	/* The figures are laid out as the families' series (the NAS names
	 * known when they were read: the first rows). */
	for (size_t i = 0; i < n_requests; i++)
		metrics_set(am->dynauth_requests, i, (int64_t)st->requests[i]);
	for (size_t i = 0; i < st->n_nas * DYNAUTH_STATS_CAUSES; i++)
		metrics_set(am->dynauth_naks, i, (int64_t)st->naks[i]);
	metrics_set_histogram(am->revoke_to_disconnect, 0, st->wait, st->wait_sum);
}

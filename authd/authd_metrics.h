/*
 * What authd exports to Prometheus, and where the rooms report it: the
 * metric families of requests, drops, decisions, durations, TLS and
 * revocation, over the registry of common/metrics.h. Every label is bounded
 * by the configuration (NAS client names) or by code (reason codes,
 * outcomes, drop causes), never by what a device sends. Every function
 * takes a NULL struct authd_metrics (metrics not configured) and then does
 * nothing, and may be called from any thread; all are lock-free but the
 * decision of an accept and the tick, which take the expiry horizon's lock
 * for a bounded moment (a scrape never takes it).
 */
#ifndef AUTHD_AUTHD_METRICS_H
#define AUTHD_AUTHD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "authd/stats.h"
#include "policy/policy.h"

struct authd_config;
struct authd_metrics;
struct backend_metrics;
struct client;
struct decision;
struct dynauth_stats;
struct metrics;

/* The families for this config's clients. Borrows cfg (its client names
 * label the series), which must outlive it. NULL when out of memory. */
struct authd_metrics *authd_metrics_new(const struct authd_config *cfg);
void authd_metrics_free(struct authd_metrics *am);
/* The registry, for the listener to render. */
struct metrics *authd_metrics_registry(struct authd_metrics *am);
/* The families of the backends' targets and of the thread pools, where the
 * backends and the pools report (authd/backend_metrics.h); NULL for a NULL am. */
struct backend_metrics *authd_metrics_backends(struct authd_metrics *am);
/* Counters the policy keeps itself (soft-fail accepts) are read from p at
 * every scrape. Borrows p, which must outlive am or be unwatched (NULL). */
void authd_metrics_watch_policy(struct authd_metrics *am, const struct policy *p);

/* Backend b's work queue depth (for OCSP: every responder's queue summed)
 * is read through depth(arg, b) at every scrape, for b = REDIS, OCSP,
 * DIRECTORY. depth must be lock-free or nearly (a scrape waits on it) and
 * arg must outlive am or be unwatched (depth NULL). */
void authd_metrics_watch_queues(struct authd_metrics *am, size_t (*depth)(void *arg, enum policy_backend b),
                                void *arg);
/* A job that waited `seconds` on backend b's queue, from its hand-over to
 * its start on one of b's threads. b NONE: ignored. */
void authd_metrics_backend_wait(struct authd_metrics *am, enum policy_backend b, double seconds);

/* A sound request from a client, by RADIUS code. */
void authd_metrics_request(struct authd_metrics *am, const struct client *c, unsigned code);
/*
 * A request dropped, by the stats counter that counts its cause (the
 * unknown client, the decoder's refusals, a duplicate in progress, the
 * overload of a table, the client's rate). c is NULL for an unknown client.
 * Other counters are not drops and are ignored.
 */
void authd_metrics_drop(struct authd_metrics *am, const struct client *c, enum stat_counter cause);
/* A retransmission answered from the reply cache. */
void authd_metrics_retransmission(struct authd_metrics *am, const struct client *c);
/* A conversation entered the table / left it without a decision (stopping). */
void authd_metrics_conversation_started(struct authd_metrics *am, const struct client *c);
void authd_metrics_conversation_abandoned(struct authd_metrics *am, const struct client *c);
/* A conversation ended to make room for others (its decision comes too). */
void authd_metrics_conversation_evicted(struct authd_metrics *am, const struct client *c);
/*
 * A conversation's decision, as written to the decision log (called after
 * the write, with the record as it ended): decisions by outcome, reason and
 * NAS, duration, round trips, the TLS handshake, the revocation check; the
 * conversation leaves the in-flight gauge. An accept also counts its
 * placement and its device certificate (authd/accept_metrics.h).
 */
void authd_metrics_decision(struct authd_metrics *am, const struct client *c, const struct decision *dec);
/* Periodic upkeep (every second, from one thread): device certificates
 * past metrics.device_window_days leave the expiry horizon. */
void authd_metrics_tick(struct authd_metrics *am);

/* The NAS label values: the client names, then "" (not a client). */
const char *const *authd_metrics_nas(const struct authd_metrics *am, size_t *n);
/* The Disconnect/CoA figures read from Redis, whose NAS names must be
 * authd_metrics_nas(am): they replace the last ones. am not NULL. */
void authd_metrics_dynauth(struct authd_metrics *am, const struct dynauth_stats *st);

#endif

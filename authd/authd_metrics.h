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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authd/backend_metrics.h"
#include "authd/stats.h"
#include "policy/policy.h"

struct authd_config;
struct authd_metrics;
struct authd_metrics_names;
struct backend_metrics;
struct client;
struct decision;
struct dynauth_stats;
struct metrics;
struct name_table;

/*
 * The registry and every family. clients: the client names (borrowed,
 * outlives am; index 0 "", no client), the nas label's values, published as
 * clients are interned. cfg: the settings that need a restart anyway
 * (metrics.*), and the names it holds only to size the tables (read once,
 * not kept). NULL when out of memory.
 */
struct authd_metrics *authd_metrics_new(const struct authd_config *cfg, struct name_table *clients);
void authd_metrics_free(struct authd_metrics *am);
/* The registry, for the listener to render. */
struct metrics *authd_metrics_registry(struct authd_metrics *am);
/* The families of the thread pools, where the pools report
 * (authd/backend_metrics.h); NULL for a NULL am. */
struct backend_metrics *authd_metrics_backends(struct authd_metrics *am);

/*
 * What one generation of the config names in the metrics: the backend
 * targets (Redis, each ldap.uris, each revocation.crl file; OCSP responders
 * are named as first asked, and keep that name), the rules and their VLANs,
 * the server certificate and the CAs of tls.ca (both read now). Made when a
 * config is loaded (at start and at each reload), before it is used, one at
 * a time; its names are interned into the families' tables, whose room
 * covers the start's names and as many again (at least 256 more each).
 * NULL with err when they do not fit any more: the reload is to be refused,
 * nothing was interned. NULL without err (err "") for a NULL am. Borrows
 * cfg, which must outlive it.
 */
struct authd_metrics_names *authd_metrics_names_new(struct authd_metrics *am, const struct authd_config *cfg,
                                                    char *err, size_t errlen);
/* NULL: nothing. Once it is no longer in use (authd_metrics_use) and every
 * backend reporting to its observers is gone. */
void authd_metrics_names_free(struct authd_metrics_names *mn);
/*
 * The observer that generation's backend b reports to (policy_options,
 * redis_pool_observe): its target numbers are that generation's, mapped
 * here to label values. Valid while mn is; Redis's while am is (the pool
 * outlives generations and its settings need a restart). mn NULL: one that
 * watches nothing.
 */
struct backend_observer authd_metrics_observer(const struct authd_metrics_names *mn, enum backend_kind b);
/* The Redis pool's (the same as any generation's BACKEND_REDIS), valid while
 * am is: the pool is made before the first generation. am NULL: none. */
struct backend_observer authd_metrics_redis_observer(struct authd_metrics *am);
/*
 * At the swap: from now on scrapes read this generation's policy p and
 * names mn (up gauges, CRL nextUpdate, the policy's counters, server and CA
 * expiry). The up gauges of targets the previous generation named stop
 * being shown until this one reports them; a CRL file or a CA that mn no
 * longer names reads 0. Counters the policy keeps (soft-fail accepts,
 * helpdesk changes) go on from the previous policy's last value. Returns
 * once no scrape reads the previous p and mn, so the caller may free them.
 * p NULL: nothing watched (stopping); the series stay as they are.
 */
void authd_metrics_use(struct authd_metrics *am, const struct authd_metrics_names *mn, const struct policy *p);
/* A reload: authd_config_reloads_total{result="ok"|"refused"}, and when ok
 * the gauge authd_config_generation (1 at start, +1 per reload in force). */
void authd_metrics_reload(struct authd_metrics *am, bool ok, unsigned generation);

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
 * placement by the rule and VLAN of dec, which the generation whose names
 * are mn numbered (the conversation's), and its device certificate
 * (authd/accept_metrics.h). mn not NULL when am is not.
 */
void authd_metrics_decision(struct authd_metrics *am, const struct authd_metrics_names *mn,
                            const struct client *c, const struct decision *dec);
/* Periodic upkeep (every second, from one thread): device certificates
 * past metrics.device_window_days leave the expiry horizon. */
void authd_metrics_tick(struct authd_metrics *am);

/* The client names, the nas label's values. am not NULL. */
struct name_table *authd_metrics_clients(const struct authd_metrics *am);
/* The Disconnect/CoA figures read from Redis, whose NAS names must be
 * authd_metrics_clients(am)'s: they replace the last ones. am not NULL. */
void authd_metrics_dynauth(struct authd_metrics *am, const struct dynauth_stats *st);

#endif

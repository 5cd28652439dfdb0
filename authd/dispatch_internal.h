/*
 * What the dispatch files share, and nothing else includes: struct dispatch,
 * a request on its way through them, and the one way out (dispatch_respond).
 * dispatch.c does triage, conversation_flow.c moves an Access-Request's
 * conversation along, accounting.c answers accounting.
 */
#ifndef AUTHD_DISPATCH_INTERNAL_H
#define AUTHD_DISPATCH_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "authd/authd_metrics.h"
#include "authd/config.h"
#include "authd/conversation_table.h"
#include "authd/dispatch.h"
#include "authd/generation.h"
#include "authd/live_sessions.h"
#include "authd/log.h"
#include "authd/nas_watch.h"
#include "authd/radius.h"
#include "authd/reply_cache.h"
#include "authd/stats.h"
#include "authd/tls_session_store.h"
#include "authd/work_queue.h"
#include "eap/eap_tls.h"
#include "authd/decision_log.h"
#include "common/rate_limit.h"
#include "policy/policy.h"

struct dispatch {
	/* Borrowed: the config authd started with, for what only a restart
	 * changes (the tables' sizes, the decision log, Redis, sessions). */
	const struct authd_config *cfg;
	/* What new requests use (a reference held); loaded by the workers
	 * without one inside their epoch sections (see dispatch_use). */
	_Atomic(struct generation *) current;
	struct name_table *clients;            /* borrowed: a client's index, by name */
	struct revocation_mirror *mirror;      /* owned; NULL: no redis section */
	/* The once-a-second thread's own: the TLS files as last seen, and as
	 * when it last asked for a reload (see watch_tls_files). */
	struct file_stamp tls_seen[GENERATION_TLS_FILES], tls_asked[GENERATION_TLS_FILES];
	struct decision_log *decisions;        /* owned */
	struct redis_pool *redis;              /* borrowed; NULL: no redis section */
	struct conversation_table *conversations;
	struct reply_cache *replies;
	struct live_sessions *sessions;      /* NULL: no live-session table */
	struct tls_session_store *tls_sessions;   /* NULL: no resumption */
	/* Work that may block, one queue per backend with threads of its own
	 * (NULL where this config never waits on that backend), so one slow
	 * backend holds up only what needs it. Indexed by enum policy_backend;
	 * POLICY_BACKEND_NONE's is always NULL. */
	struct work_queue *queues[POLICY_BACKEND_COUNT];
	/* OCSP's, one per responder (queues[POLICY_BACKEND_OCSP] stays NULL),
	 * each started when first needed. ocsp_lock guards them and stopping. */
	struct work_queue *ocsp_queues[POLICY_OCSP_RESPONDERS];
	pthread_mutex_t ocsp_lock;
	bool stopping;
	struct work_queue *accounting;       /* NULL without the live-session table */
	struct nas_watch *nas_watch;         /* NULL: no live-session table, or nas_silent_after 0 */
	struct stats stats;
	struct authd_metrics *metrics;         /* borrowed; NULL: metrics not configured */
	atomic_ullong next_conversation;
	/* Drop warnings per second are capped so a flood cannot flood the log;
	 * the counters still count every datagram. */
	struct rate_limit drop_log;
	/* Per client index (the name table's capacity): how many requests were
	 * dropped over its max_requests_per_second. */
	atomic_ullong *nas_rate_dropped;
};

/* Everything one request carries through the dispatch files, and what it
 * takes to answer it from another thread. */
struct request {
	struct dispatch *d;
	/* The generation r->client belongs to: the current one, borrowed on a
	 * worker; a reference of the request's own once it is handed over. */
	struct generation *gen;
	const struct client *client;
	struct radius_request rad;
	uint64_t conversation;      /* 0 until known */
	struct dispatch_origin origin;   /* a copy: the transport's frame is gone when a backend answers */
};

#define LOG_REQ(level, r, fmt, ...)                                                   \
	log_msg(level, "nas=%s id=%u conv=%llu: " fmt, (r)->client->name, (r)->rad.id, \
	        (unsigned long long)(r)->conversation, ##__VA_ARGS__)

/* Encodes, caches and sends the reply (NULL: deliberately none), and frees
 * it; r->rad stays the caller's. Any thread. */
void dispatch_respond(struct request *r, struct radius_reply *reply);

#endif

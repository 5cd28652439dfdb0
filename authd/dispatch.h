/*
 * From one datagram to one reply (or deliberate silence): client lookup,
 * RADIUS checks, duplicate detection, the EAP conversation, the decision.
 * Called concurrently by all worker threads; everything shared lives in
 * struct dispatch and is locked inside the tables it holds.
 */
#ifndef AUTHD_DISPATCH_H
#define AUTHD_DISPATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "authd/config.h"
#include "authd/conversation_table.h"
#include "authd/decision_log.h"
#include "authd/live_sessions.h"
#include "authd/radius.h"
#include "authd/reply_cache.h"
#include "authd/stats.h"
#include "authd/tls_session_store.h"
#include "authd/work_queue.h"
#include "eap/eap_tls.h"
#include "policy/policy.h"
#include "common/rate_limit.h"

struct dispatch {
	const struct authd_config *cfg;        /* borrowed */
	struct eap_tls_context *tls;           /* borrowed */
	struct decision_log *decisions;        /* owned */
	struct conversation_table *conversations;
	struct reply_cache *replies;
	struct policy *policy;
	struct redis_pool *redis;              /* borrowed; NULL: no redis section */
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
	struct stats stats;
	atomic_ullong next_conversation;
	/* Drop warnings per second are capped so a flood cannot flood the log;
	 * the counters still count every datagram. */
	struct rate_limit drop_log;
	/* Per client (by index): its requests per second, when it has a cap,
	 * and how many were dropped over it. */
	struct rate_limit *nas_rate;
	atomic_ullong *nas_rate_dropped;
};

/* Creates tables and opens the decision log. Borrows redis (NULL: no redis
 * section), which the policy, the live-session table and the session store
 * share and which must outlive d. 0, or -1 with a message. */
int dispatch_init(struct dispatch *d, const struct authd_config *cfg, struct eap_tls_context *tls,
                  struct redis_pool *redis, char *err, size_t errlen);
/* Ends the backend work: queued conversations are abandoned (no reply),
 * running ones may finish until deadline (CLOCK_REALTIME; NULL: no limit).
 * -1 when some backend call is still running then (a silent responder, a
 * frozen directory): d must not be cleaned up under it. */
int dispatch_stop(struct dispatch *d, const struct timespec *deadline);
/* Stops (without a deadline) and frees everything. */
void dispatch_cleanup(struct dispatch *d);

/* Per-thread scratch space, so no request needs a large stack frame or a
 * shared buffer. */
struct dispatch_scratch {
	uint8_t reply[REPLY_CACHE_MAX_REPLY];
};

/* Handles one datagram received on fd (a listener of the given kind);
 * replies on fd to `from`. */
void dispatch_datagram(struct dispatch *d, int fd, enum radius_port port, const uint8_t *buf, size_t len,
                       const struct sockaddr_storage *from, socklen_t fromlen,
                       struct dispatch_scratch *scratch);

/* Logs, per NAS, what its quotas cost it (at stop). */
void dispatch_log_nas_counters(struct dispatch *d);

/* Ends conversations idle past their timeout (decision "timeout"), forgets
 * old cached replies and picks up changed CRL files. Call about once a second
 * from one thread. */
void dispatch_expire(struct dispatch *d);

#endif

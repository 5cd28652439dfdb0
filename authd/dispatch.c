/*
 * Triage: which client sent the request, whether it is a sound RADIUS
 * packet, whether it is a retransmission, and which handler answers it
 * (conversation_flow.c: Access-Request; accounting.c: Accounting-Request;
 * Status-Server here). Also the one way out (dispatch_respond), and the
 * lifetime of what the dispatch files share.
 */
#include "authd/dispatch_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#include "authd/accounting.h"
#include "authd/conversation_flow.h"
#include "common/name_table.h"
#include "common/sockaddr_text.h"
#include "policy/revocation_mirror.h"

/* RFC 5080 §2.2.2: keep replies long enough to cover the NAS's retries. */
#define REPLY_CACHE_LIFETIME_S 30
#define DROP_LOG_PER_SECOND 10
/* Resumable sessions one node keeps without Redis (about 1.5 KB each). */
#define TLS_SESSIONS_IN_PROCESS 100000

/* Accounting writes the live-session table in Redis; it has threads of its
 * own so that a burst of it never delays an authentication. */
#define ACCOUNTING_THREADS 2

static const enum stat_counter drop_counters[RADIUS_DROP_COUNT] = {
	[RADIUS_DROP_MALFORMED] = STAT_MALFORMED,
	[RADIUS_DROP_UNSUPPORTED_CODE] = STAT_UNSUPPORTED_CODE,
	[RADIUS_DROP_NO_MESSAGE_AUTHENTICATOR] = STAT_NO_MESSAGE_AUTHENTICATOR,
	[RADIUS_DROP_BAD_MESSAGE_AUTHENTICATOR] = STAT_BAD_MESSAGE_AUTHENTICATOR,
	[RADIUS_DROP_REFUSED_ATTRIBUTE] = STAT_REFUSED_ATTRIBUTE,
};

/* The revocation mirror's news, into the operational log. */
static void log_mirror(bool warning, const char *msg)
{
	log_msg(warning ? LOG_WARNING : LOG_INFO, "%s", msg);
}

static void cleanup(struct dispatch *d);

/* For the metrics, at every scrape: the jobs waiting on backend b. The
 * responders' queue pointers are read under ocsp_lock (a scrape holds it
 * only to read them); the depths themselves are lock-free. */
static size_t queue_depth(void *arg, enum policy_backend b)
{
	struct dispatch *d = arg;
	size_t depth = 0;

	if (b != POLICY_BACKEND_OCSP)
		return work_queue_depth(d->queues[b]);
	pthread_mutex_lock(&d->ocsp_lock);
	for (int i = 0; i < POLICY_OCSP_RESPONDERS; i++)
		depth += work_queue_depth(d->ocsp_queues[i]);
	pthread_mutex_unlock(&d->ocsp_lock);
	return depth;
}

/* The generation after the current one (1 when there is none yet) from
 * files (taken over), checked against the running config for what only a
 * restart applies. Main thread. NULL with err. */
static struct generation *make_generation(struct dispatch *d, struct generation_files *files, char *err,
                                          size_t errlen)
{
	const struct generation_deps deps = {
		.clients = d->clients, .redis = d->redis, .mirror = d->mirror, .metrics = d->metrics,
	};
	const struct generation *current = atomic_load(&d->current);
	char changed[256];
	size_t n = config_restart_changes(d->cfg, files->cfg, changed, sizeof(changed));

	if (n > 0)
		log_msg(LOG_WARNING, "%s: %zu setting(s) take effect only at the next restart, the running ones "
		        "stay: %s", d->cfg->path, n, changed);
	return generation_new(current != NULL ? current->number + 1 : 1, files, &deps, err, errlen);
}

static int dispatch_init(struct dispatch *d, const struct authd_config *cfg, struct generation_files *first_files,
                         struct name_table *clients, struct redis_pool *redis, struct authd_metrics *metrics,
                         char *err, size_t errlen)
{
	struct backend_metrics *bm = authd_metrics_backends(metrics);
	struct generation *first;
	size_t capacity = name_table_capacity(clients);

	memset(d, 0, sizeof(*d));
	d->redis = redis;
	d->metrics = metrics;
	d->clients = clients;
	pthread_mutex_init(&d->ocsp_lock, NULL);
	d->cfg = cfg;
	atomic_init(&d->next_conversation, 1);
	atomic_init(&d->current, NULL);
	rate_limit_init(&d->drop_log, DROP_LOG_PER_SECOND);
	d->nas_rate_dropped = calloc(capacity, sizeof(*d->nas_rate_dropped));
	if (d->nas_rate_dropped == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < capacity; i++)
		atomic_init(&d->nas_rate_dropped[i], 0);
	d->decisions = decision_log_open(cfg->decision_log, cfg->decision_syslog_facility);
	if (d->decisions == NULL) {
		snprintf(err, errlen, "cannot open decision log %s: %s", cfg->decision_log, strerror(errno));
		goto fail;
	}
	/* One mirror of the helpdesk list for the life of the process: every
	 * generation's policy consults it. */
	if (redis != NULL && (d->mirror = revocation_mirror_new(redis, log_mirror, err, errlen)) == NULL)
		goto fail;
	if ((first = make_generation(d, first_files, err, errlen)) == NULL)
		goto fail;
	atomic_store(&d->current, first);
	authd_metrics_use(metrics, first->names, first->policy);
	authd_metrics_watch_queues(metrics, queue_depth, d);
	d->conversations = conversation_table_new(cfg->max_conversations, cfg->max_buffered_bytes, cfg->timeout,
	                                          capacity);
	/* An entry per (NAS address, port, Identifier) seen within the lifetime:
	 * what NASes keep in flight, whatever the rate. The bound is for NASes
	 * that spread requests over very many ports; beyond it the oldest goes. */
	d->replies = reply_cache_new((size_t)cfg->max_conversations * 2, REPLY_CACHE_LIFETIME_S);
	/* A thread per connection of each backend: its requests run in parallel,
	 * and a slow backend holds only its own threads, never the TLS workers.
	 * OCSP's start per responder, when it is first needed (backend_queue). */
	for (int b = POLICY_BACKEND_NONE + 1; b < POLICY_BACKEND_COUNT; b++) {
		unsigned threads = policy_backend_threads(first->policy, (enum policy_backend)b);

		if (threads > 0 && b != POLICY_BACKEND_OCSP &&
		    (d->queues[b] = work_queue_new(threads, cfg->max_conversations, bm,
		                                   b == POLICY_BACKEND_REDIS ? POOL_REDIS : POOL_DIRECTORY)) == NULL) {
			snprintf(err, errlen, "cannot start the backend threads");
			goto fail;
		}
	}
	/* The config allows sessions only with Redis, where the policy blocks. */
	if (cfg->sessions.enabled &&
	    ((d->sessions = live_sessions_new(d->redis, cfg->sessions.lifetime, cfg->sessions.max_per_nas,
	                                      err, errlen)) == NULL ||
	     (d->accounting = work_queue_new(ACCOUNTING_THREADS, cfg->max_conversations, bm,
	                                     POOL_ACCOUNTING)) == NULL)) {
		if (d->sessions != NULL)
			snprintf(err, errlen, "cannot start the accounting threads");
		goto fail;
	}
	if (d->sessions != NULL && cfg->sessions.nas_silent_after > 0 &&
	    (d->nas_watch = nas_watch_new(clients, d->redis, d->sessions, cfg->sessions.nas_silent_after)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Resumable sessions go where the other shared state is: Redis, or this process. */
	if (cfg->tls.session_lifetime > 0 &&
	    (d->tls_sessions = tls_session_store_new(d->redis, cfg->tls.session_lifetime,
	                                             TLS_SESSIONS_IN_PROCESS)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (d->conversations == NULL || d->replies == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
	cleanup(d);
	return -1;
}

struct dispatch *dispatch_new(const struct authd_config *cfg, struct generation_files *first,
                              struct name_table *clients, struct redis_pool *redis, struct authd_metrics *metrics,
                              char *err, size_t errlen)
{
	struct dispatch *d = malloc(sizeof(*d));

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dispatch_init(d, cfg, first, clients, redis, metrics, err, errlen) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

int dispatch_stop(struct dispatch *d, const struct timespec *deadline)
{
	int rc = 0;

	/* No responder's queue starts from now on. */
	pthread_mutex_lock(&d->ocsp_lock);
	d->stopping = true;
	pthread_mutex_unlock(&d->ocsp_lock);
	/* A conversation may move between backends' queues: every queue stops
	 * (later pushes fail) before any is freed. */
	for (int b = 0; b < POLICY_BACKEND_COUNT; b++)
		rc |= work_queue_stop(d->queues[b], deadline);
	for (int i = 0; i < POLICY_OCSP_RESPONDERS; i++)
		rc |= work_queue_stop(d->ocsp_queues[i], deadline);
	rc |= work_queue_stop(d->accounting, deadline);
	rc |= revocation_mirror_stop(d->mirror, deadline);
	return rc;
}

static void cleanup(struct dispatch *d)
{
	/* The metrics stop reading the queues and the policy before they go
	 * (the listener that scrapes is stopped before this, too). */
	authd_metrics_use(d->metrics, NULL, NULL);
	authd_metrics_watch_queues(d->metrics, NULL, NULL);
	/* First: pending work still uses the tables and the decision log. */
	dispatch_stop(d, NULL);
	for (int b = 0; b < POLICY_BACKEND_COUNT; b++)
		work_queue_free(d->queues[b]);
	for (int i = 0; i < POLICY_OCSP_RESPONDERS; i++)
		work_queue_free(d->ocsp_queues[i]);
	work_queue_free(d->accounting);
	nas_watch_free(d->nas_watch);
	live_sessions_free(d->sessions);
	tls_session_store_free(d->tls_sessions);
	/* Every conversation is gone with the table: the current generation
	 * is the last one held. */
	conversation_table_free(d->conversations);
	generation_unref(atomic_load(&d->current));
	revocation_mirror_free(d->mirror);
	reply_cache_free(d->replies);
	decision_log_close(d->decisions);
	free(d->nas_rate_dropped);
	pthread_mutex_destroy(&d->ocsp_lock);
	memset(d, 0, sizeof(*d));
}

void dispatch_free(struct dispatch *d)
{
	if (d == NULL)
		return;
	cleanup(d);
	free(d);
}

static struct radius_reply *status_server(struct request *r, enum radius_port port)
{
	stats_bump(&r->d->stats, STAT_STATUS_SERVER);
	/* RFC 5997 4.2: the accounting port answers Accounting-Response. */
	return radius_reply_new(&r->rad, port == RADIUS_PORT_ACCOUNTING ? PW_CODE_ACCOUNTING_RESPONSE
	                                                                : PW_CODE_ACCESS_ACCEPT);
}

static void send_bytes(struct request *r, const uint8_t *data, size_t len)
{
	if (r->origin.send(&r->origin, data, len) < 0)
		LOG_REQ(LOG_WARNING, r, "cannot send reply: %s", strerror(errno));
}

static void log_drop(struct dispatch *d, const struct sockaddr_storage *from, const char *nas,
                     const char *what, const char *detail)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned suppressed;

	if (!rate_limit_allow(&d->drop_log, &suppressed))
		return;
	sockaddr_text_host(from, addr, sizeof(addr));
	log_msg(LOG_WARNING, "from %s%s%s: dropped: %s%s%s (%u similar lines suppressed before)", addr,
	        nas ? " nas=" : "", nas ? nas : "", what, detail[0] ? ": " : "", detail, suppressed);
}

void dispatch_request(struct dispatch *d, const struct dispatch_origin *origin, const uint8_t *buf,
                      size_t len, struct dispatch_scratch *scratch)
{
	const struct sockaddr_storage *from = &origin->peer;
	enum radius_port port = origin->port;
	struct request r = { .d = d, .origin = *origin, .gen = atomic_load_explicit(&d->current, memory_order_acquire) };
	struct radius_reply *reply = NULL;
	bool deferred = false;
	enum radius_drop drop;
	size_t outlen = 0;
	char detail[160];

	stats_bump(&d->stats, STAT_PACKETS);
	r.client = client_match(r.gen->cfg->clients, r.gen->cfg->n_clients, from);
	if (r.client == NULL) {
		stats_bump(&d->stats, STAT_UNKNOWN_CLIENT);
		authd_metrics_drop(d->metrics, NULL, STAT_UNKNOWN_CLIENT);
		log_drop(d, from, NULL, "not a configured client", "");
		return;
	}
	drop = radius_request_decode(buf, len, port, r.client, &r.rad, detail, sizeof(detail));
	if (drop != RADIUS_ACCEPTED) {
		stats_bump(&d->stats, drop_counters[drop]);
		authd_metrics_drop(d->metrics, r.client, drop_counters[drop]);
		log_drop(d, from, r.client->name, radius_drop_text(drop), detail);
		return;
	}
	if (!r.rad.message_authenticator && r.rad.code == PW_CODE_ACCESS_REQUEST)
		LOG_REQ(LOG_WARNING, &r, "accepted without Message-Authenticator: "
		        "require_message_authenticator is off for this client (BlastRADIUS risk)");
	authd_metrics_request(d->metrics, r.client, r.rad.code);
	nas_watch_heard(d->nas_watch, r.client);
	/* Counted once the packet proved it is the NAS's: a spoofer cannot spend
	 * a NAS's budget. */
	if (r.client->max_requests_per_second > 0 && !rate_limit_allow(&r.gen->nas_rate[r.client->index], NULL)) {
		stats_bump(&d->stats, STAT_NAS_RATE);
		authd_metrics_drop(d->metrics, r.client, STAT_NAS_RATE);
		atomic_fetch_add_explicit(&d->nas_rate_dropped[r.client->index], 1, memory_order_relaxed);
		log_drop(d, from, r.client->name, "over the client's max_requests_per_second", "");
		goto out;
	}

	switch (reply_cache_begin(d->replies, from, r.rad.id, r.rad.authenticator, scratch->reply,
	                          &outlen)) {
	case REPLY_CACHE_HIT:
		stats_bump(&d->stats, STAT_RETRANSMISSION);
		authd_metrics_retransmission(d->metrics, r.client);
		LOG_REQ(LOG_DEBUG, &r, "retransmission: cached reply resent");
		send_bytes(&r, scratch->reply, outlen);
		goto out;
	case REPLY_CACHE_IN_PROGRESS:
		stats_bump(&d->stats, STAT_DUPLICATE_IN_PROGRESS);
		authd_metrics_drop(d->metrics, r.client, STAT_DUPLICATE_IN_PROGRESS);
		goto out;
	case REPLY_CACHE_FULL:
		stats_bump(&d->stats, STAT_OVERLOAD);
		authd_metrics_drop(d->metrics, r.client, STAT_OVERLOAD);
		LOG_REQ(LOG_WARNING, &r, "reply cache full: dropped");
		goto out;
	case REPLY_CACHE_NEW:
		break;
	}

	if (r.rad.code == PW_CODE_STATUS_SERVER)
		reply = status_server(&r, port);
	else if (r.rad.code == PW_CODE_ACCOUNTING_REQUEST)
		reply = accounting_request(&r, &deferred);
	else
		reply = conversation_flow_access_request(&r, &deferred);
	if (deferred)
		return;   /* a backend thread owns the request now */
	dispatch_respond(&r, reply);
out:
	radius_request_free(&r.rad);
}

void dispatch_respond(struct request *r, struct radius_reply *reply)
{
	const uint8_t *out = NULL;
	size_t outlen = 0;

	if (reply != NULL && radius_reply_encode(reply, &r->rad, r->client, &out, &outlen) < 0) {
		LOG_REQ(LOG_ERROR, r, "cannot encode reply: %s", fr_strerror());
		outlen = 0;
	}
	/* Cache before sending: a retransmission racing the reply must find it. */
	reply_cache_complete(r->d->replies, &r->origin.peer, r->rad.id, r->rad.authenticator,
	                     outlen ? out : NULL, outlen);
	if (outlen > 0)
		send_bytes(r, out, outlen);
	radius_reply_free(reply);
}

/* Per NAS (every one served since the start), what its quotas cost it. */
static void log_nas_counters(struct dispatch *d)
{
	const char *const *names = name_table_values(d->clients);
	size_t n = atomic_load(name_table_published(d->clients));

	for (size_t i = 1; i < n; i++) {
		struct conversation_share share = conversation_table_share(d->conversations, i);
		unsigned long long over = atomic_load(&d->nas_rate_dropped[i]);

		if (share.evicted > 0)
			log_msg(LOG_INFO, "nas=%s: %llu idle conversations ended to make room", names[i], share.evicted);
		if (share.refused > 0)
			log_msg(LOG_INFO, "nas=%s: %llu new conversations dropped, none of its own idle to give up",
			        names[i], share.refused);
		if (over > 0)
			log_msg(LOG_INFO, "nas=%s: %llu requests dropped over max_requests_per_second", names[i],
			        over);
	}
}

static void log_revocation_counters(const struct policy *p)
{
	char line[256];
	size_t n = 0;

	for (int i = 0; i < REVOCATION_COUNTER_COUNT && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=%llu", i ? " " : "",
		                      revocation_counter_name((enum revocation_counter)i),
		                      policy_revocation_counter(p, (enum revocation_counter)i));
	log_msg(LOG_INFO, "revocation checks: %s", line);
}

void dispatch_log_counters(struct dispatch *d)
{
	stats_log(&d->stats);
	log_nas_counters(d);
	log_revocation_counters(atomic_load(&d->current)->policy);
}

void dispatch_end_idle(struct dispatch *d)
{
	conversation_flow_end_idle(d);
	reply_cache_expire(d->replies);
	/* On the accounting threads, which block on Redis anyway. */
	if (nas_watch_due(d->nas_watch) && work_queue_push(d->accounting, nas_watch_run, d->nas_watch) < 0)
		nas_watch_run(d->nas_watch, true);
}

/*
 * TLS files replaced on disk (a renewal by an ACME or EST client) are
 * loaded like a SIGHUP's reload, which the main thread runs: asked for
 * once they have stayed the same for a second (a renewal writes the
 * certificate and the key one after the other), and once per state of the
 * files, so a refused reload (a key that does not match the certificate
 * yet) is not asked for again until they change again.
 */
static void watch_tls_files(struct dispatch *d, const struct generation *g)
{
	struct file_stamp now[GENERATION_TLS_FILES];
	bool changed = false, settled = true, asked = true;

	generation_tls_stamps(g->cfg, now);
	for (int i = 0; i < GENERATION_TLS_FILES; i++) {
		changed |= !file_stamp_equal(&now[i], &g->tls_files[i]);
		settled &= file_stamp_equal(&now[i], &d->tls_seen[i]);
		asked &= file_stamp_equal(&now[i], &d->tls_asked[i]);
	}
	memcpy(d->tls_seen, now, sizeof(now));
	if (!changed || !settled || asked)
		return;
	memcpy(d->tls_asked, now, sizeof(now));
	log_msg(LOG_INFO, "tls: %s, %s or %s changed on disk: reloading the config", g->cfg->tls.certificate,
	        g->cfg->tls.private_key, g->cfg->tls.ca);
	kill(getpid(), SIGHUP);
}

void dispatch_reload_changed_files(struct dispatch *d)
{
	struct generation *g = atomic_load_explicit(&d->current, memory_order_acquire);
	char err[512];

	watch_tls_files(d, g);
	switch (policy_reload_changed(g->policy, err, sizeof(err))) {
	case 1:
		log_msg(LOG_INFO, "a CRL file changed: CRLs reloaded");
		break;
	case -1:
		log_msg(LOG_WARNING, "a CRL file changed but cannot be used, the CRLs in force stay: %s", err);
		break;
	}
}

void dispatch_reopen_log(struct dispatch *d)
{
	if (decision_log_reopen(d->decisions) < 0)
		log_msg(LOG_ERROR, "SIGHUP: cannot reopen decision log %s: %s", d->cfg->decision_log,
		        strerror(errno));
	else
		log_msg(LOG_INFO, "SIGHUP: decision log reopened");
}

struct generation *dispatch_reload_config(struct dispatch *d)
{
	struct generation_files files;
	struct generation *g = NULL, *old;
	char err[1024];

	if (generation_files_read(d->cfg->path, &files, err, sizeof(err)) == 0)
		g = make_generation(d, &files, err, sizeof(err));
	if (g == NULL) {
		unsigned in_force = atomic_load(&d->current)->number;

		log_msg(LOG_ERROR, "reload refused, config generation %u stays in force: %s", in_force, err);
		authd_metrics_reload(d->metrics, false, in_force);
		return NULL;
	}
	old = atomic_exchange_explicit(&d->current, g, memory_order_acq_rel);
	/* Scrapes read the new policy from now on; the old one stays whole
	 * until the last conversation that holds it ends. */
	authd_metrics_use(d->metrics, g->names, g->policy);
	authd_metrics_reload(d->metrics, true, g->number);
	log_set_level(g->cfg->log_level);
	log_msg(LOG_INFO, "reload: config generation %u in force (%zu client(s), %zu rule(s)); conversations "
	        "in progress finish under the generation they started with", g->number, g->cfg->n_clients,
	        g->cfg->policy.n_rules);
	return old;
}

#include "authd/dispatch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#include "authd/log.h"
#include "authd/radius.h"
#include "authd/session_class.h"
#include "eap/eap_packet.h"
#include "common/ttl_table.h"

/* RFC 5080 §2.2.2: keep replies long enough to cover the NAS's retries. */
#define REPLY_CACHE_LIFETIME_S 30
#define DROP_LOG_PER_SECOND 10
/* Resumable sessions one node keeps without Redis (about 1.5 KB each). */
#define TLS_SESSIONS_IN_PROCESS 100000

/* Everything one request carries through the dispatch functions, and what
 * it takes to answer it from another thread. */
struct request {
	struct dispatch *d;
	const struct client *client;
	struct radius_request rad;
	uint64_t conversation;      /* 0 until known */
	int fd;
	struct sockaddr_storage from;
	socklen_t fromlen;
};

/* Accounting writes the live-session table in Redis; it has threads of its
 * own so that a burst of it never delays an authentication. */
#define ACCOUNTING_THREADS 2

/* A conversation waiting for a backend thread: to decide on its verified
 * peer, or to look up the session the peer offered. */
enum pending_job { PENDING_DECIDE, PENDING_LOOKUP };

struct pending {
	struct request r;           /* owns r.rad */
	struct conversation *conv;
	enum pending_job job;
	enum policy_backend here;   /* whose threads run it */
};


#define LOG_REQ(level, r, fmt, ...)                                                   \
	log_msg(level, "nas=%s id=%u conv=%llu: " fmt, (r)->client->name, (r)->rad.id, \
	        (unsigned long long)(r)->conversation, ##__VA_ARGS__)

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

int dispatch_init(struct dispatch *d, const struct authd_config *cfg, struct eap_tls_context *tls,
                  struct redis_pool *redis, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->ocsp_lock, NULL);
	d->cfg = cfg;
	d->tls = tls;
	d->redis = redis;
	atomic_init(&d->next_conversation, 1);
	rate_limit_init(&d->drop_log, DROP_LOG_PER_SECOND);
	d->nas_rate = calloc(cfg->n_clients > 0 ? cfg->n_clients : 1, sizeof(*d->nas_rate));
	d->nas_rate_dropped = calloc(cfg->n_clients > 0 ? cfg->n_clients : 1, sizeof(*d->nas_rate_dropped));
	if (d->nas_rate == NULL || d->nas_rate_dropped == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_clients; i++) {
		rate_limit_init(&d->nas_rate[i], cfg->clients[i].max_requests_per_second);
		atomic_init(&d->nas_rate_dropped[i], 0);
	}
	d->decisions = decision_log_open(cfg->decision_log);
	if (d->decisions == NULL) {
		snprintf(err, errlen, "cannot open decision log %s: %s", cfg->decision_log, strerror(errno));
		goto fail;
	}
	d->policy = policy_new(&cfg->policy, redis, &(struct policy_options){ .log = log_mirror }, err,
	                       errlen);
	if (d->policy == NULL)
		goto fail;
	d->conversations = conversation_table_new(cfg->max_conversations, cfg->max_buffered_bytes, cfg->timeout,
	                                          cfg->n_clients);
	/* An entry per (NAS address, port, Identifier) seen within the lifetime:
	 * what NASes keep in flight, whatever the rate. The bound is for NASes
	 * that spread requests over very many ports; beyond it the oldest goes. */
	d->replies = reply_cache_new((size_t)cfg->max_conversations * 2, REPLY_CACHE_LIFETIME_S);
	/* A thread per connection of each backend: its requests run in parallel,
	 * and a slow backend holds only its own threads, never the TLS workers.
	 * OCSP's start per responder, when it is first needed (backend_queue). */
	for (int b = POLICY_BACKEND_NONE + 1; b < POLICY_BACKEND_COUNT; b++) {
		unsigned threads = policy_backend_threads(d->policy, (enum policy_backend)b);

		if (threads > 0 && b != POLICY_BACKEND_OCSP &&
		    (d->queues[b] = work_queue_new(threads, cfg->max_conversations)) == NULL) {
			snprintf(err, errlen, "cannot start the backend threads");
			goto fail;
		}
	}
	/* The config allows sessions only with Redis, where the policy blocks. */
	if (cfg->sessions.enabled &&
	    ((d->sessions = live_sessions_new(d->redis, cfg->sessions.lifetime, cfg->sessions.max_per_nas,
	                                      err, errlen)) == NULL ||
	     (d->accounting = work_queue_new(ACCOUNTING_THREADS, cfg->max_conversations)) == NULL)) {
		if (d->sessions != NULL)
			snprintf(err, errlen, "cannot start the accounting threads");
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
	dispatch_cleanup(d);
	return -1;
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
	if (d->policy != NULL)
		rc |= policy_stop(d->policy, deadline);
	return rc;
}

void dispatch_cleanup(struct dispatch *d)
{
	/* First: pending work still uses the tables and the decision log. */
	dispatch_stop(d, NULL);
	for (int b = 0; b < POLICY_BACKEND_COUNT; b++)
		work_queue_free(d->queues[b]);
	for (int i = 0; i < POLICY_OCSP_RESPONDERS; i++)
		work_queue_free(d->ocsp_queues[i]);
	work_queue_free(d->accounting);
	live_sessions_free(d->sessions);
	tls_session_store_free(d->tls_sessions);
	policy_free(d->policy);
	conversation_table_free(d->conversations);
	reply_cache_free(d->replies);
	decision_log_close(d->decisions);
	free(d->nas_rate);
	free(d->nas_rate_dropped);
	pthread_mutex_destroy(&d->ocsp_lock);
	memset(d, 0, sizeof(*d));
}

static size_t fragment_size(const struct dispatch *d, unsigned framed_mtu)
{
	size_t size = d->cfg->fragment_size;

	/* Framed-MTU bounds the whole EAP packet on the NAS-supplicant link. */
	if (framed_mtu > 0 && framed_mtu < size + EAP_TLS_OVERHEAD)
		size = framed_mtu > EAP_TLS_MIN_FRAGMENT + EAP_TLS_OVERHEAD
		               ? framed_mtu - EAP_TLS_OVERHEAD : EAP_TLS_MIN_FRAGMENT;
	return size;
}

/* What the EAP conversation knows, into its decision record. */
static void fill_from_eap(struct conversation *conv)
{
	struct decision *dec = &conv->decision;

	snprintf(dec->identity, sizeof(dec->identity), "%s", eap_conversation_identity(conv->eap));
	dec->cert = eap_conversation_peer_cert(conv->eap);
	dec->tls_version = eap_conversation_tls_version(conv->eap);
	dec->resumed = eap_conversation_resumed(conv->eap);
	dec->round_trips = eap_conversation_round_trips(conv->eap);
}

/*
 * Writes the finished record and logs a summary. The record is part of the
 * decision: an accept whose record cannot be written (disk full, I/O error)
 * becomes a reject, decision_log_unwritable, unless log.on_write_failure is
 * "accept". Callers answer by dec->accept as it is afterwards.
 */
static void record(struct dispatch *d, struct conversation *conv)
{
	struct decision *dec = &conv->decision;
	char identity[96];

	if (decision_log_write(d->decisions, dec) < 0) {
		int err = errno;
		bool refuse = dec->accept && !d->cfg->decision_log_fail_open;
		unsigned long long lost;
		unsigned suppressed;

		if (decision_log_report_failure(d->decisions, &lost, &suppressed))
			log_msg(LOG_ERROR, "nas=%s conv=%llu: cannot write the decision log: %s: %s "
			        "(%llu records lost so far, %u similar lines suppressed before)", dec->nas,
			        (unsigned long long)dec->conversation, strerror(err),
			        refuse ? "the accept becomes a reject"
			               : dec->accept ? "accepted without a record (log.on_write_failure = \"accept\")"
			                             : "rejected without a record",
			        lost, suppressed);
		if (refuse) {
			dec->accept = false;
			dec->reason = "decision_log_unwritable";
			snprintf(dec->detail, sizeof(dec->detail), "%s", strerror(err));
		}
	}
	log_sanitize(dec->identity, identity, sizeof(identity));
	log_msg(LOG_INFO, "nas=%s conv=%llu: %s identity=\"%s\" reason=%s%s%s%s%s", dec->nas,
	        (unsigned long long)dec->conversation, dec->accept ? "accept" : "reject", identity,
	        dec->reason, dec->vlan ? " vlan=" : "", dec->vlan ? dec->vlan : "",
	        dec->detail[0] ? " detail=" : "", dec->detail);
	stats_bump(&d->stats, dec->accept ? STAT_ACCEPT : STAT_REJECT);
}

/* The record of a conversation that failed in EAP or timed out. */
static void mark_failed(struct conversation *conv, const char *reason, const char *detail)
{
	fill_from_eap(conv);
	conv->decision.accept = false;
	conv->decision.reason = reason;
	snprintf(conv->decision.detail, sizeof(conv->decision.detail), "%s", detail);
}

/* A conversation that had to give way to others (see enum
 * conversation_room): recorded as ended, and said, rate-limited. */
static void end_evicted(struct dispatch *d, const struct conversation_eviction *e)
{
	static const char *const why[] = {
		[CONVERSATION_ROOM_NAS_COUNT] = "for a new one: its NAS is at clients.max_conversations",
		[CONVERSATION_ROOM_TABLE_COUNT] = "for a new one: the table is full and its NAS holds the most",
		[CONVERSATION_ROOM_NAS_BYTES] = "its NAS buffered more than clients.max_buffered_bytes",
		[CONVERSATION_ROOM_TABLE_BYTES] = "all conversations buffered more than eap.max_buffered_bytes "
		                                  "and its NAS buffered the most",
	};
	struct conversation *conv = e->conv;
	char detail[200];
	unsigned suppressed;

	snprintf(detail, sizeof(detail), "idle after %u round trips, ended to make room: %s",
	         eap_conversation_round_trips(conv->eap), why[e->why]);
	stats_bump(&d->stats, STAT_EVICTED);
	if (rate_limit_allow(&d->drop_log, &suppressed))
		log_msg(LOG_WARNING, "nas=%s conv=%llu: %s (%u similar lines suppressed before)",
		        conv->client->name, (unsigned long long)conv->decision.conversation, detail, suppressed);
	mark_failed(conv, "timeout", detail);
	record(d, conv);
	conversation_free(conv);
}

/* Hands a conversation back to the table with what it buffers now; those
 * that must give way for that are ended. conv is not to be touched after. */
static void release(struct dispatch *d, struct conversation *conv)
{
	struct conversation_eviction evicted[4];
	size_t n = conversation_table_release(d->conversations, conv, eap_conversation_buffered(conv->eap),
	                                      evicted, sizeof(evicted) / sizeof(evicted[0]));

	for (size_t i = 0; i < n; i++)
		end_evicted(d, &evicted[i]);
}

static struct conversation *start_conversation(struct request *r)
{
	struct dispatch *d = r->d;
	struct conversation *conv = calloc(1, sizeof(*conv));
	struct conversation_eviction evicted;

	if (conv == NULL)
		return NULL;
	conv->eap = eap_conversation_new(d->tls, fragment_size(d, r->rad.framed_mtu));
	if (conv->eap == NULL)
		goto fail;
	decision_start(&conv->decision,
	               atomic_fetch_add_explicit(&d->next_conversation, 1, memory_order_relaxed),
	               r->client->name);
	snprintf(conv->decision.calling_station_id, sizeof(conv->decision.calling_station_id), "%s",
	         r->rad.calling_station_id);
	if (conversation_table_add(d->conversations, conv, r->client, &evicted) < 0)
		goto fail;
	if (evicted.conv != NULL)
		end_evicted(d, &evicted);
	return conv;
fail:
	conversation_free(conv);
	return NULL;
}

static struct radius_reply *reject_reply(struct request *r, const uint8_t *eap, size_t eap_len,
                                   const char *message)
{
	struct radius_reply *reply = radius_reply_new(&r->rad, PW_CODE_ACCESS_REJECT);

	if (reply == NULL)
		return NULL;
	if ((eap != NULL && radius_reply_add_octets(reply, PW_EAP_MESSAGE, 0, eap, eap_len) < 0) ||
	    radius_reply_add_string(reply, PW_REPLY_MESSAGE, 0, message) < 0) {
		radius_reply_free(reply);
		return NULL;
	}
	return reply;
}

static struct radius_reply *challenge_reply(struct request *r, struct conversation *conv,
                                      const uint8_t *eap, size_t eap_len)
{
	struct radius_reply *reply = radius_reply_new(&r->rad, PW_CODE_ACCESS_CHALLENGE);

	if (reply == NULL)
		return NULL;
	if (radius_reply_add_octets(reply, PW_EAP_MESSAGE, 0, eap, eap_len) < 0 ||
	    radius_reply_add_octets(reply, PW_STATE, 0, conv->node.key, CONVERSATION_STATE_LEN) < 0) {
		radius_reply_free(reply);
		return NULL;
	}
	return reply;
}

/* RFC 3580 §3.31 VLAN assignment, tag 1, and the rule's extra attributes. */
static int add_placement(struct radius_reply *reply, const struct policy_result *res)
{
	const struct policy_rule *rule = res->rule;

	if (res->vlan != NULL &&
	    (radius_reply_add_integer(reply, PW_TUNNEL_TYPE, 1, 13) < 0 ||          /* VLAN */
	     radius_reply_add_integer(reply, PW_TUNNEL_MEDIUM_TYPE, 1, 6) < 0 ||    /* IEEE-802 */
	     radius_reply_add_string(reply, PW_TUNNEL_PRIVATE_GROUP_ID, 1, res->vlan) < 0))
		return -1;
	if (rule == NULL)
		return 0;
	if (rule->session_timeout > 0 &&
	    radius_reply_add_integer(reply, PW_SESSION_TIMEOUT, 0, rule->session_timeout) < 0)
		return -1;
	if (rule->termination_action >= 0 &&
	    radius_reply_add_integer(reply, PW_TERMINATION_ACTION, 0, (uint32_t)rule->termination_action) < 0)
		return -1;
	if (rule->filter_id != NULL && radius_reply_add_string(reply, PW_FILTER_ID, 0, rule->filter_id) < 0)
		return -1;
	if (rule->class_attr != NULL &&
	    radius_reply_add_octets(reply, PW_CLASS, 0, (const uint8_t *)rule->class_attr,
	                            strlen(rule->class_attr)) < 0)
		return -1;
	return 0;
}

/* The verified certificate's reference; false when it has none (no issuer). */
static bool conversation_cert_ref(struct conversation *conv, struct cert_ref *ref)
{
	STACK_OF(X509) *chain = eap_conversation_verified_chain(conv->eap);

	return sk_X509_num(chain) > 1 &&
	       cert_ref_make(eap_conversation_peer_cert(conv->eap), sk_X509_value(chain, 1), NULL, ref) == 0;
}

/* Tags the session with the certificate, so accounting names it; the tag is
 * bound to this NAS under the node key, so it names nothing elsewhere. */
static int add_session_class(struct request *r, struct radius_reply *reply, const struct cert_ref *ref)
{
	const struct redis_pool *redis = r->d->redis;
	char class[SESSION_CLASS_MAX + 1];
	int n;

	/* No node key, no live-session table that would read it back. */
	if (redis == NULL || redis_pool_seal(redis) == NULL)
		return 0;
	n = session_class_make(redis_pool_seal(redis), r->client->name, ref, class, sizeof(class));
	if (n < 0) {
		/* The device is allowed: accounting then finds it by its station. */
		LOG_REQ(LOG_WARNING, r, "cannot make the session's Class: Access-Accept without it");
		return 0;
	}
	return radius_reply_add_octets(reply, PW_CLASS, 0, (const uint8_t *)class, (size_t)n);
}

static struct radius_reply *accept_reply(struct request *r, struct conversation *conv,
                                         const uint8_t *eap, size_t eap_len,
                                         const struct policy_result *res,
                                         const struct cert_ref *session_ref)
{
	struct radius_reply *reply = radius_reply_new(&r->rad, PW_CODE_ACCESS_ACCEPT);
	uint8_t msk[EAP_MSK_LEN], emsk[EAP_EMSK_LEN];
	/* The NAS logs and accounts under User-Name: the identity authd verified,
	 * not whatever the supplicant typed, unless configured so. */
	const char *identity = r->d->cfg->policy.reply_eap_identity ? eap_conversation_identity(conv->eap)
	                                                            : conv->decision.cert_identity;
	int rc = -1;

	if (reply == NULL)
		return NULL;
	if (eap_conversation_keys(conv->eap, msk, emsk) < 0)
		goto out;
	/* RFC 2548 / RFC 5216: the NAS's receive key is the first half of the MSK. */
	if (radius_reply_add_octets(reply, PW_EAP_MESSAGE, 0, eap, eap_len) < 0 ||
	    radius_reply_add_octets(reply, PW_MSCHAP_MPPE_RECV_KEY, VENDORPEC_MICROSOFT, msk, 32) < 0 ||
	    radius_reply_add_octets(reply, PW_MSCHAP_MPPE_SEND_KEY, VENDORPEC_MICROSOFT, msk + 32, 32) < 0 ||
	    (identity[0] != '\0' && radius_reply_add_string(reply, PW_USER_NAME, 0, identity) < 0) ||
	    add_placement(reply, res) < 0 ||
	    (session_ref != NULL && add_session_class(r, reply, session_ref) < 0))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(msk, sizeof(msk));
	OPENSSL_cleanse(emsk, sizeof(emsk));
	if (rc < 0) {
		radius_reply_free(reply);
		return NULL;
	}
	return reply;
}

/* Reply-Message for a policy refusal: the class only; the log has the reason. */
static const char *policy_refusal_text(const char *reason)
{
	if (strcmp(reason, "directory_unavailable") == 0)
		return "device directory unavailable, try again later";
	if (strcmp(reason, "decision_log_unwritable") == 0)
		return "the decision cannot be recorded, try again later";
	if (strcmp(reason, "identity_mismatch") == 0 || strcmp(reason, "identity_invalid") == 0 ||
	    strcmp(reason, "no_identity") == 0)
		return "certificate identity not acceptable";
	return "device not permitted on this network";
}

static struct radius_reply *advance(struct request *r, struct conversation *conv,
                                    enum eap_step step, const uint8_t *out, size_t outlen,
                                    enum policy_backend here, bool *deferred);
static void run_pending(void *arg, bool cancelled);

static const char *backend_name(enum policy_backend b)
{
	static const char *const names[POLICY_BACKEND_COUNT] = {
		[POLICY_BACKEND_NONE] = "worker",
		[POLICY_BACKEND_REDIS] = "Redis",
		[POLICY_BACKEND_OCSP] = "OCSP",
		[POLICY_BACKEND_DIRECTORY] = "directory",
	};

	return names[b];
}

/* Whether work that waits on backend `need` must move from the thread of
 * `here` (NONE: a TLS worker) to need's threads: unless it is already there,
 * or needs nothing, or is on a backend's thread and need is marked down (its
 * calls fail at once, so going on here costs nothing). */
static bool must_hand_over(struct dispatch *d, enum policy_backend need, enum policy_backend here)
{
	return need != POLICY_BACKEND_NONE && need != here &&
	       (here == POLICY_BACKEND_NONE || !policy_backend_down(d->policy, need));
}

/*
 * The queue of backend b's threads for a check of cert: OCSP has one per
 * responder, started when that responder is first needed (most configs name
 * one or two), so a responder that is slow but still answers in time holds
 * only its own threads. NULL when there is none (stopping, no threads).
 */
static struct work_queue *backend_queue(struct dispatch *d, enum policy_backend b, X509 *cert)
{
	unsigned responder;
	struct work_queue *q;

	if (b != POLICY_BACKEND_OCSP)
		return d->queues[b];
	responder = policy_ocsp_responder(d->policy, cert);
	pthread_mutex_lock(&d->ocsp_lock);
	q = d->ocsp_queues[responder];
	if (q == NULL && !d->stopping) {
		q = work_queue_new(policy_backend_threads(d->policy, b), d->cfg->max_conversations);
		if (q == NULL)
			log_msg(LOG_ERROR, "cannot start the threads of OCSP responder %u", responder);
		d->ocsp_queues[responder] = q;
	}
	pthread_mutex_unlock(&d->ocsp_lock);
	return q;
}

/* Hands the conversation, whose certificate is cert, to the threads of
 * backend b, which go on with it and answer. 0, or -1 (that queue is full
 * or stopping: the caller still owns everything). */
static int hand_over(struct request *r, struct conversation *conv, enum pending_job job,
                     enum policy_backend b, X509 *cert)
{
	struct pending *p = malloc(sizeof(*p));
	struct work_queue *q = backend_queue(r->d, b, cert);

	if (p == NULL)
		return -1;
	*p = (struct pending){ .r = *r, .conv = conv, .job = job, .here = b };
	if (q == NULL || work_queue_push(q, run_pending, p) < 0) {
		free(p);
		if (rate_limit_allow(&r->d->drop_log, NULL))
			LOG_REQ(LOG_WARNING, r, "cannot queue for the %s threads (their queue is full)",
			        backend_name(b));
		stats_bump(&r->d->stats, STAT_OVERLOAD);
		return -1;
	}
	return 0;
}

/*
 * Enters the session the policy just accepted in the live-session table. It
 * runs on a backend thread before authd's last flight, so the entry exists
 * before the Access-Accept does and the NAS's Accounting-Start finds it.
 */
static void start_session(struct request *r, struct conversation *conv)
{
	struct live_session session;
	struct cert_ref ref;
	char err[256];

	if (!conversation_cert_ref(conv, &ref))
		return;
	live_session_from_request(&r->rad, r->client->name, &r->from, &session);
	snprintf(session.identity, sizeof(session.identity), "%s",
	         conv->decision.cert_identity[0] ? conv->decision.cert_identity : conv->decision.identity);
	if (live_sessions_begin(r->d->sessions, &ref, &session, err, sizeof(err)) < 0)
		LOG_REQ(LOG_WARNING, r, "live session not recorded (a revocation cannot disconnect it): %s", err);
}

/*
 * Stores the session an allowed handshake created, so the device can resume
 * it, on any node. Runs where the decision runs (a backend thread when the
 * store is Redis), before the last flight: the session is in the store
 * before the device holds an Access-Accept and could offer it elsewhere.
 */
static void keep_session(struct request *r, struct conversation *conv)
{
	uint8_t id[32], *der = NULL;
	size_t idlen, derlen;
	char err[256];

	if (eap_conversation_new_session(conv->eap, id, &idlen, &der, &derlen) < 0)
		return;
	if (tls_session_store_put(r->d->tls_sessions, id, idlen, der, derlen, err, sizeof(err)) < 0)
		LOG_REQ(LOG_WARNING, r, "session not stored (the device cannot resume it): %s", err);
	OPENSSL_cleanse(der, derlen);
	free(der);
}

/*
 * The peer is verified: the policy places it or refuses it, and the EAP
 * conversation goes on accordingly. Each step of the decision runs on the
 * threads of the backend it waits on (`here` is whose thread this is: NONE
 * for a TLS worker), so a device whose answer is known never queues behind
 * one waiting on a slow backend it does not need. Returns the reply, or sets
 * *deferred when the conversation moved to another backend's threads.
 */
static struct radius_reply *decide(struct request *r, struct conversation *conv,
                                   enum policy_backend here, bool *deferred)
{
	STACK_OF(X509) *chain = eap_conversation_verified_chain(conv->eap);
	struct policy_request preq;
	const uint8_t *out;
	size_t outlen;
	enum eap_step step;

	fill_from_eap(conv);
	preq = (struct policy_request){
		.cert = eap_conversation_peer_cert(conv->eap),
		.issuer = sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : NULL,
		.chain = chain,
		.eap_identity = eap_conversation_identity(conv->eap),
		.nas = r->client->name,
		.nas_port_type = r->rad.nas_port_type,
		.ssid = r->rad.ssid,
	};
	while (conv->step != POLICY_STEP_DONE) {
		enum policy_backend need = policy_step_backend(r->d->policy, conv->step);
		bool busy = false;

		if (must_hand_over(r->d, need, here)) {
			if (hand_over(r, conv, PENDING_DECIDE, need, preq.cert) == 0) {
				*deferred = true;
				return NULL;
			}
			busy = true;   /* the step ends through its backend's fallback */
		}
		conv->step = policy_decide_step(r->d->policy, &preq, conv->step, busy, &conv->decision,
		                                &conv->placement);
	}
	conv->decided = true;
	if (conv->placement.accept && r->d->sessions != NULL)
		start_session(r, conv);
	if (conv->placement.accept && r->d->tls_sessions != NULL)
		keep_session(r, conv);
	if (conv->placement.accept)
		step = eap_conversation_allow(conv->eap, &out, &outlen);
	else
		step = eap_conversation_refuse(conv->eap, &out, &outlen);
	return advance(r, conv, step, out, outlen, here, deferred);
}

static void respond(struct request *r, struct radius_reply *reply);

/* Where the session store is read: Redis's threads, unless it is in process. */
static enum policy_backend store_backend(struct dispatch *d)
{
	return tls_session_store_blocks(d->tls_sessions) ? POLICY_BACKEND_REDIS : POLICY_BACKEND_NONE;
}

/*
 * The peer offered a session: fetch it, and let it resume only if its
 * certificate still verifies and is not revoked; otherwise the handshake
 * goes on in full, where the device meets every check again. Runs on the
 * store's threads, and on OCSP's when only a responder can say whether the
 * certificate is revoked (here: whose thread this is). Returns the reply, or
 * sets *deferred when the conversation moved to other threads.
 */
static struct radius_reply *look_up_session(struct request *r, struct conversation *conv,
                                            enum policy_backend here, bool *deferred)
{
	enum policy_backend need = here == POLICY_BACKEND_OCSP ? here : store_backend(r->d);
	bool here_is_right = !must_hand_over(r->d, need, here);
	struct decision scratch;
	STACK_OF(X509) *chain = NULL;
	const uint8_t *id, *out = NULL;
	const char *refusal = NULL;
	uint8_t *der = NULL;
	size_t idlen = eap_conversation_offered_session(conv->eap, &id), derlen = 0, outlen = 0;
	enum eap_step step;
	char err[256];
	int found = 0;

	if (!here_is_right && hand_over(r, conv, PENDING_LOOKUP, need, NULL) == 0) {
		*deferred = true;
		return NULL;
	}
	/* On OCSP's threads the session was fetched and verified on the way;
	 * with no thread to look it up: a full handshake, which needs none. */
	if (here == POLICY_BACKEND_OCSP)
		chain = eap_conversation_found_chain(conv->eap);
	else if (here_is_right)
		found = tls_session_store_get(r->d->tls_sessions, id, idlen, &der, &derlen, err, sizeof(err));
	if (found < 0)
		LOG_REQ(LOG_WARNING, r, "session store unreachable, full handshake: %s", err);
	if (found > 0)
		chain = eap_conversation_offered_chain(conv->eap, der, derlen, err, sizeof(err));
	if (found > 0 && chain == NULL)
		refusal = err;
	if (chain != NULL) {
		decision_start(&scratch, conv->decision.conversation, r->client->name);
		refusal = policy_revocation_refusal(r->d->policy, sk_X509_value(chain, 0),
		                                    sk_X509_value(chain, 1), chain,
		                                    here == POLICY_BACKEND_OCSP ? REVOCATION_OCSP_ASK
		                                                                : REVOCATION_OCSP_DEFER,
		                                    &scratch);
		decision_clear(&scratch);
	}
	if (der != NULL)
		OPENSSL_cleanse(der, derlen);
	free(der);
	if (refusal == REVOCATION_NEEDS_OCSP) {
		if (hand_over(r, conv, PENDING_LOOKUP, POLICY_BACKEND_OCSP, sk_X509_value(chain, 0)) == 0) {
			*deferred = true;
			return NULL;
		}
		refusal = "OCSP busy";
	}
	if (refusal != NULL)
		LOG_REQ(LOG_INFO, r, "session not resumed (%s): full handshake", refusal);
	step = eap_conversation_resume(conv->eap, chain != NULL && refusal == NULL, &out, &outlen);
	return advance(r, conv, step, out, outlen, here, deferred);
}

/* A conversation handed to a backend thread: what it does there. */
static void run_pending(void *arg, bool cancelled)
{
	struct pending *p = arg;
	struct radius_reply *reply = NULL;
	bool deferred = false;

	if (cancelled) {
		LOG_REQ(LOG_WARNING, &p->r, "stopping: conversation abandoned, no reply");
		conversation_table_remove(p->r.d->conversations, p->conv);
		conversation_free(p->conv);
	} else if (p->job == PENDING_LOOKUP) {
		reply = look_up_session(&p->r, p->conv, p->here, &deferred);
	} else {
		reply = decide(&p->r, p->conv, p->here, &deferred);
	}
	/* Moved on to another backend's threads, which answer. */
	if (!deferred) {
		respond(&p->r, reply);
		radius_request_free(&p->r.rad);
	}
	free(p);
}

/* Ends a conversation: its decision is written (unless it is already), it
 * leaves the table. */
static void end_conversation(struct request *r, struct conversation *conv, bool recorded)
{
	if (!recorded)
		record(r->d, conv);
	conversation_table_remove(r->d->conversations, conv);
	conversation_free(conv);
}

/*
 * Acts on what the EAP conversation said, on a thread of `here` (NONE: a TLS
 * worker). Returns the reply (NULL: none), or sets *deferred when the
 * conversation moved to a backend's threads, which then answer.
 */
static struct radius_reply *advance(struct request *r, struct conversation *conv,
                                    enum eap_step step, const uint8_t *out, size_t outlen,
                                    enum policy_backend here, bool *deferred)
{
	struct dispatch *d = r->d;
	struct radius_reply *reply = NULL;
	enum eap_reason reason;
	bool recorded = false;

	switch (step) {
	case EAP_STEP_SEND:
		reply = challenge_reply(r, conv, out, outlen);
		release(d, conv);
		return reply;
	case EAP_STEP_DISCARD:
		LOG_REQ(LOG_DEBUG, r, "EAP response discarded: %s", eap_conversation_detail(conv->eap));
		release(d, conv);
		return NULL;
	case EAP_STEP_VERIFIED:
		return decide(r, conv, here, deferred);
	case EAP_STEP_LOOKUP:
		return look_up_session(r, conv, here, deferred);
	case EAP_STEP_SUCCESS: {
		struct cert_ref ref;
		bool tracked = d->sessions != NULL && conversation_cert_ref(conv, &ref);
		uint8_t failure[EAP_HEADER_LEN];

		/* No accept without its record, and no record of an accept that
		 * never leaves: the Access-Accept is built, then the record
		 * written before it is sent. If the record cannot be written,
		 * record() may turn the accept into a reject, sent as a policy
		 * refusal is: EAP-Failure (same Identifier as the EAP-Success it
		 * replaces). */
		reply = accept_reply(r, conv, out, outlen, &conv->placement, tracked ? &ref : NULL);
		if (reply == NULL) {
			LOG_REQ(LOG_ERROR, r, "cannot build the Access-Accept: no reply");
			mark_failed(conv, "tls_failed", "the Access-Accept could not be built");
		}
		record(d, conv);
		recorded = true;
		if (reply != NULL && !conv->decision.accept) {
			radius_reply_free(reply);
			eap_packet_build_result(failure, EAP_CODE_FAILURE, outlen >= 2 ? out[1] : 0);
			reply = reject_reply(r, failure, sizeof(failure),
			                     policy_refusal_text(conv->decision.reason));
		}
		break;
	}
	case EAP_STEP_FAILURE:
		if (conv->decided && eap_conversation_reason(conv->eap) == EAP_REASON_OK) {
			/* The policy refused; the record already says why. */
			reply = reject_reply(r, out, outlen, policy_refusal_text(conv->decision.reason));
			break;
		}
		reason = eap_conversation_reason(conv->eap);
		reply = reject_reply(r, out, outlen, eap_reason_text(reason));
		mark_failed(conv, eap_reason_code(reason), eap_conversation_detail(conv->eap));
		break;
	}
	end_conversation(r, conv, recorded);
	return reply;
}

/* Returns the reply to send (NULL: none), or sets *deferred when the request
 * moved to a directory thread, which then owns it and answers. */
static struct radius_reply *access_request(struct request *r, bool *deferred)
{
	struct dispatch *d = r->d;
	struct conversation *conv;
	enum conversation_miss why;
	const uint8_t *out;
	size_t outlen;
	enum eap_step step;

	if (r->rad.eap == NULL) {
		stats_bump(&d->stats, STAT_NOT_EAP);
		LOG_REQ(LOG_WARNING, r, "Access-Request without EAP-Message rejected: only EAP-TLS is served");
		return reject_reply(r, NULL, 0, "authd accepts EAP-TLS only");
	}
	if (r->rad.state != NULL) {
		conv = conversation_table_acquire(d->conversations, r->rad.state, r->rad.state_len,
		                                  r->client, &why);
		if (conv == NULL && why == CONVERSATION_BUSY) {
			stats_bump(&d->stats, STAT_DUPLICATE_IN_PROGRESS);
			return NULL;
		}
		if (conv == NULL) {
			stats_bump(&d->stats, STAT_UNKNOWN_STATE);
			LOG_REQ(LOG_WARNING, r, "State %s: rejected",
			        why == CONVERSATION_OTHER_NAS ? "was issued to another NAS" : "is unknown or expired");
			return reject_reply(r, NULL, 0, "unknown or expired State");
		}
	} else {
		conv = start_conversation(r);
		if (conv == NULL) {
			unsigned suppressed;

			stats_bump(&d->stats, STAT_OVERLOAD);
			if (rate_limit_allow(&d->drop_log, &suppressed))
				LOG_REQ(LOG_WARNING, r, "cannot start a conversation (this NAS holds %zu, none idle "
				        "to give up; eap.max_conversations %u): dropped (%u similar lines suppressed "
				        "before)", conversation_table_share(d->conversations, r->client).held,
				        d->cfg->max_conversations, suppressed);
			return NULL;
		}
	}
	r->conversation = conv->decision.conversation;
	step = eap_conversation_step(conv->eap, r->rad.eap, r->rad.eap_len, &out, &outlen);
	return advance(r, conv, step, out, outlen, POLICY_BACKEND_NONE, deferred);
}

static void run_accounting(void *arg, bool cancelled)
{
	struct request *r = arg;
	struct radius_reply *reply = NULL;
	struct live_session session;
	struct cert_ref ref;
	char err[256];
	bool tagged = false;
	int rc;

	if (cancelled)
		goto out;
	live_session_from_request(&r->rad, r->client->name, &r->from, &session);
	if (r->rad.authd_class != NULL) {
		const struct redis_pool *redis = r->d->redis;

		/* A Class issued to another NAS, or made up, names no session: it
		 * is answered (the NAS would only retry) and recorded nowhere. */
		if (session_class_verify(redis != NULL ? redis_pool_seal(redis) : NULL, r->client->name,
		                         r->rad.authd_class, r->rad.authd_class_len, &ref) < 0) {
			char station[64], id[128];
			unsigned suppressed;

			stats_bump(&r->d->stats, STAT_CLASS_REFUSED);
			log_sanitize(session.calling_station_id, station, sizeof(station));
			log_sanitize(session.acct_session_id, id, sizeof(id));
			if (rate_limit_allow(&r->d->drop_log, &suppressed))
				LOG_REQ(LOG_WARNING, r, "accounting ignored: its Class was not issued to this NAS "
				        "(station %s, session %s; %u similar lines suppressed before)", station, id,
				        suppressed);
			reply = radius_reply_new(&r->rad, PW_CODE_ACCOUNTING_RESPONSE);
			goto out;
		}
		tagged = true;
	}
	rc = live_sessions_account(r->d->sessions, r->rad.acct_status_type, tagged ? &ref : NULL,
	                           &session, err, sizeof(err));
	if (rc < 0) {
		/* RFC 2866 4.1: no response unless recorded; the NAS retries. */
		LOG_REQ(LOG_WARNING, r, "accounting not recorded, no response: %s", err);
		goto out;
	}
	if (rc == 0) {
		char station[64];

		log_sanitize(session.calling_station_id, station, sizeof(station));
		LOG_REQ(LOG_DEBUG, r, "accounting names no session authd keeps (station %s)", station);
	}
	reply = radius_reply_new(&r->rad, PW_CODE_ACCOUNTING_RESPONSE);
out:
	respond(r, reply);
	radius_request_free(&r->rad);
	free(r);
}

/* Accounting updates the live-session table in Redis, so a backend thread
 * does it and answers. Sets *deferred, or returns NULL (no reply: the NAS
 * retries) when the queue is full. */
static struct radius_reply *accounting_request(struct request *r, bool *deferred)
{
	struct request *job = malloc(sizeof(*job));

	stats_bump(&r->d->stats, STAT_ACCOUNTING);
	if (job != NULL) {
		*job = *r;
		if (work_queue_push(r->d->accounting, run_accounting, job) == 0) {
			*deferred = true;
			return NULL;
		}
		free(job);
	}
	stats_bump(&r->d->stats, STAT_OVERLOAD);
	LOG_REQ(LOG_WARNING, r, "accounting queue full: dropped, the NAS will retry");
	return NULL;
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
	if (sendto(r->fd, data, len, 0, (const struct sockaddr *)&r->from, r->fromlen) < 0)
		LOG_REQ(LOG_WARNING, r, "cannot send reply: %s", strerror(errno));
}

static void log_drop(struct dispatch *d, const struct sockaddr_storage *from, const char *nas,
                     const char *what, const char *detail)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	const void *a = from->ss_family == AF_INET
	                        ? (const void *)&((const struct sockaddr_in *)from)->sin_addr
	                        : (const void *)&((const struct sockaddr_in6 *)from)->sin6_addr;

	unsigned suppressed;

	if (!rate_limit_allow(&d->drop_log, &suppressed))
		return;
	inet_ntop(from->ss_family, a, addr, sizeof(addr));
	log_msg(LOG_WARNING, "from %s%s%s: dropped: %s%s%s (%u similar lines suppressed before)", addr,
	        nas ? " nas=" : "", nas ? nas : "", what, detail[0] ? ": " : "", detail, suppressed);
}

void dispatch_datagram(struct dispatch *d, int fd, enum radius_port port, const uint8_t *buf, size_t len,
                       const struct sockaddr_storage *from, socklen_t fromlen,
                       struct dispatch_scratch *scratch)
{
	struct request r = { .d = d, .fd = fd, .from = *from, .fromlen = fromlen };
	struct radius_reply *reply = NULL;
	bool deferred = false;
	enum radius_drop drop;
	size_t outlen = 0;
	char detail[160];

	stats_bump(&d->stats, STAT_PACKETS);
	r.client = client_match(d->cfg->clients, d->cfg->n_clients, from);
	if (r.client == NULL) {
		stats_bump(&d->stats, STAT_UNKNOWN_CLIENT);
		log_drop(d, from, NULL, "not a configured client", "");
		return;
	}
	drop = radius_request_decode(buf, len, port, r.client, &r.rad, detail, sizeof(detail));
	if (drop != RADIUS_ACCEPTED) {
		stats_bump(&d->stats, drop_counters[drop]);
		log_drop(d, from, r.client->name, radius_drop_text(drop), detail);
		return;
	}
	if (!r.rad.message_authenticator && r.rad.code == PW_CODE_ACCESS_REQUEST)
		LOG_REQ(LOG_WARNING, &r, "accepted without Message-Authenticator: "
		        "require_message_authenticator is off for this client (BlastRADIUS risk)");
	/* Counted once the packet proved it is the NAS's: a spoofer cannot spend
	 * a NAS's budget. */
	if (r.client->max_requests_per_second > 0 && !rate_limit_allow(&d->nas_rate[r.client->index], NULL)) {
		stats_bump(&d->stats, STAT_NAS_RATE);
		atomic_fetch_add_explicit(&d->nas_rate_dropped[r.client->index], 1, memory_order_relaxed);
		log_drop(d, from, r.client->name, "over the client's max_requests_per_second", "");
		goto out;
	}

	switch (reply_cache_begin(d->replies, from, r.rad.id, r.rad.authenticator, scratch->reply,
	                          &outlen)) {
	case REPLY_CACHE_HIT:
		stats_bump(&d->stats, STAT_RETRANSMISSION);
		LOG_REQ(LOG_DEBUG, &r, "retransmission: cached reply resent");
		send_bytes(&r, scratch->reply, outlen);
		goto out;
	case REPLY_CACHE_IN_PROGRESS:
		stats_bump(&d->stats, STAT_DUPLICATE_IN_PROGRESS);
		goto out;
	case REPLY_CACHE_FULL:
		stats_bump(&d->stats, STAT_OVERLOAD);
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
		reply = access_request(&r, &deferred);
	if (deferred)
		return;   /* a backend thread owns the request now */
	respond(&r, reply);
out:
	radius_request_free(&r.rad);
}

/* Encodes, caches and sends the reply (NULL: deliberately none), and frees it. */
static void respond(struct request *r, struct radius_reply *reply)
{
	const uint8_t *out = NULL;
	size_t outlen = 0;

	if (reply != NULL && radius_reply_encode(reply, &r->rad, r->client, &out, &outlen) < 0) {
		LOG_REQ(LOG_ERROR, r, "cannot encode reply: %s", fr_strerror());
		outlen = 0;
	}
	/* Cache before sending: a retransmission racing the reply must find it. */
	reply_cache_complete(r->d->replies, &r->from, r->rad.id, r->rad.authenticator,
	                     outlen ? out : NULL, outlen);
	if (outlen > 0)
		send_bytes(r, out, outlen);
	radius_reply_free(reply);
}

void dispatch_log_nas_counters(struct dispatch *d)
{
	for (size_t i = 0; i < d->cfg->n_clients; i++) {
		const struct client *c = &d->cfg->clients[i];
		struct conversation_share share = conversation_table_share(d->conversations, c);
		unsigned long long over = atomic_load(&d->nas_rate_dropped[i]);

		if (share.evicted > 0)
			log_msg(LOG_INFO, "nas=%s: %llu idle conversations ended to make room", c->name, share.evicted);
		if (share.refused > 0)
			log_msg(LOG_INFO, "nas=%s: %llu new conversations dropped, none of its own idle to give up",
			        c->name, share.refused);
		if (over > 0)
			log_msg(LOG_INFO, "nas=%s: %llu requests dropped over max_requests_per_second", c->name,
			        over);
	}
}

void dispatch_expire(struct dispatch *d)
{
	struct conversation *conv;
	char detail[96], err[512];

	switch (policy_reload_changed(d->policy, err, sizeof(err))) {
	case 1:
		log_msg(LOG_INFO, "a CRL file changed: CRLs reloaded");
		break;
	case -1:
		log_msg(LOG_WARNING, "a CRL file changed but cannot be used, the CRLs in force stay: %s", err);
		break;
	}

	while ((conv = conversation_table_pop_expired(d->conversations)) != NULL) {
		snprintf(detail, sizeof(detail), "no request for %u s after %u round trips",
		         d->cfg->timeout, eap_conversation_round_trips(conv->eap));
		stats_bump(&d->stats, STAT_TIMEOUT);
		mark_failed(conv, "timeout", detail);
		record(d, conv);
		conversation_free(conv);
	}
	reply_cache_expire(d->replies);
}

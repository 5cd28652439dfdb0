/*
 * An Access-Request's conversation, from its first EAP packet to its last:
 * the EAP steps, the decision, the session lookup for resumption, the
 * hand-over to the backends' threads, and the record. Not "conversation.c":
 * conversation_table.c keeps conversations, this file moves one along (its
 * flow); dispatch.c only decides that a request is one.
 */
#include "authd/conversation_flow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "authd/access_reply.h"
#include "authd/dispatch_internal.h"
#include "authd/session_class.h"
#include "common/clock.h"
#include "common/printable.h"
#include "eap/eap_packet.h"

/* The EAP conversation's next move, which advance acts on. */
struct eap_move {
	enum eap_step step;
	const uint8_t *out;
	size_t outlen;
};

/* What a decision or a session lookup came to: the conversation goes on
 * here, or it is on a backend's queue, whose thread goes on with it. */
enum flow { FLOW_GO_ON, FLOW_HANDED_OVER };

/* A conversation waiting for a backend thread: to decide on its verified
 * peer (resume EAP_STEP_VERIFIED), or to look up the session the peer
 * offered (EAP_STEP_LOOKUP). */
struct pending {
	struct request r;           /* owns r.rad */
	struct conversation *conv;
	enum eap_step resume;
	enum policy_backend here;   /* whose threads run it */
	double queued_ms;           /* when it was handed over (common/clock.h) */
};

static void run_pending(void *arg, bool cancelled);

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
			dec->reason = POLICY_REASON_DECISION_LOG_UNWRITABLE;
			snprintf(dec->detail, sizeof(dec->detail), "%s", strerror(err));
		}
	}
	printable_string(identity, sizeof(identity), dec->identity);
	log_msg(LOG_INFO, "nas=%s conv=%llu: %s identity=\"%s\" reason=%s%s%s%s%s", dec->nas,
	        (unsigned long long)dec->conversation, dec->accept ? "accept" : "reject", identity,
	        decision_reason_code(dec), dec->vlan ? " vlan=" : "", dec->vlan ? dec->vlan : "",
	        dec->detail[0] ? " detail=" : "", dec->detail);
	stats_bump(&d->stats, dec->accept ? STAT_ACCEPT : STAT_REJECT);
	authd_metrics_decision(d->metrics, d->metric_names, conv->client, dec);
}

/* The record of a conversation that failed in EAP (reason
 * POLICY_REASON_HANDSHAKE, why says how) or timed out. */
static void mark_failed(struct conversation *conv, enum policy_reason reason, enum eap_reason why,
                        const char *detail)
{
	fill_from_eap(conv);
	conv->decision.accept = false;
	conv->decision.reason = reason;
	conv->decision.handshake_reason = reason == POLICY_REASON_HANDSHAKE ? eap_reason_code(why) : NULL;
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
		[CONVERSATION_ROOM_TABLE_BYTES] = "all buffered more than eap.max_buffered_bytes, its NAS the most",
	};
	struct conversation *conv = e->conv;
	char detail[200];
	unsigned suppressed;

	snprintf(detail, sizeof(detail), "idle after %u round trips, ended to make room: %s",
	         eap_conversation_round_trips(conv->eap), why[e->why]);
	stats_bump(&d->stats, STAT_EVICTED);
	authd_metrics_conversation_evicted(d->metrics, conv->client);
	if (rate_limit_allow(&d->drop_log, &suppressed))
		log_msg(LOG_WARNING, "nas=%s conv=%llu: %s (%u similar lines suppressed before)",
		        conv->client->name, (unsigned long long)conv->decision.conversation, detail, suppressed);
	mark_failed(conv, POLICY_REASON_TIMEOUT, EAP_REASON_OK, detail);
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
	authd_metrics_conversation_started(d->metrics, r->client);
	if (evicted.conv != NULL)
		end_evicted(d, &evicted);
	return conv;
fail:
	conversation_free(conv);
	return NULL;
}

/* The verified certificate's reference; false when it has none (no issuer). */
static bool conversation_cert_ref(struct conversation *conv, struct cert_ref *ref)
{
	STACK_OF(X509) *chain = eap_conversation_verified_chain(conv->eap);

	return sk_X509_num(chain) > 1 &&
	       cert_ref_make(eap_conversation_peer_cert(conv->eap), sk_X509_value(chain, 1), NULL, ref) == 0;
}

/* The session's Class, tagging it with the certificate so accounting names
 * it; bound to this NAS under the node key, so it names nothing elsewhere.
 * Its length, or 0 for none (no node key, or it could not be made). */
static size_t make_session_class(struct request *r, const struct cert_ref *ref,
                                 char class[SESSION_CLASS_MAX + 1])
{
	const struct redis_pool *redis = r->d->redis;
	int n;

	/* No node key, no live-session table that would read it back. */
	if (redis == NULL || redis_pool_seal(redis) == NULL)
		return 0;
	n = session_class_make(redis_pool_seal(redis), r->client->name, ref, class, SESSION_CLASS_MAX + 1);
	if (n < 0) {
		/* The device is allowed: accounting then finds it by its station. */
		LOG_REQ(LOG_WARNING, r, "cannot make the session's Class: Access-Accept without it");
		return 0;
	}
	return (size_t)n;
}

/* The Access-Accept: the EAP-Success, the keys, the placement, and the
 * session's Class when session_ref names its certificate. NULL: none. */
static struct radius_reply *accept_reply(struct request *r, struct conversation *conv,
                                         const uint8_t *eap, size_t eap_len,
                                         const struct cert_ref *session_ref)
{
	struct radius_reply *reply = NULL;
	uint8_t msk[EAP_MSK_LEN], emsk[EAP_EMSK_LEN];
	char class[SESSION_CLASS_MAX + 1];
	size_t class_len = 0;

	if (eap_conversation_keys(conv->eap, msk, emsk) < 0)
		goto out;
	if (session_ref != NULL)
		class_len = make_session_class(r, session_ref, class);
	reply = access_reply_accept(&r->rad, &(struct access_reply_accept){
		.eap = eap,
		.eap_len = eap_len,
		.msk = msk,
		/* The NAS logs and accounts under User-Name: the identity authd
		 * verified, not whatever the supplicant typed, unless configured so. */
		.user_name = r->d->cfg->policy.reply_eap_identity ? eap_conversation_identity(conv->eap)
		                                                  : conv->decision.cert_identity,
		.placement = &conv->placement,
		.class_attr = class_len > 0 ? (const uint8_t *)class : NULL,
		.class_len = class_len,
	});
out:
	OPENSSL_cleanse(msk, sizeof(msk));
	OPENSSL_cleanse(emsk, sizeof(emsk));
	return reply;
}

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
		q = work_queue_new(policy_backend_threads(d->policy, b), d->cfg->max_conversations,
		                   authd_metrics_backends(d->metrics), POOL_OCSP);
		if (q == NULL)
			log_msg(LOG_ERROR, "cannot start the threads of OCSP responder %u", responder);
		d->ocsp_queues[responder] = q;
	}
	pthread_mutex_unlock(&d->ocsp_lock);
	return q;
}

/* Hands the conversation, whose certificate is cert, to the threads of
 * backend b, which go on with it from the EAP step `resume` and answer. 0,
 * or -1 (that queue is full or stopping: the caller still owns everything). */
static int hand_over(struct request *r, struct conversation *conv, enum eap_step resume,
                     enum policy_backend b, X509 *cert)
{
	struct pending *p = malloc(sizeof(*p));
	struct work_queue *q = backend_queue(r->d, b, cert);

	if (p == NULL)
		return -1;
	*p = (struct pending){ .r = *r, .conv = conv, .resume = resume, .here = b,
	                       .queued_ms = clock_now_ms_precise() };
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
	live_session_from_request(&r->rad, r->client->name, &r->origin.peer, &session);
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
 * conversation goes on accordingly (*next). Each step of the decision runs on
 * the threads of the backend it waits on (`here` is whose thread this is:
 * NONE for a TLS worker), so a device whose answer is known never queues
 * behind one waiting on a slow backend it does not need.
 */
static enum flow decide(struct request *r, struct conversation *conv, enum policy_backend here,
                        struct eap_move *next)
{
	STACK_OF(X509) *chain = eap_conversation_verified_chain(conv->eap);
	struct policy_request preq;

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
			if (hand_over(r, conv, EAP_STEP_VERIFIED, need, preq.cert) == 0)
				return FLOW_HANDED_OVER;
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
		next->step = eap_conversation_allow(conv->eap, &next->out, &next->outlen);
	else
		next->step = eap_conversation_refuse(conv->eap, &next->out, &next->outlen);
	return FLOW_GO_ON;
}

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
 * certificate is revoked (here: whose thread this is). *next is the EAP
 * conversation's answer: resume, or a full handshake.
 */
static enum flow look_up_session(struct request *r, struct conversation *conv, enum policy_backend here,
                                 struct eap_move *next)
{
	enum policy_backend need = here == POLICY_BACKEND_OCSP ? here : store_backend(r->d);
	bool here_is_right = !must_hand_over(r->d, need, here);
	struct decision scratch;
	STACK_OF(X509) *chain = NULL;
	const uint8_t *id;
	enum policy_reason revocation = POLICY_REASON_OK;
	const char *refusal = NULL;
	uint8_t *der = NULL;
	size_t idlen = eap_conversation_offered_session(conv->eap, &id), derlen = 0;
	char err[256];
	enum tls_session_store_answer found = TLS_SESSION_STORE_NONE;

	if (!here_is_right && hand_over(r, conv, EAP_STEP_LOOKUP, need, NULL) == 0)
		return FLOW_HANDED_OVER;
	/* On OCSP's threads the session was fetched and verified on the way;
	 * with no thread to look it up: a full handshake, which needs none. */
	if (here == POLICY_BACKEND_OCSP)
		chain = eap_conversation_found_chain(conv->eap);
	else if (here_is_right)
		found = tls_session_store_get(r->d->tls_sessions, id, idlen, &der, &derlen, err, sizeof(err));
	if (found == TLS_SESSION_STORE_ERROR)
		LOG_REQ(LOG_WARNING, r, "session store unreachable, full handshake: %s", err);
	if (found == TLS_SESSION_STORE_FOUND)
		chain = eap_conversation_offered_chain(conv->eap, der, derlen, err, sizeof(err));
	if (found == TLS_SESSION_STORE_FOUND && chain == NULL)
		refusal = err;
	if (chain != NULL) {
		decision_start(&scratch, conv->decision.conversation, r->client->name);
		revocation = policy_revocation_refusal(r->d->policy, sk_X509_value(chain, 0),
		                                       sk_X509_value(chain, 1), chain,
		                                       here == POLICY_BACKEND_OCSP ? REVOCATION_OCSP_ASK
		                                                                   : REVOCATION_OCSP_DEFER,
		                                       &scratch);
		decision_clear(&scratch);
		if (revocation != POLICY_REASON_OK)
			refusal = policy_reason_code(revocation);
	}
	if (der != NULL)
		OPENSSL_cleanse(der, derlen);
	free(der);
	if (revocation == POLICY_REASON_NEEDS_OCSP) {
		if (hand_over(r, conv, EAP_STEP_LOOKUP, POLICY_BACKEND_OCSP, sk_X509_value(chain, 0)) == 0)
			return FLOW_HANDED_OVER;
		refusal = "OCSP busy";
	}
	if (refusal != NULL)
		LOG_REQ(LOG_INFO, r, "session not resumed (%s): full handshake", refusal);
	next->step = eap_conversation_resume(conv->eap, chain != NULL && refusal == NULL, &next->out,
	                                     &next->outlen);
	return FLOW_GO_ON;
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

/* The conversation's last move, EAP-Success or EAP-Failure: its record is
 * written, it leaves the table, and the reply says how it ended. */
static struct radius_reply *finish(struct request *r, struct conversation *conv, const struct eap_move *m)
{
	struct dispatch *d = r->d;
	struct radius_reply *reply = NULL;
	enum eap_reason reason;
	bool recorded = false;

	if (m->step == EAP_STEP_SUCCESS) {
		struct cert_ref ref;
		bool tracked = d->sessions != NULL && conversation_cert_ref(conv, &ref);
		uint8_t failure[EAP_HEADER_LEN];

		/* No accept without its record, and no record of an accept that
		 * never leaves: the Access-Accept is built, then the record
		 * written before it is sent. If the record cannot be written,
		 * record() may turn the accept into a reject, sent as a policy
		 * refusal is: EAP-Failure (same Identifier as the EAP-Success it
		 * replaces). */
		reply = accept_reply(r, conv, m->out, m->outlen, tracked ? &ref : NULL);
		if (reply == NULL) {
			LOG_REQ(LOG_ERROR, r, "cannot build the Access-Accept: no reply");
			mark_failed(conv, POLICY_REASON_HANDSHAKE, EAP_REASON_TLS_FAILED,
			            "the Access-Accept could not be built");
		}
		record(d, conv);
		recorded = true;
		if (reply != NULL && !conv->decision.accept) {
			radius_reply_free(reply);
			eap_packet_build_result(failure, EAP_CODE_FAILURE, m->outlen >= 2 ? m->out[1] : 0);
			reply = access_reply_reject(&r->rad, failure, sizeof(failure),
			                            policy_reason_text(conv->decision.reason));
		}
	} else if (conv->decided && eap_conversation_reason(conv->eap) == EAP_REASON_OK) {
		/* The policy refused; the record already says why. */
		reply = access_reply_reject(&r->rad, m->out, m->outlen, policy_reason_text(conv->decision.reason));
	} else {
		reason = eap_conversation_reason(conv->eap);
		reply = access_reply_reject(&r->rad, m->out, m->outlen, eap_reason_text(reason));
		mark_failed(conv, POLICY_REASON_HANDSHAKE, reason, eap_conversation_detail(conv->eap));
	}
	end_conversation(r, conv, recorded);
	return reply;
}

/*
 * Acts on what the EAP conversation said, on a thread of `here` (NONE: a TLS
 * worker), until there is something to send or nothing to do: a decision or
 * a session lookup gives the conversation's next move, or hands it to a
 * backend's threads (*deferred), which go on from there and answer. Returns
 * the reply (NULL: none).
 */
static struct radius_reply *advance(struct request *r, struct conversation *conv, struct eap_move m,
                                    enum policy_backend here, bool *deferred)
{
	struct radius_reply *reply;
	enum flow flow;

	for (;;) {
		switch (m.step) {
		case EAP_STEP_SEND:
			reply = access_reply_challenge(&r->rad, m.out, m.outlen, conv->node.key, CONVERSATION_STATE_LEN);
			release(r->d, conv);
			return reply;
		case EAP_STEP_DISCARD:
			LOG_REQ(LOG_DEBUG, r, "EAP response discarded: %s", eap_conversation_detail(conv->eap));
			release(r->d, conv);
			return NULL;
		case EAP_STEP_VERIFIED:
		case EAP_STEP_LOOKUP:
			flow = m.step == EAP_STEP_VERIFIED ? decide(r, conv, here, &m) : look_up_session(r, conv, here, &m);
			if (flow == FLOW_HANDED_OVER) {
				*deferred = true;
				return NULL;
			}
			break;
		case EAP_STEP_SUCCESS:
		case EAP_STEP_FAILURE:
			return finish(r, conv, &m);
		}
	}
}

/* A conversation handed to a backend thread: it goes on from where it was
 * handed over, on this backend's thread, and answers unless it moves on to
 * another backend's. */
static void run_pending(void *arg, bool cancelled)
{
	struct pending *p = arg;
	struct radius_reply *reply = NULL;
	bool deferred = false;

	if (cancelled) {
		LOG_REQ(LOG_WARNING, &p->r, "stopping: conversation abandoned, no reply");
		authd_metrics_conversation_abandoned(p->r.d->metrics, p->conv->client);
		conversation_table_remove(p->r.d->conversations, p->conv);
		conversation_free(p->conv);
	} else {
		authd_metrics_backend_wait(p->r.d->metrics, p->here, (clock_now_ms_precise() - p->queued_ms) / 1000);
		reply = advance(&p->r, p->conv, (struct eap_move){ .step = p->resume }, p->here, &deferred);
	}
	if (!deferred) {
		dispatch_respond(&p->r, reply);
		radius_request_free(&p->r.rad);
	}
	free(p);
}

struct radius_reply *conversation_flow_access_request(struct request *r, bool *deferred)
{
	struct dispatch *d = r->d;
	struct conversation *conv;
	enum conversation_miss why;
	struct eap_move m;

	if (r->rad.eap == NULL) {
		stats_bump(&d->stats, STAT_NOT_EAP);
		LOG_REQ(LOG_WARNING, r, "Access-Request without EAP-Message rejected: only EAP-TLS is served");
		return access_reply_reject(&r->rad, NULL, 0, "authd accepts EAP-TLS only");
	}
	if (r->rad.state != NULL) {
		conv = conversation_table_acquire(d->conversations, r->rad.state, r->rad.state_len,
		                                  r->client, &why);
		if (conv == NULL && why == CONVERSATION_BUSY) {
			stats_bump(&d->stats, STAT_DUPLICATE_IN_PROGRESS);
			authd_metrics_drop(d->metrics, r->client, STAT_DUPLICATE_IN_PROGRESS);
			return NULL;
		}
		if (conv == NULL) {
			stats_bump(&d->stats, STAT_UNKNOWN_STATE);
			LOG_REQ(LOG_WARNING, r, "State %s: rejected",
			        why == CONVERSATION_OTHER_NAS ? "was issued to another NAS" : "is unknown or expired");
			return access_reply_reject(&r->rad, NULL, 0, "unknown or expired State");
		}
	} else {
		conv = start_conversation(r);
		if (conv == NULL) {
			unsigned suppressed;

			stats_bump(&d->stats, STAT_OVERLOAD);
			authd_metrics_drop(d->metrics, r->client, STAT_OVERLOAD);
			if (rate_limit_allow(&d->drop_log, &suppressed))
				LOG_REQ(LOG_WARNING, r, "cannot start a conversation (this NAS holds %zu, none idle "
				        "to give up; eap.max_conversations %u): dropped (%u similar lines suppressed "
				        "before)", conversation_table_share(d->conversations, r->client).held,
				        d->cfg->max_conversations, suppressed);
			return NULL;
		}
	}
	r->conversation = conv->decision.conversation;
	m.step = eap_conversation_step(conv->eap, r->rad.eap, r->rad.eap_len, &m.out, &m.outlen);
	return advance(r, conv, m, POLICY_BACKEND_NONE, deferred);
}

void conversation_flow_end_idle(struct dispatch *d)
{
	struct conversation *conv;
	char detail[96];

	while ((conv = conversation_table_pop_expired(d->conversations)) != NULL) {
		snprintf(detail, sizeof(detail), "no request for %u s after %u round trips",
		         d->cfg->timeout, eap_conversation_round_trips(conv->eap));
		stats_bump(&d->stats, STAT_TIMEOUT);
		mark_failed(conv, POLICY_REASON_TIMEOUT, EAP_REASON_OK, detail);
		record(d, conv);
		conversation_free(conv);
	}
}


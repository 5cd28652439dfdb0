#include "authd/accounting.h"

#include <stdlib.h>
#include <time.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#include "authd/dispatch_internal.h"
#include "authd/session_class.h"
#include "common/printable.h"

/*
 * Accounting-On or -Off (RFC 2866 5.1): the NAS restarted, or is going down,
 * so none of its sessions is live any more. The NAS is the client the request
 * came from, never one the request names. The reply, or NULL (no reply: the
 * NAS retries, and the retry goes on where this stopped) when Redis failed.
 */
static struct radius_reply *nas_restarted(struct request *r)
{
	const char *what = r->rad.acct_status_type == ACCT_STATUS_ON ? "Accounting-On" : "Accounting-Off";
	char err[256];
	long long ended = live_sessions_end_nas(r->d->sessions, r->client->name, (long long)time(NULL), 0,
	                                        err, sizeof(err));

	if (ended < 0) {
		LOG_REQ(LOG_WARNING, r, "%s: live sessions not ended, no response: %s", what, err);
		return NULL;
	}
	LOG_REQ(LOG_INFO, r, "%s: the NAS restarted or is going down: %lld live session(s) ended", what, ended);
	return radius_reply_new(&r->rad, PW_CODE_ACCOUNTING_RESPONSE);
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
	if (r->rad.acct_status_type == ACCT_STATUS_ON || r->rad.acct_status_type == ACCT_STATUS_OFF) {
		reply = nas_restarted(r);
		goto out;
	}
	live_session_from_request(&r->rad, r->client->name, &r->origin.peer, &session);
	if (r->rad.authd_class != NULL) {
		const struct redis_pool *redis = r->d->redis;

		/* A Class issued to another NAS, or made up, names no session: it
		 * is answered (the NAS would only retry) and recorded nowhere. */
		if (session_class_verify(redis != NULL ? redis_pool_seal(redis) : NULL, r->client->name,
		                         r->rad.authd_class, r->rad.authd_class_len, &ref) < 0) {
			char station[64], id[128];
			unsigned suppressed;

			stats_bump(&r->d->stats, STAT_CLASS_REFUSED);
			printable_string(station, sizeof(station), session.calling_station_id);
			printable_string(id, sizeof(id), session.acct_session_id);
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

		printable_string(station, sizeof(station), session.calling_station_id);
		LOG_REQ(LOG_DEBUG, r, "accounting names no session authd keeps (station %s)", station);
	}
	reply = radius_reply_new(&r->rad, PW_CODE_ACCOUNTING_RESPONSE);
out:
	dispatch_respond(r, reply);
	radius_request_free(&r->rad);
	generation_unref(r->gen);
	free(r);
}

struct radius_reply *accounting_request(struct request *r, bool *deferred)
{
	struct request *job = malloc(sizeof(*job));

	stats_bump(&r->d->stats, STAT_ACCOUNTING);
	if (job != NULL) {
		/* The job's own reference: r->client is of its generation. */
		*job = *r;
		generation_ref(job->gen);
		if (work_queue_push(r->d->accounting, run_accounting, job) == 0) {
			*deferred = true;
			return NULL;
		}
		generation_unref(job->gen);
		free(job);
	}
	stats_bump(&r->d->stats, STAT_OVERLOAD);
	LOG_REQ(LOG_WARNING, r, "accounting queue full: dropped, the NAS will retry");
	return NULL;
}

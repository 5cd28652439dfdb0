#include "authd/accounting.h"

#include <stdlib.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#include "authd/dispatch_internal.h"
#include "authd/session_class.h"
#include "common/printable.h"

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
	free(r);
}

struct radius_reply *accounting_request(struct request *r, bool *deferred)
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

/*
 * What a revocation does to a device that is on the network right now: every
 * live session of its certificate gets an RFC 5176 Disconnect-Request (or
 * CoA-Request, per the sessions section) at its NAS, the outcomes go to the
 * audit log, and sessions their NAS confirmed ended leave the table.
 *
 * A session record comes back from Redis, so whoever can write there chooses
 * its NAS name and address: a request goes only to an address inside the
 * named client's configured range (or to its coa_address), signed with that
 * client's CoA secret alone, so a forged record can neither aim a signed
 * request at an address of its choosing nor borrow another NAS's secret.
 */
#ifndef AUTHD_SESSION_DISCONNECT_H
#define AUTHD_SESSION_DISCONNECT_H

#include <stdio.h>
#include <time.h>

#include <sys/types.h>

#include "authd/authctl_config.h"
#include "authd/live_sessions.h"
#include "common/cert_ref.h"
#include "policy/helpdesk.h"

/* Who acted, for the audit log: the operating-system user authctl runs as. */
struct operator_id {
	char name[64];
	uid_t uid;
};

/*
 * Acts on every live session of ref and prints one line per session to out
 * (nothing when there is none), with the time from `since` (when the
 * revocation was recorded) to the request leaving. A session whose NAS is
 * not configured, or whose address lies outside its client's range, gets no
 * request: the line says why and the audit log records it ("refused").
 * Every outcome is also counted in Redis for authd's /metrics
 * (dynauth_stats.h), through redis.
 * Returns the number of sessions found, or -1 with err when the table cannot
 * be read.
 */
int session_disconnect(const struct authctl_config *cfg, struct redis_pool *redis, struct live_sessions *ls,
                       struct helpdesk *h,
                       const struct cert_ref *ref, const struct operator_id *by,
                       const struct timespec *since, FILE *out, char *err, size_t errlen);

#endif

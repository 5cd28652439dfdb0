/*
 * What a revocation does to a device that is on the network right now: every
 * live session of its certificate gets an RFC 5176 Disconnect-Request (or
 * CoA-Request, per the sessions section) at its NAS, the outcomes go to the
 * audit log, and sessions their NAS confirmed ended leave the table.
 */
#ifndef AUTHD_SESSION_DISCONNECT_H
#define AUTHD_SESSION_DISCONNECT_H

#include <stdio.h>
#include <time.h>

#include "authd/config.h"
#include "authd/live_sessions.h"
#include "policy/cert_ref.h"
#include "policy/helpdesk.h"

/*
 * Acts on every live session of ref and prints one line per session to out
 * (nothing when there is none),
 * with the time from `since` (when the revocation was recorded) to the
 * request leaving. `by` names who acted, for the audit log. Returns the
 * number of sessions found, or -1 with err when the table cannot be read.
 */
int session_disconnect(const struct authd_config *cfg, struct live_sessions *ls, struct helpdesk *h,
                       const struct cert_ref *ref, const char *by, const struct timespec *since,
                       FILE *out, char *err, size_t errlen);

#endif

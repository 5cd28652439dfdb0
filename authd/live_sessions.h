/*
 * The live-session table: which NAS has which device on the network right
 * now, per certificate, so that a revocation can take the device off at
 * once (RFC 5176). Sessions begin with authd's own Access-Accept and are
 * kept current by RADIUS accounting (Start, Interim-Update, Stop); a session
 * no accounting mentions for `lifetime` seconds is forgotten. The table is
 * in Redis so that any node, and authctl, sees every session. Each NAS holds
 * at most sessions.max_per_nas live sessions (indexed in Redis under
 * nas-sessions:<nas>, scored by their last update): beyond it, a new session
 * of that NAS is not kept (logged, counted) while the ones it holds still
 * update. Records read back from Redis are hostile input. Calls block
 * (bounded by the Redis timeout) and belong on backend threads.
 */
#ifndef AUTHD_LIVE_SESSIONS_H
#define AUTHD_LIVE_SESSIONS_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/cert_ref.h"
#include "common/redis_pool.h"

/* What identifies a session at its NAS, and what the helpdesk is shown.
 * Strings are "" when unknown. */
struct live_session {
	char nas[64];                  /* the client's name in the config */
	char nas_addr[46];             /* where its RADIUS packets come from */
	char nas_identifier[128];
	char nas_ip_address[16];
	char nas_ipv6_address[46];     /* NAS-IPv6-Address (RFC 3162) */
	unsigned nas_port;             /* 0 unknown */
	char user_name[128];
	char acct_session_id[128];
	char calling_station_id[64];
	char called_station_id[128];
	char identity[256];            /* the certificate's identity, from the Access-Accept */
	long long started, updated;    /* Unix seconds */
};

/* The session a request describes (no identity yet): NAS name and address,
 * the station, accounting ids; started and updated are now. */
struct radius_request;
void live_session_from_request(const struct radius_request *req, const char *nas,
                               const struct sockaddr_storage *from, struct live_session *out);

/* A stored record ("name=value" lines) into *s, zeroed first: unknown names
 * and malformed lines are skipped, values cut to their field and stripped of
 * control bytes. text is len bytes, any bytes. A pure function (the fuzz
 * target). */
void live_session_parse(const char *text, size_t len, struct live_session *s);

struct live_sessions;

#define LIVE_SESSIONS_MAX_PER_NAS 10000

/* Borrows redis. Each NAS may hold max_per_nas sessions (sessions.max_per_nas). */
struct live_sessions *live_sessions_new(struct redis_pool *redis, unsigned lifetime_s,
                                        unsigned max_per_nas, char *err, size_t errlen);
/* Logs how many new sessions the cap refused, if any. */
void live_sessions_free(struct live_sessions *ls);

/* authd accepted ref on this session. 0 (also when it is new and its NAS is
 * at its cap: not kept), or -1 with err. */
int live_sessions_begin(struct live_sessions *ls, const struct cert_ref *ref,
                        const struct live_session *s, char *err, size_t errlen);

/*
 * Accounting news (Acct-Status-Type 1 Start, 3 Interim-Update, 2 Stop) about
 * a session of ref, or, when ref is NULL (the NAS did not echo authd's
 * Class), of whichever certificate authd last accepted for this NAS and
 * Calling-Station-Id. 1 applied, 0 no certificate known for the session or
 * a new session beyond its NAS's cap (not kept), -1 Redis failed (err): the
 * caller must not acknowledge the request.
 */
int live_sessions_account(struct live_sessions *ls, unsigned status_type, const struct cert_ref *ref,
                          const struct live_session *s, char *err, size_t errlen);

/* Every live session of ref into *out (caller frees), count in *n. 0 or -1. */
int live_sessions_of(struct live_sessions *ls, const struct cert_ref *ref, struct live_session **out,
                     size_t *n, char *err, size_t errlen);

/*
 * Forgets the live sessions of NAS nas (a configured client's name) last
 * updated at or before updated_until (Unix seconds): it restarted
 * (Accounting-On/Off) or fell silent. At most max of them (0: as many as a
 * NAS may hold, twice sessions.max_per_nas, which also bounds how long a
 * hostile Redis can keep the call busy). Index members that do not name one
 * of this NAS's sessions are dropped from the index and touch nothing else.
 * The number forgotten, or -1 with err (some may have been forgotten: a
 * retry goes on where it stopped).
 */
long long live_sessions_end_nas(struct live_sessions *ls, const char *nas, long long updated_until,
                                size_t max, char *err, size_t errlen);

/* Forgets one session (its NAS confirmed it ended). 0 or -1. */
int live_sessions_end(struct live_sessions *ls, const struct cert_ref *ref,
                      const struct live_session *s, char *err, size_t errlen);

#endif

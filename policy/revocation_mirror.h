/*
 * This node's copy of the helpdesk's revocation list, so that a revocation
 * is never forgotten while Redis cannot answer.
 *
 * Loaded in full when it starts, then kept current by a thread of its own:
 * it subscribes to "<prefix>revocations" on a connection of its own and
 * applies each notice "SEQ revoke|unrevoke REF" (helpdesk.h) in order. A gap
 * in the sequence, any disconnect, an unreadable notice, or a periodic look
 * at "<prefix>revocations:seq" (every REVOCATION_MIRROR_CHECK_S seconds) that
 * finds a number it has not seen each start a full re-synchronisation: the
 * list read again, and the notices it missed read back from
 * "<prefix>revocations:log".
 *
 * An entry leaves the mirror only by an unrevoke notice (received, or found
 * in the log). One that vanished from Redis without one (a DEL behind the
 * helpdesk's back, or a Redis that lost its data) stays revoked on this node,
 * with a warning naming it, until `authctl unrevoke` publishes its removal
 * or the node restarts.
 */
#ifndef AUTHD_REVOCATION_MIRROR_H
#define AUTHD_REVOCATION_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/cert_ref.h"
#include "policy/helpdesk.h"
#include "common/redis_pool.h"
#include "policy/revocation_wire.h"

/* How often the mirror checks the sequence number, which bounds how long a
 * silently lost subscription goes unnoticed. */
#define REVOCATION_MIRROR_CHECK_S 5

/* Where the mirror's news goes (a warning, or information); may be called
 * from the mirror's thread. */
typedef void (*revocation_log_fn)(bool warning, const char *msg);

struct revocation_mirror;

/*
 * Borrows redis, which must outlive the mirror. Loads the list once (a Redis
 * outage leaves the mirror not yet loaded, and the thread keeps trying), then
 * starts the thread. log may be NULL. NULL with err. One per process: it
 * outlives the policies a reload replaces, which borrow it (policy_options).
 */
struct revocation_mirror *revocation_mirror_new(struct redis_pool *redis, revocation_log_fn log, char *err,
                                                size_t errlen);
/* Stops the thread, waiting for it until deadline (CLOCK_REALTIME; NULL: no
 * limit): 0, or -1 when it is still in a Redis call then (a silent Redis):
 * the mirror must then not be freed under it. */
int revocation_mirror_stop(struct revocation_mirror *m, const struct timespec *deadline);
/* Stops the thread (without a deadline) and frees everything. */
void revocation_mirror_free(struct revocation_mirror *m);

enum revocation_mirror_answer {
	REVOCATION_MIRROR_NOT_LOADED,   /* never synchronised: it cannot say */
	REVOCATION_MIRROR_NOT_LISTED,
	REVOCATION_MIRROR_LISTED,
};

/* What the mirror applied since it started (revoke and unrevoke notices,
 * and the changes a re-synchronisation found; not the first load) and how
 * many entries it holds. */
struct revocation_mirror_figures {
	unsigned long long revokes, unrevokes, entries;
};
/* Lock-free: for a scrape. */
void revocation_mirror_figures(const struct revocation_mirror *m, struct revocation_mirror_figures *out);

/*
 * What the mirror says of ref. When loaded, *age_s is how many seconds ago it
 * was last known to match Redis; on LISTED rec holds the audit record.
 * Thread-safe.
 */
enum revocation_mirror_answer revocation_mirror_lookup(struct revocation_mirror *m,
                                                       const struct cert_ref *ref,
                                                       struct revocation_record *rec, time_t *age_s);

/*
 * What Redis itself just answered about ref (listed or not). Where the
 * mirror disagrees, a re-synchronisation is asked for: a revocation the
 * mirror lacks arrives with it (learning it here could undo an unrevoke that
 * raced this read), and an entry the mirror holds and Redis lacks is kept
 * until it finds the unrevoke notice, or warns. Returns true when the mirror
 * holds ref (rec then holds its record). Thread-safe.
 */
bool revocation_mirror_saw(struct revocation_mirror *m, const struct cert_ref *ref, bool listed,
                           struct revocation_record *rec);

#endif

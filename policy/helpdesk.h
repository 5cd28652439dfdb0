/*
 * The helpdesk's revocation list, kept in Redis so that every authd node
 * sees a revocation on its next authentication. Entries carry an audit
 * record (who, when, why) and never expire. Written by authctl, read by
 * authd; calls block (bounded by the timeout) and belong on authd's backend
 * threads.
 */
#ifndef AUTHD_HELPDESK_H
#define AUTHD_HELPDESK_H

#include <stddef.h>
#include <stdint.h>

#include "common/cert_ref.h"
#include "common/redis_pool.h"
#include "policy/revocation_wire.h"

struct helpdesk;

/* Borrows redis, which must outlive the helpdesk. */
struct helpdesk *helpdesk_new(struct redis_pool *redis, char *err, size_t errlen);
void helpdesk_free(struct helpdesk *h);

/* What Redis answered about one key of the helpdesk's. */
enum helpdesk_answer {
	HELPDESK_ERROR = -1,   /* Redis unreachable or answering nonsense (err) */
	HELPDESK_ABSENT = 0,
	HELPDESK_PRESENT = 1,
};

/* Is this certificate on the list? PRESENT: listed (rec filled). */
enum helpdesk_answer helpdesk_get(struct helpdesk *h, const struct cert_ref *id, struct revocation_record *rec,
                 char *err, size_t errlen);
/* "revoked by WHO at WHEN: REASON". */
void helpdesk_describe(const struct revocation_record *rec, char *out, size_t len);

/*
 * Which certificate a device identity last authenticated with, so the helpdesk
 * can revoke by name. Kept for 90 days after the last authentication.
 */
void helpdesk_remember(struct helpdesk *h, const char *identity, const struct cert_ref *id);
/* PRESENT: found (id filled); ABSENT: never seen. */
enum helpdesk_answer helpdesk_lookup_identity(struct helpdesk *h, const char *identity, struct cert_ref *id,
                             char *err, size_t errlen);

/*
 * authctl's side. Each change is one atomic step in Redis: the hash
 * "<prefix>revoked:<ref>" written (revoke) or deleted (unrevoke), the counter
 * "<prefix>revocations:seq" bumped, and the notice "SEQ revoke|unrevoke REF"
 * pushed to "<prefix>revocations:log" (the last HELPDESK_LOG_KEEP kept) and
 * published on "<prefix>revocations", which every node's mirror follows
 * (revocation_mirror.h). An unrevoke is published even when the hash was
 * already gone. revoke returns 0, or -1 with err.
 */
#define HELPDESK_LOG_KEEP 10000
int helpdesk_revoke(struct helpdesk *h, const struct cert_ref *id,
                    const struct revocation_record *rec, char *err, size_t errlen);
/* PRESENT: it was listed and is removed; ABSENT: it was not listed (the
 * notice is published all the same). */
enum helpdesk_answer helpdesk_unrevoke(struct helpdesk *h, const struct cert_ref *id, char *err, size_t errlen);

/* The counter of changes, 0 before the first: 0, or -1 with err. */
int helpdesk_seq(struct helpdesk *h, uint64_t *seq, char *err, size_t errlen);
/*
 * The notices after `after` up to `upto` from the log, newest first, each
 * given to fn. 1 when the log holds every one of them, 0 when some are
 * missing (trimmed, or Redis lost them; fn saw those it holds), -1 with err.
 */
int helpdesk_changes(struct helpdesk *h, uint64_t after, uint64_t upto,
                     void (*fn)(const struct revocation_notice *n, void *arg), void *arg,
                     char *err, size_t errlen);
/*
 * The audit log: one JSON object per line (revocations, disconnects,
 * imports), newest first, the last HELPDESK_AUDIT_KEEP kept in Redis under
 * "<prefix>audit". 0, or -1 with err.
 */
#define HELPDESK_AUDIT_KEEP 100000
int helpdesk_audit(struct helpdesk *h, const char *json_line, char *err, size_t errlen);
/* The newest `max` entries, newest first. 0, or -1 with err. */
int helpdesk_audit_list(struct helpdesk *h, unsigned max, void (*fn)(const char *line, void *arg),
                        void *arg, char *err, size_t errlen);

typedef void (*helpdesk_entry_fn)(const struct cert_ref *id, const struct revocation_record *rec,
                                  void *arg);
int helpdesk_list(struct helpdesk *h, helpdesk_entry_fn fn, void *arg, char *err, size_t errlen);

#endif

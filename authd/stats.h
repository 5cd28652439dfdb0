/*
 * Counters of what authd saw and did, lock-free, logged at shutdown (and the
 * base for the metrics endpoint).
 */
#ifndef AUTHD_STATS_H
#define AUTHD_STATS_H

#include <stdatomic.h>

enum stat_counter {
	STAT_PACKETS,                 /* datagrams received */
	STAT_UNKNOWN_CLIENT,          /* from an address that is no configured client */
	STAT_MALFORMED,
	STAT_UNSUPPORTED_CODE,
	STAT_NO_MESSAGE_AUTHENTICATOR,
	STAT_BAD_MESSAGE_AUTHENTICATOR,
	STAT_REFUSED_ATTRIBUTE,       /* dropped: an encrypted attribute in a request */
	STAT_RETRANSMISSION,          /* answered from the reply cache */
	STAT_DUPLICATE_IN_PROGRESS,   /* dropped: original still being processed */
	STAT_OVERLOAD,                /* dropped: conversation table or reply cache full */
	STAT_UNKNOWN_STATE,
	STAT_NOT_EAP,
	STAT_STATUS_SERVER,
	STAT_ACCOUNTING,              /* Accounting-Requests taken */
	STAT_ACCEPT,
	STAT_REJECT,
	STAT_TIMEOUT,
	STAT_CLASS_REFUSED,           /* accounting whose Class was not issued to its NAS */
	STAT_EVICTED,                 /* idle conversations ended to make room (per-NAS quotas) */
	STAT_NAS_RATE,                /* dropped: over the client's max_requests_per_second */
	STAT_COUNT
};

struct stats {
	atomic_ullong value[STAT_COUNT];
};

static inline void stats_bump(struct stats *s, enum stat_counter c)
{
	atomic_fetch_add_explicit(&s->value[c], 1, memory_order_relaxed);
}

/* Logs every counter on one line at info level. */
void stats_log(struct stats *s);

#endif

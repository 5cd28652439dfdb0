#include "authd/stats.h"

#include <stdio.h>

#include "authd/log.h"

static const char *const names[STAT_COUNT] = {
	[STAT_PACKETS] = "packets",
	[STAT_UNKNOWN_CLIENT] = "unknown_client",
	[STAT_MALFORMED] = "malformed",
	[STAT_UNSUPPORTED_CODE] = "unsupported_code",
	[STAT_NO_MESSAGE_AUTHENTICATOR] = "no_message_authenticator",
	[STAT_BAD_MESSAGE_AUTHENTICATOR] = "bad_message_authenticator",
	[STAT_REFUSED_ATTRIBUTE] = "refused_attribute",
	[STAT_RETRANSMISSION] = "retransmission",
	[STAT_DUPLICATE_IN_PROGRESS] = "duplicate_in_progress",
	[STAT_OVERLOAD] = "overload",
	[STAT_UNKNOWN_STATE] = "unknown_state",
	[STAT_NOT_EAP] = "not_eap",
	[STAT_STATUS_SERVER] = "status_server",
	[STAT_ACCOUNTING] = "accounting",
	[STAT_ACCEPT] = "accept",
	[STAT_REJECT] = "reject",
	[STAT_TIMEOUT] = "timeout",
	[STAT_CLASS_REFUSED] = "class_refused",
	[STAT_EVICTED] = "evicted",
	[STAT_NAS_RATE] = "nas_rate",
};

void stats_log(struct stats *s)
{
	char line[768];
	size_t n = 0;

	for (int i = 0; i < STAT_COUNT && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=%llu", i ? " " : "", names[i],
		                      atomic_load_explicit(&s->value[i], memory_order_relaxed));
	log_msg(LOG_INFO, "counters: %s", line);
}

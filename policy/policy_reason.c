/*
 * Policy reason codes: the stable vocabulary of the decision log, --explain
 * and Reply-Message, as eap/eap_reason.c is for the EAP conversation.
 */
#include "policy/policy_reason.h"

struct reason_name {
	const char *code;
	const char *text;
};

#define NOT_PERMITTED "device not permitted on this network"
#define BAD_IDENTITY  "certificate identity not acceptable"
#define NO_DIRECTORY  "device directory unavailable, try again later"
#define NO_RECORD     "the decision cannot be recorded, try again later"

/* Indexed by enum policy_reason; the codes are an external interface, never rename. */
static const struct reason_name reason_names[POLICY_REASON_COUNT] = {
	[POLICY_REASON_OK]                      = { "ok",                      "authenticated" },
	[POLICY_REASON_QUARANTINE]              = { "quarantine",              "authenticated (quarantine)" },
	[POLICY_REASON_REVOKED]                 = { "revoked",                 NOT_PERMITTED },
	[POLICY_REASON_REVOCATION_UNKNOWN]      = { "revocation_unknown",      NOT_PERMITTED },
	[POLICY_REASON_NO_IDENTITY]             = { "no_identity",             BAD_IDENTITY },
	[POLICY_REASON_IDENTITY_INVALID]        = { "identity_invalid",        BAD_IDENTITY },
	[POLICY_REASON_IDENTITY_MISMATCH]       = { "identity_mismatch",       BAD_IDENTITY },
	[POLICY_REASON_DIRECTORY_UNAVAILABLE]   = { "directory_unavailable",   NO_DIRECTORY },
	[POLICY_REASON_UNKNOWN_DEVICE]          = { "unknown_device",          NOT_PERMITTED },
	[POLICY_REASON_NO_MATCHING_RULE]        = { "no_matching_rule",        NOT_PERMITTED },
	[POLICY_REASON_DECISION_LOG_UNWRITABLE] = { "decision_log_unwritable", NO_RECORD },
	[POLICY_REASON_TIMEOUT]                 = { "timeout",                 NOT_PERMITTED },
	[POLICY_REASON_HANDSHAKE]               = { "handshake",               NOT_PERMITTED },
	[POLICY_REASON_NEEDS_OCSP]              = { "needs_ocsp",              NOT_PERMITTED },
};

const char *policy_reason_code(enum policy_reason reason)
{
	return (unsigned)reason < POLICY_REASON_COUNT ? reason_names[reason].code : "unknown";
}

const char *policy_reason_text(enum policy_reason reason)
{
	return (unsigned)reason < POLICY_REASON_COUNT ? reason_names[reason].text : NOT_PERMITTED;
}

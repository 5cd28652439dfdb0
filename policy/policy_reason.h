/*
 * Why a decision came out as it did: the policy's reason codes. The codes are
 * the decision log's "reason" and operators' alerts depend on them; the texts
 * are what a NAS shows (Reply-Message). A conversation that failed in EAP
 * carries POLICY_REASON_HANDSHAKE and EAP's own code (eap_reason_code).
 */
#ifndef AUTHD_POLICY_REASON_H
#define AUTHD_POLICY_REASON_H

enum policy_reason {
	POLICY_REASON_OK,                       /* "ok" */
	POLICY_REASON_QUARANTINE,               /* "quarantine": a fallback placed it on the quarantine VLAN */
	POLICY_REASON_REVOKED,                  /* "revoked" */
	POLICY_REASON_REVOCATION_UNKNOWN,       /* "revocation_unknown": no source could say */
	POLICY_REASON_NO_IDENTITY,              /* "no_identity" */
	POLICY_REASON_IDENTITY_INVALID,         /* "identity_invalid" */
	POLICY_REASON_IDENTITY_MISMATCH,        /* "identity_mismatch": EAP identity vs certificate */
	POLICY_REASON_DIRECTORY_UNAVAILABLE,    /* "directory_unavailable" (or its threads busy) */
	POLICY_REASON_UNKNOWN_DEVICE,           /* "unknown_device" */
	POLICY_REASON_NO_MATCHING_RULE,         /* "no_matching_rule" */
	POLICY_REASON_DECISION_LOG_UNWRITABLE,  /* "decision_log_unwritable": an accept without its record */
	POLICY_REASON_TIMEOUT,                  /* "timeout": the conversation went idle, or gave way */
	POLICY_REASON_HANDSHAKE,                /* the EAP conversation failed: its code, not this one, is logged */
	/* Never recorded: the revocation check stopped where only a live OCSP
	 * responder can answer (see revocation_check). */
	POLICY_REASON_NEEDS_OCSP,               /* "needs_ocsp" */
	POLICY_REASON_COUNT
};

/* The stable snake_case code, e.g. "directory_unavailable"; "unknown" out of range. */
const char *policy_reason_code(enum policy_reason reason);
/* The class of a refusal for Reply-Message, e.g. "certificate identity not
 * acceptable"; the decision log has the reason and its detail. */
const char *policy_reason_text(enum policy_reason reason);

#endif

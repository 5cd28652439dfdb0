/*
 * Reason codes: the stable vocabulary of the decision log and of Reply-Message.
 */
#include "eap/eap_tls.h"

struct reason_name {
	const char *code;
	const char *text;
};

/* Indexed by enum eap_reason; the codes are an external interface, never rename. */
static const struct reason_name reason_names[EAP_REASON_COUNT] = {
	[EAP_REASON_OK]                 = { "ok",                 "authenticated" },
	[EAP_REASON_CERT_EXPIRED]       = { "cert_expired",       "certificate rejected: expired" },
	[EAP_REASON_CERT_NOT_YET_VALID] = { "cert_not_yet_valid", "certificate rejected: not yet valid" },
	[EAP_REASON_UNKNOWN_CA]         = { "unknown_ca",         "certificate rejected: unknown issuer" },
	[EAP_REASON_NO_CLIENT_EKU]      = { "no_client_eku",      "certificate rejected: not for client authentication" },
	[EAP_REASON_NO_CLIENT_CERT]     = { "no_client_cert",     "no client certificate" },
	[EAP_REASON_WEAK_KEY]           = { "weak_key",           "certificate rejected: key too weak" },
	[EAP_REASON_WEAK_SIGNATURE]     = { "weak_signature",     "certificate rejected: weak signature" },
	[EAP_REASON_CERT_INVALID]       = { "cert_invalid",       "certificate rejected: invalid" },
	[EAP_REASON_TLS_FAILED]         = { "tls_failed",         "TLS handshake failed" },
	[EAP_REASON_EAP_NAK]            = { "eap_nak",            "device refused EAP-TLS" },
	[EAP_REASON_EAP_MALFORMED]      = { "eap_malformed",      "malformed EAP exchange" },
};

static const struct reason_name *reason_lookup(enum eap_reason reason)
{
	if ((unsigned)reason >= EAP_REASON_COUNT)
		return NULL;
	return &reason_names[reason];
}

const char *eap_reason_code(enum eap_reason reason)
{
	const struct reason_name *r = reason_lookup(reason);

	return r != NULL ? r->code : "unknown";
}

const char *eap_reason_text(enum eap_reason reason)
{
	const struct reason_name *r = reason_lookup(reason);

	return r != NULL ? r->text : "unknown";
}

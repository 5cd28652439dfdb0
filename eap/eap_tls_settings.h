/*
 * What the config says to EAP-TLS: apart from eap_tls.h so that a holder of
 * the settings (authd's config) needs nothing else of the module.
 */
#ifndef AUTHD_EAP_TLS_SETTINGS_H
#define AUTHD_EAP_TLS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

struct eap_tls_settings {
	const char *certificate;   /* PEM file: server certificate, optionally followed by its chain */
	const char *private_key;   /* PEM file: key of that certificate */
	const char *ca;            /* PEM file: trusted issuers of device certificates */
	int min_version;           /* TLS1_2_VERSION or TLS1_3_VERSION */
	int max_version;           /* TLS1_2_VERSION or TLS1_3_VERSION */
	bool require_client_eku;   /* device certificate must carry EKU clientAuth */
	unsigned session_lifetime; /* seconds a session may be resumed; 0: no resumption */
	/* Body bytes a TLS handshake message from the peer may declare, in
	 * [EAP_TLS_MIN_MAX_HANDSHAKE, EAP_TLS_MAX_MAX_HANDSHAKE]; 0: EAP_TLS_DEFAULT_MAX_HANDSHAKE.
	 * Larger claims end the conversation (eap_malformed) before OpenSSL buffers them;
	 * reassembled messages are limited to it plus EAP_TLS_FLIGHT_ALLOWANCE. */
	size_t max_handshake_message;
};

#endif

/*
 * Module-private side of eap_tls_context: the TLS server context, how a
 * conversation gets its SSL object, and how certificate verification and
 * handshake failures become an enum eap_reason.
 */
#ifndef AUTHD_EAP_TLS_CONTEXT_H
#define AUTHD_EAP_TLS_CONTEXT_H

#include <openssl/ssl.h>

#include "eap/eap_tls.h"

#define EAP_TLS_DETAIL_MAX 256

struct eap_tls_context {
	SSL_CTX *ssl_ctx;          /* its app data points back here */
	bool require_client_eku;
	bool resumption;
	size_t max_handshake_message;  /* body bytes a peer's handshake message may declare */
};

/* A resumption in progress: what the peer offered and what the caller found. */
struct eap_tls_resumption {
	uint8_t offered[SSL_MAX_SSL_SESSION_ID_LENGTH];
	size_t offered_len;
	bool looked_up;            /* the caller answered; the handshake goes on */
	SSL_SESSION *found;        /* owned; NULL: resume nothing */
	SSL_SESSION *fresh;        /* owned; the session this handshake created */
};

/*
 * What certificate verification learned about the peer. Lives in the
 * conversation; the verify callback reaches it through the SSL app data.
 */
struct eap_tls_peer {
	enum eap_reason reason;            /* first failure; EAP_REASON_OK if none */
	char detail[EAP_TLS_DETAIL_MAX];
	X509 *leaf;                        /* owned reference, captured even on failure */
	struct eap_tls_resumption resume;
};

/*
 * A server SSL object reading from and writing to two fresh memory BIOs,
 * reporting verification results into peer (which must outlive it).
 * NULL on allocation failure.
 */
SSL *eap_tls_context_new_ssl(const struct eap_tls_context *ctx, struct eap_tls_peer *peer);

/*
 * After SSL_do_handshake failed: unless the verify callback already recorded
 * a reason, derives one from the OpenSSL error queue. Clears the queue.
 */
void eap_tls_context_classify_failure(SSL *ssl, int ssl_error, struct eap_tls_peer *peer);

#endif

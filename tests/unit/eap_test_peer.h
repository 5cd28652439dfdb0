/*
 * A minimal EAP-TLS supplicant: an OpenSSL client on memory BIOs that answers
 * an authenticator's EAP-Requests the way wpa_supplicant does, fragmenting its
 * own flights and checking the framing of the server's strictly. Its framing
 * code is written independently of eap/ so the two cannot share a bug.
 *
 * Two users: the unit tests drive it against eap/ in process
 * (eap_test_run*), and tools/authbench drives thousands of them over RADIUS.
 * The peer itself (everything but eap_test_run*) needs only OpenSSL: link
 * the eap_test_peer library; eap_test_run* live in eap_test_run (cmocka, eap).
 *
 * Threading: a peer is used by one thread at a time; a shared SSL_CTX may
 * serve peers on several threads (OpenSSL locks it).
 */
#ifndef AUTHD_EAP_TEST_PEER_H
#define AUTHD_EAP_TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "eap/eap_tls.h"

struct eap_test_peer_options {
	const char *cert;          /* PEM, leaf optionally followed by its chain; NULL: send none */
	const char *key;
	const char *server_ca;     /* PEM the peer trusts for the server; NULL: don't verify */
	int min_version;           /* 0: library default */
	int max_version;
	size_t fragment_size;      /* largest TLS payload the peer puts in one response; 0: 1014 */
	int security_level;        /* -1: library default; 0 to present weak test certificates */
	const char *identity;      /* EAP-Response/Identity; NULL: "anonymous" */
	/*
	 * A client context made by eap_test_peer_ctx_new() (or by hand) to share
	 * between peers instead of loading files for each: when set, cert, key,
	 * server_ca, the versions and security_level are ignored. The peer holds
	 * its own reference; the caller keeps its own.
	 */
	SSL_CTX *ssl_ctx;
	/* A session to offer for resumption (NULL: full handshake). The peer holds its own reference. */
	SSL_SESSION *session;
	/*
	 * Accept the L flag wherever RFC 5216 allows it (every fragment, an
	 * unfragmented message: FreeRADIUS's include_length), its value checked.
	 * false: only on the first fragment of a fragmented message, as authd sends it.
	 */
	bool lenient_length;
};

struct eap_test_peer;

/*
 * The client TLS context the options describe (cert, key, server_ca, versions,
 * security level). NULL with OpenSSL's errors queued if a file does not load.
 */
SSL_CTX *eap_test_peer_ctx_new(const struct eap_test_peer_options *opt);

/* NULL on failure (a file did not load, out of memory); OpenSSL's errors stay queued. */
struct eap_test_peer *eap_test_peer_new(const struct eap_test_peer_options *opt);
void eap_test_peer_free(struct eap_test_peer *peer);

/*
 * Answers one EAP-Request. Returns 0 with the response in *resp (valid until
 * the next call), or -1 if the request broke the protocol (the reason is in
 * eap_test_peer_error()).
 */
int eap_test_peer_respond(struct eap_test_peer *peer, const uint8_t *req, size_t reqlen,
                          const uint8_t **resp, size_t *resplen);
const char *eap_test_peer_error(const struct eap_test_peer *peer);

/* True once the client side of the TLS handshake completed. */
bool eap_test_peer_handshake_done(const struct eap_test_peer *peer);
/*
 * Why the client side of the handshake failed (OpenSSL's reason, e.g. a
 * certificate verify failure or an alert from the server), or NULL if it has
 * not failed. The peer still answers with an ACK then, like wpa_supplicant.
 */
const char *eap_test_peer_tls_error(const struct eap_test_peer *peer);
/* Whether that failure was an alert the server sent (rather than the client's own finding). */
bool eap_test_peer_tls_alert_received(const struct eap_test_peer *peer);
/* Whether the server accepted the offered session (an abbreviated handshake). */
bool eap_test_peer_resumed(const struct eap_test_peer *peer);
/* "TLSv1.2", "TLSv1.3", ... once negotiated; NULL before. */
const char *eap_test_peer_tls_version(const struct eap_test_peer *peer);
/*
 * The session to offer next time (the caller owns the reference: SSL_SESSION_free),
 * or NULL if the handshake gave none that can be resumed (e.g. TLS 1.3 without a ticket).
 */
SSL_SESSION *eap_test_peer_session(const struct eap_test_peer *peer);
/* MSK/EMSK as the client derives them; -1 before the handshake completed. */
int eap_test_peer_keys(struct eap_test_peer *peer, uint8_t msk[EAP_MSK_LEN], uint8_t emsk[EAP_EMSK_LEN]);
/* EAP-TLS requests that carried TLS data, and the largest TLS payload in one. */
unsigned eap_test_peer_fragments_received(const struct eap_test_peer *peer);
size_t eap_test_peer_largest_fragment(const struct eap_test_peer *peer);
/* Bytes of the RFC 9190 commitment message received (TLS 1.3). */
size_t eap_test_peer_app_data(const struct eap_test_peer *peer);
/* Whether the last EAP-TLS request carried TLS bytes (e.g. an alert before EAP-Failure). */
bool eap_test_peer_last_request_had_data(const struct eap_test_peer *peer);

/*
 * Runs a whole conversation against eap/ in process: EAP-Start, then
 * request/response until the server ends it, allowing (or refusing) the peer
 * when the handshake is verified. Returns the final step (SUCCESS/FAILURE, or
 * DISCARD if the server went quiet), with the last server packet in *last and
 * *lastlen. A protocol error on the peer side fails the calling cmocka test.
 * In the eap_test_run library.
 */
enum eap_step eap_test_run_policy(struct eap_conversation *conv, struct eap_test_peer *peer,
                                  bool allow, const uint8_t **last, size_t *lastlen);
/* eap_test_run_policy() with the peer allowed. */
enum eap_step eap_test_run(struct eap_conversation *conv, struct eap_test_peer *peer,
                           const uint8_t **last, size_t *lastlen);

#endif

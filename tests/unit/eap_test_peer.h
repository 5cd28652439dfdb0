/*
 * A minimal in-process EAP-TLS supplicant for tests: an OpenSSL client on
 * memory BIOs that answers authd's EAP-Requests the way wpa_supplicant does,
 * fragmenting its own flights and checking the framing of ours. Its framing
 * code is written independently of eap/ so the two cannot share a bug.
 */
#ifndef AUTHD_EAP_TEST_PEER_H
#define AUTHD_EAP_TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eap/eap_tls.h"

struct eap_test_peer_options {
	const char *cert;          /* PEM, leaf optionally followed by its chain; NULL: send none */
	const char *key;
	const char *server_ca;     /* PEM the peer trusts for the server; NULL: don't verify */
	int min_version;           /* 0: library default */
	int max_version;
	size_t fragment_size;      /* largest TLS payload the peer puts in one response */
	int security_level;        /* -1: library default; 0 to present weak test certificates */
	const char *identity;      /* EAP-Response/Identity; NULL: "anonymous" */
};

struct eap_test_peer;

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
 * Runs a whole conversation: EAP-Start, then request/response until the
 * server ends it, allowing (or refusing) the peer when the handshake is
 * verified. Returns the final step (SUCCESS/FAILURE, or DISCARD if the server
 * went quiet), with the last server packet in *last and *lastlen. A protocol
 * error on the peer side fails the calling test.
 */
enum eap_step eap_test_run_policy(struct eap_conversation *conv, struct eap_test_peer *peer,
                                  bool allow, const uint8_t **last, size_t *lastlen);
/* eap_test_run_policy() with the peer allowed. */
enum eap_step eap_test_run(struct eap_conversation *conv, struct eap_test_peer *peer,
                           const uint8_t **last, size_t *lastlen);

#endif

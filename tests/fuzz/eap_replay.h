/*
 * Replays a recorded EAP-TLS conversation (the peer's side) against eap/,
 * for fuzz_eap_tls and for make_eap_seeds, which records real conversations
 * as its corpus. One format, one driver, so every seed is checked to replay
 * to the end it was recorded with.
 *
 * Input: byte 0 selects options (EAP_REPLAY_*); if EAP_REPLAY_SESSION is set,
 * a session record follows (the stored session a resumption lookup finds,
 * DER as eap_conversation_new_session gives it); then the peer's EAP packets.
 * Every record is a 2-byte big-endian length followed by that many bytes (a
 * truncated last record is cut to what is there).
 *
 * A replay only goes past the peer's first TLS flight if the server's flight
 * is byte for byte the one recorded: eap_replay_deterministic_rand() makes
 * OpenSSL's random bytes a fixed pattern for the whole process, in the
 * recorder and in the fuzzer alike. Never link this into anything but tests.
 */
#ifndef AUTHD_EAP_REPLAY_H
#define AUTHD_EAP_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eap/eap_tls.h"

#define EAP_REPLAY_KEEP_IDS      0x01  /* keep Identifiers as given (else the expected one) */
#define EAP_REPLAY_START         0x02  /* begin with EAP-Start */
#define EAP_REPLAY_FRAGMENT_MASK 0x0c  /* fragment size: eap_replay_fragment_sizes[(o >> 2) & 3] */
#define EAP_REPLAY_REFUSE        0x10  /* refuse the verified peer instead of allowing it */
#define EAP_REPLAY_SESSION       0x20  /* a session record follows the option byte */
#define EAP_REPLAY_NO_RESUME     0x40  /* found session or not, the handshake goes on in full */

extern const size_t eap_replay_fragment_sizes[4];

/* The server's session lifetime in the replay context (seconds). */
#define EAP_REPLAY_SESSION_LIFETIME 86400

/*
 * Makes every call for random bytes in this process return 1, 2, 3, ...
 * (so the result does not depend on who else drew random bytes before).
 * Call first, before anything in OpenSSL draws one. Aborts on failure.
 */
void eap_replay_deterministic_rand(void);

/*
 * The server context of every replay: server.pem/.key and ca-bundle.pem from
 * the test PKI in pki_dir, TLS 1.2 and 1.3, clientAuth required, resumption
 * on. Aborts with a message when it cannot be made.
 */
struct eap_tls_context *eap_replay_context(const char *pki_dir);

struct eap_replay_result {
	enum eap_step last;        /* the last step (DISCARD if there was none) */
	unsigned lookups;          /* EAP_STEP_LOOKUPs answered */
	bool found;                /* a lookup's session was accepted (offered_chain) */
	bool verified;             /* EAP_STEP_VERIFIED reached */
	bool resumed;              /* eap_conversation_resumed() at the end */
	bool new_session;          /* eap_conversation_new_session() gave one */
};

/*
 * Feeds data (the format above) to one new conversation on ctx, answering
 * VERIFIED with allow or refuse and LOOKUP with the session record, and reads
 * everything a caller may read afterwards. Aborts if eap/ breaks its contract
 * (an answer that is no packet).
 */
void eap_replay_run(struct eap_tls_context *ctx, const uint8_t *data, size_t size,
                    struct eap_replay_result *result);

#endif

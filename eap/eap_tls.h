/*
 * EAP-TLS authenticator (RFC 3748, RFC 5216 for TLS 1.2, RFC 9190 for TLS 1.3).
 *
 * This module does no I/O: it takes EAP packets as bytes and returns EAP packets
 * as bytes. It knows nothing of RADIUS, sockets, LDAP or Redis, which is what
 * makes it testable in-process and fuzzable.
 *
 * Threading: an eap_tls_context is immutable after creation and may be shared
 * by all threads. A conversation must be used by one thread at a time.
 */
#ifndef AUTHD_EAP_TLS_H
#define AUTHD_EAP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "eap/eap_tls_settings.h"

/* Hard limits on what a peer can make us hold. */
#define EAP_TLS_MAX_FRAGMENTS   256          /* fragments in one reassembled message */
#define EAP_TLS_MAX_ROUND_TRIPS 512          /* EAP requests in one conversation */
#define EAP_TLS_MIN_FRAGMENT    64           /* smallest TLS payload per EAP packet */
#define EAP_TLS_MAX_FRAGMENT    16384
/* What an EAP-TLS packet adds to its TLS bytes at most: Code, Identifier,
 * Length, Type, flags and the TLS Message Length (RFC 5216 section 3.1). */
#define EAP_TLS_OVERHEAD        10

/*
 * The largest TLS handshake message a peer may declare (settings.max_handshake_message):
 * the default, and the range accepted. 16 KiB holds a ClientHello (real ones stay under
 * 2 KB, post-quantum key shares included) and a client Certificate of a chain of three
 * RSA-4096 certificates (about 6 KB) more than twice over; it is also OpenSSL's own bound
 * on a CertificateVerify and the largest plaintext record.
 */
#define EAP_TLS_DEFAULT_MAX_HANDSHAKE 16384
#define EAP_TLS_MIN_MAX_HANDSHAKE     4096
#define EAP_TLS_MAX_MAX_HANDSHAKE     65536
/*
 * A reassembled EAP-TLS message (L field) is one flight of the peer: at most one
 * handshake message of the maximum size plus this much for the rest of it (TLS 1.2:
 * ClientKeyExchange and CertificateVerify of up to 1 KB each for RSA-8192,
 * ChangeCipherSpec, the encrypted Finished, record headers; TLS 1.3: CertificateVerify,
 * Finished and the encryption overhead of each record), generously.
 */
#define EAP_TLS_FLIGHT_ALLOWANCE      4096

#define EAP_MSK_LEN  64
#define EAP_EMSK_LEN 64

/*
 * Why a conversation ended. Stable: the decision log and operators depend on
 * the codes returned by eap_reason_code().
 */
enum eap_reason {
	EAP_REASON_OK = 0,
	EAP_REASON_CERT_EXPIRED,        /* "cert_expired" */
	EAP_REASON_CERT_NOT_YET_VALID,  /* "cert_not_yet_valid" */
	EAP_REASON_UNKNOWN_CA,          /* "unknown_ca": no chain to a trusted issuer, self-signed */
	EAP_REASON_NO_CLIENT_EKU,       /* "no_client_eku" */
	EAP_REASON_NO_CLIENT_CERT,      /* "no_client_cert" */
	EAP_REASON_WEAK_KEY,            /* "weak_key": below security level 2 */
	EAP_REASON_WEAK_SIGNATURE,      /* "weak_signature": SHA-1 or MD5 */
	EAP_REASON_CERT_INVALID,        /* "cert_invalid": any other verification error */
	EAP_REASON_TLS_FAILED,          /* "tls_failed": handshake failed for a non-certificate reason */
	EAP_REASON_EAP_NAK,             /* "eap_nak": peer refused EAP-TLS */
	EAP_REASON_EAP_MALFORMED,       /* "eap_malformed": bad EAP/EAP-TLS framing or limits exceeded */
	EAP_REASON_COUNT
};

/* The stable snake_case code, e.g. "cert_expired". */
const char *eap_reason_code(enum eap_reason reason);
/* A short class for Reply-Message, e.g. "certificate rejected: expired". */
const char *eap_reason_text(enum eap_reason reason);

struct eap_tls_context;

/*
 * Loads certificate, key and CA bundle and builds the TLS server context
 * (security level 2, versions as given, client certificate required).
 * Returns NULL with a message in err on failure (missing file, bad PEM,
 * key not matching certificate, max_handshake_message out of range, ...).
 */
struct eap_tls_context *eap_tls_context_new(const struct eap_tls_settings *settings,
                                            char *err, size_t errlen);
void eap_tls_context_free(struct eap_tls_context *ctx);

/*
 * Checks a device certificate (and the intermediates it would send) exactly
 * as a handshake would: trust, validity, EKU, security level. For tools that
 * explain a decision without a handshake. detail gets the specific failure;
 * on success *verified (if not NULL) gets the chain, leaf first (caller frees).
 */
enum eap_reason eap_tls_verify_certificate(const struct eap_tls_context *ctx, X509 *leaf,
                                           STACK_OF(X509) *untrusted, STACK_OF(X509) **verified,
                                           char *detail, size_t detaillen);

enum eap_step {
	EAP_STEP_SEND,     /* *out is an EAP-Request: send it in an Access-Challenge */
	EAP_STEP_VERIFIED, /* handshake done, peer verified, keys and chain known; nothing to
	                      send yet: call eap_conversation_allow() or _refuse() */
	EAP_STEP_SUCCESS,  /* *out is EAP-Success: keys and peer chain are available */
	EAP_STEP_FAILURE,  /* *out is EAP-Failure: eap_conversation_reason() says why */
	EAP_STEP_DISCARD,  /* input silently discarded (e.g. stale Identifier); send nothing */
	EAP_STEP_LOOKUP,   /* the peer offers to resume a session: look it up
	                      (eap_conversation_offered_session), then call
	                      eap_conversation_resume() */
};

struct eap_conversation;

/*
 * fragment_size: largest TLS payload carried in one EAP-TLS request, clamped
 * to [EAP_TLS_MIN_FRAGMENT, EAP_TLS_MAX_FRAGMENT]. Returns NULL on allocation
 * failure.
 */
struct eap_conversation *eap_conversation_new(struct eap_tls_context *ctx, size_t fragment_size);
/* Frees everything, wiping key material. NULL is a no-op. */
void eap_conversation_free(struct eap_conversation *conv);

/*
 * Feeds one EAP packet from the peer (RFC 3748 framing, as carried in
 * EAP-Message) and returns what to do next. An empty input (inlen == 0) is
 * EAP-Start and yields an EAP-Request/Identity. The first response is
 * normally EAP-Response/Identity, answered with EAP-TLS Start.
 *
 * *out and *outlen point into the conversation and stay valid until the next
 * call on it. After SUCCESS or FAILURE, further input yields FAILURE with
 * EAP_REASON_EAP_MALFORMED.
 */
enum eap_step eap_conversation_step(struct eap_conversation *conv,
                                    const uint8_t *in, size_t inlen,
                                    const uint8_t **out, size_t *outlen);

/*
 * After EAP_STEP_VERIFIED, the caller's policy has the last word.
 * allow: our final TLS flight goes out (EAP_STEP_SEND); the peer's ACK then
 * yields EAP_STEP_SUCCESS. refuse: with TLS 1.2 a fatal access_denied alert
 * replaces that flight (EAP_STEP_SEND, then EAP_STEP_FAILURE on the peer's
 * answer); with TLS 1.3 an EAP-Failure at once (EAP_STEP_FAILURE). Either way
 * the peer counts the method as failed, and the keys are wiped. The reason
 * stays EAP_REASON_OK: refusing is the caller's decision, not a TLS failure.
 */
enum eap_step eap_conversation_allow(struct eap_conversation *conv,
                                     const uint8_t **out, size_t *outlen);
enum eap_step eap_conversation_refuse(struct eap_conversation *conv,
                                      const uint8_t **out, size_t *outlen);

/*
 * Session resumption (settings.session_lifetime > 0). Sessions live in a
 * store the caller keeps (shared between servers, say), so the module asks
 * and is told. After EAP_STEP_LOOKUP, the id the peer offered (1..32 bytes;
 * a TLS 1.2 session ID or a TLS 1.3 stateful ticket):
 */
size_t eap_conversation_offered_session(const struct eap_conversation *conv, const uint8_t **id);
/*
 * The stored session for that id (DER, as eap_conversation_new_session gave
 * it): decoded and its certificate verified as a handshake would (validity,
 * trust, EKU), once. Returns the verified chain (leaf first, borrowed) for
 * the caller's own checks (revocation), or NULL with detail when the session
 * cannot be used.
 */
STACK_OF(X509) *eap_conversation_offered_chain(struct eap_conversation *conv, const uint8_t *der,
                                               size_t len, char *detail, size_t detaillen);
/* The chain eap_conversation_offered_chain returned, until
 * eap_conversation_resume (borrowed); NULL when it found none. */
STACK_OF(X509) *eap_conversation_found_chain(const struct eap_conversation *conv);
/*
 * Goes on with the handshake: resuming the session given above (resume
 * true), or in full (no session found, or the caller will not let the device
 * resume, say it was revoked meanwhile). Returns the next step, as
 * eap_conversation_step would.
 */
enum eap_step eap_conversation_resume(struct eap_conversation *conv, bool resume,
                                      const uint8_t **out, size_t *outlen);
/* True when the handshake resumed a session (from VERIFIED on). */
bool eap_conversation_resumed(const struct eap_conversation *conv);
/*
 * From VERIFIED on: the session the peer may resume later, for the caller's
 * store once it has allowed the peer (before the last flight, so the session
 * is there before the peer can offer it): its id and DER encoding (malloc'd;
 * the caller frees *der). 0, or -1 when there is none (resumption off, or
 * this was a resumption).
 */
int eap_conversation_new_session(const struct eap_conversation *conv, uint8_t id[32], size_t *idlen,
                                 uint8_t **der, size_t *derlen);

enum eap_reason eap_conversation_reason(const struct eap_conversation *conv);
/* Detail for the log, e.g. OpenSSL's verify error string; "" if none. */
const char *eap_conversation_detail(const struct eap_conversation *conv);
/* EAP-Response/Identity as received (cut at the first NUL, at most 253 bytes); "" before it. */
const char *eap_conversation_identity(const struct eap_conversation *conv);
/* "TLSv1.2" / "TLSv1.3" once the handshake got far enough, else NULL. */
const char *eap_conversation_tls_version(const struct eap_conversation *conv);
/* EAP-Requests sent so far (each is one RADIUS round trip). */
unsigned eap_conversation_round_trips(const struct eap_conversation *conv);
/*
 * The bytes a peer made this conversation buffer: the reassembly buffer, the
 * last packet, TLS data queued either way, and the largest handshake message
 * it declared (OpenSSL reserves room for it; eap.max_handshake_message bounds
 * it). What every handshake holds whatever the peer sends (the TLS state,
 * OpenSSL's read buffer and its default 16 KiB handshake buffer: about 56 KB
 * in all, tools/bench/eap_memory) is not counted: the number of
 * conversations bounds it.
 */
size_t eap_conversation_buffered(const struct eap_conversation *conv);
/*
 * The peer's leaf certificate, if it sent one (also on failure, so the log can
 * name it), and the verified chain (leaf first) from VERIFIED on. Borrowed: valid
 * until the conversation is freed.
 */
X509 *eap_conversation_peer_cert(const struct eap_conversation *conv);
STACK_OF(X509) *eap_conversation_verified_chain(const struct eap_conversation *conv);
/* Copies MSK and EMSK; 0 after SUCCESS, -1 otherwise. */
int eap_conversation_keys(const struct eap_conversation *conv,
                          uint8_t msk[EAP_MSK_LEN], uint8_t emsk[EAP_EMSK_LEN]);

#endif

/*
 * Revocation status from an OCSP responder (RFC 6960): one request per
 * certificate over plain HTTP, the answer verified against the trusted CAs
 * (tls.ca). The issuing CA may sign responses itself or delegate to a
 * responder certificate it issued with the OCSPSigning EKU; any other signer
 * is refused. Queries block, bounded by a hard deadline, and belong on
 * authd's backend threads (policy/ keeps slow lookups off the packet path).
 */
#ifndef AUTHD_OCSP_CHECK_H
#define AUTHD_OCSP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/backend_observer.h"
#include "common/http_client.h"

#define OCSP_CHECK_DEFAULT_TIMEOUT_MS 2000
#define OCSP_CHECK_DEFAULT_MAX_AGE_S 300
#define OCSP_CHECK_MAX_TIMEOUT_MS 60000
/* thisUpdate may be this far ahead of our clock, and nextUpdate this far behind. */
#define OCSP_CHECK_CLOCK_SKEW_S 300
/* Larger HTTP bodies are refused; a real response for one certificate is ~1-3 KiB. */
#define OCSP_CHECK_MAX_RESPONSE 65536

struct ocsp_settings {
	char *url;              /* responder URL override, http://host[:port][/path]; NULL: the
	                           certificate's AIA (id-ad-ocsp). Owned by the caller (the
	                           config); ocsp_check_new keeps a copy. */
	bool nonce;             /* send a nonce and require the response to echo it */
	unsigned timeout_ms;    /* hard bound on one query: resolve + connect + send + receive */
	unsigned max_age_s;     /* a response without nextUpdate is accepted only if its
	                           thisUpdate is at most this old */
};

/* The defaults: no override URL, nonce on, OCSP_CHECK_DEFAULT_TIMEOUT_MS, _MAX_AGE_S. */
void ocsp_settings_init(struct ocsp_settings *s);

enum ocsp_check_status {
	OCSP_CHECK_GOOD,
	OCSP_CHECK_REVOKED,
	OCSP_CHECK_UNKNOWN,     /* the responder answered "unknown" (a signed, current answer) */
	OCSP_CHECK_FAILED,      /* the status could not be learned; detail says why */
};

/* "good", "revoked", "unknown", "failed" */
const char *ocsp_check_status_name(enum ocsp_check_status s);

struct ocsp_answer {
	enum ocsp_check_status status;
	time_t this_update;     /* 0 unless GOOD, REVOKED or UNKNOWN */
	time_t next_update;     /* 0 when the response has none (or on FAILED) */
	time_t revoked_at;      /* when REVOKED */
	int reason;             /* when REVOKED: the CRLReason code (1 keyCompromise ...), -1 absent */
	/* For the decision log, never empty, e.g.
	 *   "OCSP http://127.0.0.1:4321/: revoked at 2026-01-02T03:04:05Z (keyCompromise)"
	 *   "OCSP http://127.0.0.1:4321/: no answer within 2000 ms (waiting for the response)"
	 *   "OCSP: signature check failed: signer CN=... does not chain to a trusted CA (...)"
	 * ocsp_check_query starts it with "OCSP <url>: ", ocsp_check_verify_response with "OCSP: ". */
	char detail[256];
};

struct ocsp_check;

/*
 * ca_file: PEM, the trusted CAs (authd's tls.ca), read once here and used to
 * verify every response. Refuses an override URL that is not http:// (https
 * OCSP is unusual: responses are signed, and a TLS responder would need its
 * own revocation check), a timeout of 0 or above OCSP_CHECK_MAX_TIMEOUT_MS.
 * NULL with err on failure.
 */
struct ocsp_check *ocsp_check_new(const struct ocsp_settings *s, const char *ca_file,
                                  char *err, size_t errlen);
void ocsp_check_free(struct ocsp_check *c);

/*
 * Every query from now on is reported to o (copied; target: the responder's
 * slot, see ocsp_check_responder, named with its URL when first taken):
 * ok when the responder's answer was judged good, revoked or unknown, a
 * timeout when it did not answer by the deadline, else an error. Queries
 * the breaker skips reach no responder and are not reported. Call it before
 * c is shared.
 */
void ocsp_check_observe(struct ocsp_check *c, const struct backend_observer *o);

/*
 * Asks the responder (the override URL, else the first http:// id-ad-ocsp URL
 * of cert's AIA) about cert, issued by issuer (the issuer as found in the
 * verified chain; it also serves to build the responder's chain when tls.ca
 * holds only the root). Blocks at most timeout_ms (+ a few ms of CPU),
 * whatever the responder does: slow DNS, a black-holed connect, a server that
 * never answers or trickles bytes. Thread-safe: c is only read.
 * Returns out->status; out is always filled.
 */
enum ocsp_check_status ocsp_check_query(struct ocsp_check *c, X509 *cert, X509 *issuer,
                                        struct ocsp_answer *out);

/*
 * True while the responder that would be asked about cert is marked down:
 * three queries in a row got no answer in time, so for 2 s queries to it
 * fail at once ("marked down") instead of each waiting timeout_ms; then one
 * probes.
 * Lets a caller skip queueing for a responder that will not answer.
 */
bool ocsp_check_responder_down(struct ocsp_check *c, X509 *cert);

/* Responders told apart, each with a breaker (and, at the caller, threads)
 * of its own; the CAs' AIA name a handful. Past them, the last is shared. */
#define OCSP_CHECK_RESPONDERS 16
/* Which of them would be asked about cert: below OCSP_CHECK_RESPONDERS,
 * the same for every certificate that names the same responder. */
unsigned ocsp_check_responder(struct ocsp_check *c, X509 *cert);
/* True while the responder in slot (below OCSP_CHECK_RESPONDERS) is marked
 * down. Lock-free: for metrics. */
bool ocsp_check_slot_down(const struct ocsp_check *c, unsigned slot);

/*
 * The pure part (and the fuzz target): judges one DER OCSPResponse for
 * (cert, issuer). It must be "successful", basic, signed by issuer or by its
 * delegated responder (chain to ca_file), echo nonce when one is given
 * (nonce_or_null NULL: none was sent, any echo is ignored), cover cert, and be
 * current at `now`: thisUpdate <= now + skew, nextUpdate >= now - skew, or
 * without nextUpdate thisUpdate >= now - max_age_s. `now` governs those
 * response times only; the signer's certificate chain is checked against the
 * system clock, as OpenSSL's verification of a shared store does.
 */
enum ocsp_check_status ocsp_check_verify_response(struct ocsp_check *c, const unsigned char *der,
                                                  size_t len, X509 *cert, X509 *issuer,
                                                  const unsigned char *nonce_or_null,
                                                  size_t nonce_len, time_t now,
                                                  struct ocsp_answer *out);

/* What a responder answers with, and the most an OCSP exchange reads (a
 * full HTTP head and the largest body): the fuzz target's bounds. */
#define OCSP_CHECK_RESPONSE_TYPE "application/ocsp-response"
#define OCSP_CHECK_MAX_HTTP (HTTP_MAX_HEAD + OCSP_CHECK_MAX_RESPONSE)

#endif

/*
 * RFC 5176 Dynamic Authorization client: Disconnect-Request and CoA-Request
 * to the Dynamic Authorization Server of a NAS, so that a revoked device
 * leaves the network at once instead of at its next re-authentication.
 *
 * Requests carry Message-Authenticator first (BlastRADIUS hardening, RFC
 * 5176 3.4) and Event-Timestamp; their Request Authenticator is computed as
 * for Accounting-Request. An answer counts only when it comes from the NAS's
 * address and port, with the request's Identifier, an ACK or NAK code for
 * the request type, a correct Response Authenticator and, if present, a
 * correct Message-Authenticator; anything else is ignored and noted.
 */
#ifndef AUTHD_DYNAUTH_H
#define AUTHD_DYNAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

enum dynauth_request {
	DYNAUTH_DISCONNECT,            /* Disconnect-Request (40): end the session */
	DYNAUTH_COA,                   /* CoA-Request (43) with Service-Type Authorize-Only (17) and a
	                                  State: the NAS re-authenticates the session (RFC 5176 3.2,
	                                  3.3) */
};

#define DYNAUTH_DEFAULT_TIMEOUT_MS 1000
#define DYNAUTH_DEFAULT_RETRIES    3
#define DYNAUTH_MAX_TIMEOUT_MS     60000   /* larger values are clamped */
#define DYNAUTH_MAX_RETRIES        10      /* larger values are clamped */

struct dynauth_settings {
	enum dynauth_request request;
	unsigned timeout_ms;           /* wait for the first answer, doubled on each retransmission;
	                                  0 = DYNAUTH_DEFAULT_TIMEOUT_MS */
	unsigned retries;              /* retransmissions after the first send (0 is allowed) */
	/* Where requests to NASes of each family leave from (port 0: any); a
	 * family 0 means the system's choice. */
	struct sockaddr_in source4;
	struct sockaddr_in6 source6;
};

/*
 * How the NAS finds the session (RFC 5176 3, "session identification"), and
 * optionally which NAS is meant. NULL or "" = attribute omitted. At least
 * one of user_name, acct_session_id, calling_station_id must be set: a
 * request naming only the NAS or the SSID could end many sessions.
 * Values longer than 253 octets are an error, never truncated.
 */
struct dynauth_session {
	const char *user_name;
	const char *acct_session_id;
	const char *calling_station_id;
	const char *called_station_id;
	const char *nas_identifier;
	const char *nas_ip_address;    /* dotted IPv4 */
};

enum dynauth_outcome {
	DYNAUTH_ACK,                   /* Disconnect-ACK (41) / CoA-ACK (44) */
	DYNAUTH_NAK,                   /* Disconnect-NAK (42) / CoA-NAK (45); see error_cause */
	DYNAUTH_TIMEOUT,               /* sent, but no valid answer after every retransmission */
	DYNAUTH_ERROR,                 /* not sent: bad input, socket or send failure */
};

#define DYNAUTH_STATE_LEN 16

struct dynauth_target {
	/* in */
	struct sockaddr_storage nas;   /* the NAS's Dynamic Authorization Server, usually port 3799;
	                                  AF_INET or AF_INET6 */
	socklen_t nas_len;
	const char *secret;            /* borrowed, not copied */
	struct dynauth_session session;
	/* out (every field is set by dynauth_send) */
	enum dynauth_outcome outcome;
	unsigned error_cause;          /* Error-Cause of the answer, 0 if none */
	unsigned tries;                /* packets sent */
	uint8_t id;                    /* RADIUS Identifier used, for log lines */
	uint8_t state[DYNAUTH_STATE_LEN]; /* DYNAUTH_COA: the random State sent, which the NAS echoes
	                                     in its next Access-Request; zero otherwise */
	double first_sent_ms;          /* since dynauth_send() started */
	double answered_ms;            /* since dynauth_send() started; 0 when no valid answer */
	char detail[160];              /* e.g. "NAK: Session-Context-Not-Found (503)",
	                                  "no answer after 4 tries (15000 ms); ignored an invalid
	                                  answer: wrong Response Authenticator (shared secret
	                                  mismatch?)" */
};

/* "ack", "nak", "timeout", "error". */
const char *dynauth_outcome_text(enum dynauth_outcome o);

/* RFC 5176 3.5 name of an Error-Cause, e.g. "Session-Context-Not-Found" for
 * 503, or "unknown". */
const char *dynauth_error_cause_text(unsigned cause);

/*
 * Sends the request to every target at once (one socket per address family
 * and 256 targets, each target its own Identifier), retransmits the identical
 * packet with doubling timeouts while no valid answer came, and fills in the
 * out fields of every target. Blocks at most about
 * timeout_ms * (2^(retries+1) - 1), less when every target has answered;
 * more than 4096 targets go in successive batches of 4096, each bounded so.
 * s NULL means Disconnect-Request with the defaults.
 *
 * Needs radius_init() (the RADIUS dictionaries) first. Thread-safe otherwise:
 * all state lives in the call. ICMP errors (e.g. port unreachable, when
 * dynamic authorization is off on the NAS) are noted in detail but change
 * nothing, since anyone can send them.
 *
 * Returns 0, or -1 with err when nothing could be sent at all (no targets
 * valid, no socket); every target's outcome and detail are set either way.
 */
int dynauth_send(const struct dynauth_settings *s, struct dynauth_target *t, size_t n, char *err,
                 size_t errlen);

/* What a valid answer said. */
struct dynauth_answer {
	bool ack;                      /* ACK, else NAK */
	unsigned error_cause;          /* 0 if absent */
	bool message_authenticator;    /* present (and then valid) */
};

/*
 * Checks one datagram as the answer to the request with Identifier id and
 * Request Authenticator request_authenticator: framing (Length within the
 * datagram and at most 4096, attributes exactly filling it, at most one
 * Message-Authenticator of 16 octets, Error-Cause of 4), Identifier, code
 * (ACK or NAK for the request type), Response Authenticator =
 * MD5(Code+Identifier+Length+Request Authenticator+Attributes+Secret), and
 * Message-Authenticator if present (HMAC-MD5 with the Request Authenticator
 * in place, RFC 5176 3.4). A pure function of its inputs and the fuzz target
 * for answers; needs no initialisation. Returns 0 with *ans filled in, or -1
 * with the reason in why.
 */
int dynauth_answer_check(enum dynauth_request request, uint8_t id, const uint8_t request_authenticator[16],
                         const char *secret, const uint8_t *buf, size_t len, struct dynauth_answer *ans,
                         char *why, size_t whylen);

#endif

/*
 * The RADIUS side of authbench, written from the RFCs with OpenSSL's MD5 only
 * (no RADIUS library), so that authbench checks a server's protocol, not a
 * shared reading of it: Access-Request encoding (RFC 2865, EAP-Message split
 * in 253-byte attributes per RFC 3579, Message-Authenticator per RFC 2869),
 * reply checks (Response Authenticator, Message-Authenticator) and the
 * MS-MPPE key decryption of RFC 2548 2.4.2/2.4.3.
 *
 * Everything here is a pure function of its arguments; a bench_radius_secret
 * is used by one thread at a time.
 */
#ifndef AUTHBENCH_RADIUS_H
#define AUTHBENCH_RADIUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_RADIUS_MAX        4096  /* RFC 2865 3: the largest packet */
#define BENCH_RADIUS_AUTH_LEN   16
#define BENCH_RADIUS_MAX_STATE  253

enum {
	BENCH_RADIUS_ACCESS_REQUEST = 1,
	BENCH_RADIUS_ACCESS_ACCEPT = 2,
	BENCH_RADIUS_ACCESS_REJECT = 3,
	BENCH_RADIUS_ACCESS_CHALLENGE = 11,
};

/* NAS-Port-Type values (RFC 2865 5.41) authbench names. */
enum {
	BENCH_NAS_PORT_ETHERNET = 15,
	BENCH_NAS_PORT_WIRELESS = 19,
};

/* The shared secret with precomputed HMAC-MD5 pads. */
struct bench_radius_secret;

/* Copies secret (len bytes). NULL on allocation failure. */
struct bench_radius_secret *bench_radius_secret_new(const uint8_t *secret, size_t len);
/* Wipes the secret. */
void bench_radius_secret_free(struct bench_radius_secret *s);

struct bench_radius_request {
	const char *user_name;           /* the EAP identity */
	const char *calling_station_id;  /* the device's MAC, "02-00-00-00-00-01" */
	const char *nas_identifier;
	uint32_t nas_port;
	uint32_t nas_port_type;
	uint32_t framed_mtu;             /* 0: none */
	const uint8_t *state;            /* from the last Access-Challenge; NULL: none */
	size_t state_len;
	const uint8_t *eap;              /* one whole EAP packet */
	size_t eap_len;
};

/*
 * Writes an Access-Request with Identifier id and Request Authenticator auth
 * into out (BENCH_RADIUS_MAX bytes), Message-Authenticator first. Returns its
 * length, or -1 if the request would not fit in one packet.
 */
int bench_radius_build_request(struct bench_radius_secret *s, uint8_t id,
                               const uint8_t auth[BENCH_RADIUS_AUTH_LEN],
                               const struct bench_radius_request *req, uint8_t *out);

enum bench_radius_check {
	BENCH_RADIUS_OK,
	BENCH_RADIUS_MALFORMED,                   /* length or attribute framing broken */
	BENCH_RADIUS_BAD_AUTHENTICATOR,           /* Response Authenticator wrong */
	BENCH_RADIUS_NO_MESSAGE_AUTHENTICATOR,    /* reply without one (RFC 3579 3.2 requires it) */
	BENCH_RADIUS_BAD_MESSAGE_AUTHENTICATOR,
};

/*
 * Checks a reply to the request whose Request Authenticator was req_auth:
 * framing, Response Authenticator (RFC 2865 3), Message-Authenticator
 * (RFC 2869 5.14, required). pkt is not modified.
 */
enum bench_radius_check bench_radius_check_reply(struct bench_radius_secret *s, const uint8_t *pkt,
                                                 size_t len, const uint8_t req_auth[BENCH_RADIUS_AUTH_LEN]);

/* What authbench reads from a reply that passed bench_radius_check_reply(). */
struct bench_radius_reply {
	uint8_t code;
	const uint8_t *state;            /* into the packet; NULL: none */
	size_t state_len;
	uint8_t eap[BENCH_RADIUS_MAX];   /* the EAP-Message attributes, concatenated */
	size_t eap_len;
	const uint8_t *mppe_send;        /* MS-MPPE-Send-Key value (salt + encrypted string), into the packet */
	size_t mppe_send_len;
	const uint8_t *mppe_recv;
	size_t mppe_recv_len;
};

/* 0, or -1 if the attributes are malformed. Pointers in out point into pkt. */
int bench_radius_parse_reply(const uint8_t *pkt, size_t len, struct bench_radius_reply *out);

/*
 * Decrypts an MS-MPPE-Send-Key or -Recv-Key value (RFC 2548 2.4.2: salt, then
 * the key length, key and padding encrypted with MD5(secret + Request
 * Authenticator + salt) chained). Writes the key (at most keysize bytes) to
 * key and its length to *keylen. Returns 0, or -1 if the value is malformed
 * (short, salt without its high bit, length beyond the plaintext).
 */
int bench_radius_mppe_decrypt(struct bench_radius_secret *s, const uint8_t *value, size_t len,
                              const uint8_t req_auth[BENCH_RADIUS_AUTH_LEN],
                              uint8_t *key, size_t keysize, size_t *keylen);

#endif

/*
 * RADIUS intake and replies on top of libfreeradius 3.2 (RFC 2865, 2869,
 * 3579, 5997). libfreeradius 3.2.1 predates the BlastRADIUS hardening, so the
 * Message-Authenticator rules (required on requests, first in replies) are
 * enforced here.
 */
#ifndef AUTHD_RADIUS_H
#define AUTHD_RADIUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authd/client.h"

#define RADIUS_MAX_PACKET        4096
#define RADIUS_HEADER_LEN        20
#define RADIUS_AUTHENTICATOR_LEN 16   /* and the value of a Message-Authenticator */

/*
 * Reading a datagram by hand, for what libfreeradius 3.2.1 does not check or
 * decode: every octet may be hostile. The server's intake
 * (radius_request_decode) and the Dynamic Authorization client's answer
 * check (dynauth_answer_check) frame and walk with these, so both refuse the
 * same packets.
 */

/* What is wrong with a datagram's header. */
enum radius_frame {
	RADIUS_FRAME_OK = 0,
	RADIUS_FRAME_SHORT,              /* fewer octets than a header */
	RADIUS_FRAME_BAD_LENGTH,         /* Length field below 20, above RADIUS_MAX_PACKET or beyond
	                                    the datagram */
};

/* Checks the header of the datagram buf[0..len) and sets *plen to its
 * Length field when RADIUS_FRAME_OK. Octets beyond Length are padding (RFC
 * 2865 3) and ignored; fewer are a truncated packet. */
enum radius_frame radius_frame_check(const uint8_t *buf, size_t len, size_t *plen);

/* One attribute met by a walk. value points into the packet. */
struct radius_attr {
	unsigned type;
	const uint8_t *value;
	size_t len;                      /* of the value: 0..253 */
	size_t at;                       /* offset of the attribute (its type octet) in the packet */
};

enum radius_walk_step {
	RADIUS_WALK_ATTRIBUTE,           /* *a is the next attribute */
	RADIUS_WALK_END,                 /* the attributes fill the Length exactly */
	RADIUS_WALK_OVERRUN,             /* the attribute at pos has no room for its type and length
	                                    octets, a length below 2, or ends beyond the Length */
	RADIUS_WALK_BAD_MESSAGE_AUTHENTICATOR, /* at pos: a second one, or not 16 octets of value */
};

/* A walk over the attributes of a packet whose header radius_frame_check
 * passed. Read pos and ma_at; stop is the walk's own. */
struct radius_walk {
	const uint8_t *pkt;
	size_t plen;                     /* the Length field */
	size_t pos;                      /* the next attribute; after a fault, the faulty one */
	size_t ma_at;                    /* offset of the Message-Authenticator met so far, 0 none */
	enum radius_walk_step stop;      /* what every later call returns once the walk ended */
};

void radius_walk_begin(struct radius_walk *w, const uint8_t *pkt, size_t plen);
/* Checks and returns the next attribute. Once it returns anything but
 * RADIUS_WALK_ATTRIBUTE it returns the same on every later call. */
enum radius_walk_step radius_walk_next(struct radius_walk *w, struct radius_attr *a);

/* What checking an authenticator found. */
enum radius_verdict {
	RADIUS_VALID,
	RADIUS_INVALID,
	RADIUS_CRYPTO_FAILED,            /* OpenSSL failed, or the packet cannot hold the attribute */
};

/*
 * MD5(Code+Identifier+Length+authenticator+Attributes+Secret) over
 * pkt[0..plen) with authenticator in place of octets 4..19 (RFC 2865 3, RFC
 * 2866 3, RFC 5176 3.4): the Response Authenticator of a reply when
 * authenticator is its request's, the Request Authenticator of an
 * Accounting-, Disconnect- or CoA-Request when it is 16 zero octets.
 * plen >= RADIUS_HEADER_LEN. 0, or -1 when OpenSSL fails.
 */
int radius_authenticator(const uint8_t *pkt, size_t plen, const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN],
                         const char *secret, uint8_t out[RADIUS_AUTHENTICATOR_LEN]);
/* Whether octets 4..19 of pkt are that authenticator, in constant time. */
enum radius_verdict radius_authenticator_check(const uint8_t *pkt, size_t plen,
                                               const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN],
                                               const char *secret);

/*
 * The value of the Message-Authenticator whose type octet is at ma_at in
 * pkt[0..plen): HMAC-MD5 keyed with secret, with authenticator in octets
 * 4..19 and the attribute's value zeroed (RFC 3579 3.2; RFC 5176 3.4 puts the
 * Request Authenticator there in answers, zeros in requests). 0, or -1 when
 * plen exceeds RADIUS_MAX_PACKET, the attribute does not fit, or OpenSSL fails.
 */
int radius_message_authenticator(const uint8_t *pkt, size_t plen, size_t ma_at,
                                 const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN], const char *secret,
                                 uint8_t out[RADIUS_AUTHENTICATOR_LEN]);
/* Whether the Message-Authenticator at ma_at holds that value, in constant time. */
enum radius_verdict radius_message_authenticator_check(const uint8_t *pkt, size_t plen, size_t ma_at,
                                                       const uint8_t authenticator[RADIUS_AUTHENTICATOR_LEN],
                                                       const char *secret);

/*
 * The largest EAP packet one Access-Challenge carries within
 * RADIUS_MAX_PACKET beside its header (20 bytes), Message-Authenticator (18)
 * and a State of state_len bytes, EAP-Message attributes holding 253 bytes
 * each behind 2 of header: 4008 with a 16-byte State. Beyond it
 * libfreeradius leaves out, silently, whatever no longer fits (the State).
 */
size_t radius_challenge_eap_room(size_t state_len);

/* Why a datagram was dropped without a reply. */
enum radius_drop {
	RADIUS_ACCEPTED = 0,
	RADIUS_DROP_MALFORMED,
	RADIUS_DROP_UNSUPPORTED_CODE,
	RADIUS_DROP_NO_MESSAGE_AUTHENTICATOR,
	RADIUS_DROP_BAD_MESSAGE_AUTHENTICATOR,
	RADIUS_DROP_REFUSED_ATTRIBUTE,    /* an attribute authd never decodes in a request */
	RADIUS_DROP_COUNT
};

/* Short text for the log, e.g. "missing Message-Authenticator". */
const char *radius_drop_text(enum radius_drop drop);

/* RFC 2866 Acct-Status-Type values authd acts on. */
#define ACCT_STATUS_START   1
#define ACCT_STATUS_STOP    2
#define ACCT_STATUS_INTERIM 3
#define ACCT_STATUS_ON      7   /* the NAS (re)started: none of its sessions is live */
#define ACCT_STATUS_OFF     8   /* the NAS is going down: likewise */

/* What authd uses of an Access-Request, Accounting-Request or Status-Server.
 * Pointers refer to memory owned by the request and live until
 * radius_request_free(). Absent strings are "". */
struct radius_request {
	void *packet;                    /* libfreeradius RADIUS_PACKET */
	unsigned code;
	uint8_t id;
	uint8_t authenticator[16];
	const uint8_t *eap;              /* concatenated EAP-Message, NULL if absent */
	size_t eap_len;
	const uint8_t *state;            /* NULL if absent */
	size_t state_len;
	unsigned framed_mtu;             /* 0 if absent */
	const char *user_name;
	const char *calling_station_id;
	const char *called_station_id;
	const char *nas_identifier;
	char nas_ip_address[16];         /* dotted IPv4 */
	char nas_ipv6_address[46];       /* NAS-IPv6-Address (RFC 3162), text form */
	unsigned nas_port;               /* 0 if absent */
	unsigned nas_port_type;          /* 0 if absent */
	const char *ssid;                /* from Called-Station-Id "MAC:SSID", NULL if absent */
	bool message_authenticator;      /* present (and then valid) */
	/* Accounting-Request only */
	unsigned acct_status_type;       /* 0 if absent */
	const char *acct_session_id;
	const uint8_t *authd_class;      /* the Class authd put in its Access-Accept, NULL if absent */
	size_t authd_class_len;
};

/* Which listener a datagram came in on: each takes its own packet codes. */
enum radius_port { RADIUS_PORT_AUTH, RADIUS_PORT_ACCOUNTING };

/* The prefix of the Class attribute authd adds to every Access-Accept, so
 * that accounting names the certificate (RFC 2865 5.25: the NAS echoes it). */
#define RADIUS_AUTHD_CLASS_PREFIX "authd-cert:"

/* Once per process, before threads start: checks the library and loads the
 * dictionaries. Returns 0, or -1 with a message in err. */
int radius_init(char *err, size_t errlen);
/* Whether radius_init() loaded the dictionaries: without them the encoder
 * writes every attribute as unknown octets. */
bool radius_dictionaries_loaded(void);

/*
 * Validates and decodes one datagram from client: framing, code (Access-
 * Request on the authentication port, Accounting-Request on the accounting
 * port, Status-Server on both), the Request Authenticator of accounting,
 * Message-Authenticator presence (on Access-Requests unless the client opted
 * out, and always for Status-Server and EAP) and value. Before any attribute
 * is decoded, a request carrying an encrypted attribute (Tunnel-Password, a
 * vendor key such as MS-MPPE-Send-Key, any WiMAX attribute) is refused
 * (RADIUS_DROP_REFUSED_ATTRIBUTE), and so is a User-Password or CHAP-Password
 * anywhere but in an Access-Request without EAP; in such an Access-Request
 * they are cut out undecoded, so the request reaches dispatch as one that is
 * not EAP (and gets its Access-Reject). A pure function of its inputs, and
 * the RADIUS fuzz target. On RADIUS_ACCEPTED the caller must
 * radius_request_free(req); otherwise detail says what was wrong.
 */
enum radius_drop radius_request_decode(const uint8_t *buf, size_t len, enum radius_port port,
                                       const struct client *client,
                                       struct radius_request *req,
                                       char *detail, size_t detaillen);
void radius_request_free(struct radius_request *req);

/* What authd builds, signs and sends: a reply to a request (radius_reply_new)
 * or a request of its own to a NAS (radius_reply_new_request); replies came
 * first and gave it its name. Opaque. */
struct radius_reply;

/* Starts a reply (Access-Accept/-Reject/-Challenge, Accounting-Response) to
 * req, Message-Authenticator first unless it answers an Accounting-Request
 * (RFC 2866 authenticates those by the Response Authenticator alone). NULL
 * on ENOMEM. */
struct radius_reply *radius_reply_new(struct radius_request *req, unsigned code);
/* Starts a request authd sends on its own (Disconnect-Request, CoA-Request;
 * RFC 5176) with Identifier id, Message-Authenticator first so that a forged
 * prefix cannot precede it (BlastRADIUS). Sign it with
 * radius_reply_encode_request(). NULL on ENOMEM. */
struct radius_reply *radius_reply_new_request(unsigned code, uint8_t id);
/* Attribute helpers; vendor 0 for standard attributes. 0 or -1. Long
 * EAP-Message values are split into 253-byte attributes on encoding. */
int radius_reply_add_octets(struct radius_reply *r, unsigned attr, unsigned vendor,
                            const uint8_t *value, size_t len);
/* tag: 0 for untagged attributes, 1..31 for RFC 2868 tunnel attributes. */
int radius_reply_add_string(struct radius_reply *r, unsigned attr, int tag, const char *value);
/* Also for date attributes (seconds since 1970, e.g. Event-Timestamp). */
int radius_reply_add_integer(struct radius_reply *r, unsigned attr, int tag, uint32_t value);
/* An IPv4 address attribute from its dotted text; -1 also when dotted is not one. */
int radius_reply_add_address(struct radius_reply *r, unsigned attr, const char *dotted);
/*
 * Encodes and signs with the client's secret: Message-Authenticator first,
 * Response Authenticator, MS-MPPE keys encrypted per RFC 2548. *out points
 * into the reply. Frees nothing; call radius_reply_free() after sending.
 */
int radius_reply_encode(struct radius_reply *r, const struct radius_request *req,
                        const struct client *client, const uint8_t **out, size_t *outlen);
/*
 * Encodes and signs a request from radius_reply_new_request() with secret as
 * RFC 5176 3.4 wants: Message-Authenticator computed over a zero Request
 * Authenticator, then the Request Authenticator computed as for
 * Accounting-Request. The result is checked by hand rather than trusted, so
 * that a library signing otherwise fails here and not at every NAS. *out
 * points into r (its octets 4..19 are the Request Authenticator an answer is
 * checked against). 0, or -1 with why (a constant string).
 */
int radius_reply_encode_request(struct radius_reply *r, const char *secret, const uint8_t **out,
                                size_t *outlen, const char **why);
void radius_reply_free(struct radius_reply *r);

#endif

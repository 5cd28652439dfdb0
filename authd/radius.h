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

#define RADIUS_MAX_PACKET 4096

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

struct radius_reply;

/* Starts a reply (Access-Accept/-Reject/-Challenge, Accounting-Response) to
 * req, Message-Authenticator first unless it answers an Accounting-Request
 * (RFC 2866 authenticates those by the Response Authenticator alone). NULL
 * on ENOMEM. */
struct radius_reply *radius_reply_new(struct radius_request *req, unsigned code);
/* Attribute helpers; vendor 0 for standard attributes. 0 or -1. Long
 * EAP-Message values are split into 253-byte attributes on encoding. */
int radius_reply_add_octets(struct radius_reply *r, unsigned attr, unsigned vendor,
                            const uint8_t *value, size_t len);
/* tag: 0 for untagged attributes, 1..31 for RFC 2868 tunnel attributes. */
int radius_reply_add_string(struct radius_reply *r, unsigned attr, int tag, const char *value);
int radius_reply_add_integer(struct radius_reply *r, unsigned attr, int tag, uint32_t value);
/*
 * Encodes and signs with the client's secret: Message-Authenticator first,
 * Response Authenticator, MS-MPPE keys encrypted per RFC 2548. *out points
 * into the reply. Frees nothing; call radius_reply_free() after sending.
 */
int radius_reply_encode(struct radius_reply *r, const struct radius_request *req,
                        const struct client *client, const uint8_t **out, size_t *outlen);
void radius_reply_free(struct radius_reply *r);

#endif

/*
 * EAP (RFC 3748 section 4) and EAP-TLS (RFC 5216 section 3) framing.
 * Pure functions over caller buffers: no allocation, no state. Parsers return
 * views into the input and, on error, a one-line reason in err for the log.
 */
#ifndef AUTHD_EAP_PACKET_H
#define AUTHD_EAP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum eap_code {
	EAP_CODE_REQUEST  = 1,
	EAP_CODE_RESPONSE = 2,
	EAP_CODE_SUCCESS  = 3,
	EAP_CODE_FAILURE  = 4,
};

enum eap_type {
	EAP_TYPE_IDENTITY = 1,
	EAP_TYPE_NAK      = 3,
	EAP_TYPE_TLS      = 13,
};

#define EAP_HEADER_LEN          4   /* code, identifier, length */
#define EAP_TLS_FLAG_LENGTH     0x80
#define EAP_TLS_FLAG_MORE       0x40
#define EAP_TLS_FLAG_START      0x20
/* RFC 5216 reserves the low five bits; EAP-TLS (unlike PEAP/TTLS) has no version bits. */
#define EAP_TLS_FLAGS_RESERVED  0x1f
/* code, identifier, length, type, flags, TLS message length */
#define EAP_TLS_HEADER_MAX      (EAP_HEADER_LEN + 1 + 1 + 4)

/* One EAP packet; type and data are meaningful for Request/Response only. */
struct eap_packet {
	uint8_t code;
	uint8_t id;
	uint8_t type;
	const uint8_t *data;   /* type data, points into the parsed buffer */
	size_t datalen;
};

/*
 * Parses an EAP packet of len bytes. The Length field may be smaller than len
 * (RFC 3748: the rest is padding and ignored) but never larger. Request and
 * Response packets must carry a type. Returns 0, or -1 with err set.
 */
int eap_packet_parse(const uint8_t *buf, size_t len, struct eap_packet *pkt,
                     char *err, size_t errlen);

/* The type data of an EAP-TLS packet. */
struct eap_tls_frame {
	uint8_t flags;
	uint32_t tls_length;   /* total TLS message length, valid if flags has L */
	const uint8_t *data;   /* TLS bytes of this fragment, points into the input */
	size_t datalen;
};

/*
 * Parses EAP-TLS type data (flags, optional length, TLS data). Rejects
 * reserved flag bits and truncated length fields. Limits that span fragments
 * are the reassembly's business. Returns 0, or -1 with err set.
 */
int eap_tls_frame_parse(const uint8_t *data, size_t len, struct eap_tls_frame *frame,
                        char *err, size_t errlen);

/* An acknowledgement: no flags, no data (RFC 5216 section 2.1.5). */
bool eap_tls_frame_is_ack(const struct eap_tls_frame *frame);

/* Writes a 4-byte EAP-Success or EAP-Failure into buf; returns 4. */
size_t eap_packet_build_result(uint8_t buf[EAP_HEADER_LEN], enum eap_code code, uint8_t id);

/* Writes a 5-byte EAP-Request/Identity (no prompt) into buf; returns 5. */
size_t eap_packet_build_identity_request(uint8_t buf[EAP_HEADER_LEN + 1], uint8_t id);

/*
 * Writes the header of an EAP-Request/EAP-TLS that will carry datalen TLS
 * bytes right after it, and returns the header length (6, or 10 with the L
 * flag, which then carries tls_length). The caller places the data at
 * buf + returned length. datalen must fit the 16-bit EAP length.
 */
size_t eap_tls_build_request_header(uint8_t buf[EAP_TLS_HEADER_MAX], uint8_t id, uint8_t flags,
                                    uint32_t tls_length, size_t datalen);

#endif

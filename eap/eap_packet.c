/*
 * EAP and EAP-TLS framing. Every check here is about a peer lying to us:
 * lengths are verified against the bytes actually present before use.
 */
#include "eap/eap_packet.h"

#include <stdio.h>

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int eap_packet_parse(const uint8_t *buf, size_t len, struct eap_packet *pkt,
                     char *err, size_t errlen)
{
	size_t eap_len;

	if (len < EAP_HEADER_LEN) {
		snprintf(err, errlen, "EAP header truncated: %zu bytes", len);
		return -1;
	}
	eap_len = get_be16(buf + 2);
	if (eap_len < EAP_HEADER_LEN) {
		snprintf(err, errlen, "EAP length %zu below header size", eap_len);
		return -1;
	}
	if (eap_len > len) {
		snprintf(err, errlen, "EAP length %zu exceeds %zu bytes received", eap_len, len);
		return -1;
	}
	pkt->code = buf[0];
	pkt->id = buf[1];
	pkt->type = 0;
	pkt->data = NULL;
	pkt->datalen = 0;
	switch (pkt->code) {
	case EAP_CODE_SUCCESS:
	case EAP_CODE_FAILURE:
		return 0;
	case EAP_CODE_REQUEST:
	case EAP_CODE_RESPONSE:
		break;
	default:
		snprintf(err, errlen, "unknown EAP code %u", pkt->code);
		return -1;
	}
	if (eap_len < EAP_HEADER_LEN + 1) {
		snprintf(err, errlen, "EAP %s without a type", pkt->code == EAP_CODE_REQUEST ? "Request" : "Response");
		return -1;
	}
	pkt->type = buf[EAP_HEADER_LEN];
	pkt->data = buf + EAP_HEADER_LEN + 1;
	pkt->datalen = eap_len - EAP_HEADER_LEN - 1;
	return 0;
}

int eap_tls_frame_parse(const uint8_t *data, size_t len, struct eap_tls_frame *frame,
                        char *err, size_t errlen)
{
	size_t off = 1;

	if (len < 1) {
		snprintf(err, errlen, "EAP-TLS flags missing");
		return -1;
	}
	frame->flags = data[0];
	frame->tls_length = 0;
	if (frame->flags & EAP_TLS_FLAGS_RESERVED) {
		snprintf(err, errlen, "unknown EAP-TLS flags 0x%02x", frame->flags & EAP_TLS_FLAGS_RESERVED);
		return -1;
	}
	if (frame->flags & EAP_TLS_FLAG_LENGTH) {
		if (len < off + 4) {
			snprintf(err, errlen, "L flag set but only %zu length bytes", len - off);
			return -1;
		}
		frame->tls_length = get_be32(data + off);
		off += 4;
	}
	frame->data = data + off;
	frame->datalen = len - off;
	return 0;
}

bool eap_tls_frame_is_ack(const struct eap_tls_frame *frame)
{
	return frame->flags == 0 && frame->datalen == 0;
}

size_t eap_packet_build_result(uint8_t buf[EAP_HEADER_LEN], enum eap_code code, uint8_t id)
{
	buf[0] = (uint8_t)code;
	buf[1] = id;
	put_be16(buf + 2, EAP_HEADER_LEN);
	return EAP_HEADER_LEN;
}

size_t eap_packet_build_identity_request(uint8_t buf[EAP_HEADER_LEN + 1], uint8_t id)
{
	buf[0] = EAP_CODE_REQUEST;
	buf[1] = id;
	put_be16(buf + 2, EAP_HEADER_LEN + 1);
	buf[4] = EAP_TYPE_IDENTITY;
	return EAP_HEADER_LEN + 1;
}

size_t eap_tls_build_request_header(uint8_t buf[EAP_TLS_HEADER_MAX], uint8_t id, uint8_t flags,
                                    uint32_t tls_length, size_t datalen)
{
	size_t hdrlen = EAP_HEADER_LEN + 2;

	buf[0] = EAP_CODE_REQUEST;
	buf[1] = id;
	buf[4] = EAP_TYPE_TLS;
	buf[5] = flags;
	if (flags & EAP_TLS_FLAG_LENGTH) {
		put_be32(buf + hdrlen, tls_length);
		hdrlen += 4;
	}
	put_be16(buf + 2, hdrlen + datalen);
	return hdrlen;
}

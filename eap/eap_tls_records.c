/*
 * Bounds on the peer's TLS stream before OpenSSL reads it; see eap_tls_records.h.
 */
#include "eap/eap_tls_records.h"

#include <stdio.h>
#include <string.h>

enum {
	CONTENT_CHANGE_CIPHER_SPEC = 20,
	CONTENT_ALERT              = 21,
	CONTENT_HANDSHAKE          = 22,
	CONTENT_APPLICATION_DATA   = 23,
};

#define RECORD_HEADER_LEN  5
#define MESSAGE_HEADER_LEN 4

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Copies what is missing of a header from the input; returns the bytes taken. */
static size_t take_header(uint8_t *header, uint8_t *have, size_t need,
                          const uint8_t *data, size_t len)
{
	size_t n = min_size(need - *have, len);

	memcpy(header + *have, data, n);
	*have = (uint8_t)(*have + n);
	return n;
}

static int begin_record(struct eap_tls_records *s, char *err, size_t errlen)
{
	const uint8_t *h = s->record_header;
	size_t length = (size_t)h[3] << 8 | h[4];

	if (h[0] < CONTENT_CHANGE_CIPHER_SPEC || h[0] > CONTENT_APPLICATION_DATA) {
		snprintf(err, errlen, "TLS record of content type %u", h[0]);
		return -1;
	}
	if (length > EAP_TLS_RECORD_MAX) {
		snprintf(err, errlen, "TLS record of %zu bytes declared, limit %d", length, EAP_TLS_RECORD_MAX);
		return -1;
	}
	if (h[0] == CONTENT_CHANGE_CIPHER_SPEC)
		s->change_cipher_spec = true;
	s->record_type = h[0];
	s->record_left = length;
	return 0;
}

/* The plaintext handshake bytes of one record: message headers are checked, bodies skipped. */
static int scan_handshake(struct eap_tls_records *s, const uint8_t *data, size_t len,
                          size_t max_message, char *err, size_t errlen)
{
	const uint8_t *h = s->message_header;
	size_t off = 0, declared;

	while (off < len) {
		if (s->message_left > 0) {
			size_t n = min_size(len - off, s->message_left);

			s->message_left -= n;
			off += n;
			continue;
		}
		off += take_header(s->message_header, &s->message_have, MESSAGE_HEADER_LEN,
		                   data + off, len - off);
		if (s->message_have < MESSAGE_HEADER_LEN)
			break;
		declared = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		if (declared > max_message) {
			snprintf(err, errlen, "TLS handshake message (type %u) of %zu bytes declared, limit %zu",
			         h[0], declared, max_message);
			return -1;
		}
		s->message_have = 0;
		s->message_left = declared;
		if (declared > s->largest_message)
			s->largest_message = declared;
	}
	return 0;
}

int eap_tls_records_scan(struct eap_tls_records *s, const uint8_t *data, size_t len,
                         size_t max_message, char *err, size_t errlen)
{
	size_t off = 0, n;

	while (off < len) {
		if (s->record_have < RECORD_HEADER_LEN) {
			off += take_header(s->record_header, &s->record_have, RECORD_HEADER_LEN,
			                   data + off, len - off);
			if (s->record_have < RECORD_HEADER_LEN)
				break;
			if (begin_record(s, err, errlen) < 0)
				return -1;
		} else {
			n = min_size(len - off, s->record_left);
			if (s->record_type == CONTENT_HANDSHAKE && !(s->tls12 && s->change_cipher_spec) &&
			    scan_handshake(s, data + off, n, max_message, err, errlen) < 0)
				return -1;
			off += n;
			s->record_left -= n;
		}
		/* An empty record ends with its header. */
		if (s->record_left == 0)
			s->record_have = 0;
	}
	return 0;
}

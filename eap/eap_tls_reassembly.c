/*
 * Fragment reassembly. The buffer grows with the bytes actually received
 * rather than with the peer's L claim, so a peer announcing a whole flight
 * and then going quiet costs us one fragment of memory, not the flight.
 */
#include "eap/eap_tls_reassembly.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "eap/eap_tls.h"

#define REASSEMBLY_MIN_ALLOC 1024

static int check_declared_length(const struct eap_tls_frame *frame, size_t max_message,
                                 char *err, size_t errlen)
{
	if (frame->tls_length > max_message) {
		snprintf(err, errlen, "L flag length %lu exceeds %zu",
		         (unsigned long)frame->tls_length, max_message);
		return -1;
	}
	if (frame->tls_length == 0) {
		snprintf(err, errlen, "L flag length 0");
		return -1;
	}
	return 0;
}

/* An unfragmented message: checked against its own L field, if any, and passed through. */
static enum eap_tls_reassembly_status single(const struct eap_tls_frame *frame, size_t max_message,
                                             const uint8_t **msg, size_t *msglen,
                                             char *err, size_t errlen)
{
	if (frame->flags & EAP_TLS_FLAG_LENGTH) {
		if (check_declared_length(frame, max_message, err, errlen) < 0)
			return EAP_TLS_REASSEMBLY_ERROR;
		if (frame->tls_length != frame->datalen) {
			snprintf(err, errlen, "L flag length %lu but unfragmented message has %zu bytes",
			         (unsigned long)frame->tls_length, frame->datalen);
			return EAP_TLS_REASSEMBLY_ERROR;
		}
	}
	if (frame->datalen == 0) {
		snprintf(err, errlen, "empty TLS message");
		return EAP_TLS_REASSEMBLY_ERROR;
	}
	*msg = frame->data;
	*msglen = frame->datalen;
	return EAP_TLS_REASSEMBLY_DONE;
}

static int begin(struct eap_tls_reassembly *r, const struct eap_tls_frame *frame,
                 size_t max_message, char *err, size_t errlen)
{
	if (!(frame->flags & EAP_TLS_FLAG_LENGTH)) {
		snprintf(err, errlen, "first fragment with M flag lacks L flag");
		return -1;
	}
	if (check_declared_length(frame, max_message, err, errlen) < 0)
		return -1;
	r->declared = frame->tls_length;
	r->received = 0;
	r->fragments = 0;
	r->active = true;
	return 0;
}

static int reserve(struct eap_tls_reassembly *r, size_t need)
{
	size_t cap = r->cap != 0 ? r->cap : REASSEMBLY_MIN_ALLOC;
	unsigned char *buf;

	if (need <= r->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > r->declared)
		cap = r->declared;
	buf = OPENSSL_clear_realloc(r->buf, r->cap, cap);
	if (buf == NULL)
		return -1;
	r->buf = buf;
	r->cap = cap;
	return 0;
}

static int append(struct eap_tls_reassembly *r, const struct eap_tls_frame *frame,
                  char *err, size_t errlen)
{
	bool more = frame->flags & EAP_TLS_FLAG_MORE;

	if (frame->flags & EAP_TLS_FLAG_LENGTH && frame->tls_length != r->declared) {
		/* RFC 5216 puts L on the first fragment only; tolerate repeats, not changes. */
		snprintf(err, errlen, "L flag length %lu changed from %zu mid-message",
		         (unsigned long)frame->tls_length, r->declared);
		return -1;
	}
	if (++r->fragments > EAP_TLS_MAX_FRAGMENTS) {
		snprintf(err, errlen, "more than %d fragments", EAP_TLS_MAX_FRAGMENTS);
		return -1;
	}
	if (frame->datalen > r->declared - r->received) {
		snprintf(err, errlen, "fragment overflow: %zu bytes beyond declared length %zu",
		         r->received + frame->datalen - r->declared, r->declared);
		return -1;
	}
	if (more && frame->datalen == 0) {
		snprintf(err, errlen, "empty fragment with M flag");
		return -1;
	}
	if (reserve(r, r->received + frame->datalen) < 0) {
		snprintf(err, errlen, "out of memory reassembling %zu bytes", r->declared);
		return -1;
	}
	memcpy(r->buf + r->received, frame->data, frame->datalen);
	r->received += frame->datalen;
	if (more && r->received == r->declared) {
		snprintf(err, errlen, "M flag set after all %zu declared bytes arrived", r->declared);
		return -1;
	}
	if (!more && r->received != r->declared) {
		snprintf(err, errlen, "message ended after %zu of %zu declared bytes",
		         r->received, r->declared);
		return -1;
	}
	return 0;
}

enum eap_tls_reassembly_status eap_tls_reassembly_add(struct eap_tls_reassembly *r,
                                                      const struct eap_tls_frame *frame,
                                                      size_t max_message,
                                                      const uint8_t **msg, size_t *msglen,
                                                      char *err, size_t errlen)
{
	bool more = frame->flags & EAP_TLS_FLAG_MORE;

	if (!r->active && !more)
		return single(frame, max_message, msg, msglen, err, errlen);
	if (!r->active && begin(r, frame, max_message, err, errlen) < 0)
		goto fail;
	if (append(r, frame, err, errlen) < 0)
		goto fail;
	if (more)
		return EAP_TLS_REASSEMBLY_MORE;
	r->active = false;
	*msg = r->buf;
	*msglen = r->received;
	return EAP_TLS_REASSEMBLY_DONE;
fail:
	eap_tls_reassembly_reset(r);
	return EAP_TLS_REASSEMBLY_ERROR;
}

void eap_tls_reassembly_reset(struct eap_tls_reassembly *r)
{
	OPENSSL_clear_free(r->buf, r->cap);
	memset(r, 0, sizeof(*r));
}

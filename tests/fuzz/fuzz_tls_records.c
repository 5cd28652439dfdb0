/*
 * libFuzzer target for the bound on the peer's TLS stream (eap/eap_tls_records.h):
 * eap_tls_records_scan() on any bytes. The first byte chooses the limit, whether
 * TLS 1.2 was agreed, and the size of the pieces the stream arrives in. How the
 * stream is cut must not change the verdict: the same bytes are scanned whole
 * and in pieces, and the two must agree, on failure with the same reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eap/eap_tls.h"
#include "eap/eap_tls_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = {
		EAP_TLS_MIN_MAX_HANDSHAKE, EAP_TLS_DEFAULT_MAX_HANDSHAKE, EAP_TLS_MAX_MAX_HANDSHAKE, 0,
	};
	struct eap_tls_records whole = { 0 }, pieces = { 0 };
	char err_whole[256] = "", err_pieces[256] = "";
	size_t limit, piece;
	int rc_whole, rc_pieces = 0;

	if (size < 1)
		return 0;
	limit = limits[data[0] & 3];
	whole.tls12 = pieces.tls12 = data[0] & 4;
	piece = (size_t)(data[0] >> 3) + 1;   /* 1..32 bytes at a time */
	data++;
	size--;
	rc_whole = eap_tls_records_scan(&whole, data, size, limit, err_whole, sizeof(err_whole));
	for (size_t off = 0; off < size && rc_pieces == 0; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		rc_pieces = eap_tls_records_scan(&pieces, data + off, n, limit, err_pieces, sizeof(err_pieces));
	}
	if (rc_whole != rc_pieces || strcmp(err_whole, err_pieces) != 0)
		abort();
	if (rc_whole == 0 && (whole.record_left > EAP_TLS_RECORD_MAX || whole.message_left > limit ||
	                      whole.record_have != pieces.record_have ||
	                      whole.record_left != pieces.record_left ||
	                      whole.message_have != pieces.message_have ||
	                      whole.message_left != pieces.message_left ||
	                      whole.change_cipher_spec != pieces.change_cipher_spec))
		abort();
	return 0;
}

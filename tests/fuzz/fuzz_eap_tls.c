/*
 * libFuzzer target for the EAP-TLS authenticator: an input is a sequence of
 * EAP packets from the peer, fed to one conversation. Most of the interest is
 * in framing and fragment reassembly, so by default each packet gets the
 * Identifier the server expects (else nearly everything would be discarded).
 *
 * Input: byte 0 selects options (bit 0: keep Identifiers as given; bit 1: begin
 * with EAP-Start; bits 2-3: fragment size 64/300/1014/16384; bit 4: refuse a
 * verified peer instead of allowing it); then packets,
 * each a 2-byte big-endian length followed by that many bytes.
 *
 * Needs AUTHD_TEST_PKI_DIR (made by tests/pki/make-pki.sh) for the server's
 * certificate and key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "eap/eap_tls.h"

static struct eap_tls_context *server_context(void)
{
	const char *dir = getenv("AUTHD_TEST_PKI_DIR");
	char cert[4096], key[4096], ca[4096], err[256];
	struct eap_tls_settings settings = {
		.certificate = cert, .private_key = key, .ca = ca,
		.min_version = TLS1_2_VERSION, .max_version = TLS1_3_VERSION, .require_client_eku = true,
	};
	struct eap_tls_context *ctx;

	if (dir == NULL) {
		fprintf(stderr, "fuzz_eap_tls: set AUTHD_TEST_PKI_DIR (see tests/pki/make-pki.sh)\n");
		abort();
	}
	snprintf(cert, sizeof(cert), "%s/server.pem", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca-bundle.pem", dir);
	ctx = eap_tls_context_new(&settings, err, sizeof(err));
	if (ctx == NULL) {
		fprintf(stderr, "fuzz_eap_tls: %s\n", err);
		abort();
	}
	return ctx;
}

/* What the caller (authd) would read after the conversation; must be safe in any state. */
static void inspect(const struct eap_conversation *conv)
{
	uint8_t msk[EAP_MSK_LEN], emsk[EAP_EMSK_LEN];
	volatile size_t sink;

	sink = strlen(eap_conversation_detail(conv)) + strlen(eap_conversation_identity(conv)) +
	       strlen(eap_reason_code(eap_conversation_reason(conv)));
	(void)sink;
	(void)eap_conversation_keys(conv, msk, emsk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t fragment_sizes[] = { 64, 300, 1014, 16384 };
	/* Created once: it is immutable and loading the PEM files is slow. */
	static struct eap_tls_context *ctx;
	struct eap_conversation *conv;
	const uint8_t *out = NULL;
	size_t outlen = 0, off = 1;
	uint8_t packet[65536], options;
	int expected_id = -1;

	if (ctx == NULL)
		ctx = server_context();
	if (size < 1)
		return 0;
	options = data[0];
	conv = eap_conversation_new(ctx, fragment_sizes[(options >> 2) & 3]);
	if (conv == NULL)
		return 0;
	if (options & 2 && eap_conversation_step(conv, NULL, 0, &out, &outlen) == EAP_STEP_SEND)
		expected_id = out[1];
	while (size - off >= 2) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		enum eap_step step;

		off += 2;
		if (len > size - off)
			len = size - off;
		memcpy(packet, data + off, len);
		off += len;
		if (!(options & 1) && len >= 2 && expected_id >= 0)
			packet[1] = (uint8_t)expected_id;
		step = eap_conversation_step(conv, packet, len, &out, &outlen);
		if (step == EAP_STEP_VERIFIED)
			step = options & 0x10 ? eap_conversation_refuse(conv, &out, &outlen)
			                   : eap_conversation_allow(conv, &out, &outlen);
		if (step == EAP_STEP_SEND)
			expected_id = out[1];
		if (step != EAP_STEP_DISCARD && (out == NULL || outlen < 4))
			abort();   /* every answer is a packet */
	}
	inspect(conv);
	eap_conversation_free(conv);
	return 0;
}

/*
 * A hostile peer against the EAP-TLS authenticator, in the spirit of hostapd's
 * tests/hwsim/test_eap_proto.py: lying lengths, bad fragments, unknown flags,
 * truncation, stale Identifiers, endless conversations. Every case must end in
 * a clean EAP-Failure (reason eap_malformed with a specific detail) or a
 * silent discard, never in a crash or a stuck conversation. Oversized TLS
 * handshake claims are refused before OpenSSL allocates what they claim.
 * Usage: test_eap_tls_hostile PKI_DIR
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "eap/eap_tls.h"
#include "eap_test_peer.h"

#define L 0x80
#define M 0x40
#define S 0x20

/* What a peer may send in one reassembled message with the default settings. */
#define FLIGHT_LIMIT (EAP_TLS_DEFAULT_MAX_HANDSHAKE + EAP_TLS_FLIGHT_ALLOWANCE)

static char pki_dir[400];

/*
 * The largest single allocation OpenSSL (and eap/, which allocates through it)
 * asked for: what a handshake claim made it reserve.
 */
static size_t largest_allocation;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (n > largest_allocation)
		largest_allocation = n;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (n > largest_allocation)
		largest_allocation = n;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/*
 * The TLS bytes of the filler responses: one record of 16 KiB holding the
 * header of a ClientHello under the limit, then its body. The framing tests
 * send it so that only the framing is wrong, not the TLS inside.
 */
static const uint8_t benign_stream[] = { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc };

struct fixture {
	struct eap_tls_context *ctx;
	struct eap_conversation *conv;
	uint8_t id;               /* Identifier of the server's last request */
	const uint8_t *out;
	size_t outlen;
	const uint8_t *stream;    /* TLS bytes of filler responses, zeros after its end */
	size_t stream_len;
	size_t stream_sent;       /* of which already sent in this conversation */
	uint8_t pkt[70000];
};

/* A fresh conversation whose filler responses start the stream again. */
static void restart(struct fixture *f, size_t fragment_size)
{
	eap_conversation_free(f->conv);
	f->conv = eap_conversation_new(f->ctx, fragment_size);
	assert_non_null(f->conv);
	f->stream = benign_stream;
	f->stream_len = sizeof(benign_stream);
	f->stream_sent = 0;
}

static int setup(void **state)
{
	char cert[512], key[512], ca[512], err[256];
	struct eap_tls_settings settings = {
		.certificate = cert, .private_key = key, .ca = ca,
		.min_version = TLS1_2_VERSION, .max_version = TLS1_3_VERSION, .require_client_eku = true,
	};
	static struct fixture f;

	snprintf(cert, sizeof(cert), "%s/server.pem", pki_dir);
	snprintf(key, sizeof(key), "%s/server.key", pki_dir);
	snprintf(ca, sizeof(ca), "%s/ca-bundle.pem", pki_dir);
	memset(&f, 0, sizeof(f));
	f.ctx = eap_tls_context_new(&settings, err, sizeof(err));
	if (f.ctx == NULL)
		fail_msg("eap_tls_context_new: %s", err);
	restart(&f, 300);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	eap_conversation_free(f->conv);
	eap_tls_context_free(f->ctx);
	return 0;
}

static enum eap_step feed(struct fixture *f, const uint8_t *pkt, size_t len)
{
	enum eap_step step = eap_conversation_step(f->conv, pkt, len, &f->out, &f->outlen);

	/* The verified peer is allowed: these tests are about what comes after. */
	if (step == EAP_STEP_VERIFIED)
		step = eap_conversation_allow(f->conv, &f->out, &f->outlen);
	if (step == EAP_STEP_SEND)
		f->id = f->out[1];
	return step;
}

/* An EAP-TLS response with the given flags, L value and data; returns its length. */
static size_t tls_response(struct fixture *f, uint8_t id, uint8_t flags, uint32_t tls_length,
                           const uint8_t *data, size_t datalen)
{
	size_t off = 6;

	f->pkt[0] = 2;
	f->pkt[1] = id;
	f->pkt[4] = 13;
	f->pkt[5] = flags;
	if (flags & L) {
		f->pkt[6] = (uint8_t)(tls_length >> 24);
		f->pkt[7] = (uint8_t)(tls_length >> 16);
		f->pkt[8] = (uint8_t)(tls_length >> 8);
		f->pkt[9] = (uint8_t)tls_length;
		off = 10;
	}
	if (data != NULL) {
		memcpy(f->pkt + off, data, datalen);
	} else {
		for (size_t i = 0; i < datalen; i++, f->stream_sent++)
			f->pkt[off + i] = f->stream_sent < f->stream_len ? f->stream[f->stream_sent] : 0;
	}
	f->pkt[2] = (uint8_t)((off + datalen) >> 8);
	f->pkt[3] = (uint8_t)(off + datalen);
	return off + datalen;
}

static enum eap_step send_tls(struct fixture *f, uint8_t flags, uint32_t tls_length, size_t datalen)
{
	return feed(f, f->pkt, tls_response(f, f->id, flags, tls_length, NULL, datalen));
}

/* EAP-Response/Identity from the NAS, answered by EAP-TLS Start. */
static void start_tls(struct fixture *f)
{
	static const uint8_t identity[] = { 2, 42, 0, 9, 1, 'e', 'v', 'i', 'l' };

	assert_int_equal(feed(f, identity, sizeof(identity)), EAP_STEP_SEND);
	assert_int_equal(f->outlen, 6);
	assert_int_equal(f->out[5], S);
}

static void assert_ack_request(const struct fixture *f)
{
	assert_int_equal(f->outlen, 6);
	assert_memory_equal(f->out, ((uint8_t[]){ 1, f->id, 0, 6, 13, 0 }), 6);
}

static void assert_malformed(struct fixture *f, enum eap_step step, const char *detail)
{
	assert_int_equal(step, EAP_STEP_FAILURE);
	assert_int_equal(f->outlen, 4);
	assert_int_equal(f->out[0], 4);
	assert_int_equal(eap_conversation_reason(f->conv), EAP_REASON_EAP_MALFORMED);
	if (strstr(eap_conversation_detail(f->conv), detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", eap_conversation_detail(f->conv), detail);
}

static void test_l_length_above_limit(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, send_tls(f, L | M, FLIGHT_LIMIT + 1, 100), "L flag length 20481 exceeds 20480");
}

static void test_l_length_at_limit_accepted(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(send_tls(f, L | M, FLIGHT_LIMIT, 100), EAP_STEP_SEND);
	assert_ack_request(f);
}

static void test_l_length_smaller_than_data(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, send_tls(f, L, 10, 20), "L flag length 10 but unfragmented message has 20 bytes");
}

static void test_first_fragment_overflows_l(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, send_tls(f, L | M, 10, 20), "fragment overflow");
}

static void test_fragment_overflow(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(send_tls(f, L | M, 100, 60), EAP_STEP_SEND);
	assert_ack_request(f);
	assert_malformed(f, send_tls(f, 0, 0, 60), "fragment overflow: 20 bytes beyond declared length 100");
}

static void test_message_shorter_than_l(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(send_tls(f, L | M, 100, 60), EAP_STEP_SEND);
	assert_malformed(f, send_tls(f, 0, 0, 20), "message ended after 80 of 100 declared bytes");
}

static void test_l_changes_mid_message(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(send_tls(f, L | M, 100, 60), EAP_STEP_SEND);
	assert_malformed(f, send_tls(f, L, 200, 40), "changed");
}

static void test_too_many_fragments(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	for (int i = 0; i < EAP_TLS_MAX_FRAGMENTS; i++) {
		assert_int_equal(send_tls(f, i == 0 ? L | M : M, FLIGHT_LIMIT, 1), EAP_STEP_SEND);
		assert_ack_request(f);
	}
	assert_malformed(f, send_tls(f, M, 0, 1), "more than 256 fragments");
}

static void test_first_fragment_without_l(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, send_tls(f, M, 0, 100), "first fragment with M flag lacks L flag");
}

static void test_empty_fragment_with_m(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(send_tls(f, L | M, 100, 60), EAP_STEP_SEND);
	assert_malformed(f, send_tls(f, M, 0, 0), "empty fragment with M flag");
}

static void test_unknown_flags(void **state)
{
	struct fixture *f = *state;

	for (uint8_t bit = 0x01; bit <= 0x10; bit <<= 1) {
		char detail[64];

		restart(f, 300);
		start_tls(f);
		snprintf(detail, sizeof(detail), "unknown EAP-TLS flags 0x%02x", bit);
		assert_malformed(f, send_tls(f, bit, 0, 10), detail);
	}
}

static void test_start_flag_from_peer(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, send_tls(f, S, 0, 0), "S flag in a response");
}

/* A first fragment with the L flag, cut at every length below its header. */
static void test_truncated_headers(void **state)
{
	struct fixture *f = *state;
	uint8_t full[16];
	size_t fulllen;

	for (size_t n = 0; n <= 9; n++) {
		restart(f, 300);
		start_tls(f);
		fulllen = tls_response(f, f->id, L | M, 100, NULL, 4);
		memcpy(full, f->pkt, fulllen);
		/* As cut off in transit: the Length field claims more than arrived. */
		assert_int_equal(feed(f, full, n), EAP_STEP_FAILURE);
		assert_int_equal(eap_conversation_reason(f->conv), EAP_REASON_EAP_MALFORMED);
	}
	for (size_t n = 4; n <= 9; n++) {
		static const char *const details[] = {
			"EAP Response without a type", "EAP-TLS flags missing", "L flag set but only 0 length bytes",
			"L flag set but only 1 length bytes", "L flag set but only 2 length bytes",
			"L flag set but only 3 length bytes",
		};

		restart(f, 300);
		start_tls(f);
		tls_response(f, f->id, L | M, 100, NULL, 4);
		/* Consistent but too short: the Length field agrees with the cut. */
		f->pkt[2] = 0;
		f->pkt[3] = (uint8_t)n;
		assert_malformed(f, feed(f, f->pkt, n), details[n - 4]);
	}
}

static void test_eap_length_larger_than_buffer(void **state)
{
	struct fixture *f = *state;
	size_t n;

	start_tls(f);
	n = tls_response(f, f->id, 0, 0, NULL, 10);
	f->pkt[3] += 1;
	assert_malformed(f, feed(f, f->pkt, n), "EAP length 17 exceeds 16 bytes received");
}

static void test_eap_length_below_header(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, feed(f, (uint8_t[]){ 2, f->id, 0, 3, 13, 0 }, 6), "EAP length 3 below header size");
}

/* Bytes past the Length field are padding (RFC 3748 section 4.1) and must not reach TLS. */
static void test_eap_length_smaller_than_buffer(void **state)
{
	/* A 100-byte record of a version TLS refuses at once. */
	static const uint8_t bad_version[] = { 0x16, 0x16, 0x16, 0x00, 0x5f, 0x01, 0x00, 0x00, 0x5b };
	struct fixture *f = *state;
	enum eap_step step;
	size_t n;

	f->stream = bad_version;
	f->stream_len = sizeof(bad_version);
	start_tls(f);
	n = tls_response(f, f->id, L | M, 100, NULL, 60);
	f->pkt[3] -= 10;   /* the last 10 data bytes become padding */
	f->stream_sent -= 10;
	assert_int_equal(feed(f, f->pkt, n), EAP_STEP_SEND);
	assert_ack_request(f);
	/* 50 counted so far: 60 more would overflow, 50 completes the message... */
	step = send_tls(f, 0, 0, 50);
	if (step == EAP_STEP_SEND)   /* an alert, if OpenSSL had one to say */
		step = send_tls(f, 0, 0, 0);
	/* ...which reaches TLS, and TLS rejects it as the garbage it is. */
	assert_int_equal(step, EAP_STEP_FAILURE);
	assert_int_equal(eap_conversation_reason(f->conv), EAP_REASON_TLS_FAILED);
}

static void test_unexpected_ack(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, send_tls(f, 0, 0, 0), "ACK while a TLS message was expected");
}

static void test_wrong_identifier_discarded(void **state)
{
	struct fixture *f = *state;
	uint8_t stale;

	start_tls(f);
	stale = (uint8_t)(f->id - 1);
	assert_int_equal(feed(f, f->pkt, tls_response(f, stale, L | M, 70000, NULL, 10)), EAP_STEP_DISCARD);
	assert_null(f->out);
	assert_int_equal(f->outlen, 0);
	f->stream_sent = 0;   /* those bytes never reached the conversation */
	/* The conversation is untouched: the right Identifier still gets its answer. */
	assert_int_equal(send_tls(f, L | M, 100, 60), EAP_STEP_SEND);
	assert_ack_request(f);
	assert_int_equal(eap_conversation_round_trips(f->conv), 2);
}

static void test_nak(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(feed(f, (uint8_t[]){ 2, f->id, 0, 8, 3, 25, 21, 99 }, 8), EAP_STEP_FAILURE);
	assert_int_equal(f->out[0], 4);
	assert_int_equal(eap_conversation_reason(f->conv), EAP_REASON_EAP_NAK);
	assert_string_equal(eap_conversation_detail(f->conv), "peer refused EAP-TLS; proposed: 25 (PEAP) 21 (TTLS) 99");
}

static void test_nak_without_alternative(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(feed(f, (uint8_t[]){ 2, f->id, 0, 6, 3, 0 }, 6), EAP_STEP_FAILURE);
	assert_int_equal(eap_conversation_reason(f->conv), EAP_REASON_EAP_NAK);
	assert_non_null(strstr(eap_conversation_detail(f->conv), "proposed: none"));
}

static void test_wrong_type_and_code(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, feed(f, (uint8_t[]){ 2, f->id, 0, 6, 25, 0 }, 6), "expected EAP-TLS, got type 25");
	restart(f, 300);
	start_tls(f);
	assert_malformed(f, feed(f, (uint8_t[]){ 1, f->id, 0, 6, 13, 0 }, 6), "unexpected EAP code 1");
	restart(f, 300);
	assert_malformed(f, feed(f, (uint8_t[]){ 2, 1, 0, 6, 13, 0 }, 6), "expected EAP-Response/Identity");
}

static void test_start_mid_conversation(void **state)
{
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, feed(f, NULL, 0), "EAP-Start in the middle");
}

/*
 * A TLS record header announcing 16 KiB, then one byte per EAP message: TLS
 * keeps asking for more, and the round-trip limit ends it.
 */
static void test_round_trip_limit(void **state)
{
	struct fixture *f = *state;
	enum eap_step step;

	start_tls(f);
	step = send_tls(f, 0, 0, 5);
	while (step == EAP_STEP_SEND) {
		assert_ack_request(f);
		step = send_tls(f, 0, 0, 1);
	}
	assert_malformed(f, step, "more than 512 round trips");
	assert_int_equal(eap_conversation_round_trips(f->conv), EAP_TLS_MAX_ROUND_TRIPS);
}

/*
 * One 9-byte record: a ClientHello header declaring 131,396 bytes (OpenSSL's
 * own limit), which OpenSSL would reserve at once. Refused before it sees it.
 */
static void test_handshake_claim_above_limit(void **state)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x02, 0x01, 0x44 };
	struct fixture *f = *state;
	size_t n;

	start_tls(f);
	n = tls_response(f, f->id, 0, 0, hello, sizeof(hello));
	largest_allocation = 0;
	assert_malformed(f, feed(f, f->pkt, n),
	                 "TLS handshake message (type 1) of 131396 bytes declared, limit 16384");
	if (largest_allocation >= 16384)
		fail_msg("an allocation of %zu bytes for the refused claim", largest_allocation);
}

/* The same claim, one byte over the limit, its header cut across records and fragments. */
static void test_handshake_claim_across_records(void **state)
{
	static const uint8_t stream[] = {
		0x16, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00,   /* record 1: type, first length byte */
		0x16, 0x03, 0x03, 0x00, 0x02, 0x40, 0x01,   /* record 2: the other two: 0x004001 */
	};
	struct fixture *f = *state;

	f->stream = stream;
	f->stream_len = sizeof(stream);
	start_tls(f);
	assert_int_equal(send_tls(f, L | M, sizeof(stream), 6), EAP_STEP_SEND);
	assert_ack_request(f);
	assert_int_equal(send_tls(f, M, 0, 7), EAP_STEP_SEND);
	assert_ack_request(f);
	assert_malformed(f, send_tls(f, 0, 0, 1),
	                 "TLS handshake message (type 1) of 16385 bytes declared, limit 16384");
}

/* A claim at the limit goes on: TLS waits for the rest of it. */
static void test_handshake_claim_at_limit(void **state)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x40, 0x00 };
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(feed(f, f->pkt, tls_response(f, f->id, 0, 0, hello, sizeof(hello))),
	                 EAP_STEP_SEND);
	assert_ack_request(f);
	assert_int_equal(eap_conversation_reason(f->conv), EAP_REASON_OK);
}

/* What a peer makes a conversation buffer is counted (authd's byte quotas):
 * the fragments held for reassembly... */
static void test_buffered_counts_reassembly(void **state)
{
	struct fixture *f = *state;
	size_t before;

	start_tls(f);
	before = eap_conversation_buffered(f->conv);
	for (int i = 0; i < 10; i++)
		assert_int_equal(send_tls(f, i == 0 ? L | M : M, FLIGHT_LIMIT, 1000), EAP_STEP_SEND);
	/* The filler stream declares a 16,380-byte ClientHello, counted too. */
	assert_in_range(eap_conversation_buffered(f->conv), before + 10000 + 0x3ffc,
	                before + FLIGHT_LIMIT + 0x3ffc + 4096);
}

/* ...and the handshake message it declared, which OpenSSL makes room for. */
static void test_buffered_counts_declared_message(void **state)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x30, 0x00 };
	struct fixture *f = *state;

	start_tls(f);
	assert_int_equal(feed(f, f->pkt, tls_response(f, f->id, 0, 0, hello, sizeof(hello))),
	                 EAP_STEP_SEND);
	assert_in_range(eap_conversation_buffered(f->conv), 0x3000, 0x3000 + 4096);
}

/* Records TLS does not have: an unknown content type (here an SSLv2-format hello), an overlong record. */
static void test_records_not_tls(void **state)
{
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x03 };
	static const uint8_t overlong[] = { 0x17, 0x03, 0x03, 0x48, 0x01 };
	struct fixture *f = *state;

	start_tls(f);
	assert_malformed(f, feed(f, f->pkt, tls_response(f, f->id, 0, 0, sslv2, sizeof(sslv2))),
	                 "TLS record of content type 128");
	restart(f, 300);
	start_tls(f);
	assert_malformed(f, feed(f, f->pkt, tls_response(f, f->id, 0, 0, overlong, sizeof(overlong))),
	                 "TLS record of 18433 bytes declared, limit 18432");
}

static struct eap_test_peer *laptop(size_t fragment, int version)
{
	char cert[512], key[512];
	struct eap_test_peer_options opt = {
		.cert = cert, .key = key, .fragment_size = fragment, .security_level = -1,
		.min_version = version, .max_version = version,
	};

	snprintf(cert, sizeof(cert), "%s/laptop.pem", pki_dir);
	snprintf(key, sizeof(key), "%s/laptop.key", pki_dir);
	return eap_test_peer_new(&opt);
}

/* Real handshakes stay well inside the bounds. */
static void test_real_handshakes(void **state)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct eap_test_peer *peer = laptop(1014, versions[i]);
		const uint8_t *last;
		size_t lastlen;

		assert_non_null(peer);
		restart(f, 1014);
		assert_int_equal(eap_test_run(f->conv, peer, &last, &lastlen), EAP_STEP_SUCCESS);
		assert_string_equal(eap_conversation_tls_version(f->conv),
		                    versions[i] == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3");
		eap_test_peer_free(peer);
	}
}

/*
 * A device sending more certificates than eap.max_handshake_message allows:
 * refused by the record scan under TLS 1.2 (the Certificate is plaintext) and
 * by OpenSSL's max_cert_list under TLS 1.3 (it is encrypted).
 */
static void test_certificate_over_limit(void **state)
{
	char dir[] = "/tmp/hostile-XXXXXX", chain[600], key[512], cert[512], ca[512], err[256];
	struct eap_tls_settings settings = {
		.certificate = cert, .private_key = key, .ca = ca,
		.min_version = TLS1_2_VERSION, .max_version = TLS1_3_VERSION, .require_client_eku = true,
		.max_handshake_message = EAP_TLS_MIN_MAX_HANDSHAKE,
	};
	struct fixture *f = *state;
	struct eap_tls_context *small;
	char command[2048];

	assert_non_null(mkdtemp(dir));
	snprintf(chain, sizeof(chain), "%s/chain.pem", dir);
	/* The laptop's chain, then the CA bundle four times: about 5 KB of DER, over
	 * the limit on one message, and the flight still under the reassembly limit. */
	snprintf(command, sizeof(command), "cd %s && cat laptop-chain.pem ca-bundle.pem ca-bundle.pem "
	         "ca-bundle.pem ca-bundle.pem >%s",
	         pki_dir, chain);
	assert_int_equal(system(command), 0);
	snprintf(cert, sizeof(cert), "%s/server.pem", pki_dir);
	snprintf(key, sizeof(key), "%s/server.key", pki_dir);
	snprintf(ca, sizeof(ca), "%s/ca-bundle.pem", pki_dir);
	small = eap_tls_context_new(&settings, err, sizeof(err));
	if (small == NULL)
		fail_msg("eap_tls_context_new: %s", err);
	for (int version = TLS1_2_VERSION; version <= TLS1_3_VERSION; version++) {
		struct eap_test_peer_options opt = {
			.cert = chain, .key = key, .fragment_size = 1014, .security_level = -1,
			.min_version = version, .max_version = version,
		};
		struct eap_conversation *conv = eap_conversation_new(small, 1014);
		struct eap_test_peer *peer;
		const uint8_t *last;
		size_t lastlen;

		snprintf(key, sizeof(key), "%s/laptop.key", pki_dir);
		peer = eap_test_peer_new(&opt);
		assert_non_null(peer);
		assert_int_equal(eap_test_run(conv, peer, &last, &lastlen), EAP_STEP_FAILURE);
		if (version == TLS1_2_VERSION) {
			assert_int_equal(eap_conversation_reason(conv), EAP_REASON_EAP_MALFORMED);
			assert_non_null(strstr(eap_conversation_detail(conv), "TLS handshake message (type 11) of "));
			assert_non_null(strstr(eap_conversation_detail(conv), "bytes declared, limit 4096"));
		} else {
			assert_int_equal(eap_conversation_reason(conv), EAP_REASON_TLS_FAILED);
			assert_non_null(strstr(eap_conversation_detail(conv), "excessive message size"));
		}
		eap_test_peer_free(peer);
		eap_conversation_free(conv);
		snprintf(key, sizeof(key), "%s/server.key", pki_dir);
	}
	eap_tls_context_free(small);
	unlink(chain);
	rmdir(dir);
	(void)f;
}

/* A real peer that misbehaves at one chosen moment. */
static void test_data_while_server_sends_fragments(void **state)
{
	struct fixture *f = *state;
	struct eap_test_peer *peer = laptop(300, 0);
	const uint8_t *resp;
	size_t resplen;

	restart(f, 64);
	assert_int_equal(feed(f, NULL, 0), EAP_STEP_SEND);
	assert_int_equal(eap_test_peer_respond(peer, f->out, f->outlen, &resp, &resplen), 0);
	assert_int_equal(feed(f, resp, resplen), EAP_STEP_SEND);           /* TLS Start */
	assert_int_equal(eap_test_peer_respond(peer, f->out, f->outlen, &resp, &resplen), 0);
	assert_int_equal(feed(f, resp, resplen), EAP_STEP_SEND);           /* ClientHello in */
	assert_int_equal(f->out[5], L | M);                                /* first of many fragments */
	assert_malformed(f, send_tls(f, 0, 0, 10), "peer sent data while we were sending fragments");
	eap_test_peer_free(peer);
}

/* TLS 1.2: the peer holds the server's Finished, then sends data instead of the final ACK. */
static void test_fragment_after_handshake(void **state)
{
	struct fixture *f = *state;
	struct eap_test_peer *peer = laptop(300, TLS1_2_VERSION);
	const uint8_t *resp;
	size_t resplen;
	enum eap_step step;

	step = feed(f, NULL, 0);
	while (step == EAP_STEP_SEND) {
		assert_int_equal(eap_test_peer_respond(peer, f->out, f->outlen, &resp, &resplen), 0);
		if (eap_test_peer_handshake_done(peer))
			break;
		step = feed(f, resp, resplen);
	}
	assert_true(eap_test_peer_handshake_done(peer));
	assert_malformed(f, send_tls(f, 0, 0, 20), "fragment after the handshake completed");
	eap_test_peer_free(peer);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_l_length_above_limit),
		T(test_l_length_at_limit_accepted),
		T(test_l_length_smaller_than_data),
		T(test_first_fragment_overflows_l),
		T(test_fragment_overflow),
		T(test_message_shorter_than_l),
		T(test_l_changes_mid_message),
		T(test_too_many_fragments),
		T(test_first_fragment_without_l),
		T(test_empty_fragment_with_m),
		T(test_unknown_flags),
		T(test_start_flag_from_peer),
		T(test_truncated_headers),
		T(test_eap_length_larger_than_buffer),
		T(test_eap_length_below_header),
		T(test_eap_length_smaller_than_buffer),
		T(test_unexpected_ack),
		T(test_wrong_identifier_discarded),
		T(test_nak),
		T(test_nak_without_alternative),
		T(test_wrong_type_and_code),
		T(test_start_mid_conversation),
		T(test_round_trip_limit),
		T(test_handshake_claim_above_limit),
		T(test_handshake_claim_across_records),
		T(test_handshake_claim_at_limit),
		T(test_buffered_counts_reassembly),
		T(test_buffered_counts_declared_message),
		T(test_records_not_tls),
		T(test_real_handshakes),
		T(test_certificate_over_limit),
		T(test_data_while_server_sends_fragments),
		T(test_fragment_after_handshake),
	};
#undef T

	if (argc != 2) {
		fprintf(stderr, "usage: %s PKI_DIR\n", argv[0]);
		return 2;
	}
	snprintf(pki_dir, sizeof(pki_dir), "%s", argv[1]);
	/* Before OpenSSL allocates anything. */
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free)) {
		fprintf(stderr, "cannot count OpenSSL's allocations\n");
		return 2;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

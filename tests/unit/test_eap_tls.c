/*
 * EAP-TLS conversations against an in-process supplicant: full handshakes
 * (TLS 1.2, TLS 1.3, several fragment sizes), certificate rejections, and
 * context loading errors. Usage: test_eap_tls PKI_DIR
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "eap/eap_tls.h"
#include "eap_test_peer.h"

static const char *pki_dir;

static const char *pki(const char *name)
{
	static char paths[8][512];
	static unsigned next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", pki_dir, name);
	return p;
}

struct server_setup {
	const char *ca;
	int min_version, max_version;
	bool require_client_eku;
};

static struct eap_tls_context *server_context(const struct server_setup *s)
{
	struct eap_tls_settings settings = {
		.certificate = pki("server.pem"),
		.private_key = pki("server.key"),
		.ca = pki(s->ca != NULL ? s->ca : "ca-bundle.pem"),
		.min_version = s->min_version != 0 ? s->min_version : TLS1_2_VERSION,
		.max_version = s->max_version != 0 ? s->max_version : TLS1_3_VERSION,
		.require_client_eku = s->require_client_eku,
	};
	char err[256];
	struct eap_tls_context *ctx = eap_tls_context_new(&settings, err, sizeof(err));

	if (ctx == NULL)
		fail_msg("eap_tls_context_new: %s", err);
	return ctx;
}

struct device {
	const char *name;        /* PKI file stem: NAME.pem / NAME-chain.pem, NAME.key; NULL: no cert */
	bool send_chain;
	int version;             /* pin the client to one version; 0: negotiate */
	size_t fragment_size;
	int security_level;
};

static struct eap_test_peer *device_peer(const struct device *d)
{
	char cert[64], key[64];
	struct eap_test_peer_options opt = {
		.server_ca = pki("root-only.pem"),
		.min_version = d->version,
		.max_version = d->version,
		.fragment_size = d->fragment_size,
		.security_level = d->security_level,
		.identity = "laptop-0001.corp.example",
	};
	struct eap_test_peer *peer;

	if (d->name != NULL) {
		snprintf(cert, sizeof(cert), "%s%s.pem", d->name, d->send_chain ? "-chain" : "");
		snprintf(key, sizeof(key), "%s.key", d->name);
		opt.cert = pki(cert);
		opt.key = pki(key);
	}
	peer = eap_test_peer_new(&opt);
	assert_non_null(peer);
	return peer;
}

/* Outcome of one conversation, with everything a test may want to assert. */
struct outcome {
	enum eap_step step;
	uint8_t last[4];
	enum eap_reason reason;
	char detail[256];
	char subject[256];
	const char *tls_version;
	unsigned round_trips;
	unsigned server_fragments;
	size_t largest_server_fragment;
	size_t app_data;
	bool alert_before_result;
	bool keys_match;
	int chain_len;
};

static struct outcome converse(const struct server_setup *s, const struct device *d, size_t server_fragment)
{
	struct eap_tls_context *ctx = server_context(s);
	struct eap_conversation *conv = eap_conversation_new(ctx, server_fragment);
	struct eap_test_peer *peer = device_peer(d);
	uint8_t msk[EAP_MSK_LEN], emsk[EAP_EMSK_LEN], cmsk[EAP_MSK_LEN], cemsk[EAP_EMSK_LEN];
	struct outcome o = { 0 };
	const uint8_t *last;
	size_t lastlen;
	X509 *leaf;

	assert_non_null(conv);
	o.step = eap_test_run(conv, peer, &last, &lastlen);
	if (o.step == EAP_STEP_SUCCESS || o.step == EAP_STEP_FAILURE) {
		assert_int_equal(lastlen, 4);
		memcpy(o.last, last, 4);
	}
	o.reason = eap_conversation_reason(conv);
	snprintf(o.detail, sizeof(o.detail), "%s", eap_conversation_detail(conv));
	leaf = eap_conversation_peer_cert(conv);
	if (leaf != NULL)
		X509_NAME_oneline(X509_get_subject_name(leaf), o.subject, sizeof(o.subject));
	o.tls_version = eap_conversation_tls_version(conv);
	o.round_trips = eap_conversation_round_trips(conv);
	o.server_fragments = eap_test_peer_fragments_received(peer);
	o.largest_server_fragment = eap_test_peer_largest_fragment(peer);
	o.app_data = eap_test_peer_app_data(peer);
	o.alert_before_result = eap_test_peer_last_request_had_data(peer);
	if (eap_conversation_keys(conv, msk, emsk) == 0) {
		assert_int_equal(eap_test_peer_keys(peer, cmsk, cemsk), 0);
		o.keys_match = memcmp(msk, cmsk, sizeof(msk)) == 0 && memcmp(emsk, cemsk, sizeof(emsk)) == 0;
	}
	if (eap_conversation_verified_chain(conv) != NULL)
		o.chain_len = sk_X509_num(eap_conversation_verified_chain(conv));
	print_message("    %s %s rt=%u %s\n", eap_reason_code(o.reason), o.tls_version ? o.tls_version : "-",
	              o.round_trips, o.detail);
	eap_test_peer_free(peer);
	eap_conversation_free(conv);
	eap_tls_context_free(ctx);
	return o;
}

static void assert_success(const struct outcome *o, const char *version)
{
	assert_int_equal(o->step, EAP_STEP_SUCCESS);
	assert_int_equal(o->last[0], 3);   /* EAP-Success */
	assert_int_equal(o->reason, EAP_REASON_OK);
	assert_string_equal(o->tls_version, version);
	assert_true(o->keys_match);
	assert_int_equal(o->chain_len, 3);  /* leaf, issuing CA, root */
	assert_non_null(strstr(o->subject, "laptop-0001.corp.example"));
}

static void handshake(int version, size_t fragment)
{
	struct server_setup s = { .require_client_eku = true };
	struct device d = { .name = "laptop", .version = version, .fragment_size = fragment, .security_level = -1 };
	struct outcome o = converse(&s, &d, fragment);

	assert_success(&o, version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2");
	/* Our flights were cut to the fragment size and the peer ACKed each piece. */
	assert_true(o.largest_server_fragment <= fragment);
	if (fragment < 1000)
		assert_true(o.server_fragments > 2);
	/* RFC 9190: the commitment message is one byte of application data. */
	assert_int_equal(o.app_data, version == TLS1_3_VERSION ? 1 : 0);
}

static void test_tls12_fragment_64(void **state) { handshake(TLS1_2_VERSION, 64); }
static void test_tls12_fragment_300(void **state) { handshake(TLS1_2_VERSION, 300); }
static void test_tls12_fragment_1014(void **state) { handshake(TLS1_2_VERSION, 1014); }
static void test_tls13_fragment_64(void **state) { handshake(TLS1_3_VERSION, 64); }
static void test_tls13_fragment_300(void **state) { handshake(TLS1_3_VERSION, 300); }
static void test_tls13_fragment_1014(void **state) { handshake(TLS1_3_VERSION, 1014); }

/* The peer offers 1.3 but the server is pinned to 1.2: negotiation, not failure. */
static void test_server_max_tls12(void **state)
{
	struct server_setup s = { .max_version = TLS1_2_VERSION, .require_client_eku = true };
	struct device d = { .name = "laptop", .fragment_size = 1014, .security_level = -1 };
	struct outcome o = converse(&s, &d, 1014);

	assert_success(&o, "TLSv1.2");
}

static void test_identity_kept(void **state)
{
	struct eap_tls_context *ctx = server_context(&(struct server_setup){ 0 });
	struct eap_conversation *conv = eap_conversation_new(ctx, 1014);
	/* Response/Identity straight from the NAS, with padding after its length and a NUL inside. */
	static const uint8_t identity[] = { 2, 7, 0, 13, 1, 'p', 'r', 'n', 't', 0, 'x', 'y', 'z', 0xee, 0xee };
	const uint8_t *out;
	size_t outlen;

	assert_string_equal(eap_conversation_identity(conv), "");
	assert_int_equal(eap_conversation_step(conv, identity, sizeof(identity), &out, &outlen), EAP_STEP_SEND);
	assert_string_equal(eap_conversation_identity(conv), "prnt");
	/* EAP-TLS Start, answering the NAS's Identifier 7 with 8. */
	assert_int_equal(outlen, 6);
	assert_memory_equal(out, ((uint8_t[]){ 1, 8, 0, 6, 13, 0x20 }), 6);
	assert_null(eap_conversation_tls_version(conv));
	eap_conversation_free(conv);
	eap_tls_context_free(ctx);
}

static void test_start_gives_identity_request(void **state)
{
	struct eap_tls_context *ctx = server_context(&(struct server_setup){ 0 });
	struct eap_conversation *conv = eap_conversation_new(ctx, 1014);
	const uint8_t *out;
	size_t outlen;

	assert_int_equal(eap_conversation_step(conv, NULL, 0, &out, &outlen), EAP_STEP_SEND);
	assert_int_equal(outlen, 5);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[4], 1);
	assert_int_equal(eap_conversation_round_trips(conv), 1);
	eap_conversation_free(conv);
	eap_tls_context_free(ctx);
}

/* The caller refuses a verified peer: TLS 1.2 gets an access_denied alert in
 * place of our Finished, TLS 1.3 an EAP-Failure; no keys either way. */
static void refuse(int version, bool alert_expected)
{
	struct eap_tls_context *ctx = server_context(&(struct server_setup){ .require_client_eku = true });
	struct eap_conversation *conv = eap_conversation_new(ctx, 1014);
	struct eap_test_peer *peer = device_peer(&(struct device){
		.name = "laptop", .version = version, .security_level = -1 });
	uint8_t msk[EAP_MSK_LEN], emsk[EAP_EMSK_LEN];
	const uint8_t *out;
	size_t outlen;

	assert_int_equal(eap_test_run_policy(conv, peer, false, &out, &outlen), EAP_STEP_FAILURE);
	assert_int_equal(outlen, 4);
	assert_int_equal(out[0], 4);
	if (alert_expected)   /* the access_denied alert came in the last EAP-TLS request */
		assert_true(eap_test_peer_last_request_had_data(peer));
	assert_int_equal(eap_conversation_reason(conv), EAP_REASON_OK);
	assert_int_equal(eap_conversation_keys(conv, msk, emsk), -1);
	assert_non_null(eap_conversation_peer_cert(conv));
	/* Further input after the end is refused. */
	assert_int_equal(eap_conversation_step(conv, (uint8_t[]){ 2, out[1], 0, 6, 13, 0 }, 6, &out, &outlen),
	                 EAP_STEP_FAILURE);
	assert_int_equal(eap_conversation_reason(conv), EAP_REASON_EAP_MALFORMED);
	eap_test_peer_free(peer);
	eap_conversation_free(conv);
	eap_tls_context_free(ctx);
}

static void test_refuse_tls12(void **state) { refuse(TLS1_2_VERSION, true); }
static void test_refuse_tls13(void **state) { refuse(TLS1_3_VERSION, false); }

/* A rejected device: EAP-Failure, the reason, and the certificate still named for the log. */
static struct outcome reject(const char *name, bool chain, int version, const char *ca, bool eku, int seclevel)
{
	struct server_setup s = { .ca = ca, .require_client_eku = eku };
	struct device d = { .name = name, .send_chain = chain, .version = version, .fragment_size = 300,
	                    .security_level = seclevel };
	struct outcome o = converse(&s, &d, 300);

	assert_int_equal(o.step, EAP_STEP_FAILURE);
	assert_int_equal(o.last[0], 4);   /* EAP-Failure */
	/* The device heard OpenSSL's alert first, in an EAP-TLS request it had to answer. */
	assert_true(o.alert_before_result);
	assert_false(o.keys_match);
	assert_int_equal(o.chain_len, 0);
	return o;
}

static void assert_rejected(const char *name, enum eap_reason reason, int seclevel)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };

	for (size_t i = 0; i < 2; i++) {
		struct outcome o = reject(name, false, versions[i], NULL, true, seclevel);

		assert_string_equal(eap_reason_code(o.reason), eap_reason_code(reason));
		assert_non_null(strstr(o.subject, name));
		assert_true(o.detail[0] != '\0');
	}
}

static void test_reject_expired(void **state) { assert_rejected("expired", EAP_REASON_CERT_EXPIRED, -1); }
static void test_reject_future(void **state) { assert_rejected("future", EAP_REASON_CERT_NOT_YET_VALID, -1); }
static void test_reject_rogue(void **state) { assert_rejected("rogue", EAP_REASON_UNKNOWN_CA, -1); }
static void test_reject_selfsigned(void **state) { assert_rejected("selfsigned", EAP_REASON_UNKNOWN_CA, -1); }
static void test_reject_noeku(void **state) { assert_rejected("noeku", EAP_REASON_NO_CLIENT_EKU, -1); }
static void test_reject_sha1(void **state) { assert_rejected("sha1", EAP_REASON_WEAK_SIGNATURE, 0); }
static void test_reject_weakkey(void **state) { assert_rejected("weakkey", EAP_REASON_WEAK_KEY, 0); }

static void test_noeku_allowed_when_not_required(void **state)
{
	struct server_setup s = { .require_client_eku = false };
	struct device d = { .name = "noeku", .fragment_size = 1014, .security_level = -1 };
	struct outcome o = converse(&s, &d, 1014);

	assert_int_equal(o.step, EAP_STEP_SUCCESS);
	assert_true(o.keys_match);
}

static void test_reject_no_client_cert(void **state)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };

	for (size_t i = 0; i < 2; i++) {
		struct outcome o = reject(NULL, false, versions[i], NULL, true, -1);

		assert_int_equal(o.reason, EAP_REASON_NO_CLIENT_CERT);
		assert_string_equal(o.subject, "");
	}
}

/* Only the root is trusted: the device's own intermediate completes the chain. */
static void test_client_chain_with_root_only(void **state)
{
	struct server_setup s = { .ca = "root-only.pem", .require_client_eku = true };
	struct device d = { .name = "laptop", .send_chain = true, .fragment_size = 300, .security_level = -1 };
	struct outcome o = converse(&s, &d, 300);

	assert_success(&o, "TLSv1.3");
	/* Without the intermediate the chain cannot be built. */
	o = reject("laptop", false, 0, "root-only.pem", true, -1);
	assert_int_equal(o.reason, EAP_REASON_UNKNOWN_CA);
}

static void assert_context_error(const struct eap_tls_settings *settings, const char *expected)
{
	char err[256] = "";
	struct eap_tls_context *ctx = eap_tls_context_new(settings, err, sizeof(err));

	assert_null(ctx);
	if (strstr(err, expected) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, expected);
}

static void test_context_errors(void **state)
{
	struct eap_tls_settings s = {
		.certificate = pki("server.pem"), .private_key = pki("server.key"), .ca = pki("ca-bundle.pem"),
		.min_version = TLS1_2_VERSION, .max_version = TLS1_3_VERSION,
	};
	struct eap_tls_settings bad;
	char expected[600];

	bad = s;
	bad.certificate = "/nonexistent/server.pem";
	assert_context_error(&bad, "cannot read certificate /nonexistent/server.pem: No such file or directory");
	bad = s;
	bad.private_key = pki("laptop.key");
	snprintf(expected, sizeof(expected), "private key %s does not match certificate", bad.private_key);
	assert_context_error(&bad, expected);
	bad = s;
	bad.certificate = pki("server.key");
	snprintf(expected, sizeof(expected), "no certificate found in certificate %s", bad.certificate);
	assert_context_error(&bad, expected);
	bad = s;
	bad.ca = "/nonexistent/ca.pem";
	assert_context_error(&bad, "cannot read CA file /nonexistent/ca.pem");
	bad = s;
	bad.private_key = "/nonexistent/server.key";
	assert_context_error(&bad, "cannot read private key /nonexistent/server.key");
	bad = s;
	bad.min_version = TLS1_1_VERSION;
	assert_context_error(&bad, "TLS 1.2 or TLS 1.3");
	bad = s;
	bad.min_version = TLS1_3_VERSION;
	bad.max_version = TLS1_2_VERSION;
	assert_context_error(&bad, "minimum version is above the maximum");
}

static void test_reason_codes(void **state)
{
	assert_string_equal(eap_reason_code(EAP_REASON_CERT_EXPIRED), "cert_expired");
	assert_string_equal(eap_reason_code(EAP_REASON_EAP_MALFORMED), "eap_malformed");
	assert_string_equal(eap_reason_text(EAP_REASON_CERT_EXPIRED), "certificate rejected: expired");
	assert_string_equal(eap_reason_code(EAP_REASON_COUNT), "unknown");
	for (int r = 0; r < EAP_REASON_COUNT; r++)
		assert_string_not_equal(eap_reason_code((enum eap_reason)r), "unknown");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls12_fragment_64),
		cmocka_unit_test(test_tls12_fragment_300),
		cmocka_unit_test(test_tls12_fragment_1014),
		cmocka_unit_test(test_tls13_fragment_64),
		cmocka_unit_test(test_tls13_fragment_300),
		cmocka_unit_test(test_tls13_fragment_1014),
		cmocka_unit_test(test_server_max_tls12),
		cmocka_unit_test(test_identity_kept),
		cmocka_unit_test(test_start_gives_identity_request),
		cmocka_unit_test(test_refuse_tls12),
		cmocka_unit_test(test_refuse_tls13),
		cmocka_unit_test(test_reject_expired),
		cmocka_unit_test(test_reject_future),
		cmocka_unit_test(test_reject_rogue),
		cmocka_unit_test(test_reject_selfsigned),
		cmocka_unit_test(test_reject_noeku),
		cmocka_unit_test(test_reject_sha1),
		cmocka_unit_test(test_reject_weakkey),
		cmocka_unit_test(test_noeku_allowed_when_not_required),
		cmocka_unit_test(test_reject_no_client_cert),
		cmocka_unit_test(test_client_chain_with_root_only),
		cmocka_unit_test(test_context_errors),
		cmocka_unit_test(test_reason_codes),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PKI_DIR\n", argv[0]);
		return 2;
	}
	pki_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Replay of recorded EAP-TLS conversations; see eap_replay.h. */
/* RAND_set_rand_method is deprecated in OpenSSL 3, and the one way to swap
 * the generator for the whole process without a provider of our own. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "eap_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

const size_t eap_replay_fragment_sizes[4] = { 64, 300, 1014, 16384 };

/* 1, 2, 3, ... on every call, like OpenSSL's own fuzzers: keys, nonces and
 * randoms are the same whatever order the client and the server draw them in. */
static int pattern_bytes(unsigned char *buf, int num)
{
	for (int i = 0; i < num; i++)
		buf[i] = (unsigned char)(i + 1);
	return 1;
}

static int pattern_status(void)
{
	return 1;
}

static const RAND_METHOD pattern_method = {
	.bytes = pattern_bytes,
	.pseudorand = pattern_bytes,
	.status = pattern_status,
};

void eap_replay_deterministic_rand(void)
{
	if (RAND_set_rand_method(&pattern_method) != 1) {
		fprintf(stderr, "eap_replay: cannot replace OpenSSL's random generator\n");
		abort();
	}
}

struct eap_tls_context *eap_replay_context(const char *pki_dir)
{
	char cert[4096], key[4096], ca[4096], err[256];
	struct eap_tls_settings settings = {
		.certificate = cert, .private_key = key, .ca = ca,
		.min_version = TLS1_2_VERSION, .max_version = TLS1_3_VERSION, .require_client_eku = true,
		.session_lifetime = EAP_REPLAY_SESSION_LIFETIME,
	};
	struct eap_tls_context *ctx;

	if (pki_dir == NULL) {
		fprintf(stderr, "eap_replay: set AUTHD_TEST_PKI_DIR (see tests/pki/make-pki.sh)\n");
		abort();
	}
	snprintf(cert, sizeof(cert), "%s/server.pem", pki_dir);
	snprintf(key, sizeof(key), "%s/server.key", pki_dir);
	snprintf(ca, sizeof(ca), "%s/ca-bundle.pem", pki_dir);
	ctx = eap_tls_context_new(&settings, err, sizeof(err));
	if (ctx == NULL) {
		fprintf(stderr, "eap_replay: %s\n", err);
		abort();
	}
	return ctx;
}

/* The next record at *off: its bytes and length; false when none is left. */
static bool next_record(const uint8_t *data, size_t size, size_t *off, const uint8_t **rec,
                        size_t *len)
{
	if (size - *off < 2)
		return false;
	*len = (size_t)data[*off] << 8 | data[*off + 1];
	*off += 2;
	if (*len > size - *off)
		*len = size - *off;
	*rec = data + *off;
	*off += *len;
	return true;
}

/* What the caller (authd) reads after a conversation; must be safe in any state. */
static void inspect(const struct eap_conversation *conv, struct eap_replay_result *result)
{
	uint8_t msk[EAP_MSK_LEN], emsk[EAP_EMSK_LEN], id[32], *der = NULL;
	size_t idlen = 0, derlen = 0;
	STACK_OF(X509) *chain = eap_conversation_verified_chain(conv);
	const char *version = eap_conversation_tls_version(conv);
	volatile size_t sink;

	sink = strlen(eap_conversation_detail(conv)) + strlen(eap_conversation_identity(conv)) +
	       strlen(eap_reason_code(eap_conversation_reason(conv))) +
	       strlen(eap_reason_text(eap_conversation_reason(conv))) +
	       (version != NULL ? strlen(version) : 0) + eap_conversation_round_trips(conv) +
	       (eap_conversation_peer_cert(conv) != NULL) +
	       (size_t)(chain != NULL ? sk_X509_num(chain) : 0);
	(void)sink;
	(void)eap_conversation_keys(conv, msk, emsk);
	result->resumed = eap_conversation_resumed(conv);
	if (eap_conversation_new_session(conv, id, &idlen, &der, &derlen) == 0) {
		result->new_session = true;
		if (idlen == 0 || idlen > sizeof(id) || derlen == 0)
			abort();
		OPENSSL_cleanse(der, derlen);
		free(der);
	}
	OPENSSL_cleanse(msk, sizeof(msk));
	OPENSSL_cleanse(emsk, sizeof(emsk));
}

/* Answers EAP_STEP_LOOKUP as dispatch does, with the session record as the store's answer. */
static enum eap_step look_up(struct eap_conversation *conv, uint8_t options, const uint8_t *session,
                             size_t session_len, struct eap_replay_result *result,
                             const uint8_t **out, size_t *outlen)
{
	STACK_OF(X509) *chain = NULL;
	const uint8_t *id = NULL;
	size_t idlen = eap_conversation_offered_session(conv, &id);
	char detail[256];

	result->lookups++;
	if (idlen == 0 || idlen > 32 || id == NULL)
		abort();   /* the contract: 1..32 bytes */
	if (session != NULL) {
		chain = eap_conversation_offered_chain(conv, session, session_len, detail, sizeof(detail));
		if (chain != NULL && (sk_X509_num(chain) < 1 || eap_conversation_found_chain(conv) != chain))
			abort();
		result->found = chain != NULL;
	}
	return eap_conversation_resume(conv, chain != NULL && !(options & EAP_REPLAY_NO_RESUME), out,
	                               outlen);
}

void eap_replay_run(struct eap_tls_context *ctx, const uint8_t *data, size_t size,
                    struct eap_replay_result *result)
{
	static uint8_t packet[65536];
	struct eap_conversation *conv;
	const uint8_t *out = NULL, *session = NULL, *rec;
	size_t outlen = 0, off = 1, len, session_len = 0;
	enum eap_step step = EAP_STEP_DISCARD;
	int expected_id = -1;
	uint8_t options;

	memset(result, 0, sizeof(*result));
	result->last = EAP_STEP_DISCARD;
	if (size < 1)
		return;
	options = data[0];
	if (options & EAP_REPLAY_SESSION && !next_record(data, size, &off, &session, &session_len))
		return;
	conv = eap_conversation_new(ctx, eap_replay_fragment_sizes[(options & EAP_REPLAY_FRAGMENT_MASK) >> 2]);
	if (conv == NULL)
		return;
	if (options & EAP_REPLAY_START) {
		step = eap_conversation_step(conv, NULL, 0, &out, &outlen);
		if (step == EAP_STEP_SEND)
			expected_id = out[1];
	}
	while (next_record(data, size, &off, &rec, &len)) {
		memcpy(packet, rec, len);
		if (!(options & EAP_REPLAY_KEEP_IDS) && len >= 2 && expected_id >= 0)
			packet[1] = (uint8_t)expected_id;
		step = eap_conversation_step(conv, packet, len, &out, &outlen);
		/* A lookup may lead straight to VERIFIED (resumption), so LOOKUP first. */
		if (step == EAP_STEP_LOOKUP)
			step = look_up(conv, options, session, session_len, result, &out, &outlen);
		if (step == EAP_STEP_VERIFIED) {
			result->verified = true;
			step = options & EAP_REPLAY_REFUSE ? eap_conversation_refuse(conv, &out, &outlen)
			                                   : eap_conversation_allow(conv, &out, &outlen);
		}
		if (step == EAP_STEP_SEND)
			expected_id = out[1];
		if (step != EAP_STEP_DISCARD && (out == NULL || outlen < 4))
			abort();   /* every answer is a packet */
	}
	result->last = step;
	inspect(conv, result);
	eap_conversation_free(conv);
}

/*
 * make_eap_seeds PKI_DIR EAP_DIR RADIUS_DIR: records real EAP-TLS
 * conversations (tests/unit/eap_test_peer against eap/, in process) as seeds
 * for fuzz_eap_tls, in eap_replay.h's format: TLS 1.2 and 1.3, full and
 * resumed, fragmented both ways, allowed, refused and failed. Each seed is
 * replayed at once and must reach the end it was recorded with, else the
 * program fails: a corpus that stops at the first flight is caught here, not
 * after hours of fuzzing. The same responses, wrapped in Access-Requests, are
 * the seeds of fuzz_radius (its input: a mode byte, then the datagram).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "eap_replay.h"
#include "eap_test_peer.h"

#define MAX_SEED 200000

struct seed {
	uint8_t bytes[MAX_SEED];
	size_t len;
};

static const char *pki, *eap_dir, *radius_dir;
static int failures;

static void put_record(struct seed *s, const uint8_t *data, size_t len)
{
	if (len > 0xffff || s->len + 2 + len > sizeof(s->bytes)) {
		fprintf(stderr, "make_eap_seeds: seed too large\n");
		exit(1);
	}
	s->bytes[s->len++] = (uint8_t)(len >> 8);
	s->bytes[s->len++] = (uint8_t)len;
	memcpy(s->bytes + s->len, data, len);
	s->len += len;
}

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "make_eap_seeds: cannot write %s\n", path);
		exit(1);
	}
}

/*
 * An Access-Request carrying eap (and a State when it continues a
 * conversation), with a zero Message-Authenticator that fuzz_radius fills
 * in. mode: fuzz_radius's first byte.
 */
static void write_radius_seed(const char *name, uint8_t mode, const uint8_t *eap, size_t eaplen)
{
	static const char user[] = "laptop-0001.corp.example";
	static const uint8_t state[16] = { 's', 't', 'a', 't', 'e' };
	uint8_t d[4096];
	size_t n = 0, off;

	d[n++] = mode;
	d[n++] = 1;      /* Access-Request */
	d[n++] = 42;     /* Identifier */
	n += 2;          /* Length, below */
	memset(d + n, 0x5a, 16);
	n += 16;
	d[n++] = 1;      /* User-Name */
	d[n++] = (uint8_t)(2 + strlen(user));
	memcpy(d + n, user, strlen(user));
	n += strlen(user);
	d[n++] = 31;     /* Calling-Station-Id */
	d[n++] = 19;
	memcpy(d + n, "02-00-00-00-00-01", 17);
	n += 17;
	if (mode & 0x08) {
		d[n++] = 24;     /* State */
		d[n++] = 2 + sizeof(state);
		memcpy(d + n, state, sizeof(state));
		n += sizeof(state);
	}
	for (off = 0; off < eaplen || off == 0; off += 253) {
		size_t chunk = eaplen - off < 253 ? eaplen - off : 253;

		if (n + 2 + chunk + 18 > sizeof(d))
			return;
		d[n++] = 79;     /* EAP-Message */
		d[n++] = (uint8_t)(2 + chunk);
		memcpy(d + n, eap + off, chunk);
		n += chunk;
	}
	d[n++] = 80;     /* Message-Authenticator */
	d[n++] = 18;
	memset(d + n, 0, 16);
	n += 16;
	d[3] = (uint8_t)((n - 1) >> 8);
	d[4] = (uint8_t)(n - 1);
	write_file(radius_dir, name, d, n);
}

struct scenario {
	const char *name;
	int version;
	uint8_t options;          /* eap_replay.h; the fragment size is among them */
	size_t peer_fragment;
	const char *device;       /* NAME of NAME-chain.pem / NAME.key */
	enum eap_step expect;
	bool resume;              /* offer the session of the previous scenario */
};

/* Runs and records one conversation; keeps its session for the next. */
static void run(const struct scenario *sc, struct eap_tls_context *ctx, SSL_SESSION **session,
                struct seed *store)
{
	static struct seed seed;
	char cert[4096], key[4096], ca[4096];
	struct eap_test_peer_options opt = {
		.cert = cert, .key = key, .server_ca = ca, .min_version = sc->version,
		.max_version = sc->version, .fragment_size = sc->peer_fragment, .security_level = -1,
		.identity = "anonymous", .session = sc->resume ? *session : NULL,
	};
	struct eap_test_peer *peer;
	struct eap_conversation *conv;
	struct eap_replay_result result;
	const uint8_t *out = NULL, *resp = NULL, *id;
	size_t outlen = 0, resplen = 0, idlen, der_len = 0;
	uint8_t sid[32], *der = NULL;
	enum eap_step step;
	unsigned responses = 0;
	char detail[256], name[128];

	snprintf(cert, sizeof(cert), "%s/%s-chain.pem", pki, sc->device);
	snprintf(key, sizeof(key), "%s/%s.key", pki, sc->device);
	snprintf(ca, sizeof(ca), "%s/root-only.pem", pki);
	peer = eap_test_peer_new(&opt);
	conv = eap_conversation_new(ctx, eap_replay_fragment_sizes[(sc->options & EAP_REPLAY_FRAGMENT_MASK) >> 2]);
	if (peer == NULL || conv == NULL) {
		fprintf(stderr, "make_eap_seeds: %s: cannot start\n", sc->name);
		exit(1);
	}
	seed.len = 0;
	seed.bytes[seed.len++] = sc->options;
	if (sc->options & EAP_REPLAY_SESSION)
		put_record(&seed, store->bytes, store->len);
	step = eap_conversation_step(conv, NULL, 0, &out, &outlen);
	for (int i = 0; i < 2 * EAP_TLS_MAX_ROUND_TRIPS; i++) {
		if (step == EAP_STEP_LOOKUP) {
			idlen = eap_conversation_offered_session(conv, &id);
			(void)idlen;
			step = eap_conversation_resume(
			        conv, eap_conversation_offered_chain(conv, store->bytes, store->len, detail,
			                                             sizeof(detail)) != NULL,
			        &out, &outlen);
			continue;
		}
		if (step == EAP_STEP_VERIFIED) {
			if (sc->options & EAP_REPLAY_REFUSE) {
				step = eap_conversation_refuse(conv, &out, &outlen);
				continue;
			}
			if (eap_conversation_new_session(conv, sid, &idlen, &der, &der_len) == 0) {
				store->len = der_len < sizeof(store->bytes) ? der_len : 0;
				memcpy(store->bytes, der, store->len);
				free(der);
			}
			step = eap_conversation_allow(conv, &out, &outlen);
			continue;
		}
		if (step != EAP_STEP_SEND)
			break;
		if (eap_test_peer_respond(peer, out, outlen, &resp, &resplen) < 0) {
			fprintf(stderr, "make_eap_seeds: %s: peer: %s\n", sc->name, eap_test_peer_error(peer));
			exit(1);
		}
		put_record(&seed, resp, resplen);
		/* The Identity, then the first EAP-TLS response (ClientHello, resumption offer). */
		if (responses < 2) {
			snprintf(name, sizeof(name), "%s-%u", sc->name, responses);
			write_radius_seed(name, responses == 0 ? 0x01 : 0x09, resp, resplen);
		}
		responses++;
		step = eap_conversation_step(conv, resp, resplen, &out, &outlen);
	}
	if (step != sc->expect || (sc->resume && !eap_conversation_resumed(conv))) {
		fprintf(stderr, "make_eap_seeds: %s: ended with step %d%s (expected %d%s): %s %s\n",
		        sc->name, (int)step, eap_conversation_resumed(conv) ? ", resumed" : "",
		        (int)sc->expect, sc->resume ? ", resumed" : "",
		        eap_reason_code(eap_conversation_reason(conv)), eap_conversation_detail(conv));
		exit(1);
	}
	if (!sc->resume && sc->expect == EAP_STEP_SUCCESS) {
		SSL_SESSION_free(*session);
		*session = eap_test_peer_session(peer);
	}
	eap_conversation_free(conv);
	eap_test_peer_free(peer);
	write_file(eap_dir, sc->name, seed.bytes, seed.len);

	/* The seed must take a fresh conversation to the same end. */
	eap_replay_run(ctx, seed.bytes, seed.len, &result);
	if (result.last != sc->expect || result.resumed != sc->resume ||
	    (sc->resume && (result.lookups != 1 || !result.found))) {
		fprintf(stderr, "make_eap_seeds: %s: the replay ended with step %d (lookups %u, found %d, "
		        "resumed %d), not as recorded\n", sc->name, (int)result.last, result.lookups,
		        result.found, result.resumed);
		failures++;
		return;
	}
	printf("%s: %u responses, replayed to step %d%s\n", sc->name, responses, (int)result.last,
	       result.resumed ? " (resumed)" : "");
}

#define START EAP_REPLAY_START
#define F64 (0 << 2)
#define F300 (1 << 2)
#define F1014 (2 << 2)
#define F16K (3 << 2)
#define RESUMED (EAP_REPLAY_SESSION)

int main(int argc, char **argv)
{
	/* Each resumed scenario offers the session of the full one just before it. */
	static const struct scenario scenarios[] = {
		{ "tls12-full", TLS1_2_VERSION, START | F1014, 1014, "laptop", EAP_STEP_SUCCESS, false },
		{ "tls12-resumed", TLS1_2_VERSION, START | F1014 | RESUMED, 1014, "laptop", EAP_STEP_SUCCESS, true },
		{ "tls13-full", TLS1_3_VERSION, START | F1014, 1014, "laptop", EAP_STEP_SUCCESS, false },
		{ "tls13-resumed", TLS1_3_VERSION, START | F1014 | RESUMED, 1014, "laptop", EAP_STEP_SUCCESS, true },
		{ "tls12-fragmented", TLS1_2_VERSION, START | F300, 200, "laptop", EAP_STEP_SUCCESS, false },
		{ "tls12-fragmented-resumed", TLS1_2_VERSION, START | F300 | RESUMED, 200, "laptop", EAP_STEP_SUCCESS, true },
		{ "tls13-fragmented", TLS1_3_VERSION, START | F64, 64, "laptop", EAP_STEP_SUCCESS, false },
		{ "tls13-fragmented-resumed", TLS1_3_VERSION, START | F64 | RESUMED, 64, "laptop", EAP_STEP_SUCCESS, true },
		{ "tls13-unfragmented", TLS1_3_VERSION, START | F16K, 16384, "laptop", EAP_STEP_SUCCESS, false },
		{ "tls12-refused", TLS1_2_VERSION, START | F1014 | EAP_REPLAY_REFUSE, 1014, "laptop", EAP_STEP_FAILURE, false },
		{ "tls13-refused", TLS1_3_VERSION, START | F1014 | EAP_REPLAY_REFUSE, 1014, "laptop", EAP_STEP_FAILURE, false },
		{ "tls12-expired", TLS1_2_VERSION, START | F1014, 1014, "expired", EAP_STEP_FAILURE, false },
		{ "tls13-rogue", TLS1_3_VERSION, START | F1014, 1014, "rogue", EAP_STEP_FAILURE, false },
	};
	static struct seed store;
	SSL_SESSION *session = NULL;
	struct eap_tls_context *ctx;

	if (argc != 4) {
		fprintf(stderr, "usage: make_eap_seeds PKI_DIR EAP_SEED_DIR RADIUS_SEED_DIR\n");
		return 2;
	}
	pki = argv[1];
	eap_dir = argv[2];
	radius_dir = argv[3];
	eap_replay_deterministic_rand();
	ctx = eap_replay_context(pki);
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run(&scenarios[i], ctx, &session, &store);
	SSL_SESSION_free(session);
	eap_tls_context_free(ctx);
	return failures ? 1 : 0;
}

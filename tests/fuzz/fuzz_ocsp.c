/*
 * libFuzzer target for the OCSP client's pure part: ocsp_check_verify_response
 * judging one DER OCSPResponse about the laptop (issued by the Device CA), and
 * the responder URL parser through ocsp_check_new.
 *
 * Input: byte 0 selects options; the rest is the payload.
 *   bits 0-1  0: the payload is the DER response
 *             1: the payload patches a valid response made at start-up (good, signed
 *                by the delegated responder, with a nonce): 3-byte records, a 2-byte
 *                big-endian offset and a byte XORed in there; so the fuzzer starts
 *                deep inside a signed response instead of at its outer SEQUENCE
 *             2: the payload is a responder URL given to ocsp_check_new
 *   bit 2     expect the nonce (the template's) to be echoed
 *   bit 3     judge at a time a day later (past the template's nextUpdate)
 * Mode 1 inputs replay exactly only within one process: the template's ECDSA
 * signature differs from run to run.
 *
 * Needs AUTHD_TEST_PKI_DIR (made by tests/pki/make-pki.sh) for the trust store,
 * the laptop and the responder's key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include "policy/ocsp_check.h"

struct fixture {
	struct ocsp_check *check;
	char ca_file[4096];
	X509 *cert, *issuer;
	unsigned char nonce[32];
	unsigned char *template;
	size_t template_len;
	time_t now;
};

static void *load(const char *dir, const char *file, int key)
{
	char path[4096];
	void *obj;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "fuzz_ocsp: cannot read %s\n", path);
		abort();
	}
	obj = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL) : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (obj == NULL) {
		fprintf(stderr, "fuzz_ocsp: %s holds nothing usable\n", path);
		abort();
	}
	return obj;
}

/* A good response about the laptop, as the test responder would sign it. */
static void make_template(struct fixture *fx, X509 *signer, EVP_PKEY *key)
{
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, fx->cert, fx->issuer);
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	ASN1_GENERALIZEDTIME *this_upd = ASN1_GENERALIZEDTIME_adj(NULL, fx->now, 0, -60);
	ASN1_GENERALIZEDTIME *next_upd = ASN1_GENERALIZEDTIME_adj(NULL, fx->now, 0, 3600);
	OCSP_RESPONSE *resp = NULL;
	unsigned char *der = NULL;
	int len;

	if (id == NULL || bs == NULL || this_upd == NULL || next_upd == NULL ||
	    OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, this_upd, next_upd) == NULL ||
	    !OCSP_basic_add1_nonce(bs, fx->nonce, sizeof(fx->nonce)) ||
	    !OCSP_basic_sign(bs, signer, key, EVP_sha256(), NULL, 0) ||
	    (resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) == NULL ||
	    (len = i2d_OCSP_RESPONSE(resp, &der)) <= 0) {
		fprintf(stderr, "fuzz_ocsp: cannot make the template response\n");
		abort();
	}
	fx->template = malloc((size_t)len);
	if (fx->template == NULL)
		abort();
	memcpy(fx->template, der, (size_t)len);
	fx->template_len = (size_t)len;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	ASN1_GENERALIZEDTIME_free(this_upd);
	ASN1_GENERALIZEDTIME_free(next_upd);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
}

static struct fixture *fixture(void)
{
	const char *dir = getenv("AUTHD_TEST_PKI_DIR");
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ocsp_settings s;
	struct ocsp_answer a;
	X509 *signer;
	EVP_PKEY *key;
	char err[256];

	if (dir == NULL) {
		fprintf(stderr, "fuzz_ocsp: set AUTHD_TEST_PKI_DIR (see tests/pki/make-pki.sh)\n");
		abort();
	}
	if (fx == NULL)
		abort();
	fx->cert = load(dir, "laptop.pem", 0);
	fx->issuer = load(dir, "issuing-ca.pem", 0);
	signer = load(dir, "ocsp-responder.pem", 0);
	key = load(dir, "ocsp-responder.key", 1);
	snprintf(fx->ca_file, sizeof(fx->ca_file), "%s/ca-bundle.pem", dir);
	ocsp_settings_init(&s);
	fx->check = ocsp_check_new(&s, fx->ca_file, err, sizeof(err));
	if (fx->check == NULL) {
		fprintf(stderr, "fuzz_ocsp: %s\n", err);
		abort();
	}
	memset(fx->nonce, 0x5a, sizeof(fx->nonce));
	fx->now = time(NULL);
	make_template(fx, signer, key);
	X509_free(signer);
	EVP_PKEY_free(key);
	/* The template itself must pass, or mode 1 explores nothing worth having. */
	if (ocsp_check_verify_response(fx->check, fx->template, fx->template_len, fx->cert, fx->issuer,
	                               fx->nonce, sizeof(fx->nonce), fx->now, &a) != OCSP_CHECK_GOOD) {
		fprintf(stderr, "fuzz_ocsp: the template response is refused: %s\n", a.detail);
		abort();
	}
	return fx;
}

static void url_mode(struct fixture *fx, const uint8_t *data, size_t size)
{
	struct ocsp_settings s;
	struct ocsp_check *c;
	char url[2048], err[256];

	if (size >= sizeof(url))
		size = sizeof(url) - 1;
	memcpy(url, data, size);
	url[size] = '\0';
	ocsp_settings_init(&s);
	s.url = url;
	c = ocsp_check_new(&s, fx->ca_file, err, sizeof(err));
	if (c == NULL && err[0] == '\0')
		abort();   /* a refusal always says why */
	ocsp_check_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Made once: the trust store and the template are immutable, and slow to make. */
	static struct fixture *fx;
	static unsigned char buf[OCSP_CHECK_MAX_RESPONSE];
	const unsigned char *der = data + 1;
	struct ocsp_answer a;
	size_t len = size - 1;
	uint8_t options;

	if (fx == NULL)
		fx = fixture();
	if (size < 1)
		return 0;
	options = data[0];
	if ((options & 3) == 2) {
		url_mode(fx, data + 1, size - 1);
		return 0;
	}
	if ((options & 3) == 1) {
		memcpy(buf, fx->template, fx->template_len);
		for (size_t off = 1; off + 3 <= size; off += 3)
			buf[((size_t)data[off] << 8 | data[off + 1]) % fx->template_len] ^= data[off + 2];
		der = buf;
		len = fx->template_len;
	}
	ocsp_check_verify_response(fx->check, der, len, fx->cert, fx->issuer,
	                           options & 4 ? fx->nonce : NULL, sizeof(fx->nonce),
	                           options & 8 ? fx->now + 86400 : fx->now, &a);
	if (a.detail[0] == '\0' || memchr(a.detail, '\0', sizeof(a.detail)) == NULL)
		abort();   /* every answer says why, NUL-terminated */
	if (a.status == OCSP_CHECK_REVOKED && a.revoked_at == 0)
		abort();
	return 0;
}

/*
 * libFuzzer target for CRL loading (policy/crl_store.h: crl_store_parse): a
 * CRL file's bytes, PEM or DER, checked against the trusted CAs of the test
 * PKI (ca-bundle.pem: the root and the device-issuing CA).
 *
 * Input: the file's content (the smoke run is seeded with the PKI's CRLs).
 * A CRL is returned only with the CA that signed it: one of the trusted
 * CAs, named as the CRL's issuer, whose key verifies it. A refusal says why.
 * The laptop's serial is looked up in what is returned, as a check would.
 *
 * Needs AUTHD_TEST_PKI_DIR (made by tests/pki/make-pki.sh).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "policy/crl_store.h"

struct fixture {
	STACK_OF(X509) *cas;
	X509 *laptop;
};

static FILE *open_pki(const char *file)
{
	const char *dir = getenv("AUTHD_TEST_PKI_DIR");
	char path[4096];
	FILE *f;

	if (dir == NULL) {
		fprintf(stderr, "fuzz_crl: set AUTHD_TEST_PKI_DIR (see tests/pki/make-pki.sh)\n");
		abort();
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "fuzz_crl: cannot read %s\n", path);
		abort();
	}
	return f;
}

static struct fixture *fixture(void)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	FILE *f;
	X509 *x;

	if (fx == NULL || (fx->cas = sk_X509_new_null()) == NULL)
		abort();
	f = open_pki("ca-bundle.pem");
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(fx->cas, x);
	fclose(f);
	f = open_pki("laptop.pem");
	fx->laptop = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (sk_X509_num(fx->cas) == 0 || fx->laptop == NULL)
		abort();
	return fx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Made once: the CAs are only read. */
	static struct fixture *fx;
	X509_REVOKED *entry = NULL;
	X509 *signer = (X509 *)1;   /* must be overwritten */
	X509_CRL *crl;
	char err[256];
	bool trusted = false;

	if (fx == NULL)
		fx = fixture();
	err[0] = '\0';
	crl = crl_store_parse(data, size, fx->cas, &signer, err, sizeof(err));
	if (crl == NULL) {
		if (signer != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	for (int i = 0; i < sk_X509_num(fx->cas); i++)
		trusted |= sk_X509_value(fx->cas, i) == signer;
	if (signer == NULL || !trusted ||
	    X509_NAME_cmp(X509_get_subject_name(signer), X509_CRL_get_issuer(crl)) != 0 ||
	    X509_CRL_verify(crl, X509_get0_pubkey(signer)) != 1)
		abort();
	(void)X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(fx->laptop));
	(void)X509_CRL_get0_nextUpdate(crl);
	ERR_clear_error();
	X509_free(signer);
	X509_CRL_free(crl);
	return 0;
}

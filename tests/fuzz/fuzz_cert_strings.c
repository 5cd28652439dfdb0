/*
 * libFuzzer target for the strings authd derives from a device certificate:
 * cert_identity() from every identity source, the names of common/cert_names.h
 * (subject and issuer in RFC 2253 form, also as printable ASCII for metric
 * labels, the serial, the SAN listing) and the
 * decision record's JSON line for a decision filled from that certificate.
 *
 * Input: one certificate, DER or PEM (the smoke run is seeded with the test
 * PKI's PEM files). Whatever it holds: identities are bounded and free of
 * control bytes, every rendering is a NUL-terminated string within its
 * buffer, and the decision line is valid JSON in valid UTF-8 (checked by
 * tests/unit/json_check.h, which shares no code with the writer) shorter
 * than DECISION_LINE_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "json_check.h"
#include "policy/cert_identity.h"
#include "common/cert_names.h"
#include "policy/decision.h"

static X509 *read_cert(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *cert = NULL;
	BIO *mem;

	if (size > 5 && memcmp(data, "-----", 5) == 0 && size < INT32_MAX) {
		mem = BIO_new_mem_buf(data, (int)size);
		if (mem != NULL)
			cert = PEM_read_bio_X509(mem, NULL, NULL, NULL);
		BIO_free(mem);
	} else {
		cert = d2i_X509(NULL, &p, (long)size);
	}
	ERR_clear_error();
	return cert;
}

/* What a renderer promises: NUL-terminated inside the buffer. */
static void check_string(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

/* cert_identity's promise for FOUND and INVALID alike: no control bytes. */
static void check_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

struct san_walk {
	size_t n;
};

static void each_san(const char *san, void *arg)
{
	struct san_walk *w = arg;

	if (san == NULL)
		abort();
	(void)strlen(san);   /* ASan: the string ends inside its allocation */
	w->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum identity_source all[] = {
		IDENTITY_SUBJECT_CN, IDENTITY_SAN_DNS, IDENTITY_SAN_UPN, IDENTITY_SAN_EMAIL, IDENTITY_SERIAL,
	};
	X509 *cert = read_cert(data, size);
	struct decision d;
	struct timespec now = { .tv_sec = 1700000000, .tv_nsec = 0 };
	struct san_walk walk = { 0 };
	enum identity_source used;
	char out[256], tiny[8], name[512];
	char *line;
	size_t len;

	if (cert == NULL)
		return 0;
	decision_start(&d, 42, "nas-fuzz");
	d.cert = cert;
	d.accept = true;
	d.reason = POLICY_REASON_OK;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		enum cert_identity_status st = cert_identity(cert, &all[i], 1, out, sizeof(out), &used);

		if (st != CERT_IDENTITY_NONE) {
			check_string(out, sizeof(out));
			check_printable(out);
			if (used != all[i])
				abort();
		}
		/* A buffer too small for most values must still end in a NUL. */
		st = cert_identity(cert, &all[i], 1, tiny, sizeof(tiny), &used);
		if (st != CERT_IDENTITY_NONE)
			check_string(tiny, sizeof(tiny));
	}
	if (cert_identity(cert, all, sizeof(all) / sizeof(all[0]), out, sizeof(out), &used) ==
	    CERT_IDENTITY_FOUND) {
		snprintf(d.cert_identity, sizeof(d.cert_identity), "%s", out);
		d.identity_source = identity_source_name(used);
		snprintf(d.identity, sizeof(d.identity), "host/%s", out);
	}
	cert_name_string(X509_get_subject_name(cert), name, sizeof(name));
	check_string(name, sizeof(name));
	snprintf(d.detail, sizeof(d.detail), "subject %s", name);
	cert_name_string(X509_get_issuer_name(cert), tiny, sizeof(tiny));
	check_string(tiny, sizeof(tiny));
	/* A metric label: printable ASCII only, whatever the name holds. */
	cert_name_ascii(X509_get_subject_name(cert), out, sizeof(out));
	check_string(out, sizeof(out));
	for (const unsigned char *p = (const unsigned char *)out; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	cert_serial_hex(cert, name, sizeof(name));
	check_string(name, sizeof(name));
	/* Hex digits; OpenSSL parses negative serials (RFC 5280 forbids them), shown with a '-'. */
	for (const char *p = name + (name[0] == '-'); *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')))
			abort();
	cert_for_each_san(cert, each_san, &walk);

	line = decision_to_json(&d, &now);
	if (line != NULL) {
		len = strlen(line);
		if (!json_check_line(line, len) || len >= DECISION_LINE_MAX)
			abort();
		free(line);
	}
	decision_clear(&d);
	X509_free(cert);
	return 0;
}

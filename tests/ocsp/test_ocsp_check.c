/*
 * The OCSP client (policy/ocsp_check) as authd's revocation check sees it:
 * the status and the detail it would log, against a real `openssl ocsp`
 * responder (tests/ocsp/ocsp_responder.sh), against responses made here, and
 * against hostile HTTP servers run in this process.
 *
 * usage: test_ocsp_check GROUP PKI_DIR RESPONDER_SH OWN_DIR
 *   GROUP         verify | responder | signers | transport
 *   PKI_DIR       tests/pki/make-pki.sh output
 *   RESPONDER_SH  tests/ocsp/ocsp_responder.sh
 *   OWN_DIR       where this group keeps its responders' state
 * verify:    responses built here, judged by ocsp_check_verify_response (no network)
 * responder: one responder (delegated signer, nextUpdate +60 min) over its own copy of the
 *            Device CA's index that also lists certificates made here with an AIA
 * signers:   a responder per signer: the CA itself, a rogue CA, a trusted but unauthorized key
 * transport: connection refused, a server that never answers or trickles, broken HTTP
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "policy/ocsp_check.h"

static const char *pki_dir, *responder_sh, *own_dir;
static char ca_bundle[600], root_only[600];

/* The PKI, loaded once. */
static X509 *laptop, *revoked, *printer, *issuing_ca, *root_ca, *rogue_ca, *responder, *server;
static EVP_PKEY *issuing_ca_key, *root_ca_key, *rogue_ca_key, *responder_key, *server_key;

/* ---- helpers --------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static X509 *load_cert(const char *name)
{
	char path[700];
	X509 *x;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pem", pki_dir, name);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		fprintf(stderr, "%s: no certificate (run tests/pki/make-pki.sh)\n", path);
		exit(1);
	}
	return x;
}

static EVP_PKEY *load_key(const char *name)
{
	char path[700];
	EVP_PKEY *k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.key", pki_dir, name);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		fprintf(stderr, "%s: no key\n", path);
		exit(1);
	}
	return k;
}

static void load_pki(void)
{
	laptop = load_cert("laptop");
	revoked = load_cert("revoked");
	printer = load_cert("printer");
	issuing_ca = load_cert("issuing-ca");
	root_ca = load_cert("root-ca");
	rogue_ca = load_cert("rogue-ca");
	responder = load_cert("ocsp-responder");
	server = load_cert("server");
	issuing_ca_key = load_key("issuing-ca");
	root_ca_key = load_key("root-ca");
	rogue_ca_key = load_key("rogue-ca");
	responder_key = load_key("ocsp-responder");
	server_key = load_key("server");
	snprintf(ca_bundle, sizeof(ca_bundle), "%s/ca-bundle.pem", pki_dir);
	snprintf(root_only, sizeof(root_only), "%s/root-only.pem", pki_dir);
}

static void free_pki(void)
{
	X509 *certs[] = { laptop, revoked, printer, issuing_ca, root_ca, rogue_ca, responder, server };
	EVP_PKEY *keys[] = { issuing_ca_key, root_ca_key, rogue_ca_key, responder_key, server_key };

	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
}

/* The settings a test varies; everything else is the default. */
struct check_opts {
	char *url;
	bool no_nonce;
	unsigned timeout_ms;
	unsigned max_age_s;
	const char *ca_file;
};

static struct ocsp_check *new_check(struct check_opts o)
{
	struct ocsp_settings s;
	struct ocsp_check *c;
	char err[256];

	ocsp_settings_init(&s);
	s.url = o.url;
	s.nonce = !o.no_nonce;
	if (o.timeout_ms != 0)
		s.timeout_ms = o.timeout_ms;
	if (o.max_age_s != 0)
		s.max_age_s = o.max_age_s;
	c = ocsp_check_new(&s, o.ca_file != NULL ? o.ca_file : ca_bundle, err, sizeof(err));
	if (c == NULL)
		fail_msg("ocsp_check_new: %s", err);
	return c;
}

#define expect_answer(a, st, needle) expect_answer_at(__FILE__, __LINE__, (a), (st), (needle))

/* What a user would see: the status, and a key part of the logged detail. */
static void expect_answer_at(const char *file, int line, const struct ocsp_answer *a,
                             enum ocsp_check_status st, const char *needle)
{
	print_message("    %s: %s\n", ocsp_check_status_name(a->status), a->detail);
	if (a->status != st || (needle != NULL && strstr(a->detail, needle) == NULL))
		fail_msg("%s:%d: expected %s with \"%s\", got %s: %s", file, line, ocsp_check_status_name(st),
		         needle != NULL ? needle : "", ocsp_check_status_name(a->status), a->detail);
}

/* ---- certificates and responses made here --------------------------------------- */

static BIGNUM *random_serial(void)
{
	BIGNUM *bn = BN_new();

	assert_non_null(bn);
	assert_int_equal(BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY), 1);
	return bn;
}

/* A clientAuth device certificate from the Device CA, valid for a day, with these
 * id-ad-ocsp URIs in its AIA (raw bytes: nothing is checked, as a hostile CA would). */
static X509 *make_device(const char *cn, const BIGNUM *serial, const char *const *uris, size_t n_uris)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = serial != NULL ? BN_dup(serial) : random_serial();
	ASN1_INTEGER *sn = BN_to_ASN1_INTEGER(bn, NULL);

	assert_non_null(key);
	assert_non_null(x);
	assert_non_null(sn);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(X509_set_serialNumber(x, sn));
	assert_true(X509_set_issuer_name(x, X509_get_subject_name(issuing_ca)));
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_set_subject_name(x, name));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_true(X509_set_pubkey(x, key));
	if (n_uris > 0) {
		AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();

		for (size_t i = 0; i < n_uris; i++) {
			ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
			ASN1_IA5STRING *uri = ASN1_IA5STRING_new();

			assert_true(ASN1_STRING_set(uri, uris[i], (int)strlen(uris[i])));
			ASN1_OBJECT_free(ad->method);
			ad->method = OBJ_nid2obj(NID_ad_OCSP);
			GENERAL_NAME_free(ad->location);
			ad->location = GENERAL_NAME_new();
			GENERAL_NAME_set0_value(ad->location, GEN_URI, uri);
			assert_true(sk_ACCESS_DESCRIPTION_push(aia, ad));
		}
		assert_true(X509_add1_ext_i2d(x, NID_info_access, aia, 0, 0));
		AUTHORITY_INFO_ACCESS_free(aia);
	}
	assert_true(X509_sign(x, issuing_ca_key, EVP_sha256()) > 0);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return x;
}

/* What make_response builds: by default "good" for the laptop, thisUpdate a minute
 * ago, nextUpdate in an hour, signed by the delegated responder. */
struct resp_spec {
	X509 *about;
	int status;                 /* V_OCSP_CERTSTATUS_* */
	int reason;                 /* when revoked; OCSP_REVOKED_STATUS_NOSTATUS: none */
	long revoked_off;           /* seconds from now */
	long this_off, next_off;
	bool no_next;
	const unsigned char *nonce;
	size_t nonce_len;
	X509 *signer;
	EVP_PKEY *key;
	unsigned long sign_flags;   /* OCSP_NOCERTS, ... */
	int resp_status;            /* OCSP_RESPONSE_STATUS_*: non-zero makes an error response */
};

static struct resp_spec good_spec(void)
{
	return (struct resp_spec){
		.about = laptop, .status = V_OCSP_CERTSTATUS_GOOD, .reason = OCSP_REVOKED_STATUS_NOSTATUS,
		.this_off = -60, .next_off = 3600, .signer = responder, .key = responder_key,
	};
}

static unsigned char *make_response(const struct resp_spec *s, time_t now, size_t *len)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp;
	unsigned char *der = NULL, *copy;
	int n;

	if (s->resp_status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		OCSP_CERTID *id = OCSP_cert_to_id(NULL, s->about, issuing_ca);
		ASN1_GENERALIZEDTIME *this_upd = ASN1_GENERALIZEDTIME_adj(NULL, now, 0, s->this_off);
		ASN1_GENERALIZEDTIME *next_upd = s->no_next ? NULL : ASN1_GENERALIZEDTIME_adj(NULL, now, 0, s->next_off);
		ASN1_GENERALIZEDTIME *rev = ASN1_GENERALIZEDTIME_adj(NULL, now, 0, s->revoked_off);

		bs = OCSP_BASICRESP_new();
		assert_non_null(id);
		assert_non_null(bs);
		assert_non_null(OCSP_basic_add1_status(bs, id, s->status, s->reason,
		                                       s->status == V_OCSP_CERTSTATUS_REVOKED ? rev : NULL,
		                                       this_upd, next_upd));
		if (s->nonce != NULL)
			assert_true(OCSP_basic_add1_nonce(bs, (unsigned char *)s->nonce, (int)s->nonce_len));
		assert_true(OCSP_basic_sign(bs, s->signer, s->key, EVP_sha256(), NULL, s->sign_flags));
		OCSP_CERTID_free(id);
		ASN1_GENERALIZEDTIME_free(this_upd);
		ASN1_GENERALIZEDTIME_free(next_upd);
		ASN1_GENERALIZEDTIME_free(rev);
	}
	resp = OCSP_response_create(s->resp_status, bs);
	assert_non_null(resp);
	n = i2d_OCSP_RESPONSE(resp, &der);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	assert_non_null(copy);
	memcpy(copy, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	return copy;
}

/* Judges spec's response about spec.about with the check c. */
static enum ocsp_check_status verify_spec(struct ocsp_check *c, const struct resp_spec *s,
                                          const unsigned char *nonce, size_t nonce_len,
                                          struct ocsp_answer *a)
{
	time_t now = time(NULL);
	size_t len;
	unsigned char *der = make_response(s, now, &len);
	enum ocsp_check_status st;

	st = ocsp_check_verify_response(c, der, len, s->about, issuing_ca, nonce, nonce_len, now, a);
	free(der);
	return st;
}

/* ---- group "verify": responses made here, no network ------------------------------ */

static void test_verify_good_by_delegated_responder(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;
	time_t now = time(NULL);

	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "OCSP: good (thisUpdate ");
	assert_true(a.this_update >= now - 62 && a.this_update <= now - 58);
	assert_true(a.next_update - a.this_update == 3660);
	ocsp_check_free(c);
}

static void test_verify_good_by_issuing_ca(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;

	s.signer = issuing_ca;
	s.key = issuing_ca_key;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	/* Without its certificate in the response: the issuer we were given is the signer. */
	s.sign_flags = OCSP_NOCERTS;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	ocsp_check_free(c);
}

static void test_verify_trusting_only_the_root(void **state)
{
	/* tls.ca = the root: the responder's chain goes through the issuer we were given. */
	struct ocsp_check *c = new_check((struct check_opts){ .ca_file = root_only });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;

	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	ocsp_check_free(c);
}

static void test_verify_revoked(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;
	time_t now = time(NULL);

	s.about = revoked;
	s.status = V_OCSP_CERTSTATUS_REVOKED;
	s.reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
	s.revoked_off = -86400;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_REVOKED, "(keyCompromise)");
	assert_int_equal(a.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_true(a.revoked_at >= now - 86401 && a.revoked_at <= now - 86399);
	assert_non_null(strstr(a.detail, "revoked at "));

	s.reason = OCSP_REVOKED_STATUS_NOSTATUS;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_REVOKED, "(no reason given)");
	assert_int_equal(a.reason, -1);
	ocsp_check_free(c);
}

static void test_verify_unknown(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;

	s.status = V_OCSP_CERTSTATUS_UNKNOWN;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_UNKNOWN, "unknown: the responder does not know serial");
	ocsp_check_free(c);
}

static void test_verify_signers_refused(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;

	/* A CA nobody trusts. */
	s.signer = rogue_ca;
	s.key = rogue_ca_key;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "signature check failed: signer CN=authd Rogue CA");
	assert_non_null(strstr(a.detail, "does not chain to a trusted CA"));
	assert_int_equal(a.this_update, 0);

	/* Trusted chain, but no OCSPSigning: the server's key may not speak for the CA. */
	s.signer = server;
	s.key = server_key;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "signer CN=authd.test is neither the certificate's issuer nor a responder delegated by it");

	/* The root is trusted, but it did not issue the laptop: it may not answer for it. */
	s.signer = root_ca;
	s.key = root_ca_key;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "is neither the certificate's issuer nor a responder delegated by it");
	ocsp_check_free(c);
}

static void test_verify_corrupt_signature(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;
	time_t now = time(NULL);
	unsigned char *der;
	size_t len;

	/* Without certificates the signature is the end of the DER. */
	s.signer = issuing_ca;
	s.key = issuing_ca_key;
	s.sign_flags = OCSP_NOCERTS;
	der = make_response(&s, now, &len);
	der[len - 1] ^= 0x01;
	ocsp_check_verify_response(c, der, len, laptop, issuing_ca, NULL, 0, now, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "signature check failed: the signature of");
	free(der);
	ocsp_check_free(c);
}

static void test_verify_nonce(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	unsigned char ours[32], theirs[32];
	struct ocsp_answer a;

	RAND_bytes(ours, sizeof(ours));
	memcpy(theirs, ours, sizeof(ours));
	theirs[0] ^= 0xff;
	s.nonce = ours;
	s.nonce_len = sizeof(ours);
	verify_spec(c, &s, ours, sizeof(ours), &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	/* Sent none: an echo is no harm. */
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");

	s.nonce = theirs;
	verify_spec(c, &s, ours, sizeof(ours), &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "carries another nonce than ours");

	s.nonce = NULL;
	verify_spec(c, &s, ours, sizeof(ours), &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "does not echo our nonce");
	ocsp_check_free(c);
}

static void test_verify_times(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ .max_age_s = 600 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;

	s.this_off = -7200;
	s.next_off = -3600;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "stale response: nextUpdate");

	/* A clock a little behind the responder's is tolerated. */
	s.next_off = -(OCSP_CHECK_CLOCK_SKEW_S / 2);
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");

	s.this_off = 3600;
	s.next_off = 7200;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "is in the future");

	s.this_off = -60;
	s.next_off = -120;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "is before thisUpdate");

	/* Without nextUpdate, max_age decides. */
	s.no_next = true;
	s.this_off = -60;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	assert_int_equal(a.next_update, 0);
	s.this_off = -601;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "stale response: no nextUpdate and thisUpdate");
	assert_non_null(strstr(a.detail, "more than 600 s old"));
	ocsp_check_free(c);
}

static void test_verify_wrong_certificate(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	struct ocsp_answer a;
	time_t now = time(NULL);
	unsigned char *der;
	size_t len;

	s.about = printer;
	der = make_response(&s, now, &len);
	ocsp_check_verify_response(c, der, len, laptop, issuing_ca, NULL, 0, now, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "the response says nothing about this certificate (serial ");
	free(der);
	ocsp_check_free(c);
}

static void test_verify_malformed(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct resp_spec s = good_spec();
	unsigned char junk[64], *der, *longer;
	struct ocsp_answer a;
	time_t now = time(NULL);
	size_t len;

	ocsp_check_verify_response(c, junk, 0, laptop, issuing_ca, NULL, 0, now, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "response of 0 bytes");
	memset(junk, 0x30, sizeof(junk));
	ocsp_check_verify_response(c, junk, sizeof(junk), laptop, issuing_ca, NULL, 0, now, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "not a DER OCSPResponse");

	der = make_response(&s, now, &len);
	ocsp_check_verify_response(c, der, len - 1, laptop, issuing_ca, NULL, 0, now, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "not a DER OCSPResponse");
	longer = malloc(len + 3);
	assert_non_null(longer);
	memcpy(longer, der, len);
	memset(longer + len, 0, 3);
	ocsp_check_verify_response(c, longer, len + 3, laptop, issuing_ca, NULL, 0, now, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "3 bytes after the OCSPResponse");
	ocsp_check_verify_response(c, der, len, laptop, NULL, NULL, 0, now, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "no certificate or no issuer");
	free(longer);
	free(der);

	s.resp_status = OCSP_RESPONSE_STATUS_TRYLATER;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "the responder refused: trylater");
	s.resp_status = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
	verify_spec(c, &s, NULL, 0, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "the responder refused: unauthorized");
	ocsp_check_free(c);
}

static void test_settings_refused(void **state)
{
	struct ocsp_settings s;
	char err[256], missing[700];

	ocsp_settings_init(&s);
	assert_true(s.nonce);
	assert_int_equal(s.timeout_ms, OCSP_CHECK_DEFAULT_TIMEOUT_MS);
	s.url = "https://ocsp.example.com/";
	assert_null(ocsp_check_new(&s, ca_bundle, err, sizeof(err)));
	assert_non_null(strstr(err, "https responder URLs are not supported"));
	s.url = "ldap://ocsp.example.com/";
	assert_null(ocsp_check_new(&s, ca_bundle, err, sizeof(err)));
	assert_non_null(strstr(err, "not an http:// URL"));
	s.url = "http://ocsp.example.com:0/";
	assert_null(ocsp_check_new(&s, ca_bundle, err, sizeof(err)));
	assert_non_null(strstr(err, "malformed port"));
	s.url = NULL;
	s.timeout_ms = 0;
	assert_null(ocsp_check_new(&s, ca_bundle, err, sizeof(err)));
	assert_non_null(strstr(err, "timeout"));
	s.timeout_ms = 1000;
	snprintf(missing, sizeof(missing), "%s/no-such-ca.pem", pki_dir);
	assert_null(ocsp_check_new(&s, missing, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	snprintf(missing, sizeof(missing), "%s/issuing-ca.index", pki_dir);
	assert_null(ocsp_check_new(&s, missing, err, sizeof(err)));
	assert_non_null(strstr(err, "no PEM certificate"));
	/* Good ones: IPv6, a query and a fragment; no path, the scheme in capitals. */
	for (int i = 0; i < 2; i++) {
		struct ocsp_check *c;

		s.url = i == 0 ? "http://[::1]:8080/ocsp?x=1#frag" : "HTTP://ocsp.example.com";
		c = ocsp_check_new(&s, ca_bundle, err, sizeof(err));
		if (c == NULL)
			fail_msg("%s: %s", s.url, err);
		ocsp_check_free(c);
	}
}

/* ---- a real responder ------------------------------------------------------------- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Starts ocsp_responder.sh in OWN_DIR/name with extra arguments; returns its port. */
static int responder_start(const char *name, const char *args)
{
	char cmd[4096], line[64];
	int port = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' start '%s/%s' '%s' %s", responder_sh, own_dir, name, pki_dir, args);
	p = popen(cmd, "r");
	if (p == NULL)
		fail_msg("%s: %s", cmd, strerror(errno));
	if (fgets(line, sizeof(line), p) != NULL)
		port = atoi(line);
	if (pclose(p) != 0 || port <= 0)
		fail_msg("%s failed", cmd);
	return port;
}

static void responder_stop(const char *name)
{
	run("'%s' stop '%s/%s'", responder_sh, own_dir, name);
}

static int responder_count(const char *name)
{
	char cmd[2048], line[64];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' count '%s/%s'", responder_sh, own_dir, name);
	p = popen(cmd, "r");
	if (p != NULL && fgets(line, sizeof(line), p) != NULL)
		n = atoi(line);
	if (p != NULL)
		pclose(p);
	return n;
}

/* The shared responder of the "responder" group and the certificates made for it. */
static int port;
static char url[128], dead_url[128];
static X509 *aia_device, *aia_localhost_device, *unlisted;

/* An `openssl ca` index line saying cert is valid. */
static void index_line(FILE *f, const BIGNUM *serial, const char *cn)
{
	char expiry[32], *hex = BN_bn2hex(serial);
	time_t t = time(NULL) + 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(expiry, sizeof(expiry), "%Y%m%d%H%M%SZ", &tm);
	/* UTCTime: two digits of year. */
	fprintf(f, "V\t%s\t\t%s\tunknown\t/CN=%s\n", expiry + 2, hex, cn);
	OPENSSL_free(hex);
}

/* A port where nothing listens (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static int responder_setup(void **state)
{
	BIGNUM *aia_serial = random_serial(), *localhost_serial = random_serial();
	char index[700], src[700], copy[2048], uri[128];
	const char *uris[1] = { uri };
	FILE *f;

	/* The index must list the AIA certificates before the responder starts, and their
	 * AIA must name its port: the serials come first. */
	snprintf(src, sizeof(src), "%s/issuing-ca.index", pki_dir);
	snprintf(index, sizeof(index), "%s/issuing-ca.index", own_dir);
	run("mkdir -p '%s'", own_dir);
	snprintf(copy, sizeof(copy), "cp '%s' '%s'", src, index);
	if (system(copy) != 0)
		fail_msg("%s failed", copy);
	f = fopen(index, "a");
	assert_non_null(f);
	index_line(f, aia_serial, "aia-0001.corp.example");
	index_line(f, localhost_serial, "aia-localhost-0001.corp.example");
	fclose(f);
	snprintf(copy, sizeof(copy), "--nmin 60 --index '%s'", index);
	port = responder_start("shared", copy);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d/", closed_port());

	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/", port);
	aia_device = make_device("aia-0001.corp.example", aia_serial, uris, 1);
	snprintf(uri, sizeof(uri), "http://localhost:%d/", port);
	aia_localhost_device = make_device("aia-localhost-0001.corp.example", localhost_serial, uris, 1);
	unlisted = make_device("unlisted-0001.corp.example", NULL, NULL, 0);
	BN_free(aia_serial);
	BN_free(localhost_serial);
	return 0;
}

static int responder_teardown(void **state)
{
	responder_stop("shared");
	X509_free(aia_device);
	X509_free(aia_localhost_device);
	X509_free(unlisted);
	return 0;
}

static void test_responder_good(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ .url = url });
	struct ocsp_answer a;
	char expect[200];
	int before = responder_count("shared");
	time_t now = time(NULL);

	assert_int_equal(ocsp_check_query(c, laptop, issuing_ca, &a), OCSP_CHECK_GOOD);
	snprintf(expect, sizeof(expect), "OCSP %s: good (thisUpdate ", url);
	expect_answer(&a, OCSP_CHECK_GOOD, expect);
	/* -nmin 60 */
	assert_int_equal(a.next_update - a.this_update, 3600);
	assert_true(a.this_update >= now - 5 && a.this_update <= now + 5);
	assert_int_equal(responder_count("shared"), before + 1);
	ocsp_check_free(c);
}

static void test_responder_revoked(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ .url = url });
	const ASN1_TIME *issued = X509_get0_notBefore(revoked);
	struct ocsp_answer a;
	struct tm tm;
	time_t issued_at;

	ocsp_check_query(c, revoked, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_REVOKED, "(keyCompromise)");
	assert_non_null(strstr(a.detail, "revoked at 20"));
	assert_int_equal(a.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	/* make-pki.sh revokes it right after issuing it. */
	assert_true(ASN1_TIME_to_tm(issued, &tm));
	issued_at = timegm(&tm);
	assert_true(a.revoked_at >= issued_at - 5 && a.revoked_at <= time(NULL));
	ocsp_check_free(c);
}

static void test_responder_unknown(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ .url = url });
	struct ocsp_answer a;

	ocsp_check_query(c, unlisted, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_UNKNOWN, "the responder does not know serial");
	ocsp_check_free(c);
}

static void test_responder_from_aia(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct ocsp_answer a;
	char expect[200];

	snprintf(expect, sizeof(expect), "OCSP %s: good", url);
	ocsp_check_query(c, aia_device, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, expect);
	/* A host name is resolved (within the deadline too). */
	snprintf(expect, sizeof(expect), "OCSP http://localhost:%d/: good", port);
	ocsp_check_query(c, aia_localhost_device, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, expect);
	/* The laptop names no responder. */
	ocsp_check_query(c, laptop, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "the certificate names no OCSP responder (AIA) and no ocsp url is set");
	ocsp_check_free(c);
}

static void test_responder_override_beats_aia(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ .url = dead_url });
	struct ocsp_answer a;
	int before = responder_count("shared");

	ocsp_check_query(c, aia_device, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "Connection refused");
	assert_non_null(strstr(a.detail, dead_url));
	assert_int_equal(responder_count("shared"), before);
	ocsp_check_free(c);
}

static void test_responder_hostile_aia(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ .timeout_ms = 1000 });
	char good[128], https[128], injected[160], userinfo[128], toolong[2100];
	struct {
		const char *uris[2];
		size_t n;
		enum ocsp_check_status status;
		const char *detail;
	} cases[] = {
		{ { https }, 1, OCSP_CHECK_FAILED, "https responder URLs are not supported" },
		{ { "ldap://127.0.0.1/cn=ocsp" }, 1, OCSP_CHECK_FAILED, "not an http:// URL" },
		{ { injected }, 1, OCSP_CHECK_FAILED, "space, control or non-ASCII character" },
		{ { "http://127.0.0.1:99999/" }, 1, OCSP_CHECK_FAILED, "malformed port" },
		{ { "http://[::1/" }, 1, OCSP_CHECK_FAILED, "malformed IPv6 address" },
		{ { "http:///path" }, 1, OCSP_CHECK_FAILED, "URL without a host" },
		{ { "http://a_b%00c/" }, 1, OCSP_CHECK_FAILED, "malformed host name" },
		{ { userinfo }, 1, OCSP_CHECK_FAILED, "user information" },
		{ { toolong }, 1, OCSP_CHECK_FAILED, "URL longer than 1024 bytes" },
		{ { "" }, 1, OCSP_CHECK_FAILED, "names no OCSP responder" },
		/* The http:// one is taken over an https:// one listed first. */
		{ { https, good }, 2, OCSP_CHECK_UNKNOWN, good },
	};
	int before = responder_count("shared");

	snprintf(good, sizeof(good), "http://127.0.0.1:%d/", port);
	snprintf(https, sizeof(https), "https://127.0.0.1:%d/", port);
	snprintf(injected, sizeof(injected), "http://127.0.0.1:%d/ HTTP/1.0\r\nX-Injected: 1\r\n\r\n", port);
	snprintf(userinfo, sizeof(userinfo), "http://user:pw@127.0.0.1:%d/", port);
	snprintf(toolong, sizeof(toolong), "http://127.0.0.1:%d/", port);
	memset(toolong + strlen(toolong), 'a', sizeof(toolong) - strlen(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = make_device("hostile-aia.corp.example", NULL, cases[i].uris, cases[i].n);
		struct ocsp_answer a;

		ocsp_check_query(c, x, issuing_ca, &a);
		expect_answer(&a, cases[i].status, cases[i].detail);
		X509_free(x);
	}
	/* Only the last one was asked. */
	assert_int_equal(responder_count("shared"), before + 1);
	ocsp_check_free(c);
}

static void test_responder_nonce_off(void **state)
{
	struct ocsp_check *c = new_check((struct check_opts){ .url = url, .no_nonce = true });
	struct ocsp_answer a;

	ocsp_check_query(c, laptop, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	ocsp_check_free(c);
}

struct parallel {
	struct ocsp_check *c;
	int index;
	int wrong;
	char detail[256];
};

static void *parallel_queries(void *arg)
{
	struct parallel *p = arg;

	for (int i = 0; i < 5; i++) {
		bool bad = (p->index + i) % 2 == 1;
		struct ocsp_answer a;

		ocsp_check_query(p->c, bad ? revoked : laptop, issuing_ca, &a);
		if (a.status != (bad ? OCSP_CHECK_REVOKED : OCSP_CHECK_GOOD)) {
			p->wrong++;
			snprintf(p->detail, sizeof(p->detail), "%s", a.detail);
		}
	}
	return NULL;
}

static void test_responder_parallel(void **state)
{
	/* One check shared by backend threads; the responder serves them one at a time. */
	struct ocsp_check *c = new_check((struct check_opts){ .url = url, .timeout_ms = 10000 });
	struct parallel p[6];
	pthread_t t[6];

	for (int i = 0; i < 6; i++) {
		p[i] = (struct parallel){ .c = c, .index = i };
		assert_int_equal(pthread_create(&t[i], NULL, parallel_queries, &p[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		if (p[i].wrong != 0)
			fail_msg("thread %d: %d wrong answers, e.g. %s", i, p[i].wrong, p[i].detail);
	}
	ocsp_check_free(c);
}

static void test_responder_revoked_at_run_time(void **state)
{
	/* The helpdesk revokes at the CA; the next query sees it. */
	struct ocsp_check *c = new_check((struct check_opts){ 0 });
	struct ocsp_answer a;
	char pem[700];
	FILE *f;

	ocsp_check_query(c, aia_device, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	snprintf(pem, sizeof(pem), "%s/aia.pem", own_dir);
	f = fopen(pem, "w");
	assert_non_null(f);
	assert_true(PEM_write_X509(f, aia_device));
	fclose(f);
	assert_int_equal(run("'%s' revoke '%s/shared' '%s' superseded", responder_sh, own_dir, pem), 0);
	ocsp_check_query(c, aia_device, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_REVOKED, "(superseded)");
	assert_int_equal(a.reason, OCSP_REVOKED_STATUS_SUPERSEDED);
	assert_true(a.revoked_at >= time(NULL) - 60 && a.revoked_at <= time(NULL));
	ocsp_check_free(c);
}

static void test_responder_answers_only_for_its_ca(void **state)
{
	/* It answers "unknown" about another CA's certificate, signed with a key delegated by
	 * the Device CA only: that says nothing about the rogue CA's certificates. */
	struct ocsp_check *c = new_check((struct check_opts){ .url = url });
	X509 *rogue = load_cert("rogue");
	struct ocsp_answer a;

	ocsp_check_query(c, rogue, rogue_ca, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "is neither the certificate's issuer nor a responder delegated by it");
	X509_free(rogue);
	ocsp_check_free(c);
}

/* ---- group "signers": a responder per signer ------------------------------------------ */

static struct ocsp_answer ask_responder(const char *name, const char *args, X509 *cert)
{
	char u[128];
	struct ocsp_check *c;
	struct ocsp_answer a;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", responder_start(name, args));
	c = new_check((struct check_opts){ .url = u });
	ocsp_check_query(c, cert, issuing_ca, &a);
	ocsp_check_free(c);
	responder_stop(name);
	return a;
}

static void test_signer_issuing_ca(void **state)
{
	struct ocsp_answer a = ask_responder("ca", "--signer ca --nmin 5", revoked);

	expect_answer(&a, OCSP_CHECK_REVOKED, "(keyCompromise)");
}

static void test_signer_rogue(void **state)
{
	struct ocsp_answer a = ask_responder("rogue", "--signer rogue --nmin 5", laptop);

	expect_answer(&a, OCSP_CHECK_FAILED, "signature check failed: signer CN=authd Rogue CA");
	assert_non_null(strstr(a.detail, "does not chain to a trusted CA"));
}

static void test_signer_unauthorized(void **state)
{
	struct ocsp_answer a = ask_responder("server", "--signer server --nmin 5", laptop);

	expect_answer(&a, OCSP_CHECK_FAILED, "signer CN=authd.test is neither the certificate's issuer nor a responder delegated by it");
}

static void test_signer_without_next_update(void **state)
{
	/* Without -nmin there is no nextUpdate: a fresh answer passes max_age. */
	struct ocsp_answer a = ask_responder("no-next", "", laptop);

	expect_answer(&a, OCSP_CHECK_GOOD, "good");
	assert_int_equal(a.next_update, 0);
}

/* ---- group "transport": hostile HTTP servers in this process ----------------------------- */

/* A server on 127.0.0.1 that answers each connection with reply (after reading the
 * request), or trickles one byte every trickle_ms forever, or (listen_only) never accepts. */
struct fake_server {
	int fd, port;
	const char *reply;
	size_t reply_len;
	int trickle_ms;
	bool listen_only;
	atomic_bool stop;
	pthread_t thread;
};

/* Reads one HTTP request (headers and Content-Length bytes), or gives up after 2 s. */
static void read_request(int fd)
{
	char buf[8192];
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (len < sizeof(buf) && poll(&p, 1, 2000) > 0) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
		char *end, *cl;

		if (n <= 0)
			return;
		len += (size_t)n;
		end = memmem(buf, len, "\r\n\r\n", 4);
		if (end == NULL)
			continue;
		cl = memmem(buf, (size_t)(end - buf), "Content-Length: ", 16);
		if (cl == NULL || (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10) <= len)
			return;
	}
}

static void *fake_serve(void *arg)
{
	struct fake_server *s = arg;
	struct pollfd p = { .fd = s->fd, .events = POLLIN };

	while (!atomic_load(&s->stop)) {
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(s->fd, NULL, NULL);
		if (fd < 0)
			continue;
		read_request(fd);
		if (s->trickle_ms > 0) {
			static const char start[] = "HTTP/1.0 200 OK\r\nX-Slow: ";

			send(fd, start, sizeof(start) - 1, MSG_NOSIGNAL);
			while (!atomic_load(&s->stop) && send(fd, "a", 1, MSG_NOSIGNAL) == 1)
				usleep((useconds_t)s->trickle_ms * 1000);
		} else {
			for (size_t off = 0; off < s->reply_len;) {
				ssize_t n = send(fd, s->reply + off, s->reply_len - off, MSG_NOSIGNAL);

				if (n <= 0)
					break;
				off += (size_t)n;
			}
		}
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake_server *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
	s->port = ntohs(sa.sin_port);
	atomic_store(&s->stop, false);
	if (!s->listen_only)
		assert_int_equal(pthread_create(&s->thread, NULL, fake_serve, s), 0);
}

static void fake_stop(struct fake_server *s)
{
	atomic_store(&s->stop, true);
	if (!s->listen_only)
		pthread_join(s->thread, NULL);
	close(s->fd);
}

/* Asks the fake server about the laptop (no nonce: it cannot echo one); returns the elapsed ms. */
static uint64_t ask_fake(struct fake_server *s, unsigned timeout_ms, struct ocsp_answer *a)
{
	char u[64];
	struct ocsp_check *c;
	uint64_t start;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/ocsp", s->port);
	c = new_check((struct check_opts){ .url = u, .no_nonce = true, .timeout_ms = timeout_ms });
	start = now_ms();
	ocsp_check_query(c, laptop, issuing_ca, a);
	start = now_ms() - start;
	ocsp_check_free(c);
	print_message("    (%llu ms)\n", (unsigned long long)start);
	return start;
}

static void test_transport_refused(void **state)
{
	char u[64];
	struct ocsp_check *c;
	struct ocsp_answer a;
	uint64_t start;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", closed_port());
	c = new_check((struct check_opts){ .url = u });
	start = now_ms();
	ocsp_check_query(c, laptop, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "cannot connect to 127.0.0.1:");
	assert_non_null(strstr(a.detail, "Connection refused"));
	assert_true(now_ms() - start < 1000);
	ocsp_check_free(c);
}

static void test_transport_never_answers(void **state)
{
	/* Listens (the kernel completes the handshake) but never accepts nor reads. */
	struct fake_server s = { .listen_only = true };
	struct ocsp_answer a;
	uint64_t ms;

	fake_start(&s);
	ms = ask_fake(&s, 500, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "no answer within 500 ms (waiting for the response)");
	assert_true(ms >= 450);
	assert_true(ms < 1500);
	fake_stop(&s);
}

static void test_transport_trickles(void **state)
{
	struct fake_server s = { .trickle_ms = 50 };
	struct ocsp_answer a;
	uint64_t ms;

	fake_start(&s);
	ms = ask_fake(&s, 500, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "no answer within 500 ms (reading the response");
	assert_true(ms < 1500);
	fake_stop(&s);
}

static void test_transport_connect_hangs(void **state)
{
	/* A full accept queue: further SYNs are dropped and connect() hangs. */
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fillers[8], n_fill = 0;
	char u[64];
	struct ocsp_check *c;
	struct ocsp_answer a;
	uint64_t start, ms;

	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	for (; n_fill < 8; n_fill++) {
		fillers[n_fill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fillers[n_fill], (struct sockaddr *)&sa, sizeof(sa));
	}
	usleep(100 * 1000);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	c = new_check((struct check_opts){ .url = u, .timeout_ms = 500 });
	start = now_ms();
	ocsp_check_query(c, laptop, issuing_ca, &a);
	ms = now_ms() - start;
	print_message("    (%llu ms)\n", (unsigned long long)ms);
	expect_answer(&a, OCSP_CHECK_FAILED, "no answer within 500 ms");
	assert_true(ms < 1500);
	ocsp_check_free(c);
	for (int i = 0; i < n_fill; i++)
		close(fillers[i]);
	close(lfd);
}

static void test_transport_unresolvable(void **state)
{
	/* Either the resolver says no at once or the deadline ends the wait. */
	struct ocsp_check *c = new_check((struct check_opts){ .url = "http://ocsp.authd-test.invalid/",
	                                                      .timeout_ms = 500 });
	struct ocsp_answer a;
	uint64_t start = now_ms();

	ocsp_check_query(c, laptop, issuing_ca, &a);
	expect_answer(&a, OCSP_CHECK_FAILED, "resolv");
	assert_true(now_ms() - start < 1500);
	ocsp_check_free(c);
}

#define OK_HEAD "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"

static void test_transport_broken_http(void **state)
{
	static char big_body[8192 + 70000];
	struct {
		const char *reply;
		size_t len;
		const char *detail;
	} cases[] = {
		{ "HTTP/1.0 500 Internal Server Error\r\n\r\n", 0, "HTTP status 500 Internal Server Error" },
		{ "HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html>", 0, "HTTP status 404" },
		{ "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello", 0,
		  "Content-Type \"text/html\", not application/ocsp-response" },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, "no Content-Type" },
		{ OK_HEAD "Content-Length: 1000\r\n\r\n0123456789", 0, "truncated response: 10 of 1000 bytes" },
		{ OK_HEAD "Content-Length: 10000000\r\n\r\n", 0, "response of 10000000 bytes is larger than the limit of 65536" },
		{ OK_HEAD "Content-Length: 12x\r\n\r\n", 0, "malformed Content-Length \"12x\"" },
		{ OK_HEAD "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 0, "two different Content-Length headers" },
		{ OK_HEAD "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "Transfer-Encoding \"chunked\"" },
		{ "SSH-2.0-OpenSSH_9.2\r\n\r\n", 0, "not an HTTP/1.x response: \"SSH-2.0-OpenSSH_9.2\"" },
		{ "", 0, "connection closed without an answer" },
		{ "HTTP/1.0 200 OK\r\nContent-Ty", 0, "connection closed inside the HTTP response headers" },
		{ OK_HEAD "Content-Length: 0\r\n\r\n", 0, "empty HTTP body" },
		{ OK_HEAD "Content-Length: 5\r\n\r\nhello", 0, "not a DER OCSPResponse" },
		{ OK_HEAD "\r\n", 0, "empty HTTP body" },
		{ big_body, 0, "response larger than the limit of 65536 bytes" },
		{ NULL, 0, "HTTP response headers longer than 8192 bytes" },
	};
	static char long_head[9000];

	/* No Content-Length and more than the limit before the close. */
	memcpy(big_body, OK_HEAD "\r\n", sizeof(OK_HEAD "\r\n") - 1);
	memset(big_body + sizeof(OK_HEAD "\r\n") - 1, 'x', sizeof(big_body) - sizeof(OK_HEAD "\r\n"));
	cases[15].len = sizeof(big_body) - 1;
	snprintf(long_head, sizeof(long_head), "HTTP/1.0 200 OK\r\nX-Long: ");
	memset(long_head + strlen(long_head), 'y', sizeof(long_head) - strlen(long_head) - 1);
	cases[16].reply = long_head;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_server s = { .reply = cases[i].reply };
		struct ocsp_answer a;

		s.reply_len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].reply);
		fake_start(&s);
		ask_fake(&s, 2000, &a);
		expect_answer(&a, OCSP_CHECK_FAILED, cases[i].detail);
		fake_stop(&s);
	}
}

static void test_transport_valid_variants(void **state)
{
	/* What real responders send: HTTP/1.1, header case, parameters, no Content-Length. */
	static const struct {
		const char *head;
		bool with_length;
		const char *eol;
	} variants[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nConnection: close\r\n", true, "\r\n" },
		{ "HTTP/1.0 200 OK\r\ncontent-type:APPLICATION/OCSP-RESPONSE ; q=1\r\n", false, "\r\n" },
		{ "HTTP/1.0 200 OK\nContent-type: application/ocsp-response\n", true, "\n" },
	};
	struct resp_spec spec = good_spec();
	size_t der_len;
	unsigned char *der = make_response(&spec, time(NULL), &der_len);

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		char *reply = malloc(512 + der_len);
		struct fake_server s;
		struct ocsp_answer a;
		int n;

		assert_non_null(reply);
		n = snprintf(reply, 512, "%s", variants[i].head);
		if (variants[i].with_length)
			n += snprintf(reply + n, 512 - (size_t)n, "Content-Length: %zu%s", der_len, variants[i].eol);
		n += snprintf(reply + n, 512 - (size_t)n, "%s", variants[i].eol);
		memcpy(reply + n, der, der_len);
		s = (struct fake_server){ .reply = reply, .reply_len = (size_t)n + der_len };
		fake_start(&s);
		ask_fake(&s, 2000, &a);
		expect_answer(&a, OCSP_CHECK_GOOD, "/ocsp: good");
		fake_stop(&s);
		free(reply);
	}
	free(der);
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct CMUnitTest verify[] = {
		cmocka_unit_test(test_verify_good_by_delegated_responder),
		cmocka_unit_test(test_verify_good_by_issuing_ca),
		cmocka_unit_test(test_verify_trusting_only_the_root),
		cmocka_unit_test(test_verify_revoked),
		cmocka_unit_test(test_verify_unknown),
		cmocka_unit_test(test_verify_signers_refused),
		cmocka_unit_test(test_verify_corrupt_signature),
		cmocka_unit_test(test_verify_nonce),
		cmocka_unit_test(test_verify_times),
		cmocka_unit_test(test_verify_wrong_certificate),
		cmocka_unit_test(test_verify_malformed),
		cmocka_unit_test(test_settings_refused),
	};
	static const struct CMUnitTest responder_tests[] = {
		cmocka_unit_test(test_responder_good),
		cmocka_unit_test(test_responder_revoked),
		cmocka_unit_test(test_responder_unknown),
		cmocka_unit_test(test_responder_from_aia),
		cmocka_unit_test(test_responder_override_beats_aia),
		cmocka_unit_test(test_responder_hostile_aia),
		cmocka_unit_test(test_responder_nonce_off),
		cmocka_unit_test(test_responder_parallel),
		cmocka_unit_test(test_responder_answers_only_for_its_ca),
		cmocka_unit_test(test_responder_revoked_at_run_time),
	};
	static const struct CMUnitTest signers[] = {
		cmocka_unit_test(test_signer_issuing_ca),
		cmocka_unit_test(test_signer_rogue),
		cmocka_unit_test(test_signer_unauthorized),
		cmocka_unit_test(test_signer_without_next_update),
	};
	static const struct CMUnitTest transport[] = {
		cmocka_unit_test(test_transport_refused),
		cmocka_unit_test(test_transport_never_answers),
		cmocka_unit_test(test_transport_trickles),
		cmocka_unit_test(test_transport_connect_hangs),
		cmocka_unit_test(test_transport_unresolvable),
		cmocka_unit_test(test_transport_broken_http),
		cmocka_unit_test(test_transport_valid_variants),
	};
	const char *group = argc > 1 ? argv[1] : "";
	int rc = 2;

	if (argc != 5) {
		fprintf(stderr, "usage: %s verify|responder|signers|transport PKI_DIR RESPONDER_SH OWN_DIR\n",
		        argv[0]);
		return 2;
	}
	pki_dir = argv[2];
	responder_sh = argv[3];
	own_dir = argv[4];
	signal(SIGPIPE, SIG_IGN);   /* as authd does; the client itself needs no help (MSG_NOSIGNAL) */
	load_pki();
	if (strcmp(group, "verify") == 0)
		rc = cmocka_run_group_tests_name("ocsp_verify", verify, NULL, NULL);
	else if (strcmp(group, "responder") == 0)
		rc = cmocka_run_group_tests_name("ocsp_responder", responder_tests, responder_setup,
		                                 responder_teardown);
	else if (strcmp(group, "signers") == 0)
		rc = cmocka_run_group_tests_name("ocsp_signers", signers, NULL, NULL);
	else if (strcmp(group, "transport") == 0)
		rc = cmocka_run_group_tests_name("ocsp_transport", transport, NULL, NULL);
	else
		fprintf(stderr, "%s: unknown group %s\n", argv[0], group);
	free_pki();
	return rc;
}

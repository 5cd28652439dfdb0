#include "policy/ocsp_check.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/breaker.h"
#include "common/cert_names.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "common/printable.h"
#include "common/utc_time.h"

#define NONCE_LEN 32            /* RFC 8954: clients SHOULD send 32 octets */
/* A responder's breaker: one that stopped answering is skipped for a while. */
struct responder {
	char url[HTTP_URL_MAX];          /* "" until taken */
	struct breaker breaker;
};

struct ocsp_check {
	char *url;                  /* override, or NULL: the certificate's AIA */
	bool nonce;
	unsigned timeout_ms;
	unsigned max_age_s;
	X509_STORE *store;          /* the trusted CAs; only read once ocsp_check_new returns */
	pthread_mutex_t responders_lock;   /* guards the urls of responders */
	struct responder responders[OCSP_CHECK_RESPONDERS];
	struct backend_observer observer;  /* all zero: none */
};

void ocsp_settings_init(struct ocsp_settings *s)
{
	*s = (struct ocsp_settings){
		.url = NULL, .nonce = true,
		.timeout_ms = OCSP_CHECK_DEFAULT_TIMEOUT_MS, .max_age_s = OCSP_CHECK_DEFAULT_MAX_AGE_S,
	};
}

const char *ocsp_check_status_name(enum ocsp_check_status s)
{
	switch (s) {
	case OCSP_CHECK_GOOD: return "good";
	case OCSP_CHECK_REVOKED: return "revoked";
	case OCSP_CHECK_UNKNOWN: return "unknown";
	case OCSP_CHECK_FAILED: break;
	}
	return "failed";
}

/* A responder's URL: plain http://, since OCSP's answers are signed. */
static int parse_responder_url(const char *url, struct http_url *u, char *why, size_t whylen)
{
	int rc = http_url_parse(url, u, why, whylen);

	if (rc == HTTP_URL_HTTPS)
		snprintf(why, whylen, "https responder URLs are not supported (OCSP is served over "
		                      "http: its responses are signed)");
	return rc < 0 ? -1 : 0;
}

/* The first id-ad-ocsp URL of cert that is http://; else the first one (it will be refused). */
static char *aia_url(X509 *cert)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	char *url = NULL;

	for (int i = 0; i < sk_OPENSSL_STRING_num(urls) && url == NULL; i++) {
		if (strncasecmp(sk_OPENSSL_STRING_value(urls, i), "http://", 7) == 0)
			url = strdup(sk_OPENSSL_STRING_value(urls, i));
	}
	if (url == NULL && sk_OPENSSL_STRING_num(urls) > 0)
		url = strdup(sk_OPENSSL_STRING_value(urls, 0));
	X509_email_free(urls);
	return url;
}

/* ---- the response ------------------------------------------------------------ */

/*
 * Why OCSP_basic_verify refused, from its error queue: the first OCSP reason
 * and its data (the X509 verify error, when the signer's chain failed).
 */
static void verify_failure(OCSP_BASICRESP *bs, X509 *issuer, char *why, size_t whylen)
{
	STACK_OF(X509) *extra = sk_X509_new_null();
	unsigned long e, reason = 0;
	const char *data = NULL, *d;
	char data_copy[128] = "", signer_name[160] = "(not in the response)";
	X509 *signer = NULL;
	int flags;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &d, &flags)) != 0) {
		if (ERR_GET_LIB(e) != ERR_LIB_OCSP || reason != 0)
			continue;
		reason = ERR_GET_REASON(e);
		if ((flags & ERR_TXT_STRING) && d != NULL) {
			data = strncmp(d, "Verify error:", 13) == 0 ? d + 13 : d;
			data += strspn(data, " ");
			snprintf(data_copy, sizeof(data_copy), "%s", data);
		}
	}
	if (extra != NULL && issuer != NULL)
		sk_X509_push(extra, issuer);
	if (OCSP_resp_get0_signer(bs, &signer, extra) == 1)
		cert_name_string(X509_get_subject_name(signer), signer_name, sizeof(signer_name));
	sk_X509_free(extra);
	ERR_clear_error();
	switch (reason) {
	case OCSP_R_SIGNER_CERTIFICATE_NOT_FOUND:
		snprintf(why, whylen, "signature check failed: the signer's certificate is not in the "
		                      "response and is not the issuer");
		break;
	case OCSP_R_SIGNATURE_FAILURE:
		snprintf(why, whylen, "signature check failed: the signature of %s does not verify",
		         signer_name);
		break;
	case OCSP_R_CERTIFICATE_VERIFY_ERROR:
		snprintf(why, whylen, "signature check failed: signer %s does not chain to a trusted CA (%s)",
		         signer_name, data_copy);
		break;
	case OCSP_R_MISSING_OCSPSIGNING_USAGE:
	case OCSP_R_ROOT_CA_NOT_TRUSTED:
		snprintf(why, whylen, "signature check failed: signer %s is neither the certificate's "
		                      "issuer nor a responder delegated by it (EKU OCSPSigning)", signer_name);
		break;
	default:
		d = reason != 0 ? ERR_reason_error_string(ERR_PACK(ERR_LIB_OCSP, 0, reason)) : NULL;
		snprintf(why, whylen, "signature check failed: %s", d != NULL ? d : "no reason given");
		break;
	}
}

/* Does the response echo the nonce we sent? 0, or -1 with why. */
static int check_nonce(OCSP_BASICRESP *bs, const unsigned char *nonce, size_t nonce_len,
                       char *why, size_t whylen)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	int rc;

	if (req == NULL || nonce_len > INT_MAX ||
	    !OCSP_request_add1_nonce(req, (unsigned char *)nonce, (int)nonce_len)) {
		OCSP_REQUEST_free(req);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	rc = OCSP_check_nonce(req, bs);
	OCSP_REQUEST_free(req);
	if (rc == 1)
		return 0;
	if (rc == -1)
		snprintf(why, whylen, "the response does not echo our nonce (a responder that cannot "
		                      "needs nonce off)");
	else
		snprintf(why, whylen, "the response carries another nonce than ours (replayed or misdirected)");
	return -1;
}

/* thisUpdate/nextUpdate against now. Fills out's times. 0, or -1 with why. */
static int check_times(const struct ocsp_check *c, ASN1_GENERALIZEDTIME *this_upd,
                       ASN1_GENERALIZEDTIME *next_upd, time_t now, struct ocsp_answer *out,
                       char *why, size_t whylen)
{
	char a[32], b[32];

	if (utc_time_from_asn1(this_upd, &out->this_update) < 0) {
		snprintf(why, whylen, "malformed thisUpdate");
		return -1;
	}
	if (next_upd != NULL && utc_time_from_asn1(next_upd, &out->next_update) < 0) {
		snprintf(why, whylen, "malformed nextUpdate");
		return -1;
	}
	utc_time_format(out->this_update, a, sizeof(a));
	if (out->this_update > now + OCSP_CHECK_CLOCK_SKEW_S) {
		snprintf(why, whylen, "thisUpdate %s is in the future (clocks apart?)", a);
		return -1;
	}
	if (next_upd != NULL) {
		utc_time_format(out->next_update, b, sizeof(b));
		if (out->next_update < out->this_update) {
			snprintf(why, whylen, "nextUpdate %s is before thisUpdate %s", b, a);
			return -1;
		}
		if (out->next_update < now - OCSP_CHECK_CLOCK_SKEW_S) {
			snprintf(why, whylen, "stale response: nextUpdate %s has passed", b);
			return -1;
		}
	} else if (out->this_update < now - (time_t)c->max_age_s) {
		snprintf(why, whylen, "stale response: no nextUpdate and thisUpdate %s is more than %u s old",
		         a, c->max_age_s);
		return -1;
	}
	return 0;
}

static enum ocsp_check_status judge(struct ocsp_check *c, const unsigned char *der, size_t len,
                                    X509 *cert, X509 *issuer, const unsigned char *nonce,
                                    size_t nonce_len, time_t now, struct ocsp_answer *out,
                                    char *why, size_t whylen)
{
	enum ocsp_check_status status = OCSP_CHECK_FAILED;
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	STACK_OF(X509) *untrusted = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *this_upd = NULL, *next_upd = NULL;
	int cert_status, reason = -1, rstatus;
	char t[32], serial[80];

	ERR_clear_error();
	if (cert == NULL || issuer == NULL) {
		snprintf(why, whylen, "no certificate or no issuer to ask about");
		goto out;
	}
	if (len == 0 || len > OCSP_CHECK_MAX_RESPONSE) {
		snprintf(why, whylen, "response of %zu bytes", len);
		goto out;
	}
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL) {
		snprintf(why, whylen, "not a DER OCSPResponse");
		goto out;
	}
	if (p != der + len) {
		snprintf(why, whylen, "%zu bytes after the OCSPResponse", (size_t)(der + len - p));
		goto out;
	}
	rstatus = OCSP_response_status(resp);
	if (rstatus != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		snprintf(why, whylen, "the responder refused: %s", OCSP_response_status_str(rstatus));
		goto out;
	}
	bs = OCSP_response_get1_basic(resp);
	if (bs == NULL) {
		snprintf(why, whylen, "not a basic OCSP response");
		goto out;
	}
	/* The issuer completes the signer's chain when tls.ca holds only the root,
	 * and is the signer when the CA answers itself without including its certificate. */
	untrusted = sk_X509_new_null();
	if (untrusted == NULL || !sk_X509_push(untrusted, issuer)) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (OCSP_basic_verify(bs, untrusted, c->store, 0) != 1) {
		verify_failure(bs, issuer, why, whylen);
		goto out;
	}
	if (nonce != NULL && check_nonce(bs, nonce, nonce_len, why, whylen) < 0)
		goto out;
	id = OCSP_cert_to_id(NULL, cert, issuer);
	if (id == NULL) {
		snprintf(why, whylen, "cannot compute the certificate's OCSP CertID");
		goto out;
	}
	if (OCSP_resp_find_status(bs, id, &cert_status, &reason, &rev, &this_upd, &next_upd) != 1) {
		cert_serial_hex(cert, serial, sizeof(serial));
		snprintf(why, whylen, "the response says nothing about this certificate (serial %s)", serial);
		goto out;
	}
	if (check_times(c, this_upd, next_upd, now, out, why, whylen) < 0)
		goto out;
	switch (cert_status) {
	case V_OCSP_CERTSTATUS_GOOD:
		status = OCSP_CHECK_GOOD;
		utc_time_format(out->this_update, t, sizeof(t));
		if (next_upd != NULL) {
			char n[32];

			utc_time_format(out->next_update, n, sizeof(n));
			snprintf(why, whylen, "good (thisUpdate %s, nextUpdate %s)", t, n);
		} else {
			snprintf(why, whylen, "good (thisUpdate %s, no nextUpdate)", t);
		}
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		if (utc_time_from_asn1(rev, &out->revoked_at) < 0) {
			snprintf(why, whylen, "revoked, with a malformed revocation time");
			goto out;   /* fail closed, but say so */
		}
		status = OCSP_CHECK_REVOKED;
		out->reason = reason == OCSP_REVOKED_STATUS_NOSTATUS ? -1 : reason;
		utc_time_format(out->revoked_at, t, sizeof(t));
		snprintf(why, whylen, "revoked at %s (%s)", t,
		         out->reason < 0 ? "no reason given" : OCSP_crl_reason_str(out->reason));
		break;
	default:
		status = OCSP_CHECK_UNKNOWN;
		cert_serial_hex(cert, serial, sizeof(serial));
		snprintf(why, whylen, "unknown: the responder does not know serial %s", serial);
		break;
	}
out:
	if (status == OCSP_CHECK_FAILED) {
		out->this_update = out->next_update = out->revoked_at = 0;
		out->reason = -1;
	}
	out->status = status;
	sk_X509_free(untrusted);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return status;
}

/* out->detail = "OCSP[ who]: why", cut to fit (the end of a long reason matters least). */
static void set_detail(struct ocsp_answer *out, const char *who, const char *why)
{
	int n = snprintf(out->detail, sizeof(out->detail), "OCSP%s%.100s: ", who != NULL ? " " : "",
	                 who != NULL ? who : "");
	size_t k;

	if (n < 0 || (size_t)n >= sizeof(out->detail))
		return;
	k = strnlen(why, sizeof(out->detail) - (size_t)n - 1);
	memcpy(out->detail + n, why, k);
	out->detail[(size_t)n + k] = '\0';
}

static void answer_reset(struct ocsp_answer *out)
{
	memset(out, 0, sizeof(*out));
	out->status = OCSP_CHECK_FAILED;
	out->reason = -1;
}

enum ocsp_check_status ocsp_check_verify_response(struct ocsp_check *c, const unsigned char *der,
                                                  size_t len, X509 *cert, X509 *issuer,
                                                  const unsigned char *nonce_or_null,
                                                  size_t nonce_len, time_t now,
                                                  struct ocsp_answer *out)
{
	char why[sizeof(out->detail)];

	answer_reset(out);
	judge(c, der, len, cert, issuer, nonce_or_null, nonce_len, now, out, why, sizeof(why));
	set_detail(out, NULL, why);
	return out->status;
}

/* ---- the query ---------------------------------------------------------------- */

/* DER OCSPRequest for one certificate, with a fresh nonce if nonce != NULL. */
static unsigned char *build_request(X509 *cert, X509 *issuer, unsigned char *nonce, int *len,
                                    char *why, size_t whylen)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
	unsigned char *der = NULL;

	if (req == NULL || id == NULL) {
		snprintf(why, whylen, "cannot compute the certificate's OCSP CertID");
		goto fail;
	}
	if (OCSP_request_add0_id(req, id) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	id = NULL;   /* owned by req now */
	if (nonce != NULL && (RAND_bytes(nonce, NONCE_LEN) != 1 ||
	                      !OCSP_request_add1_nonce(req, nonce, NONCE_LEN))) {
		snprintf(why, whylen, "cannot make a nonce");
		goto fail;
	}
	*len = i2d_OCSP_REQUEST(req, &der);
	if (*len <= 0) {
		der = NULL;
		snprintf(why, whylen, "cannot encode the request");
		goto fail;
	}
fail:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	ERR_clear_error();
	return der;
}

/* The slot of the responder at url, taken on first sight when `take`
 * (-1: not seen yet). Once every slot is taken, the last one serves the
 * rest, for their breaker and their threads alike. */
static int responder_slot(struct ocsp_check *c, const char *url, bool take)
{
	int found = -1;

	pthread_mutex_lock(&c->responders_lock);
	for (int i = 0; i < OCSP_CHECK_RESPONDERS && found < 0; i++) {
		struct responder *r = &c->responders[i];

		if (strcmp(r->url, url) == 0) {
			found = i;
		} else if (r->url[0] == '\0' && take) {
			snprintf(r->url, sizeof(r->url), "%s", url);
			found = i;
			/* Under the lock: slots are named in order. */
			if (c->observer.named != NULL)
				c->observer.named(c->observer.arg, (unsigned)i, r->url);
		}
	}
	if (found < 0 && (take || c->responders[OCSP_CHECK_RESPONDERS - 1].url[0] != '\0'))
		found = OCSP_CHECK_RESPONDERS - 1;
	pthread_mutex_unlock(&c->responders_lock);
	return found;
}

/* The URL that would be asked about cert (NULL: none, or out of memory). */
static char *responder_url(const struct ocsp_check *c, X509 *cert)
{
	return c->url != NULL ? strdup(c->url) : aia_url(cert);
}

void ocsp_check_observe(struct ocsp_check *c, const struct backend_observer *o)
{
	c->observer = *o;
}

bool ocsp_check_slot_down(const struct ocsp_check *c, unsigned slot)
{
	return breaker_is_open(&c->responders[slot].breaker);
}

bool ocsp_check_responder_down(struct ocsp_check *c, X509 *cert)
{
	char *url = responder_url(c, cert);
	int slot = url != NULL ? responder_slot(c, url, false) : -1;

	free(url);
	return slot >= 0 && breaker_is_open(&c->responders[slot].breaker);
}

unsigned ocsp_check_responder(struct ocsp_check *c, X509 *cert)
{
	char *url = responder_url(c, cert);
	int slot = url != NULL ? responder_slot(c, url, true) : -1;

	free(url);
	/* No URL: the query fails at once wherever it runs. */
	return slot >= 0 ? (unsigned)slot : OCSP_CHECK_RESPONDERS - 1;
}

enum ocsp_check_status ocsp_check_query(struct ocsp_check *c, X509 *cert, X509 *issuer,
                                        struct ocsp_answer *out)
{
	struct breaker *breaker;
	uint64_t started;
	double started_precise;
	int slot, posted;
	unsigned char nonce[NONCE_LEN], *req = NULL, *buf = NULL;
	const unsigned char *body = NULL;
	char why[sizeof(out->detail)], *url = NULL;
	struct http_url u = { 0 };
	const struct http_exchange exchange = {
		.request_type = "application/ocsp-request",
		.response_type = OCSP_CHECK_RESPONSE_TYPE,
		.max_body = OCSP_CHECK_MAX_RESPONSE,
		.timeout_ms = c->timeout_ms,
	};
	size_t body_len = 0;
	int req_len = 0;

	answer_reset(out);
	if (cert == NULL || issuer == NULL) {
		set_detail(out, NULL, "no certificate or no issuer to ask about");
		return OCSP_CHECK_FAILED;
	}
	url = responder_url(c, cert);
	if (url == NULL) {
		set_detail(out, NULL, c->url != NULL ? "out of memory"
		                      : "the certificate names no OCSP responder (AIA) and no ocsp url is set");
		return OCSP_CHECK_FAILED;
	}
	if (parse_responder_url(url, &u, why, sizeof(why)) < 0) {
		char shown[101];

		/* A certificate's URL is not to be trusted as text either. */
		printable_bytes(shown, sizeof(shown), url, strnlen(url, sizeof(shown) - 1));
		set_detail(out, shown, why);
		goto out;
	}
	started = clock_now_ms();
	started_precise = clock_now_ms_precise();
	slot = responder_slot(c, url, true);
	breaker = &c->responders[slot].breaker;
	if (!breaker_allow(breaker)) {
		snprintf(why, sizeof(why), "marked down after %u failed queries in a row, next try in %u ms",
		         breaker->threshold, breaker_retry_in_ms(breaker));
		goto done;
	}
	req = build_request(cert, issuer, c->nonce ? nonce : NULL, &req_len, why, sizeof(why));
	if (req == NULL) {
		breaker_record(breaker, true, started, c->timeout_ms);   /* not the responder's fault */
		goto done;
	}
	/* Only silence counts against the responder, not what it said. */
	posted = http_post(&u, &exchange, req, (size_t)req_len, &buf, &body, &body_len, why, sizeof(why));
	if (posted < 0) {
		breaker_record(breaker, false, started, c->timeout_ms);
		backend_observer_report(&c->observer, (unsigned)slot,
		                        posted == HTTP_POST_TIMEOUT ? BACKEND_TIMEOUT : BACKEND_ERROR,
		                        started_precise);
		goto done;
	}
	breaker_record(breaker, true, started, c->timeout_ms);
	judge(c, body, body_len, cert, issuer, c->nonce ? nonce : NULL, NONCE_LEN, time(NULL), out,
	      why, sizeof(why));
	backend_observer_report(&c->observer, (unsigned)slot,
	                        out->status != OCSP_CHECK_FAILED ? BACKEND_OK : BACKEND_ERROR, started_precise);
done:
	set_detail(out, url, why);
out:
	OPENSSL_free(req);
	free(buf);
	http_url_free(&u);
	free(url);
	return out->status;
}

/* ---- setup ---------------------------------------------------------------------- */

static X509_STORE *load_store(const char *path, char *err, size_t errlen)
{
	X509_STORE *store = X509_STORE_new();
	FILE *f = fopen(path, "r");
	X509 *x;
	int n = 0;

	if (f == NULL || store == NULL) {
		snprintf(err, errlen, "%s: %s", path, f == NULL ? strerror(errno) : "out of memory");
		goto fail;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(store, x);

		X509_free(x);
		if (!ok) {
			snprintf(err, errlen, "%s: cannot use certificate %d", path, n + 1);
			goto fail;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no PEM certificate", path);
		goto fail;
	}
	/* Responder chains meet the same bar as device chains (security level 2). */
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_get0_param(store), 2);
	fclose(f);
	ERR_clear_error();
	return store;
fail:
	if (f != NULL)
		fclose(f);
	X509_STORE_free(store);
	ERR_clear_error();
	return NULL;
}

struct ocsp_check *ocsp_check_new(const struct ocsp_settings *s, const char *ca_file,
                                  char *err, size_t errlen)
{
	struct ocsp_check *c = calloc(1, sizeof(*c));
	struct http_url u;
	char why[160];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->responders_lock, NULL);
	for (size_t i = 0; i < OCSP_CHECK_RESPONDERS; i++)
		breaker_init(&c->responders[i].breaker, BREAKER_DEFAULT_THRESHOLD, BREAKER_DEFAULT_OPEN_MS);
	if (s->timeout_ms == 0 || s->timeout_ms > OCSP_CHECK_MAX_TIMEOUT_MS) {
		snprintf(err, errlen, "OCSP timeout %u ms: must be 1 to %d", s->timeout_ms,
		         OCSP_CHECK_MAX_TIMEOUT_MS);
		goto fail;
	}
	if (s->url != NULL) {
		if (parse_responder_url(s->url, &u, why, sizeof(why)) < 0) {
			char shown[100];

			printable_bytes(shown, sizeof(shown), s->url, strnlen(s->url, sizeof(shown) - 1));
			snprintf(err, errlen, "OCSP url %s: %s", shown, why);
			goto fail;
		}
		http_url_free(&u);
		c->url = strdup(s->url);
		if (c->url == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	c->nonce = s->nonce;
	c->timeout_ms = s->timeout_ms;
	c->max_age_s = s->max_age_s;
	c->store = load_store(ca_file, err, errlen);
	if (c->store == NULL)
		goto fail;
	return c;
fail:
	ocsp_check_free(c);
	return NULL;
}

void ocsp_check_free(struct ocsp_check *c)
{
	if (c == NULL)
		return;
	X509_STORE_free(c->store);
	pthread_mutex_destroy(&c->responders_lock);
	free(c->url);
	free(c);
}

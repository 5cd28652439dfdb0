/*
 * TLS server context for EAP-TLS: loading files with errors an operator can
 * act on (authd -C prints them), the verify callback and reason mapping.
 */
#include "eap/eap_tls_context.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static void set_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The most specific OpenSSL reason on the queue, then the queue is cleared. */
static const char *openssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return reason != NULL ? reason : "unknown OpenSSL error";
}

/* fopen first: errno gives "No such file or directory", OpenSSL's BIO error does not. */
static BIO *open_pem(const char *path, const char *what, char *err, size_t errlen)
{
	FILE *f;
	BIO *bio;

	if (path == NULL || path[0] == '\0') {
		set_error(err, errlen, "no %s file configured", what);
		return NULL;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		set_error(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	bio = BIO_new_fp(f, BIO_CLOSE);
	if (bio == NULL) {
		fclose(f);
		set_error(err, errlen, "cannot read %s %s: out of memory", what, path);
	}
	return bio;
}

/* All certificates of a PEM file, in file order; NULL with err set if none or unparsable. */
static STACK_OF(X509) *read_certificates(const char *path, const char *what,
                                         char *err, size_t errlen)
{
	STACK_OF(X509) *certs = NULL;
	BIO *bio;
	X509 *x;
	unsigned long e;

	bio = open_pem(path, what, err, errlen);
	if (bio == NULL)
		return NULL;
	certs = sk_X509_new_null();
	if (certs == NULL)
		goto fail_openssl;
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			goto fail_openssl;
		}
	}
	/* The loop ends with "no start line" at end of file; anything else is a bad block. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
		goto fail_openssl;
	ERR_clear_error();
	if (sk_X509_num(certs) == 0) {
		set_error(err, errlen, "no certificate found in %s %s", what, path);
		goto fail;
	}
	BIO_free(bio);
	return certs;
fail_openssl:
	set_error(err, errlen, "cannot parse %s %s: %s", what, path, openssl_reason());
fail:
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	return NULL;
}

static int refuse_passphrase(char *buf, int size, int rwflag, void *u)
{
	*(bool *)u = true;
	return -1;
}

static EVP_PKEY *read_private_key(const char *path, char *err, size_t errlen)
{
	bool encrypted = false;
	EVP_PKEY *key;
	BIO *bio;

	bio = open_pem(path, "private key", err, errlen);
	if (bio == NULL)
		return NULL;
	ERR_clear_error();
	key = PEM_read_bio_PrivateKey(bio, NULL, refuse_passphrase, &encrypted);
	if (key == NULL && encrypted)
		set_error(err, errlen, "private key %s is encrypted; an unencrypted key is required", path);
	else if (key == NULL)
		set_error(err, errlen, "cannot parse private key %s: %s", path, openssl_reason());
	ERR_clear_error();
	BIO_free(bio);
	return key;
}

/* Server certificate (leaf first, then its chain) and the matching key. */
static int load_identity(SSL_CTX *ssl_ctx, const struct eap_tls_settings *s,
                         char *err, size_t errlen)
{
	STACK_OF(X509) *certs;
	EVP_PKEY *key = NULL;
	X509 *leaf;
	int ret = -1;

	certs = read_certificates(s->certificate, "certificate", err, errlen);
	if (certs == NULL)
		return -1;
	key = read_private_key(s->private_key, err, errlen);
	if (key == NULL)
		goto out;
	leaf = sk_X509_value(certs, 0);
	if (!X509_check_private_key(leaf, key)) {
		ERR_clear_error();
		set_error(err, errlen, "private key %s does not match certificate %s",
		          s->private_key, s->certificate);
		goto out;
	}
	/* Fails e.g. for a key below security level 2 ("ee key too small"). */
	if (!SSL_CTX_use_certificate(ssl_ctx, leaf) || !SSL_CTX_use_PrivateKey(ssl_ctx, key)) {
		set_error(err, errlen, "cannot use certificate %s: %s", s->certificate, openssl_reason());
		goto out;
	}
	for (int i = 1; i < sk_X509_num(certs); i++) {
		if (!SSL_CTX_add1_chain_cert(ssl_ctx, sk_X509_value(certs, i))) {
			set_error(err, errlen, "cannot use chain certificate %d of %s: %s",
			          i, s->certificate, openssl_reason());
			goto out;
		}
	}
	ret = 0;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

/*
 * Trusted issuers of device certificates. Also advertised in the
 * CertificateRequest so supplicants holding several certificates pick the right one.
 */
static int load_trust(SSL_CTX *ssl_ctx, const char *path, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);
	STACK_OF(X509) *certs;
	int ret = -1;

	certs = read_certificates(path, "CA file", err, errlen);
	if (certs == NULL)
		return -1;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *ca = sk_X509_value(certs, i);

		if (!X509_STORE_add_cert(store, ca) || !SSL_CTX_add_client_CA(ssl_ctx, ca)) {
			set_error(err, errlen, "cannot use certificate %d of CA file %s: %s",
			          i + 1, path, openssl_reason());
			goto out;
		}
	}
	ret = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

static int check_versions(const struct eap_tls_settings *s, char *err, size_t errlen)
{
	bool min_ok = s->min_version == TLS1_2_VERSION || s->min_version == TLS1_3_VERSION;
	bool max_ok = s->max_version == TLS1_2_VERSION || s->max_version == TLS1_3_VERSION;

	if (!min_ok || !max_ok) {
		set_error(err, errlen, "TLS versions must be TLS 1.2 or TLS 1.3 (min 0x%04x, max 0x%04x)",
		          (unsigned)s->min_version, (unsigned)s->max_version);
		return -1;
	}
	if (s->min_version > s->max_version) {
		set_error(err, errlen, "TLS minimum version is above the maximum");
		return -1;
	}
	return 0;
}

static int check_handshake_limit(const struct eap_tls_settings *s, char *err, size_t errlen)
{
	size_t max = s->max_handshake_message;

	if (max != 0 && (max < EAP_TLS_MIN_MAX_HANDSHAKE || max > EAP_TLS_MAX_MAX_HANDSHAKE)) {
		set_error(err, errlen, "largest TLS handshake message %zu outside %d..%d bytes",
		          max, EAP_TLS_MIN_MAX_HANDSHAKE, EAP_TLS_MAX_MAX_HANDSHAKE);
		return -1;
	}
	return 0;
}

/*
 * Sessions are not resumed yet. A server-side session cache goes here
 * (cache mode, session id context, a remove callback that re-checks
 * revocation); stateless tickets stay off.
 */
/* The identity of the first PSK a TLS 1.3 ClientHello offers (RFC 8446
 * 4.2.11): with stateful tickets, the session id. 0 if none usable. */
static size_t offered_psk(SSL *ssl, const uint8_t **id)
{
	const unsigned char *ext;
	size_t len, idlen;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &ext, &len) != 1 || len < 4)
		return 0;
	idlen = (size_t)ext[2] << 8 | ext[3];
	if (idlen == 0 || idlen > SSL_MAX_SSL_SESSION_ID_LENGTH || 4 + idlen > len)
		return 0;
	*id = ext + 4;
	return idlen;
}

/* True when the ClientHello offers TLS 1.3 and so will get it: its legacy
 * session id is then only middlebox camouflage, not a session to resume. */
static bool will_be_tls13(SSL *ssl)
{
	const unsigned char *ext;
	size_t len;

	if (SSL_get_max_proto_version(ssl) != 0 && SSL_get_max_proto_version(ssl) < TLS1_3_VERSION)
		return false;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &ext, &len) != 1 || len < 1)
		return false;
	for (size_t i = 1; i + 1 < len && i < (size_t)ext[0] + 1; i += 2) {
		if (ext[i] == 0x03 && ext[i + 1] == 0x04)
			return true;
	}
	return false;
}

/*
 * Before anything else of a ClientHello: if it offers a session, stop the
 * handshake (SSL_ERROR_WANT_CLIENT_HELLO_CB) so the caller can fetch it, and
 * judge the device anew, off the TLS thread; the retried ClientHello then
 * passes.
 */
static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
	struct eap_tls_peer *peer = SSL_get_app_data(ssl);
	struct eap_tls_resumption *r = &peer->resume;
	const uint8_t *id = NULL;
	size_t len;

	if (r->looked_up)
		return SSL_CLIENT_HELLO_SUCCESS;
	if (will_be_tls13(ssl))
		len = offered_psk(ssl, &id);
	else
		len = SSL_client_hello_get0_session_id(ssl, &id);
	if (len == 0 || len > sizeof(r->offered))
		return SSL_CLIENT_HELLO_SUCCESS;
	memcpy(r->offered, id, len);
	r->offered_len = len;
	return SSL_CLIENT_HELLO_RETRY;
}

/* OpenSSL asks for the session behind an id: only the one the caller found. */
static SSL_SESSION *on_get_session(SSL *ssl, const unsigned char *id, int len, int *copy)
{
	struct eap_tls_peer *peer = SSL_get_app_data(ssl);
	SSL_SESSION *found = peer->resume.found;
	unsigned int found_len = 0;
	const unsigned char *found_id = found != NULL ? SSL_SESSION_get_id(found, &found_len) : NULL;

	*copy = 1;
	if (found == NULL || found_len != (unsigned)len || memcmp(found_id, id, found_len) != 0)
		return NULL;
	return found;
}

/* A new session (TLS 1.2 at the end of a full handshake, TLS 1.3 per
 * ticket): kept until the caller stores it, which it does only on success. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
	struct eap_tls_peer *peer = SSL_get_app_data(ssl);

	SSL_SESSION_free(peer->resume.fresh);
	peer->resume.fresh = session;
	return 1;   /* the reference is ours */
}

/*
 * Without resumption nothing is cached. With it, sessions live only in the
 * caller's store (no internal cache: every resumption goes through the
 * caller, who re-checks the device), TLS 1.2 by session ID and TLS 1.3 by
 * stateful tickets: stateless tickets would carry the client certificate in
 * every ticket, and OpenSSL 3.0 is slow to parse them.
 */
static int configure_sessions(SSL_CTX *ssl_ctx, unsigned lifetime)
{
	static const unsigned char context[] = "authd EAP-TLS";

	SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
	if (lifetime == 0) {
		SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(ssl_ctx, 0);
		return 0;
	}
	SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_set_num_tickets(ssl_ctx, 1);
	SSL_CTX_set_timeout(ssl_ctx, lifetime);
	SSL_CTX_set_client_hello_cb(ssl_ctx, on_client_hello, NULL);
	SSL_CTX_sess_set_get_cb(ssl_ctx, on_get_session);
	SSL_CTX_sess_set_new_cb(ssl_ctx, on_new_session);
	return SSL_CTX_set_session_id_context(ssl_ctx, context, sizeof(context) - 1) == 1 ? 0 : -1;
}

static enum eap_reason reason_from_verify_error(int error, int depth)
{
	switch (error) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return EAP_REASON_CERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return EAP_REASON_CERT_NOT_YET_VALID;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return EAP_REASON_UNKNOWN_CA;
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
		return EAP_REASON_WEAK_KEY;
	case X509_V_ERR_CA_MD_TOO_WEAK:
		return EAP_REASON_WEAK_SIGNATURE;
	case X509_V_ERR_INVALID_PURPOSE:
		/* At the leaf: OpenSSL's ssl_client purpose found an EKU without clientAuth. */
		return depth == 0 ? EAP_REASON_NO_CLIENT_EKU : EAP_REASON_CERT_INVALID;
	default:
		return EAP_REASON_CERT_INVALID;
	}
}

static bool has_client_eku(X509 *cert)
{
	return (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) &&
	       (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
}

static void record_failure(struct eap_tls_peer *peer, enum eap_reason reason,
                           const char *what, int depth, X509 *cert)
{
	char subject[128] = "";

	if (peer->reason != EAP_REASON_OK)
		return;
	if (cert != NULL)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	peer->reason = reason;
	snprintf(peer->detail, sizeof(peer->detail), "%s (depth %d, %s)", what, depth, subject);
}

static int verify_callback(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	const struct eap_tls_context *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct eap_tls_peer *peer = SSL_get_app_data(ssl);
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	int depth = X509_STORE_CTX_get_error_depth(store);
	X509 *leaf = X509_STORE_CTX_get0_cert(store);

	/* The session forgets a rejected certificate; keep it so the log can name the device. */
	if (peer->leaf == NULL && leaf != NULL && X509_up_ref(leaf))
		peer->leaf = leaf;
	if (!ok) {
		int error = X509_STORE_CTX_get_error(store);

		record_failure(peer, reason_from_verify_error(error, depth),
		               X509_verify_cert_error_string(error), depth, cert);
		return 0;
	}
	if (depth == 0 && ctx->require_client_eku && cert != NULL && !has_client_eku(cert)) {
		record_failure(peer, EAP_REASON_NO_CLIENT_EKU,
		               "certificate has no extended key usage clientAuth", depth, cert);
		X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE);
		return 0;
	}
	return 1;
}

void eap_tls_context_classify_failure(SSL *ssl, int ssl_error, struct eap_tls_peer *peer)
{
	unsigned long e = ERR_peek_error();
	char buf[EAP_TLS_DETAIL_MAX];

	if (peer->reason == EAP_REASON_OK) {
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
			peer->reason = EAP_REASON_NO_CLIENT_CERT;
			snprintf(peer->detail, sizeof(peer->detail), "peer did not send a certificate");
		} else {
			if (e != 0)
				ERR_error_string_n(e, buf, sizeof(buf));
			else
				snprintf(buf, sizeof(buf), "SSL_get_error %d", ssl_error);
			peer->reason = EAP_REASON_TLS_FAILED;
			snprintf(peer->detail, sizeof(peer->detail), "%s", buf);
		}
	}
	ERR_clear_error();
}

enum eap_reason eap_tls_verify_certificate(const struct eap_tls_context *ctx, X509 *leaf,
                                           STACK_OF(X509) *untrusted, STACK_OF(X509) **verified,
                                           char *detail, size_t detaillen)
{
	struct eap_tls_peer peer = { .reason = EAP_REASON_OK };
	X509_STORE_CTX *store = X509_STORE_CTX_new();
	SSL *ssl = SSL_new(ctx->ssl_ctx);
	enum eap_reason reason = EAP_REASON_CERT_INVALID;

	snprintf(detail, detaillen, "cannot set up verification");
	if (store == NULL || ssl == NULL ||
	    !X509_STORE_CTX_init(store, SSL_CTX_get_cert_store(ctx->ssl_ctx), leaf, untrusted))
		goto out;
	/* What OpenSSL does for a handshake's client chain: the SSL's parameters,
	 * the ssl_client purpose, its security level, and our callback. */
	SSL_set_app_data(ssl, &peer);
	X509_STORE_CTX_set_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx(), ssl);
	X509_STORE_CTX_set_default(store, "ssl_client");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(store), SSL_get0_param(ssl));
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(store),
	                                 SSL_get_security_level(ssl));
	X509_STORE_CTX_set_verify_cb(store, verify_callback);
	if (X509_verify_cert(store) == 1) {
		reason = EAP_REASON_OK;
		snprintf(detail, detaillen, "ok");
		if (verified != NULL)
			*verified = X509_STORE_CTX_get1_chain(store);
	} else {
		reason = peer.reason != EAP_REASON_OK ? peer.reason : EAP_REASON_CERT_INVALID;
		snprintf(detail, detaillen, "%s", peer.detail[0] ? peer.detail
		         : X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
	}
out:
	X509_free(peer.leaf);
	X509_STORE_CTX_free(store);
	SSL_free(ssl);
	ERR_clear_error();
	return reason;
}

SSL *eap_tls_context_new_ssl(const struct eap_tls_context *ctx, struct eap_tls_peer *peer)
{
	BIO *rbio = NULL, *wbio = NULL;
	SSL *ssl;

	ssl = SSL_new(ctx->ssl_ctx);
	if (ssl == NULL)
		goto fail;
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(BIO_s_mem());
	if (rbio == NULL || wbio == NULL)
		goto fail;
	/* Reads of an empty BIO mean "wait for the next EAP packet", not end of file. */
	BIO_set_mem_eof_return(rbio, -1);
	SSL_set_bio(ssl, rbio, wbio);
	SSL_set_app_data(ssl, peer);
	SSL_set_accept_state(ssl);
	return ssl;
fail:
	BIO_free(rbio);
	BIO_free(wbio);
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

struct eap_tls_context *eap_tls_context_new(const struct eap_tls_settings *settings,
                                            char *err, size_t errlen)
{
	struct eap_tls_context *ctx;

	set_error(err, errlen, "%s", "");
	if (check_versions(settings, err, errlen) < 0 || check_handshake_limit(settings, err, errlen) < 0)
		return NULL;
	ctx = OPENSSL_zalloc(sizeof(*ctx));
	if (ctx == NULL) {
		set_error(err, errlen, "out of memory");
		return NULL;
	}
	ctx->require_client_eku = settings->require_client_eku;
	ctx->max_handshake_message = settings->max_handshake_message != 0
	                             ? settings->max_handshake_message : EAP_TLS_DEFAULT_MAX_HANDSHAKE;
	ctx->ssl_ctx = SSL_CTX_new(TLS_server_method());
	if (ctx->ssl_ctx == NULL) {
		set_error(err, errlen, "cannot create TLS context: %s", openssl_reason());
		goto fail;
	}
	SSL_CTX_set_app_data(ctx->ssl_ctx, ctx);
	SSL_CTX_set_security_level(ctx->ssl_ctx, 2);
	if (!SSL_CTX_set_min_proto_version(ctx->ssl_ctx, settings->min_version) ||
	    !SSL_CTX_set_max_proto_version(ctx->ssl_ctx, settings->max_version)) {
		set_error(err, errlen, "cannot set TLS versions: %s", openssl_reason());
		goto fail;
	}
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Conversations can wait a long time between packets: don't hold idle record buffers. */
	SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	/* The conversation refuses larger plaintext handshake messages before OpenSSL
	 * sees them (eap_tls_records); a TLS 1.3 Certificate arrives encrypted, and
	 * OpenSSL bounds it with this alone (its default is 100 KB). */
	SSL_CTX_set_max_cert_list(ctx->ssl_ctx, (long)ctx->max_handshake_message);
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	                   verify_callback);
	ctx->resumption = settings->session_lifetime > 0;
	if (configure_sessions(ctx->ssl_ctx, settings->session_lifetime) < 0) {
		set_error(err, errlen, "cannot set up session resumption: %s", openssl_reason());
		goto fail;
	}
	if (load_identity(ctx->ssl_ctx, settings, err, errlen) < 0)
		goto fail;
	if (load_trust(ctx->ssl_ctx, settings->ca, err, errlen) < 0)
		goto fail;
	return ctx;
fail:
	eap_tls_context_free(ctx);
	return NULL;
}

void eap_tls_context_free(struct eap_tls_context *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	OPENSSL_free(ctx);
}

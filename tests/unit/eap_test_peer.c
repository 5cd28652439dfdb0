/* EAP-TLS supplicant on memory BIOs for the unit tests and authbench; see eap_test_peer.h. */
#include "eap_test_peer.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct eap_test_peer {
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	size_t fragment_size;
	char identity[256];
	bool started;
	/* incoming message from the server */
	uint8_t *in;
	size_t in_len, in_declared;
	bool in_active;
	/* our outgoing flight */
	uint8_t *flight;
	size_t flight_len, flight_sent;
	/* last response: room for the identity or one fragment with its header */
	uint8_t *resp;
	/* observations */
	unsigned fragments_received;
	size_t largest_fragment;
	size_t app_data;
	bool last_had_data;
	char error[256];
	char tls_error[160];
	bool tls_alert_received;
	bool lenient_length;
};

static int peer_error(struct eap_test_peer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int peer_error(struct eap_test_peer *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	return -1;
}

SSL_CTX *eap_test_peer_ctx_new(const struct eap_test_peer_options *opt)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	if (opt->security_level >= 0)
		SSL_CTX_set_security_level(ctx, opt->security_level);
	if (opt->min_version != 0)
		SSL_CTX_set_min_proto_version(ctx, opt->min_version);
	if (opt->max_version != 0)
		SSL_CTX_set_max_proto_version(ctx, opt->max_version);
	if (opt->cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, opt->cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, opt->key, SSL_FILETYPE_PEM) != 1))
		goto fail;
	if (opt->server_ca != NULL) {
		if (SSL_CTX_load_verify_file(ctx, opt->server_ca) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct eap_test_peer *eap_test_peer_new(const struct eap_test_peer_options *opt)
{
	struct eap_test_peer *p = calloc(1, sizeof(*p));
	size_t resp_size;

	if (p == NULL)
		return NULL;
	p->fragment_size = opt->fragment_size != 0 ? opt->fragment_size : 1014;
	p->lenient_length = opt->lenient_length;
	snprintf(p->identity, sizeof(p->identity), "%s", opt->identity != NULL ? opt->identity : "anonymous");
	resp_size = 10 + p->fragment_size;
	if (resp_size < 5 + sizeof(p->identity))
		resp_size = 5 + sizeof(p->identity);
	p->resp = malloc(resp_size);
	if (p->resp == NULL)
		goto fail;
	if (opt->ssl_ctx != NULL) {
		if (SSL_CTX_up_ref(opt->ssl_ctx) != 1)
			goto fail;
		p->ssl_ctx = opt->ssl_ctx;
	} else {
		p->ssl_ctx = eap_test_peer_ctx_new(opt);
		if (p->ssl_ctx == NULL)
			goto fail;
	}
	p->ssl = SSL_new(p->ssl_ctx);
	if (p->ssl == NULL)
		goto fail;
	SSL_set_bio(p->ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	BIO_set_mem_eof_return(SSL_get_rbio(p->ssl), -1);
	SSL_set_connect_state(p->ssl);
	if (opt->session != NULL && SSL_set_session(p->ssl, opt->session) != 1)
		goto fail;
	return p;
fail:
	eap_test_peer_free(p);
	return NULL;
}

void eap_test_peer_free(struct eap_test_peer *p)
{
	if (p == NULL)
		return;
	SSL_free(p->ssl);
	SSL_CTX_free(p->ssl_ctx);
	free(p->in);
	free(p->flight);
	free(p->resp);
	free(p);
}

static size_t put_header(uint8_t *b, uint8_t id, uint8_t type, size_t datalen)
{
	size_t len = 5 + datalen;

	b[0] = 2;
	b[1] = id;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	b[4] = type;
	return 5;
}

static void respond_ack(struct eap_test_peer *p, uint8_t id, const uint8_t **resp, size_t *resplen)
{
	size_t n = put_header(p->resp, id, 13, 1);

	p->resp[n] = 0;
	*resp = p->resp;
	*resplen = n + 1;
}

static void respond_fragment(struct eap_test_peer *p, uint8_t id, const uint8_t **resp, size_t *resplen)
{
	size_t remaining = p->flight_len - p->flight_sent;
	size_t n = remaining < p->fragment_size ? remaining : p->fragment_size;
	bool more = n < remaining, first = p->flight_sent == 0;
	size_t hdr = 6 + (more && first ? 4 : 0);
	size_t off = put_header(p->resp, id, 13, hdr - 5 + n);

	p->resp[off] = (uint8_t)((more ? 0x40 : 0) | (more && first ? 0x80 : 0));
	if (more && first) {
		p->resp[6] = (uint8_t)(p->flight_len >> 24);
		p->resp[7] = (uint8_t)(p->flight_len >> 16);
		p->resp[8] = (uint8_t)(p->flight_len >> 8);
		p->resp[9] = (uint8_t)p->flight_len;
	}
	memcpy(p->resp + hdr, p->flight + p->flight_sent, n);
	p->flight_sent += n;
	*resp = p->resp;
	*resplen = hdr + n;
}

/* Runs the client after new server bytes; sends our next flight or an ACK. */
static int advance_tls(struct eap_test_peer *p, uint8_t id, const uint8_t **resp, size_t *resplen)
{
	BIO *wbio = SSL_get_wbio(p->ssl);
	uint8_t buf[64];
	int r;

	if (!SSL_is_init_finished(p->ssl)) {
		r = SSL_do_handshake(p->ssl);
		if (r != 1 && SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_READ) {
			/* e.g. the server's alert: answer with an ACK like wpa_supplicant */
			unsigned long e = ERR_peek_error();

			if (p->tls_error[0] == '\0') {
				p->tls_alert_received = ERR_GET_LIB(e) == ERR_LIB_SSL &&
				                        ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET;
				snprintf(p->tls_error, sizeof(p->tls_error), "%s",
				         e != 0 ? ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e)
				                                                     : "unknown TLS error"
				                : "handshake failed");
			}
			ERR_clear_error();
		}
	}
	if (SSL_is_init_finished(p->ssl)) {
		while ((r = SSL_read(p->ssl, buf, sizeof(buf))) > 0) {
			if (buf[0] != 0 || r != 1)
				return peer_error(p, "unexpected application data");
			p->app_data += (size_t)r;
		}
		ERR_clear_error();
	}
	p->flight_len = BIO_ctrl_pending(wbio);
	p->flight_sent = 0;
	if (p->flight_len == 0) {
		respond_ack(p, id, resp, resplen);
		return 0;
	}
	free(p->flight);
	p->flight = malloc(p->flight_len);
	if (p->flight == NULL || BIO_read(wbio, p->flight, (int)p->flight_len) != (int)p->flight_len)
		return peer_error(p, "cannot read client flight");
	respond_fragment(p, id, resp, resplen);
	return 0;
}

/* One EAP-TLS request (type data in d/len): check the server's framing strictly. */
static int handle_tls(struct eap_test_peer *p, uint8_t id, const uint8_t *d, size_t len,
                      const uint8_t **resp, size_t *resplen)
{
	uint8_t flags;
	size_t off = 1, n, declared;

	if (len < 1)
		return peer_error(p, "EAP-TLS request without flags");
	flags = d[0];
	p->last_had_data = len > 1;
	if (flags & 0x20) {
		if (p->started || flags != 0x20 || len != 1)
			return peer_error(p, "bad TLS start");
		p->started = true;
		return advance_tls(p, id, resp, resplen);
	}
	if (!p->started)
		return peer_error(p, "EAP-TLS data before start");
	if (p->flight_sent < p->flight_len) {
		if (flags != 0 || len != 1)
			return peer_error(p, "server sent data instead of ACK");
		respond_fragment(p, id, resp, resplen);
		return 0;
	}
	if (flags & 0x1f)
		return peer_error(p, "reserved flags 0x%02x", flags);
	if (flags & 0x80) {
		if (len < 5)
			return peer_error(p, "truncated L");
		declared = (size_t)d[1] << 24 | (size_t)d[2] << 16 | (size_t)d[3] << 8 | d[4];
		off = 5;
		if (p->in_active || !(flags & 0x40)) {
			/* RFC 5216 3.1 requires L on the first fragment and forbids it nowhere else
			 * (FreeRADIUS's include_length puts it on every packet); authd sends it only
			 * where required, which the unit tests hold it to. */
			if (!p->lenient_length)
				return peer_error(p, "L flag on a non-first or unfragmented message");
			if (p->in_active && declared != p->in_declared)
				return peer_error(p, "L changed from %zu to %zu within a message", p->in_declared, declared);
			if (!p->in_active && declared != len - off)
				return peer_error(p, "L says %zu for an unfragmented message of %zu", declared, len - off);
			goto data;
		}
		p->in_declared = declared;
		if (p->in_declared == 0 || p->in_declared > (1u << 20))
			return peer_error(p, "server message length %zu out of bounds", p->in_declared);
		p->in_active = true;
		p->in_len = 0;
		free(p->in);
		p->in = malloc(p->in_declared);
		if (p->in == NULL)
			return peer_error(p, "oom");
	} else if ((flags & 0x40) && !p->in_active) {
		return peer_error(p, "M without L on a first fragment");
	}
data:
	n = len - off;
	if (n == 0)
		return peer_error(p, "server sent an empty EAP-TLS request");
	if (n > p->largest_fragment)
		p->largest_fragment = n;
	p->fragments_received++;
	if (p->in_active) {
		if (n > p->in_declared - p->in_len)
			return peer_error(p, "server fragment overflows its L");
		memcpy(p->in + p->in_len, d + off, n);
		p->in_len += n;
		if (flags & 0x40) {
			respond_ack(p, id, resp, resplen);
			return 0;
		}
		if (p->in_len != p->in_declared)
			return peer_error(p, "server message shorter than its L");
		p->in_active = false;
		BIO_write(SSL_get_rbio(p->ssl), p->in, (int)p->in_len);
	} else {
		BIO_write(SSL_get_rbio(p->ssl), d + off, (int)n);
	}
	return advance_tls(p, id, resp, resplen);
}

int eap_test_peer_respond(struct eap_test_peer *p, const uint8_t *req, size_t reqlen,
                          const uint8_t **resp, size_t *resplen)
{
	size_t len, off;

	if (reqlen < 5 || req[0] != 1)
		return peer_error(p, "not an EAP-Request");
	len = (size_t)req[2] << 8 | req[3];
	if (len != reqlen)
		return peer_error(p, "EAP length %zu for %zu bytes", len, reqlen);
	switch (req[4]) {
	case 1:
		off = put_header(p->resp, req[1], 1, strlen(p->identity));
		memcpy(p->resp + off, p->identity, strlen(p->identity));
		*resp = p->resp;
		*resplen = off + strlen(p->identity);
		return 0;
	case 13:
		return handle_tls(p, req[1], req + 5, reqlen - 5, resp, resplen);
	default:
		return peer_error(p, "unexpected EAP type %u", req[4]);
	}
}

const char *eap_test_peer_error(const struct eap_test_peer *p)
{
	return p->error;
}

bool eap_test_peer_handshake_done(const struct eap_test_peer *p)
{
	return SSL_is_init_finished(p->ssl);
}

const char *eap_test_peer_tls_error(const struct eap_test_peer *p)
{
	return p->tls_error[0] != '\0' ? p->tls_error : NULL;
}

bool eap_test_peer_tls_alert_received(const struct eap_test_peer *p)
{
	return p->tls_alert_received;
}

bool eap_test_peer_resumed(const struct eap_test_peer *p)
{
	return SSL_session_reused(p->ssl) == 1;
}

const char *eap_test_peer_tls_version(const struct eap_test_peer *p)
{
	return SSL_is_init_finished(p->ssl) ? SSL_get_version(p->ssl) : NULL;
}

SSL_SESSION *eap_test_peer_session(const struct eap_test_peer *p)
{
	SSL_SESSION *s = SSL_get0_session(p->ssl);

	/* A copy: SSL_free() without a close_notify (EAP-TLS sends none) marks the
	 * connection's own session not resumable. */
	return s != NULL && SSL_SESSION_is_resumable(s) == 1 ? SSL_SESSION_dup(s) : NULL;
}

int eap_test_peer_keys(struct eap_test_peer *p, uint8_t msk[EAP_MSK_LEN], uint8_t emsk[EAP_EMSK_LEN])
{
	static const uint8_t context13[] = { 13 };
	uint8_t km[EAP_MSK_LEN + EAP_EMSK_LEN];
	int ok;

	if (!SSL_is_init_finished(p->ssl))
		return -1;
	if (SSL_version(p->ssl) == TLS1_3_VERSION)
		ok = SSL_export_keying_material(p->ssl, km, sizeof(km), "EXPORTER_EAP_TLS_Key_Material", 29,
		                                context13, 1, 1);
	else
		ok = SSL_export_keying_material(p->ssl, km, sizeof(km), "client EAP encryption", 21,
		                                NULL, 0, 0);
	if (ok != 1)
		return -1;
	memcpy(msk, km, EAP_MSK_LEN);
	memcpy(emsk, km + EAP_MSK_LEN, EAP_EMSK_LEN);
	return 0;
}

unsigned eap_test_peer_fragments_received(const struct eap_test_peer *p)
{
	return p->fragments_received;
}

size_t eap_test_peer_largest_fragment(const struct eap_test_peer *p)
{
	return p->largest_fragment;
}

size_t eap_test_peer_app_data(const struct eap_test_peer *p)
{
	return p->app_data;
}

bool eap_test_peer_last_request_had_data(const struct eap_test_peer *p)
{
	return p->last_had_data;
}

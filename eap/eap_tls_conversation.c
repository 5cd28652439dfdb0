/*
 * The EAP-TLS authenticator state machine (RFC 3748, RFC 5216, RFC 9190),
 * modelled on hostapd's eap_server_tls.c. TLS runs on two memory BIOs: peer
 * fragments are reassembled and written to the read BIO; our flights stay in
 * the write BIO and are read out one fragment per EAP-Request, so a
 * conversation holds no copy of its outgoing flight.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "eap/eap_packet.h"
#include "eap/eap_tls.h"
#include "eap/eap_tls_context.h"
#include "eap/eap_tls_reassembly.h"
#include "eap/eap_tls_records.h"

#define EAP_IDENTITY_MAX 253

enum conversation_state {
	STATE_START,         /* nothing sent yet */
	STATE_IDENTITY,      /* Request/Identity sent */
	STATE_HANDSHAKE,     /* TLS Start sent; exchanging flights */
	STATE_VERIFIED,      /* handshake done, our last flight held back: the caller decides */
	STATE_FINISHING,     /* handshake done; last flight out, its final ACK means success */
	STATE_ALERTING,      /* handshake failed; alert out, the next response means failure */
	STATE_SUCCESS,
	STATE_FAILURE,
};

struct eap_conversation {
	struct eap_tls_context *ctx;
	size_t fragment_size;
	enum conversation_state state;
	uint8_t id;                  /* Identifier of the request being answered */
	unsigned round_trips;

	SSL *ssl;                    /* freed as soon as the conversation ends */
	struct eap_tls_reassembly reassembly;
	struct eap_tls_records records; /* the peer's TLS stream so far, headers only */
	size_t flight_len;           /* bytes of the current outgoing flight */
	size_t flight_sent;          /* of which already sent */

	uint8_t *packet;             /* the last packet built, what *out points to */
	size_t packet_cap;

	struct eap_tls_peer peer;    /* reason, detail, leaf certificate */
	STACK_OF(X509) *chain;       /* verified chain, after success */
	const char *tls_version;
	bool resumed;
	char identity[EAP_IDENTITY_MAX + 1];
	bool have_keys;
	uint8_t msk[EAP_MSK_LEN];
	uint8_t emsk[EAP_EMSK_LEN];
};

static uint8_t *reserve_packet(struct eap_conversation *conv, size_t len)
{
	uint8_t *p;

	if (len <= conv->packet_cap)
		return conv->packet;
	p = OPENSSL_realloc(conv->packet, len);
	if (p == NULL)
		return NULL;
	conv->packet = p;
	conv->packet_cap = len;
	return p;
}

static void wipe_keys(struct eap_conversation *conv)
{
	OPENSSL_cleanse(conv->msk, sizeof(conv->msk));
	OPENSSL_cleanse(conv->emsk, sizeof(conv->emsk));
	conv->have_keys = false;
}

/* Called when the conversation ends: TLS state is no longer needed, only its results. */
static void release_tls(struct eap_conversation *conv)
{
	SSL_free(conv->ssl);
	conv->ssl = NULL;
	eap_tls_reassembly_reset(&conv->reassembly);
	conv->flight_len = conv->flight_sent = 0;
}

static enum eap_step finish(struct eap_conversation *conv, enum eap_code code,
                            const uint8_t **out, size_t *outlen)
{
	/* The 4-byte header always fits: the buffer is allocated at creation. */
	*outlen = eap_packet_build_result(conv->packet, code, conv->id);
	*out = conv->packet;
	release_tls(conv);
	if (code == EAP_CODE_SUCCESS) {
		conv->state = STATE_SUCCESS;
		return EAP_STEP_SUCCESS;
	}
	wipe_keys(conv);
	conv->state = STATE_FAILURE;
	return EAP_STEP_FAILURE;
}

static enum eap_step fail(struct eap_conversation *conv, enum eap_reason reason,
                          const uint8_t **out, size_t *outlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum eap_step fail(struct eap_conversation *conv, enum eap_reason reason,
                          const uint8_t **out, size_t *outlen, const char *fmt, ...)
{
	va_list ap;

	conv->peer.reason = reason;
	va_start(ap, fmt);
	vsnprintf(conv->peer.detail, sizeof(conv->peer.detail), fmt, ap);
	va_end(ap);
	return finish(conv, EAP_CODE_FAILURE, out, outlen);
}

/*
 * Every EAP-Request goes through here: a new Identifier and one more round
 * trip. Returns the packet buffer of at least len bytes, or NULL once the
 * conversation has failed (the failure is already in *out).
 */
static uint8_t *new_request(struct eap_conversation *conv, size_t len,
                            const uint8_t **out, size_t *outlen, enum eap_step *step)
{
	uint8_t *p;

	if (conv->round_trips >= EAP_TLS_MAX_ROUND_TRIPS) {
		*step = fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
		             "more than %d round trips", EAP_TLS_MAX_ROUND_TRIPS);
		return NULL;
	}
	p = reserve_packet(conv, len);
	if (p == NULL) {
		*step = fail(conv, EAP_REASON_TLS_FAILED, out, outlen, "out of memory");
		return NULL;
	}
	conv->round_trips++;
	conv->id++;
	*step = EAP_STEP_SEND;
	return p;
}

static enum eap_step send_identity_request(struct eap_conversation *conv,
                                           const uint8_t **out, size_t *outlen)
{
	enum eap_step step;
	uint8_t *p = new_request(conv, EAP_HEADER_LEN + 1, out, outlen, &step);

	if (p == NULL)
		return step;
	conv->state = STATE_IDENTITY;
	*out = p;
	*outlen = eap_packet_build_identity_request(p, conv->id);
	return step;
}

/* An EAP-TLS request without data: TLS Start (flags S) or an ACK (flags 0). */
static enum eap_step send_tls_empty(struct eap_conversation *conv, uint8_t flags,
                                    const uint8_t **out, size_t *outlen)
{
	enum eap_step step;
	uint8_t *p = new_request(conv, EAP_TLS_HEADER_MAX, out, outlen, &step);

	if (p == NULL)
		return step;
	*out = p;
	*outlen = eap_tls_build_request_header(p, conv->id, flags, 0, 0);
	return step;
}

/* The next fragment of the flight waiting in the write BIO (RFC 5216 section 2.1.5). */
static enum eap_step send_fragment(struct eap_conversation *conv,
                                   const uint8_t **out, size_t *outlen)
{
	size_t remaining = conv->flight_len - conv->flight_sent;
	size_t n = remaining < conv->fragment_size ? remaining : conv->fragment_size;
	uint8_t flags = 0;
	enum eap_step step;
	size_t hdrlen;
	uint8_t *p;

	if (n < remaining)
		flags |= EAP_TLS_FLAG_MORE;
	if (n < remaining && conv->flight_sent == 0)
		flags |= EAP_TLS_FLAG_LENGTH;
	p = new_request(conv, EAP_TLS_HEADER_MAX + n, out, outlen, &step);
	if (p == NULL)
		return step;
	hdrlen = eap_tls_build_request_header(p, conv->id, flags, (uint32_t)conv->flight_len, n);
	if (BIO_read(SSL_get_wbio(conv->ssl), p + hdrlen, (int)n) != (int)n)
		return fail(conv, EAP_REASON_TLS_FAILED, out, outlen, "short read of TLS output");
	conv->flight_sent += n;
	*out = p;
	*outlen = hdrlen + n;
	return step;
}

static enum eap_step send_flight(struct eap_conversation *conv,
                                 const uint8_t **out, size_t *outlen)
{
	conv->flight_len = BIO_ctrl_pending(SSL_get_wbio(conv->ssl));
	conv->flight_sent = 0;
	return send_fragment(conv, out, outlen);
}

static const char *version_name(const SSL *ssl)
{
	switch (SSL_version(ssl)) {
	case TLS1_2_VERSION:
		return "TLSv1.2";
	case TLS1_3_VERSION:
		return "TLSv1.3";
	default:
		return NULL;   /* not negotiated yet */
	}
}

/* MSK and EMSK: RFC 5216 section 2.3 for TLS 1.2, RFC 9190 section 2.3 for TLS 1.3. */
static int export_keys(struct eap_conversation *conv)
{
	static const uint8_t tls13_context[] = { EAP_TYPE_TLS };
	uint8_t km[EAP_MSK_LEN + EAP_EMSK_LEN];
	int ok;

	if (SSL_version(conv->ssl) == TLS1_3_VERSION) {
		static const char label[] = "EXPORTER_EAP_TLS_Key_Material";

		ok = SSL_export_keying_material(conv->ssl, km, sizeof(km), label, sizeof(label) - 1,
		                                tls13_context, sizeof(tls13_context), 1);
	} else {
		static const char label[] = "client EAP encryption";

		ok = SSL_export_keying_material(conv->ssl, km, sizeof(km), label, sizeof(label) - 1,
		                                NULL, 0, 0);
	}
	if (ok == 1) {
		memcpy(conv->msk, km, EAP_MSK_LEN);
		memcpy(conv->emsk, km + EAP_MSK_LEN, EAP_EMSK_LEN);
		conv->have_keys = true;
	}
	OPENSSL_cleanse(km, sizeof(km));
	return ok == 1 ? 0 : -1;
}

/* Keeps what the log and policy need beyond the SSL object's lifetime. */
static int keep_peer(struct eap_conversation *conv)
{
	STACK_OF(X509) *chain = SSL_get0_verified_chain(conv->ssl);

	if (conv->peer.leaf == NULL)
		conv->peer.leaf = SSL_get1_peer_certificate(conv->ssl);
	if (chain == NULL || conv->peer.leaf == NULL)
		return -1;
	/* A session offered but not resumed left its chain behind: this one counts. */
	sk_X509_pop_free(conv->chain, X509_free);
	conv->chain = X509_chain_up_ref(chain);
	return conv->chain != NULL ? 0 : -1;
}

static enum eap_step handshake_done(struct eap_conversation *conv,
                                    const uint8_t **out, size_t *outlen)
{
	/* A resumed session's certificate was verified when it was offered
	 * (eap_conversation_offered_chain), and that chain is kept. */
	conv->resumed = SSL_session_reused(conv->ssl);
	if (conv->resumed && conv->peer.leaf == NULL)
		conv->peer.leaf = SSL_get1_peer_certificate(conv->ssl);
	if (export_keys(conv) < 0 || (conv->resumed ? conv->chain == NULL || conv->peer.leaf == NULL
	                                            : keep_peer(conv) < 0)) {
		ERR_clear_error();
		return fail(conv, EAP_REASON_TLS_FAILED, out, outlen,
		            "cannot export keys or peer chain");
	}
	/* Hold our last flight back until the caller has decided: a refusal can
	 * then still be a TLS alert the peer must honour (see eap_conversation_refuse). */
	conv->state = STATE_VERIFIED;
	*out = NULL;
	*outlen = 0;
	return EAP_STEP_VERIFIED;
}

enum eap_step eap_conversation_allow(struct eap_conversation *conv,
                                     const uint8_t **out, size_t *outlen)
{
	static const uint8_t commitment = 0x00;

	if (conv->state != STATE_VERIFIED)
		return fail(conv, EAP_REASON_TLS_FAILED, out, outlen, "allow without a verified peer");
	/* RFC 9190 section 2.5: one byte of application data says "no more handshake". */
	if (SSL_version(conv->ssl) == TLS1_3_VERSION && SSL_write(conv->ssl, &commitment, 1) != 1) {
		ERR_clear_error();
		return fail(conv, EAP_REASON_TLS_FAILED, out, outlen,
		            "cannot write the TLS 1.3 commitment message");
	}
	conv->state = STATE_FINISHING;
	/* A resumed TLS 1.2 handshake ends with the peer's Finished: ours went
	 * first, so EAP-Success follows at once (RFC 5216 2.1.3). */
	if (BIO_ctrl_pending(SSL_get_wbio(conv->ssl)) == 0 && conv->resumed)
		return finish(conv, EAP_CODE_SUCCESS, out, outlen);
	if (BIO_ctrl_pending(SSL_get_wbio(conv->ssl)) == 0)
		return fail(conv, EAP_REASON_TLS_FAILED, out, outlen,
		            "handshake completed without a final flight");
	return send_flight(conv, out, outlen);
}

enum eap_step eap_conversation_refuse(struct eap_conversation *conv,
                                      const uint8_t **out, size_t *outlen)
{
	/* TLS 1.2 fatal access_denied(49), in the clear: our ChangeCipherSpec has
	 * not gone out, so this direction is still unencrypted. */
	static const uint8_t access_denied[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31 };
	BIO *wbio;

	wipe_keys(conv);
	if (conv->state == STATE_VERIFIED && SSL_version(conv->ssl) == TLS1_2_VERSION && !conv->resumed) {
		/* Our CCS and Finished are replaced: a peer that had them would count
		 * the method as succeeded and ignore the EAP-Failure (RFC 4137). */
		wbio = SSL_get_wbio(conv->ssl);
		(void)BIO_reset(wbio);
		if (BIO_write(wbio, access_denied, sizeof(access_denied)) == (int)sizeof(access_denied)) {
			conv->state = STATE_ALERTING;
			return send_flight(conv, out, outlen);
		}
	}
	/* TLS 1.3: the peer has not seen the commitment message, so it still
	 * honours a plain EAP-Failure. A resumed TLS 1.2 handshake was judged
	 * before it began (see EAP_STEP_LOOKUP); this is the NAS's answer. */
	return finish(conv, EAP_CODE_FAILURE, out, outlen);
}

static enum eap_step handshake_failed(struct eap_conversation *conv, int ssl_error,
                                      const uint8_t **out, size_t *outlen)
{
	eap_tls_context_classify_failure(conv->ssl, ssl_error, &conv->peer);
	wipe_keys(conv);
	/* Like hostapd: deliver OpenSSL's alert so the device learns why, then fail. */
	if (BIO_ctrl_pending(SSL_get_wbio(conv->ssl)) > 0) {
		conv->state = STATE_ALERTING;
		return send_flight(conv, out, outlen);
	}
	return finish(conv, EAP_CODE_FAILURE, out, outlen);
}

static enum eap_step run_handshake(struct eap_conversation *conv,
                                   const uint8_t **out, size_t *outlen)
{
	int ret, ssl_error;

	ERR_clear_error();
	ret = SSL_do_handshake(conv->ssl);
	ssl_error = ret == 1 ? SSL_ERROR_NONE : SSL_get_error(conv->ssl, ret);
	/* The peer offered a session (see on_client_hello); no version agreed yet. */
	if (ssl_error == SSL_ERROR_WANT_CLIENT_HELLO_CB)
		return EAP_STEP_LOOKUP;
	if (conv->tls_version == NULL)
		conv->tls_version = version_name(conv->ssl);
	if (ret == 1)
		return handshake_done(conv, out, outlen);
	if (ssl_error != SSL_ERROR_WANT_READ)
		return handshake_failed(conv, ssl_error, out, outlen);
	if (BIO_ctrl_pending(SSL_get_wbio(conv->ssl)) > 0)
		return send_flight(conv, out, outlen);
	/* The peer's flight is incomplete (split over several messages): ask for more. */
	return send_tls_empty(conv, 0, out, outlen);
}

static enum eap_step handle_tls_data(struct eap_conversation *conv, const struct eap_tls_frame *frame,
                                     const uint8_t **out, size_t *outlen)
{
	enum eap_tls_reassembly_status status;
	char err[EAP_TLS_DETAIL_MAX];
	const uint8_t *msg;
	size_t msglen;
	int written;

	status = eap_tls_reassembly_add(&conv->reassembly, frame,
	                                conv->ctx->max_handshake_message + EAP_TLS_FLIGHT_ALLOWANCE,
	                                &msg, &msglen, err, sizeof(err));
	if (status == EAP_TLS_REASSEMBLY_ERROR)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen, "%s", err);
	/* Each fragment as it comes, so an oversized claim ends the conversation
	 * before the rest of the flight is held, and long before OpenSSL
	 * allocates what the claim says. */
	conv->records.tls12 = SSL_version(conv->ssl) == TLS1_2_VERSION;
	if (eap_tls_records_scan(&conv->records, frame->data, frame->datalen,
	                         conv->ctx->max_handshake_message, err, sizeof(err)) < 0)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen, "%s", err);
	if (status == EAP_TLS_REASSEMBLY_MORE)
		return send_tls_empty(conv, 0, out, outlen);
	written = BIO_write(SSL_get_rbio(conv->ssl), msg, (int)msglen);
	eap_tls_reassembly_reset(&conv->reassembly);
	if (written != (int)msglen)
		return fail(conv, EAP_REASON_TLS_FAILED, out, outlen, "out of memory");
	return run_handshake(conv, out, outlen);
}

static enum eap_step handle_tls(struct eap_conversation *conv, const uint8_t *data, size_t len,
                                const uint8_t **out, size_t *outlen)
{
	struct eap_tls_frame frame;
	char err[EAP_TLS_DETAIL_MAX];
	bool ack;

	if (eap_tls_frame_parse(data, len, &frame, err, sizeof(err)) < 0)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen, "%s", err);
	if (frame.flags & EAP_TLS_FLAG_START)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen, "S flag in a response");
	ack = eap_tls_frame_is_ack(&frame);
	if (conv->flight_sent < conv->flight_len) {
		if (!ack)
			return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
			            "peer sent data while we were sending fragments");
		return send_fragment(conv, out, outlen);
	}
	if (conv->state == STATE_FINISHING) {
		if (!ack)
			return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
			            "fragment after the handshake completed");
		return finish(conv, EAP_CODE_SUCCESS, out, outlen);
	}
	if (ack && !conv->reassembly.active)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
		            "ACK while a TLS message was expected");
	return handle_tls_data(conv, &frame, out, outlen);
}

static const char *method_name(uint8_t type)
{
	switch (type) {
	case 4:  return "MD5";
	case 6:  return "GTC";
	case 13: return "TLS";
	case 21: return "TTLS";
	case 25: return "PEAP";
	case 26: return "MSCHAPv2";
	case 43: return "FAST";
	case 55: return "TEAP";
	default: return NULL;
	}
}

/* RFC 3748 section 5.3.1: the Nak lists the methods the peer would accept (0: none). */
static enum eap_step handle_nak(struct eap_conversation *conv, const uint8_t *data, size_t len,
                                const uint8_t **out, size_t *outlen)
{
	char methods[EAP_TLS_DETAIL_MAX - 64] = "";
	size_t used = 0;

	for (size_t i = 0; i < len && data[i] != 0 && used < sizeof(methods); i++) {
		const char *name = method_name(data[i]);
		int n;

		if (name != NULL)
			n = snprintf(methods + used, sizeof(methods) - used, " %u (%s)", data[i], name);
		else
			n = snprintf(methods + used, sizeof(methods) - used, " %u", data[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return fail(conv, EAP_REASON_EAP_NAK, out, outlen, "peer refused EAP-TLS; proposed:%s",
	            methods[0] != '\0' ? methods : " none");
}

static void keep_identity(struct eap_conversation *conv, const uint8_t *data, size_t len)
{
	size_t n = 0;

	while (n < len && n < EAP_IDENTITY_MAX && data[n] != 0)
		n++;
	memcpy(conv->identity, data, n);
	conv->identity[n] = '\0';
}

static enum eap_step handle_response(struct eap_conversation *conv, const struct eap_packet *pkt,
                                     const uint8_t **out, size_t *outlen)
{
	if (conv->state == STATE_ALERTING)
		return finish(conv, EAP_CODE_FAILURE, out, outlen);
	if (conv->state == STATE_VERIFIED)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
		            "response while the decision on the peer was pending");
	if (pkt->type == EAP_TYPE_NAK)
		return handle_nak(conv, pkt->data, pkt->datalen, out, outlen);
	switch (conv->state) {
	case STATE_START:
	case STATE_IDENTITY:
		if (pkt->type != EAP_TYPE_IDENTITY)
			return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
			            "expected EAP-Response/Identity, got type %u", pkt->type);
		keep_identity(conv, pkt->data, pkt->datalen);
		conv->state = STATE_HANDSHAKE;
		return send_tls_empty(conv, EAP_TLS_FLAG_START, out, outlen);
	default:
		if (pkt->type != EAP_TYPE_TLS)
			return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
			            "expected EAP-TLS, got type %u", pkt->type);
		return handle_tls(conv, pkt->data, pkt->datalen, out, outlen);
	}
}

enum eap_step eap_conversation_step(struct eap_conversation *conv,
                                    const uint8_t *in, size_t inlen,
                                    const uint8_t **out, size_t *outlen)
{
	struct eap_packet pkt;
	char err[EAP_TLS_DETAIL_MAX];

	*out = NULL;
	*outlen = 0;
	if (conv->state == STATE_SUCCESS || conv->state == STATE_FAILURE)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
		            "input after the conversation ended");
	if (inlen == 0) {
		if (conv->state == STATE_START)
			return send_identity_request(conv, out, outlen);
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
		            "EAP-Start in the middle of a conversation");
	}
	if (eap_packet_parse(in, inlen, &pkt, err, sizeof(err)) < 0)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen, "%s", err);
	if (pkt.code != EAP_CODE_RESPONSE)
		return fail(conv, EAP_REASON_EAP_MALFORMED, out, outlen,
		            "unexpected EAP code %u from peer", pkt.code);
	/*
	 * The NAS usually asks for the identity itself, so a first Response/Identity
	 * carries the NAS's Identifier. After that, RFC 3748 section 4.1: discard
	 * responses that do not answer our last request.
	 */
	if (conv->state == STATE_START)
		conv->id = pkt.id;
	else if (pkt.id != conv->id)
		return EAP_STEP_DISCARD;
	return handle_response(conv, &pkt, out, outlen);
}

struct eap_conversation *eap_conversation_new(struct eap_tls_context *ctx, size_t fragment_size)
{
	struct eap_conversation *conv;

	conv = OPENSSL_zalloc(sizeof(*conv));
	if (conv == NULL)
		return NULL;
	conv->ctx = ctx;
	if (fragment_size < EAP_TLS_MIN_FRAGMENT)
		fragment_size = EAP_TLS_MIN_FRAGMENT;
	if (fragment_size > EAP_TLS_MAX_FRAGMENT)
		fragment_size = EAP_TLS_MAX_FRAGMENT;
	conv->fragment_size = fragment_size;
	conv->state = STATE_START;
	/* Room for the requests without TLS data; fragments grow it on demand. */
	if (reserve_packet(conv, EAP_TLS_HEADER_MAX) == NULL)
		goto fail;
	/* An unpredictable first Identifier makes blind injection of responses harder. */
	if (RAND_bytes(&conv->id, 1) != 1)
		goto fail;
	conv->ssl = eap_tls_context_new_ssl(ctx, &conv->peer);
	if (conv->ssl == NULL)
		goto fail;
	return conv;
fail:
	ERR_clear_error();
	eap_conversation_free(conv);
	return NULL;
}

void eap_conversation_free(struct eap_conversation *conv)
{
	if (conv == NULL)
		return;
	release_tls(conv);
	wipe_keys(conv);
	X509_free(conv->peer.leaf);
	SSL_SESSION_free(conv->peer.resume.found);
	SSL_SESSION_free(conv->peer.resume.fresh);
	sk_X509_pop_free(conv->chain, X509_free);
	OPENSSL_free(conv->packet);
	OPENSSL_free(conv);
}

enum eap_reason eap_conversation_reason(const struct eap_conversation *conv)
{
	return conv->peer.reason;
}

const char *eap_conversation_detail(const struct eap_conversation *conv)
{
	return conv->peer.detail;
}

const char *eap_conversation_identity(const struct eap_conversation *conv)
{
	return conv->identity;
}

const char *eap_conversation_tls_version(const struct eap_conversation *conv)
{
	return conv->tls_version;
}

size_t eap_conversation_buffered(const struct eap_conversation *conv)
{
	size_t n = conv->packet_cap + conv->reassembly.cap;

	if (conv->ssl != NULL)
		n += BIO_ctrl_pending(SSL_get_rbio(conv->ssl)) + BIO_ctrl_pending(SSL_get_wbio(conv->ssl)) +
		     conv->records.largest_message;
	return n;
}

unsigned eap_conversation_round_trips(const struct eap_conversation *conv)
{
	return conv->round_trips;
}

X509 *eap_conversation_peer_cert(const struct eap_conversation *conv)
{
	return conv->peer.leaf;
}

STACK_OF(X509) *eap_conversation_verified_chain(const struct eap_conversation *conv)
{
	return conv->state == STATE_VERIFIED || conv->state == STATE_FINISHING ||
	               conv->state == STATE_SUCCESS ? conv->chain : NULL;
}

int eap_conversation_keys(const struct eap_conversation *conv,
                          uint8_t msk[EAP_MSK_LEN], uint8_t emsk[EAP_EMSK_LEN])
{
	if (conv->state != STATE_SUCCESS || !conv->have_keys)
		return -1;
	memcpy(msk, conv->msk, EAP_MSK_LEN);
	memcpy(emsk, conv->emsk, EAP_EMSK_LEN);
	return 0;
}

size_t eap_conversation_offered_session(const struct eap_conversation *conv, const uint8_t **id)
{
	*id = conv->peer.resume.offered;
	return conv->peer.resume.offered_len;
}

STACK_OF(X509) *eap_conversation_offered_chain(struct eap_conversation *conv, const uint8_t *der,
                                               size_t len, char *detail, size_t detaillen)
{
	struct eap_tls_resumption *r = &conv->peer.resume;
	const unsigned char *p = der;
	SSL_SESSION *session = NULL;
	STACK_OF(X509) *chain = NULL;
	X509 *leaf;

	snprintf(detail, detaillen, "stored session does not decode");
	if (r->offered_len == 0 || r->looked_up || r->found != NULL || len == 0 || len > LONG_MAX ||
	    (session = d2i_SSL_SESSION(NULL, &p, (long)len)) == NULL)
		goto fail;
	snprintf(detail, detaillen, "stored session without a certificate");
	if ((leaf = SSL_SESSION_get0_peer(session)) == NULL)
		goto fail;
	if (eap_tls_verify_certificate(conv->ctx, leaf, NULL, &chain, detail, detaillen) != EAP_REASON_OK)
		goto fail;
	r->found = session;
	sk_X509_pop_free(conv->chain, X509_free);
	conv->chain = chain;
	return chain;
fail:
	ERR_clear_error();
	SSL_SESSION_free(session);
	return NULL;
}

STACK_OF(X509) *eap_conversation_found_chain(const struct eap_conversation *conv)
{
	return conv->peer.resume.found != NULL && !conv->peer.resume.looked_up ? conv->chain : NULL;
}

enum eap_step eap_conversation_resume(struct eap_conversation *conv, bool resume,
                                      const uint8_t **out, size_t *outlen)
{
	struct eap_tls_resumption *r = &conv->peer.resume;

	*out = NULL;
	*outlen = 0;
	if (conv->state != STATE_HANDSHAKE || conv->ssl == NULL || r->offered_len == 0 || r->looked_up)
		return fail(conv, EAP_REASON_TLS_FAILED, out, outlen, "resume without a session lookup");
	r->looked_up = true;
	if (!resume || r->found == NULL) {
		/* A full handshake verifies (and keeps) its own chain. */
		SSL_SESSION_free(r->found);
		r->found = NULL;
		sk_X509_pop_free(conv->chain, X509_free);
		conv->chain = NULL;
	}
	return run_handshake(conv, out, outlen);
}

bool eap_conversation_resumed(const struct eap_conversation *conv)
{
	return conv->resumed;
}

int eap_conversation_new_session(const struct eap_conversation *conv, uint8_t id[32], size_t *idlen,
                                 uint8_t **der, size_t *derlen)
{
	SSL_SESSION *session = conv->peer.resume.fresh;
	const unsigned char *sid;
	unsigned int sidlen = 0;
	unsigned char *p;
	int n;

	if ((conv->state != STATE_VERIFIED && conv->state != STATE_FINISHING &&
	     conv->state != STATE_SUCCESS) || session == NULL)
		return -1;
	sid = SSL_SESSION_get_id(session, &sidlen);
	n = i2d_SSL_SESSION(session, NULL);
	if (sidlen == 0 || sidlen > 32 || n <= 0 || (*der = malloc((size_t)n)) == NULL)
		return -1;
	p = *der;
	if (i2d_SSL_SESSION(session, &p) != n) {
		free(*der);
		*der = NULL;
		return -1;
	}
	memcpy(id, sid, sidlen);
	*idlen = sidlen;
	*derlen = (size_t)n;
	return 0;
}

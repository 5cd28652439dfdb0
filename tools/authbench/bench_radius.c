/* RADIUS encoding and checks for authbench; see bench_radius.h. */
#include "bench_radius.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

enum {
	ATTR_USER_NAME = 1,
	ATTR_NAS_PORT = 5,
	ATTR_FRAMED_MTU = 12,
	ATTR_STATE = 24,
	ATTR_VENDOR_SPECIFIC = 26,
	ATTR_CALLING_STATION_ID = 31,
	ATTR_NAS_IDENTIFIER = 32,
	ATTR_NAS_PORT_TYPE = 61,
	ATTR_EAP_MESSAGE = 79,
	ATTR_MESSAGE_AUTHENTICATOR = 80,

	VENDOR_MICROSOFT = 311,
	MS_MPPE_SEND_KEY = 16,
	MS_MPPE_RECV_KEY = 17,

	HEADER_LEN = 20,
	MD5_LEN = 16,
	HMAC_BLOCK = 64,
};

struct bench_radius_secret {
	uint8_t *secret;
	size_t len;
	EVP_MD *md5;
	EVP_MD_CTX *ipad;   /* MD5 state after the HMAC inner pad */
	EVP_MD_CTX *opad;   /* after the outer pad */
	EVP_MD_CTX *work;
};

struct bench_radius_secret *bench_radius_secret_new(const uint8_t *secret, size_t len)
{
	struct bench_radius_secret *s = calloc(1, sizeof(*s));
	uint8_t key[HMAC_BLOCK] = { 0 }, pad[HMAC_BLOCK];
	unsigned keylen = 0;

	if (s == NULL)
		return NULL;
	s->secret = malloc(len != 0 ? len : 1);
	s->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	s->ipad = EVP_MD_CTX_new();
	s->opad = EVP_MD_CTX_new();
	s->work = EVP_MD_CTX_new();
	if (s->secret == NULL || s->md5 == NULL || s->ipad == NULL || s->opad == NULL || s->work == NULL)
		goto fail;
	memcpy(s->secret, secret, len);
	s->len = len;
	/* RFC 2104: a key longer than the block is hashed first. */
	if (len > HMAC_BLOCK) {
		if (EVP_Digest(secret, len, key, &keylen, s->md5, NULL) != 1)
			goto fail;
	} else {
		memcpy(key, secret, len);
	}
	for (int i = 0; i < HMAC_BLOCK; i++)
		pad[i] = key[i] ^ 0x36;
	if (EVP_DigestInit_ex(s->ipad, s->md5, NULL) != 1 || EVP_DigestUpdate(s->ipad, pad, sizeof(pad)) != 1)
		goto fail;
	for (int i = 0; i < HMAC_BLOCK; i++)
		pad[i] = key[i] ^ 0x5c;
	if (EVP_DigestInit_ex(s->opad, s->md5, NULL) != 1 || EVP_DigestUpdate(s->opad, pad, sizeof(pad)) != 1)
		goto fail;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(pad, sizeof(pad));
	return s;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(pad, sizeof(pad));
	bench_radius_secret_free(s);
	return NULL;
}

void bench_radius_secret_free(struct bench_radius_secret *s)
{
	if (s == NULL)
		return;
	if (s->secret != NULL)
		OPENSSL_cleanse(s->secret, s->len);
	free(s->secret);
	EVP_MD_CTX_free(s->ipad);
	EVP_MD_CTX_free(s->opad);
	EVP_MD_CTX_free(s->work);
	EVP_MD_free(s->md5);
	free(s);
}

static int hmac_md5(struct bench_radius_secret *s, const uint8_t *data, size_t len, uint8_t out[MD5_LEN])
{
	uint8_t inner[MD5_LEN];

	if (EVP_MD_CTX_copy_ex(s->work, s->ipad) != 1 || EVP_DigestUpdate(s->work, data, len) != 1 ||
	    EVP_DigestFinal_ex(s->work, inner, NULL) != 1 || EVP_MD_CTX_copy_ex(s->work, s->opad) != 1 ||
	    EVP_DigestUpdate(s->work, inner, sizeof(inner)) != 1 || EVP_DigestFinal_ex(s->work, out, NULL) != 1)
		return -1;
	return 0;
}

/* MD5 over up to three pieces (a NULL piece is skipped). */
static int md5_3(struct bench_radius_secret *s, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                 const uint8_t *c, size_t clen, uint8_t out[MD5_LEN])
{
	if (EVP_DigestInit_ex(s->work, s->md5, NULL) != 1 ||
	    (a != NULL && EVP_DigestUpdate(s->work, a, alen) != 1) ||
	    (b != NULL && EVP_DigestUpdate(s->work, b, blen) != 1) ||
	    (c != NULL && EVP_DigestUpdate(s->work, c, clen) != 1) ||
	    EVP_DigestFinal_ex(s->work, out, NULL) != 1)
		return -1;
	return 0;
}

/* Appends one attribute; -1 if it does not fit. */
static int put_attr(uint8_t *out, size_t *off, uint8_t type, const void *value, size_t len)
{
	if (len > 253 || *off + 2 + len > BENCH_RADIUS_MAX)
		return -1;
	out[*off] = type;
	out[*off + 1] = (uint8_t)(2 + len);
	if (len != 0)
		memcpy(out + *off + 2, value, len);
	*off += 2 + len;
	return 0;
}

static int put_u32(uint8_t *out, size_t *off, uint8_t type, uint32_t v)
{
	uint32_t be = htonl(v);

	return put_attr(out, off, type, &be, sizeof(be));
}

static int put_string(uint8_t *out, size_t *off, uint8_t type, const char *v)
{
	return v == NULL ? 0 : put_attr(out, off, type, v, strlen(v));
}

int bench_radius_build_request(struct bench_radius_secret *s, uint8_t id,
                               const uint8_t auth[BENCH_RADIUS_AUTH_LEN],
                               const struct bench_radius_request *req, uint8_t *out)
{
	static const uint8_t zero[MD5_LEN];
	size_t off = HEADER_LEN, ma;

	out[0] = BENCH_RADIUS_ACCESS_REQUEST;
	out[1] = id;
	memcpy(out + 4, auth, BENCH_RADIUS_AUTH_LEN);
	/* Message-Authenticator first, where the BlastRADIUS hardening wants it in every packet. */
	ma = off + 2;
	if (put_attr(out, &off, ATTR_MESSAGE_AUTHENTICATOR, zero, sizeof(zero)) < 0 ||
	    put_string(out, &off, ATTR_USER_NAME, req->user_name) < 0 ||
	    put_string(out, &off, ATTR_NAS_IDENTIFIER, req->nas_identifier) < 0 ||
	    put_u32(out, &off, ATTR_NAS_PORT, req->nas_port) < 0 ||
	    put_u32(out, &off, ATTR_NAS_PORT_TYPE, req->nas_port_type) < 0 ||
	    put_string(out, &off, ATTR_CALLING_STATION_ID, req->calling_station_id) < 0 ||
	    (req->framed_mtu != 0 && put_u32(out, &off, ATTR_FRAMED_MTU, req->framed_mtu) < 0) ||
	    (req->state != NULL && put_attr(out, &off, ATTR_STATE, req->state, req->state_len) < 0))
		return -1;
	for (size_t done = 0; done < req->eap_len;) {
		size_t n = req->eap_len - done < 253 ? req->eap_len - done : 253;

		if (put_attr(out, &off, ATTR_EAP_MESSAGE, req->eap + done, n) < 0)
			return -1;
		done += n;
	}
	out[2] = (uint8_t)(off >> 8);
	out[3] = (uint8_t)off;
	if (hmac_md5(s, out, off, out + ma) < 0)
		return -1;
	return (int)off;
}

/* Walks the attributes: -1 if one overruns the packet or is shorter than its header. */
static int attrs_ok(const uint8_t *pkt, size_t len)
{
	for (size_t off = HEADER_LEN; off < len;) {
		if (len - off < 2 || pkt[off + 1] < 2 || pkt[off + 1] > len - off)
			return -1;
		off += pkt[off + 1];
	}
	return 0;
}

/* The length the header declares, or 0 if the datagram cannot hold it. */
static size_t declared_length(const uint8_t *pkt, size_t len)
{
	size_t declared;

	if (len < HEADER_LEN)
		return 0;
	declared = (size_t)pkt[2] << 8 | pkt[3];
	/* RFC 2865 3: bytes past Length are padding; fewer than Length is a broken packet. */
	if (declared < HEADER_LEN || declared > len || declared > BENCH_RADIUS_MAX)
		return 0;
	return declared;
}

enum bench_radius_check bench_radius_check_reply(struct bench_radius_secret *s, const uint8_t *pkt,
                                                 size_t len, const uint8_t req_auth[BENCH_RADIUS_AUTH_LEN])
{
	uint8_t copy[BENCH_RADIUS_MAX], digest[MD5_LEN];
	size_t ma = 0;

	len = declared_length(pkt, len);
	if (len == 0 || attrs_ok(pkt, len) < 0)
		return BENCH_RADIUS_MALFORMED;
	/* Response Authenticator = MD5(Code + Identifier + Length + Request Authenticator + Attributes + Secret) */
	memcpy(copy, pkt, len);
	memcpy(copy + 4, req_auth, BENCH_RADIUS_AUTH_LEN);
	if (md5_3(s, copy, len, s->secret, s->len, NULL, 0, digest) < 0 ||
	    CRYPTO_memcmp(digest, pkt + 4, MD5_LEN) != 0)
		return BENCH_RADIUS_BAD_AUTHENTICATOR;
	for (size_t off = HEADER_LEN; off < len; off += pkt[off + 1]) {
		if (pkt[off] != ATTR_MESSAGE_AUTHENTICATOR)
			continue;
		if (pkt[off + 1] != 2 + MD5_LEN || ma != 0)
			return BENCH_RADIUS_MALFORMED;
		ma = off + 2;
	}
	if (ma == 0)
		return BENCH_RADIUS_NO_MESSAGE_AUTHENTICATOR;
	/* RFC 3579 3.2: computed with the Request Authenticator in place and the attribute zeroed. */
	memset(copy + ma, 0, MD5_LEN);
	if (hmac_md5(s, copy, len, digest) < 0 || CRYPTO_memcmp(digest, pkt + ma, MD5_LEN) != 0)
		return BENCH_RADIUS_BAD_MESSAGE_AUTHENTICATOR;
	return BENCH_RADIUS_OK;
}

/* The Microsoft sub-attributes of one Vendor-Specific value. */
static int parse_vsa(const uint8_t *v, size_t len, struct bench_radius_reply *out)
{
	uint32_t vendor;

	if (len < 4)
		return -1;
	vendor = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	if (vendor != VENDOR_MICROSOFT)
		return 0;
	for (size_t off = 4; off < len;) {
		uint8_t type, sublen;

		if (len - off < 2 || v[off + 1] < 2 || v[off + 1] > len - off)
			return -1;
		type = v[off];
		sublen = v[off + 1];
		if (type == MS_MPPE_SEND_KEY) {
			out->mppe_send = v + off + 2;
			out->mppe_send_len = sublen - 2u;
		} else if (type == MS_MPPE_RECV_KEY) {
			out->mppe_recv = v + off + 2;
			out->mppe_recv_len = sublen - 2u;
		}
		off += sublen;
	}
	return 0;
}

int bench_radius_parse_reply(const uint8_t *pkt, size_t len, struct bench_radius_reply *out)
{
	len = declared_length(pkt, len);
	if (len == 0 || attrs_ok(pkt, len) < 0)
		return -1;
	out->code = pkt[0];
	out->state = NULL;
	out->state_len = 0;
	out->eap_len = 0;
	out->mppe_send = out->mppe_recv = NULL;
	out->mppe_send_len = out->mppe_recv_len = 0;
	for (size_t off = HEADER_LEN; off < len; off += pkt[off + 1]) {
		const uint8_t *v = pkt + off + 2;
		size_t vlen = pkt[off + 1] - 2u;

		switch (pkt[off]) {
		case ATTR_STATE:
			out->state = v;
			out->state_len = vlen;
			break;
		case ATTR_EAP_MESSAGE:
			memcpy(out->eap + out->eap_len, v, vlen);  /* fits: the packet is at most 4096 */
			out->eap_len += vlen;
			break;
		case ATTR_VENDOR_SPECIFIC:
			if (parse_vsa(v, vlen, out) < 0)
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

int bench_radius_mppe_decrypt(struct bench_radius_secret *s, const uint8_t *value, size_t len,
                              const uint8_t req_auth[BENCH_RADIUS_AUTH_LEN],
                              uint8_t *key, size_t keysize, size_t *keylen)
{
	uint8_t plain[256], b[MD5_LEN];
	size_t n;
	int rc = -1;

	/* Salt (2 bytes, high bit set), then at least one 16-byte block. */
	if (len < 2 + MD5_LEN || len - 2 > sizeof(plain) || (len - 2) % MD5_LEN != 0 || !(value[0] & 0x80))
		return -1;
	n = len - 2;
	for (size_t i = 0; i < n; i += MD5_LEN) {
		/* b(1) = MD5(S + R + A), b(i) = MD5(S + c(i-1)) */
		if ((i == 0 ? md5_3(s, s->secret, s->len, req_auth, BENCH_RADIUS_AUTH_LEN, value, 2, b)
		            : md5_3(s, s->secret, s->len, value + 2 + i - MD5_LEN, MD5_LEN, NULL, 0, b)) < 0)
			goto out;
		for (size_t j = 0; j < MD5_LEN; j++)
			plain[i + j] = value[2 + i + j] ^ b[j];
	}
	if (plain[0] == 0 || (size_t)plain[0] + 1 > n || plain[0] > keysize)
		goto out;
	memcpy(key, plain + 1, plain[0]);
	*keylen = plain[0];
	rc = 0;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(b, sizeof(b));
	return rc;
}

#include "common/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define GCM_TAG_LEN 16
#define MAC_LEN 16
#define KEY_FILE_MAX 65536
/* A sealed value is never larger than this (a TLS session with a long chain
 * is a few kilobytes): anything longer is refused before it is decoded. */
#define BLOB_MAX (1u << 20)

struct seal_key {
	char id[SEAL_KEY_ID_MAX + 1];
	uint8_t aead[KEY_LEN];
	uint8_t mac[KEY_LEN];
};

struct seal {
	size_t n;
	struct seal_key keys[SEAL_MAX_KEYS];   /* keys[0] seals */
};

static const char *const error_texts[] = {
	[-SEAL_OK] = "ok",
	[-SEAL_MALFORMED] = "malformed",
	[-SEAL_UNKNOWN_KEY] = "unknown key id",
	[-SEAL_AUTH_FAILED] = "authentication failed",
	[-SEAL_NO_MEMORY] = "out of memory",
};

const char *seal_error_text(int e)
{
	return e <= 0 && e >= SEAL_NO_MEMORY ? error_texts[-e] : "?";
}

/* ---- base64url without padding ------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64[in[i] >> 2];
		out[o++] = b64[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		out[o++] = b64[in[i] >> 2];
		out[o++] = b64[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = b64[(in[i + 1] & 15) << 2];
	}
	out[o] = '\0';
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Strict: only the alphabet, no padding, no length that cannot be. out holds
 * len * 3 / 4 bytes. */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero: one value, one spelling. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	*outlen = o;
	return 0;
}

/* ---- keys ----------------------------------------------------------------- */

/* One subkey per purpose: HKDF-SHA256 of the file's key, info naming it. */
static int derive(const uint8_t ikm[KEY_LEN], const char *info, uint8_t out[KEY_LEN])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	static const char salt[] = "authd node key";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, KEY_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof(salt) - 1),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
		OSSL_PARAM_construct_end(),
	};
	int rc = ctx != NULL && EVP_KDF_derive(ctx, out, KEY_LEN, params) == 1 ? 0 : -1;

	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int fail_at(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail_at(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n = line > 0 ? snprintf(err, errlen, "%s:%zu: ", name, line) : snprintf(err, errlen, "%s: ", name);

	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One "KEYID HEX64" line (without its newline) into s->keys[s->n]. */
static int parse_line(struct seal *s, const char *name, size_t lineno, const char *line, size_t len,
                      char *err, size_t errlen)
{
	struct seal_key *k = &s->keys[s->n];
	uint8_t raw[KEY_LEN];
	size_t i = 0, idlen, hexstart;
	int rc = -1;

	while (i < len && line[i] > ' ' && line[i] < 0x7f && line[i] != ':')
		i++;
	idlen = i;
	if (idlen == 0 || idlen > SEAL_KEY_ID_MAX || i == len || (line[i] != ' ' && line[i] != '\t'))
		return fail_at(err, errlen, name, lineno,
		               "expected \"KEYID HEX64\": a key id of 1..%d printable characters other than ':', "
		               "a space, 64 hex digits",
		               SEAL_KEY_ID_MAX);
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	hexstart = i;
	while (len > hexstart && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	if (len - hexstart != 2 * KEY_LEN)
		return fail_at(err, errlen, name, lineno, "key \"%.*s\": expected 64 hex digits (32 bytes, e.g. "
		               "from `openssl rand -hex 32`), found %zu characters", (int)idlen, line,
		               len - hexstart);
	for (size_t j = 0; j < KEY_LEN; j++) {
		int hi = hex_value(line[hexstart + 2 * j]), lo = hex_value(line[hexstart + 2 * j + 1]);

		if (hi < 0 || lo < 0) {
			fail_at(err, errlen, name, lineno, "key \"%.*s\" is not hex", (int)idlen, line);
			goto out;
		}
		raw[j] = (uint8_t)(hi << 4 | lo);
	}
	for (size_t j = 0; j < s->n; j++) {
		if (strlen(s->keys[j].id) == idlen && memcmp(s->keys[j].id, line, idlen) == 0) {
			fail_at(err, errlen, name, lineno, "key id \"%.*s\" is listed twice", (int)idlen, line);
			goto out;
		}
	}
	if (s->n == SEAL_MAX_KEYS) {
		fail_at(err, errlen, name, lineno, "more than %d keys", SEAL_MAX_KEYS);
		goto out;
	}
	memcpy(k->id, line, idlen);
	k->id[idlen] = '\0';
	if (derive(raw, "authd v1 aead", k->aead) < 0 || derive(raw, "authd v1 mac", k->mac) < 0) {
		fail_at(err, errlen, name, lineno, "key derivation failed");
		goto out;
	}
	s->n++;
	rc = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

struct seal *seal_parse(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	struct seal *s = calloc(1, sizeof(*s));
	size_t pos = 0, lineno = 0;

	if (s == NULL) {
		fail_at(err, errlen, name, 0, "out of memory");
		return NULL;
	}
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl != NULL ? (size_t)(nl - line) : len - pos, start = 0;

		pos += linelen + (nl != NULL);
		lineno++;
		while (start < linelen && (line[start] == ' ' || line[start] == '\t' || line[start] == '\r'))
			start++;
		if (start == linelen || line[start] == '#')
			continue;
		if (memchr(line, '\0', linelen) != NULL) {
			fail_at(err, errlen, name, lineno, "a NUL byte");
			goto fail;
		}
		if (parse_line(s, name, lineno, line + start, linelen - start, err, errlen) < 0)
			goto fail;
	}
	if (s->n == 0) {
		fail_at(err, errlen, name, 0, "no key (expected lines \"KEYID HEX64\"; make one with "
		        "`echo \"k1 $(openssl rand -hex 32)\"`)");
		goto fail;
	}
	return s;
fail:
	seal_free(s);
	return NULL;
}

struct seal *seal_load(const char *path, char *err, size_t errlen)
{
	struct seal *s = NULL;
	struct stat st;
	char *text = NULL;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		fail_at(err, errlen, path, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail_at(err, errlen, path, 0, "not a regular file");
		goto out;
	}
	/* A key others can read is no secret: refuse, as ssh does with keys. */
	if ((st.st_mode & 0177) != 0) {
		fail_at(err, errlen, path, 0, "mode %04o: the node key must be mode 0600 or stricter (chmod 600 it)",
		        (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((text = malloc(KEY_FILE_MAX)) == NULL) {
		fail_at(err, errlen, path, 0, "out of memory");
		goto out;
	}
	while (len < KEY_FILE_MAX && (n = read(fd, text + len, KEY_FILE_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail_at(err, errlen, path, 0, "cannot read: %s", strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len == KEY_FILE_MAX) {
		fail_at(err, errlen, path, 0, "larger than %d bytes", KEY_FILE_MAX);
		goto out;
	}
	s = seal_parse(path, text, len, err, errlen);
out:
	if (text != NULL) {
		OPENSSL_cleanse(text, KEY_FILE_MAX);
		free(text);
	}
	close(fd);
	return s;
}

void seal_free(struct seal *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

const char *seal_key_id(const struct seal *s)
{
	return s->keys[0].id;
}

static const struct seal_key *key_of(const struct seal *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->keys[i].id, id) == 0)
			return &s->keys[i];
	}
	return NULL;
}

/* ---- sealing -------------------------------------------------------------- */

/* The AEAD's associated data: the blob's header (so the key id and version
 * are authenticated too), then the caller's name for the value. */
static int gcm(int enc, const struct seal_key *k, const uint8_t nonce[NONCE_LEN], const void *ad,
               size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out, uint8_t tag[GCM_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	char header[8 + SEAL_KEY_ID_MAX];
	int n, rc = -1;

	snprintf(header, sizeof(header), "v1:%s:", k->id);
	if (ctx == NULL || inlen > INT32_MAX ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->aead, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const uint8_t *)header, (int)strlen(header)) != 1 ||
	    (adlen > 0 && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) != 1) ||
	    (inlen > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + inlen, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

char *seal_seal(const struct seal *s, const uint8_t *pt, size_t ptlen, const void *ad, size_t adlen)
{
	const struct seal_key *k = &s->keys[0];
	size_t rawlen = NONCE_LEN + ptlen + GCM_TAG_LEN, headlen = 4 + strlen(k->id);
	uint8_t *raw = NULL;
	char *blob = NULL;

	if (ptlen > BLOB_MAX || adlen > INT32_MAX || (raw = malloc(rawlen)) == NULL)
		return NULL;
	/* A random 96-bit nonce per value: rotate the key well before 2^32 seals. */
	if (RAND_bytes(raw, NONCE_LEN) != 1 ||
	    gcm(1, k, raw, ad, adlen, pt, ptlen, raw + NONCE_LEN, raw + NONCE_LEN + ptlen) < 0 ||
	    (blob = malloc(headlen + b64_encoded_len(rawlen) + 1)) == NULL)
		goto out;
	snprintf(blob, headlen + 1, "v1:%s:", k->id);
	b64_encode(raw, rawlen, blob + headlen);
out:
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return blob;
}

int seal_blob_parse(const char *blob, size_t len, char key_id[SEAL_KEY_ID_MAX + 1], uint8_t **raw,
                    size_t *rawlen)
{
	const char *id, *colon;
	size_t idlen, b64len;

	*raw = NULL;
	*rawlen = 0;
	if (len < 3 || len > BLOB_MAX || memcmp(blob, "v1:", 3) != 0)
		return SEAL_MALFORMED;
	id = blob + 3;
	if ((colon = memchr(id, ':', len - 3)) == NULL)
		return SEAL_MALFORMED;
	idlen = (size_t)(colon - id);
	if (idlen == 0 || idlen > SEAL_KEY_ID_MAX)
		return SEAL_MALFORMED;
	for (size_t i = 0; i < idlen; i++) {
		if (id[i] <= ' ' || id[i] >= 0x7f)
			return SEAL_MALFORMED;
	}
	memcpy(key_id, id, idlen);
	key_id[idlen] = '\0';
	b64len = len - (size_t)(colon + 1 - blob);
	if (b64len < b64_encoded_len(NONCE_LEN + GCM_TAG_LEN))
		return SEAL_MALFORMED;
	if ((*raw = malloc(b64len / 4 * 3 + 3)) == NULL)
		return SEAL_NO_MEMORY;
	if (b64_decode(colon + 1, b64len, *raw, rawlen) < 0 || *rawlen < NONCE_LEN + GCM_TAG_LEN) {
		free(*raw);
		*raw = NULL;
		*rawlen = 0;
		return SEAL_MALFORMED;
	}
	return SEAL_OK;
}

int seal_open(const struct seal *s, const char *blob, size_t len, const void *ad, size_t adlen,
              uint8_t **pt, size_t *ptlen)
{
	char id[SEAL_KEY_ID_MAX + 1];
	const struct seal_key *k;
	uint8_t *raw, *out = NULL;
	size_t rawlen, ctlen;
	int rc;

	*pt = NULL;
	*ptlen = 0;
	if ((rc = seal_blob_parse(blob, len, id, &raw, &rawlen)) != SEAL_OK)
		return rc;
	if ((k = key_of(s, id)) == NULL) {
		rc = SEAL_UNKNOWN_KEY;
		goto out;
	}
	ctlen = rawlen - NONCE_LEN - GCM_TAG_LEN;
	/* One spare byte: a session of no bytes still gets a pointer. */
	if ((out = malloc(ctlen + 1)) == NULL) {
		rc = SEAL_NO_MEMORY;
		goto out;
	}
	if (adlen > INT32_MAX ||
	    gcm(0, k, raw, ad, adlen, raw + NONCE_LEN, ctlen, out, raw + NONCE_LEN + ctlen) < 0) {
		OPENSSL_cleanse(out, ctlen + 1);
		free(out);
		rc = SEAL_AUTH_FAILED;
		goto out;
	}
	*pt = out;
	*ptlen = ctlen;
	rc = SEAL_OK;
out:
	free(raw);
	return rc;
}

/* ---- MACs ----------------------------------------------------------------- */

/* HMAC-SHA256(mac subkey, purpose || 0 || data), truncated to 16 bytes. */
static int mac_with(const struct seal_key *k, const char *purpose, const void *data, size_t len,
                    char tag[SEAL_TAG_LEN + 1])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	uint8_t out[EVP_MAX_MD_SIZE];
	size_t outlen = 0;
	int rc = -1;

	if (ctx == NULL || EVP_MAC_init(ctx, k->mac, KEY_LEN, params) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)purpose, strlen(purpose) + 1) != 1 ||
	    EVP_MAC_update(ctx, data, len) != 1 || EVP_MAC_final(ctx, out, &outlen, sizeof(out)) != 1 ||
	    outlen < MAC_LEN)
		goto out;
	b64_encode(out, MAC_LEN, tag);
	rc = 0;
out:
	OPENSSL_cleanse(out, sizeof(out));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int seal_mac(const struct seal *s, const char *purpose, const void *data, size_t len,
             char tag[SEAL_TAG_LEN + 1])
{
	return mac_with(&s->keys[0], purpose, data, len, tag);
}

int seal_verify(const struct seal *s, const char *purpose, const void *data, size_t len,
                const char *tag, size_t taglen)
{
	char expected[SEAL_TAG_LEN + 1];
	int ok = 0;

	if (taglen != SEAL_TAG_LEN)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		if (mac_with(&s->keys[i], purpose, data, len, expected) == 0)
			ok |= CRYPTO_memcmp(expected, tag, SEAL_TAG_LEN) == 0;
	}
	return ok;
}

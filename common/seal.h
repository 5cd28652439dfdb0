/*
 * The node key: what makes Redis untrusted storage. Every authd node of a
 * deployment reads the same key file; what authd keeps in Redis and acts on
 * later is sealed (AES-256-GCM: secret and authenticated) or carries a MAC
 * (HMAC-SHA256), so a Redis reader learns nothing it could use and a Redis
 * writer cannot make authd act on a value authd did not write.
 *
 * Key file: one key per line, "KEYID HEX64" (a key id of 1..16 printable
 * characters other than ':', then 32 random bytes in hex, e.g. from
 * `openssl rand -hex 32`); blank lines and lines starting with '#' are
 * ignored. The FIRST key seals and MACs; every listed key opens and
 * verifies, so a new key is rolled out by adding it first on every node and
 * removing the old one once what it sealed has expired. The file must be a
 * regular file of mode 0600 or stricter. authctl never holds it.
 *
 * Each key is split (HKDF-SHA256) into one subkey per purpose, so the AEAD
 * key never doubles as a MAC key. Objects are read-only after loading and
 * may be shared by threads.
 */
#ifndef COMMON_SEAL_H
#define COMMON_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_ID_MAX 16
#define SEAL_MAX_KEYS 16
/* A MAC tag as text: 16 bytes in base64url, no padding. */
#define SEAL_TAG_LEN 22

/* Why a sealed value did not open. */
enum seal_error {
	SEAL_OK = 0,
	SEAL_MALFORMED = -1,        /* not a sealed value of this format */
	SEAL_UNKNOWN_KEY = -2,      /* sealed under a key id this node does not list */
	SEAL_AUTH_FAILED = -3,      /* altered, sealed for another name, or under another key */
	SEAL_NO_MEMORY = -4,
};

/* "malformed", "unknown key id", "authentication failed", "out of memory". */
const char *seal_error_text(int e);

struct seal;

/* Reads the key file at path. NULL with "path:LINE: what is wrong" (or
 * "path: ...") in err: not a regular file, readable by group or others,
 * no key, a bad line, a key id used twice. */
struct seal *seal_load(const char *path, char *err, size_t errlen);
/* The same from the file's text (len bytes, need not be NUL-terminated);
 * name stands for the file in messages. */
struct seal *seal_parse(const char *name, const char *text, size_t len, char *err, size_t errlen);
/* Wipes the keys. NULL is fine. */
void seal_free(struct seal *s);

/* The id of the key that seals (the first listed). */
const char *seal_key_id(const struct seal *s);

/*
 * Seals pt (ptlen bytes) for the name ad (adlen bytes: where the value is
 * kept, so that it opens under that name only). Returns a malloc'd
 * NUL-terminated text "v1:KEYID:BASE64URL(nonce || ciphertext || tag)",
 * which the caller frees, or NULL on ENOMEM or a failing RNG.
 */
char *seal_seal(const struct seal *s, const uint8_t *pt, size_t ptlen, const void *ad, size_t adlen);

/*
 * Opens what seal_seal() made for the same ad. blob is len bytes (hostile:
 * any bytes, any length). Returns SEAL_OK with *pt malloc'd (*ptlen bytes;
 * the caller wipes and frees it), or a negative enum seal_error with *pt NULL.
 */
int seal_open(const struct seal *s, const char *blob, size_t len, const void *ad, size_t adlen,
              uint8_t **pt, size_t *ptlen);

/*
 * The pure parsing step of seal_open(), for the fuzz target: splits blob
 * into the key id (copied to key_id, NUL-terminated) and the decoded
 * nonce || ciphertext || tag (*raw malloc'd, caller frees). SEAL_OK, or
 * SEAL_MALFORMED / SEAL_NO_MEMORY with *raw NULL.
 */
int seal_blob_parse(const char *blob, size_t len, char key_id[SEAL_KEY_ID_MAX + 1], uint8_t **raw,
                    size_t *rawlen);

/* A MAC of data for purpose (a short constant naming what is authenticated,
 * e.g. "status"), under the sealing key: tag gets SEAL_TAG_LEN characters
 * and a NUL. 0, or -1 when OpenSSL fails. */
int seal_mac(const struct seal *s, const char *purpose, const void *data, size_t len,
             char tag[SEAL_TAG_LEN + 1]);
/* 1 when tag (taglen bytes, hostile) is the MAC of data for purpose under any
 * listed key, compared in constant time; 0 otherwise. */
int seal_verify(const struct seal *s, const char *purpose, const void *data, size_t len,
                const char *tag, size_t taglen);

#endif

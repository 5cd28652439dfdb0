#include "policy/helpdesk.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

struct conn {
	pthread_mutex_t lock;
	redisContext *rc;           /* NULL until connected, or after an error */
};

struct helpdesk {
	const struct redis_settings *s;   /* borrowed from the config */
	struct conn *conns;
	atomic_uint next;
};

static const char *const fields[] = { "subject", "issuer", "reason", "by", "at" };
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static char *record_field(struct revocation_record *r, size_t i, size_t *cap)
{
	char *const slots[] = { r->subject, r->issuer, r->reason, r->by, r->at };
	const size_t caps[] = { sizeof(r->subject), sizeof(r->issuer), sizeof(r->reason),
	                        sizeof(r->by), sizeof(r->at) };

	*cap = caps[i];
	return slots[i];
}

struct helpdesk *helpdesk_new(const struct redis_settings *settings, char *err, size_t errlen)
{
	struct helpdesk *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->conns = calloc(settings->connections, sizeof(*h->conns))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->s = settings;
	for (unsigned i = 0; i < settings->connections; i++)
		pthread_mutex_init(&h->conns[i].lock, NULL);
	atomic_init(&h->next, 0);
	return h;
}

void helpdesk_free(struct helpdesk *h)
{
	if (h == NULL)
		return;
	for (unsigned i = 0; i < h->s->connections; i++) {
		if (h->conns[i].rc != NULL)
			redisFree(h->conns[i].rc);
		pthread_mutex_destroy(&h->conns[i].lock);
	}
	free(h->conns);
	free(h);
}

int helpdesk_id(X509 *cert, X509 *issuer, const char *serial_hex, struct revoked_id *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char digits[81], *hex;
	BIGNUM *bn = NULL;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (issuer == NULL || X509_pubkey_digest(issuer, EVP_sha1(), md, &len) != 1 || len != 20)
		return -1;
	for (unsigned i = 0; i < len; i++)
		snprintf(out->issuer_key_hash + 2 * i, 3, "%02x", md[i]);
	/* Both ways end in BN_bn2hex's form, so a serial typed by the helpdesk
	 * (any case, colons, leading zeros) names the same key as the certificate. */
	if (cert != NULL) {
		bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	} else {
		for (; *serial_hex != '\0' && n + 1 < sizeof(digits); serial_hex++) {
			if (*serial_hex == ':')
				continue;
			if (!isxdigit((unsigned char)*serial_hex))
				return -1;
			digits[n++] = *serial_hex;
		}
		digits[n] = '\0';
		if (n == 0 || BN_hex2bn(&bn, digits) == 0)
			return -1;
	}
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	snprintf(out->serial, sizeof(out->serial), "%s", hex != NULL ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	return out->serial[0] != '\0' ? 0 : -1;
}

static int connect_conn(struct helpdesk *h, struct conn *c, char *err, size_t errlen)
{
	struct timeval tv = { h->s->timeout_ms / 1000, (h->s->timeout_ms % 1000) * 1000 };
	redisReply *r = NULL;

	c->rc = redisConnectWithTimeout(h->s->host, (int)h->s->port, tv);
	if (c->rc == NULL || c->rc->err) {
		snprintf(err, errlen, "redis %s:%u: %s", h->s->host, h->s->port,
		         c->rc != NULL ? c->rc->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(c->rc, tv);
	if (h->s->password != NULL) {
		r = h->s->username != NULL
		            ? redisCommand(c->rc, "AUTH %s %s", h->s->username, h->s->password)
		            : redisCommand(c->rc, "AUTH %s", h->s->password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis %s:%u: AUTH: %s", h->s->host, h->s->port,
			         r != NULL ? r->str : c->rc->errstr);
			goto fail;
		}
		freeReplyObject(r);
	}
	return 0;
fail:
	if (r != NULL)
		freeReplyObject(r);
	if (c->rc != NULL)
		redisFree(c->rc);
	c->rc = NULL;
	return -1;
}

static struct conn *take(struct helpdesk *h)
{
	unsigned start = atomic_fetch_add(&h->next, 1) % h->s->connections;

	for (unsigned i = 0; i < h->s->connections; i++) {
		struct conn *c = &h->conns[(start + i) % h->s->connections];

		if (pthread_mutex_trylock(&c->lock) == 0)
			return c;
	}
	pthread_mutex_lock(&h->conns[start].lock);
	return &h->conns[start];
}

/*
 * One command on a pooled connection; a connection that failed is replaced
 * once (a Redis restart). Returns the reply (caller frees) or NULL with err.
 */
static redisReply *command(struct helpdesk *h, int argc, const char **argv, char *err, size_t errlen)
{
	struct conn *c = take(h);
	redisReply *r = NULL;

	for (int attempt = 0; attempt < 2 && r == NULL; attempt++) {
		if (c->rc == NULL && connect_conn(h, c, err, errlen) < 0)
			break;
		r = redisCommandArgv(c->rc, argc, argv, NULL);
		if (r == NULL) {
			snprintf(err, errlen, "redis %s:%u: %s", h->s->host, h->s->port, c->rc->errstr);
			redisFree(c->rc);
			c->rc = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis %s:%u: %s", h->s->host, h->s->port, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static void key_of(const struct helpdesk *h, const struct revoked_id *id, char *key, size_t len)
{
	snprintf(key, len, "%srevoked:%s:%s", h->s->prefix, id->issuer_key_hash, id->serial);
}

static void fill_record(const redisReply *r, struct revocation_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		for (size_t f = 0; f < N_FIELDS; f++) {
			size_t cap;
			char *slot = record_field(rec, f, &cap);

			if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, fields[f]) == 0 &&
			    r->element[i + 1]->type == REDIS_REPLY_STRING)
				snprintf(slot, cap, "%s", r->element[i + 1]->str);
		}
	}
}

enum helpdesk_status helpdesk_check(struct helpdesk *h, const struct revoked_id *id,
                                    char *detail, size_t detaillen)
{
	struct revocation_record rec;
	char key[256];
	const char *argv[2] = { "HGETALL", key };
	redisReply *r;

	key_of(h, id, key, sizeof(key));
	r = command(h, 2, argv, detail, detaillen);
	if (r == NULL)
		return HELPDESK_UNAVAILABLE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		freeReplyObject(r);
		return HELPDESK_NOT_REVOKED;
	}
	fill_record(r, &rec);
	freeReplyObject(r);
	snprintf(detail, detaillen, "revoked by %s at %s: %s", rec.by, rec.at, rec.reason);
	return HELPDESK_REVOKED;
}

#define IDENTITY_TTL_S "7776000"   /* 90 days */

void helpdesk_remember(struct helpdesk *h, const char *identity, const struct revoked_id *id)
{
	char key[512], value[128], err[256];
	const char *argv[5] = { "SET", key, value, "EX", IDENTITY_TTL_S };
	redisReply *r;

	snprintf(key, sizeof(key), "%sidentity:%s", h->s->prefix, identity);
	snprintf(value, sizeof(value), "%s:%s", id->issuer_key_hash, id->serial);
	/* Best effort: an outage only costs revoking this device by name. */
	r = command(h, 5, argv, err, sizeof(err));
	if (r != NULL)
		freeReplyObject(r);
}

int helpdesk_lookup_identity(struct helpdesk *h, const char *identity, struct revoked_id *id,
                             char *err, size_t errlen)
{
	char key[512];
	const char *argv[2] = { "GET", key };
	redisReply *r;
	int rc = 0;

	memset(id, 0, sizeof(*id));
	snprintf(key, sizeof(key), "%sidentity:%s", h->s->prefix, identity);
	r = command(h, 2, argv, err, errlen);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING &&
	    sscanf(r->str, "%40[0-9a-f]:%80[0-9A-F]", id->issuer_key_hash, id->serial) == 2)
		rc = 1;
	freeReplyObject(r);
	return rc;
}

int helpdesk_revoke(struct helpdesk *h, const struct revoked_id *id,
                    const struct revocation_record *rec, char *err, size_t errlen)
{
	struct revocation_record copy = *rec;
	const char *argv[2 + 2 * N_FIELDS];
	char key[256], channel[128], message[200];
	const char *pub[3] = { "PUBLISH", channel, message };
	redisReply *r;
	int argc = 0;

	key_of(h, id, key, sizeof(key));
	argv[argc++] = "HSET";
	argv[argc++] = key;
	for (size_t f = 0; f < N_FIELDS; f++) {
		size_t cap;

		argv[argc++] = fields[f];
		argv[argc++] = record_field(&copy, f, &cap);
	}
	r = command(h, argc, argv, err, errlen);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	/* Nodes that hold anything about this certificate can drop it now. */
	snprintf(channel, sizeof(channel), "%srevocations", h->s->prefix);
	snprintf(message, sizeof(message), "%s:%s", id->issuer_key_hash, id->serial);
	r = command(h, 3, pub, err, errlen);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int helpdesk_unrevoke(struct helpdesk *h, const struct revoked_id *id, char *err, size_t errlen)
{
	char key[256];
	const char *argv[2] = { "DEL", key };
	redisReply *r;
	int removed;

	key_of(h, id, key, sizeof(key));
	r = command(h, 2, argv, err, errlen);
	if (r == NULL)
		return -1;
	removed = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
	freeReplyObject(r);
	return removed;
}

int helpdesk_list(struct helpdesk *h, helpdesk_entry_fn fn, void *arg, char *err, size_t errlen)
{
	char cursor[32] = "0", pattern[160];
	const char *scan[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
	size_t prefix_len;

	snprintf(pattern, sizeof(pattern), "%srevoked:*", h->s->prefix);
	prefix_len = strlen(pattern) - 1;
	do {
		redisReply *r = command(h, 6, scan, err, errlen);

		if (r == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			freeReplyObject(r);
			snprintf(err, errlen, "unexpected SCAN reply");
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			const char *key = r->element[1]->element[i]->str;
			const char *get[2] = { "HGETALL", key };
			struct revocation_record rec;
			struct revoked_id id = { 0 };
			redisReply *g;

			if (sscanf(key + prefix_len, "%40[0-9a-f]:%80[0-9A-F]", id.issuer_key_hash, id.serial) != 2)
				continue;
			g = command(h, 2, get, err, errlen);
			if (g == NULL) {
				freeReplyObject(r);
				return -1;
			}
			fill_record(g, &rec);
			freeReplyObject(g);
			fn(&id, &rec, arg);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

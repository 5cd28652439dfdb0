#include "policy/helpdesk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct helpdesk {
	struct redis_pool *redis;   /* borrowed */
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

struct helpdesk *helpdesk_new(struct redis_pool *redis, char *err, size_t errlen)
{
	struct helpdesk *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->redis = redis;
	return h;
}

void helpdesk_free(struct helpdesk *h)
{
	free(h);
}

static redisReply *command(struct helpdesk *h, int argc, const char **argv, char *err, size_t errlen)
{
	return redis_pool_command(h->redis, argc, argv, err, errlen);
}

static void key_of(const struct helpdesk *h, const struct cert_ref *id, char *key, size_t len)
{
	char ref[128];

	cert_ref_string(id, ref, sizeof(ref));
	snprintf(key, len, "%srevoked:%s", redis_pool_prefix(h->redis), ref);
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

enum helpdesk_status helpdesk_check(struct helpdesk *h, const struct cert_ref *id,
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

void helpdesk_remember(struct helpdesk *h, const char *identity, const struct cert_ref *id)
{
	char key[512], value[128], err[256];
	const char *argv[5] = { "SET", key, value, "EX", IDENTITY_TTL_S };
	redisReply *r;

	snprintf(key, sizeof(key), "%sidentity:%s", redis_pool_prefix(h->redis), identity);
	cert_ref_string(id, value, sizeof(value));
	/* Best effort: an outage only costs revoking this device by name. */
	r = command(h, 5, argv, err, sizeof(err));
	if (r != NULL)
		freeReplyObject(r);
}

int helpdesk_lookup_identity(struct helpdesk *h, const char *identity, struct cert_ref *id,
                             char *err, size_t errlen)
{
	char key[512];
	const char *argv[2] = { "GET", key };
	redisReply *r;
	int rc = 0;

	memset(id, 0, sizeof(*id));
	snprintf(key, sizeof(key), "%sidentity:%s", redis_pool_prefix(h->redis), identity);
	r = command(h, 2, argv, err, errlen);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING && cert_ref_parse(r->str, id) == 0)
		rc = 1;
	freeReplyObject(r);
	return rc;
}

int helpdesk_revoke(struct helpdesk *h, const struct cert_ref *id,
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
	snprintf(channel, sizeof(channel), "%srevocations", redis_pool_prefix(h->redis));
	cert_ref_string(id, message, sizeof(message));
	r = command(h, 3, pub, err, errlen);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int helpdesk_unrevoke(struct helpdesk *h, const struct cert_ref *id, char *err, size_t errlen)
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

	snprintf(pattern, sizeof(pattern), "%srevoked:*", redis_pool_prefix(h->redis));
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
			struct cert_ref id = { 0 };
			redisReply *g;

			if (cert_ref_parse(key + prefix_len, &id) < 0)
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

static void audit_key(const struct helpdesk *h, char *key, size_t len)
{
	snprintf(key, len, "%saudit", redis_pool_prefix(h->redis));
}

int helpdesk_audit(struct helpdesk *h, const char *json_line, char *err, size_t errlen)
{
	char key[160], last[24];
	const char *push[3] = { "LPUSH", key, json_line };
	const char *trim[4] = { "LTRIM", key, "0", last };
	redisReply *r;

	audit_key(h, key, sizeof(key));
	snprintf(last, sizeof(last), "%d", HELPDESK_AUDIT_KEEP - 1);
	if ((r = command(h, 3, push, err, errlen)) == NULL)
		return -1;
	freeReplyObject(r);
	if ((r = command(h, 4, trim, err, errlen)) == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int helpdesk_audit_list(struct helpdesk *h, unsigned max, void (*fn)(const char *line, void *arg),
                        void *arg, char *err, size_t errlen)
{
	char key[160], last[24];
	const char *range[4] = { "LRANGE", key, "0", last };
	redisReply *r;

	if (max == 0)
		return 0;
	audit_key(h, key, sizeof(key));
	snprintf(last, sizeof(last), "%u", max - 1);
	if ((r = command(h, 4, range, err, errlen)) == NULL)
		return -1;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		if (r->element[i]->type == REDIS_REPLY_STRING)
			fn(r->element[i]->str, arg);
	}
	freeReplyObject(r);
	return 0;
}

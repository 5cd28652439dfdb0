#include "policy/helpdesk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct helpdesk {
	struct redis_pool *redis;   /* borrowed */
};

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

/* A HGETALL reply as a record; Redis's contents are checked, not trusted. */
static void fill_record(const redisReply *r, struct revocation_record *rec)
{
	enum { MAX_PAIRS = 16 };
	const char *names[MAX_PAIRS], *values[MAX_PAIRS];
	size_t name_lens[MAX_PAIRS], value_lens[MAX_PAIRS], n = 0;

	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && n < MAX_PAIRS; i += 2) {
		const redisReply *name = r->element[i], *value = r->element[i + 1];

		if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
			continue;
		names[n] = name->str;
		name_lens[n] = name->len;
		values[n] = value->str;
		value_lens[n] = value->len;
		n++;
	}
	revocation_record_parse(names, name_lens, values, value_lens, n, rec);
}

enum helpdesk_answer helpdesk_get(struct helpdesk *h, const struct cert_ref *id,
                                  struct revocation_record *rec, char *err, size_t errlen)
{
	char key[256];
	const char *argv[2] = { "HGETALL", key };
	redisReply *r;
	enum helpdesk_answer listed = HELPDESK_ABSENT;

	memset(rec, 0, sizeof(*rec));
	key_of(h, id, key, sizeof(key));
	r = command(h, 2, argv, err, errlen);
	if (r == NULL)
		return HELPDESK_ERROR;
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
		fill_record(r, rec);
		listed = HELPDESK_PRESENT;
	}
	freeReplyObject(r);
	return listed;
}

void helpdesk_describe(const struct revocation_record *rec, char *out, size_t len)
{
	snprintf(out, len, "revoked by %s at %s: %s", rec->by[0] ? rec->by : "?",
	         rec->at[0] ? rec->at : "?", rec->reason);
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

enum helpdesk_answer helpdesk_lookup_identity(struct helpdesk *h, const char *identity,
                                              struct cert_ref *id, char *err, size_t errlen)
{
	char key[512];
	const char *argv[2] = { "GET", key };
	redisReply *r;
	enum helpdesk_answer rc = HELPDESK_ABSENT;

	memset(id, 0, sizeof(*id));
	snprintf(key, sizeof(key), "%sidentity:%s", redis_pool_prefix(h->redis), identity);
	r = command(h, 2, argv, err, errlen);
	if (r == NULL)
		return HELPDESK_ERROR;
	if (r->type == REDIS_REPLY_STRING && cert_ref_parse(r->str, id) == 0)
		rc = HELPDESK_PRESENT;
	freeReplyObject(r);
	return rc;
}

/*
 * One change of the list, atomic in Redis: the hash written or deleted, the
 * sequence number bumped, the notice "SEQ revoke|unrevoke REF" kept in the
 * log and published. A node that reads the sequence number therefore finds
 * every change up to it in the hashes and in the log, and a node that missed
 * a notice sees a gap. An unrevoke is published even when the hash is gone
 * (deleted behind the helpdesk's back): it is how nodes that still refuse the
 * certificate are told to stop.
 * KEYS: the hash, the sequence number, the log. ARGV: the change, the ref,
 * the channel, how many notices the log keeps, then the record's field/value
 * pairs (revoke only).
 */
static const char change_script[] =
	"local removed = 0\n"
	"if ARGV[1] == 'revoke' then\n"
	"  redis.call('DEL', KEYS[1])\n"
	"  redis.call('HSET', KEYS[1], unpack(ARGV, 5))\n"
	"else\n"
	"  removed = redis.call('DEL', KEYS[1])\n"
	"end\n"
	"local seq = redis.call('INCR', KEYS[2])\n"
	"local notice = string.format('%d %s %s', seq, ARGV[1], ARGV[2])\n"
	"redis.call('LPUSH', KEYS[3], notice)\n"
	"redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)\n"
	"redis.call('PUBLISH', ARGV[3], notice)\n"
	"return removed\n";

/* Runs change_script; the number it returns (1: a hash was deleted), or -1. */
/* PRESENT when the hash was there before the change, ABSENT when not. */
static enum helpdesk_answer change(struct helpdesk *h, const char *what, const struct cert_ref *id,
                                   const struct revocation_record *rec, char *err, size_t errlen)
{
	struct revocation_record copy;
	const char *argv[11 + 2 * REVOCATION_RECORD_FIELDS];
	char key[256], seq_key[160], log_key[160], channel[160], ref[128], keep[24];
	redisReply *r;
	int argc = 0;
	enum helpdesk_answer rc = HELPDESK_ERROR;
	const char *prefix = redis_pool_prefix(h->redis);

	key_of(h, id, key, sizeof(key));
	snprintf(seq_key, sizeof(seq_key), "%srevocations:seq", prefix);
	snprintf(log_key, sizeof(log_key), "%srevocations:log", prefix);
	snprintf(channel, sizeof(channel), "%srevocations", prefix);
	snprintf(keep, sizeof(keep), "%d", HELPDESK_LOG_KEEP);
	cert_ref_string(id, ref, sizeof(ref));
	argv[argc++] = "EVAL";
	argv[argc++] = change_script;
	argv[argc++] = "3";
	argv[argc++] = key;
	argv[argc++] = seq_key;
	argv[argc++] = log_key;
	argv[argc++] = what;
	argv[argc++] = ref;
	argv[argc++] = channel;
	argv[argc++] = keep;
	if (rec != NULL) {
		copy = *rec;
		for (size_t f = 0; f < REVOCATION_RECORD_FIELDS; f++) {
			size_t cap;

			argv[argc++] = revocation_record_names[f];
			argv[argc++] = revocation_record_field(&copy, f, &cap);
		}
	}
	r = command(h, argc, argv, err, errlen);
	if (r == NULL)
		return HELPDESK_ERROR;
	if (r->type == REDIS_REPLY_INTEGER)
		rc = r->integer > 0 ? HELPDESK_PRESENT : HELPDESK_ABSENT;
	else
		snprintf(err, errlen, "unexpected reply to the change of the revocation list");
	freeReplyObject(r);
	return rc;
}

int helpdesk_revoke(struct helpdesk *h, const struct cert_ref *id,
                    const struct revocation_record *rec, char *err, size_t errlen)
{
	return change(h, "revoke", id, rec, err, errlen) == HELPDESK_ERROR ? -1 : 0;
}

enum helpdesk_answer helpdesk_unrevoke(struct helpdesk *h, const struct cert_ref *id, char *err,
                                       size_t errlen)
{
	return change(h, "unrevoke", id, NULL, err, errlen);
}

int helpdesk_seq(struct helpdesk *h, uint64_t *seq, char *err, size_t errlen)
{
	char key[160];
	const char *argv[2] = { "GET", key };
	redisReply *r;

	snprintf(key, sizeof(key), "%srevocations:seq", redis_pool_prefix(h->redis));
	if ((r = command(h, 2, argv, err, errlen)) == NULL)
		return -1;
	*seq = 0;   /* none yet: no change was ever made */
	if (r->type == REDIS_REPLY_STRING && revocation_seq_parse(r->str, r->len, seq) < 0) {
		snprintf(err, errlen, "%s holds no sequence number", key);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* How many changes made while a resync reads may stand before the ones it
 * needs; more make it report the log as not reaching back (fail closed). */
#define CHANGES_SLACK 64

int helpdesk_changes(struct helpdesk *h, uint64_t after, uint64_t upto,
                     void (*fn)(const struct revocation_notice *n, void *arg), void *arg,
                     char *err, size_t errlen)
{
	char key[160], last[24];
	const char *argv[4] = { "LRANGE", key, "0", last };
	uint64_t want;
	redisReply *r;
	int covered = 1;

	if (upto <= after)
		return 1;
	if (upto - after > HELPDESK_LOG_KEEP)
		return 0;
	snprintf(key, sizeof(key), "%srevocations:log", redis_pool_prefix(h->redis));
	/* Changes made since upto was read stand first: read past them. */
	snprintf(last, sizeof(last), "%llu", (unsigned long long)(upto - after - 1 + CHANGES_SLACK));
	if ((r = command(h, 4, argv, err, errlen)) == NULL)
		return -1;
	/* Newest first: upto, upto - 1, ... down to after + 1, each exactly once. */
	want = upto;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && want > after; i++) {
		struct revocation_notice n;

		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    revocation_notice_parse(r->element[i]->str, r->element[i]->len, &n) < 0)
			break;
		if (n.seq > upto && want == upto)
			continue;   /* newer than the list this resync read */
		if (n.seq != want)
			break;
		fn(&n, arg);
		want--;
	}
	if (want > after)
		covered = 0;
	freeReplyObject(r);
	return covered;
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
		if (r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
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
			int listed;

			if (r->element[1]->element[i]->type != REDIS_REPLY_STRING ||
			    r->element[1]->element[i]->len < prefix_len ||
			    cert_ref_parse(key + prefix_len, &id) < 0)
				continue;
			g = command(h, 2, get, err, errlen);
			if (g == NULL) {
				freeReplyObject(r);
				return -1;
			}
			/* Gone between SCAN and HGETALL: no longer listed. */
			listed = g->type == REDIS_REPLY_ARRAY && g->elements > 0;
			if (listed)
				fill_record(g, &rec);
			freeReplyObject(g);
			if (listed)
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

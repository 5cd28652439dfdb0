#include "authd/live_sessions.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authd/log.h"
#include "authd/radius.h"
#include "authd/session_class.h"
#include "common/printable.h"
#include "common/rate_limit.h"
#include "common/sockaddr_text.h"

/* Warnings about a NAS over its cap, per second at most. */
#define CAP_LOG_PER_SECOND 5

struct live_sessions {
	struct redis_pool *redis;   /* borrowed */
	unsigned lifetime_s;
	unsigned max_per_nas;
	atomic_ullong refused;      /* new sessions not kept: their NAS was at its cap */
	struct rate_limit cap_log;
};

/* A session is stored as "name=value" lines; the table maps names to fields. */
#define TEXT_FIELD(f) { #f, offsetof(struct live_session, f), sizeof(((struct live_session *)0)->f) }
static const struct {
	const char *name;
	size_t offset, size;
} text_fields[] = {
	TEXT_FIELD(nas), TEXT_FIELD(nas_addr), TEXT_FIELD(nas_identifier), TEXT_FIELD(nas_ip_address),
	TEXT_FIELD(nas_ipv6_address), TEXT_FIELD(user_name), TEXT_FIELD(acct_session_id),
	TEXT_FIELD(calling_station_id), TEXT_FIELD(called_station_id), TEXT_FIELD(identity),
};
#define N_TEXT_FIELDS (sizeof(text_fields) / sizeof(text_fields[0]))

/*
 * A MAC address as RFC 3580 3.21 writes it ("00-10-A4-23-19-C0"), whatever
 * notation the NAS used (colons, dots, lower case), so that an Access-Request
 * and the accounting of the same station name one session; anything else is
 * copied as it is.
 */
static void station_id(const char *in, char *out, size_t len)
{
	char digits[13];
	size_t n = 0;

	for (const char *p = in; *p != '\0'; p++) {
		if (isxdigit((unsigned char)*p) && n < 12)
			digits[n++] = (char)toupper((unsigned char)*p);
		else if ((*p != ':' && *p != '-' && *p != '.') || isxdigit((unsigned char)*p))
			n = 13;   /* not a MAC address */
	}
	if (n != 12 || len < 18) {
		snprintf(out, len, "%s", in);
		return;
	}
	snprintf(out, len, "%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", digits, digits + 2, digits + 4, digits + 6,
	         digits + 8, digits + 10);
}

void live_session_from_request(const struct radius_request *req, const char *nas,
                               const struct sockaddr_storage *from, struct live_session *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->nas, sizeof(out->nas), "%s", nas);
	sockaddr_text_host(from, out->nas_addr, sizeof(out->nas_addr));
	snprintf(out->nas_identifier, sizeof(out->nas_identifier), "%s", req->nas_identifier);
	snprintf(out->nas_ip_address, sizeof(out->nas_ip_address), "%s", req->nas_ip_address);
	snprintf(out->nas_ipv6_address, sizeof(out->nas_ipv6_address), "%s", req->nas_ipv6_address);
	out->nas_port = req->nas_port;
	snprintf(out->user_name, sizeof(out->user_name), "%s", req->user_name);
	snprintf(out->acct_session_id, sizeof(out->acct_session_id), "%s", req->acct_session_id);
	station_id(req->calling_station_id, out->calling_station_id, sizeof(out->calling_station_id));
	snprintf(out->called_station_id, sizeof(out->called_station_id), "%s", req->called_station_id);
	out->started = out->updated = (long long)time(NULL);
}

struct live_sessions *live_sessions_new(struct redis_pool *redis, unsigned lifetime_s,
                                        unsigned max_per_nas, char *err, size_t errlen)
{
	struct live_sessions *ls = calloc(1, sizeof(*ls));

	if (ls == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->redis = redis;
	ls->lifetime_s = lifetime_s;
	ls->max_per_nas = max_per_nas;
	atomic_init(&ls->refused, 0);
	rate_limit_init(&ls->cap_log, CAP_LOG_PER_SECOND);
	return ls;
}

void live_sessions_free(struct live_sessions *ls)
{
	if (ls == NULL)
		return;
	if (atomic_load(&ls->refused) > 0)
		log_msg(LOG_INFO, "live sessions: refused=%llu (new sessions beyond sessions.max_per_nas)",
		        atomic_load(&ls->refused));
	free(ls);
}

/* Appends "name=value\n", the value's control bytes made '?' so a hostile
 * attribute cannot forge a line. */
static void put_line(char *buf, size_t cap, size_t *len, const char *name, const char *value)
{
	int n = snprintf(buf + *len, cap - *len, "%s=", name);

	if (n < 0 || (size_t)n >= cap - *len)
		return;
	*len += (size_t)n;
	for (; *value != '\0' && *len + 2 < cap; value++)
		buf[(*len)++] = (unsigned char)*value < 0x20 || *value == 0x7f ? '?' : *value;
	buf[(*len)++] = '\n';
	buf[*len] = '\0';
}

static void serialize(const struct live_session *s, char *buf, size_t cap)
{
	char number[24];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_TEXT_FIELDS; i++)
		put_line(buf, cap, &len, text_fields[i].name, (const char *)s + text_fields[i].offset);
	snprintf(number, sizeof(number), "%u", s->nas_port);
	put_line(buf, cap, &len, "nas_port", number);
	snprintf(number, sizeof(number), "%lld", s->started);
	put_line(buf, cap, &len, "started", number);
	snprintf(number, sizeof(number), "%lld", s->updated);
	put_line(buf, cap, &len, "updated", number);
}

/* One "name=value" line (without its newline) into s; unknown names and
 * lines without '=' are skipped. */
static void parse_line(const char *line, size_t len, struct live_session *s)
{
	const char *eq = memchr(line, '=', len);
	size_t namelen, vallen;
	char number[24];

	if (eq == NULL)
		return;
	namelen = (size_t)(eq - line);
	vallen = len - namelen - 1;
	for (size_t i = 0; i < N_TEXT_FIELDS; i++) {
		if (strlen(text_fields[i].name) == namelen && memcmp(line, text_fields[i].name, namelen) == 0) {
			size_t n = vallen < text_fields[i].size - 1 ? vallen : text_fields[i].size - 1;
			char *field = (char *)s + text_fields[i].offset;

			/* Control bytes (a NUL above all) are never written: '?' as put_line. */
			for (size_t j = 0; j < n; j++)
				field[j] = (unsigned char)eq[1 + j] < 0x20 || eq[1 + j] == 0x7f ? '?' : eq[1 + j];
			field[n] = '\0';
			return;
		}
	}
	if (vallen >= sizeof(number))
		return;
	memcpy(number, eq + 1, vallen);
	number[vallen] = '\0';
	if (namelen == 8 && memcmp(line, "nas_port", 8) == 0)
		s->nas_port = (unsigned)strtoul(number, NULL, 10);
	else if (namelen == 7 && memcmp(line, "started", 7) == 0)
		s->started = strtoll(number, NULL, 10);
	else if (namelen == 7 && memcmp(line, "updated", 7) == 0)
		s->updated = strtoll(number, NULL, 10);
}

void live_session_parse(const char *text, size_t len, struct live_session *s)
{
	memset(s, 0, sizeof(*s));
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t linelen = nl != NULL ? (size_t)(nl - text) : len;

		parse_line(text, linelen, s);
		text += linelen + (nl != NULL);
		len -= linelen + (nl != NULL);
	}
}

static void sessions_key(const struct live_sessions *ls, const struct cert_ref *ref, char *key,
                         size_t len)
{
	char text[128];

	cert_ref_string(ref, text, sizeof(text));
	snprintf(key, len, "%ssessions:%s", redis_pool_prefix(ls->redis), text);
}

/* Which certificate the NAS last had accepted at this station. */
static void station_key(const struct live_sessions *ls, const struct live_session *s, char *key,
                        size_t len)
{
	snprintf(key, len, "%sstation:%s:%s", redis_pool_prefix(ls->redis), s->nas, s->calling_station_id);
}

/* One session per NAS and station; without a Calling-Station-Id, per
 * accounting session. Access-Accept and accounting then name the same one. */
static void session_field(const struct live_session *s, char *field, size_t len)
{
	if (s->calling_station_id[0] != '\0')
		snprintf(field, len, "%s|%s", s->nas, s->calling_station_id);
	else
		snprintf(field, len, "%s|acct:%s", s->nas, s->acct_session_id);
}

static int run(struct live_sessions *ls, int argc, const char **argv, char *err, size_t errlen)
{
	redisReply *r = redis_pool_command(ls->redis, argc, argv, err, errlen);

	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

/* The NAS's index of its sessions, for the cap: a sorted set of
 * "REF|FIELD" scored by the last update. */
static void nas_key(const struct live_sessions *ls, const char *nas, char *key, size_t len)
{
	snprintf(key, len, "%snas-sessions:%s", redis_pool_prefix(ls->redis), nas);
}

static void nas_member(const struct cert_ref *ref, const struct live_session *s, char *member,
                       size_t len)
{
	char ref_text[128], field[256];

	cert_ref_string(ref, ref_text, sizeof(ref_text));
	session_field(s, field, sizeof(field));
	snprintf(member, len, "%s|%s", ref_text, field);
}

/*
 * May a session the table does not hold yet be added for its NAS? Members
 * not updated for the lifetime are trimmed first. 1 yes, 0 the NAS is at its
 * cap (logged, counted), -1 Redis failed. Nodes check and add in two steps,
 * so concurrent new sessions may overshoot the cap by a few: it bounds what a
 * NAS (or a Class copied to it) can make the table hold, not an exact count.
 */
static int admit(struct live_sessions *ls, const struct cert_ref *ref, const struct live_session *s,
                 char *err, size_t errlen)
{
	char key[256], member[512], stale[24];
	const char *trim[4] = { "ZREMRANGEBYSCORE", key, "-inf", stale };
	const char *score[3] = { "ZSCORE", key, member };
	const char *card[2] = { "ZCARD", key };
	redisReply *r;
	long long n;
	unsigned suppressed;

	nas_key(ls, s->nas, key, sizeof(key));
	nas_member(ref, s, member, sizeof(member));
	snprintf(stale, sizeof(stale), "(%lld", (long long)time(NULL) - ls->lifetime_s);
	if (run(ls, 4, trim, err, errlen) < 0 || (r = redis_pool_command(ls->redis, 3, score, err, errlen)) == NULL)
		return -1;
	n = r->type == REDIS_REPLY_STRING;
	freeReplyObject(r);
	if (n)
		return 1;
	if ((r = redis_pool_command(ls->redis, 2, card, err, errlen)) == NULL)
		return -1;
	n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (n < ls->max_per_nas)
		return 1;
	atomic_fetch_add(&ls->refused, 1);
	if (rate_limit_allow(&ls->cap_log, &suppressed)) {
		char station[64], id[128];

		printable_string(station, sizeof(station), s->calling_station_id);
		printable_string(id, sizeof(id), s->acct_session_id);
		log_msg(LOG_WARNING, "nas=%s: new live session not kept (station %s, session %s): the NAS holds "
		        "%lld, sessions.max_per_nas is %u (%u similar lines suppressed before)", s->nas, station,
		        id, n, ls->max_per_nas, suppressed);
	}
	return 0;
}

static int store(struct live_sessions *ls, const struct cert_ref *ref, const struct live_session *s,
                 char *err, size_t errlen)
{
	char key[256], field[256], value[2048], skey[512], station[160], ttl[16];
	char nkey[256], member[512], now[24];
	const char *hset[4] = { "HSET", key, field, value };
	const char *expire[3] = { "EXPIRE", key, ttl };
	const char *set[5] = { "SET", skey, station, "EX", ttl };
	const char *zadd[4] = { "ZADD", nkey, now, member };
	const char *nexpire[3] = { "EXPIRE", nkey, ttl };

	sessions_key(ls, ref, key, sizeof(key));
	session_field(s, field, sizeof(field));
	serialize(s, value, sizeof(value));
	snprintf(ttl, sizeof(ttl), "%u", ls->lifetime_s);
	nas_key(ls, s->nas, nkey, sizeof(nkey));
	nas_member(ref, s, member, sizeof(member));
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (run(ls, 4, hset, err, errlen) < 0 || run(ls, 3, expire, err, errlen) < 0 ||
	    run(ls, 4, zadd, err, errlen) < 0 || run(ls, 3, nexpire, err, errlen) < 0)
		return -1;
	if (s->calling_station_id[0] == '\0')
		return 0;
	/* Bound to its key by a MAC, so a Redis writer cannot point a NAS's
	 * station at another certificate (accounting without authd's Class would
	 * then make or end a session of the wrong device). */
	station_key(ls, s, skey, sizeof(skey));
	if (session_class_ref_bind(redis_pool_seal(ls->redis), "station", skey, ref, station,
	                           sizeof(station)) < 0) {
		snprintf(err, errlen, "cannot MAC the station's certificate");
		return -1;
	}
	return run(ls, 5, set, err, errlen);
}

/* The certificate of a session the NAS did not tag with authd's Class.
 * 1 found, 0 none, -1 error. */
static int ref_of_station(struct live_sessions *ls, const struct live_session *s,
                          struct cert_ref *ref, char *err, size_t errlen)
{
	char skey[512];
	const char *get[2] = { "GET", skey };
	redisReply *r;
	int found;

	if (s->calling_station_id[0] == '\0')
		return 0;
	station_key(ls, s, skey, sizeof(skey));
	if ((r = redis_pool_command(ls->redis, 2, get, err, errlen)) == NULL)
		return -1;
	/* A value without a valid MAC names no certificate. */
	found = r->type == REDIS_REPLY_STRING &&
	        session_class_ref_verify(redis_pool_seal(ls->redis), "station", skey,
	                                 (const uint8_t *)r->str, r->len, ref) == 0;
	freeReplyObject(r);
	return found;
}

/* The stored session: 1 into *out, 0 none (*out untouched), -1 on error. */
static int fetch(struct live_sessions *ls, const struct cert_ref *ref, const struct live_session *s,
                 struct live_session *out, char *err, size_t errlen)
{
	char key[256], field[256];
	const char *hget[3] = { "HGET", key, field };
	redisReply *r;
	int found;

	sessions_key(ls, ref, key, sizeof(key));
	session_field(s, field, sizeof(field));
	if ((r = redis_pool_command(ls->redis, 3, hget, err, errlen)) == NULL)
		return -1;
	if ((found = r->type == REDIS_REPLY_STRING))
		live_session_parse(r->str, r->len, out);
	freeReplyObject(r);
	return found;
}

/* Stores what s says over what the table holds about the same session:
 * accounting adds what the Access-Request lacked (Acct-Session-Id above all),
 * a re-authentication adds the identity, and neither forgets the other's.
 * 1 stored, 0 a new session over its NAS's cap, -1 Redis failed. */
static int merge(struct live_sessions *ls, const struct cert_ref *ref, const struct live_session *s,
                 char *err, size_t errlen)
{
	struct live_session merged = { 0 };
	int rc;

	if ((rc = fetch(ls, ref, s, &merged, err, errlen)) < 0 ||
	    (rc == 0 && (rc = admit(ls, ref, s, err, errlen)) <= 0))
		return rc;
	for (size_t i = 0; i < N_TEXT_FIELDS; i++) {
		const char *news = (const char *)s + text_fields[i].offset;

		if (news[0] != '\0')
			memcpy((char *)&merged + text_fields[i].offset, news, text_fields[i].size);
	}
	if (s->nas_port != 0)
		merged.nas_port = s->nas_port;
	if (merged.started == 0)
		merged.started = s->started;
	merged.updated = s->updated;
	return store(ls, ref, &merged, err, errlen) < 0 ? -1 : 1;
}

int live_sessions_begin(struct live_sessions *ls, const struct cert_ref *ref,
                        const struct live_session *s, char *err, size_t errlen)
{
	return merge(ls, ref, s, err, errlen) < 0 ? -1 : 0;
}

int live_sessions_account(struct live_sessions *ls, unsigned status_type, const struct cert_ref *ref,
                          const struct live_session *s, char *err, size_t errlen)
{
	struct cert_ref found;
	int rc;

	if (ref == NULL) {
		if ((rc = ref_of_station(ls, s, &found, err, errlen)) <= 0)
			return rc;
		ref = &found;
	}
	if (status_type == ACCT_STATUS_STOP)
		return live_sessions_end(ls, ref, s, err, errlen) < 0 ? -1 : 1;
	if (status_type != ACCT_STATUS_START && status_type != ACCT_STATUS_INTERIM)
		return 1;   /* nothing to keep */
	return merge(ls, ref, s, err, errlen);
}

int live_sessions_of(struct live_sessions *ls, const struct cert_ref *ref, struct live_session **out,
                     size_t *n, char *err, size_t errlen)
{
	char key[256];
	const char *hvals[2] = { "HVALS", key };
	redisReply *r;

	*out = NULL;
	*n = 0;
	sessions_key(ls, ref, key, sizeof(key));
	if ((r = redis_pool_command(ls->redis, 2, hvals, err, errlen)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
		*out = calloc(r->elements, sizeof(**out));
		if (*out == NULL) {
			freeReplyObject(r);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < r->elements; i++) {
			if (r->element[i]->type == REDIS_REPLY_STRING)
				live_session_parse(r->element[i]->str, r->element[i]->len, &(*out)[(*n)++]);
		}
	}
	freeReplyObject(r);
	return 0;
}

/* Index members read per round trip while a NAS's sessions are forgotten. */
#define END_NAS_CHUNK 256

/* One index member of NAS nas ("REF|NAS|STATION" or "REF|NAS|acct:ID", as
 * nas_member writes it) into the hash key and field of its session and, when
 * it has one, its station key ("" otherwise). -1 when it is not of that form
 * (a hostile or corrupt member). */
static int parse_member(const struct live_sessions *ls, const char *nas, const char *m, size_t len,
                        char *key, size_t keylen, char *field, size_t fieldlen, char *skey,
                        size_t skeylen)
{
	const char *bar = memchr(m, '|', len);
	size_t nas_len = strlen(nas), ref_len;
	char ref_text[128];
	struct cert_ref ref;

	if (bar == NULL || memchr(m, '\0', len) != NULL || (ref_len = (size_t)(bar - m)) >= sizeof(ref_text))
		return -1;
	memcpy(ref_text, m, ref_len);
	ref_text[ref_len] = '\0';
	len -= ref_len + 1;
	/* The field must name this NAS: a member planted in its index cannot
	 * reach another NAS's sessions. */
	if (cert_ref_parse(ref_text, &ref) < 0 || len <= nas_len + 1 || len >= fieldlen ||
	    memcmp(bar + 1, nas, nas_len) != 0 || bar[1 + nas_len] != '|')
		return -1;
	memcpy(field, bar + 1, len);
	field[len] = '\0';
	sessions_key(ls, &ref, key, keylen);
	skey[0] = '\0';
	if (strncmp(field + nas_len + 1, "acct:", 5) != 0)
		snprintf(skey, skeylen, "%sstation:%s:%s", redis_pool_prefix(ls->redis), nas, field + nas_len + 1);
	return 0;
}

/* A chunk of the NAS's index (r, an array reply) forgotten: each session's
 * field, then the station keys and the members in one command each. Adds the
 * sessions forgotten to *ended. 0 or -1. */
static int end_members(struct live_sessions *ls, const char *nas, const char *nkey, const redisReply *r,
                       long long *ended, char *err, size_t errlen)
{
	struct member_keys {
		char key[256], field[256], skey[512];
	} *k = calloc(r->elements, sizeof(*k));
	const char **zrem = calloc(r->elements + 2, sizeof(*zrem));
	const char **del = calloc(r->elements + 1, sizeof(*del));
	int zargc = 2, dargc = 1, rc = -1;

	if (k == NULL || zrem == NULL || del == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	zrem[0] = "ZREM";
	zrem[1] = nkey;
	del[0] = "DEL";
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *m = r->element[i];
		const char *hdel[3] = { "HDEL", k[i].key, k[i].field };
		redisReply *h;

		if (m->type != REDIS_REPLY_STRING)
			continue;
		zrem[zargc++] = m->str;
		if (parse_member(ls, nas, m->str, m->len, k[i].key, sizeof(k[i].key), k[i].field,
		                 sizeof(k[i].field), k[i].skey, sizeof(k[i].skey)) < 0)
			continue;
		if ((h = redis_pool_command(ls->redis, 3, hdel, err, errlen)) == NULL)
			goto out;
		*ended += h->type == REDIS_REPLY_INTEGER && h->integer > 0;
		freeReplyObject(h);
		if (k[i].skey[0] != '\0')
			del[dargc++] = k[i].skey;
	}
	/* The index last: a failure before leaves the members for a retry. */
	if ((dargc > 1 && run(ls, dargc, del, err, errlen) < 0) || (zargc > 2 && run(ls, zargc, zrem, err, errlen) < 0))
		goto out;
	rc = 0;
out:
	free(k);
	free(zrem);
	free(del);
	return rc;
}

long long live_sessions_end_nas(struct live_sessions *ls, const char *nas, long long updated_until,
                                size_t max, char *err, size_t errlen)
{
	char nkey[256], until[24], count[24];
	const char *range[7] = { "ZRANGEBYSCORE", nkey, "-inf", until, "LIMIT", "0", count };
	long long ended = 0;
	size_t seen = 0;

	if (max == 0)
		max = 2 * (size_t)ls->max_per_nas;
	nas_key(ls, nas, nkey, sizeof(nkey));
	snprintf(until, sizeof(until), "%lld", updated_until);
	/* Forgotten members leave the index, so each round reads the next ones;
	 * members that stay (not of this NAS's form, yet not removable) count
	 * against max, which ends the loop whatever Redis answers. */
	while (seen < max) {
		size_t want = max - seen < END_NAS_CHUNK ? max - seen : END_NAS_CHUNK, got;
		redisReply *r;
		int rc;

		snprintf(count, sizeof(count), "%zu", want);
		if ((r = redis_pool_command(ls->redis, 7, range, err, errlen)) == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			snprintf(err, errlen, "ZRANGEBYSCORE %s: not an array", nkey);
			return -1;
		}
		got = r->elements;
		rc = got > 0 ? end_members(ls, nas, nkey, r, &ended, err, errlen) : 0;
		freeReplyObject(r);
		if (rc < 0)
			return -1;
		seen += got;
		if (got < want)
			break;
	}
	return ended;
}

int live_sessions_end(struct live_sessions *ls, const struct cert_ref *ref,
                      const struct live_session *s, char *err, size_t errlen)
{
	char key[256], field[256], skey[512], nkey[256], member[512];
	const char *hdel[3] = { "HDEL", key, field };
	const char *del[2] = { "DEL", skey };
	const char *zrem[3] = { "ZREM", nkey, member };

	sessions_key(ls, ref, key, sizeof(key));
	session_field(s, field, sizeof(field));
	nas_key(ls, s->nas, nkey, sizeof(nkey));
	nas_member(ref, s, member, sizeof(member));
	if (run(ls, 3, hdel, err, errlen) < 0 || run(ls, 3, zrem, err, errlen) < 0)
		return -1;
	if (s->calling_station_id[0] == '\0')
		return 0;
	station_key(ls, s, skey, sizeof(skey));
	return run(ls, 2, del, err, errlen);
}

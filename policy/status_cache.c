#include "policy/status_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/clock.h"
#include "common/report.h"
#include "common/seal.h"
#include "common/ttl_table.h"

/* An entry of the in-process table: keyed by the SHA-256 of the reference,
 * which fits the table's key whatever the serial's length. */
struct local_entry {
	struct ttl_node node;
	struct cached_status status;
	time_t valid_until;
};

struct status_cache {
	struct redis_pool *redis;       /* borrowed; NULL: the local table serves */
	const struct seal *seal;        /* the node key; NULL: only revocations are written */
	unsigned max_ttl_s;
	pthread_mutex_t lock;           /* guards local */
	struct ttl_table *local;
};

static const char *const status_names[] = { "good", "revoked", "unknown" };

const char *cert_status_name(enum cert_status s)
{
	return status_names[s];
}

struct status_cache *status_cache_new(struct redis_pool *redis, unsigned max_ttl_s,
                                      size_t local_capacity, char *err, size_t errlen)
{
	struct status_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		goto fail;
	c->redis = redis;
	c->seal = redis != NULL ? redis_pool_seal(redis) : NULL;
	c->max_ttl_s = max_ttl_s;
	pthread_mutex_init(&c->lock, NULL);
	if (redis == NULL && (c->local = ttl_table_new(local_capacity, (uint64_t)max_ttl_s * 1000)) == NULL)
		goto fail;
	return c;
fail:
	snprintf(err, errlen, "out of memory");
	status_cache_free(c);
	return NULL;
}

static struct local_entry *local_of(struct ttl_node *node)
{
	return (struct local_entry *)((char *)node - offsetof(struct local_entry, node));
}

static void drop_local(struct status_cache *c, struct ttl_node *node)
{
	ttl_table_remove(c->local, node);
	free(local_of(node));
}

void status_cache_free(struct status_cache *c)
{
	struct ttl_node *node;

	if (c == NULL)
		return;
	if (c->local != NULL) {
		while ((node = ttl_table_oldest(c->local)) != NULL)
			drop_local(c, node);
		ttl_table_free(c->local);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void local_key(const struct cert_ref *ref, struct ttl_node *node)
{
	char text[128];

	cert_ref_string(ref, text, sizeof(text));
	SHA256((const unsigned char *)text, strlen(text), node->key);
	node->keylen = SHA256_DIGEST_LENGTH;
}

static enum status_cache_answer local_get(struct status_cache *c, const struct cert_ref *ref,
                                          struct cached_status *out)
{
	struct ttl_node probe, *node;
	struct local_entry *e;
	enum status_cache_answer found = STATUS_CACHE_MISS;

	local_key(ref, &probe);
	pthread_mutex_lock(&c->lock);
	while ((node = ttl_table_oldest_expired(c->local, clock_now_ms())) != NULL)
		drop_local(c, node);
	node = ttl_table_find(c->local, probe.key, probe.keylen);
	if (node != NULL) {
		e = local_of(node);
		if (e->valid_until > time(NULL)) {
			*out = e->status;
			found = STATUS_CACHE_HIT;
		} else {
			drop_local(c, node);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

static void local_put(struct status_cache *c, const struct cert_ref *ref,
                      const struct cached_status *st, time_t valid_until)
{
	struct local_entry *e = calloc(1, sizeof(*e));
	struct ttl_node *old;

	if (e == NULL)
		return;   /* the next check asks the source again */
	local_key(ref, &e->node);
	e->status = *st;
	e->valid_until = valid_until;
	pthread_mutex_lock(&c->lock);
	if ((old = ttl_table_find(c->local, e->node.key, e->node.keylen)) != NULL)
		drop_local(c, old);
	/* Full: the oldest entry makes room, so a storm of new devices cannot
	 * lock the cache on stale ones. */
	if ((old = ttl_table_insert_evicting(c->local, &e->node, clock_now_ms())) != NULL)
		free(local_of(old));
	pthread_mutex_unlock(&c->lock);
}

static void redis_key(const struct status_cache *c, const struct cert_ref *ref, char *key, size_t len)
{
	char text[128];

	cert_ref_string(ref, text, sizeof(text));
	snprintf(key, len, "%sstatus:%s", redis_pool_prefix(c->redis), text);
}

static int status_of(const char *name, size_t len, enum cert_status *out)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strlen(status_names[i]) == len && memcmp(name, status_names[i], len) == 0) {
			*out = (enum cert_status)i;
			return 0;
		}
	}
	return -1;
}

/* A decimal number of 1..18 digits, no sign. */
static int number_of(const char *text, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (text[i] - '0');
	}
	*out = v;
	return 0;
}

int status_cache_parse_value(const char *v, size_t len, struct status_value *out)
{
	const char *field[5];
	size_t flen[5], n = 0, start = 0;
	long long learned;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > STATUS_VALUE_MAX)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != ' ') {
			if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
				return -1;
			continue;
		}
		if (i == start || n == 5)
			return -1;   /* an empty field, or too many */
		field[n] = v + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	if (n < 3 || status_of(field[0], flen[0], &out->status.status) < 0 ||
	    flen[1] >= sizeof(out->status.source) || number_of(field[2], flen[2], &learned) < 0 ||
	    (n >= 4 && number_of(field[3], flen[3], &out->expires) < 0))
		return -1;
	memcpy(out->status.source, field[1], flen[1]);
	out->status.learned = (time_t)learned;
	out->signed_len = n >= 4 ? (size_t)(field[3] + flen[3] - v) : len;
	if (n == 5) {
		out->tag = field[4];
		out->taglen = flen[4];
	}
	return 0;
}

/* What the MAC covers: the key name (so a value cannot be moved to another
 * certificate), a newline, and the value without its tag. */
static int mac_input(const char *key, const char *value, size_t len, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s\n%.*s", key, (int)len, value);

	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/*
 * A value this code did not write is ignored, as if absent. A revocation is
 * honoured as it is: forging one only refuses a device, and authctl writes
 * them without the node key. Anything else must carry a valid MAC under the
 * node key and be current.
 */
static int accept_value(const struct status_cache *c, const char *key, const char *v, size_t len,
                        struct cached_status *out)
{
	struct status_value sv;
	char input[512];
	int n;

	if (status_cache_parse_value(v, len, &sv) < 0) {
		report_refused("status cache: %s ignored: not a status value", key);
		return 0;
	}
	if (sv.status.status != CERT_STATUS_REVOKED) {
		if (c->seal == NULL || sv.tag == NULL || sv.expires == 0 ||
		    (n = mac_input(key, v, sv.signed_len, input, sizeof(input))) < 0 ||
		    !seal_verify(c->seal, "status", input, (size_t)n, sv.tag, sv.taglen)) {
			report_refused("status cache: %s ignored: \"%s\" without a valid MAC under the node key",
			               key, cert_status_name(sv.status.status));
			return 0;
		}
		if (sv.expires <= (long long)time(NULL))
			return 0;   /* stale: a value kept past its time by a writer */
	}
	*out = sv.status;
	return 1;
}

enum status_cache_answer status_cache_get(struct status_cache *c, const struct cert_ref *ref,
                                          struct cached_status *out, char *err, size_t errlen)
{
	char key[256];
	const char *argv[2] = { "GET", key };
	redisReply *r;
	enum status_cache_answer found = STATUS_CACHE_MISS;

	if (c->redis == NULL)
		return local_get(c, ref, out);
	redis_key(c, ref, key, sizeof(key));
	r = redis_pool_command(c->redis, 2, argv, err, errlen);
	if (r == NULL)
		return STATUS_CACHE_UNREACHABLE;
	if (r->type == REDIS_REPLY_STRING && accept_value(c, key, r->str, r->len, out))
		found = STATUS_CACHE_HIT;
	freeReplyObject(r);
	return found;
}

int status_cache_put(struct status_cache *c, const struct cert_ref *ref,
                     const struct cached_status *st, time_t next_update, char *err, size_t errlen)
{
	time_t now = time(NULL);
	long long ttl = c->max_ttl_s;
	char key[256], value[STATUS_VALUE_MAX + 1], ttl_text[24];
	const char *argv[5] = { "SET", key, value, "EX", ttl_text };
	redisReply *r;
	int n;

	/* A revocation does not undo itself: it is kept until the source's next
	 * update whatever the cap, which is there to make "good" age. */
	if (next_update != 0 && (next_update - now < ttl || st->status == CERT_STATUS_REVOKED))
		ttl = next_update - now;
	if (ttl <= 0)
		return 0;
	if (c->redis == NULL) {
		local_put(c, ref, st, now + (time_t)ttl);
		return 0;
	}
	/* Without the node key (authctl) only a revocation can be shared: it
	 * needs no MAC, anything else would be ignored by every node. */
	if (c->seal == NULL && st->status != CERT_STATUS_REVOKED)
		return 0;
	redis_key(c, ref, key, sizeof(key));
	n = snprintf(value, sizeof(value), "%s %s %lld %lld", cert_status_name(st->status), st->source,
	             (long long)st->learned, (long long)now + ttl);
	if (c->seal != NULL) {
		char input[512], tag[SEAL_TAG_LEN + 1];
		int m = mac_input(key, value, (size_t)n, input, sizeof(input));

		if (m < 0 || seal_mac(c->seal, "status", input, (size_t)m, tag) < 0) {
			snprintf(err, errlen, "cannot MAC the status");
			return -1;
		}
		snprintf(value + n, sizeof(value) - (size_t)n, " %s", tag);
	}
	snprintf(ttl_text, sizeof(ttl_text), "%lld", ttl);
	r = redis_pool_command(c->redis, 5, argv, err, errlen);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

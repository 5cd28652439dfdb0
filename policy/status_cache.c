#include "policy/status_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "policy/ttl_table.h"

/* An entry of the in-process table: keyed by the SHA-256 of the reference,
 * which fits the table's key whatever the serial's length. */
struct local_entry {
	struct ttl_node node;
	struct cached_status status;
	time_t valid_until;
};

struct status_cache {
	struct redis_pool *redis;       /* borrowed; NULL: the local table serves */
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

static int local_get(struct status_cache *c, const struct cert_ref *ref, struct cached_status *out)
{
	struct ttl_node probe, *node;
	struct local_entry *e;
	int found = 0;

	local_key(ref, &probe);
	pthread_mutex_lock(&c->lock);
	while ((node = ttl_table_oldest_expired(c->local, ttl_now_ms())) != NULL)
		drop_local(c, node);
	node = ttl_table_find(c->local, probe.key, probe.keylen);
	if (node != NULL) {
		e = local_of(node);
		if (e->valid_until > time(NULL)) {
			*out = e->status;
			found = 1;
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
	if ((old = ttl_table_insert_evicting(c->local, &e->node, ttl_now_ms())) != NULL)
		free(local_of(old));
	pthread_mutex_unlock(&c->lock);
}

static void redis_key(const struct status_cache *c, const struct cert_ref *ref, char *key, size_t len)
{
	char text[128];

	cert_ref_string(ref, text, sizeof(text));
	snprintf(key, len, "%sstatus:%s", redis_pool_prefix(c->redis), text);
}

/* The value is "STATUS SOURCE LEARNED", e.g. "good ocsp 1795000000": short,
 * and readable with redis-cli. */
static int parse_value(const char *v, struct cached_status *out)
{
	char status[16];
	long long learned;
	int end = 0;

	memset(out, 0, sizeof(*out));
	if (sscanf(v, "%15s %7s %lld%n", status, out->source, &learned, &end) != 3 || v[end] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(status, status_names[i]) == 0) {
			out->status = (enum cert_status)i;
			out->learned = (time_t)learned;
			return 0;
		}
	}
	return -1;
}

int status_cache_get(struct status_cache *c, const struct cert_ref *ref, struct cached_status *out,
                     char *err, size_t errlen)
{
	char key[256];
	const char *argv[2] = { "GET", key };
	redisReply *r;
	int found;

	if (c->redis == NULL)
		return local_get(c, ref, out);
	redis_key(c, ref, key, sizeof(key));
	r = redis_pool_command(c->redis, 2, argv, err, errlen);
	if (r == NULL)
		return -1;
	/* A value this code did not write is ignored, as if absent. */
	found = r->type == REDIS_REPLY_STRING && parse_value(r->str, out) == 0;
	freeReplyObject(r);
	return found;
}

int status_cache_put(struct status_cache *c, const struct cert_ref *ref,
                     const struct cached_status *st, time_t next_update, char *err, size_t errlen)
{
	time_t now = time(NULL);
	long long ttl = c->max_ttl_s;
	char key[256], value[64], ttl_text[24];
	const char *argv[5] = { "SET", key, value, "EX", ttl_text };
	redisReply *r;

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
	redis_key(c, ref, key, sizeof(key));
	snprintf(value, sizeof(value), "%s %s %lld", cert_status_name(st->status), st->source,
	         (long long)st->learned);
	snprintf(ttl_text, sizeof(ttl_text), "%lld", ttl);
	r = redis_pool_command(c->redis, 5, argv, err, errlen);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

#include "authd/reply_cache.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ttl_table.h"

/* One per (client address, port, Identifier): a NAS has at most one request
 * outstanding for each (RFC 2865 3, RFC 5080 2.2.2), so a new Request
 * Authenticator there means the old request is over and the entry is reused.
 * The cache is thus bounded by what NASes have in flight, not by the rate. */
struct cached_reply {
	struct ttl_node node;
	uint8_t authenticator[16];
	bool done;
	size_t len;
	uint8_t *data;
};

struct reply_cache {
	pthread_mutex_t lock;
	struct ttl_table *entries;
};

static struct cached_reply *from_node(struct ttl_node *node)
{
	return (struct cached_reply *)((char *)node - offsetof(struct cached_reply, node));
}

/* Key: address (16) | port (2) | id (1). */
static size_t make_key(uint8_t key[TTL_KEY_MAX], const struct sockaddr_storage *from, uint8_t id)
{
	memset(key, 0, TTL_KEY_MAX);
	if (from->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)from;

		memcpy(key, &sin->sin_addr, 4);
		memcpy(key + 16, &sin->sin_port, 2);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)from;

		memcpy(key, &sin6->sin6_addr, 16);
		memcpy(key + 16, &sin6->sin6_port, 2);
	}
	key[18] = id;
	return 19;
}

static void entry_free(struct cached_reply *e)
{
	free(e->data);
	free(e);
}

struct reply_cache *reply_cache_new(size_t max_entries, unsigned lifetime_s)
{
	struct reply_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->entries = ttl_table_new(max_entries, (uint64_t)lifetime_s * 1000);
	if (c->entries == NULL) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void reply_cache_free(struct reply_cache *c)
{
	struct ttl_node *node;

	if (c == NULL)
		return;
	while ((node = ttl_table_oldest(c->entries)) != NULL) {
		ttl_table_remove(c->entries, node);
		entry_free(from_node(node));
	}
	ttl_table_free(c->entries);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

enum reply_cache_status reply_cache_begin(struct reply_cache *c,
                                          const struct sockaddr_storage *from,
                                          uint8_t id, const uint8_t authenticator[16],
                                          uint8_t *out, size_t *outlen)
{
	uint8_t key[TTL_KEY_MAX];
	size_t keylen = make_key(key, from, id);
	enum reply_cache_status status = REPLY_CACHE_NEW;
	struct cached_reply *e;
	struct ttl_node *node;

	pthread_mutex_lock(&c->lock);
	node = ttl_table_find(c->entries, key, keylen);
	if (node != NULL) {
		e = from_node(node);
		if (memcmp(e->authenticator, authenticator, 16) != 0) {
			/* The NAS moved on to a new request with this Identifier. */
			free(e->data);
			e->data = NULL;
			e->len = 0;
			e->done = false;
			memcpy(e->authenticator, authenticator, 16);
			ttl_table_touch(c->entries, node, clock_now_ms());
		} else if (!e->done) {
			status = REPLY_CACHE_IN_PROGRESS;
		} else {
			memcpy(out, e->data, e->len);
			*outlen = e->len;
			status = REPLY_CACHE_HIT;
		}
		goto out;
	}
	status = REPLY_CACHE_FULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto out;
	memcpy(e->node.key, key, keylen);
	e->node.keylen = keylen;
	memcpy(e->authenticator, authenticator, 16);
	/* Full: the oldest entry, whose retransmissions are least likely, goes. */
	if ((node = ttl_table_insert_evicting(c->entries, &e->node, clock_now_ms())) != NULL)
		entry_free(from_node(node));
	status = REPLY_CACHE_NEW;
out:
	pthread_mutex_unlock(&c->lock);
	return status;
}

void reply_cache_complete(struct reply_cache *c, const struct sockaddr_storage *from,
                          uint8_t id, const uint8_t authenticator[16],
                          const uint8_t *reply, size_t len)
{
	uint8_t key[TTL_KEY_MAX];
	size_t keylen = make_key(key, from, id);
	uint8_t *copy = NULL;
	struct ttl_node *node;
	struct cached_reply *e;

	if (len > 0 && len <= REPLY_CACHE_MAX_REPLY && (copy = malloc(len)) != NULL)
		memcpy(copy, reply, len);
	pthread_mutex_lock(&c->lock);
	node = ttl_table_find(c->entries, key, keylen);
	e = node != NULL ? from_node(node) : NULL;
	/* The entry may belong to a newer request by now: leave it alone. */
	if (e != NULL && memcmp(e->authenticator, authenticator, 16) == 0) {
		if (copy != NULL) {
			e->data = copy;
			e->len = len;
			e->done = true;
			copy = NULL;
		} else {
			ttl_table_remove(c->entries, node);
			entry_free(e);
		}
	}
	pthread_mutex_unlock(&c->lock);
	free(copy);
}

void reply_cache_expire(struct reply_cache *c)
{
	uint64_t now = clock_now_ms();
	struct ttl_node *node;

	pthread_mutex_lock(&c->lock);
	while ((node = ttl_table_oldest_expired(c->entries, now)) != NULL) {
		ttl_table_remove(c->entries, node);
		entry_free(from_node(node));
	}
	pthread_mutex_unlock(&c->lock);
}

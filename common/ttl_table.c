#include "common/ttl_table.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

struct ttl_table {
	struct ttl_node **buckets;
	size_t mask;
	size_t count, capacity;
	uint64_t lifetime_ms;
	struct ttl_node *oldest, *youngest;
	uint64_t seed;
};

/* FNV-1a with a per-table seed; keys reach the table only after the packet's
 * Message-Authenticator was verified, so flooding by chosen collisions needs
 * a client's secret. */
static size_t hash(const struct ttl_table *t, const uint8_t *key, size_t keylen)
{
	uint64_t h = 1469598103934665603ULL ^ t->seed;

	for (size_t i = 0; i < keylen; i++) {
		h ^= key[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32)) & t->mask;
}

struct ttl_table *ttl_table_new(size_t capacity, uint64_t lifetime_ms)
{
	struct ttl_table *t = calloc(1, sizeof(*t));
	size_t nbuckets = 16;

	if (t == NULL)
		return NULL;
	while (nbuckets < capacity && nbuckets < ((size_t)1 << 24))
		nbuckets <<= 1;
	t->buckets = calloc(nbuckets, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	t->mask = nbuckets - 1;
	t->capacity = capacity;
	t->lifetime_ms = lifetime_ms;
	t->seed = (uint64_t)(uintptr_t)t ^ clock_now_ms();
	return t;
}

void ttl_table_free(struct ttl_table *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t);
}

size_t ttl_table_count(const struct ttl_table *t)
{
	return t->count;
}

static void append(struct ttl_table *t, struct ttl_node *node, uint64_t now_ms)
{
	node->expires_ms = now_ms + t->lifetime_ms;
	node->next = NULL;
	node->prev = t->youngest;
	if (t->youngest != NULL)
		t->youngest->next = node;
	else
		t->oldest = node;
	t->youngest = node;
}

static void unlink_order(struct ttl_table *t, struct ttl_node *node)
{
	if (node->prev != NULL)
		node->prev->next = node->next;
	else
		t->oldest = node->next;
	if (node->next != NULL)
		node->next->prev = node->prev;
	else
		t->youngest = node->prev;
	node->prev = node->next = NULL;
}

int ttl_table_insert(struct ttl_table *t, struct ttl_node *node, uint64_t now_ms)
{
	size_t b;

	if (t->count >= t->capacity)
		return -1;
	b = hash(t, node->key, node->keylen);
	node->hash_next = t->buckets[b];
	t->buckets[b] = node;
	append(t, node, now_ms);
	t->count++;
	return 0;
}

struct ttl_node *ttl_table_insert_evicting(struct ttl_table *t, struct ttl_node *node,
                                           uint64_t now_ms)
{
	struct ttl_node *evicted = NULL;

	if (t->count >= t->capacity && (evicted = t->oldest) != NULL)
		ttl_table_remove(t, evicted);
	ttl_table_insert(t, node, now_ms);
	return evicted;
}

struct ttl_node *ttl_table_find(const struct ttl_table *t, const uint8_t *key, size_t keylen)
{
	struct ttl_node *n;

	if (keylen > TTL_KEY_MAX)
		return NULL;
	for (n = t->buckets[hash(t, key, keylen)]; n != NULL; n = n->hash_next) {
		if (n->keylen == keylen && memcmp(n->key, key, keylen) == 0)
			return n;
	}
	return NULL;
}

void ttl_table_touch(struct ttl_table *t, struct ttl_node *node, uint64_t now_ms)
{
	unlink_order(t, node);
	append(t, node, now_ms);
}

void ttl_table_remove(struct ttl_table *t, struct ttl_node *node)
{
	struct ttl_node **pp = &t->buckets[hash(t, node->key, node->keylen)];

	while (*pp != NULL && *pp != node)
		pp = &(*pp)->hash_next;
	if (*pp == NULL)
		return;
	*pp = node->hash_next;
	node->hash_next = NULL;
	unlink_order(t, node);
	t->count--;
}

struct ttl_node *ttl_table_oldest_expired(const struct ttl_table *t, uint64_t now_ms)
{
	return t->oldest != NULL && t->oldest->expires_ms <= now_ms ? t->oldest : NULL;
}

struct ttl_node *ttl_table_oldest(const struct ttl_table *t)
{
	return t->oldest;
}

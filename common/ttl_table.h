/*
 * A bounded hash table whose entries expire: the shared mechanism behind the
 * conversation table (keyed by State) and the reply cache (keyed by client
 * address, port, RADIUS id and authenticator).
 *
 * Intrusive: callers embed a struct ttl_node in their entry and get it back
 * with container_of-style arithmetic. Entries are kept in expiry order (every
 * insert or touch uses the same lifetime, so appending keeps the list sorted),
 * which makes expiry O(1) per entry. Not locked: the owner holds its own lock.
 */
#ifndef COMMON_TTL_TABLE_H
#define COMMON_TTL_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define TTL_KEY_MAX 40

struct ttl_node {
	uint8_t key[TTL_KEY_MAX];
	size_t keylen;
	uint64_t expires_ms;
	struct ttl_node *hash_next;
	struct ttl_node *prev, *next;   /* expiry order, oldest first */
};

struct ttl_table;

/* capacity bounds the number of entries; lifetime_ms is given to every insert/touch. */
struct ttl_table *ttl_table_new(size_t capacity, uint64_t lifetime_ms);
/* Frees the table only; entries still in it belong to the caller. */
void ttl_table_free(struct ttl_table *t);

size_t ttl_table_count(const struct ttl_table *t);
/* Inserts node (key already set) expiring at now + lifetime. -1 when full. */
int ttl_table_insert(struct ttl_table *t, struct ttl_node *node, uint64_t now_ms);
/* Inserts node even when the table is full: the oldest entry makes room and
 * is returned, removed, for the caller to free; NULL when none had to go.
 * The table must have a capacity of at least 1. */
struct ttl_node *ttl_table_insert_evicting(struct ttl_table *t, struct ttl_node *node,
                                           uint64_t now_ms);
struct ttl_node *ttl_table_find(const struct ttl_table *t, const uint8_t *key, size_t keylen);
/* Moves node to the young end with a fresh lifetime. */
void ttl_table_touch(struct ttl_table *t, struct ttl_node *node, uint64_t now_ms);
void ttl_table_remove(struct ttl_table *t, struct ttl_node *node);
/* The oldest node if it expired at now_ms (still in the table), else NULL. */
struct ttl_node *ttl_table_oldest_expired(const struct ttl_table *t, uint64_t now_ms);
/* The oldest node, expired or not, or NULL when empty. */
struct ttl_node *ttl_table_oldest(const struct ttl_table *t);

#endif

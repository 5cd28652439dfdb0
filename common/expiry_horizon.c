#include "common/expiry_horizon.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/ttl_table.h"

#define DAY 86400
/* Expiry days told apart, from the day before creation on: the last slot
 * holds everything later and is in no horizon. 22 years: the horizons
 * (at most months) stay exact for as long as a process runs. */
#define N_DAYS 8192
/* Entries allocated at once as the table grows, so that an accept of a new
 * device allocates once in CHUNK and memory follows the devices seen. */
#define CHUNK 1024
/* Keys past their window a new key forgets first: more than one, so that
 * a table fed steadily never holds more than its window by much. */
#define EXPIRE_PER_SEE 2

struct entry {
	struct ttl_node node;
	uint32_t slot;               /* index in days[] of its expiry day */
};

struct chunk {
	struct chunk *next;
	size_t used;
	struct entry entries[CHUNK];
};

struct expiry_horizon {
	pthread_mutex_t lock;        /* everything below but the atomics; readers never take it */
	struct ttl_table *table;
	size_t capacity;
	struct ttl_node *free;       /* forgotten entries for reuse, chained through next */
	struct chunk *chunks;        /* the newest first; only it may have unused entries */
	int64_t first_day;           /* the UTC day counted in days[0], with every earlier one */
	atomic_size_t tracked;
	atomic_ullong forgotten;
	atomic_uint days[N_DAYS];    /* keys held by expiry day */
};

static struct entry *entry_of(struct ttl_node *n)
{
	return (struct entry *)((char *)n - offsetof(struct entry, node));
}

/* Floor division: days before 1970 too. */
static int64_t utc_day(int64_t t)
{
	return t >= 0 ? t / DAY : -((-t + DAY - 1) / DAY);
}

static uint32_t day_slot(const struct expiry_horizon *h, int64_t t)
{
	int64_t d = utc_day(t) - h->first_day;

	return d < 0 ? 0 : d >= N_DAYS ? N_DAYS - 1 : (uint32_t)d;
}

struct expiry_horizon *expiry_horizon_new(size_t capacity, uint64_t window_ms, int64_t now)
{
	struct expiry_horizon *h;

	if (capacity == 0 || (h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->table = ttl_table_new(capacity, window_ms);
	if (h->table == NULL || pthread_mutex_init(&h->lock, NULL) != 0) {
		ttl_table_free(h->table);
		free(h);
		return NULL;
	}
	h->capacity = capacity;
	h->first_day = utc_day(now) - 1;
	return h;
}

void expiry_horizon_free(struct expiry_horizon *h)
{
	struct chunk *c, *next;

	if (h == NULL)
		return;
	for (c = h->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	ttl_table_free(h->table);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* Takes e out of the table and the counts, onto the free list. */
static void forget(struct expiry_horizon *h, struct entry *e)
{
	ttl_table_remove(h->table, &e->node);
	atomic_fetch_sub_explicit(&h->days[e->slot], 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&h->tracked, 1, memory_order_relaxed);
	e->node.next = h->free;
	h->free = &e->node;
}

static size_t forget_expired(struct expiry_horizon *h, uint64_t now_ms, size_t max)
{
	struct ttl_node *n;
	size_t done = 0;

	while (done < max && (n = ttl_table_oldest_expired(h->table, now_ms)) != NULL) {
		forget(h, entry_of(n));
		done++;
	}
	return done;
}

/* An entry for a new key: the oldest one's when full (called after the
 * expired ones were forgotten, so it is forgotten early), else a free one. */
static struct entry *take_entry(struct expiry_horizon *h)
{
	struct ttl_node *n;
	struct chunk *c;

	if (ttl_table_count(h->table) >= h->capacity) {
		forget(h, entry_of(ttl_table_oldest(h->table)));
		atomic_fetch_add_explicit(&h->forgotten, 1, memory_order_relaxed);
	}
	if ((n = h->free) != NULL) {
		h->free = n->next;
		return entry_of(n);
	}
	if (h->chunks == NULL || h->chunks->used == CHUNK) {
		if ((c = malloc(sizeof(*c))) == NULL)
			return NULL;
		c->next = h->chunks;
		c->used = 0;
		h->chunks = c;
	}
	return &h->chunks->entries[h->chunks->used++];
}

void expiry_horizon_see(struct expiry_horizon *h, const uint8_t *key, size_t keylen, int64_t not_after,
                        uint64_t now_ms)
{
	struct ttl_node *n;
	struct entry *e;

	if (keylen > TTL_KEY_MAX)
		return;
	pthread_mutex_lock(&h->lock);
	if ((n = ttl_table_find(h->table, key, keylen)) != NULL) {
		ttl_table_touch(h->table, n, now_ms);
		goto out;
	}
	forget_expired(h, now_ms, EXPIRE_PER_SEE);
	if ((e = take_entry(h)) == NULL)
		goto out;
	memcpy(e->node.key, key, keylen);
	e->node.keylen = keylen;
	e->slot = day_slot(h, not_after);
	ttl_table_insert(h->table, &e->node, now_ms);
	atomic_fetch_add_explicit(&h->days[e->slot], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->tracked, 1, memory_order_relaxed);
out:
	pthread_mutex_unlock(&h->lock);
}

size_t expiry_horizon_sweep(struct expiry_horizon *h, uint64_t now_ms, size_t max)
{
	size_t done;

	pthread_mutex_lock(&h->lock);
	done = forget_expired(h, now_ms, max);
	pthread_mutex_unlock(&h->lock);
	return done;
}

size_t expiry_horizon_tracked(const struct expiry_horizon *h)
{
	return atomic_load_explicit(&h->tracked, memory_order_relaxed);
}

uint64_t expiry_horizon_forgotten(const struct expiry_horizon *h)
{
	return atomic_load_explicit(&h->forgotten, memory_order_relaxed);
}

void expiry_horizon_count(const struct expiry_horizon *h, int64_t now, const unsigned *days, size_t *counts,
                          size_t n)
{
	int64_t today = utc_day(now) - h->first_day;
	size_t sum = 0, slot = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t last = today + days[i];

		/* The last slot is "later than we tell apart": in no horizon. */
		if (last > N_DAYS - 2)
			last = N_DAYS - 2;
		for (; (int64_t)slot <= last; slot++)
			sum += atomic_load_explicit(&h->days[slot], memory_order_relaxed);
		counts[i] = sum;
	}
}

#include "common/name_table.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct name_table {
	pthread_mutex_t lock;     /* interning only */
	size_t capacity;
	atomic_size_t published;
	char **names;             /* owned; the first `published` are set */
};

struct name_table *name_table_new(size_t capacity)
{
	struct name_table *t = calloc(1, sizeof(*t));

	if (t == NULL || capacity == 0 || (t->names = calloc(capacity, sizeof(*t->names))) == NULL) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->capacity = capacity;
	atomic_init(&t->published, 0);
	return t;
}

void name_table_free(struct name_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->capacity; i++)
		free(t->names[i]);
	free(t->names);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Under the lock: the index of name, or -1. A linear scan: interning
 * happens at config loads, over at most a few thousand names. */
static long find(const struct name_table *t, const char *name)
{
	size_t n = atomic_load_explicit(&t->published, memory_order_relaxed);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(t->names[i], name) == 0)
			return (long)i;
	}
	return -1;
}

long name_table_intern(struct name_table *t, const char *name)
{
	long index;
	size_t n;

	pthread_mutex_lock(&t->lock);
	index = find(t, name);
	n = atomic_load_explicit(&t->published, memory_order_relaxed);
	if (index < 0 && n < t->capacity && (t->names[n] = strdup(name)) != NULL) {
		atomic_store_explicit(&t->published, n + 1, memory_order_release);
		index = (long)n;
	}
	pthread_mutex_unlock(&t->lock);
	return index;
}

size_t name_table_missing(struct name_table *t, const char *const *names, size_t n)
{
	size_t missing = 0;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < n; i++) {
		bool seen = find(t, names[i]) >= 0;

		/* A name twice in names counts once. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(names[j], names[i]) == 0;
		missing += !seen;
	}
	pthread_mutex_unlock(&t->lock);
	return missing;
}

const char *const *name_table_values(const struct name_table *t)
{
	return (const char *const *)t->names;
}

const atomic_size_t *name_table_published(const struct name_table *t)
{
	return &t->published;
}

size_t name_table_capacity(const struct name_table *t)
{
	return t->capacity;
}

size_t name_table_room(const struct name_table *t)
{
	return t->capacity - atomic_load_explicit(&t->published, memory_order_acquire);
}

size_t name_table_capacity_for(size_t n)
{
	return n + (n > NAME_TABLE_MIN_ROOM ? n : NAME_TABLE_MIN_ROOM);
}

int name_table_check_room(struct name_table *t, const char *const *names, size_t n, size_t reserve,
                          const char *what, char *err, size_t errlen)
{
	size_t missing = name_table_missing(t, names, n), room = name_table_room(t);

	if (missing + reserve <= room)
		return 0;
	snprintf(err, errlen, "%zu new %s, room for %zu more in this process's life (%zu in all): a restart makes "
	         "room", missing, what, room > reserve ? room - reserve : 0, t->capacity);
	return -1;
}

/*
 * Names interned once and never removed, each with a fixed index: the NAS
 * clients authd has served under any version of its config, the backend
 * targets, the rules. Per-name tables (a NAS's conversation quota, a
 * metric's series) are indexed by it, so a name keeps its index across
 * reloads while the config around it changes. The capacity is fixed when
 * the table is made: memory stays bounded whatever a reload adds.
 *
 * Reads are lock-free: a name is written before the count that publishes
 * it is raised (release), and never changes after. Interning takes a lock
 * (config loads and reloads only).
 */
#ifndef COMMON_NAME_TABLE_H
#define COMMON_NAME_TABLE_H

#include <stdatomic.h>
#include <stddef.h>

struct name_table;

/* Room for capacity names (>= 1). NULL when out of memory. */
struct name_table *name_table_new(size_t capacity);
void name_table_free(struct name_table *t);

/* The index of name, interned (copied) first if new. -1 when the table is
 * full or out of memory: nothing changed. */
long name_table_intern(struct name_table *t, const char *name);
/* How many of names (n of them) are not interned yet: a caller checks that
 * they fit before interning any, so a refused reload leaves no trace. */
size_t name_table_missing(struct name_table *t, const char *const *names, size_t n);

/* 0 when the names not interned yet among names (n of them) fit in the
 * room left less reserve slots; else -1 with err ("N new <what>, room for
 * M more ..."). Nothing is interned. */
int name_table_check_room(struct name_table *t, const char *const *names, size_t n, size_t reserve,
                          const char *what, char *err, size_t errlen);

/* The names, by index: capacity slots, the first *published in use (read
 * the count with acquire). For metrics_label_published. */
const char *const *name_table_values(const struct name_table *t);
const atomic_size_t *name_table_published(const struct name_table *t);
size_t name_table_capacity(const struct name_table *t);
/* Slots not taken yet (capacity less the names published). */
size_t name_table_room(const struct name_table *t);

/* The capacity for a table whose first config names n: those, and room
 * for as many again and at least NAME_TABLE_MIN_ROOM more, for what
 * reloads add over the process's life. */
#define NAME_TABLE_MIN_ROOM 256
size_t name_table_capacity_for(size_t n);

#endif

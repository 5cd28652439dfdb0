/*
 * Grace periods for a pointer that readers load without taking a
 * reference (the current config generation on the packet path): a writer
 * swaps the pointer, then waits until every reader has left the section it
 * may have loaded the old value in; from then on only references taken
 * inside such a section keep the old value alive.
 *
 * Each reader is a thread with a fixed number; its sections cost two
 * atomic increments and never wait. The writer sleeps while it waits.
 */
#ifndef COMMON_EPOCH_H
#define COMMON_EPOCH_H

#include <stddef.h>

struct epoch;

/* For readers numbered 0 .. n_readers - 1. NULL when out of memory. */
struct epoch *epoch_new(size_t n_readers);
void epoch_free(struct epoch *e);

/* Reader `reader` enters and leaves a section; sections do not nest. */
void epoch_enter(struct epoch *e, size_t reader);
void epoch_exit(struct epoch *e, size_t reader);

/* Returns once every reader that was inside a section when it was called
 * has left it. Not from inside a section. */
void epoch_synchronize(struct epoch *e);

#endif

#include "common/epoch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct epoch {
	size_t n_readers;
	/* Per reader: sections entered plus sections left, so odd while
	 * inside. A cache line each: readers on other cores never share one. */
	struct {
		atomic_ulong n;
		char pad[64 - sizeof(atomic_ulong)];
	} *readers;
};

struct epoch *epoch_new(size_t n_readers)
{
	struct epoch *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->readers = calloc(n_readers > 0 ? n_readers : 1, sizeof(*e->readers))) == NULL) {
		free(e);
		return NULL;
	}
	e->n_readers = n_readers;
	for (size_t i = 0; i < n_readers; i++)
		atomic_init(&e->readers[i].n, 0);
	return e;
}

void epoch_free(struct epoch *e)
{
	if (e == NULL)
		return;
	free(e->readers);
	free(e);
}

void epoch_enter(struct epoch *e, size_t reader)
{
	/* Sequentially consistent: the reader's loads that follow cannot be
	 * seen before the writer sees it inside. */
	atomic_fetch_add_explicit(&e->readers[reader].n, 1, memory_order_seq_cst);
}

void epoch_exit(struct epoch *e, size_t reader)
{
	atomic_fetch_add_explicit(&e->readers[reader].n, 1, memory_order_release);
}

void epoch_synchronize(struct epoch *e)
{
	static const struct timespec pause = { 0, 200000 };   /* 0.2 ms */

	atomic_thread_fence(memory_order_seq_cst);
	for (size_t i = 0; i < e->n_readers; i++) {
		unsigned long seen = atomic_load_explicit(&e->readers[i].n, memory_order_acquire);

		/* Inside (odd): wait until that section is over, whatever the
		 * reader does next. */
		while ((seen & 1) != 0 && atomic_load_explicit(&e->readers[i].n, memory_order_acquire) == seen)
			nanosleep(&pause, NULL);
	}
}

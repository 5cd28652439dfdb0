/*
 * A bounded queue served by its own threads: where authd runs work that may
 * block on one backend (Redis, OCSP, the directory, accounting), so the
 * threads doing TLS never wait on a backend and each backend's threads wait
 * only on it. The "pending then resume" of a conversation.
 */
#ifndef AUTHD_WORK_QUEUE_H
#define AUTHD_WORK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "authd/backend_metrics.h"

/* Runs a job; cancelled is true when the queue shuts down before running it,
 * and the job must then only release what it holds. */
typedef void (*work_fn)(void *arg, bool cancelled);

struct work_queue;

/* Starts `threads` threads, counted in bm (borrowed, may be NULL: not
 * counted; must outlive the queue) as pool's, with the time they spend in
 * jobs. NULL on failure. */
struct work_queue *work_queue_new(unsigned threads, size_t max_jobs, struct backend_metrics *bm,
                                  enum thread_pool pool);
/* Queues a job; -1 when the queue is full or stopping (the caller keeps arg). */
int work_queue_push(struct work_queue *q, work_fn fn, void *arg);
/* Jobs queued and not started yet (0 for NULL). Lock-free, any thread: a
 * moment's value, for metrics. */
size_t work_queue_depth(const struct work_queue *q);
/* Cancels queued jobs, lets running ones finish and joins the threads; from
 * then on every push fails. Queues whose jobs push to one another are all
 * stopped before any is freed. With a deadline (CLOCK_REALTIME; NULL: none)
 * it returns -1 when threads are still in a job then: the queue, and all a
 * job may touch, must then stay alive. 0 when every thread is done. */
int work_queue_stop(struct work_queue *q, const struct timespec *deadline);
/* Stops it (if not yet) and frees it. */
void work_queue_free(struct work_queue *q);

#endif

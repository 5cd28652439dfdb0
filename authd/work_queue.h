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

/* Runs a job; cancelled is true when the queue shuts down before running it,
 * and the job must then only release what it holds. */
typedef void (*work_fn)(void *arg, bool cancelled);

struct work_queue;

/* Starts `threads` threads. NULL on failure. */
struct work_queue *work_queue_new(unsigned threads, size_t max_jobs);
/* Queues a job; -1 when the queue is full or stopping (the caller keeps arg). */
int work_queue_push(struct work_queue *q, work_fn fn, void *arg);
/* Lets running jobs finish, cancels queued ones and joins the threads; from
 * then on every push fails. Queues whose jobs push to one another are all
 * stopped before any is freed. */
void work_queue_stop(struct work_queue *q);
/* Stops it (if not yet) and frees it. */
void work_queue_free(struct work_queue *q);

#endif

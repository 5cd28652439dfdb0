#include "authd/work_queue.h"

#include "common/clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct job {
	work_fn fn;
	void *arg;
};

struct work_queue {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct job *ring;
	size_t cap, head, count;
	/* count, mirrored for work_queue_depth: a scrape reads it without the lock. */
	atomic_size_t depth;
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
	struct backend_metrics *metrics;   /* borrowed; NULL: not counted */
	enum thread_pool pool;
};

static bool pop(struct work_queue *q, struct job *out)
{
	if (q->count == 0)
		return false;
	*out = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	atomic_store_explicit(&q->depth, q->count, memory_order_relaxed);
	return true;
}

static void *serve(void *arg)
{
	struct work_queue *q = arg;
	struct job job;
	double started;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stopping && q->count == 0)
			pthread_cond_wait(&q->ready, &q->lock);
		if (q->stopping || !pop(q, &job))
			break;
		pthread_mutex_unlock(&q->lock);
		started = clock_now_ms_precise();
		job.fn(job.arg, false);
		backend_metrics_thread_busy(q->metrics, q->pool,
		                            (uint64_t)((clock_now_ms_precise() - started) * 1e6));
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct work_queue *work_queue_new(unsigned threads, size_t max_jobs, struct backend_metrics *bm,
                                  enum thread_pool pool)
{
	struct work_queue *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->ready, NULL);
	atomic_init(&q->depth, 0);
	q->metrics = bm;
	q->pool = pool;
	q->cap = max_jobs > 0 ? max_jobs : 1;
	q->ring = calloc(q->cap, sizeof(*q->ring));
	q->threads = calloc(threads, sizeof(*q->threads));
	if (q->ring == NULL || q->threads == NULL)
		goto fail;
	for (; q->n_threads < threads; q->n_threads++) {
		if (pthread_create(&q->threads[q->n_threads], NULL, serve, q) != 0)
			goto fail;
		backend_metrics_threads(bm, pool, 1);
	}
	return q;
fail:
	work_queue_free(q);
	return NULL;
}

int work_queue_push(struct work_queue *q, work_fn fn, void *arg)
{
	int rc = -1;

	pthread_mutex_lock(&q->lock);
	if (!q->stopping && q->count < q->cap) {
		q->ring[(q->head + q->count) % q->cap] = (struct job){ fn, arg };
		q->count++;
		atomic_store_explicit(&q->depth, q->count, memory_order_relaxed);
		pthread_cond_signal(&q->ready);
		rc = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

size_t work_queue_depth(const struct work_queue *q)
{
	return q == NULL ? 0 : atomic_load_explicit(&q->depth, memory_order_relaxed);
}

int work_queue_stop(struct work_queue *q, const struct timespec *deadline)
{
	struct job job;
	unsigned left = 0;

	if (q == NULL)
		return 0;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->ready);
	/* Queued jobs never start now: cancelled here, so they end at once. */
	while (pop(q, &job)) {
		pthread_mutex_unlock(&q->lock);
		job.fn(job.arg, true);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->n_threads; i++) {
		if (deadline == NULL ? pthread_join(q->threads[i], NULL) != 0
		                     : pthread_timedjoin_np(q->threads[i], NULL, deadline) != 0)
			q->threads[left++] = q->threads[i];   /* still in a job */
		else
			backend_metrics_threads(q->metrics, q->pool, -1);
	}
	q->n_threads = left;
	return left == 0 ? 0 : -1;
}

void work_queue_free(struct work_queue *q)
{
	if (q == NULL)
		return;
	work_queue_stop(q, NULL);
	pthread_cond_destroy(&q->ready);
	pthread_mutex_destroy(&q->lock);
	free(q->threads);
	free(q->ring);
	free(q);
}

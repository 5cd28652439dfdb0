#include "authd/dynauth_stats_reader.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "authd/authd_metrics.h"
#include "authd/dynauth_stats.h"
#include "authd/log.h"
#include "common/clock.h"
#include "common/name_table.h"

#define READ_EVERY_MS 1000
#define SAY_EVERY_MS 60000
/* A hash this much larger than every field the config can name is not read:
 * a writer filling it must not make each read cost more. */
#define FIELDS_SLACK 64

struct dynauth_stats_reader {
	struct redis_pool *redis;                 /* borrowed: its settings, a connection of our own */
	struct authd_metrics *am;                 /* borrowed */
	struct name_table *clients;               /* borrowed: am's, the NAS names */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;                     /* guards stopping */
	pthread_cond_t wake;
	bool stopping;
	uint64_t said_ms;                         /* the last warning (reader thread only); 0: none yet */
	char key[160];
	struct dynauth_stats stats;               /* the last figures read */
};

/* At most once a minute: a Redis writer decides how often this happens. */
__attribute__((format(printf, 2, 3))) static void say(struct dynauth_stats_reader *r, const char *fmt, ...)
{
	uint64_t now = clock_now_ms();
	char msg[384];
	va_list ap;

	if (r->said_ms != 0 && now - r->said_ms < SAY_EVERY_MS)
		return;
	r->said_ms = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_WARNING, "dynauth figures from Redis %s: %s", r->key, msg);
}

static void take(struct dynauth_stats_reader *r, const redisReply *reply)
{
	/* The NAS names known now (clients added by a reload count from the
	 * first read after it), and the fields they can name. */
	size_t n_nas = atomic_load_explicit(name_table_published(r->clients), memory_order_acquire);
	size_t max_fields = n_nas * (DYNAUTH_STATS_REQUESTS * DYNAUTH_STATS_OUTCOMES + DYNAUTH_STATS_CAUSES) +
	                    DYNAUTH_STATS_WAIT_BOUNDS + FIELDS_SLACK;

	if (reply->type == REDIS_REPLY_ERROR) {
		say(r, "%s", reply->str);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
		say(r, "not a hash: ignored");
		return;
	}
	if (reply->elements / 2 > max_fields) {
		say(r, "%zu fields, more than this config can name: ignored", reply->elements / 2);
		return;
	}
	dynauth_stats_reset(&r->stats);
	r->stats.n_named = n_nas;
	for (size_t i = 0; i < reply->elements; i += 2) {
		const redisReply *f = reply->element[i], *v = reply->element[i + 1];

		if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
			dynauth_stats_field(&r->stats, f->str, f->len, v->str, v->len);
		else
			r->stats.ignored++;
	}
	dynauth_stats_finish(&r->stats);
	if (r->stats.ignored > 0)
		say(r, "ignored %zu field(s) it cannot read, e.g. \"%s\" (an unknown NAS, request, outcome or "
		    "cause, or a value that is not a plain count)", r->stats.ignored, r->stats.first_ignored);
	authd_metrics_dynauth(r->am, &r->stats);
}

/* Sleeps ms, or less when the reader is told to stop. */
static void pause_ms(struct dynauth_stats_reader *r, unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&r->lock);
	while (!r->stopping && pthread_cond_timedwait(&r->wake, &r->lock, &until) == 0)
		;
	pthread_mutex_unlock(&r->lock);
}

static bool stopping(struct dynauth_stats_reader *r)
{
	bool stop;

	pthread_mutex_lock(&r->lock);
	stop = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* Reads the figures once a second, each read bounded by the Redis timeout;
 * a failed read drops the connection and the next one connects again. */
static void *run(void *arg)
{
	struct dynauth_stats_reader *r = arg;
	redisContext *rc = NULL;
	redisReply *reply;
	char err[256];

	while (!stopping(r)) {
		if (rc == NULL && (rc = redis_pool_connect(r->redis, err, sizeof(err))) == NULL)
			say(r, "%s", err);
		if (rc != NULL) {
			reply = redisCommand(rc, "HGETALL %s", r->key);
			if (reply != NULL) {
				take(r, reply);
				freeReplyObject(reply);
			} else {
				say(r, "%s: reconnecting", rc->errstr);
				redisFree(rc);
				rc = NULL;
			}
		}
		pause_ms(r, READ_EVERY_MS);
	}
	if (rc != NULL)
		redisFree(rc);
	return NULL;
}

struct dynauth_stats_reader *dynauth_stats_reader_new(struct redis_pool *redis, struct authd_metrics *am,
                                                      char *err, size_t errlen)
{
	struct dynauth_stats_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		goto oom;
	r->redis = redis;
	r->am = am;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	snprintf(r->key, sizeof(r->key), "%s" DYNAUTH_STATS_KEY, redis_pool_prefix(redis));
	r->clients = authd_metrics_clients(am);
	if (dynauth_stats_init(&r->stats, name_table_values(r->clients), name_table_capacity(r->clients)) < 0)
		goto oom;
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		snprintf(err, errlen, "cannot start the thread reading the Disconnect/CoA figures");
		dynauth_stats_reader_free(r);
		return NULL;
	}
	r->started = true;
	return r;
oom:
	snprintf(err, errlen, "out of memory");
	dynauth_stats_reader_free(r);
	return NULL;
}

int dynauth_stats_reader_stop(struct dynauth_stats_reader *r, const struct timespec *deadline)
{
	if (r == NULL || !r->started)
		return 0;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	if ((deadline == NULL ? pthread_join(r->thread, NULL) : pthread_timedjoin_np(r->thread, NULL, deadline)) != 0)
		return -1;
	r->started = false;
	return 0;
}

void dynauth_stats_reader_free(struct dynauth_stats_reader *r)
{
	if (r == NULL)
		return;
	dynauth_stats_reader_stop(r, NULL);
	dynauth_stats_free(&r->stats);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

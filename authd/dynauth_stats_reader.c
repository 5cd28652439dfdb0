#include "authd/dynauth_stats_reader.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "authd/authd_metrics.h"
#include "authd/dynauth_stats.h"
#include "authd/log.h"
#include "common/clock.h"

#define READ_EVERY_MS 1000
#define SAY_EVERY_MS 60000
/* A hash this much larger than every field the config can name is not read:
 * a writer filling it must not make each read cost more. */
#define FIELDS_SLACK 64

struct dynauth_stats_reader {
	const struct redis_settings *settings;   /* borrowed */
	struct authd_metrics *am;                 /* borrowed */
	struct event *tick;
	redisAsyncContext *ac;                    /* NULL: not connected */
	bool pending;                             /* a read is on its way */
	uint64_t sent_ms;
	uint64_t said_ms;                         /* the last warning; 0: none yet */
	size_t max_fields;
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
	if (reply->type == REDIS_REPLY_ERROR) {
		say(r, "%s", reply->str);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
		say(r, "not a hash: ignored");
		return;
	}
	if (reply->elements / 2 > r->max_fields) {
		say(r, "%zu fields, more than this config can name: ignored", reply->elements / 2);
		return;
	}
	dynauth_stats_reset(&r->stats);
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

/* Also called with reply NULL when the connection goes (ac then freed). */
static void on_reply(redisAsyncContext *ac, void *reply, void *arg)
{
	struct dynauth_stats_reader *r = arg;

	r->pending = false;
	if (reply != NULL)
		take(r, reply);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *arg)
{
	const redisReply *rep = reply;

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		say(arg, "AUTH: %s", rep->str);
}

/* hiredis frees ac after either: forget it. */
static void on_connect(const redisAsyncContext *ac, int status)
{
	struct dynauth_stats_reader *r = ac->data;

	if (status != REDIS_OK) {
		say(r, "cannot connect: %s", ac->errstr);
		r->ac = NULL;
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct dynauth_stats_reader *r = ac->data;

	r->ac = NULL;
}

static void drop_connection(struct dynauth_stats_reader *r)
{
	redisAsyncContext *ac = r->ac;

	r->ac = NULL;
	if (ac != NULL)
		redisAsyncFree(ac);   /* on_reply gets NULL: pending is cleared */
	r->pending = false;
}

static int connect_redis(struct dynauth_stats_reader *r)
{
	const struct redis_settings *s = r->settings;
	redisAsyncContext *ac = redisAsyncConnect(s->host, (int)s->port);

	if (ac == NULL || ac->err) {
		say(r, "cannot connect: %s", ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		return -1;
	}
	ac->data = r;
	r->ac = ac;
	if (redisLibeventAttach(ac, event_get_base(r->tick)) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK)
		goto fail;
	/* Queued: sent once connected, before the first read. */
	if (s->password != NULL &&
	    (s->username != NULL
	             ? redisAsyncCommand(ac, on_auth, r, "AUTH %s %s", s->username, s->password)
	             : redisAsyncCommand(ac, on_auth, r, "AUTH %s", s->password)) != REDIS_OK)
		goto fail;
	return 0;
fail:
	drop_connection(r);
	return -1;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct dynauth_stats_reader *r = arg;
	uint64_t now = clock_now_ms(), limit = r->settings->timeout_ms > READ_EVERY_MS ? r->settings->timeout_ms
	                                                                              : READ_EVERY_MS;

	if (r->pending) {
		if (now - r->sent_ms < limit)
			return;
		say(r, "no answer within %llu ms: reconnecting", (unsigned long long)limit);
		drop_connection(r);
	}
	if (r->ac == NULL && connect_redis(r) < 0)
		return;
	if (redisAsyncCommand(r->ac, on_reply, r, "HGETALL %s", r->key) != REDIS_OK) {
		drop_connection(r);
		return;
	}
	r->pending = true;
	r->sent_ms = now;
}

struct dynauth_stats_reader *dynauth_stats_reader_new(struct event_base *base,
                                                      const struct redis_settings *settings,
                                                      struct authd_metrics *am, char *err, size_t errlen)
{
	struct dynauth_stats_reader *r = calloc(1, sizeof(*r));
	size_t n_nas;
	const char *const *nas;

	if (r == NULL)
		goto oom;
	r->settings = settings;
	r->am = am;
	snprintf(r->key, sizeof(r->key), "%s" DYNAUTH_STATS_KEY, settings->prefix);
	nas = authd_metrics_nas(am, &n_nas);
	r->max_fields = n_nas * (DYNAUTH_STATS_REQUESTS * DYNAUTH_STATS_OUTCOMES + DYNAUTH_STATS_CAUSES) +
	                DYNAUTH_STATS_WAIT_BOUNDS + FIELDS_SLACK;
	if (dynauth_stats_init(&r->stats, nas, n_nas) < 0)
		goto oom;
	r->tick = event_new(base, -1, EV_PERSIST, on_tick, r);
	if (r->tick == NULL ||
	    event_add(r->tick, &(struct timeval){ READ_EVERY_MS / 1000, (READ_EVERY_MS % 1000) * 1000 }) < 0)
		goto oom;
	return r;
oom:
	snprintf(err, errlen, "out of memory");
	dynauth_stats_reader_free(r);
	return NULL;
}

void dynauth_stats_reader_free(struct dynauth_stats_reader *r)
{
	if (r == NULL)
		return;
	if (r->tick != NULL)
		event_free(r->tick);
	drop_connection(r);
	dynauth_stats_free(&r->stats);
	free(r);
}

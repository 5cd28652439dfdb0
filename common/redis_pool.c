#include "common/redis_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/breaker.h"
#include "common/clock.h"

struct conn {
	pthread_mutex_t lock;
	redisContext *rc;           /* NULL until connected, or after an error */
};

struct redis_pool {
	const struct redis_settings *s;   /* borrowed from the config */
	struct conn *conns;
	atomic_uint next;
	struct breaker breaker;           /* a dead Redis costs a timeout a few times, not per command */
};

struct redis_pool *redis_pool_new(const struct redis_settings *settings, char *err, size_t errlen)
{
	struct redis_pool *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->conns = calloc(settings->connections, sizeof(*p->conns))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(p);
		return NULL;
	}
	p->s = settings;
	for (unsigned i = 0; i < settings->connections; i++)
		pthread_mutex_init(&p->conns[i].lock, NULL);
	atomic_init(&p->next, 0);
	breaker_init(&p->breaker, BREAKER_DEFAULT_THRESHOLD, BREAKER_DEFAULT_OPEN_MS);
	return p;
}

void redis_pool_free(struct redis_pool *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->s->connections; i++) {
		if (p->conns[i].rc != NULL)
			redisFree(p->conns[i].rc);
		pthread_mutex_destroy(&p->conns[i].lock);
	}
	free(p->conns);
	free(p);
}

const char *redis_pool_prefix(const struct redis_pool *p)
{
	return p->s->prefix;
}

unsigned redis_pool_connections(const struct redis_pool *p)
{
	return p->s->connections;
}

const struct seal *redis_pool_seal(const struct redis_pool *p)
{
	return p->s->seal;
}

/*
 * AUTH, written to the socket from a buffer wiped afterwards. Through
 * redisCommand the password would sit in hiredis's output buffer, which is
 * freed without being wiped. NULL with err on failure.
 */
static redisReply *authenticate(redisContext *rc, const struct redis_settings *s, char *err, size_t errlen)
{
	char *cmd = NULL;
	int len = s->username != NULL ? redisFormatCommand(&cmd, "AUTH %s %s", s->username, s->password)
	                               : redisFormatCommand(&cmd, "AUTH %s", s->password);
	void *reply = NULL;
	int sent = 0;

	if (len < 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (sent < len) {
		ssize_t n = write(rc->fd, cmd + sent, (size_t)(len - sent));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s", n < 0 ? strerror(errno) : "connection closed");
			break;
		}
		sent += (int)n;
	}
	explicit_bzero(cmd, (size_t)len);
	redisFreeCommand(cmd);
	if (sent == len && redisGetReply(rc, &reply) != REDIS_OK)
		snprintf(err, errlen, "%s", rc->errstr);
	return reply;
}

redisContext *redis_pool_connect(struct redis_pool *p, char *err, size_t errlen)
{
	struct timeval tv = { p->s->timeout_ms / 1000, (p->s->timeout_ms % 1000) * 1000 };
	redisContext *rc;
	redisReply *r = NULL;

	rc = redisConnectWithTimeout(p->s->host, (int)p->s->port, tv);
	if (rc == NULL || rc->err) {
		snprintf(err, errlen, "redis %s:%u: %s", p->s->host, p->s->port,
		         rc != NULL ? rc->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(rc, tv);
	if (p->s->password != NULL) {
		char why[256];

		r = authenticate(rc, p->s, why, sizeof(why));
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis %s:%u: AUTH: %s", p->s->host, p->s->port, r != NULL ? r->str : why);
			goto fail;
		}
		freeReplyObject(r);
	}
	return rc;
fail:
	if (r != NULL)
		freeReplyObject(r);
	if (rc != NULL)
		redisFree(rc);
	return NULL;
}

static int connect_conn(struct redis_pool *p, struct conn *c, char *err, size_t errlen)
{
	c->rc = redis_pool_connect(p, err, errlen);
	return c->rc != NULL ? 0 : -1;
}

/* A free connection if there is one, else waits for one. */
static struct conn *take(struct redis_pool *p)
{
	unsigned start = atomic_fetch_add(&p->next, 1) % p->s->connections;

	for (unsigned i = 0; i < p->s->connections; i++) {
		struct conn *c = &p->conns[(start + i) % p->s->connections];

		if (pthread_mutex_trylock(&c->lock) == 0)
			return c;
	}
	pthread_mutex_lock(&p->conns[start].lock);
	return &p->conns[start];
}

bool redis_pool_down(const struct redis_pool *p)
{
	return breaker_is_open(&p->breaker);
}

redisReply *redis_pool_command(struct redis_pool *p, int argc, const char **argv, char *err,
                               size_t errlen)
{
	uint64_t started = clock_now_ms();
	struct conn *c;
	redisReply *r = NULL;
	bool retry = true;

	if (!breaker_allow(&p->breaker)) {
		snprintf(err, errlen, "redis %s:%u: marked down after %u failures in a row, next try in %u ms",
		         p->s->host, p->s->port, p->breaker.threshold, breaker_retry_in_ms(&p->breaker));
		return NULL;
	}
	c = take(p);

	/* A connection Redis closed (a restart) is replaced once; a timeout is
	 * not retried, so one command never costs more than one timeout. */
	while (r == NULL && retry) {
		retry = c->rc != NULL;
		if (c->rc == NULL && connect_conn(p, c, err, errlen) < 0)
			break;
		r = redisCommandArgv(c->rc, argc, argv, NULL);
		if (r == NULL) {
			retry = retry && (c->rc->err == REDIS_ERR_EOF ||
			                  (c->rc->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE)));
			snprintf(err, errlen, "redis %s:%u: %s", p->s->host, p->s->port, c->rc->errstr);
			redisFree(c->rc);
			c->rc = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	/* An error reply is Redis answering: only silence counts. */
	breaker_record(&p->breaker, r != NULL, started, p->s->timeout_ms);
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis %s:%u: %s", p->s->host, p->s->port, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

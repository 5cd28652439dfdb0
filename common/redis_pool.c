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
	struct backend_observer observer; /* all zero: none */
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

void redis_pool_observe(struct redis_pool *p, const struct backend_observer *o)
{
	p->observer = *o;
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
 * freed without being wiped. NULL on failure, with rc->err and rc->errstr.
 */
static redisReply *authenticate(redisContext *rc, const struct redis_settings *s)
{
	char *cmd = NULL;
	int len = s->username != NULL ? redisFormatCommand(&cmd, "AUTH %s %s", s->username, s->password)
	                               : redisFormatCommand(&cmd, "AUTH %s", s->password);
	void *reply = NULL;
	int sent = 0, saved_errno;

	if (len < 0) {
		rc->err = REDIS_ERR_OOM;
		snprintf(rc->errstr, sizeof(rc->errstr), "out of memory");
		return NULL;
	}
	while (sent < len) {
		ssize_t n = write(rc->fd, cmd + sent, (size_t)(len - sent));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* As hiredis marks a failed write: the caller tells a
			 * deadline from rc->err and errno. */
			rc->err = REDIS_ERR_IO;
			snprintf(rc->errstr, sizeof(rc->errstr), "%s", n < 0 ? strerror(errno) : "connection closed");
			break;
		}
		sent += (int)n;
	}
	saved_errno = errno;
	explicit_bzero(cmd, (size_t)len);
	redisFreeCommand(cmd);
	errno = saved_errno;
	if (sent == len)
		redisGetReply(rc, &reply);
	return reply;
}

/* hiredis says a deadline passed with an I/O error whose errno is
 * EAGAIN (a command) or ETIMEDOUT (a connect). */
static bool timed_out(const redisContext *rc, int saved_errno)
{
	return rc != NULL && rc->err == REDIS_ERR_IO &&
	       (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT);
}

/* redis_pool_connect, saying whether a failure was the deadline's. */
static redisContext *connect_timed(struct redis_pool *p, bool *timeout, char *err, size_t errlen)
{
	struct timeval tv = { p->s->timeout_ms / 1000, (p->s->timeout_ms % 1000) * 1000 };
	redisContext *rc;
	redisReply *r = NULL;

	*timeout = false;
	rc = redisConnectWithTimeout(p->s->host, (int)p->s->port, tv);
	if (rc == NULL || rc->err) {
		*timeout = timed_out(rc, errno);
		snprintf(err, errlen, "redis %s:%u: %s", p->s->host, p->s->port,
		         rc != NULL ? rc->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(rc, tv);
	if (p->s->password != NULL) {
		r = authenticate(rc, p->s);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			*timeout = r == NULL && timed_out(rc, errno);
			snprintf(err, errlen, "redis %s:%u: AUTH: %s", p->s->host, p->s->port,
			         r != NULL ? r->str : rc->errstr);
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

redisContext *redis_pool_connect(struct redis_pool *p, char *err, size_t errlen)
{
	bool ignored;

	return connect_timed(p, &ignored, err, errlen);
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
	double started_precise = clock_now_ms_precise();
	struct conn *c;
	redisReply *r = NULL;
	bool retry = true, timeout = false;

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
		if (c->rc == NULL && (c->rc = connect_timed(p, &timeout, err, errlen)) == NULL)
			break;
		r = redisCommandArgv(c->rc, argc, argv, NULL);
		if (r == NULL) {
			timeout = timed_out(c->rc, errno);
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
	backend_observer_report(&p->observer, 0,
	                        r != NULL && r->type != REDIS_REPLY_ERROR ? BACKEND_OK
	                        : timeout                                 ? BACKEND_TIMEOUT : BACKEND_ERROR,
	                        started_precise);
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis %s:%u: %s", p->s->host, p->s->port, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

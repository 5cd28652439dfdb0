#include "authd/nas_watch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authd/client.h"
#include "authd/live_sessions.h"
#include "authd/log.h"
#include "common/printable.h"
#include "common/redis_pool.h"

/* Nodes' clocks differ a little: a time this far ahead is still taken as now. */
#define CLOCK_SKEW_S 60
/* Warnings about Redis (down, or holding nonsense) at most this often. */
#define WARN_EVERY_S 60

struct nas_clock {
	atomic_llong heard;         /* Unix seconds of its last request here; 0 never */
	long long written;          /* heard as last written to Redis (the round's own) */
};

struct nas_watch {
	const struct client *clients;   /* borrowed */
	size_t n;
	size_t slots;                   /* above every client's index */
	struct redis_pool *redis;       /* borrowed */
	struct live_sessions *ls;       /* borrowed */
	unsigned silent_after;
	struct nas_clock *clocks;       /* by client index */
	atomic_bool running;            /* a round is queued or running */
	atomic_llong next_round;        /* Unix seconds: no round before */
	/* The round's own (one runs at a time): */
	long long next_sweep;
	size_t cursor;                  /* the first client of the next sweep's window */
	long long warned;               /* when a warning was last logged */
};

struct nas_watch *nas_watch_new(const struct client *clients, size_t n, size_t slots, struct redis_pool *redis,
                                struct live_sessions *ls, unsigned silent_after)
{
	struct nas_watch *w = calloc(1, sizeof(*w));

	if (w == NULL || (w->clocks = calloc(slots > 0 ? slots : 1, sizeof(*w->clocks))) == NULL) {
		free(w);
		return NULL;
	}
	w->clients = clients;
	w->n = n;
	w->slots = slots;
	w->redis = redis;
	w->ls = ls;
	w->silent_after = silent_after;
	for (size_t i = 0; i < slots; i++)
		atomic_init(&w->clocks[i].heard, 0);
	atomic_init(&w->running, false);
	atomic_init(&w->next_round, 0);
	return w;
}

void nas_watch_free(struct nas_watch *w)
{
	if (w == NULL)
		return;
	free(w->clocks);
	free(w);
}

void nas_watch_heard(struct nas_watch *w, const struct client *c)
{
	long long now;

	if (w == NULL || c->index >= w->slots)
		return;
	now = (long long)time(NULL);
	/* A load first: a busy NAS's cache line is written once a second, not
	 * once a packet. */
	if (atomic_load_explicit(&w->clocks[c->index].heard, memory_order_relaxed) != now)
		atomic_store_explicit(&w->clocks[c->index].heard, now, memory_order_relaxed);
}

bool nas_watch_due(struct nas_watch *w)
{
	long long now;

	if (w == NULL)
		return false;
	now = (long long)time(NULL);
	if (now < atomic_load(&w->next_round) || atomic_exchange(&w->running, true))
		return false;
	atomic_store(&w->next_round, now + NAS_WATCH_FLUSH_S);
	return true;
}

/* A warning, at most every WARN_EVERY_S seconds: Redis being down would
 * otherwise say so every round on every node. */
static void warn(struct nas_watch *w, const char *what, const char *err)
{
	long long now = (long long)time(NULL);

	if (now - w->warned < WARN_EVERY_S)
		return;
	w->warned = now;
	log_msg(LOG_WARNING, "NAS silence watch: %s: %s (such warnings are logged once a minute at most)", what,
	        err);
}

/* The times heard here since they were last written, into the shared hash
 * in one command. */
static void write_heard(struct nas_watch *w, char *key)
{
	const char **argv = calloc(2 + 2 * w->n, sizeof(*argv));
	char (*values)[24] = calloc(w->n > 0 ? w->n : 1, sizeof(*values));
	long long *taken = calloc(w->n > 0 ? w->n : 1, sizeof(*taken));
	char err[256];
	redisReply *r;
	int argc = 2;

	if (argv == NULL || values == NULL || taken == NULL) {
		warn(w, "cannot write when the NASes were heard", "out of memory");
		goto out;
	}
	argv[0] = "HSET";
	argv[1] = key;
	for (size_t i = 0; i < w->n; i++) {
		struct nas_clock *clock = &w->clocks[w->clients[i].index];

		taken[i] = atomic_load_explicit(&clock->heard, memory_order_relaxed);
		if (taken[i] <= clock->written)
			continue;
		snprintf(values[i], sizeof(values[i]), "%lld", taken[i]);
		argv[argc++] = w->clients[i].name;
		argv[argc++] = values[i];
	}
	if (argc == 2)
		goto out;
	if ((r = redis_pool_command(w->redis, argc, argv, err, sizeof(err))) == NULL) {
		warn(w, "cannot write when the NASes were heard", err);
		goto out;
	}
	freeReplyObject(r);
	for (size_t i = 0; i < w->n; i++) {
		if (taken[i] > w->clocks[w->clients[i].index].written)
			w->clocks[w->clients[i].index].written = taken[i];
	}
out:
	free(argv);
	free(values);
	free(taken);
}

/* A stored time: 1..19 decimal digits, nothing else. 0, or -1. */
static int parse_seconds(const redisReply *v, long long *out)
{
	long long n = 0;

	if (v->type != REDIS_REPLY_STRING || v->len == 0 || v->len > 18)
		return -1;
	for (size_t i = 0; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			return -1;
		n = n * 10 + (v->str[i] - '0');
	}
	*out = n;
	return 0;
}

/* Whether this node sweeps now: the lock is free and now ours for a sweep
 * period. 1 yes, 0 another node's turn, -1 Redis failed (err). */
static int take_turn(struct nas_watch *w, char *err, size_t errlen)
{
	char key[256], ttl[16];
	const char *set[6] = { "SET", key, "1", "NX", "EX", ttl };
	redisReply *r;
	int mine;

	snprintf(key, sizeof(key), "%snas-sweep", redis_pool_prefix(w->redis));
	snprintf(ttl, sizeof(ttl), "%d", NAS_WATCH_SWEEP_S);
	if ((r = redis_pool_command(w->redis, 6, set, err, errlen)) == NULL)
		return -1;
	mine = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
	freeReplyObject(r);
	return mine;
}

/* Client i's stored time v, judged: 1 silent past the limit (*heard set),
 * 0 not (or not known: its clock starts now), -1 Redis failed. */
static int silent(struct nas_watch *w, size_t i, const redisReply *v, char *key, long long now,
                  long long *heard, char *err, size_t errlen)
{
	const char *name = w->clients[i].name;
	char value[24], shown[64];
	const char *setnx[4] = { "HSETNX", key, name, value };
	redisReply *r;

	if (v->type == REDIS_REPLY_NIL) {
		snprintf(value, sizeof(value), "%lld", now);
		if ((r = redis_pool_command(w->redis, 4, setnx, err, errlen)) == NULL)
			return -1;
		freeReplyObject(r);
		return 0;
	}
	if (parse_seconds(v, heard) < 0 || *heard > now + CLOCK_SKEW_S) {
		char what[128], why[160];

		if (v->type == REDIS_REPLY_STRING)
			printable_bytes(shown, sizeof(shown), v->str, v->len);
		else
			snprintf(shown, sizeof(shown), "(not a string)");
		snprintf(what, sizeof(what), "nas=%s: its sessions stay", name);
		snprintf(why, sizeof(why), "the time stored for it, \"%s\", is not a past Unix time", shown);
		warn(w, what, why);
		return 0;
	}
	return now - *heard > (long long)w->silent_after;
}

/* One window of clients: the silent ones' sessions end, within the budget. */
static void sweep(struct nas_watch *w, char *key)
{
	const char **argv = calloc(2 + NAS_WATCH_SWEEP_NAS, sizeof(*argv));
	long long now = (long long)time(NULL), budget = NAS_WATCH_SWEEP_SESSIONS;
	size_t window = w->n < NAS_WATCH_SWEEP_NAS ? w->n : NAS_WATCH_SWEEP_NAS, done = 0;
	redisReply *r = NULL;
	char err[256];

	if (argv == NULL || window == 0)
		goto out;
	argv[0] = "HMGET";
	argv[1] = key;
	for (size_t k = 0; k < window; k++)
		argv[2 + k] = w->clients[(w->cursor + k) % w->n].name;
	if ((r = redis_pool_command(w->redis, 2 + (int)window, argv, err, sizeof(err))) == NULL) {
		warn(w, "cannot read when the NASes were heard", err);
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != window) {
		warn(w, "cannot read when the NASes were heard", "HMGET answered something else than the fields asked");
		goto out;
	}
	for (; done < window && budget > 0; done++) {
		size_t i = (w->cursor + done) % w->n;
		long long heard = 0, ended;
		int rc = silent(w, i, r->element[done], key, now, &heard, err, sizeof(err));

		if (rc == 0)
			continue;
		/* Sessions updated within the limit came from requests racing this
		 * sweep: the NAS is back, and they stay. */
		if (rc < 0 || (ended = live_sessions_end_nas(w->ls, w->clients[i].name, now - w->silent_after,
		                                             (size_t)budget, err, sizeof(err))) < 0) {
			warn(w, "cannot end the sessions of a silent NAS", err);
			break;
		}
		if (ended > 0)
			log_msg(LOG_INFO, "nas=%s: silent for %lld s (sessions.nas_silent_after is %u): %lld live "
			        "session(s) ended", w->clients[i].name, now - heard, w->silent_after, ended);
		budget -= ended;
		/* Over budget: this NAS may hold more, and the next sweep starts with it. */
		if (budget <= 0)
			break;
	}
	w->cursor = (w->cursor + done) % w->n;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(argv);
}

void nas_watch_run(void *arg, bool cancelled)
{
	struct nas_watch *w = arg;
	long long now = (long long)time(NULL);
	char key[256], err[256];
	int turn;

	if (cancelled || redis_pool_down(w->redis))
		goto out;
	snprintf(key, sizeof(key), "%snas-heard", redis_pool_prefix(w->redis));
	write_heard(w, key);
	if (now < w->next_sweep)
		goto out;
	w->next_sweep = now + NAS_WATCH_SWEEP_S;
	if ((turn = take_turn(w, err, sizeof(err))) < 0)
		warn(w, "cannot take the sweep's turn", err);
	else if (turn > 0)
		sweep(w, key);
out:
	atomic_store(&w->running, false);
}

#include "policy/revocation_mirror.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

/* Reconnection backoff of the subscriber. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* A re-synchronisation asked for by the check path waits this long after
 * the last one, so a device retrying cannot make a storm of them. */
#define RESYNC_MIN_INTERVAL_MS 1000

struct mirror_entry {
	char key[128];                  /* cert_ref_string: the tree's order */
	struct cert_ref ref;
	struct revocation_record rec;
	bool orphan;                    /* gone from Redis without an unrevoke: warned once */
};

struct revocation_mirror {
	struct helpdesk *helpdesk;      /* owned */
	struct redis_pool *redis;       /* borrowed */
	revocation_log_fn log;          /* may be NULL */
	char channel[160];

	pthread_mutex_t lock;           /* guards what follows */
	void *entries;                  /* tsearch tree of struct mirror_entry */
	bool loaded;
	uint64_t seq;                   /* the last change applied */
	uint64_t synced_ms;             /* clock_now_ms() when last known to match Redis */
	bool resync_wanted;

	/* The figures, written under lock, read without. */
	atomic_ullong revokes, unrevokes, held;

	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	int wake[2];                    /* the thread's poll wakes on a byte here */
	uint64_t last_resync_ms;        /* the thread's own */
};

__attribute__((format(printf, 3, 4))) static void say(const struct revocation_mirror *m, bool warning,
                                                      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (m->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m->log(warning, msg);
}

static int compare(const void *a, const void *b)
{
	return strcmp(((const struct mirror_entry *)a)->key, ((const struct mirror_entry *)b)->key);
}

static struct mirror_entry *find(void *const *tree, const struct cert_ref *ref)
{
	struct mirror_entry probe;
	void *const *node;

	cert_ref_string(ref, probe.key, sizeof(probe.key));
	node = tfind(&probe, tree, compare);
	return node != NULL ? *(struct mirror_entry *const *)node : NULL;
}

/* Adds (1) or replaces (0); -1 out of memory. */
static int put(void **tree, const struct cert_ref *ref, const struct revocation_record *rec,
               bool orphan)
{
	struct mirror_entry *e = find(tree, ref), *fresh;
	void *node;

	if (e != NULL) {
		e->rec = *rec;
		e->orphan = orphan;
		return 0;
	}
	if ((fresh = calloc(1, sizeof(*fresh))) == NULL)
		return -1;
	cert_ref_string(ref, fresh->key, sizeof(fresh->key));
	fresh->ref = *ref;
	fresh->rec = *rec;
	fresh->orphan = orphan;
	node = tsearch(fresh, tree, compare);
	if (node == NULL || *(struct mirror_entry **)node != fresh) {
		free(fresh);
		return node == NULL ? -1 : 0;
	}
	return 1;
}

/* 1 dropped, 0 not there. */
static int drop(void **tree, const struct cert_ref *ref)
{
	struct mirror_entry *e = find(tree, ref);

	if (e == NULL)
		return 0;
	tdelete(e, tree, compare);
	free(e);
	return 1;
}

static void wake(struct revocation_mirror *m)
{
	ssize_t n = write(m->wake[1], "w", 1);

	(void)n;   /* a full pipe already wakes the thread */
}

/* ---- full re-synchronisation ---- */

/* What one re-synchronisation gathers before it swaps. */
struct sync {
	void *listed;                   /* tree: the list as Redis holds it now */
	void *changes;                  /* tree: the newest notice per ref since the last sync */
	bool failed;                    /* out of memory */
	struct revocation_mirror *m;
	char kept[4][128];              /* newly kept without an unrevoke, for the warning */
	size_t n_kept, n_dropped;
	unsigned long long n_listed, n_new;
};

static void add_listed(const struct cert_ref *id, const struct revocation_record *rec, void *arg)
{
	struct sync *s = arg;
	int rc = put(&s->listed, id, rec, false);

	if (rc < 0)
		s->failed = true;
	s->n_listed += rc == 1;
}

/* Notices come newest first: the first one seen per ref is its last word. */
static void add_change(const struct revocation_notice *n, void *arg)
{
	struct sync *s = arg;
	struct revocation_record mark = { 0 };

	if (find(&s->changes, &n->ref) != NULL)
		return;
	snprintf(mark.reason, sizeof(mark.reason), "%s",
	         n->change == REVOCATION_CHANGE_UNREVOKE ? "unrevoke" : "revoke");
	if (put(&s->changes, &n->ref, &mark, false) < 0)
		s->failed = true;
}

/* Carries an entry of the old mirror over to the new one, unless an
 * unrevoke notice explains why Redis no longer holds it. */
static void carry_over(const void *node, VISIT which, void *arg)
{
	const struct mirror_entry *e = *(const struct mirror_entry *const *)node;
	struct sync *s = arg;
	const struct mirror_entry *change;
	int rc;

	if ((which != postorder && which != leaf) || find(&s->listed, &e->ref) != NULL)
		return;
	change = find(&s->changes, &e->ref);
	if (!s->m->loaded || (change != NULL && strcmp(change->rec.reason, "unrevoke") == 0)) {
		s->n_dropped++;
		return;
	}
	if ((rc = put(&s->listed, &e->ref, &e->rec, true)) < 0) {
		s->failed = true;
		return;
	}
	s->n_listed += rc == 1;
	if (!e->orphan && s->n_kept < sizeof(s->kept) / sizeof(s->kept[0]))
		snprintf(s->kept[s->n_kept++], sizeof(s->kept[0]), "%s", e->key);
	else if (!e->orphan)
		s->n_kept++;
}

/* Counts the entries of a new list the old one lacks: revocations a
 * re-synchronisation brings. */
static void count_new(const void *node, VISIT which, void *arg)
{
	const struct mirror_entry *e = *(const struct mirror_entry *const *)node;
	struct sync *s = arg;

	if ((which == postorder || which == leaf) && find(&s->m->entries, &e->ref) == NULL)
		s->n_new++;
}

/*
 * Reads the whole list and swaps it in. The sequence number read before the
 * list becomes the mirror's: notices after it are applied again as they
 * arrive (the subscription is already up), which is harmless in order. The
 * notices up to the number read after the list tell which entries left by
 * an unrevoke. 0, or -1 with err (the mirror unchanged).
 */
static int resync(struct revocation_mirror *m, char *err, size_t errlen)
{
	struct sync s = { .m = m };
	uint64_t before, after, old_seq;
	bool loaded;
	int covered = 1, rc = -1;

	if (helpdesk_seq(m->helpdesk, &before, err, errlen) < 0 ||
	    helpdesk_list(m->helpdesk, add_listed, &s, err, errlen) < 0 ||
	    helpdesk_seq(m->helpdesk, &after, err, errlen) < 0)
		goto out;
	pthread_mutex_lock(&m->lock);
	loaded = m->loaded;
	old_seq = m->seq;
	pthread_mutex_unlock(&m->lock);
	if (loaded && after < old_seq)
		covered = 0;   /* the counter went back: Redis lost its data */
	else if (loaded && (covered = helpdesk_changes(m->helpdesk, old_seq, after, add_change, &s, err,
	                                               errlen)) < 0)
		goto out;
	pthread_mutex_lock(&m->lock);
	twalk_r(m->entries, carry_over, &s);
	if (m->loaded)
		twalk_r(s.listed, count_new, &s);
	if (s.failed) {
		pthread_mutex_unlock(&m->lock);
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	tdestroy(m->entries, free);
	m->entries = s.listed;
	s.listed = NULL;
	m->loaded = true;
	m->seq = before;
	m->synced_ms = clock_now_ms();
	m->resync_wanted = false;
	if (loaded) {
		atomic_fetch_add_explicit(&m->revokes, s.n_new, memory_order_relaxed);
		atomic_fetch_add_explicit(&m->unrevokes, s.n_dropped, memory_order_relaxed);
	}
	atomic_store_explicit(&m->held, s.n_listed, memory_order_relaxed);
	pthread_mutex_unlock(&m->lock);
	rc = 0;
	for (size_t i = 0; i < s.n_kept && i < sizeof(s.kept) / sizeof(s.kept[0]); i++)
		say(m, true, "revocation mirror: %s is no longer in Redis but no unrevoke was published%s: "
		    "still refused on this node until `authctl unrevoke` or a restart", s.kept[i],
		    covered ? "" : " (or this node cannot tell: the change log does not reach back)");
	if (s.n_kept > sizeof(s.kept) / sizeof(s.kept[0]))
		say(m, true, "revocation mirror: %zu more entries vanished from Redis the same way",
		    s.n_kept - sizeof(s.kept) / sizeof(s.kept[0]));
	say(m, false, "revocation mirror: synchronised at sequence %llu (%zu unrevoked since)",
	    (unsigned long long)before, s.n_dropped);
out:
	tdestroy(s.listed, free);
	tdestroy(s.changes, free);
	return rc;
}

/* ---- following the channel ---- */

/* One notice, in order. 0, or -1 when the mirror must re-synchronise. */
static int apply(struct revocation_mirror *m, const struct revocation_notice *n, char *err,
                 size_t errlen)
{
	struct revocation_record rec = { 0 };
	char ref[128];
	uint64_t seq;
	int rc = 0, removed = 0;

	pthread_mutex_lock(&m->lock);
	seq = m->seq;
	pthread_mutex_unlock(&m->lock);
	if (n->seq <= seq)
		return 0;   /* the last re-synchronisation already holds it */
	if (n->seq != seq + 1) {
		snprintf(err, errlen, "notice %llu after %llu: some were missed",
		         (unsigned long long)n->seq, (unsigned long long)seq);
		return -1;
	}
	/* The record is for the warning and the detail; the revocation stands
	 * even when the hash is gone again. */
	if (n->change == REVOCATION_CHANGE_REVOKE && helpdesk_get(m->helpdesk, &n->ref, &rec, err,
	                                                          errlen) == HELPDESK_ERROR)
		return -1;
	pthread_mutex_lock(&m->lock);
	if (n->change == REVOCATION_CHANGE_REVOKE)
		rc = put(&m->entries, &n->ref, &rec, false);
	else
		removed = drop(&m->entries, &n->ref);
	if (rc >= 0) {
		m->seq = n->seq;
		m->synced_ms = clock_now_ms();
		atomic_store_explicit(&m->held, atomic_load_explicit(&m->held, memory_order_relaxed) +
		                      (unsigned long long)rc - (unsigned long long)removed, memory_order_relaxed);
		atomic_fetch_add_explicit(n->change == REVOCATION_CHANGE_REVOKE ? &m->revokes : &m->unrevokes, 1,
		                          memory_order_relaxed);
	}
	pthread_mutex_unlock(&m->lock);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cert_ref_string(&n->ref, ref, sizeof(ref));
	say(m, false, "revocation mirror: %llu %s %s", (unsigned long long)n->seq,
	    n->change == REVOCATION_CHANGE_REVOKE ? "revoke" : "unrevoke", ref);
	return 0;
}

/* A reply on the subscriber connection. 0, or -1 to re-synchronise. */
static int handle(struct revocation_mirror *m, const redisReply *r, char *err, size_t errlen)
{
	struct revocation_notice n;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0)
		return 0;   /* the subscription's confirmation */
	if (r->element[2]->type != REDIS_REPLY_STRING ||
	    revocation_notice_parse(r->element[2]->str, r->element[2]->len, &n) < 0) {
		snprintf(err, errlen, "an unreadable notice on %s", m->channel);
		say(m, true, "revocation mirror: %s: re-synchronising", err);
		return -1;
	}
	return apply(m, &n, err, errlen);
}

static redisContext *subscribe(struct revocation_mirror *m, char *err, size_t errlen)
{
	redisContext *c = redis_pool_connect(m->redis, err, errlen);
	redisReply *r;

	if (c == NULL)
		return NULL;
	r = redisCommand(c, "SUBSCRIBE %s", m->channel);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "SUBSCRIBE %s: %s", m->channel,
		         r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Follows the channel until the connection fails, a re-synchronisation
 * fails, or the mirror stops. err says why it returned. */
static void follow(struct revocation_mirror *m, redisContext *sub, char *err, size_t errlen)
{
	uint64_t next_check = clock_now_ms() + REVOCATION_MIRROR_CHECK_S * 1000;

	while (!atomic_load(&m->stop)) {
		struct pollfd fds[2] = { { .fd = sub->fd, .events = POLLIN }, { .fd = m->wake[0], .events = POLLIN } };
		uint64_t now = clock_now_ms();
		bool want;
		int rc = REDIS_OK;

		if (poll(fds, 2, now < next_check ? (int)(next_check - now) : 0) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return;
		}
		if (fds[1].revents != 0)
			drain(m->wake[0]);
		if (fds[0].revents != 0) {
			redisReply *r;

			if (redisBufferRead(sub) != REDIS_OK) {
				snprintf(err, errlen, "subscription lost: %s", sub->errstr);
				return;
			}
			while ((rc = redisGetReplyFromReader(sub, (void **)&r)) == REDIS_OK && r != NULL) {
				int handled = handle(m, r, err, errlen);

				freeReplyObject(r);
				if (handled < 0 && resync(m, err, errlen) < 0)
					return;
			}
			if (rc != REDIS_OK) {
				snprintf(err, errlen, "subscription: %s", sub->errstr);
				return;
			}
		}
		now = clock_now_ms();
		pthread_mutex_lock(&m->lock);
		want = m->resync_wanted;
		pthread_mutex_unlock(&m->lock);
		if (want && now >= m->last_resync_ms + RESYNC_MIN_INTERVAL_MS) {
			m->last_resync_ms = now;
			if (resync(m, err, errlen) < 0)
				return;
		}
		if (now >= next_check) {
			uint64_t seq, mine;

			/* A subscription can be lost without a word (a proxy, a
			 * CLIENT KILL half seen): the counter tells. */
			next_check = now + REVOCATION_MIRROR_CHECK_S * 1000;
			if (helpdesk_seq(m->helpdesk, &seq, err, errlen) < 0)
				return;
			pthread_mutex_lock(&m->lock);
			mine = m->seq;
			if (seq == mine)
				m->synced_ms = now;
			pthread_mutex_unlock(&m->lock);
			if (seq != mine) {
				say(m, true, "revocation mirror: Redis is at change %llu, this node at %llu: "
				    "re-synchronising", (unsigned long long)seq, (unsigned long long)mine);
				if (resync(m, err, errlen) < 0)
					return;
			}
		}
	}
}

static void pause_ms(struct revocation_mirror *m, unsigned ms)
{
	struct pollfd fd = { .fd = m->wake[0], .events = POLLIN };

	if (poll(&fd, 1, (int)ms) > 0)
		drain(m->wake[0]);
}

static void *run(void *arg)
{
	struct revocation_mirror *m = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	bool lost = false;
	char err[512];

	while (!atomic_load(&m->stop)) {
		redisContext *sub = subscribe(m, err, sizeof(err));

		if (sub == NULL || resync(m, err, sizeof(err)) < 0) {
			if (!lost)
				say(m, true, "revocation mirror: cannot follow the helpdesk list (%s): retrying; "
				    "meanwhile decisions use the mirror as last synchronised", err);
			lost = true;
			if (sub != NULL)
				redisFree(sub);
			pause_ms(m, backoff);
			backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
			continue;
		}
		if (lost)
			say(m, false, "revocation mirror: following the helpdesk list again");
		lost = false;
		backoff = BACKOFF_MIN_MS;
		err[0] = '\0';
		follow(m, sub, err, sizeof(err));
		redisFree(sub);
		if (!atomic_load(&m->stop)) {
			say(m, true, "revocation mirror: %s: reconnecting", err[0] ? err : "disconnected");
			lost = true;
		}
	}
	return NULL;
}

/* ---- the interface ---- */

struct revocation_mirror *revocation_mirror_new(struct redis_pool *redis, revocation_log_fn log, char *err,
                                                size_t errlen)
{
	struct revocation_mirror *m = calloc(1, sizeof(*m));
	char why[512];

	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->redis = redis;
	m->log = log;
	m->wake[0] = m->wake[1] = -1;
	snprintf(m->channel, sizeof(m->channel), "%srevocations", redis_pool_prefix(redis));
	pthread_mutex_init(&m->lock, NULL);
	atomic_init(&m->stop, false);
	atomic_init(&m->revokes, 0);
	atomic_init(&m->unrevokes, 0);
	atomic_init(&m->held, 0);
	if ((m->helpdesk = helpdesk_new(redis, err, errlen)) == NULL)
		goto fail;
	if (pipe2(m->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* Loaded before the node serves, when Redis answers; the thread
	 * subscribes and loads again, so nothing between the two is lost. */
	if (resync(m, why, sizeof(why)) < 0)
		say(m, true, "revocation mirror: not loaded (%s): until it is, a device is refused "
		    "whenever Redis cannot answer", why);
	if (pthread_create(&m->thread, NULL, run, m) != 0) {
		snprintf(err, errlen, "cannot start the revocation mirror's thread");
		goto fail;
	}
	m->thread_started = true;
	return m;
fail:
	revocation_mirror_free(m);
	return NULL;
}

int revocation_mirror_stop(struct revocation_mirror *m, const struct timespec *deadline)
{
	if (m == NULL || !m->thread_started)
		return 0;
	atomic_store(&m->stop, true);
	wake(m);
	if ((deadline == NULL ? pthread_join(m->thread, NULL)
	                      : pthread_timedjoin_np(m->thread, NULL, deadline)) != 0)
		return -1;
	m->thread_started = false;
	return 0;
}

void revocation_mirror_free(struct revocation_mirror *m)
{
	if (m == NULL)
		return;
	revocation_mirror_stop(m, NULL);
	if (m->wake[0] >= 0)
		close(m->wake[0]);
	if (m->wake[1] >= 0)
		close(m->wake[1]);
	tdestroy(m->entries, free);
	helpdesk_free(m->helpdesk);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

enum revocation_mirror_answer revocation_mirror_lookup(struct revocation_mirror *m,
                                                       const struct cert_ref *ref,
                                                       struct revocation_record *rec, time_t *age_s)
{
	enum revocation_mirror_answer answer = REVOCATION_MIRROR_NOT_LOADED;
	const struct mirror_entry *e;

	pthread_mutex_lock(&m->lock);
	if (m->loaded) {
		e = find(&m->entries, ref);
		answer = e != NULL ? REVOCATION_MIRROR_LISTED : REVOCATION_MIRROR_NOT_LISTED;
		if (e != NULL)
			*rec = e->rec;
		*age_s = (time_t)((clock_now_ms() - m->synced_ms) / 1000);
	}
	pthread_mutex_unlock(&m->lock);
	return answer;
}

bool revocation_mirror_saw(struct revocation_mirror *m, const struct cert_ref *ref, bool listed,
                           struct revocation_record *rec)
{
	struct mirror_entry *e;
	bool held, ask = false;

	pthread_mutex_lock(&m->lock);
	e = find(&m->entries, ref);
	held = e != NULL;
	if (held)
		*rec = e->rec;
	/* An orphan was judged by a re-synchronisation already. */
	if (listed != held && !(held && e->orphan) && !m->resync_wanted)
		ask = m->resync_wanted = true;
	pthread_mutex_unlock(&m->lock);
	if (ask)
		wake(m);
	return held;
}

void revocation_mirror_figures(const struct revocation_mirror *m, struct revocation_mirror_figures *out)
{
	out->revokes = atomic_load_explicit(&m->revokes, memory_order_relaxed);
	out->unrevokes = atomic_load_explicit(&m->unrevokes, memory_order_relaxed);
	out->entries = atomic_load_explicit(&m->held, memory_order_relaxed);
}

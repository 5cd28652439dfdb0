#include "authd/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "authd/authd_metrics.h"
#include "authd/backend_metrics.h"
#include "authd/client.h"
#include "authd/dispatch.h"
#include "authd/log.h"
#include "authd/dynauth_stats_reader.h"
#include "authd/metrics_listener.h"
#include "authd/privileges.h"
#include "authd/radius.h"
#include "authd/generation.h"
#include "authd/service_notify.h"
#include "common/clock.h"
#include "common/epoch.h"
#include "common/name_table.h"
#include "common/redis_pool.h"

/* Datagrams read per wake-up before yielding to other events. */
#define READ_BURST 32
#define SOCKET_BUFFER (4 * 1024 * 1024)
/* How long a stop waits for backend calls in flight: SIGTERM must end the
 * process within a second, whatever a backend's timeout. */
#define STOP_GRACE_MS 500

struct worker {
	struct server *server;
	unsigned number;               /* its reader number in the server's epoch */
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct event **reads;          /* one per socket */
	struct event *every_second;    /* worker 0 only: timeouts, changed files, metrics upkeep */
	struct event *stop;            /* made active by the main thread to end the loop */
	struct event *heartbeat;       /* with a watchdog: stamps `beat` while the loop turns */
	_Atomic int64_t beat;          /* CLOCK_MONOTONIC ms of the last heartbeat */
	struct dispatch_scratch scratch;
	uint8_t datagram[RADIUS_MAX_PACKET];
};

struct server {
	const struct authd_config *cfg;
	int *fds;
	bool *wildcard;                /* per socket: bound to 0.0.0.0 or ::, so replies name their source */
	size_t n_fds;
	struct redis_pool *redis;      /* owned, shared by everything dispatch keeps in Redis; NULL: none */
	struct dispatch *dispatch;
	/* The client names of the process's life: each client's index. Owned. */
	struct name_table *clients;
	struct authd_metrics *metrics;          /* owned; NULL: no metrics section */
	struct metrics_listener *metrics_listener;   /* owned; NULL: no metrics section */
	struct dynauth_stats_reader *dynauth_reader; /* owned; NULL: no metrics or no redis section */
	/* The workers' sections in which they read the current generation
	 * without a reference (one reader per worker). */
	struct epoch *epoch;
	struct worker *workers;
	unsigned n_workers;
	uint64_t watchdog_usec;        /* the service manager's watchdog; 0: none */
	bool workers_late;             /* main thread only: a worker missed the last watchdog check */
};

void server_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

bool server_stop_pending(void)
{
	sigset_t pending;

	if (sigpending(&pending) < 0)
		return false;
	return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

/* On a socket bound to 0.0.0.0 or ::, the kernel would pick a reply's
 * source by its routes, which on a multi-homed host may not be the address
 * the NAS sent to (and the NAS drops the reply): each datagram brings the
 * address it arrived at (IP_PKTINFO, IPV6_RECVPKTINFO) and the reply leaves
 * from it. *wildcard says whether the socket is such. */
static int open_socket(const struct listen_addr *l, bool *wildcard, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen;
	int one = 1, size = SOCKET_BUFFER;
	int fd;

	if (inet_pton(AF_INET, l->address, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(l->port);
		sslen = sizeof(struct sockaddr_in);
	} else {
		inet_pton(AF_INET6, l->address, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(l->port);
		sslen = sizeof(struct sockaddr_in6);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* Bursts of logins arrive faster than TLS completes; a deep queue absorbs them. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	*wildcard = ss.ss_family == AF_INET
	                    ? ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY)
	                    : IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
	if (*wildcard && (ss.ss_family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))
	                                          : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
	                                                       sizeof(one))) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on [%s]:%u: %s", l->address, l->port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* What a reload reads again as the user: said now, not at the first reload. */
static void warn_unreadable(const struct authd_config *cfg)
{
	const char *const files[] = { cfg->path, cfg->tls.certificate, cfg->tls.private_key, cfg->tls.ca };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (access(files[i], R_OK) < 0)
			log_msg(LOG_WARNING, "%s: %s for the user authd runs as (uid %u): a reload or a "
			        "certificate renewal will be refused until it can be read", files[i], strerror(errno),
			        (unsigned)geteuid());
	}
}

struct server *server_new(const struct authd_config *cfg, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	struct generation_files first = { 0 };

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->fds = calloc(cfg->n_listen, sizeof(*s->fds));
	s->wildcard = calloc(cfg->n_listen, sizeof(*s->wildcard));
	if (s->fds == NULL || s->wildcard == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (; s->n_fds < cfg->n_listen; s->n_fds++) {
		s->fds[s->n_fds] = open_socket(&cfg->listen[s->n_fds], &s->wildcard[s->n_fds], err, errlen);
		if (s->fds[s->n_fds] < 0)
			goto fail;
	}
	/* Every client name any generation of the config gives, with the same
	 * index in all: "" (no client) first, then room for reloads to add. */
	if ((s->clients = client_names_new(cfg->n_clients)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->metrics.enabled &&
	    ((s->metrics = authd_metrics_new(cfg, s->clients)) == NULL ||
	     (s->metrics_listener = metrics_listener_new(&cfg->metrics, authd_metrics_registry(s->metrics), err,
	                                                 errlen)) == NULL)) {
		if (s->metrics == NULL)
			snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* The config and its TLS files as generation 1, read as root: a key only
	 * root may read serves. */
	if (generation_files_read(cfg->path, &first, err, errlen) < 0)
		goto fail;
	/* What follows (the decision log, the backends, the CRLs) is the user's,
	 * so a file it cannot use fails now. No thread exists yet: the dispatch
	 * starts the first. */
	if (privileges_drop(cfg->user, err, errlen) < 0)
		goto fail;
	warn_unreadable(first.cfg);
	if (cfg->redis != NULL && (s->redis = redis_pool_new(cfg->redis, err, errlen)) == NULL)
		goto fail;
	if (s->redis != NULL) {
		struct backend_observer redis = authd_metrics_redis_observer(s->metrics);

		redis_pool_observe(s->redis, &redis);
	}
	s->dispatch = dispatch_new(cfg, &first, s->clients, s->redis, s->metrics, err, errlen);
	if (s->dispatch == NULL)
		goto fail;
	/* authctl counts Disconnect/CoA outcomes in Redis: read back on a
	 * thread of their own, so a scrape never waits on Redis. */
	if (s->metrics != NULL && s->redis != NULL &&
	    (s->dynauth_reader = dynauth_stats_reader_new(s->redis, s->metrics, err, errlen)) == NULL)
		goto fail;
	return s;
fail:
	generation_files_clear(&first);
	server_free(s);
	return NULL;
}

/* Room for the one control message a datagram brings or a reply takes. */
union pktinfo_control {
	char v4[CMSG_SPACE(sizeof(struct in_pktinfo))];
	char v6[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

/* A reply goes back on the socket the request came in on, to its sender,
 * from the address the request arrived at when the socket is a wildcard's. */
static int udp_send(const struct dispatch_origin *origin, const uint8_t *data, size_t len)
{
	const int *fd = origin->transport;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	union pktinfo_control control;
	struct msghdr msg = { .msg_name = (void *)&origin->peer, .msg_namelen = origin->peer_len,
		              .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (origin->local.ss_family == AF_UNSPEC)
		return sendto(*fd, data, len, 0, (const struct sockaddr *)&origin->peer, origin->peer_len) < 0 ? -1 : 0;
	memset(&control, 0, sizeof(control));
	msg.msg_control = &control;
	c = (struct cmsghdr *)&control;
	if (origin->local.ss_family == AF_INET) {
		/* No interface: the routes choose it, the source stays this one. */
		struct in_pktinfo pi = { .ipi_spec_dst = ((const struct sockaddr_in *)&origin->local)->sin_addr };

		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)&origin->local;
		/* A link-local source is valid only on its own link. */
		struct in6_pktinfo pi = { .ipi6_addr = l6->sin6_addr,
			                  .ipi6_ifindex = IN6_IS_ADDR_LINKLOCAL(&l6->sin6_addr) ? l6->sin6_scope_id : 0 };

		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	return sendmsg(*fd, &msg, 0) < 0 ? -1 : 0;
}

/* The address a datagram arrived at, from its control message, into *local
 * (AF_UNSPEC when there is none). */
static void arrived_at(struct msghdr *msg, struct sockaddr_storage *local)
{
	local->ss_family = AF_UNSPEC;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct sockaddr_in *l4 = (struct sockaddr_in *)local;
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			l4->sin_family = AF_INET;
			l4->sin_addr = pi.ipi_addr;   /* the header's destination, not the route's */
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)local;
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			l6->sin6_family = AF_INET6;
			l6->sin6_addr = pi.ipi6_addr;
			l6->sin6_scope_id = (uint32_t)pi.ipi6_ifindex;
			return;
		}
	}
}

/* The time since started (clock_now_ms_precise()) that w spent working. */
static void worker_busy(struct worker *w, double started)
{
	backend_metrics_thread_busy(authd_metrics_backends(w->server->metrics), POOL_WORKER,
	                            (uint64_t)((clock_now_ms_precise() - started) * 1e6));
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct dispatch_origin origin = { .port = RADIUS_PORT_AUTH, .send = udp_send };
	double started = clock_now_ms_precise();
	struct iovec iov = { .iov_base = w->datagram, .iov_len = sizeof(w->datagram) };
	union pktinfo_control control;
	struct msghdr msg = { .msg_name = &origin.peer, .msg_iov = &iov, .msg_iovlen = 1 };
	bool wildcard = false;
	ssize_t n;

	/* A handful of sockets: finding this one costs nothing. */
	for (size_t i = 0; i < w->server->n_fds; i++) {
		if (w->server->fds[i] != fd)
			continue;
		origin.transport = &w->server->fds[i];
		wildcard = w->server->wildcard[i];
		if (w->server->cfg->listen[i].accounting)
			origin.port = RADIUS_PORT_ACCOUNTING;
	}
	for (int i = 0; i < READ_BURST; i++) {
		msg.msg_namelen = sizeof(origin.peer);
		msg.msg_control = wildcard ? &control : NULL;
		msg.msg_controllen = wildcard ? sizeof(control) : 0;
		/* MSG_TRUNC reports the real size, so oversized datagrams are noticed. */
		n = recvmsg(fd, &msg, MSG_TRUNC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_msg(LOG_WARNING, "recvmsg: %s", strerror(errno));
			break;
		}
		origin.peer_len = msg.msg_namelen;
		origin.local.ss_family = AF_UNSPEC;
		if (wildcard)
			arrived_at(&msg, &origin.local);
		if ((size_t)n > sizeof(w->datagram)) {
			log_msg(LOG_WARNING, "dropped a datagram of %zd bytes (RADIUS allows %d)", n,
			        RADIUS_MAX_PACKET);
			continue;
		}
		epoch_enter(w->server->epoch, w->number);
		dispatch_request(w->server->dispatch, &origin, w->datagram, (size_t)n, &w->scratch);
		epoch_exit(w->server->epoch, w->number);
	}
	worker_busy(w, started);
}

static void on_second(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	double started = clock_now_ms_precise();

	epoch_enter(w->server->epoch, w->number);
	dispatch_reload_changed_files(w->server->dispatch);
	epoch_exit(w->server->epoch, w->number);
	dispatch_end_idle(w->server->dispatch);
	authd_metrics_tick(w->server->metrics);
	worker_busy(w, started);
}

/*
 * Runs in the worker's own loop. A loop break issued from the main thread
 * would be lost if the worker had not entered event_base_loop yet (the loop
 * clears the flag when it starts); an active event is not: it waits in the
 * base until the loop runs, whenever that is.
 */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	event_base_loopbreak(w->base);
}

static int64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	w->beat = monotonic_ms();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

static int worker_setup(struct server *s, struct worker *w, bool every_second)
{
	static const struct timeval second = { 1, 0 };

	w->server = s;
	w->base = event_base_new();
	w->reads = calloc(s->n_fds, sizeof(*w->reads));
	if (w->base == NULL || w->reads == NULL)
		return -1;
	w->stop = event_new(w->base, -1, 0, on_stop, w);
	if (w->stop == NULL)
		return -1;
	/* Every worker waits on every socket: whichever is free takes the next
	 * datagram, so one slow handshake never holds up other NASes. */
	for (size_t i = 0; i < s->n_fds; i++) {
		w->reads[i] = event_new(w->base, s->fds[i], EV_READ | EV_PERSIST, on_readable, w);
		if (w->reads[i] == NULL || event_add(w->reads[i], NULL) < 0)
			return -1;
	}
	if (every_second) {
		w->every_second = event_new(w->base, -1, EV_PERSIST, on_second, w);
		if (w->every_second == NULL || event_add(w->every_second, &second) < 0)
			return -1;
	}
	w->beat = monotonic_ms();
	if (s->watchdog_usec > 0) {
		/* Four beats per watchdog interval: a worker is late only when
		 * its loop stops turning, not when a beat falls just after a ping. */
		uint64_t usec = s->watchdog_usec / 4;
		const struct timeval every = { (time_t)(usec / 1000000u), (suseconds_t)(usec % 1000000u) };

		w->heartbeat = event_new(w->base, -1, EV_PERSIST, on_heartbeat, w);
		if (w->heartbeat == NULL || event_add(w->heartbeat, &every) < 0)
			return -1;
	}
	return 0;
}

static void worker_cleanup(struct server *s, struct worker *w)
{
	for (size_t i = 0; w->reads != NULL && i < s->n_fds; i++) {
		if (w->reads[i] != NULL)
			event_free(w->reads[i]);
	}
	free(w->reads);
	if (w->every_second != NULL)
		event_free(w->every_second);
	if (w->heartbeat != NULL)
		event_free(w->heartbeat);
	if (w->stop != NULL)
		event_free(w->stop);
	if (w->base != NULL)
		event_base_free(w->base);
}

static unsigned worker_count(const struct authd_config *cfg)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cfg->threads > 0)
		return cfg->threads;
	return cores > 0 ? (unsigned)cores : 1;
}

/*
 * The watchdog is fed only while every worker's loop turns: a worker stuck
 * in a callback is what the service manager should restart authd for, and
 * the main thread, which only waits for signals, would go on feeding it.
 */
static void feed_watchdog(struct server *s)
{
	int64_t now = monotonic_ms(), limit = (int64_t)(s->watchdog_usec / 1000u);

	for (unsigned i = 0; i < s->n_workers; i++) {
		int64_t late = now - s->workers[i].beat;

		if (late >= limit) {
			if (!s->workers_late)
				log_msg(LOG_ERROR, "worker %u has not turned for %" PRId64 " ms: the service "
				        "manager's watchdog is no longer fed", i, late);
			s->workers_late = true;
			return;
		}
	}
	if (s->workers_late)
		log_msg(LOG_INFO, "every worker turns again: the watchdog is fed");
	s->workers_late = false;
	service_notify("WATCHDOG=1");
}

/*
 * SIGHUP: the decision log reopened (after logrotate), the config read
 * again and, if it passes every check, put in force. The generation it
 * replaces is let go once no worker can still be reading it without a
 * reference; conversations that hold it keep it to their end.
 */
static void reload(struct server *s)
{
	struct generation *old;

	dispatch_reopen_log(s->dispatch);
	old = dispatch_reload_config(s->dispatch);
	if (old != NULL) {
		epoch_synchronize(s->epoch);
		generation_unref(old);
	}
}

static void wait_for_stop(struct server *s)
{
	/* Twice per watchdog interval, as the manager recommends. */
	const uint64_t half = s->watchdog_usec / 2;
	const struct timespec wake = { (time_t)(half / 1000000u), (long)(half % 1000000u) * 1000 };
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (s->watchdog_usec > 0) {
			sig = sigtimedwait(&set, NULL, &wake);
			feed_watchdog(s);
		} else if (sigwait(&set, &sig) != 0) {
			continue;
		}
		if (sig < 0)
			continue;
		if (sig != SIGHUP) {
			log_msg(LOG_INFO, "signal %d: stopping", sig);
			service_notify("STOPPING=1");
			return;
		}
		service_notify_reloading();
		reload(s);
		service_notify("READY=1");
	}
}

enum server_end server_run(struct server *s)
{
	enum server_end rc = SERVER_FAILED;
	struct timespec deadline;
	char err[256];

	s->n_workers = worker_count(s->cfg);
	s->watchdog_usec = service_watchdog_usec();
	s->workers = calloc(s->n_workers, sizeof(*s->workers));
	s->epoch = epoch_new(s->n_workers);
	if (s->workers == NULL || s->epoch == NULL)
		return SERVER_FAILED;
	for (unsigned i = 0; i < s->n_workers; i++) {
		struct worker *w = &s->workers[i];

		w->number = i;
		if (worker_setup(s, w, i == 0) < 0) {
			log_msg(LOG_ERROR, "cannot set up worker %u", i);
			goto stop;
		}
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_msg(LOG_ERROR, "cannot start worker %u: %s", i, strerror(errno));
			goto stop;
		}
		w->started = true;
		backend_metrics_threads(authd_metrics_backends(s->metrics), POOL_WORKER, 1);
	}
	if (s->metrics_listener != NULL && metrics_listener_start(s->metrics_listener, err, sizeof(err)) < 0) {
		log_msg(LOG_ERROR, "%s", err);
		goto stop;
	}
	for (size_t i = 0; i < s->cfg->n_listen; i++)
		log_msg(LOG_INFO, "listening on [%s]:%u (%s)", s->cfg->listen[i].address,
		        s->cfg->listen[i].port, s->cfg->listen[i].accounting ? "accounting" : "authentication");
	log_msg(LOG_INFO, "ready: %zu socket(s), %u worker thread(s), %zu client(s)", s->n_fds,
	        s->n_workers, s->cfg->n_clients);
	snprintf(err, sizeof(err), "READY=1\nSTATUS=serving %zu socket(s) for %zu client(s)", s->n_fds,
	         s->cfg->n_clients);
	service_notify(err);
	wait_for_stop(s);
	rc = SERVER_STOPPED;
stop:
	/* First: a scrape reads what the workers and backends keep. */
	metrics_listener_free(s->metrics_listener);
	s->metrics_listener = NULL;
	for (unsigned i = 0; i < s->n_workers; i++) {
		if (s->workers[i].started)
			event_active(s->workers[i].stop, EV_TIMEOUT, 0);
	}
	for (unsigned i = 0; i < s->n_workers; i++) {
		if (s->workers[i].started && pthread_join(s->workers[i].thread, NULL) == 0)
			backend_metrics_threads(authd_metrics_backends(s->metrics), POOL_WORKER, -1);
		worker_cleanup(s, &s->workers[i]);
	}
	/* A conversation waiting on a silent backend is not worth a slow stop:
	 * it is abandoned (the NAS retries elsewhere), its thread left behind. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += STOP_GRACE_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	if ((dispatch_stop(s->dispatch, &deadline) < 0 ||
	     dynauth_stats_reader_stop(s->dynauth_reader, &deadline) < 0) && rc == SERVER_STOPPED) {
		log_msg(LOG_WARNING, "stopping: backend calls still running after %d ms are not waited for",
		        STOP_GRACE_MS);
		rc = SERVER_ABANDONED;
	}
	dispatch_log_counters(s->dispatch);
	return rc;
}

void server_free(struct server *s)
{
	if (s == NULL)
		return;
	metrics_listener_free(s->metrics_listener);
	dynauth_stats_reader_free(s->dynauth_reader);
	dispatch_free(s->dispatch);
	epoch_free(s->epoch);
	/* The pool reports its calls to the metrics, which name the clients. */
	redis_pool_free(s->redis);
	authd_metrics_free(s->metrics);
	name_table_free(s->clients);
	for (size_t i = 0; i < s->n_fds; i++)
		close(s->fds[i]);
	free(s->fds);
	free(s->wildcard);
	free(s->workers);
	free(s);
}

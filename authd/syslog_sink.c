#include "authd/syslog_sink.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* With no daemon, each message would otherwise cost a socket and a connect. */
#define CONNECT_RETRY_SECONDS 1

struct syslog_sink {
	struct sockaddr_un addr;
	char *ident;
	int facility;
	pthread_mutex_t lock;       /* fd and retry_at */
	int fd;                     /* -1: not connected */
	time_t retry_at;            /* CLOCK_MONOTONIC second before which no connect is tried */
};

static const struct {
	const char *name;
	int code;
} facilities[] = {
	{ "user", LOG_USER },     { "mail", LOG_MAIL },     { "daemon", LOG_DAEMON },
	{ "auth", LOG_AUTH },     { "syslog", LOG_SYSLOG }, { "lpr", LOG_LPR },
	{ "news", LOG_NEWS },     { "uucp", LOG_UUCP },     { "cron", LOG_CRON },
	{ "authpriv", LOG_AUTHPRIV }, { "ftp", LOG_FTP },   { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

int syslog_facility_parse(const char *name, int *facility)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcmp(name, facilities[i].name) == 0) {
			*facility = facilities[i].code;
			return 0;
		}
	}
	return -1;
}

const char *syslog_facility_names(void)
{
	return "user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0 ... local7";
}

struct syslog_sink *syslog_sink_open(const char *path, const char *ident, int facility)
{
	struct syslog_sink *sink = calloc(1, sizeof(*sink));

	if (sink == NULL)
		return NULL;
	if (strlen(path) >= sizeof(sink->addr.sun_path)) {
		free(sink);
		errno = ENAMETOOLONG;
		return NULL;
	}
	sink->addr.sun_family = AF_UNIX;
	memcpy(sink->addr.sun_path, path, strlen(path) + 1);
	sink->facility = facility;
	sink->fd = -1;
	sink->ident = strdup(ident);
	if (sink->ident == NULL || (errno = pthread_mutex_init(&sink->lock, NULL)) != 0) {
		int saved = errno;

		free(sink->ident);
		free(sink);
		errno = saved;
		return NULL;
	}
	return sink;
}

static time_t monotonic_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	return now.tv_sec;
}

/* Under the lock: a non-blocking socket connected to the daemon's, or -1
 * with errno (ECONNREFUSED too when a connect failed less than a second ago). */
static int connect_locked(struct syslog_sink *sink)
{
	time_t now = monotonic_seconds();
	int fd, saved;

	if (now < sink->retry_at) {
		errno = ECONNREFUSED;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, (const struct sockaddr *)&sink->addr, sizeof(sink->addr)) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	sink->fd = fd;
	return 0;
fail:
	sink->retry_at = now + CONNECT_RETRY_SECONDS;
	return -1;
}

static bool daemon_busy(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EMSGSIZE;
}

/* Under the lock: one datagram, connecting again once if the daemon went away
 * (restarted: ECONNREFUSED on the old socket). */
static int send_locked(struct syslog_sink *sink, const struct msghdr *msg)
{
	if (sink->fd >= 0) {
		if (sendmsg(sink->fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (daemon_busy(errno))
			return -1;
		close(sink->fd);
		sink->fd = -1;
	}
	if (connect_locked(sink) < 0)
		return -1;
	return sendmsg(sink->fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 ? 0 : -1;
}

int syslog_sink_send(struct syslog_sink *sink, enum syslog_severity severity, const char *msg, size_t len)
{
	char head[160];
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	time_t now = time(NULL);
	struct tm tm;
	int n, rc, saved;

	/* RFC 3164 as glibc writes it: "<PRI>Mmm dd hh:mm:ss ident[pid]: msg".
	 * The month is English whatever the locale: authd never sets one. */
	localtime_r(&now, &tm);
	n = snprintf(head, sizeof(head), "<%d>", sink->facility | (int)severity);
	n += (int)strftime(head + n, sizeof(head) - (size_t)n, "%b %e %T ", &tm);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "%.64s[%ld]: ", sink->ident, (long)getpid());
	iov[0] = (struct iovec){ .iov_base = head, .iov_len = (size_t)n };
	iov[1] = (struct iovec){ .iov_base = (void *)msg, .iov_len = len };
	pthread_mutex_lock(&sink->lock);
	rc = send_locked(sink, &mh);
	saved = errno;
	pthread_mutex_unlock(&sink->lock);
	errno = saved;
	return rc;
}

void syslog_sink_close(struct syslog_sink *sink)
{
	if (sink == NULL)
		return;
	if (sink->fd >= 0)
		close(sink->fd);
	pthread_mutex_destroy(&sink->lock);
	free(sink->ident);
	free(sink);
}

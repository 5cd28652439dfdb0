#include "authd/decision_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "authd/log.h"
#include "authd/syslog_sink.h"
#include "common/rate_limit.h"

/* A full disk fails every record: one line a second says so, with a count. */
#define FAILURE_REPORTS_PER_SECOND 1

struct decision_log {
	int fd;
	char *path;
	/* One writer at a time, so that the bytes of a short write are still the
	 * file's last ones when they are taken back. */
	pthread_mutex_t lock;
	bool torn;                  /* the file may end mid-line (under lock) */
	atomic_ullong lost;         /* records not written since the log was opened */
	struct rate_limit reports;
	struct syslog_sink *syslog; /* NULL: the file only */
	atomic_ullong syslog_lost;  /* lines in the file that syslog did not take */
	struct rate_limit syslog_reports;
};

static int open_append(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

struct decision_log *decision_log_open(const char *path, int syslog_facility)
{
	struct decision_log *log = calloc(1, sizeof(*log));
	int saved;

	if (log == NULL)
		return NULL;
	log->fd = -1;
	log->path = strdup(path);
	if (log->path == NULL)
		goto fail;
	log->fd = open_append(path);
	if (log->fd < 0)
		goto fail;
	if (syslog_facility != 0 &&
	    (log->syslog = syslog_sink_open(SYSLOG_SINK_DEV_LOG, "authd-decisions", syslog_facility)) == NULL)
		goto fail;
	if ((errno = pthread_mutex_init(&log->lock, NULL)) != 0)
		goto fail;
	atomic_init(&log->lost, 0);
	rate_limit_init(&log->reports, FAILURE_REPORTS_PER_SECOND);
	atomic_init(&log->syslog_lost, 0);
	rate_limit_init(&log->syslog_reports, FAILURE_REPORTS_PER_SECOND);
	return log;
fail:
	saved = errno;
	syslog_sink_close(log->syslog);
	if (log->fd >= 0)
		close(log->fd);
	free(log->path);
	free(log);
	errno = saved;
	return NULL;
}

int decision_log_reopen(struct decision_log *log)
{
	int fd = open_append(log->path);
	int rc;

	if (fd < 0)
		return -1;
	/* dup2 swaps the descriptor atomically; the lock keeps it from moving
	 * under a short write being taken back. */
	pthread_mutex_lock(&log->lock);
	rc = dup2(fd, log->fd) < 0 ? -1 : 0;
	if (rc == 0)
		log->torn = false;     /* a new file, or logrotate's copy of the old */
	pthread_mutex_unlock(&log->lock);
	close(fd);
	return rc;
}

/* write(2) that goes on after EINTR: bytes written, or -1 when none were. */
static ssize_t write_some(int fd, const struct iovec *iov, int n)
{
	ssize_t rc;

	do
		rc = writev(fd, iov, n);
	while (rc < 0 && errno == EINTR);
	return rc;
}

/*
 * Appends line (len bytes, ending in '\n') under the lock. Normally one
 * writev(2) on the O_APPEND descriptor. A short write (disk full, file size
 * limit) is completed if the rest can be written; otherwise its bytes are
 * cut off again, so the file still ends with a whole line. Only if that fails
 * too does the file end mid-line: the next line then starts with '\n', so
 * that one broken line never swallows the next record. 0, or -1 with errno.
 */
static int append_line(struct decision_log *log, const char *line, size_t len)
{
	struct iovec iov[2] = { { .iov_base = "\n", .iov_len = 1 },
	                        { .iov_base = (void *)line, .iov_len = len } };
	struct iovec *from = log->torn ? &iov[0] : &iov[1];
	int n_iov = log->torn ? 2 : 1;
	size_t total = log->torn ? len + 1 : len, done = 0;
	ssize_t n;
	off_t end;
	int saved;

	n = write_some(log->fd, from, n_iov);
	if (n < 0)
		return -1;              /* nothing written, the file is as it was */
	for (done = (size_t)n; done < total; done += (size_t)n) {
		/* The rest: skip what is written. */
		struct iovec rest[2];
		int k = 0;
		size_t skip = done;

		for (int i = 0; i < n_iov; i++) {
			if (skip >= from[i].iov_len) {
				skip -= from[i].iov_len;
				continue;
			}
			rest[k].iov_base = (char *)from[i].iov_base + skip;
			rest[k++].iov_len = from[i].iov_len - skip;
			skip = 0;
		}
		n = write_some(log->fd, rest, k);
		if (n <= 0)
			break;
	}
	if (done == total) {
		log->torn = false;
		return 0;
	}
	saved = n < 0 ? errno : EIO;
	/* We hold the lock and the descriptor appends: our bytes are the last. */
	end = lseek(log->fd, 0, SEEK_END);
	if (end < (off_t)done || ftruncate(log->fd, end - (off_t)done) < 0)
		log->torn = true;       /* not taken back: the file ends mid-line */
	errno = saved;
	return -1;
}

/* The copy of a line the file got (len bytes with its '\n'), to syslog. */
static void send_to_syslog(struct decision_log *log, const struct decision *d, const char *line, size_t len)
{
	unsigned suppressed;
	unsigned long long lost;
	int err;

	if (syslog_sink_send(log->syslog, d->accept ? SYSLOG_INFO : SYSLOG_NOTICE, line, len - 1) == 0)
		return;
	err = errno;
	lost = atomic_fetch_add(&log->syslog_lost, 1) + 1;
	if (rate_limit_allow(&log->syslog_reports, &suppressed))
		log_msg(LOG_WARNING, "nas=%s conv=%llu: the syslog daemon did not take the decision: %s (it "
		        "is in the decision log file; %llu lines not sent to syslog so far, %u similar lines "
		        "suppressed before)", d->nas, (unsigned long long)d->conversation, strerror(err), lost,
		        suppressed);
}

int decision_log_write(struct decision_log *log, const struct decision *d)
{
	struct timespec now;
	char *line;
	size_t len;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	line = decision_to_json(d, &now);
	if (line == NULL) {
		atomic_fetch_add(&log->lost, 1);
		errno = ENOMEM;
		return -1;
	}
	len = strlen(line);
	pthread_mutex_lock(&log->lock);
	rc = append_line(log, line, len);
	pthread_mutex_unlock(&log->lock);
	if (rc < 0) {
		int saved = errno;

		atomic_fetch_add(&log->lost, 1);
		errno = saved;
	} else if (log->syslog != NULL) {
		send_to_syslog(log, d, line, len);
	}
	free(line);
	return rc;
}

bool decision_log_report_failure(struct decision_log *log, unsigned long long *lost,
                                 unsigned *suppressed)
{
	*lost = atomic_load(&log->lost);
	return rate_limit_allow(&log->reports, suppressed);
}

void decision_log_close(struct decision_log *log)
{
	if (log == NULL)
		return;
	close(log->fd);
	syslog_sink_close(log->syslog);
	pthread_mutex_destroy(&log->lock);
	free(log->path);
	free(log);
}

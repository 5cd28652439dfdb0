#include "policy/decision.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/cert_names.h"
#include "common/clock.h"
#include "common/json_buf.h"
#include "common/rate_limit.h"
#include "common/strv.h"

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
};

/* What an outsider controls (certificate fields, EAP identity, RADIUS
 * attributes, directory answers) is capped in the record; see decision.h. */
static const struct json_buf_limits field_limits = {
	.string_bytes = DECISION_STRING_MAX,
};
static const struct json_buf_limits san_limits = {
	.string_bytes = DECISION_STRING_MAX,
	.array_items = DECISION_SAN_MAX,
	.array_bytes = DECISION_SAN_BYTES,
};
static const struct json_buf_limits group_limits = {
	.string_bytes = DECISION_STRING_MAX,
	.array_items = DECISION_GROUPS_MAX,
	.array_bytes = DECISION_GROUPS_BYTES,
};

/* The fields of one record that were cut, for its "truncated" list. */
struct cut_fields {
	const char *names[24];
	size_t n;
	unsigned seen;              /* json_buf.cuts when last looked at */
};

/* Notes `name` when something was cut since the last call. */
static void note_cut(struct cut_fields *cut, const struct json_buf *b, const char *name)
{
	if (b->cuts != cut->seen && cut->n < sizeof(cut->names) / sizeof(cut->names[0]))
		cut->names[cut->n++] = name;
	cut->seen = b->cuts;
}

static void field(struct json_buf *b, struct cut_fields *cut, const char *key, const char *value)
{
	json_buf_string(b, key, value);
	note_cut(cut, b, key);
}

void decision_start(struct decision *d, uint64_t conversation, const char *nas)
{
	memset(d, 0, sizeof(*d));
	d->conversation = conversation;
	d->reason = "tls_failed";
	snprintf(d->nas, sizeof(d->nas), "%s", nas);
	d->rule_index = -1;
	clock_gettime(CLOCK_MONOTONIC, &d->started);
}

void decision_clear(struct decision *d)
{
	strv_free(d->groups, d->n_groups);
	free(d->dn);
	d->groups = NULL;
	d->n_groups = 0;
	d->dn = NULL;
}

static void add_san(const char *san, void *arg)
{
	json_buf_array_string(arg, san);
}

static void format_time(const struct timespec *ts, char *out, size_t outlen)
{
	struct tm tm;
	char base[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%.19s.%03uZ", base, (unsigned)(ts->tv_nsec / 1000000) % 1000u);
}

static void add_cert(struct json_buf *b, struct cut_fields *cut, X509 *cert)
{
	char text[512];

	if (cert == NULL) {
		json_buf_string(b, "subject", NULL);
		json_buf_string(b, "issuer", NULL);
		json_buf_string(b, "serial", NULL);
		json_buf_array_begin(b, "san");
		json_buf_array_end(b);
		return;
	}
	cert_name_string(X509_get_subject_name(cert), text, sizeof(text));
	field(b, cut, "subject", text);
	cert_name_string(X509_get_issuer_name(cert), text, sizeof(text));
	field(b, cut, "issuer", text);
	cert_serial_hex(cert, text, sizeof(text));
	field(b, cut, "serial", text);
	json_buf_set_limits(b, &san_limits);
	json_buf_array_begin(b, "san");
	cert_for_each_san(cert, add_san, b);
	json_buf_array_end(b);
	json_buf_set_limits(b, &field_limits);
	note_cut(cut, b, "san");
}

static void add_rule(struct json_buf *b, struct cut_fields *cut, const struct decision *d)
{
	if (d->rule_index < 0) {
		json_buf_null(b, "rule");
		return;
	}
	json_buf_object_begin(b, "rule");
	json_buf_uint(b, "index", (uint64_t)d->rule_index);
	json_buf_string(b, "name", d->rule_name);
	json_buf_object_end(b);
	note_cut(cut, b, "rule");
}

char *decision_to_json(const struct decision *d, const struct timespec *now)
{
	static const struct json_buf_limits none = { 0 };
	struct cut_fields cut = { .n = 0 };
	struct json_buf b;
	char when[40];

	format_time(now, when, sizeof(when));
	json_buf_begin(&b);
	json_buf_set_limits(&b, &field_limits);
	json_buf_string(&b, "time", when);
	json_buf_string(&b, "outcome", d->accept ? "accept" : "reject");
	json_buf_string(&b, "reason", d->reason);
	field(&b, &cut, "detail", d->detail);
	field(&b, &cut, "identity", d->identity);
	add_cert(&b, &cut, d->cert);
	json_buf_string(&b, "tls_version", d->tls_version);
	json_buf_bool(&b, "resumed", d->resumed);
	field(&b, &cut, "nas", d->nas);
	field(&b, &cut, "calling_station_id", d->calling_station_id);
	json_buf_string(&b, "revocation", d->revocation);
	json_buf_string(&b, "revocation_source", d->revocation_source);
	field(&b, &cut, "cert_identity", d->cert_identity[0] ? d->cert_identity : NULL);
	json_buf_string(&b, "identity_source", d->identity_source);
	field(&b, &cut, "dn", d->dn);
	json_buf_set_limits(&b, &group_limits);
	json_buf_array_begin(&b, "groups");
	for (size_t i = 0; i < d->n_groups; i++)
		json_buf_array_string(&b, d->groups[i]);
	json_buf_array_end(&b);
	json_buf_set_limits(&b, &field_limits);
	note_cut(&cut, &b, "groups");
	add_rule(&b, &cut, d);
	field(&b, &cut, "vlan", d->vlan);
	json_buf_uint(&b, "directory_ms", d->directory_ms);
	json_buf_bool(&b, "directory_cached", d->directory_cached);
	json_buf_uint(&b, "round_trips", d->round_trips);
	json_buf_uint(&b, "duration_ms", clock_ms_since(&d->started));
	json_buf_uint(&b, "conversation", d->conversation);
	/* Static names, not to be capped themselves. */
	json_buf_set_limits(&b, &none);
	json_buf_array_begin(&b, "truncated");
	for (size_t i = 0; i < cut.n; i++)
		json_buf_array_string(&b, cut.names[i]);
	json_buf_array_end(&b);
	return json_buf_finish(&b);
}

static int open_append(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

struct decision_log *decision_log_open(const char *path)
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
	if ((errno = pthread_mutex_init(&log->lock, NULL)) != 0)
		goto fail;
	atomic_init(&log->lost, 0);
	rate_limit_init(&log->reports, FAILURE_REPORTS_PER_SECOND);
	return log;
fail:
	saved = errno;
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

int decision_log_write(struct decision_log *log, const struct decision *d)
{
	struct timespec now;
	char *line;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	line = decision_to_json(d, &now);
	if (line == NULL) {
		atomic_fetch_add(&log->lost, 1);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&log->lock);
	rc = append_line(log, line, strlen(line));
	pthread_mutex_unlock(&log->lock);
	if (rc < 0) {
		int saved = errno;

		atomic_fetch_add(&log->lost, 1);
		errno = saved;
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
	pthread_mutex_destroy(&log->lock);
	free(log->path);
	free(log);
}

#include "policy/decision.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/cert_names.h"
#include "policy/json_buf.h"

struct decision_log {
	int fd;
	char *path;
};

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
	for (size_t i = 0; i < d->n_groups; i++)
		free(d->groups[i]);
	free(d->groups);
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

static uint64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
	     (now.tv_nsec - since->tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

static void add_cert(struct json_buf *b, X509 *cert)
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
	json_buf_string(b, "subject", text);
	cert_name_string(X509_get_issuer_name(cert), text, sizeof(text));
	json_buf_string(b, "issuer", text);
	cert_serial_hex(cert, text, sizeof(text));
	json_buf_string(b, "serial", text);
	json_buf_array_begin(b, "san");
	cert_for_each_san(cert, add_san, b);
	json_buf_array_end(b);
}

static void add_rule(struct json_buf *b, const struct decision *d)
{
	if (d->rule_index < 0) {
		json_buf_null(b, "rule");
		return;
	}
	json_buf_object_begin(b, "rule");
	json_buf_uint(b, "index", (uint64_t)d->rule_index);
	json_buf_string(b, "name", d->rule_name);
	json_buf_object_end(b);
}

char *decision_to_json(const struct decision *d, const struct timespec *now)
{
	struct json_buf b;
	char when[40];

	format_time(now, when, sizeof(when));
	json_buf_begin(&b);
	json_buf_string(&b, "time", when);
	json_buf_string(&b, "outcome", d->accept ? "accept" : "reject");
	json_buf_string(&b, "reason", d->reason);
	json_buf_string(&b, "detail", d->detail);
	json_buf_string(&b, "identity", d->identity);
	add_cert(&b, d->cert);
	json_buf_string(&b, "tls_version", d->tls_version);
	json_buf_bool(&b, "resumed", d->resumed);
	json_buf_string(&b, "nas", d->nas);
	json_buf_string(&b, "calling_station_id", d->calling_station_id);
	json_buf_string(&b, "revocation", d->revocation);
	json_buf_string(&b, "revocation_source", d->revocation_source);
	json_buf_string(&b, "cert_identity", d->cert_identity[0] ? d->cert_identity : NULL);
	json_buf_string(&b, "identity_source", d->identity_source);
	json_buf_string(&b, "dn", d->dn);
	json_buf_array_begin(&b, "groups");
	for (size_t i = 0; i < d->n_groups; i++)
		json_buf_array_string(&b, d->groups[i]);
	json_buf_array_end(&b);
	add_rule(&b, d);
	json_buf_string(&b, "vlan", d->vlan);
	json_buf_uint(&b, "directory_ms", d->directory_ms);
	json_buf_bool(&b, "directory_cached", d->directory_cached);
	json_buf_uint(&b, "round_trips", d->round_trips);
	json_buf_uint(&b, "duration_ms", elapsed_ms(&d->started));
	json_buf_uint(&b, "conversation", d->conversation);
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
	log->path = strdup(path);
	if (log->path == NULL)
		goto fail;
	log->fd = open_append(path);
	if (log->fd < 0)
		goto fail;
	return log;
fail:
	saved = errno;
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
	/* dup2 swaps the descriptor atomically under concurrent writers. */
	rc = dup2(fd, log->fd) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

int decision_log_write(struct decision_log *log, const struct decision *d)
{
	struct timespec now;
	char *line;
	ssize_t n;
	int rc = -1;

	clock_gettime(CLOCK_REALTIME, &now);
	line = decision_to_json(d, &now);
	if (line == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* One write per line on an O_APPEND descriptor: lines from concurrent
	 * threads land whole and in order of completion. */
	n = write(log->fd, line, strlen(line));
	if (n == (ssize_t)strlen(line))
		rc = 0;
	else if (n >= 0)
		errno = EIO;
	free(line);
	return rc;
}

void decision_log_close(struct decision_log *log)
{
	if (log == NULL)
		return;
	close(log->fd);
	free(log->path);
	free(log);
}

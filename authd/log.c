#include "authd/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authd/syslog_sink.h"

/* Set at startup and by each reload in force, read by every thread. */
static _Atomic int log_threshold = LOG_INFO;
/* Written once before the worker threads exist, read-only afterwards. */
static bool journal_priorities;
static struct syslog_sink *syslog_out;  /* NULL: stderr only */

/* The syslog severity of each of our levels; also the sd-daemon(3) priority
 * prefix ("<3>" ...) on the journal's stream. */
static const enum syslog_severity syslog_severity[] = {
	[LOG_ERROR] = SYSLOG_ERR,
	[LOG_WARNING] = SYSLOG_WARNING,
	[LOG_INFO] = SYSLOG_INFO,
	[LOG_DEBUG] = SYSLOG_DEBUG,
};

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

void log_detect_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* The manager names the stream it gave us; stderr redirected since
	 * (a shell's 2>file under systemd-run) is not the journal. */
	journal_priorities = stream != NULL && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	                     fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	                     (unsigned long long)st.st_ino == ino;
}

void log_use_syslog(int facility)
{
	if (facility == 0)
		return;
	syslog_out = syslog_sink_open(SYSLOG_SINK_DEV_LOG, "authd", facility);
	if (syslog_out == NULL)
		log_msg(LOG_ERROR, "cannot log to syslog: %s: logging to stderr", strerror(errno));
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int prefix, n;

	if (!log_enabled(level))
		return;
	/* "<6>authd: info: " on stderr; syslog has the level name only, the
	 * daemon adds the rest. */
	prefix = journal_priorities ? snprintf(line, sizeof(line), "<%d>", (int)syslog_severity[level]) : 0;
	prefix += snprintf(line + prefix, sizeof(line) - (size_t)prefix, "authd: ");
	n = prefix + snprintf(line + prefix, sizeof(line) - (size_t)prefix, "%s: ", level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strnlen(line, sizeof(line) - 2);
	if (syslog_out != NULL &&
	    syslog_sink_send(syslog_out, syslog_severity[level], line + prefix, (size_t)(n - prefix)) == 0)
		return;
	/* One fputs per line keeps lines from different threads whole. */
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}

void log_report_line(const char *line)
{
	log_msg(LOG_WARNING, "%s", line);
}

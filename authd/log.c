#include "authd/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Written once before the worker threads exist, read-only afterwards. */
static enum log_level log_threshold = LOG_INFO;
static bool journal_priorities;

/* sd-daemon(3) priority prefixes, the syslog levels of each of ours. */
static const char *const journal_prefix[] = {
	[LOG_ERROR] = "<3>",
	[LOG_WARNING] = "<4>",
	[LOG_INFO] = "<6>",
	[LOG_DEBUG] = "<7>",
};

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	log_threshold = level;
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
	return level <= log_threshold;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "%sauthd: %s: ", journal_priorities ? journal_prefix[level] : "",
	             level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per line keeps lines from different threads whole. */
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}

void log_report_line(const char *line)
{
	log_msg(LOG_WARNING, "%s", line);
}

#include "authd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Written once before the worker threads exist, read-only afterwards. */
static enum log_level log_threshold = LOG_INFO;

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
	n = snprintf(line, sizeof(line), "authd: %s: ", level_names[level]);
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

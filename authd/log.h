/*
 * Operational log: one line per event on stderr (systemd's journal adds the
 * timestamp), or one message per event to syslog (log.syslog). Lines about a request carry NAS, RADIUS id and conversation id;
 * see LOG_REQUEST in server code. Secrets are never passed here.
 */
#ifndef AUTHD_LOG_H
#define AUTHD_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* At startup, and when a reload puts another log.level in force (any thread). */
void log_set_level(enum log_level level);
/* When stderr is the journal's stream ($JOURNAL_STREAM, under systemd), each
 * line starts with its sd-daemon priority ("<3>" error ... "<7>" debug) so
 * the journal files it at that level. Once at startup, before threads. */
void log_detect_journal(void);
/* Sends each line to the local syslog daemon instead (ident "authd", the PID,
 * the given facility, a code of syslog_facility_parse(), authd/syslog_sink.h;
 * 0 = stderr), severity err, warning, info, debug by level. A line the daemon
 * cannot take at once (absent, or behind) goes to stderr instead: nothing
 * waits on the daemon, nothing is lost. Once at startup, before threads;
 * if memory is short, says so and stays on stderr. */
void log_use_syslog(int facility);
/* "error", "warning", "info", "debug" -> 0; anything else -> -1. */
int log_level_parse(const char *name, enum log_level *out);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A warning line, for report_set_sink() (common/report.h): what code below
 * authd/ refused from outside the process reaches this log. */
void log_report_line(const char *line);

#endif

/*
 * The decision log: one JSON line per finished conversation (the record and
 * its rendering are policy/decision.h's), appended to a file that logrotate
 * may move away; and, if asked, each line the file got also sent to syslog
 * (a SIEM's usual input), for which the file's failures and semantics do not
 * change: the file is the record, syslog a copy that may miss lines.
 */
#ifndef AUTHD_DECISION_LOG_H
#define AUTHD_DECISION_LOG_H

#include <stdbool.h>

#include "policy/decision.h"

struct decision_log;

/*
 * Opens (creating, appending) the decision log. syslog_facility: 0, or a code
 * of syslog_facility_parse() (authd/syslog_sink.h) to send each line written
 * to the file to the local syslog daemon as well: one message, ident
 * "authd-decisions", severity info for an accept and notice for a reject,
 * the line's JSON object as the text. NULL with errno set on failure.
 */
struct decision_log *decision_log_open(const char *path, int syslog_facility);
/* Reopens the same path (after logrotate moved the file); lines written
 * concurrently go to the old or the new file, never lost. 0 or -1 with errno. */
int decision_log_reopen(struct decision_log *log);
/*
 * Appends the record as one line; safe from several threads. 0, or -1 with
 * errno (ENOSPC, EIO, ...) when the record is not in the file. Then sends the
 * line to syslog if asked (never waiting on the daemon); a message the daemon
 * does not take changes nothing above and is said in the operational log,
 * one line a second at most. A failed
 * write leaves the file ending with a whole line (a short write's bytes are
 * taken back; if even that fails, the next line starts with a newline), so
 * every other line still parses.
 */
int decision_log_write(struct decision_log *log, const struct decision *d);
/*
 * For the caller's loud line after a failed write: *lost gets the records not
 * written since the log was opened. True when the failure may be logged now
 * (one line a second, through common/rate_limit); *suppressed then gets how
 * many failures went unreported before it.
 */
bool decision_log_report_failure(struct decision_log *log, unsigned long long *lost,
                                 unsigned *suppressed);
void decision_log_close(struct decision_log *log);

#endif

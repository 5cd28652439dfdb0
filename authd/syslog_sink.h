/*
 * A syslog client that never blocks: messages go as datagrams to the local
 * syslog daemon's socket (/dev/log: rsyslog, syslog-ng, journald), in the
 * format the C library's syslog(3) uses, each with its own ident and
 * facility. glibc's syslog(3) is not used because its send(2) blocks, with
 * its lock held, as soon as a stalled daemon's queue is full (11 datagrams
 * with Linux's default net.unix.max_dgram_qlen): every thread that logs would
 * stop, the packet path with them. Here a message the daemon cannot take at
 * once is not sent, and the caller knows.
 */
#ifndef AUTHD_SYSLOG_SINK_H
#define AUTHD_SYSLOG_SINK_H

#include <stddef.h>

#define SYSLOG_SINK_DEV_LOG "/dev/log"

/* Severities (RFC 5424), the values of <syslog.h>'s LOG_ERR ... LOG_DEBUG. */
enum syslog_severity {
	SYSLOG_ERR = 3,
	SYSLOG_WARNING = 4,
	SYSLOG_NOTICE = 5,
	SYSLOG_INFO = 6,
	SYSLOG_DEBUG = 7,
};

struct syslog_sink;

/* A facility's name ("daemon", "local0" ... "local7", "user", "auth",
 * "authpriv", ...) -> its code (<syslog.h>'s LOG_DAEMON ...), never 0 (kern,
 * the kernel's): 0 is free to mean "no syslog". Unknown name: -1. */
int syslog_facility_parse(const char *name, int *facility);
/* The names syslog_facility_parse() knows, for an error message. */
const char *syslog_facility_names(void);

/*
 * A sink for messages tagged ident (copied) with the given facility, sent to
 * the datagram socket at path (SYSLOG_SINK_DEV_LOG). Connects when first
 * used, so the daemon may start later. NULL with errno on allocation failure.
 */
struct syslog_sink *syslog_sink_open(const char *path, const char *ident, int facility);
/*
 * Sends msg (len bytes, no newline needed) as one message; safe from several
 * threads, never waits on the daemon. 0 when the daemon has it; -1 with errno
 * when not: EAGAIN (the daemon is behind), ECONNREFUSED or ENOENT (no daemon:
 * a connection is tried again at most once a second), EMSGSIZE (larger than
 * the socket takes, about 200 KiB).
 */
int syslog_sink_send(struct syslog_sink *sink, enum syslog_severity severity, const char *msg, size_t len);
void syslog_sink_close(struct syslog_sink *sink);

#endif

/*
 * Talking to the service manager (systemd's sd_notify protocol, written
 * here rather than linked from libsystemd: it is one datagram on a Unix
 * socket named by $NOTIFY_SOCKET). With no $NOTIFY_SOCKET, as when authd runs
 * from a shell, every call does nothing.
 *
 * authd says READY=1 once every socket is served, RELOADING=1 then READY=1
 * around a SIGHUP, STOPPING=1 on SIGTERM, and WATCHDOG=1 while its workers
 * turn (see server.c).
 */
#ifndef AUTHD_SERVICE_NOTIFY_H
#define AUTHD_SERVICE_NOTIFY_H

#include <stdint.h>

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then unsets them
 * so that nothing authd starts inherits them. Call once, before threads. */
void service_notify_init(void);

/* Sends state (newline-separated assignments, e.g. "READY=1\nSTATUS=..."),
 * best effort: a manager that went away is not authd's failure. */
void service_notify(const char *state);

/* RELOADING=1 with the MONOTONIC_USEC the manager requires with it. */
void service_notify_reloading(void);

/* The watchdog interval the manager asked for in microseconds, or 0 when
 * none (or when it is meant for another process). */
uint64_t service_watchdog_usec(void);

#endif

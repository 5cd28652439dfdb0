/*
 * Least privilege for the daemon itself. authd parses certificates and
 * RADIUS from the network; a flaw there must not hand over root, a core
 * file full of keys and MSKs, or a way to gain privileges by exec.
 *
 * Every authd process is hardened first (no core dumps, no new privileges
 * through exec). A daemon started as root binds its sockets and reads its
 * TLS key, then becomes the configured user: its own primary group only, no
 * capability in any set (the bounding set included), no way back. The
 * narrowing of system calls is left to the service manager's seccomp filter
 * (the unit's SystemCallFilter=), which follows the C library's and
 * OpenSSL's needs as they change; a filter compiled in here would not.
 */
#ifndef AUTHD_PRIVILEGES_H
#define AUTHD_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>

/* The user a daemon started as root becomes when the config names none. */
#define PRIVILEGES_DEFAULT_USER "authd"

/* PR_SET_DUMPABLE 0 and PR_SET_NO_NEW_PRIVS 1. Once, before any thread
 * exists (both are inherited by the threads created after). 0, or -1 with err. */
int privileges_harden(char *err, size_t errlen);

/*
 * Becomes user (PRIVILEGES_DEFAULT_USER when NULL) if running as root. Call
 * before any thread exists: the capability bounding set is per thread.
 * - Not root: nothing to drop. A user named in the config (user != NULL) must
 *   be the one authd runs as, else -1: the config asked for an identity
 *   authd cannot take.
 * - Root, and user is "root": stays root, with a warning.
 * - Root, no user in the config and no PRIVILEGES_DEFAULT_USER account on
 *   this host: stays root, with a warning naming the fix.
 * - Root, a user named that does not exist: -1.
 * 0 on success (logged), or -1 with err.
 */
int privileges_drop(const char *user, char *err, size_t errlen);

#endif

/*
 * The RADIUS server: UDP sockets, worker threads, and the path of a request
 * from datagram to reply.
 */
#ifndef AUTHD_SERVER_H
#define AUTHD_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "authd/config.h"

struct server;

/*
 * Binds every listen socket (and the metrics endpoint's, reading its TLS
 * key), becomes the configured user, then opens the decision log and reads
 * the config again as generation 1 (see dispatch_new). Borrows cfg, the
 * config authd started with, which must outlive the server: what only a
 * restart changes comes from it. NULL with a message in err on failure.
 */
struct server *server_new(const struct authd_config *cfg, char *err, size_t errlen);
/*
 * Serves until SIGTERM or SIGINT (SIGHUP reopens the decision log and reloads
 * the config: see dispatch_reload_config). The caller must have blocked those signals in every thread
 * (server_block_signals before creating any). Returns SERVER_STOPPED on a
 * clean stop, SERVER_FAILED if workers failed to start, SERVER_ABANDONED when
 * backend calls (a responder or directory that does not answer) were still
 * running half a second after the signal: the stop does not wait for their
 * timeouts, so the caller must leave at once with _exit() and free nothing
 * those threads still use.
 */
enum server_end { SERVER_STOPPED, SERVER_FAILED, SERVER_ABANDONED };
enum server_end server_run(struct server *s);
void server_free(struct server *s);

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; call first in main. */
void server_block_signals(void);
/*
 * True when a SIGTERM or SIGINT is pending (blocked by server_block_signals and
 * not taken yet): main asks between the steps of starting up, so a stop
 * requested meanwhile waits for one step at most, not for the whole start.
 */
bool server_stop_pending(void);

#endif

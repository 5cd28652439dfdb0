/*
 * When each NAS was last heard, agreed by every authd node, and the end of
 * the live sessions of a NAS silent past sessions.nas_silent_after (it died,
 * or was unplugged, without an Accounting-Off).
 *
 * A NAS may talk to any node. Each node notes in memory when it last heard
 * each configured client (any request that proved it is that NAS) and, every
 * NAS_WATCH_FLUSH_S seconds, writes the times it heard since into one Redis
 * hash, <prefix>nas-heard (field: the client's name; value: Unix seconds).
 * Nodes overwrite each other's times, so one may set back another's by up
 * to NAS_WATCH_FLUSH_S: silence is measured to within that and the nodes'
 * clock skew, far below any sensible limit.
 *
 * Every NAS_WATCH_SWEEP_S seconds one node, whichever takes the lock
 * <prefix>nas-sweep first, sweeps: it reads the times of a window of
 * NAS_WATCH_SWEEP_NAS configured clients and ends, for each NAS silent past
 * the limit, its sessions not updated within the limit (a request racing the
 * sweep updates its session, which then stays). At most
 * NAS_WATCH_SWEEP_SESSIONS sessions end per sweep; the next sweep goes on
 * where it stopped. Sweeps are idempotent, so a node sweeping while another
 * does ends nothing twice. A NAS no node has heard yet has its clock started
 * by the first sweep that looks at it. A stored time that is not a number of
 * seconds, or lies in the future, is logged and ends nothing.
 */
#ifndef AUTHD_NAS_WATCH_H
#define AUTHD_NAS_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#define NAS_WATCH_FLUSH_S        2
#define NAS_WATCH_SWEEP_S        5
#define NAS_WATCH_SWEEP_NAS      64
#define NAS_WATCH_SWEEP_SESSIONS 1000

struct client;
struct live_sessions;
struct redis_pool;
struct nas_watch;

/* Borrows clients (n of them, each client->index below slots), redis and
 * ls, which must outlive it. silent_after > 0 seconds. NULL when out of
 * memory. */
struct nas_watch *nas_watch_new(const struct client *clients, size_t n, size_t slots, struct redis_pool *redis,
                                struct live_sessions *ls, unsigned silent_after);
void nas_watch_free(struct nas_watch *w);

/* A request from c proved it is that NAS. Any thread, on the packet path:
 * a clock read and, at most once a second per client, an atomic store.
 * w NULL: nothing. */
void nas_watch_heard(struct nas_watch *w, const struct client *c);

/* Once a second, from one thread: true when a round (write what was heard,
 * sweep when due) should run now, and none is running; the caller must then
 * run nas_watch_run(w, ...) exactly once, on a thread that may block on
 * Redis, or with cancelled set when it cannot. w NULL: false. */
bool nas_watch_due(struct nas_watch *w);
/* The round nas_watch_due asked for (a work_queue job; arg is w). Cancelled:
 * only marks it done. */
void nas_watch_run(void *arg, bool cancelled);

#endif

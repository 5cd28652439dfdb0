/*
 * From one RADIUS request to one reply (or deliberate silence): client
 * lookup, RADIUS checks, duplicate detection, and which handler answers.
 * The transport (a UDP listener today) hands each request in with a
 * struct dispatch_origin saying where it came from and how to answer.
 * Called concurrently by all worker threads; everything shared is locked
 * inside the tables struct dispatch holds.
 */
#ifndef AUTHD_DISPATCH_H
#define AUTHD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "authd/radius.h"
#include "authd/reply_cache.h"

struct authd_config;
struct authd_metrics;
struct dispatch;
struct generation;
struct generation_files;
struct name_table;
struct redis_pool;

/*
 * Creates the tables, opens the decision log, starts the helpdesk list's
 * mirror and the backend threads, and makes config generation 1 from first
 * (the config and TLS files read before authd gave up root; taken over):
 * what every request uses until a reload replaces it.
 * Borrows cfg (the config authd started with: what only a restart changes),
 * clients (the client name table, index 0 ""), redis (NULL: no redis
 * section) and metrics (NULL: none), which must outlive it. NULL with err.
 */
struct dispatch *dispatch_new(const struct authd_config *cfg, struct generation_files *first,
                              struct name_table *clients, struct redis_pool *redis, struct authd_metrics *metrics,
                              char *err, size_t errlen);
/* Ends the backend work: queued conversations are abandoned (no reply),
 * running ones may finish until deadline (CLOCK_REALTIME; NULL: no limit).
 * -1 when some backend call is still running then (a silent responder, a
 * frozen directory): d must not be freed under it. */
int dispatch_stop(struct dispatch *d, const struct timespec *deadline);
/* Stops (without a deadline) and frees everything. NULL: nothing. */
void dispatch_free(struct dispatch *d);

/*
 * Where a request came from and where its reply goes: what the transport
 * tells the dispatch, so that the path from request to reply assumes no
 * transport. Copied with the request to whichever thread answers it.
 */
struct dispatch_origin {
	enum radius_port port;                  /* the listener's kind: which codes it takes */
	struct sockaddr_storage peer;           /* the NAS: client lookup, duplicates, sessions */
	socklen_t peer_len;
	/* The address the request arrived at, when the transport must send the
	 * reply from it (a UDP socket bound to a wildcard address on a
	 * multi-homed host; for IPv6 with the interface in sin6_scope_id);
	 * ss_family AF_UNSPEC otherwise. */
	struct sockaddr_storage local;
	/* Sends one encoded reply to the peer; 0, or -1 with errno. Called from
	 * any thread (a worker's or a backend's), once per reply. */
	int (*send)(const struct dispatch_origin *origin, const uint8_t *data, size_t len);
	void *transport;                        /* send's own; outlives every request in flight */
};

/* Per-thread scratch space, so no request needs a large stack frame or a
 * shared buffer. */
struct dispatch_scratch {
	uint8_t reply[REPLY_CACHE_MAX_REPLY];
};

/* Handles one RADIUS packet (buf, len) from origin; answers through
 * origin->send, now or later from a backend's thread. Reads the current
 * generation without a reference: the caller is inside its epoch section
 * (see dispatch_reload_config). */
void dispatch_request(struct dispatch *d, const struct dispatch_origin *origin, const uint8_t *buf,
                      size_t len, struct dispatch_scratch *scratch);

/* Once a second, from one thread: */
/* Ends conversations idle past their timeout (decision "timeout"), forgets
 * cached replies past their lifetime, and has the NAS silence watch write and
 * sweep (nas_watch.h) when due. */
void dispatch_end_idle(struct dispatch *d);
/* Picks up CRL files changed since they were read, and says so in the log
 * (inside the caller's epoch section, like dispatch_request). */
void dispatch_reload_changed_files(struct dispatch *d);

/* On SIGHUP: reopens the decision log (after logrotate), saying so in the log. */
void dispatch_reopen_log(struct dispatch *d);
/*
 * On SIGHUP (the main thread): reads the config file again and, when every
 * check passes, makes it the current generation; new conversations use it,
 * those in progress keep theirs. A config that fails any check is refused
 * as a whole and the running one stays (logged and counted). Returns the
 * generation replaced, which workers may still be reading without a
 * reference: the caller waits out their sections (epoch_synchronize) before
 * letting go of it (generation_unref). NULL: refused.
 */
struct generation *dispatch_reload_config(struct dispatch *d);

/* Logs the counters (requests, per NAS what its quotas cost it, revocation
 * checks), at stop. */
void dispatch_log_counters(struct dispatch *d);

#endif

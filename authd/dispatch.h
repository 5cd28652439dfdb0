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
struct authd_metrics_names;
struct name_table;
struct eap_tls_context;
struct dispatch;
struct redis_pool;

/* Creates tables, opens the decision log and starts the backend threads.
 * Borrows cfg, tls, redis (NULL: no redis section; the policy, the
 * live-session table and the session store share it), clients (the client
 * names cfg's clients are indexed by: per-NAS tables have its capacity),
 * metrics (NULL: none; it reads the policy until the dispatch is freed) and
 * names (cfg's, in metrics; NULL without metrics), which must outlive it.
 * NULL with a message in err. */
struct dispatch *dispatch_new(const struct authd_config *cfg, struct eap_tls_context *tls,
                              struct redis_pool *redis, const struct name_table *clients,
                              struct authd_metrics *metrics, const struct authd_metrics_names *names,
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
 * origin->send, now or later from a backend's thread. */
void dispatch_request(struct dispatch *d, const struct dispatch_origin *origin, const uint8_t *buf,
                      size_t len, struct dispatch_scratch *scratch);

/* Once a second, from one thread: */
/* Ends conversations idle past their timeout (decision "timeout"), forgets
 * cached replies past their lifetime, and has the NAS silence watch write and
 * sweep (nas_watch.h) when due. */
void dispatch_end_idle(struct dispatch *d);
/* Picks up CRL files changed since they were read, and says so in the log. */
void dispatch_reload_changed_files(struct dispatch *d);

/* On SIGHUP: reopens the decision log (after logrotate) and reloads the
 * CRLs, saying so in the log. */
void dispatch_reload(struct dispatch *d);

/* Logs the counters (requests, per NAS what its quotas cost it, revocation
 * checks), at stop. */
void dispatch_log_counters(struct dispatch *d);

#endif

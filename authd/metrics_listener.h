/*
 * The metrics endpoint: GET /metrics over HTTP or HTTPS (libevent's evhttp,
 * OpenSSL bufferevents) on a thread of its own, so a scrape never runs on a
 * worker thread. Only the allow-listed networks get an answer (others 403),
 * headers are bounded, bodies refused, slow clients timed out and the
 * connections served at once capped.
 */
#ifndef AUTHD_METRICS_LISTENER_H
#define AUTHD_METRICS_LISTENER_H

#include <stddef.h>

#include "authd/metrics_settings.h"

struct metrics;
struct metrics_listener;

/* What the listener allows a scraper. */
#define METRICS_LISTENER_MAX_HEADERS 8192       /* bytes of request line and headers */
#define METRICS_LISTENER_TIMEOUT_S 5            /* to send a request, or take the answer */
#define METRICS_LISTENER_MAX_CONNECTIONS 64     /* beyond: the rest wait in the backlog */

/*
 * Checks what the settings name and a start would load (the TLS certificate,
 * key and client CA): for `authd -C`. 0, or -1 with a message in err.
 */
int metrics_listener_check(const struct metrics_settings *s, char *err, size_t errlen);

/*
 * Binds the socket and loads the TLS files; serving starts with
 * metrics_listener_start. Borrows s and registry, which must outlive the
 * listener. NULL with a message in err.
 */
struct metrics_listener *metrics_listener_new(const struct metrics_settings *s, struct metrics *registry,
                                              char *err, size_t errlen);
/* Starts the listener's thread. 0, or -1 with a message in err. */
int metrics_listener_start(struct metrics_listener *l, char *err, size_t errlen);
/* Stops the thread (if started) and frees everything. NULL: nothing. */
void metrics_listener_free(struct metrics_listener *l);

#endif

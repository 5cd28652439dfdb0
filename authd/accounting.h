/*
 * Accounting-Requests: each updates the live-session table in Redis, on
 * threads of its own so that a burst of accounting never delays an
 * authentication, and is answered from there.
 */
#ifndef AUTHD_ACCOUNTING_H
#define AUTHD_ACCOUNTING_H

#include <stdbool.h>

struct request;

/* Hands the request to the accounting threads, which answer it: sets
 * *deferred (they own a copy of r and r->rad now), or returns NULL (no
 * reply: the NAS retries) when their queue is full. */
struct radius_reply *accounting_request(struct request *r, bool *deferred);

#endif

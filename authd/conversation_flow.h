/*
 * An Access-Request's EAP conversation and its decision (see
 * conversation_flow.c), for the dispatch files only.
 */
#ifndef AUTHD_CONVERSATION_FLOW_H
#define AUTHD_CONVERSATION_FLOW_H

#include <stdbool.h>

struct dispatch;
struct request;

/*
 * Takes an Access-Request a step further in its conversation (a new one
 * without State). Returns the reply to send (NULL: none), or sets *deferred
 * when the conversation moved to a backend's threads, which then own a copy
 * of r (and r->rad) and answer.
 */
struct radius_reply *conversation_flow_access_request(struct request *r, bool *deferred);

/* Ends the conversations idle past their timeout: each is recorded as
 * "timeout" and freed. */
void conversation_flow_end_idle(struct dispatch *d);

#endif

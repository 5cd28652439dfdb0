/*
 * Live EAP conversations, keyed by the RADIUS State authd handed out.
 *
 * A State is 16 bytes from the OpenSSL CSPRNG (unguessable), is only honoured
 * for the client it was issued to (bound), and dies with the conversation
 * after `timeout` seconds without a request (expires). The table is shared by
 * all worker threads; a conversation is "busy" while one thread works on it,
 * so a second packet for it cannot run the EAP machine concurrently.
 */
#ifndef AUTHD_CONVERSATION_TABLE_H
#define AUTHD_CONVERSATION_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authd/client.h"
#include "policy/ttl_table.h"
#include "eap/eap_tls.h"
#include "policy/decision.h"
#include "policy/policy.h"

#define CONVERSATION_STATE_LEN 16

struct conversation {
	struct ttl_node node;           /* key: the State */
	const struct client *client;
	struct eap_conversation *eap;   /* owned */
	struct decision decision;
	bool decided;                   /* the policy has spoken (decision.accept/reason set) */
	struct policy_result placement; /* what it said, for the Access-Accept */
	enum policy_step step;          /* how far the decision went (it waits on backends) */
	bool busy;
};

enum conversation_miss {
	CONVERSATION_UNKNOWN,     /* no such State: never issued, expired, or finished */
	CONVERSATION_OTHER_NAS,   /* State issued to a different client */
	CONVERSATION_BUSY,        /* another thread is processing it */
};

struct conversation_table;

struct conversation_table *conversation_table_new(size_t max, unsigned timeout_s);
/* Frees the table and every conversation still in it, without logging them. */
void conversation_table_free(struct conversation_table *t);

/*
 * Registers conv (eap and decision already set by the caller, who keeps
 * working on it: it is returned busy) under a fresh State bound to client.
 * Returns 0, or -1 when the table is full or randomness failed.
 */
int conversation_table_add(struct conversation_table *t, struct conversation *conv,
                           const struct client *client);
/* Finds the conversation of this State for this client and marks it busy. */
struct conversation *conversation_table_acquire(struct conversation_table *t,
                                                const uint8_t *state, size_t len,
                                                const struct client *client,
                                                enum conversation_miss *why);
/* Hands a busy conversation back, giving it a fresh timeout. */
void conversation_table_release(struct conversation_table *t, struct conversation *conv);
/* Takes a busy conversation out for good; the caller frees it. */
void conversation_table_remove(struct conversation_table *t, struct conversation *conv);
/* Takes out one idle conversation whose timeout passed, or returns NULL. */
struct conversation *conversation_table_pop_expired(struct conversation_table *t);

/* Frees a conversation that is in no table. NULL is a no-op. */
void conversation_free(struct conversation *conv);

#endif

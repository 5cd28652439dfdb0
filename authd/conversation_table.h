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
	/* Its NAS's conversations in the table, least recently used first
	 * (the table's: where a NAS's quota finds what to give up). */
	struct conversation *nas_older, *nas_newer;
};

enum conversation_miss {
	CONVERSATION_UNKNOWN,     /* no such State: never issued, expired, or finished */
	CONVERSATION_OTHER_NAS,   /* State issued to a different client */
	CONVERSATION_BUSY,        /* another thread is processing it */
};

struct conversation_table;

/* max: conversations in all; n_clients: the clients of the config (their
 * index field below it), each holding at most its max_conversations. */
struct conversation_table *conversation_table_new(size_t max, unsigned timeout_s, size_t n_clients);
/* Frees the table and every conversation still in it, without logging them. */
void conversation_table_free(struct conversation_table *t);

/*
 * Registers conv (eap and decision already set by the caller, who keeps
 * working on it: it is returned busy) under a fresh State bound to client.
 * Room is made when needed, never at another NAS's expense: a client at its
 * own max_conversations gives up its oldest idle conversation; a full table
 * takes the oldest idle one of the client holding the most. The one that had
 * to go is returned in *evicted, out of the table, for the caller to record
 * and free (NULL: none). Returns 0, or -1 (nothing idle to give up, or
 * randomness failed).
 */
int conversation_table_add(struct conversation_table *t, struct conversation *conv,
                           const struct client *client, struct conversation **evicted);
/* Conversations client holds now, and how many it gave up to make room. */
size_t conversation_table_held(struct conversation_table *t, const struct client *client);
unsigned long long conversation_table_evicted(struct conversation_table *t,
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

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
#include "common/ttl_table.h"
#include "eap/eap_tls.h"
#include "policy/decision.h"
#include "policy/policy.h"

struct generation;

#define CONVERSATION_STATE_LEN 16

struct conversation {
	struct ttl_node node;           /* key: the State */
	struct generation *gen;         /* a reference: the config it started under, to its end */
	const struct client *client;    /* of gen's config */
	struct eap_conversation *eap;   /* owned */
	struct decision decision;
	bool decided;                   /* the policy has spoken (decision.accept/reason set) */
	struct policy_result placement; /* what it said, for the Access-Accept */
	enum policy_step step;          /* how far the decision went (it waits on backends) */
	bool busy;
	size_t buffered;                /* bytes it held when last handed back (the table's count) */
	/* Its NAS's conversations in the table, least recently used first
	 * (the table's: where a NAS's quota finds what to give up). */
	struct conversation *nas_older, *nas_newer;
};

enum conversation_miss {
	CONVERSATION_UNKNOWN,     /* no such State: never issued, expired, or finished */
	CONVERSATION_OTHER_NAS,   /* State issued to a different client */
	CONVERSATION_BUSY,        /* another thread is processing it */
};

/* Why a conversation had to give way to others. */
enum conversation_room {
	CONVERSATION_ROOM_NAS_COUNT,    /* its NAS at its max_conversations */
	CONVERSATION_ROOM_TABLE_COUNT,  /* the table full, its NAS holding the most */
	CONVERSATION_ROOM_NAS_BYTES,    /* its NAS over its max_buffered_bytes */
	CONVERSATION_ROOM_TABLE_BYTES,  /* all over the byte budget, its NAS buffering the most */
};

struct conversation_eviction {
	struct conversation *conv;      /* out of the table: the caller records and frees it */
	enum conversation_room why;
};

struct conversation_table;

/* max: conversations in all; max_buffered: bytes all of them may buffer
 * (eap_conversation_buffered, 0: no budget); nas_slots: above every
 * client's index (the capacity of the client names), each client holding
 * at most its max_conversations and max_buffered_bytes. */
struct conversation_table *conversation_table_new(size_t max, size_t max_buffered, unsigned timeout_s,
                                                  size_t nas_slots);
/* Frees the table and every conversation still in it, without logging them. */
void conversation_table_free(struct conversation_table *t);

/*
 * Registers conv (eap and decision already set by the caller, who keeps
 * working on it: it is returned busy) under a fresh State bound to client.
 * Room is made when needed, never at another NAS's expense: a client at its
 * own max_conversations gives up its oldest idle conversation; a full table
 * takes the oldest idle one of the client holding the most. The one that had
 * to go is returned in *evicted (conv NULL: none). Returns 0, or -1 (nothing
 * idle to give up, or randomness failed).
 */
int conversation_table_add(struct conversation_table *t, struct conversation *conv,
                           const struct client *client, struct conversation_eviction *evicted);
/* What one client (by index) holds now, how many conversations it gave up to
 * make room, and how many new ones it was refused (nothing idle to give up). */
struct conversation_share {
	size_t held;                    /* conversations */
	size_t buffered;                /* bytes they buffer (as last handed back) */
	unsigned long long evicted;
	unsigned long long refused;
};
struct conversation_share conversation_table_share(struct conversation_table *t, size_t nas);
/* Finds the conversation of this State for this client and marks it busy. */
struct conversation *conversation_table_acquire(struct conversation_table *t,
                                                const uint8_t *state, size_t len,
                                                const struct client *client,
                                                enum conversation_miss *why);
/*
 * Hands a busy conversation back, giving it a fresh timeout, with the bytes
 * it buffers now. When that puts its client over its max_buffered_bytes, the
 * client's own oldest idle conversations give way; when it puts the table
 * over its budget, those of the client buffering the most do. Up to max of
 * them are returned in evicted[] (the count); conv itself is among them only
 * when nothing older of its client is idle. The caller must not touch conv
 * after this, unless it is among them.
 */
size_t conversation_table_release(struct conversation_table *t, struct conversation *conv,
                                  size_t buffered, struct conversation_eviction *evicted, size_t max);
/* Takes a busy conversation out for good; the caller frees it. */
void conversation_table_remove(struct conversation_table *t, struct conversation *conv);
/* Takes out one idle conversation whose timeout passed, or returns NULL. */
struct conversation *conversation_table_pop_expired(struct conversation_table *t);

/* Frees a conversation that is in no table. NULL is a no-op. */
void conversation_free(struct conversation *conv);

#endif

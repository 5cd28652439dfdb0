#include "authd/conversation_table.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

struct conversation_table {
	pthread_mutex_t lock;
	struct ttl_table *states;
};

static struct conversation *from_node(struct ttl_node *node)
{
	return (struct conversation *)((char *)node - offsetof(struct conversation, node));
}

struct conversation_table *conversation_table_new(size_t max, unsigned timeout_s)
{
	struct conversation_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->states = ttl_table_new(max, (uint64_t)timeout_s * 1000);
	if (t->states == NULL) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void conversation_table_free(struct conversation_table *t)
{
	struct ttl_node *node;

	if (t == NULL)
		return;
	while ((node = ttl_table_oldest(t->states)) != NULL) {
		ttl_table_remove(t->states, node);
		conversation_free(from_node(node));
	}
	ttl_table_free(t->states);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int conversation_table_add(struct conversation_table *t, struct conversation *conv,
                           const struct client *client)
{
	int rc;

	conv->client = client;
	conv->busy = true;
	conv->node.keylen = CONVERSATION_STATE_LEN;
	if (RAND_bytes(conv->node.key, CONVERSATION_STATE_LEN) != 1)
		return -1;
	pthread_mutex_lock(&t->lock);
	/* 128 random bits do not collide in practice; checking costs nothing. */
	if (ttl_table_find(t->states, conv->node.key, CONVERSATION_STATE_LEN) != NULL)
		rc = -1;
	else
		rc = ttl_table_insert(t->states, &conv->node, ttl_now_ms());
	pthread_mutex_unlock(&t->lock);
	return rc;
}

struct conversation *conversation_table_acquire(struct conversation_table *t,
                                                const uint8_t *state, size_t len,
                                                const struct client *client,
                                                enum conversation_miss *why)
{
	struct conversation *conv = NULL;
	struct ttl_node *node;

	pthread_mutex_lock(&t->lock);
	node = len == CONVERSATION_STATE_LEN ? ttl_table_find(t->states, state, len) : NULL;
	if (node == NULL) {
		*why = CONVERSATION_UNKNOWN;
	} else if (from_node(node)->client != client) {
		*why = CONVERSATION_OTHER_NAS;
	} else if (from_node(node)->busy) {
		*why = CONVERSATION_BUSY;
	} else {
		conv = from_node(node);
		conv->busy = true;
		ttl_table_touch(t->states, node, ttl_now_ms());
	}
	pthread_mutex_unlock(&t->lock);
	return conv;
}

void conversation_table_release(struct conversation_table *t, struct conversation *conv)
{
	pthread_mutex_lock(&t->lock);
	conv->busy = false;
	ttl_table_touch(t->states, &conv->node, ttl_now_ms());
	pthread_mutex_unlock(&t->lock);
}

void conversation_table_remove(struct conversation_table *t, struct conversation *conv)
{
	pthread_mutex_lock(&t->lock);
	ttl_table_remove(t->states, &conv->node);
	pthread_mutex_unlock(&t->lock);
}

struct conversation *conversation_table_pop_expired(struct conversation_table *t)
{
	uint64_t now = ttl_now_ms();
	struct conversation *conv = NULL;
	struct ttl_node *node;

	pthread_mutex_lock(&t->lock);
	while ((node = ttl_table_oldest_expired(t->states, now)) != NULL) {
		if (!from_node(node)->busy) {
			ttl_table_remove(t->states, node);
			conv = from_node(node);
			break;
		}
		/* A thread is working on it right now: not abandoned. */
		ttl_table_touch(t->states, node, now);
	}
	pthread_mutex_unlock(&t->lock);
	return conv;
}

void conversation_free(struct conversation *conv)
{
	if (conv == NULL)
		return;
	eap_conversation_free(conv->eap);
	decision_clear(&conv->decision);
	free(conv);
}

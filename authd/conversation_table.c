#include "authd/conversation_table.h"

#include <pthread.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "authd/generation.h"
#include "common/clock.h"

/* What one client holds, so that no NAS can take another's room. */
struct nas_share {
	struct conversation_share counts;
	struct conversation *oldest, *newest;   /* its conversations, least recently used first */
};

struct conversation_table {
	pthread_mutex_t lock;
	struct ttl_table *states;
	size_t max;
	size_t buffered, max_buffered;  /* bytes all conversations buffer, and the budget (0: none) */
	struct nas_share *nas;          /* by client index */
	size_t n_nas;
	size_t n_linked;                /* above every index a conversation joined: what a scan covers */
};

static struct conversation *from_node(struct ttl_node *node)
{
	return (struct conversation *)((char *)node - offsetof(struct conversation, node));
}

struct conversation_table *conversation_table_new(size_t max, size_t max_buffered, unsigned timeout_s,
                                                  size_t nas_slots)
{
	struct conversation_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->max = max;
	t->max_buffered = max_buffered;
	t->n_nas = nas_slots;
	t->states = ttl_table_new(max, (uint64_t)timeout_s * 1000);
	t->nas = calloc(nas_slots > 0 ? nas_slots : 1, sizeof(*t->nas));
	if (t->states == NULL || t->nas == NULL) {
		ttl_table_free(t->states);
		free(t->nas);
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
	free(t->nas);
	free(t);
}

static struct nas_share *share_of(struct conversation_table *t, const struct client *client)
{
	return &t->nas[client->index < t->n_nas ? client->index : 0];
}

/* A conversation joins its NAS's list (at the young end), or leaves it. */
static void nas_link(struct conversation_table *t, struct conversation *conv)
{
	struct nas_share *share = share_of(t, conv->client);

	if ((size_t)(share - t->nas) >= t->n_linked)
		t->n_linked = (size_t)(share - t->nas) + 1;
	conv->nas_newer = NULL;
	conv->nas_older = share->newest;
	if (share->newest != NULL)
		share->newest->nas_newer = conv;
	else
		share->oldest = conv;
	share->newest = conv;
}

static void nas_unlink(struct conversation_table *t, struct conversation *conv)
{
	struct nas_share *share = share_of(t, conv->client);

	if (conv->nas_older != NULL)
		conv->nas_older->nas_newer = conv->nas_newer;
	else
		share->oldest = conv->nas_newer;
	if (conv->nas_newer != NULL)
		conv->nas_newer->nas_older = conv->nas_older;
	else
		share->newest = conv->nas_older;
	conv->nas_older = conv->nas_newer = NULL;
}

/* Used just now: the young end of the table and of its NAS's list. */
static void touch(struct conversation_table *t, struct conversation *conv, uint64_t now)
{
	ttl_table_touch(t->states, &conv->node, now);
	nas_unlink(t, conv);
	nas_link(t, conv);
}

/* Out of the table and its NAS's list. */
static void take_out(struct conversation_table *t, struct conversation *conv)
{
	struct nas_share *share = share_of(t, conv->client);

	ttl_table_remove(t->states, &conv->node);
	nas_unlink(t, conv);
	share->counts.held--;
	share->counts.buffered -= conv->buffered;
	t->buffered -= conv->buffered;
}

/* The client (index) that holds the most conversations, or buffers the most
 * bytes: the one crowding the others out. Ties go to `nas`. */
static size_t holding_most(const struct conversation_table *t, size_t nas, bool bytes)
{
	for (size_t i = 0; i < t->n_linked; i++) {
		const struct conversation_share *a = &t->nas[i].counts, *b = &t->nas[nas].counts;

		if (bytes ? a->buffered > b->buffered : a->held > b->held)
			nas = i;
	}
	return nas;
}

/* The least recently used conversation of the client at index nas that no
 * thread is working on (a half-open one, typically), or NULL. Only that
 * NAS's own list is walked, past the few being worked on. */
static struct conversation *oldest_idle_of(struct conversation_table *t, size_t nas)
{
	for (struct conversation *conv = t->nas[nas].oldest; conv != NULL; conv = conv->nas_newer) {
		if (!conv->busy)
			return conv;
	}
	return NULL;
}

/* Which conversation must go for client to start one, if any, and why: NULL
 * when there is room; *none when room is needed and nothing may go. */
static struct conversation *victim_for(struct conversation_table *t, const struct client *client,
                                       bool *none, enum conversation_room *why)
{
	size_t nas = (size_t)(share_of(t, client) - t->nas);
	struct conversation *victim;

	*none = false;
	*why = CONVERSATION_ROOM_TABLE_COUNT;
	if (client->max_conversations > 0 && t->nas[nas].counts.held >= client->max_conversations) {
		/* At its own quota: it makes room itself. */
		*why = CONVERSATION_ROOM_NAS_COUNT;
	} else if (ttl_table_count(t->states) >= t->max) {
		/* Full: the client holding the most makes room, which is this one
		 * whenever it is the one crowding the others out. */
		nas = holding_most(t, nas, false);
	} else {
		return NULL;
	}
	victim = oldest_idle_of(t, nas);
	*none = victim == NULL;
	return victim;
}

int conversation_table_add(struct conversation_table *t, struct conversation *conv,
                           const struct client *client, struct conversation_eviction *evicted)
{
	struct conversation *victim;
	bool none;
	int rc = -1;

	evicted->conv = NULL;
	conv->client = client;
	conv->busy = true;
	conv->buffered = 0;
	conv->node.keylen = CONVERSATION_STATE_LEN;
	if (RAND_bytes(conv->node.key, CONVERSATION_STATE_LEN) != 1)
		return -1;
	pthread_mutex_lock(&t->lock);
	victim = victim_for(t, client, &none, &evicted->why);
	/* 128 random bits do not collide in practice; checking costs nothing. */
	if (none) {
		share_of(t, client)->counts.refused++;
		goto out;
	}
	if (ttl_table_find(t->states, conv->node.key, CONVERSATION_STATE_LEN) != NULL)
		goto out;
	if (victim != NULL) {
		take_out(t, victim);
		share_of(t, victim->client)->counts.evicted++;
		evicted->conv = victim;
	}
	rc = ttl_table_insert(t->states, &conv->node, clock_now_ms());
	if (rc == 0) {
		nas_link(t, conv);
		share_of(t, client)->counts.held++;
	}
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

struct conversation_share conversation_table_share(struct conversation_table *t, size_t nas)
{
	struct conversation_share share;

	pthread_mutex_lock(&t->lock);
	share = t->nas[nas < t->n_nas ? nas : 0].counts;
	pthread_mutex_unlock(&t->lock);
	return share;
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
	} else if (from_node(node)->client->index != client->index) {
		/* By index, not by pointer: after a reload the same NAS is a
		 * client of another generation's config. */
		*why = CONVERSATION_OTHER_NAS;
	} else if (from_node(node)->busy) {
		*why = CONVERSATION_BUSY;
	} else {
		conv = from_node(node);
		conv->busy = true;
		touch(t, conv, clock_now_ms());
	}
	pthread_mutex_unlock(&t->lock);
	return conv;
}

/* Which client (index) must give up a conversation for the bytes buffered to
 * fit, and why; false when they fit. */
static bool over_bytes(const struct conversation_table *t, const struct client *client, size_t *nas,
                       enum conversation_room *why)
{
	const struct nas_share *share = &t->nas[client->index < t->n_nas ? client->index : 0];

	*nas = (size_t)(share - t->nas);
	if (client->max_buffered_bytes > 0 && share->counts.buffered > client->max_buffered_bytes) {
		*why = CONVERSATION_ROOM_NAS_BYTES;
		return true;
	}
	if (t->max_buffered > 0 && t->buffered > t->max_buffered) {
		*nas = holding_most(t, *nas, true);
		*why = CONVERSATION_ROOM_TABLE_BYTES;
		return true;
	}
	return false;
}

size_t conversation_table_release(struct conversation_table *t, struct conversation *conv,
                                  size_t buffered, struct conversation_eviction *evicted, size_t max)
{
	struct nas_share *share = share_of(t, conv->client);
	const struct client *client = conv->client;
	enum conversation_room why;
	size_t n = 0, nas;

	pthread_mutex_lock(&t->lock);
	conv->busy = false;
	share->counts.buffered += buffered - conv->buffered;
	t->buffered += buffered - conv->buffered;
	conv->buffered = buffered;
	touch(t, conv, clock_now_ms());
	while (n < max && over_bytes(t, client, &nas, &why)) {
		struct conversation *victim = oldest_idle_of(t, nas);

		if (victim == NULL)
			break;
		take_out(t, victim);
		t->nas[nas].counts.evicted++;
		evicted[n++] = (struct conversation_eviction){ .conv = victim, .why = why };
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void conversation_table_remove(struct conversation_table *t, struct conversation *conv)
{
	pthread_mutex_lock(&t->lock);
	take_out(t, conv);
	pthread_mutex_unlock(&t->lock);
}

struct conversation *conversation_table_pop_expired(struct conversation_table *t)
{
	uint64_t now = clock_now_ms();
	struct conversation *conv = NULL;
	struct ttl_node *node;

	pthread_mutex_lock(&t->lock);
	while ((node = ttl_table_oldest_expired(t->states, now)) != NULL) {
		if (!from_node(node)->busy) {
			conv = from_node(node);
			take_out(t, conv);
			break;
		}
		/* A thread is working on it right now: not abandoned. */
		touch(t, from_node(node), now);
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
	generation_unref(conv->gen);
	free(conv);
}

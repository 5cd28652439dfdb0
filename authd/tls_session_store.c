#include "authd/tls_session_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "authd/log.h"
#include "common/clock.h"
#include "common/report.h"
#include "common/seal.h"
#include "common/ttl_table.h"

/* A session in the process: keyed by its id (at most 32 bytes). */
struct local_session {
	struct ttl_node node;
	size_t len;
	uint8_t der[];
};

struct tls_session_store {
	struct redis_pool *redis;       /* NULL: the local table */
	const struct seal *seal;        /* the node key: what is in Redis is sealed */
	unsigned lifetime_s;
	atomic_ullong refused;          /* values in Redis that did not open */
	pthread_mutex_t lock;
	struct ttl_table *local;
};

struct tls_session_store *tls_session_store_new(struct redis_pool *redis, unsigned lifetime_s,
                                                size_t capacity)
{
	struct tls_session_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->redis = redis;
	s->seal = redis != NULL ? redis_pool_seal(redis) : NULL;
	s->lifetime_s = lifetime_s;
	atomic_init(&s->refused, 0);
	pthread_mutex_init(&s->lock, NULL);
	if (redis == NULL && (s->local = ttl_table_new(capacity, (uint64_t)lifetime_s * 1000)) == NULL) {
		tls_session_store_free(s);
		return NULL;
	}
	return s;
}

static struct local_session *local_of(struct ttl_node *node)
{
	return (struct local_session *)((char *)node - offsetof(struct local_session, node));
}

/* A session holds its master secret: wiped before it goes. */
static void free_local(struct ttl_node *node)
{
	struct local_session *e = local_of(node);

	OPENSSL_cleanse(e->der, e->len);
	free(e);
}

static void drop_local(struct tls_session_store *s, struct ttl_node *node)
{
	ttl_table_remove(s->local, node);
	free_local(node);
}

void tls_session_store_free(struct tls_session_store *s)
{
	struct ttl_node *node;

	if (s == NULL)
		return;
	if (s->redis != NULL)
		log_msg(LOG_INFO, "tls session store: refused=%llu (values in Redis that did not open)",
		        atomic_load(&s->refused));
	if (s->local != NULL) {
		while ((node = ttl_table_oldest(s->local)) != NULL)
			drop_local(s, node);
		ttl_table_free(s->local);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int tls_session_store_blocks(const struct tls_session_store *s)
{
	return s->redis != NULL;
}

static void hex(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void redis_key(const struct tls_session_store *s, const uint8_t *id, size_t idlen, char *key,
                      size_t keylen)
{
	char idhex[65];

	hex(id, idlen, idhex);
	snprintf(key, keylen, "%stls-session:%s", redis_pool_prefix(s->redis), idhex);
}

static int local_put(struct tls_session_store *s, const uint8_t *id, size_t idlen, const uint8_t *der,
                     size_t derlen)
{
	struct local_session *e = malloc(sizeof(*e) + derlen);
	struct ttl_node *old;

	if (e == NULL)
		return -1;
	memset(&e->node, 0, sizeof(e->node));
	memcpy(e->node.key, id, idlen);
	e->node.keylen = idlen;
	e->len = derlen;
	memcpy(e->der, der, derlen);
	pthread_mutex_lock(&s->lock);
	while ((old = ttl_table_oldest_expired(s->local, clock_now_ms())) != NULL)
		drop_local(s, old);
	if ((old = ttl_table_find(s->local, id, idlen)) != NULL)
		drop_local(s, old);
	/* Full: the oldest session makes room. */
	if ((old = ttl_table_insert_evicting(s->local, &e->node, clock_now_ms())) != NULL)
		free_local(old);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int tls_session_store_put(struct tls_session_store *s, const uint8_t *id, size_t idlen,
                          const uint8_t *der, size_t derlen, char *err, size_t errlen)
{
	char key[160], ttl[16], *value;
	const char *argv[5] = { "SET", key, NULL, "EX", ttl };
	redisReply *r;

	if (idlen == 0 || idlen > TTL_KEY_MAX) {
		snprintf(err, errlen, "session id of %zu bytes", idlen);
		return -1;
	}
	if (s->redis == NULL)
		return local_put(s, id, idlen, der, derlen) < 0 ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	if (s->seal == NULL) {
		snprintf(err, errlen, "no node key (redis.key_file): sessions are not kept in Redis");
		return -1;
	}
	/* Sealed for its key name: the master secret stays secret, and a value
	 * copied under another session id does not open there. */
	redis_key(s, id, idlen, key, sizeof(key));
	if ((value = seal_seal(s->seal, der, derlen, key, strlen(key))) == NULL) {
		snprintf(err, errlen, "cannot seal the session");
		return -1;
	}
	snprintf(ttl, sizeof(ttl), "%u", s->lifetime_s);
	argv[2] = value;
	r = redis_pool_command(s->redis, 5, argv, err, errlen);
	free(value);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

enum tls_session_store_answer tls_session_store_get(struct tls_session_store *s, const uint8_t *id,
                                                    size_t idlen, uint8_t **der, size_t *derlen,
                                                    char *err, size_t errlen)
{
	char key[160];
	const char *argv[2] = { "GET", key };
	struct ttl_node *node;
	redisReply *r;
	enum tls_session_store_answer found = TLS_SESSION_STORE_NONE;

	*der = NULL;
	if (idlen == 0 || idlen > TTL_KEY_MAX)
		return TLS_SESSION_STORE_NONE;
	if (s->redis == NULL) {
		pthread_mutex_lock(&s->lock);
		node = ttl_table_find(s->local, id, idlen);
		if (node != NULL && node->expires_ms > clock_now_ms()) {
			struct local_session *e = local_of(node);

			if ((*der = malloc(e->len)) != NULL) {
				memcpy(*der, e->der, e->len);
				*derlen = e->len;
				found = TLS_SESSION_STORE_FOUND;
			}
		}
		pthread_mutex_unlock(&s->lock);
		return found;
	}
	if (s->seal == NULL)
		return TLS_SESSION_STORE_NONE;
	redis_key(s, id, idlen, key, sizeof(key));
	if ((r = redis_pool_command(s->redis, 2, argv, err, errlen)) == NULL)
		return TLS_SESSION_STORE_ERROR;
	/* A value that does not open is no session: the device gets a full
	 * handshake, and the operator hears of it (rate-limited: whoever writes
	 * Redis could otherwise flood the log). */
	if (r->type == REDIS_REPLY_STRING) {
		int rc = seal_open(s->seal, r->str, r->len, key, strlen(key), der, derlen);

		found = rc == SEAL_OK ? TLS_SESSION_STORE_FOUND : TLS_SESSION_STORE_NONE;
		if (found != TLS_SESSION_STORE_FOUND) {
			atomic_fetch_add(&s->refused, 1);
			report_refused("tls session %s in Redis ignored: %s", key, seal_error_text(rc));
		}
	} else if (r->type != REDIS_REPLY_NIL) {
		atomic_fetch_add(&s->refused, 1);
		report_refused("tls session %s in Redis ignored: not a string", key);
	}
	freeReplyObject(r);
	return found;
}

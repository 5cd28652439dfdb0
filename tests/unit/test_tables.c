/*
 * The two shared tables on the request path: RFC 5080 duplicate detection
 * (reply cache) and State handling (conversation table: unguessable, bound to
 * the client, single-threaded per conversation, expiring), and the depth of
 * a backend's work queue that the metrics read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd/conversation_table.h"
#include "authd/reply_cache.h"
#include "authd/work_queue.h"

static struct sockaddr_storage nas(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	return ss;
}

static void test_retransmission_gets_identical_reply(void **state)
{
	struct reply_cache *c = reply_cache_new(16, 30);
	struct sockaddr_storage a = nas("192.0.2.1", 40000), b = nas("192.0.2.1", 40001);
	uint8_t auth[16] = { 1, 2, 3 }, other[16] = { 9 };
	uint8_t reply[] = { 11, 7, 0, 20, 0xde, 0xad }, out[REPLY_CACHE_MAX_REPLY];
	size_t outlen = 0;

	assert_int_equal(reply_cache_begin(c, &a, 7, auth, out, &outlen), REPLY_CACHE_NEW);
	/* The NAS retries while the first copy is still being worked on. */
	assert_int_equal(reply_cache_begin(c, &a, 7, auth, out, &outlen), REPLY_CACHE_IN_PROGRESS);
	reply_cache_complete(c, &a, 7, auth, reply, sizeof(reply));
	assert_int_equal(reply_cache_begin(c, &a, 7, auth, out, &outlen), REPLY_CACHE_HIT);
	assert_int_equal(outlen, sizeof(reply));
	assert_memory_equal(out, reply, sizeof(reply));
	/* Same id, other authenticator or other source port: a new request. */
	assert_int_equal(reply_cache_begin(c, &a, 7, other, out, &outlen), REPLY_CACHE_NEW);
	assert_int_equal(reply_cache_begin(c, &b, 7, auth, out, &outlen), REPLY_CACHE_NEW);
	/* A late answer to the request it replaced does not land on the new one. */
	reply_cache_complete(c, &a, 7, auth, reply, sizeof(reply));
	assert_int_equal(reply_cache_begin(c, &a, 7, other, out, &outlen), REPLY_CACHE_IN_PROGRESS);
	/* No reply sent: forgotten, so a retry is processed afresh. */
	reply_cache_complete(c, &b, 7, auth, NULL, 0);
	assert_int_equal(reply_cache_begin(c, &b, 7, auth, out, &outlen), REPLY_CACHE_NEW);
	reply_cache_free(c);
}

/* Bounded, and never refusing: when full, the oldest entry makes room. A NAS
 * reusing an Identifier replaces its entry, so a steady stream of requests
 * from one port never grows the cache past 256 entries. */
static void test_reply_cache_is_bounded(void **state)
{
	struct reply_cache *c = reply_cache_new(2, 30);
	struct sockaddr_storage a = nas("192.0.2.1", 1812);
	uint8_t out[REPLY_CACHE_MAX_REPLY];
	size_t outlen;

	for (uint8_t id = 0; id < 3; id++)
		assert_int_equal(reply_cache_begin(c, &a, id, (uint8_t[16]){ id }, out, &outlen), REPLY_CACHE_NEW);
	/* id 0 was the oldest: evicted, so its retransmission is new again; id 2 is in progress. */
	assert_int_equal(reply_cache_begin(c, &a, 0, (uint8_t[16]){ 0 }, out, &outlen), REPLY_CACHE_NEW);
	assert_int_equal(reply_cache_begin(c, &a, 2, (uint8_t[16]){ 2 }, out, &outlen), REPLY_CACHE_IN_PROGRESS);
	reply_cache_free(c);
	c = reply_cache_new(300, 30);
	for (unsigned n = 0; n < 10000; n++)
		assert_int_equal(reply_cache_begin(c, &a, (uint8_t)n, (uint8_t[16]){ (uint8_t)n, (uint8_t)(n >> 8) },
		                                   out, &outlen), REPLY_CACHE_NEW);
	reply_cache_free(c);
}

static struct conversation *new_conversation(void)
{
	struct conversation *conv = calloc(1, sizeof(*conv));

	assert_non_null(conv);
	return conv;
}

/* Hands conv back holding `buffered` bytes; nothing had to give way. */
static void hand_back(struct conversation_table *t, struct conversation *conv, size_t buffered)
{
	struct conversation_eviction evicted[4];

	assert_int_equal(conversation_table_release(t, conv, buffered, evicted, 4), 0);
}

static void test_state_is_bound_to_its_client(void **state)
{
	struct conversation_eviction evicted;
	struct conversation_table *t = conversation_table_new(8, 0, 30, 3);
	/* Clients are told apart by index: a reload gives the same NAS another struct. */
	struct client sw1 = { .name = "sw1", .index = 1 }, sw2 = { .name = "sw2", .index = 2 };
	struct conversation *conv = new_conversation(), *again;
	enum conversation_miss why;
	uint8_t st[CONVERSATION_STATE_LEN];

	assert_int_equal(conversation_table_add(t, conv, &sw1, &evicted), 0);
	memcpy(st, conv->node.key, sizeof(st));
	/* Busy until released: a second thread may not run the same EAP machine. */
	assert_null(conversation_table_acquire(t, st, sizeof(st), &sw1, &why));
	assert_int_equal(why, CONVERSATION_BUSY);
	hand_back(t, conv, 0);
	assert_null(conversation_table_acquire(t, st, sizeof(st), &sw2, &why));
	assert_int_equal(why, CONVERSATION_OTHER_NAS);
	st[0] ^= 1;
	assert_null(conversation_table_acquire(t, st, sizeof(st), &sw1, &why));
	assert_int_equal(why, CONVERSATION_UNKNOWN);
	assert_null(conversation_table_acquire(t, st, 3, &sw1, &why));
	st[0] ^= 1;
	again = conversation_table_acquire(t, st, sizeof(st), &sw1, &why);
	assert_ptr_equal(again, conv);
	conversation_table_remove(t, conv);
	conversation_free(conv);
	assert_null(conversation_table_acquire(t, st, sizeof(st), &sw1, &why));
	conversation_table_free(t);
}

static void test_states_differ(void **state)
{
	struct conversation_eviction evicted;
	struct conversation_table *t = conversation_table_new(8, 0, 30, 1);
	struct client sw = { .name = "sw" };
	struct conversation *a = new_conversation(), *b = new_conversation();

	assert_int_equal(conversation_table_add(t, a, &sw, &evicted), 0);
	assert_int_equal(conversation_table_add(t, b, &sw, &evicted), 0);
	assert_memory_not_equal(a->node.key, b->node.key, CONVERSATION_STATE_LEN);
	conversation_table_free(t);   /* frees both */
}

static void test_idle_conversations_expire(void **state)
{
	struct conversation_eviction evicted;
	struct conversation_table *t = conversation_table_new(8, 0, 1, 1);
	struct client sw = { .name = "sw" };
	struct conversation *idle = new_conversation(), *busy = new_conversation();

	assert_int_equal(conversation_table_add(t, idle, &sw, &evicted), 0);
	assert_int_equal(conversation_table_add(t, busy, &sw, &evicted), 0);
	hand_back(t, idle, 0);
	assert_null(conversation_table_pop_expired(t));
	usleep(1100 * 1000);
	/* Only the idle one: the busy one is being worked on, not abandoned. */
	assert_ptr_equal(conversation_table_pop_expired(t), idle);
	assert_null(conversation_table_pop_expired(t));
	conversation_free(idle);
	conversation_table_free(t);
}

static void test_table_is_bounded(void **state)
{
	struct conversation_eviction evicted;
	struct conversation_table *t = conversation_table_new(1, 0, 30, 1);
	struct client sw = { .name = "sw" };
	struct conversation *a = new_conversation(), *b = new_conversation();

	assert_int_equal(conversation_table_add(t, a, &sw, &evicted), 0);
	assert_int_equal(conversation_table_add(t, b, &sw, &evicted), -1);
	conversation_free(b);
	conversation_table_free(t);
}

/* A full table: the NAS holding the most gives up its oldest idle
 * conversation, whoever asks; a NAS at its own quota gives up its own. */
static void test_nas_quotas(void **state)
{
	struct conversation_table *t = conversation_table_new(4, 0, 30, 2);
	struct client flood = { .name = "flood", .index = 0 }, other = { .name = "other", .index = 1 };
	struct conversation *c[4], *mine = new_conversation(), *next = new_conversation();
	struct conversation_eviction evicted;

	for (int i = 0; i < 4; i++) {
		c[i] = new_conversation();
		assert_int_equal(conversation_table_add(t, c[i], &flood, &evicted), 0);
		assert_null(evicted.conv);
		hand_back(t, c[i], 0);   /* half-open: waiting for the NAS */
	}
	assert_int_equal(conversation_table_add(t, mine, &other, &evicted), 0);
	assert_ptr_equal(evicted.conv, c[0]);           /* the flooding NAS's oldest */
	assert_int_equal(evicted.why, CONVERSATION_ROOM_TABLE_COUNT);
	conversation_free(evicted.conv);
	assert_int_equal(conversation_table_share(t, flood.index).held, 3);
	assert_int_equal(conversation_table_share(t, other.index).held, 1);
	assert_int_equal(conversation_table_add(t, next, &flood, &evicted), 0);
	assert_ptr_equal(evicted.conv, c[1]);           /* it makes room itself, not at other's expense */
	conversation_free(evicted.conv);
	assert_int_equal(conversation_table_share(t, flood.index).evicted, 2);
	assert_int_equal(conversation_table_share(t, other.index).evicted, 0);
	conversation_table_free(t);
}

/* A NAS gives up its least recently used conversation: one it just used again
 * stays, whatever other NASes hold around it. */
static void test_nas_quota_takes_least_recently_used(void **state)
{
	struct conversation_table *t = conversation_table_new(100, 0, 30, 2);
	struct client sw = { .name = "sw", .index = 0, .max_conversations = 3 };
	struct client other = { .name = "other", .index = 1 };
	struct conversation *c[3], *o = new_conversation(), *n = new_conversation(), *again;
	struct conversation_eviction evicted;
	enum conversation_miss why;

	for (int i = 0; i < 3; i++) {
		c[i] = new_conversation();
		assert_int_equal(conversation_table_add(t, c[i], &sw, &evicted), 0);
		hand_back(t, c[i], 0);
		if (i == 0) {
			assert_int_equal(conversation_table_add(t, o, &other, &evicted), 0);
			hand_back(t, o, 0);
		}
	}
	/* The device behind c[0] answers: it is the most recently used now. */
	again = conversation_table_acquire(t, c[0]->node.key, CONVERSATION_STATE_LEN, &sw, &why);
	assert_ptr_equal(again, c[0]);
	hand_back(t, c[0], 0);
	assert_int_equal(conversation_table_add(t, n, &sw, &evicted), 0);
	assert_ptr_equal(evicted.conv, c[1]);
	conversation_free(evicted.conv);
	assert_int_equal(conversation_table_share(t, sw.index).held, 3);
	assert_int_equal(conversation_table_share(t, other.index).held, 1);
	conversation_table_free(t);
}

static void test_nas_own_quota(void **state)
{
	struct conversation_table *t = conversation_table_new(100, 0, 30, 1);
	struct client sw = { .name = "sw", .index = 0, .max_conversations = 2 };
	struct conversation *a = new_conversation(), *b = new_conversation(), *c = new_conversation();
	struct conversation *d = new_conversation();
	struct conversation_eviction evicted;

	assert_int_equal(conversation_table_add(t, a, &sw, &evicted), 0);
	assert_int_equal(conversation_table_add(t, b, &sw, &evicted), 0);
	hand_back(t, a, 0);
	assert_int_equal(conversation_table_add(t, c, &sw, &evicted), 0);
	assert_ptr_equal(evicted.conv, a);
	conversation_free(evicted.conv);
	/* b and c are being worked on: nothing idle to give up. */
	assert_int_equal(conversation_table_add(t, d, &sw, &evicted), -1);
	assert_null(evicted.conv);
	assert_int_equal(conversation_table_share(t, sw.index).refused, 1);
	conversation_free(d);
	assert_int_equal(conversation_table_share(t, sw.index).held, 2);
	conversation_table_free(t);
}

/* A NAS over its own byte quota gives up its own oldest idle conversations,
 * however much room the table has; the bytes of those that go are no longer
 * counted. */
static void test_nas_byte_quota(void **state)
{
	struct conversation_table *t = conversation_table_new(100, 0, 30, 2);
	struct client sw = { .name = "sw", .index = 0, .max_buffered_bytes = 10000 };
	struct client other = { .name = "other", .index = 1 };
	struct conversation *c[3], *o = new_conversation();
	struct conversation_eviction evicted[4], added;

	assert_int_equal(conversation_table_add(t, o, &other, &added), 0);
	hand_back(t, o, 50000);   /* under no quota of its own */
	for (int i = 0; i < 3; i++) {
		c[i] = new_conversation();
		assert_int_equal(conversation_table_add(t, c[i], &sw, &added), 0);
		if (i < 2)
			hand_back(t, c[i], 4000);
	}
	assert_int_equal(conversation_table_share(t, sw.index).buffered, 8000);
	/* The third brings sw to 14,000: its oldest (c[0]) goes, 10,000 left: fits. */
	assert_int_equal(conversation_table_release(t, c[2], 6000, evicted, 4), 1);
	assert_ptr_equal(evicted[0].conv, c[0]);
	assert_int_equal(evicted[0].why, CONVERSATION_ROOM_NAS_BYTES);
	conversation_free(evicted[0].conv);
	assert_int_equal(conversation_table_share(t, sw.index).buffered, 10000);
	assert_int_equal(conversation_table_share(t, other.index).buffered, 50000);
	assert_int_equal(conversation_table_share(t, sw.index).evicted, 1);
	assert_int_equal(conversation_table_share(t, other.index).evicted, 0);
	conversation_table_free(t);
}

/* Over the table's budget, the NAS buffering the most gives way, even when
 * another NAS's conversation is the one that grew; a conversation that goes
 * on shrinking is counted at its new size. */
static void test_table_byte_budget(void **state)
{
	struct conversation_table *t = conversation_table_new(100, 10000, 30, 2);
	struct client flood = { .name = "flood", .index = 0 }, other = { .name = "other", .index = 1 };
	struct conversation *f[3], *o = new_conversation();
	struct conversation_eviction evicted[4], added;
	enum conversation_miss why;

	for (int i = 0; i < 3; i++) {
		f[i] = new_conversation();
		assert_int_equal(conversation_table_add(t, f[i], &flood, &added), 0);
		hand_back(t, f[i], 3000);
	}
	assert_int_equal(conversation_table_add(t, o, &other, &added), 0);
	/* 9,000 + 2,000: over by 1,000; flood's oldest goes, not other's. */
	assert_int_equal(conversation_table_release(t, o, 2000, evicted, 4), 1);
	assert_ptr_equal(evicted[0].conv, f[0]);
	assert_int_equal(evicted[0].why, CONVERSATION_ROOM_TABLE_BYTES);
	conversation_free(evicted[0].conv);
	assert_int_equal(conversation_table_share(t, flood.index).buffered, 6000);
	/* f[1] is worked on again and shrinks: its new size is what counts. */
	assert_ptr_equal(conversation_table_acquire(t, f[1]->node.key, CONVERSATION_STATE_LEN, &flood, &why), f[1]);
	hand_back(t, f[1], 500);
	assert_int_equal(conversation_table_share(t, flood.index).buffered, 3500);
	conversation_table_remove(t, f[2]);
	assert_int_equal(conversation_table_share(t, flood.index).buffered, 500);
	conversation_free(f[2]);
	conversation_table_free(t);
}

/* A job that holds its thread until the test lets it go. */
struct gate {
	atomic_bool started, open;
};

static void wait_at_gate(void *arg, bool cancelled)
{
	struct gate *g = arg;

	if (cancelled)
		return;
	atomic_store(&g->started, true);
	while (!atomic_load(&g->open))
		usleep(1000);
}

static void nothing(void *arg, bool cancelled)
{
	(void)arg;
	(void)cancelled;
}

static void test_work_queue_depth_counts_waiting_jobs(void **state)
{
	struct work_queue *q = work_queue_new(1, 4, NULL, POOL_WORKER);
	struct gate g = { false, false };

	(void)state;
	assert_non_null(q);
	assert_int_equal(work_queue_depth(q), 0);
	assert_int_equal(work_queue_depth(NULL), 0);
	assert_int_equal(work_queue_push(q, wait_at_gate, &g), 0);
	while (!atomic_load(&g.started))
		usleep(1000);
	/* The running job is not waiting any more. */
	assert_int_equal(work_queue_depth(q), 0);
	assert_int_equal(work_queue_push(q, nothing, NULL), 0);
	assert_int_equal(work_queue_push(q, nothing, NULL), 0);
	assert_int_equal(work_queue_depth(q), 2);
	atomic_store(&g.open, true);
	assert_int_equal(work_queue_stop(q, NULL), 0);
	assert_int_equal(work_queue_depth(q), 0);
	work_queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retransmission_gets_identical_reply),
		cmocka_unit_test(test_reply_cache_is_bounded),
		cmocka_unit_test(test_state_is_bound_to_its_client),
		cmocka_unit_test(test_states_differ),
		cmocka_unit_test(test_idle_conversations_expire),
		cmocka_unit_test(test_table_is_bounded),
		cmocka_unit_test(test_nas_quotas),
		cmocka_unit_test(test_nas_own_quota),
		cmocka_unit_test(test_nas_quota_takes_least_recently_used),
		cmocka_unit_test(test_nas_byte_quota),
		cmocka_unit_test(test_table_byte_budget),
		cmocka_unit_test(test_work_queue_depth_counts_waiting_jobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

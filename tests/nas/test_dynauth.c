/*
 * Dynamic authorization (authd/dynauth.c) against real UDP peers: test_nas
 * listeners (tests/nas/test_nas.c, independent of authd's code) in each
 * mode, checked by what the NAS logged and by what dynauth_send reports.
 * Also the pure answer check against hostile datagrams, and test_nas's
 * accounting client against a listener that never answers.
 *
 * usage: test_dynauth CASE TEST_NAS WORKDIR
 *   CASE      one of the cases in main()
 *   TEST_NAS  the test_nas binary
 *   WORKDIR   where port files and NAS logs go (created)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "authd/dynauth.h"
#include "authd/radius.h"

#define SECRET "dynauth-test-secret"

static const char *test_nas, *workdir;
static unsigned nas_count;

/* ---- helpers ------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

struct nas {
	pid_t pid;
	unsigned port;
	char log[512];
};

/* Starts `test_nas listen` in mode and waits for its port file. */
static void nas_start(struct nas *nas, const char *mode)
{
	char port_file[512];
	FILE *f;
	unsigned id = nas_count++;

	snprintf(port_file, sizeof(port_file), "%s/nas-%d-%u.port", workdir, (int)getpid(), id);
	snprintf(nas->log, sizeof(nas->log), "%s/nas-%d-%u.log", workdir, (int)getpid(), id);
	unlink(port_file);
	unlink(nas->log);
	nas->pid = fork();
	assert_true(nas->pid >= 0);
	if (nas->pid == 0) {
		execl(test_nas, test_nas, "listen", "--port-file", port_file, "--secret", SECRET, "--mode", mode,
		      "--log", nas->log, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		if ((f = fopen(port_file, "r")) != NULL) {
			int ok = fscanf(f, "%u", &nas->port) == 1;

			fclose(f);
			if (ok)
				return;
		}
		usleep(10000);
	}
	fail_msg("test_nas %s wrote no port file %s", mode, port_file);
}

static void nas_stop(struct nas *nas)
{
	int status;

	kill(nas->pid, SIGTERM);
	assert_int_equal(waitpid(nas->pid, &status, 0), nas->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The NAS's log, one string per line, NULL-terminated; free with free_lines. */
static char **nas_lines(const struct nas *nas, size_t *n)
{
	FILE *f = fopen(nas->log, "r");
	char **lines = NULL, *line = NULL;
	size_t cap = 0, count = 0;
	ssize_t len;

	*n = 0;
	if (f == NULL)
		return calloc(1, sizeof(char *));
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		lines = realloc(lines, (count + 2) * sizeof(*lines));
		assert_non_null(lines);
		lines[count++] = strdup(line);
	}
	free(line);
	fclose(f);
	if (lines == NULL)
		lines = calloc(1, sizeof(char *));
	lines[count] = NULL;
	*n = count;
	return lines;
}

static void free_lines(char **lines)
{
	for (size_t i = 0; lines[i] != NULL; i++)
		free(lines[i]);
	free(lines);
}

/* The value of "key=value" among the space-separated words of line, or "" (absent). */
static const char *field(const char *line, const char *key, char *out, size_t outlen)
{
	size_t keylen = strlen(key);

	out[0] = '\0';
	for (const char *w = line; *w != '\0'; w = strchr(w, ' ') != NULL ? strchr(w, ' ') + 1 : w + strlen(w)) {
		if (strncmp(w, key, keylen) == 0 && w[keylen] == '=') {
			size_t len = strcspn(w + keylen + 1, " ");

			snprintf(out, outlen, "%.*s", (int)len, w + keylen + 1);
			return out;
		}
	}
	return out;
}

static void assert_field(const char *line, const char *key, const char *want)
{
	char v[1024];

	field(line, key, v, sizeof(v));
	if (strcmp(v, want) != 0)
		fail_msg("NAS log: expected %s=%s, saw %s=%s in: %s", key, want, key, v, line);
}

static void assert_contains(const char *text, const char *part)
{
	if (strstr(text, part) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", part, text);
}

static const struct dynauth_session laptop = {
	.user_name = "laptop-0001.corp.example",
	.acct_session_id = "5A3F0001",
	.calling_station_id = "02-00-00-07-00-01",
	.called_station_id = "02-00-00-00-00-01:corp-wifi",
	.nas_identifier = "ap-1",
	.nas_ip_address = "192.0.2.10",
};

static void target_at(struct dynauth_target *t, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&t->nas;

	memset(t, 0, sizeof(*t));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->nas_len = sizeof(*sin);
	t->secret = SECRET;
	t->session = laptop;
}

/* A UDP port on the loopback address of family that nobody listens on
 * (bound, then closed); 0 if the family has no loopback here. */
static unsigned closed_port(int family)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = family == AF_INET ? sizeof(*sin) : sizeof(*sin6);
	int fd = socket(family, SOCK_DGRAM, 0);
	unsigned port = 0;

	if (family == AF_INET)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		sin6->sin6_addr = in6addr_loopback;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(family == AF_INET ? sin->sin_port : sin6->sin6_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void send_one(const struct dynauth_settings *s, struct dynauth_target *t)
{
	char err[256] = "";

	if (dynauth_send(s, t, 1, err, sizeof(err)) != 0)
		fail_msg("dynauth_send: %s (detail: %s)", err, t->detail);
}

/* ---- dynauth_send against test_nas ------------------------------------ */

static void test_ack(void **state)
{
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 1000, .retries = 3 };
	struct dynauth_target t;
	struct nas nas;
	char **lines, v[64];
	size_t n;
	long long ts;

	nas_start(&nas, "ack");
	target_at(&t, nas.port);
	send_one(&s, &t);
	nas_stop(&nas);

	assert_string_equal(dynauth_outcome_text(t.outcome), "ack");
	assert_string_equal(t.detail, "ACK");
	assert_int_equal(t.tries, 1);
	assert_int_equal(t.error_cause, 0);
	assert_true(t.answered_ms >= t.first_sent_ms && t.answered_ms > 0 && t.answered_ms < 1000);

	lines = nas_lines(&nas, &n);
	assert_int_equal(n, 1);
	assert_field(lines[0], "code", "40");
	snprintf(v, sizeof(v), "%u", t.id);
	assert_field(lines[0], "id", v);
	assert_field(lines[0], "authenticator", "valid");
	assert_field(lines[0], "message_authenticator", "valid");
	assert_field(lines[0], "first", "yes");
	assert_field(lines[0], "User-Name", "laptop-0001.corp.example");
	assert_field(lines[0], "Acct-Session-Id", "5A3F0001");
	assert_field(lines[0], "Calling-Station-Id", "02-00-00-07-00-01");
	assert_field(lines[0], "Called-Station-Id", "02-00-00-00-00-01:corp-wifi");
	assert_field(lines[0], "NAS-Identifier", "ap-1");
	assert_field(lines[0], "NAS-IP-Address", "192.0.2.10");
	assert_field(lines[0], "Service-Type", "");  /* Disconnect-Request: neither of the CoA pair */
	assert_field(lines[0], "State", "");
	assert_field(lines[0], "reply", "41");
	ts = atoll(field(lines[0], "Event-Timestamp", v, sizeof(v)));
	assert_true(ts > (long long)time(NULL) - 10 && ts <= (long long)time(NULL));
	free_lines(lines);
	(void)state;
}

static void test_nak(void **state)
{
	struct dynauth_target t;
	struct nas nas;
	char **lines;
	size_t n;

	nas_start(&nas, "nak");
	target_at(&t, nas.port);
	send_one(NULL, &t);
	nas_stop(&nas);

	assert_int_equal(t.outcome, DYNAUTH_NAK);
	assert_int_equal(t.error_cause, 503);
	assert_string_equal(t.detail, "NAK: Session-Context-Not-Found (503)");
	assert_int_equal(t.tries, 1);
	lines = nas_lines(&nas, &n);
	assert_int_equal(n, 1);
	assert_field(lines[0], "reply", "42");
	free_lines(lines);
	(void)state;
}

static void test_silent_timeout(void **state)
{
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 100, .retries = 2 };
	struct dynauth_target t;
	struct nas nas;
	char **lines;
	double started, elapsed;
	size_t n;

	nas_start(&nas, "silent");
	target_at(&t, nas.port);
	started = now_ms();
	send_one(&s, &t);
	elapsed = now_ms() - started;
	nas_stop(&nas);

	assert_int_equal(t.outcome, DYNAUTH_TIMEOUT);
	assert_int_equal(t.tries, 3);
	assert_true(t.answered_ms == 0);
	/* 100 + 200 + 400 ms; generous above for loaded machines and sanitizers. */
	if (elapsed < 690 || elapsed > 700 + 1500)
		fail_msg("silent NAS: expected about 700 ms, took %.0f ms", elapsed);
	assert_contains(t.detail, "no answer after 3 tries");

	/* Retransmissions are the identical packet: same Identifier, same Event-Timestamp, same bytes. */
	lines = nas_lines(&nas, &n);
	assert_int_equal(n, 3);
	assert_string_equal(lines[0], lines[1]);
	assert_string_equal(lines[1], lines[2]);
	assert_field(lines[0], "reply", "none");
	free_lines(lines);
	(void)state;
}

static void test_bad_authenticator(void **state)
{
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 100, .retries = 1 };
	struct dynauth_target t;
	struct nas nas;
	size_t n;
	char **lines;

	nas_start(&nas, "bad-authenticator");
	target_at(&t, nas.port);
	send_one(&s, &t);
	nas_stop(&nas);

	assert_int_equal(t.outcome, DYNAUTH_TIMEOUT);
	assert_int_equal(t.tries, 2);
	assert_contains(t.detail, "no answer after 2 tries");
	assert_contains(t.detail, "ignored 2 invalid answers, the last: wrong Response Authenticator");
	lines = nas_lines(&nas, &n);
	assert_int_equal(n, 2);
	assert_field(lines[0], "reply", "41");   /* it did answer, wrongly */
	free_lines(lines);
	(void)state;
}

static void test_coa(void **state)
{
	struct dynauth_settings s = { .request = DYNAUTH_COA, .timeout_ms = 1000, .retries = 3 };
	static const uint8_t zero[DYNAUTH_STATE_LEN];
	struct dynauth_target t;
	struct nas nas;
	char **lines, hex[2 * DYNAUTH_STATE_LEN + 1];
	size_t n;

	nas_start(&nas, "ack");
	target_at(&t, nas.port);
	send_one(&s, &t);
	nas_stop(&nas);

	assert_int_equal(t.outcome, DYNAUTH_ACK);
	assert_memory_not_equal(t.state, zero, sizeof(zero));
	for (size_t i = 0; i < sizeof(t.state); i++)
		snprintf(hex + 2 * i, 3, "%02x", t.state[i]);
	lines = nas_lines(&nas, &n);
	assert_int_equal(n, 1);
	assert_field(lines[0], "code", "43");
	assert_field(lines[0], "authenticator", "valid");
	assert_field(lines[0], "message_authenticator", "valid");
	assert_field(lines[0], "first", "yes");
	assert_field(lines[0], "Service-Type", "17");   /* Authorize-Only */
	assert_field(lines[0], "State", hex);
	assert_field(lines[0], "User-Name", "laptop-0001.corp.example");
	assert_field(lines[0], "reply", "44");
	free_lines(lines);
	(void)state;
}

static void test_parallel(void **state)
{
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 200, .retries = 2 };
	struct dynauth_target t[2];
	struct nas ack, silent;
	double started, elapsed;
	char err[256] = "", **lines;
	size_t n;

	nas_start(&ack, "ack");
	nas_start(&silent, "silent");
	target_at(&t[0], silent.port);
	target_at(&t[1], ack.port);
	started = now_ms();
	assert_int_equal(dynauth_send(&s, t, 2, err, sizeof(err)), 0);
	elapsed = now_ms() - started;
	nas_stop(&ack);
	nas_stop(&silent);

	assert_int_equal(t[1].outcome, DYNAUTH_ACK);
	assert_int_equal(t[0].outcome, DYNAUTH_TIMEOUT);
	assert_int_equal(t[0].tries, 3);
	assert_int_equal(t[1].tries, 1);
	/* Both in flight together: the answer came within the first timeout,
	 * while the silent NAS took all of 200 + 400 + 800 ms. */
	if (t[1].answered_ms >= 200 || elapsed < 1390)
		fail_msg("ack answered at %.1f ms, the whole call took %.0f ms", t[1].answered_ms, elapsed);
	lines = nas_lines(&ack, &n);
	assert_int_equal(n, 1);   /* an answered request is not retransmitted */
	free_lines(lines);
	(void)state;
}

static void test_unreachable(void **state)
{
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 100, .retries = 2 };
	struct dynauth_target t[3];
	unsigned port6 = closed_port(AF_INET6);
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t[2].nas;
	struct nas ack;
	char err[256] = "";

	nas_start(&ack, "ack");
	target_at(&t[0], closed_port(AF_INET));
	target_at(&t[1], ack.port);
	target_at(&t[2], 0);
	memset(&t[2].nas, 0, sizeof(t[2].nas));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	sin6->sin6_port = htons((uint16_t)port6);
	t[2].nas_len = sizeof(*sin6);
	assert_int_equal(dynauth_send(&s, t, port6 != 0 ? 3 : 2, err, sizeof(err)), 0);
	nas_stop(&ack);

	/* Nobody listens: still a timeout after every retransmission, and why. */
	assert_int_equal(t[0].outcome, DYNAUTH_TIMEOUT);
	assert_int_equal(t[0].tries, 3);
	assert_contains(t[0].detail, "no answer after 3 tries");
	assert_contains(t[0].detail, "ICMP port unreachable");
	/* The ICMP error about one NAS, which the shared socket reports on its
	 * next send, does not fail the send to the other. */
	assert_int_equal(t[1].outcome, DYNAUTH_ACK);
	assert_string_equal(t[1].detail, "ACK");
	if (port6 != 0) {
		assert_int_equal(t[2].outcome, DYNAUTH_TIMEOUT);
		assert_int_equal(t[2].tries, 3);
		assert_contains(t[2].detail, "ICMP port unreachable");
	}
	(void)state;
}

/* More targets than Identifiers: a second socket. */
static void test_many_targets(void **state)
{
	enum { N = 300 };
	struct dynauth_target *t = calloc(N, sizeof(*t));
	char (*ids)[16] = calloc(N, 16), err[256] = "", **lines;
	struct nas nas;
	size_t n;

	assert_non_null(t);
	assert_non_null(ids);
	nas_start(&nas, "ack");
	for (size_t i = 0; i < N; i++) {
		target_at(&t[i], nas.port);
		snprintf(ids[i], 16, "S-%03zu", i);
		t[i].session.acct_session_id = ids[i];
	}
	assert_int_equal(dynauth_send(NULL, t, N, err, sizeof(err)), 0);
	nas_stop(&nas);
	for (size_t i = 0; i < N; i++) {
		if (t[i].outcome != DYNAUTH_ACK)
			fail_msg("target %zu: %s: %s", i, dynauth_outcome_text(t[i].outcome), t[i].detail);
	}
	/* Every session was named to the NAS at least once (retransmissions after a full receive buffer are fine). */
	lines = nas_lines(&nas, &n);
	assert_true(n >= N);
	for (size_t i = 0; i < N; i++) {
		char v[32];
		bool seen = false;

		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(field(lines[k], "Acct-Session-Id", v, sizeof(v)), ids[i]) == 0;
		if (!seen)
			fail_msg("no request for %s reached the NAS", ids[i]);
	}
	free_lines(lines);
	free(ids);
	free(t);
	(void)state;
}

/* More targets than one batch holds: successive batches, each bounded. */
static void test_batches(void **state)
{
	enum { N = 4097 };
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 50, .retries = 0 };
	struct dynauth_target *t = calloc(N, sizeof(*t));
	double started, elapsed;
	char err[256] = "";
	struct nas nas;

	assert_non_null(t);
	/* A silent NAS rather than a closed port: 4097 ICMP errors would drain the
	 * kernel's global ICMP budget that other tests count on. */
	nas_start(&nas, "silent");
	for (size_t i = 0; i < N; i++)
		target_at(&t[i], nas.port);
	started = now_ms();
	assert_int_equal(dynauth_send(&s, t, N, err, sizeof(err)), 0);
	elapsed = now_ms() - started;
	nas_stop(&nas);
	for (size_t i = 0; i < N; i++) {
		if (t[i].outcome != DYNAUTH_TIMEOUT || t[i].tries != 1)
			fail_msg("target %zu: %s after %u tries: %s", i, dynauth_outcome_text(t[i].outcome), t[i].tries,
			         t[i].detail);
	}
	if (elapsed < 100 || elapsed > 5000)
		fail_msg("two batches of 50 ms took %.0f ms", elapsed);
	free(t);
	(void)state;
}

static void test_invalid_targets(void **state)
{
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 1000, .retries = 0 };
	struct dynauth_target t[6];
	char long_name[300], err[256] = "";
	struct nas nas;

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	nas_start(&nas, "ack");
	for (size_t i = 0; i < 6; i++)
		target_at(&t[i], nas.port);
	t[0].secret = "";
	t[1].session.user_name = t[1].session.acct_session_id = t[1].session.calling_station_id = NULL;
	t[2].session.nas_ip_address = "300.1.1.1";
	t[3].session.user_name = long_name;
	t[4].nas.ss_family = AF_UNIX;
	assert_int_equal(dynauth_send(&s, t, 6, err, sizeof(err)), 0);
	nas_stop(&nas);

	for (size_t i = 0; i < 5; i++) {
		if (t[i].outcome != DYNAUTH_ERROR || t[i].tries != 0)
			fail_msg("target %zu: expected an error and nothing sent, saw %s after %u tries", i,
			         dynauth_outcome_text(t[i].outcome), t[i].tries);
	}
	assert_string_equal(t[0].detail, "no shared secret");
	assert_contains(t[1].detail, "to identify the session");
	assert_contains(t[2].detail, "NAS-IP-Address");
	assert_contains(t[3].detail, "longer than 253");
	assert_contains(t[4].detail, "neither IPv4 nor IPv6");
	assert_int_equal(t[5].outcome, DYNAUTH_ACK);

	/* Nothing at all could be sent: -1 with err. */
	assert_int_equal(dynauth_send(&s, t, 5, err, sizeof(err)), -1);
	assert_contains(err, "nothing could be sent");
	(void)state;
}

/* ---- the answer check against hostile datagrams ------------------------- */

struct answer {
	uint8_t data[4200];
	size_t len;
};

static const uint8_t request_auth[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void put(struct answer *a, uint8_t type, const void *v, size_t len)
{
	a->data[a->len] = type;
	a->data[a->len + 1] = (uint8_t)(2 + len);
	memcpy(a->data + a->len + 2, v, len);
	a->len += 2 + len;
}

/* Signs a by hand: Message-Authenticator at ma_at (0: none) with ma_auth in
 * the authenticator field, then the Response Authenticator. */
static void sign(struct answer *a, size_t ma_at, const uint8_t *ma_auth, const char *secret)
{
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	a->data[2] = (uint8_t)(a->len >> 8);
	a->data[3] = (uint8_t)a->len;
	if (ma_at != 0) {
		memcpy(a->data + 4, ma_auth, 16);
		memset(a->data + ma_at + 2, 0, 16);
		assert_non_null(HMAC(EVP_md5(), secret, (int)strlen(secret), a->data, a->len, a->data + ma_at + 2, &len));
	}
	memcpy(a->data + 4, request_auth, 16);
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, a->data, a->len), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, secret, strlen(secret)), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, a->data + 4, &len), 1);
	EVP_MD_CTX_free(ctx);
}

/* An answer to Disconnect-Request id 7: MA first, then Error-Cause if cause. */
static void build(struct answer *a, uint8_t code, unsigned cause)
{
	static const uint8_t zero[16];
	uint8_t be[4] = { (uint8_t)(cause >> 24), (uint8_t)(cause >> 16), (uint8_t)(cause >> 8), (uint8_t)cause };

	memset(a, 0, sizeof(*a));
	a->data[0] = code;
	a->data[1] = 7;
	a->len = 20;
	put(a, 80, zero, sizeof(zero));
	if (cause != 0)
		put(a, 101, be, sizeof(be));
	sign(a, 20, request_auth, SECRET);
}

static int check(const struct answer *a, size_t len, struct dynauth_answer *ans, char *why)
{
	return dynauth_answer_check(DYNAUTH_DISCONNECT, 7, request_auth, SECRET, a->data, len, ans, why, 128);
}

static void expect_rejected(const struct answer *a, size_t len, const char *part)
{
	struct dynauth_answer ans;
	char why[128] = "";

	if (check(a, len, &ans, why) == 0)
		fail_msg("accepted an answer that should fail with \"%s\"", part);
	assert_contains(why, part);
}

static void test_hostile_answers(void **state)
{
	static const uint8_t zero[16], pad[253];
	struct dynauth_answer ans;
	struct answer a, b;
	char why[128];

	/* The good ones. */
	build(&a, 41, 0);
	assert_int_equal(check(&a, a.len, &ans, why), 0);
	assert_true(ans.ack && ans.message_authenticator && ans.error_cause == 0);
	build(&a, 42, 503);
	assert_int_equal(check(&a, a.len, &ans, why), 0);
	assert_true(!ans.ack && ans.error_cause == 503);
	memset(&a, 0, sizeof(a));
	a.data[0] = 41, a.data[1] = 7, a.len = 20;
	sign(&a, 0, NULL, SECRET);
	assert_int_equal(check(&a, a.len, &ans, why), 0);
	assert_false(ans.message_authenticator);   /* optional in answers */
	build(&a, 41, 0);
	assert_int_equal(check(&a, a.len + 30, &ans, why), 0);   /* octets beyond Length are padding */

	/* Framing. */
	build(&a, 41, 0);
	expect_rejected(&a, 0, "shorter than a RADIUS header");
	expect_rejected(&a, 19, "shorter than a RADIUS header");
	expect_rejected(&a, a.len - 1, "does not fit");
	b = a, b.data[2] = 0, b.data[3] = 19;
	expect_rejected(&b, b.len, "does not fit");
	b = a, b.data[2] = 0x10, b.data[3] = 0x01;   /* 4097 */
	expect_rejected(&b, sizeof(b.data), "does not fit");
	b = a, b.data[21] = 0;
	expect_rejected(&b, b.len, "overruns");
	b = a, b.data[21] = 1;
	expect_rejected(&b, b.len, "overruns");
	b = a, b.data[21] = 255;
	expect_rejected(&b, b.len, "overruns");
	b = a, b.data[b.len] = 18, b.data[b.len + 1] = 2, b.len += 1;   /* half an attribute header */
	b.data[2] = 0, b.data[3] = (uint8_t)b.len;
	expect_rejected(&b, b.len, "overruns");

	/* Who and what. */
	build(&a, 2, 0);
	expect_rejected(&a, a.len, "answers no Disconnect-Request");
	build(&a, 44, 0);
	expect_rejected(&a, a.len, "answers no Disconnect-Request");
	build(&a, 41, 0);
	b = a, b.data[1] = 8;
	expect_rejected(&b, b.len, "Identifier 8, expected 7");

	/* Authenticators. */
	build(&a, 41, 0);
	b = a, b.data[4] ^= 1;
	expect_rejected(&b, b.len, "wrong Response Authenticator");
	memset(&a, 0, sizeof(a));
	a.data[0] = 41, a.data[1] = 7, a.len = 20;
	put(&a, 80, zero, 16);
	sign(&a, 20, zero, SECRET);   /* how libfreeradius 3.2.1 signs an ACK: zeros in place */
	expect_rejected(&a, a.len, "wrong Message-Authenticator");
	build(&a, 41, 0);
	b = a;
	memcpy(b.data + 4, request_auth, 16);
	sign(&b, 20, request_auth, "another-secret");
	expect_rejected(&b, b.len, "wrong Response Authenticator");
	memset(&a, 0, sizeof(a));
	a.data[0] = 41, a.data[1] = 7, a.len = 20;
	put(&a, 80, zero, 16);
	put(&a, 80, zero, 16);
	sign(&a, 20, request_auth, SECRET);
	expect_rejected(&a, a.len, "Message-Authenticator repeated");
	memset(&a, 0, sizeof(a));
	a.data[0] = 41, a.data[1] = 7, a.len = 20;
	put(&a, 80, zero, 15);
	sign(&a, 0, NULL, SECRET);
	expect_rejected(&a, a.len, "not 16 octets");
	memset(&a, 0, sizeof(a));
	a.data[0] = 42, a.data[1] = 7, a.len = 20;
	put(&a, 101, zero, 5);
	sign(&a, 0, NULL, SECRET);
	expect_rejected(&a, a.len, "Error-Cause of 5 octets");

	/* A full-size answer of huge attributes is fine; one octet more is not. */
	memset(&a, 0, sizeof(a));
	a.data[0] = 41, a.data[1] = 7, a.len = 20;
	put(&a, 80, zero, 16);
	while (a.len + 255 <= 4096) {
		uint8_t filler[253];

		memset(filler, 'x', sizeof(filler));
		put(&a, 26, filler, sizeof(filler));
	}
	put(&a, 18, pad, 4096 - a.len - 2);
	assert_int_equal(a.len, 4096);
	sign(&a, 20, request_auth, SECRET);
	assert_int_equal(check(&a, a.len, &ans, why), 0);

	/* Random damage to a good answer never crashes, and what passes is the
	 * answer unchanged within its Length. */
	build(&a, 42, 503);
	for (int i = 0; i < 20000; i++) {
		uint8_t r[4];
		size_t len = a.len;

		b = a;
		assert_int_equal(RAND_bytes(r, sizeof(r)), 1);
		b.data[r[0] % a.len] ^= (uint8_t)(r[1] | 1);
		if (r[2] & 1)
			len = r[3] % (a.len + 1);
		if (check(&b, len, &ans, why) == 0)
			fail_msg("damaged answer accepted (iteration %d)", i);
	}
	(void)state;
}

/* ---- test_nas account, captured by a listener that never answers ---------- */

static int run_account(unsigned port, const char *extra)
{
	char server[64];
	pid_t pid;
	int status;

	snprintf(server, sizeof(server), "127.0.0.1:%u", port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(test_nas, test_nas, "account", "--server", server, "--secret", SECRET, "--status", "start",
		      "--message-authenticator", "User-Name=laptop-0001.corp.example", "Acct-Session-Id=5A3F0001",
		      "NAS-IP-Address=192.0.2.10", "NAS-Port-Type=19", "Class=0a0b0c", extra, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_account_unanswered(void **state)
{
	struct nas nas;
	char **lines;
	size_t n;

	nas_start(&nas, "silent");
	assert_int_equal(run_account(nas.port, "Acct-Session-Time=0"), 1);   /* no response */
	assert_int_equal(run_account(nas.port, "Bogus-Attribute=1"), 3);     /* usage */
	nas_stop(&nas);

	lines = nas_lines(&nas, &n);
	assert_int_equal(n, 4);   /* the first send and 3 retransmissions */
	assert_field(lines[0], "code", "4");
	assert_field(lines[0], "authenticator", "valid");
	assert_field(lines[0], "message_authenticator", "valid");
	assert_field(lines[0], "first", "yes");
	assert_field(lines[0], "Acct-Status-Type", "1");
	assert_field(lines[0], "User-Name", "laptop-0001.corp.example");
	assert_field(lines[0], "Acct-Session-Id", "5A3F0001");
	assert_field(lines[0], "NAS-IP-Address", "192.0.2.10");
	assert_field(lines[0], "NAS-Port-Type", "19");
	assert_field(lines[0], "Class", "0a0b0c");
	assert_field(lines[0], "Acct-Session-Time", "0");
	assert_field(lines[0], "reply", "none");
	assert_string_equal(lines[0], lines[3]);
	free_lines(lines);
	(void)state;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		CMUnitTestFunction run;
	} cases[] = {
		{ "ack", test_ack },
		{ "nak", test_nak },
		{ "silent_timeout", test_silent_timeout },
		{ "bad_authenticator", test_bad_authenticator },
		{ "coa", test_coa },
		{ "parallel", test_parallel },
		{ "unreachable", test_unreachable },
		{ "many_targets", test_many_targets },
		{ "batches", test_batches },
		{ "invalid_targets", test_invalid_targets },
		{ "hostile_answers", test_hostile_answers },
		{ "account_unanswered", test_account_unanswered },
	};
	char err[256];

	if (argc != 4) {
		fprintf(stderr, "usage: %s CASE TEST_NAS WORKDIR\n", argv[0]);
		return 2;
	}
	test_nas = argv[2];
	workdir = argv[3];
	if (mkdir(workdir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", workdir, strerror(errno));
		return 2;
	}
	if (radius_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "radius_init: %s\n", err);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			const struct CMUnitTest one[] = { { cases[i].name, cases[i].run, NULL, NULL, NULL } };

			return cmocka_run_group_tests_name(cases[i].name, one, NULL, NULL);
		}
	}
	fprintf(stderr, "%s: unknown case %s\n", argv[0], argv[1]);
	return 2;
}

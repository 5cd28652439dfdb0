/*
 * The node key (common/seal.h): what is sealed opens only under the same
 * name with a listed key, a MAC verifies only for its data, keys rotate,
 * and a key file that is not private or not well-formed is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/seal.h"

#define KEY_A "a 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define KEY_B "b-2025 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"
/* Same id as KEY_A, other bytes. */
#define KEY_A2 "a 1111111111111111111111111111111111111111111111111111111111111111\n"

static char dir[] = "/tmp/authd-seal-test-XXXXXX";

static struct seal *keys(const char *text)
{
	char err[256];
	struct seal *s = seal_parse("test.key", text, strlen(text), err, sizeof(err));

	if (s == NULL)
		fail_msg("%s", err);
	return s;
}

static const uint8_t secret[] = "a TLS session: master secret and peer certificate";
static const char name[] = "authd:tls-session:00aa";

static void expect_open(const struct seal *s, const char *blob, const char *ad, int want)
{
	uint8_t *pt;
	size_t ptlen;
	int rc = seal_open(s, blob, strlen(blob), ad, strlen(ad), &pt, &ptlen);

	assert_int_equal(rc, want);
	if (want == SEAL_OK) {
		assert_int_equal(ptlen, sizeof(secret));
		assert_memory_equal(pt, secret, sizeof(secret));
		free(pt);
	} else {
		assert_null(pt);
	}
}

static void test_round_trip(void **state)
{
	struct seal *s = keys("# the node key\n\n" KEY_A);
	char *blob = seal_seal(s, secret, sizeof(secret), name, strlen(name)), *again;

	assert_non_null(blob);
	assert_true(strncmp(blob, "v1:a:", 5) == 0);
	/* Nothing of the plaintext shows. */
	assert_null(strstr(blob, "master"));
	expect_open(s, blob, name, SEAL_OK);
	/* A fresh nonce each time. */
	again = seal_seal(s, secret, sizeof(secret), name, strlen(name));
	assert_string_not_equal(blob, again);
	expect_open(s, again, name, SEAL_OK);
	free(again);
	free(blob);
	/* Empty plaintext works too. */
	blob = seal_seal(s, (const uint8_t *)"", 0, name, strlen(name));
	{
		uint8_t *pt;
		size_t ptlen;

		assert_int_equal(seal_open(s, blob, strlen(blob), name, strlen(name), &pt, &ptlen), SEAL_OK);
		assert_int_equal(ptlen, 0);
		free(pt);
	}
	free(blob);
	seal_free(s);
}

static void test_tampered(void **state)
{
	struct seal *s = keys(KEY_A);
	char *blob = seal_seal(s, secret, sizeof(secret), name, strlen(name));
	size_t len = strlen(blob);

	/* Every character of the payload, changed, fails to open. */
	for (size_t i = 5; i < len; i++) {
		char saved = blob[i];

		blob[i] = saved == 'A' ? 'B' : 'A';
		{
			uint8_t *pt;
			size_t ptlen;
			int rc = seal_open(s, blob, len, name, strlen(name), &pt, &ptlen);

			if (rc != SEAL_AUTH_FAILED && rc != SEAL_MALFORMED)
				fail_msg("byte %zu changed: %s", i, seal_error_text(rc));
		}
		blob[i] = saved;
	}
	/* Truncated (by whole groups or not: refused either way), garbage. */
	for (size_t cut = 1; cut <= 8; cut++) {
		uint8_t *pt;
		size_t ptlen;
		int rc = seal_open(s, blob, len - cut, name, strlen(name), &pt, &ptlen);

		assert_true(rc == SEAL_AUTH_FAILED || rc == SEAL_MALFORMED);
	}
	expect_open(s, "v1:a:", name, SEAL_MALFORMED);
	expect_open(s, "v2:a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", name, SEAL_MALFORMED);
	expect_open(s, "v1:a:AAAA!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", name, SEAL_MALFORMED);
	expect_open(s, "3082013f020101", name, SEAL_MALFORMED);
	expect_open(s, "", name, SEAL_MALFORMED);
	free(blob);
	seal_free(s);
}

static void test_wrong_name(void **state)
{
	struct seal *s = keys(KEY_A);
	char *blob = seal_seal(s, secret, sizeof(secret), name, strlen(name));

	expect_open(s, blob, "authd:tls-session:00ab", SEAL_AUTH_FAILED);
	expect_open(s, blob, "", SEAL_AUTH_FAILED);
	free(blob);
	seal_free(s);
}

static void test_unknown_key_and_other_bytes(void **state)
{
	struct seal *a = keys(KEY_A), *b = keys(KEY_B), *a2 = keys(KEY_A2);
	char *blob = seal_seal(a, secret, sizeof(secret), name, strlen(name));

	expect_open(b, blob, name, SEAL_UNKNOWN_KEY);
	/* Same id, other key: it does not open either. */
	expect_open(a2, blob, name, SEAL_AUTH_FAILED);
	assert_string_equal(seal_error_text(SEAL_UNKNOWN_KEY), "unknown key id");
	free(blob);
	seal_free(a);
	seal_free(b);
	seal_free(a2);
}

/* A new key listed first seals; the old one below still opens and verifies. */
static void test_rotation(void **state)
{
	struct seal *old = keys(KEY_A), *rotated = keys(KEY_B KEY_A), *retired = keys(KEY_B);
	char *by_old = seal_seal(old, secret, sizeof(secret), name, strlen(name));
	char *by_new = seal_seal(rotated, secret, sizeof(secret), name, strlen(name));
	char tag_old[SEAL_TAG_LEN + 1], tag_new[SEAL_TAG_LEN + 1];

	assert_string_equal(seal_key_id(rotated), "b-2025");
	assert_true(strncmp(by_new, "v1:b-2025:", 10) == 0);
	expect_open(rotated, by_old, name, SEAL_OK);
	expect_open(rotated, by_new, name, SEAL_OK);
	expect_open(old, by_new, name, SEAL_UNKNOWN_KEY);
	expect_open(retired, by_old, name, SEAL_UNKNOWN_KEY);
	assert_int_equal(seal_mac(old, "status", "x", 1, tag_old), 0);
	assert_int_equal(seal_mac(rotated, "status", "x", 1, tag_new), 0);
	assert_string_not_equal(tag_old, tag_new);
	assert_true(seal_verify(rotated, "status", "x", 1, tag_old, SEAL_TAG_LEN));
	assert_true(seal_verify(rotated, "status", "x", 1, tag_new, SEAL_TAG_LEN));
	assert_false(seal_verify(retired, "status", "x", 1, tag_old, SEAL_TAG_LEN));
	free(by_old);
	free(by_new);
	seal_free(old);
	seal_free(rotated);
	seal_free(retired);
}

static void test_mac(void **state)
{
	struct seal *s = keys(KEY_A);
	char tag[SEAL_TAG_LEN + 1], other[SEAL_TAG_LEN + 1];

	assert_int_equal(seal_mac(s, "class", "nas-a\0ref", 9, tag), 0);
	assert_int_equal(strlen(tag), SEAL_TAG_LEN);
	assert_true(seal_verify(s, "class", "nas-a\0ref", 9, tag, strlen(tag)));
	assert_false(seal_verify(s, "class", "nas-b\0ref", 9, tag, strlen(tag)));
	/* The purpose is part of it: a status tag is no Class tag. */
	assert_false(seal_verify(s, "status", "nas-a\0ref", 9, tag, strlen(tag)));
	assert_false(seal_verify(s, "class", "nas-a\0ref", 9, tag, SEAL_TAG_LEN - 1));
	tag[3] ^= 1;
	assert_false(seal_verify(s, "class", "nas-a\0ref", 9, tag, SEAL_TAG_LEN));
	/* The same data under another purpose has another tag. */
	assert_int_equal(seal_mac(s, "status", "nas-a\0ref", 9, other), 0);
	assert_string_not_equal(other, tag);
	seal_free(s);
}

static void write_key(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void expect_load_error(const char *path, const char *needle)
{
	char err[512];
	struct seal *s = seal_load(path, err, sizeof(err));

	assert_null(s);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" should mention \"%s\"", err, needle);
}

static void test_key_file(void **state)
{
	char path[256], err[512];
	struct seal *s;

	snprintf(path, sizeof(path), "%s/node.key", dir);
	write_key(path, KEY_A, 0644);
	expect_load_error(path, "mode 0644");
	write_key(path, KEY_A, 0640);
	expect_load_error(path, "mode 0640");
	write_key(path, KEY_A, 0700);
	expect_load_error(path, "mode 0700");
	write_key(path, KEY_A, 0400);
	s = seal_load(path, err, sizeof(err));
	assert_non_null(s);
	seal_free(s);
	write_key(path, "", 0600);
	expect_load_error(path, "no key");
	write_key(path, "# only a comment\n\n", 0600);
	expect_load_error(path, "no key");
	write_key(path, "k1 00010203\n", 0600);
	expect_load_error(path, ":1: key \"k1\": expected 64 hex digits");
	write_key(path, "# c\nk1 zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	expect_load_error(path, ":2: key \"k1\" is not hex");
	write_key(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	expect_load_error(path, ":1: expected \"KEYID HEX64\"");
	write_key(path, "a:b 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	expect_load_error(path, ":1: expected \"KEYID HEX64\"");
	write_key(path, "seventeen-chars-x 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	          0600);
	expect_load_error(path, ":1: expected \"KEYID HEX64\"");
	write_key(path, KEY_A KEY_A2, 0600);
	expect_load_error(path, ":2: key id \"a\" is listed twice");
	/* CRLF and trailing blanks are fine. */
	write_key(path, "a 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f  \r\n", 0600);
	s = seal_load(path, err, sizeof(err));
	assert_non_null(s);
	seal_free(s);
	unlink(path);
	expect_load_error(path, "cannot read");
	expect_load_error(dir, "not a regular file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_wrong_name),
		cmocka_unit_test(test_unknown_key_and_other_bytes),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_key_file),
	};
	int failed;

	if (mkdtemp(dir) == NULL)
		return 2;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return failed;
}

/*
 * The decision log as an attacker sees it: whatever bytes a certificate, an
 * identity or a directory puts into a record, its line is valid JSON in valid
 * UTF-8 and bounded; a write cut short by a full file system leaves no broken
 * line behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "json_check.h"
#include "authd/decision_log.h"
#include "policy/decision.h"
#include "common/json_buf.h"

/* One string through the writer, with an optional cap: the line, owned. */
static char *one_string(const char *value, size_t cap)
{
	struct json_buf b;

	json_buf_begin(&b);
	json_buf_set_limits(&b, &(struct json_buf_limits){ .string_bytes = cap });
	json_buf_string(&b, "v", value);
	return json_buf_finish(&b);
}

static void expect_json(const char *value, const char *json)
{
	char *line = one_string(value, 0);

	assert_non_null(line);
	assert_true(json_check_line(line, strlen(line)));
	assert_string_equal(line, json);
	free(line);
}

static void invalid_utf8_is_escaped(void **state)
{
	(void)state;
	/* Valid UTF-8 passes through: 2, 3 and 4 bytes, the edges of each. */
	expect_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \xf4\x8f\xbf\xbf",
	              "{\"v\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 \xf4\x8f\xbf\xbf\"}\n");
	/* Bytes of no valid sequence: each as \u00XX of its value. */
	expect_json("a\xff" "b\xfe", "{\"v\":\"a\\u00ffb\\u00fe\"}\n");
	expect_json("\x80\xbf", "{\"v\":\"\\u0080\\u00bf\"}\n");              /* lone continuations */
	expect_json("\xc0\x80", "{\"v\":\"\\u00c0\\u0080\"}\n");              /* overlong NUL */
	expect_json("\xe0\x80\xaf", "{\"v\":\"\\u00e0\\u0080\\u00af\"}\n");   /* overlong '/' */
	expect_json("\xed\xa0\x80", "{\"v\":\"\\u00ed\\u00a0\\u0080\"}\n");   /* surrogate */
	expect_json("\xf4\x90\x80\x80", "{\"v\":\"\\u00f4\\u0090\\u0080\\u0080\"}\n"); /* > U+10FFFF */
	expect_json("\xf5\x80", "{\"v\":\"\\u00f5\\u0080\"}\n");
	/* A sequence cut short by the end of the string, or by an ASCII byte. */
	expect_json("x\xe2\x82", "{\"v\":\"x\\u00e2\\u0082\"}\n");
	expect_json("\xe2" "A\xac", "{\"v\":\"\\u00e2A\\u00ac\"}\n");
	/* Control bytes, DEL, quote and backslash. */
	expect_json("\x01\t\n\x1f\x7f\"\\", "{\"v\":\"\\u0001\\u0009\\u000a\\u001f\\u007f\\\"\\\\\"}\n");
}

static void strings_are_cut_at_a_boundary(void **state)
{
	char value[600], *line;
	const char *content;
	size_t n;
	struct json_buf b;

	(void)state;
	/* Plain text: exactly the cap, then the mark. */
	memset(value, 'a', 300);
	value[300] = '\0';
	line = one_string(value, 256);
	assert_true(json_check_line(line, strlen(line)));
	content = line + strlen("{\"v\":\"");
	n = strlen(content) - strlen("\"}\n");
	assert_int_equal(n, 256 + strlen(JSON_BUF_CUT_MARK));
	assert_memory_equal(content + 256, JSON_BUF_CUT_MARK, strlen(JSON_BUF_CUT_MARK));
	free(line);
	/* Escapes are never split: 42 escapes of 6 bytes fit in 256, not 43. */
	memset(value, '\x01', 300);
	line = one_string(value, 256);
	assert_true(json_check_line(line, strlen(line)));
	assert_int_equal(strlen(line), strlen("{\"v\":\"\"}\n") + 42 * 6 + strlen(JSON_BUF_CUT_MARK));
	free(line);
	/* Nor are characters: 85 euro signs (3 bytes) fit in 256. */
	for (int i = 0; i < 100; i++)
		memcpy(value + 3 * i, "\xe2\x82\xac", 3);
	value[300] = '\0';
	line = one_string(value, 256);
	assert_true(json_check_line(line, strlen(line)));
	assert_int_equal(strlen(line), strlen("{\"v\":\"\"}\n") + 85 * 3 + strlen(JSON_BUF_CUT_MARK));
	free(line);
	/* A string within the cap is whole, and nothing counts as cut. */
	json_buf_begin(&b);
	json_buf_set_limits(&b, &(struct json_buf_limits){ .string_bytes = 256 });
	json_buf_string(&b, "v", "short");
	assert_int_equal(b.cuts, 0);
	line = json_buf_finish(&b);
	assert_string_equal(line, "{\"v\":\"short\"}\n");
	free(line);
}

static void arrays_are_capped(void **state)
{
	struct json_buf b;
	char entry[200], *line;

	(void)state;
	/* By entries. */
	json_buf_begin(&b);
	json_buf_set_limits(&b, &(struct json_buf_limits){ .array_items = 3 });
	json_buf_array_begin(&b, "a");
	for (int i = 0; i < 10; i++)
		json_buf_array_string(&b, "x");
	json_buf_array_end(&b);
	assert_int_equal(b.cuts, 1);
	line = json_buf_finish(&b);
	assert_string_equal(line, "{\"a\":[\"x\",\"x\",\"x\"]}\n");
	free(line);
	/* By bytes: an entry that would go over is left out, and so is the rest
	 * (even the small ones), so the array stays a prefix of the real one. */
	memset(entry, 'y', 99);
	entry[99] = '\0';
	json_buf_begin(&b);
	json_buf_set_limits(&b, &(struct json_buf_limits){ .array_bytes = 250 });
	json_buf_array_begin(&b, "a");
	for (int i = 0; i < 10; i++)
		json_buf_array_string(&b, entry);
	json_buf_array_string(&b, "z");
	json_buf_array_end(&b);
	json_buf_bool(&b, "after", true);
	line = json_buf_finish(&b);
	assert_true(json_check_line(line, strlen(line)));
	/* Two entries of 101 bytes and a comma: 203 <= 250; a third would be 305. */
	assert_int_equal(strlen(line), strlen("{\"a\":[],\"after\":true}\n") + 203);
	assert_null(strchr(line, 'z'));
	free(line);
}

/* A certificate as a hostile device would make it: many long SANs full of
 * control bytes and bytes that are not UTF-8, and a subject to match. */
static X509 *hostile_cert(int n_sans)
{
	X509 *x = X509_new();
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	unsigned char value[255];
	X509_NAME *subject = X509_NAME_new();

	assert_non_null(x);
	for (size_t i = 0; i < sizeof(value); i++)
		value[i] = (unsigned char)(i % 3 == 0 ? 0x01 + i % 0x1f : i % 3 == 1 ? 0x80 + i % 0x80 : 'a');
	for (int i = 0; i < n_sans; i++) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		ASN1_STRING_set(s, value, sizeof(value));
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		sk_GENERAL_NAME_push(names, gn);
	}
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0), 1);
	GENERAL_NAMES_free(names);
	for (int i = 0; i < 8; i++)
		X509_NAME_add_entry_by_NID(subject, NID_organizationalUnitName, V_ASN1_T61STRING,
		                           value, sizeof(value) - 200, -1, 0);
	X509_set_subject_name(x, subject);
	X509_set_issuer_name(x, subject);
	X509_NAME_free(subject);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x7fffffff);
	return x;
}

/* A record with every outsider-filled field at its worst. */
static void hostile_record(struct decision *d, X509 *cert)
{
	decision_start(d, 42, "lab-switch\x01\xff");
	d->accept = false;
	d->reason = POLICY_REASON_HANDSHAKE;
	d->handshake_reason = "unknown_ca";
	memset(d->detail, '\x02', sizeof(d->detail) - 1);
	memset(d->identity, '\xff', sizeof(d->identity) - 1);
	memset(d->calling_station_id, '"', sizeof(d->calling_station_id) - 1);
	memset(d->cert_identity, '\x7f', sizeof(d->cert_identity) - 1);
	d->cert = cert;
	d->dn = malloc(10000);
	assert_non_null(d->dn);
	memset(d->dn, '\x1b', 9999);
	d->dn[9999] = '\0';
	d->n_groups = 500;
	d->groups = calloc(d->n_groups, sizeof(*d->groups));
	assert_non_null(d->groups);
	for (size_t i = 0; i < d->n_groups; i++) {
		d->groups[i] = malloc(300);
		assert_non_null(d->groups[i]);
		memset(d->groups[i], '\xc0', 299);
		d->groups[i][299] = '\0';
	}
	d->rule_index = 0;
	d->rule_name = d->dn;
	d->vlan = d->dn;
}

static void hostile_record_is_one_bounded_line(void **state)
{
	struct timespec now = { .tv_sec = 1700000000 };
	X509 *cert = hostile_cert(240);     /* about 61 KB of SANs */
	struct decision d;
	char *line;
	size_t len;

	(void)state;
	hostile_record(&d, cert);
	line = decision_to_json(&d, &now);
	assert_non_null(line);
	len = strlen(line);
	assert_true(json_check_line(line, len));
	assert_true(len < DECISION_LINE_MAX);
	/* The cut fields are named. */
	print_message("%zu bytes, ending %s", len, line + len - 160);
	assert_non_null(strstr(line, "\"truncated\":[\"detail\",\"identity\",\"subject\",\"issuer\","
	                             "\"san\",\"cert_identity\",\"dn\",\"groups\",\"rule\",\"vlan\"]}\n"));
	decision_clear(&d);
	X509_free(cert);
	free(line);
}

/* A small certificate's record is written whole, nothing listed as cut. */
static void ordinary_record_is_whole(void **state)
{
	struct timespec now = { .tv_sec = 1700000000 };
	X509 *cert = X509_new();
	struct decision d;
	char *line;

	(void)state;
	decision_start(&d, 7, "lab-switch");
	d.accept = true;
	d.reason = POLICY_REASON_OK;
	snprintf(d.identity, sizeof(d.identity), "laptop-0001.corp.example");
	d.cert = cert;
	line = decision_to_json(&d, &now);
	assert_true(json_check_line(line, strlen(line)));
	assert_non_null(strstr(line, "\"truncated\":[]}\n"));
	assert_non_null(strstr(line, "\"identity\":\"laptop-0001.corp.example\""));
	free(line);
	X509_free(cert);
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Every line of the file is valid JSON; returns how many there are. */
static int check_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int count = 0;

	assert_non_null(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		if (!json_check_line(line, (size_t)n))
			fail_msg("line %d is not valid JSON: %s", count + 1, line);
		count++;
	}
	free(line);
	fclose(f);
	return count;
}

/*
 * A write cut short (here by RLIMIT_FSIZE, as a full file system cuts it)
 * fails, counts, and leaves the file as it was: the next record starts on a
 * line of its own and every line parses.
 */
static void short_write_leaves_no_broken_line(void **state)
{
	char dir[] = "/tmp/test_decision_log.XXXXXX", path[64];
	struct decision_log *log;
	struct decision d;
	struct rlimit saved, small;
	unsigned long long lost;
	unsigned suppressed;
	off_t before;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/decisions.jsonl", dir);
	log = decision_log_open(path, 0);
	assert_non_null(log);
	decision_start(&d, 1, "lab-switch");
	snprintf(d.identity, sizeof(d.identity), "laptop-0001.corp.example");
	assert_int_equal(decision_log_write(log, &d), 0);
	before = file_size(path);

	/* Room for part of the next line only. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = (rlim_t)before + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	d.conversation = 2;
	errno = 0;
	assert_int_equal(decision_log_write(log, &d), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	assert_int_equal(file_size(path), before);
	assert_true(decision_log_report_failure(log, &lost, &suppressed));
	assert_int_equal(lost, 1);
	assert_int_equal(suppressed, 0);

	d.conversation = 3;
	assert_int_equal(decision_log_write(log, &d), 0);
	assert_int_equal(check_lines(path), 2);
	decision_log_close(log);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(invalid_utf8_is_escaped),
		cmocka_unit_test(strings_are_cut_at_a_boundary),
		cmocka_unit_test(arrays_are_capped),
		cmocka_unit_test(hostile_record_is_one_bounded_line),
		cmocka_unit_test(ordinary_record_is_whole),
		cmocka_unit_test(short_write_leaves_no_broken_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

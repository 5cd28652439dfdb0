/*
 * The directory client against a real slapd (tests/ldap/slapd.sh, data in
 * tests/ldap/fixture.ldif): what authd would learn about a device, and how it
 * behaves when the directory is wrong, slow, down or restarted.
 *
 * usage: test_ldap_directory GROUP SLAPD_DIR PKI_DIR SLAPD_SH OWN_DIR
 *   GROUP      filter | lookup | tls | failures | outage | bench
 *   SLAPD_DIR  the shared instance (CTest fixture "slapd"): its env file
 *   PKI_DIR    tests/pki/make-pki.sh output (root-ca.pem, rogue-ca.pem)
 *   SLAPD_SH   tests/ldap/slapd.sh, to start instances of our own
 *   OWN_DIR    where "outage" starts the instance it stops and restarts
 * Only "filter" needs no server. "bench" is not a test: it prints lookup
 * latencies (median, p99).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "policy/ldap_directory.h"
#include "policy/ldap_filter.h"

#define GROUPS_DN ",ou=groups,dc=corp,dc=example"
#define DEVICES_DN ",ou=devices,dc=corp,dc=example"

struct server_env {
	char ldap_uri[128], ldaps_uri[128], bind_dn[128], bind_password[64], base_dn[128];
	char group_base_dn[128], ca[512], root_dn[128], root_password[64];
	long pid;
};

static const char *slapd_dir, *pki_dir, *slapd_sh, *own_dir;
static struct server_env shared;

/* ---- helpers ------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void copy_value(char *dst, size_t len, const char *v)
{
	size_t n = strcspn(v, "\n");

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	snprintf(dst, len, "%.*s", (int)n, v);
}

/* Reads DIR/env as written by slapd.sh start. */
static void read_env(const char *dir, struct server_env *e)
{
	char path[600], line[1024];
	FILE *f;

	memset(e, 0, sizeof(*e));
	snprintf(path, sizeof(path), "%s/env", dir);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot read %s (is the slapd fixture up?): %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "LDAP_URI") == 0)
			copy_value(e->ldap_uri, sizeof(e->ldap_uri), eq);
		else if (strcmp(line, "LDAPS_URI") == 0)
			copy_value(e->ldaps_uri, sizeof(e->ldaps_uri), eq);
		else if (strcmp(line, "LDAP_BIND_DN") == 0)
			copy_value(e->bind_dn, sizeof(e->bind_dn), eq);
		else if (strcmp(line, "LDAP_BIND_PASSWORD") == 0)
			copy_value(e->bind_password, sizeof(e->bind_password), eq);
		else if (strcmp(line, "LDAP_BASE_DN") == 0)
			copy_value(e->base_dn, sizeof(e->base_dn), eq);
		else if (strcmp(line, "LDAP_GROUP_BASE_DN") == 0)
			copy_value(e->group_base_dn, sizeof(e->group_base_dn), eq);
		else if (strcmp(line, "LDAP_CA") == 0)
			copy_value(e->ca, sizeof(e->ca), eq);
		else if (strcmp(line, "LDAP_ROOT_DN") == 0)
			copy_value(e->root_dn, sizeof(e->root_dn), eq);
		else if (strcmp(line, "LDAP_ROOT_PASSWORD") == 0)
			copy_value(e->root_password, sizeof(e->root_password), eq);
		else if (strcmp(line, "SLAPD_PID") == 0)
			e->pid = strtol(eq, NULL, 10);
	}
	fclose(f);
	if (e->ldap_uri[0] == '\0')
		fail_msg("%s names no LDAP_URI", path);
}

/* Settings for the fixture's directory: memberOf, direct groups, short timeouts. */
static struct ldap_settings settings_for(const struct server_env *e, const char **uri)
{
	*uri = e->ldap_uri;
	return (struct ldap_settings){
		.uris = uri, .n_uris = 1,
		.bind_dn = e->bind_dn, .bind_password = e->bind_password,
		.base_dn = e->base_dn,
		.device_filter = "(&(objectClass=device)(cn=%{identity}))",
		.group_mode = LDAP_GROUPS_MEMBEROF,
		.group_base_dn = e->group_base_dn,
		.group_filter = "(member=%{dn})",
		.nested_depth = 0,
		.connect_timeout_ms = 1000, .timeout_ms = 2000,
		.connections = 2,
	};
}

static struct ldap_directory *open_dir(const struct ldap_settings *s)
{
	char err[256] = "";
	struct ldap_directory *d = ldap_directory_new(s, err, sizeof(err));

	if (d == NULL)
		fail_msg("ldap_directory_new: %s", err);
	return d;
}

static bool has_group(const struct ldap_lookup_result *r, const char *cn)
{
	char dn[256];

	snprintf(dn, sizeof(dn), "cn=%s" GROUPS_DN, cn);
	for (size_t i = 0; i < r->n_groups; i++) {
		if (strcasecmp(r->groups[i], dn) == 0)
			return true;
	}
	return false;
}

/* Looks up identity and checks the status; on FOUND the caller clears *r. */
static void expect_lookup(struct ldap_directory *d, const char *identity, enum ldap_lookup_status want,
                          struct ldap_lookup_result *r, char *detail, size_t detaillen)
{
	enum ldap_lookup_status got = ldap_directory_lookup(d, identity, r, detail, detaillen);

	if (got != want)
		fail_msg("lookup \"%s\": status %d, expected %d (detail: %s)", identity, got, want, detail);
	if (got != LDAP_LOOKUP_FOUND) {
		assert_null(r->dn);
		assert_int_equal(r->n_groups, 0);
	}
}

/* Exactly these groups (CNs under ou=groups), each once. */
static void expect_groups(const struct ldap_lookup_result *r, const char *const *cns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!has_group(r, cns[i]))
			fail_msg("%s: group %s missing (has %zu groups)", r->dn, cns[i], r->n_groups);
	}
	if (r->n_groups != n) {
		for (size_t i = 0; i < r->n_groups; i++)
			print_error("  group: %s\n", r->groups[i]);
		fail_msg("%s: %zu groups, expected %zu", r->dn, r->n_groups, n);
	}
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A TCP port where connect() hangs: a listener whose accept queue is full
 * and never drained, so the kernel drops further SYNs. */
static int hanging_port(int *listener, int fillers[4])
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	*listener = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*listener >= 0);
	assert_int_equal(bind(*listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(*listener, 0), 0);
	assert_int_equal(getsockname(*listener, (struct sockaddr *)&sa, &len), 0);
	for (int i = 0; i < 4; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fillers[i] >= 0);
		(void)connect(fillers[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	usleep(100 * 1000);
	return ntohs(sa.sin_port);
}

/* A port nobody listens on (bound, then closed: refused at once). */
static int dead_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- filter: pure ---------------------------------------------------------- */

static char *expand1(const char *template, const char *name, const char *value, size_t len)
{
	const char *names[] = { name }, *values[] = { value };
	const size_t lengths[] = { len };

	return ldap_filter_expand(template, names, values, lengths, 1);
}

static void expect_expansion(const char *template, const char *value, size_t len, const char *want)
{
	char *got = expand1(template, "identity", value, len);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_filter_escapes_metacharacters(void **state)
{
	expect_expansion("(cn=%{identity})", "*)(cn=*", 7, "(cn=\\2a\\29\\28cn=\\2a)");
	expect_expansion("(cn=%{identity})", "*", 1, "(cn=\\2a)");
	expect_expansion("(cn=%{identity})", "a\\5c", 4, "(cn=a\\5c5c)");
	expect_expansion("(&(objectClass=device)(cn=%{identity}))", "laptop-0001.corp.example)(cn=*", 30,
	                 "(&(objectClass=device)(cn=laptop-0001.corp.example\\29\\28cn=\\2a))");
	/* Every other byte passes as it is, UTF-8 included. */
	expect_expansion("(cn=%{identity})", "gr\xc3\xbc\xc3\x9f-0001 =~<>&|!", 19,
	                 "(cn=gr\xc3\xbc\xc3\x9f-0001 =~<>&|!)");
}

static void test_filter_nul_is_escaped_not_a_terminator(void **state)
{
	/* The length, not a NUL, ends the value: "laptop\0" is not "laptop". */
	expect_expansion("(cn=%{identity})", "laptop\0x", 8, "(cn=laptop\\00x)");
	expect_expansion("(cn=%{identity})", "\0", 1, "(cn=\\00)");
	expect_expansion("(cn=%{identity})", "", 0, "(cn=)");
}

static void test_filter_variables(void **state)
{
	const char *names[] = { "identity", "dn" };
	const char *values[] = { "l*", "cn=a\\2C b,dc=x" };
	const size_t lengths[] = { 2, 14 };
	char *f;

	f = ldap_filter_expand("(|(cn=%{identity})(member=%{dn})(x=%{identity}))", names, values, lengths, 2);
	assert_non_null(f);
	assert_string_equal(f, "(|(cn=l\\2a)(member=cn=a\\5c2C b,dc=x)(x=l\\2a))");
	free(f);
	/* No variable at all is fine; a '%' not opening a variable is literal. */
	f = ldap_filter_expand("(objectClass=device)", names, values, lengths, 2);
	assert_string_equal(f, "(objectClass=device)");
	free(f);
	f = ldap_filter_expand("(cn=100%)", names, values, lengths, 2);
	assert_string_equal(f, "(cn=100%)");
	free(f);
}

static void test_filter_refuses_bad_templates(void **state)
{
	assert_null(expand1("(cn=%{nope})", "identity", "x", 1));
	assert_null(expand1("(cn=%{identity)", "identity", "x", 1));
	assert_null(expand1("cn=%{identity}", "identity", "x", 1));
	assert_null(expand1("(cn=%{identity}", "identity", "x", 1));
	assert_null(expand1("(cn=%{identity}))(", "identity", "x", 1));
	assert_null(expand1("", "identity", "x", 1));
}

/* ---- lookup: the shared instance ----------------------------------------- */

static void test_found_with_memberof(void **state)
{
	const char *uri, *groups[] = { "employees", "contractors" };
	struct ldap_settings s = settings_for(&shared, &uri);
	struct ldap_directory *d = open_dir(&s);
	struct ldap_lookup_result r;
	char detail[512];

	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_string_equal(r.dn, "cn=laptop-0001.corp.example" DEVICES_DN);
	expect_groups(&r, groups, 2);
	assert_false(r.from_cache);
	ldap_lookup_result_clear(&r);
	/* A device in no group is found, with no groups. */
	expect_lookup(d, "kiosk-0007.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_int_equal(r.n_groups, 0);
	ldap_lookup_result_clear(&r);
	/* An identity that holds metacharacters finds its own entry, escaped. */
	expect_lookup(d, "weird*(device)", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_int_equal(r.n_groups, 0);
	ldap_lookup_result_clear(&r);
	ldap_directory_free(d);
}

static void test_found_with_group_search(void **state)
{
	const char *uri, *laptop[] = { "employees", "contractors" }, *odd[] = { "odd-devices" };
	struct ldap_settings s = settings_for(&shared, &uri);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char detail[512];

	s.group_mode = LDAP_GROUPS_SEARCH;
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	expect_groups(&r, laptop, 2);
	ldap_lookup_result_clear(&r);
	/* %{dn} is escaped too: DNs with parentheses and a backslash find their group. */
	expect_lookup(d, "paren(0001).corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	expect_groups(&r, odd, 1);
	ldap_lookup_result_clear(&r);
	expect_lookup(d, "back\\slash-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_string_equal(r.dn, "cn=back\\5Cslash-0001.corp.example" DEVICES_DN);
	expect_groups(&r, odd, 1);
	ldap_lookup_result_clear(&r);
	ldap_directory_free(d);
}

/* laptop -> employees -> staff -> all-devices: all-devices is two levels up. */
static void test_nested_depth(void **state)
{
	const char *uri, *depth1[] = { "employees", "contractors", "staff" },
	                 *depth2[] = { "employees", "contractors", "staff", "all-devices" };
	struct ldap_lookup_result r;
	char detail[512];

	for (int mode = 0; mode < 2; mode++) {
		struct ldap_settings s = settings_for(&shared, &uri);
		struct ldap_directory *d;

		s.group_mode = mode == 0 ? LDAP_GROUPS_MEMBEROF : LDAP_GROUPS_SEARCH;
		s.nested_depth = 1;
		d = open_dir(&s);
		expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
		expect_groups(&r, depth1, 3);
		ldap_lookup_result_clear(&r);
		ldap_directory_free(d);

		s.nested_depth = 2;
		d = open_dir(&s);
		expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
		expect_groups(&r, depth2, 4);
		ldap_lookup_result_clear(&r);
		ldap_directory_free(d);
	}
}

/* printers is in cycle-a, cycle-a and cycle-b contain each other. */
static void test_cycle_terminates(void **state)
{
	const char *uri, *groups[] = { "printers", "all-devices", "cycle-a", "cycle-b" };
	struct ldap_lookup_result r;
	char detail[512];

	for (int mode = 0; mode < 2; mode++) {
		struct ldap_settings s = settings_for(&shared, &uri);
		struct ldap_directory *d;

		s.group_mode = mode == 0 ? LDAP_GROUPS_MEMBEROF : LDAP_GROUPS_SEARCH;
		s.nested_depth = 50;
		d = open_dir(&s);
		expect_lookup(d, "printer-0042.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
		expect_groups(&r, groups, 4);
		ldap_lookup_result_clear(&r);
		ldap_directory_free(d);
	}
}

static void test_not_found(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&shared, &uri);
	struct ldap_directory *d = open_dir(&s);
	struct ldap_lookup_result r;
	char detail[512];

	expect_lookup(d, "stranger-0001.corp.example", LDAP_LOOKUP_NOT_FOUND, &r, detail, sizeof(detail));
	assert_non_null(strstr(detail, "no device entry"));
	assert_non_null(strstr(detail, shared.ldap_uri));
	expect_lookup(d, "", LDAP_LOOKUP_NOT_FOUND, &r, detail, sizeof(detail));
	ldap_directory_free(d);

	/* A filter matching several entries is ambiguous: no device, and said so. */
	s.device_filter = "(&(objectClass=device)(cn=*%{identity}*))";
	d = open_dir(&s);
	expect_lookup(d, "corp.example", LDAP_LOOKUP_NOT_FOUND, &r, detail, sizeof(detail));
	assert_non_null(strstr(detail, "ambiguous"));
	ldap_directory_free(d);
}

/* Identities that would widen an unescaped filter, each of them against a
 * decoy it would hit: none may find anything. */
static void test_injection_finds_nothing(void **state)
{
	static const char *const hostile[] = {
		"*", "*)(cn=*", "laptop-0001.corp.example)(cn=*", "laptop-0001.corp.example)(|(cn=*",
		"*)(objectClass=*", "a\\5c", "kiosk-*", "weird*", "laptop-0001.corp.example\\",
		"laptop-0001*", "*)", "(", "\\2a",
	};
	const char *uri;
	struct ldap_lookup_result r;
	char detail[512];

	for (int mode = 0; mode < 2; mode++) {
		struct ldap_settings s = settings_for(&shared, &uri);
		struct ldap_directory *d;

		s.group_mode = mode == 0 ? LDAP_GROUPS_MEMBEROF : LDAP_GROUPS_SEARCH;
		d = open_dir(&s);
		for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
			expect_lookup(d, hostile[i], LDAP_LOOKUP_NOT_FOUND, &r, detail, sizeof(detail));
		/* The connections are still sound afterwards. */
		expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
		ldap_lookup_result_clear(&r);
		ldap_directory_free(d);
	}
}

struct parallel {
	struct ldap_directory *d;
	int ok;
};

static void *parallel_lookups(void *arg)
{
	struct parallel *p = arg;
	struct ldap_lookup_result r;
	char detail[512];

	for (int i = 0; i < 50; i++) {
		const char *id = i % 2 ? "laptop-0001.corp.example" : "printer-0042.corp.example";

		if (ldap_directory_lookup(p->d, id, &r, detail, sizeof(detail)) == LDAP_LOOKUP_FOUND &&
		    r.n_groups == 4)   /* both have 4 groups at depth 3 */
			p->ok++;
		ldap_lookup_result_clear(&r);
	}
	return NULL;
}

/* More threads than connections: all answers right, none lost. */
static void test_parallel_lookups(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&shared, &uri);
	struct parallel p[6];
	pthread_t t[6];

	s.nested_depth = 3;
	s.connections = 3;
	p[0].d = open_dir(&s);
	for (int i = 0; i < 6; i++) {
		p[i] = (struct parallel){ .d = p[0].d };
		assert_int_equal(pthread_create(&t[i], NULL, parallel_lookups, &p[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].ok, 50);
	}
	ldap_directory_free(p[0].d);
}

static void test_settings_refused(void **state)
{
	const char *uri, *bad_uri = "http://127.0.0.1/";
	struct ldap_settings s = settings_for(&shared, &uri), t;
	char err[256];

	t = s;
	t.n_uris = 0;
	assert_null(ldap_directory_new(&t, err, sizeof(err)));
	t = s;
	t.uris = &bad_uri;
	assert_null(ldap_directory_new(&t, err, sizeof(err)));
	t = s;
	t.device_filter = "(cn=%{dn})";
	assert_null(ldap_directory_new(&t, err, sizeof(err)));
	assert_non_null(strstr(err, "device_filter"));
	t = s;
	t.group_mode = LDAP_GROUPS_SEARCH;
	t.group_filter = "member=%{dn}";
	assert_null(ldap_directory_new(&t, err, sizeof(err)));
	t = s;
	t.bind_password = "";
	assert_null(ldap_directory_new(&t, err, sizeof(err)));
	t = s;
	t.connections = 0;
	assert_null(ldap_directory_new(&t, err, sizeof(err)));
}

/* ---- tls ------------------------------------------------------------------- */

static void test_starttls_and_ldaps_verified(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&shared, &uri);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char detail[512];

	assert_true(shared.ca[0] != '\0' && shared.ldaps_uri[0] != '\0');
	s.ca = shared.ca;
	s.start_tls = true;
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);
	ldap_directory_free(d);

	uri = shared.ldaps_uri;
	s.start_tls = false;
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);
	ldap_directory_free(d);
}

static void test_wrong_ca_refused(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&shared, &uri);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char rogue[600], detail[512];

	snprintf(rogue, sizeof(rogue), "%s/rogue-ca.pem", pki_dir);
	s.ca = rogue;
	s.start_tls = true;
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	print_message("StartTLS, wrong CA: %s\n", detail);
	assert_non_null(strstr(detail, "StartTLS"));
	assert_non_null(strstr(detail, "TLS handshake failed"));
	assert_non_null(strstr(detail, rogue));
	ldap_directory_free(d);

	uri = shared.ldaps_uri;
	s.start_tls = false;
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	print_message("ldaps, wrong CA: %s\n", detail);
	assert_non_null(strstr(detail, shared.ldaps_uri));
	assert_non_null(strstr(detail, "TLS handshake failed"));
	ldap_directory_free(d);
}

/* A certificate from the right CA that names another host is refused: an
 * instance of our own serving server.pem (authd.test) on 127.0.0.1. */
static void test_tls_host_name_checked(void **state)
{
	struct server_env e;
	const char *uri;
	struct ldap_settings s;
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char detail[512];

	if (run("SLAPD_CERT=server '%s' start '%s' --tls '%s' >/dev/null", slapd_sh, own_dir, pki_dir) != 0)
		fail_msg("slapd.sh start %s failed", own_dir);
	read_env(own_dir, &e);
	s = settings_for(&e, &uri);
	s.ca = e.ca;
	for (int i = 0; i < 2; i++) {
		uri = i == 0 ? e.ldaps_uri : e.ldap_uri;
		s.start_tls = i == 1;
		d = open_dir(&s);
		expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
		print_message("certificate for another name: %s\n", detail);
		assert_non_null(strstr(detail, "TLS handshake failed"));
		ldap_directory_free(d);
	}
	run("'%s' stop '%s'", slapd_sh, own_dir);
}

/* ---- failures ---------------------------------------------------------------- */

static void test_failover(void **state)
{
	char dead[64], detail[512];
	const char *uris[] = { dead, shared.ldap_uri };
	struct ldap_lookup_result r;
	struct ldap_settings s;
	struct ldap_directory *d;
	const char *unused;
	uint64_t t0;

	snprintf(dead, sizeof(dead), "ldap://127.0.0.1:%d", dead_port());
	s = settings_for(&shared, &unused);
	s.uris = uris;
	s.n_uris = 2;
	s.connections = 1;
	d = open_dir(&s);
	for (int i = 0; i < 3; i++) {
		expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
		ldap_lookup_result_clear(&r);
	}
	ldap_directory_free(d);

	/* Both dead: UNAVAILABLE, and the detail names each URI. */
	uris[1] = uris[0];
	d = open_dir(&s);
	t0 = now_ms();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	assert_true(now_ms() - t0 < 1000);
	assert_non_null(strstr(detail, "Can't contact LDAP server"));
	assert_non_null(strstr(detail, "; "));
	ldap_directory_free(d);
}

/* A URI whose connect hangs costs its connect timeout once, then goes last. */
static void test_hanging_uri_costs_once(void **state)
{
	int listener, fillers[4];
	char hang[64], detail[512];
	const char *uris[] = { hang, shared.ldap_uri }, *unused;
	struct ldap_settings s = settings_for(&shared, &unused);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	uint64_t t0, spent;

	snprintf(hang, sizeof(hang), "ldap://127.0.0.1:%d", hanging_port(&listener, fillers));
	s.uris = uris;
	s.n_uris = 2;
	s.connections = 2;
	s.connect_timeout_ms = 400;
	d = open_dir(&s);
	t0 = now_ms();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);
	spent = now_ms() - t0;
	print_message("first lookup past a hanging URI: %llu ms\n", (unsigned long long)spent);
	assert_true(spent >= 350);
	/* The second connection opens within the backoff: the hanging URI goes last. */
	t0 = now_ms();
	for (int i = 0; i < 4; i++) {
		expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
		ldap_lookup_result_clear(&r);
	}
	spent = now_ms() - t0;
	print_message("next 4 lookups: %llu ms\n", (unsigned long long)spent);
	assert_true(spent < 350);
	ldap_directory_free(d);
	for (int i = 0; i < 4; i++)
		close(fillers[i]);
	close(listener);
}

static void test_wrong_bind_password(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&shared, &uri);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char detail[512];

	s.bind_password = "not-the-password";
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	print_message("wrong password: %s\n", detail);
	assert_non_null(strstr(detail, "Invalid credentials"));
	assert_non_null(strstr(detail, shared.bind_dn));
	assert_null(strstr(detail, "not-the-password"));
	ldap_directory_free(d);
}

static void test_unreachable_within_connect_timeout(void **state)
{
	int listener, fillers[4];
	char hang[64], detail[512];
	const char *uri = hang, *unused;
	struct ldap_settings s = settings_for(&shared, &unused);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	uint64_t t0, spent;

	snprintf(hang, sizeof(hang), "ldap://127.0.0.1:%d", hanging_port(&listener, fillers));
	s.uris = &uri;
	s.connect_timeout_ms = 500;
	s.timeout_ms = 5000;
	d = open_dir(&s);
	t0 = now_ms();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	spent = now_ms() - t0;
	print_message("unreachable: %llu ms: %s\n", (unsigned long long)spent, detail);
	assert_true(spent >= 450 && spent < 1500);
	assert_non_null(strstr(detail, hang));
	ldap_directory_free(d);
	for (int i = 0; i < 4; i++)
		close(fillers[i]);
	close(listener);
}

/* A base DN that does not exist is the directory's "cannot answer", not "no such device". */
static void test_wrong_base_dn(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&shared, &uri);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char detail[512];

	s.base_dn = "ou=nowhere,dc=corp,dc=example";
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	assert_non_null(strstr(detail, "No such object"));
	ldap_directory_free(d);
}

/* ---- outage: an instance of our own ------------------------------------------ */

static struct server_env own;

static void own_start(void)
{
	if (run("'%s' start '%s' >/dev/null", slapd_sh, own_dir) != 0)
		fail_msg("slapd.sh start %s failed", own_dir);
	read_env(own_dir, &own);
}

static void own_stop(void)
{
	assert_int_equal(run("'%s' stop '%s'", slapd_sh, own_dir), 0);
}

/* Same ports, same data. */
static void own_relaunch(void)
{
	if (run("'%s' restart '%s' >/dev/null", slapd_sh, own_dir) != 0)
		fail_msg("slapd.sh restart %s failed", own_dir);
	read_env(own_dir, &own);
}

static int outage_setup(void **state)
{
	own_start();
	return 0;
}

static int outage_teardown(void **state)
{
	run("'%s' stop '%s'", slapd_sh, own_dir);
	return 0;
}

static void test_restart_survived(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&own, &uri);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char detail[512];
	uint64_t t0, spent;

	s.connections = 1;   /* the one pooled connection must come back */
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);

	own_stop();
	t0 = now_ms();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	spent = now_ms() - t0;
	print_message("directory down: %llu ms: %s\n", (unsigned long long)spent, detail);
	assert_true(spent < 1000);   /* refused at once, not a timeout */

	own_relaunch();
	/* Right away, within the second the URI is remembered as failed. */
	t0 = now_ms();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_false(r.from_cache);
	ldap_lookup_result_clear(&r);
	spent = now_ms() - t0;
	print_message("first lookup after the restart: %llu ms\n", (unsigned long long)spent);
	assert_true(spent < 2000);

	/* Restarted between two lookups: the dead pooled connection is replaced
	 * within the lookup, which succeeds and has nothing to report. */
	own_stop();
	own_relaunch();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_string_equal(detail, "");
	ldap_lookup_result_clear(&r);
	ldap_directory_free(d);
}

static void test_outage_cache(void **state)
{
	const char *uri, *groups[] = { "employees", "contractors" };
	struct ldap_settings s = settings_for(&own, &uri);
	struct ldap_directory *d, *short_ttl;
	struct ldap_lookup_result r;
	char detail[512], cmd_auth[512];

	s.cache_ttl_s = 60;
	d = open_dir(&s);
	s.cache_ttl_s = 1;
	short_ttl = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);
	expect_lookup(short_ttl, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);
	expect_lookup(d, "kiosk-0007.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);

	/* The kiosk leaves the directory: "not found" is the answer from now on,
	 * even during an outage. */
	snprintf(cmd_auth, sizeof(cmd_auth), "-x -H '%s' -D '%s' -w '%s'", own.ldap_uri, own.root_dn,
	         own.root_password);
	assert_int_equal(run("ldapdelete %s 'cn=kiosk-0007.corp.example%s'", cmd_auth, DEVICES_DN), 0);
	expect_lookup(d, "kiosk-0007.corp.example", LDAP_LOOKUP_NOT_FOUND, &r, detail, sizeof(detail));

	own_stop();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_true(r.from_cache);
	assert_string_equal(r.dn, "cn=laptop-0001.corp.example" DEVICES_DN);
	expect_groups(&r, groups, 2);
	print_message("served from cache: %s\n", detail);
	assert_non_null(strstr(detail, "served from cache"));
	assert_non_null(strstr(detail, own.ldap_uri));
	ldap_lookup_result_clear(&r);
	expect_lookup(d, "kiosk-0007.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	expect_lookup(d, "printer-0042.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	/* Past its TTL an entry serves no more. */
	usleep(1100 * 1000);
	expect_lookup(short_ttl, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail,
	              sizeof(detail));

	/* Back: fresh answers again, not the cache. */
	own_relaunch();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	assert_false(r.from_cache);
	ldap_lookup_result_clear(&r);
	ldap_directory_free(short_ttl);
	ldap_directory_free(d);
}

/* Stops pid and returns once the kernel shows it stopped: kill() only queues
 * the signal, and a slapd thread already running on the other core could
 * otherwise still answer the next request. */
static void freeze(pid_t pid)
{
	char path[64], stat[512], *state;
	FILE *f;

	/* The pid must be the slapd this test launched, not a stale one. */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	stat[fread(stat, 1, sizeof(stat) - 1, f)] = '\0';
	fclose(f);
	if (strcmp(stat, "slapd") != 0)
		fail_msg("pid %d is \"%s\", not slapd", (int)pid, stat);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 200; i++) {
		f = fopen(path, "r");
		assert_non_null(f);
		stat[0] = '\0';
		if (fgets(stat, sizeof(stat), f) == NULL)
			stat[0] = '\0';
		fclose(f);
		/* "pid (comm) S ...": the state follows the last ')'. */
		state = strrchr(stat, ')');
		if (state != NULL && (state[2] == 'T' || state[2] == 't'))
			return;
		usleep(5 * 1000);
	}
	fail_msg("slapd %d did not stop: %s", (int)pid, stat);
}

/* A frozen server (SIGSTOP): one search timeout, not two, then it comes back. */
static void test_frozen_directory(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&own, &uri);
	struct ldap_directory *d;
	struct ldap_lookup_result r;
	char detail[512];
	uint64_t t0, spent;

	s.connections = 1;
	s.timeout_ms = 1000;
	d = open_dir(&s);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);
	freeze((pid_t)own.pid);
	t0 = now_ms();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	spent = now_ms() - t0;
	print_message("frozen, pooled connection: %llu ms: %s\n", (unsigned long long)spent, detail);
	assert_true(spent >= 950 && spent < 1900);   /* two timeouts would be 2000 */
	/* A new connection: the bind is bounded by the same timeout. */
	t0 = now_ms();
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_UNAVAILABLE, &r, detail, sizeof(detail));
	spent = now_ms() - t0;
	print_message("frozen, new connection: %llu ms: %s\n", (unsigned long long)spent, detail);
	assert_true(spent >= 950 && spent < 1900);
	assert_int_equal(kill((pid_t)own.pid, SIGCONT), 0);
	expect_lookup(d, "laptop-0001.corp.example", LDAP_LOOKUP_FOUND, &r, detail, sizeof(detail));
	ldap_lookup_result_clear(&r);
	ldap_directory_free(d);
}

/* ---- bench ------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void bench_one(const char *what, struct ldap_settings *s, int n)
{
	struct ldap_directory *d = open_dir(s);
	uint64_t *us = calloc((size_t)n, sizeof(*us));
	struct ldap_lookup_result r;
	char detail[512];
	size_t groups = 0;

	assert_non_null(us);
	for (int i = -10; i < n; i++) {   /* 10 warm-up lookups (connections) */
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (ldap_directory_lookup(d, "laptop-0001.corp.example", &r, detail, sizeof(detail)) !=
		    LDAP_LOOKUP_FOUND)
			fail_msg("%s: %s", what, detail);
		clock_gettime(CLOCK_MONOTONIC, &b);
		groups = r.n_groups;
		ldap_lookup_result_clear(&r);
		if (i >= 0)
			us[i] = (uint64_t)(((int64_t)b.tv_sec - a.tv_sec) * 1000000 + ((int64_t)b.tv_nsec - a.tv_nsec) / 1000);
	}
	qsort(us, (size_t)n, sizeof(*us), cmp_u64);
	printf("%-40s n=%d groups=%zu median %llu us  p99 %llu us  max %llu us\n", what, n, groups,
	       (unsigned long long)us[n / 2], (unsigned long long)us[n * 99 / 100],
	       (unsigned long long)us[n - 1]);
	free(us);
	ldap_directory_free(d);
}

static void test_bench(void **state)
{
	const char *uri;
	struct ldap_settings s = settings_for(&shared, &uri);
	const char *n_env = getenv("BENCH_LOOKUPS");
	int n = n_env != NULL ? atoi(n_env) : 1000;

	s.connections = 1;
	bench_one("memberOf, direct", &s, n);
	s.nested_depth = 3;
	bench_one("memberOf, nested_depth 3", &s, n);
	s.group_mode = LDAP_GROUPS_SEARCH;
	s.nested_depth = 0;
	bench_one("group search, direct", &s, n);
	s.nested_depth = 3;
	bench_one("group search, nested_depth 3", &s, n);
	if (shared.ca[0] != '\0') {
		s.ca = shared.ca;
		s.start_tls = true;
		bench_one("group search, nested 3, StartTLS", &s, n);
	}
}

/* ---- main --------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct CMUnitTest filter[] = {
		cmocka_unit_test(test_filter_escapes_metacharacters),
		cmocka_unit_test(test_filter_nul_is_escaped_not_a_terminator),
		cmocka_unit_test(test_filter_variables),
		cmocka_unit_test(test_filter_refuses_bad_templates),
	};
	static const struct CMUnitTest lookup[] = {
		cmocka_unit_test(test_found_with_memberof),
		cmocka_unit_test(test_found_with_group_search),
		cmocka_unit_test(test_nested_depth),
		cmocka_unit_test(test_cycle_terminates),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_injection_finds_nothing),
		cmocka_unit_test(test_parallel_lookups),
		cmocka_unit_test(test_settings_refused),
	};
	static const struct CMUnitTest tls[] = {
		cmocka_unit_test(test_starttls_and_ldaps_verified),
		cmocka_unit_test(test_wrong_ca_refused),
		cmocka_unit_test(test_tls_host_name_checked),
	};
	static const struct CMUnitTest failures[] = {
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_hanging_uri_costs_once),
		cmocka_unit_test(test_wrong_bind_password),
		cmocka_unit_test(test_unreachable_within_connect_timeout),
		cmocka_unit_test(test_wrong_base_dn),
	};
	static const struct CMUnitTest outage[] = {
		cmocka_unit_test_setup_teardown(test_restart_survived, outage_setup, outage_teardown),
		cmocka_unit_test_setup_teardown(test_outage_cache, outage_setup, outage_teardown),
		cmocka_unit_test_setup_teardown(test_frozen_directory, outage_setup, outage_teardown),
	};
	static const struct CMUnitTest bench[] = {
		cmocka_unit_test(test_bench),
	};
	const char *group = argc > 1 ? argv[1] : "";

	if (argc != 6 && strcmp(group, "filter") != 0) {
		fprintf(stderr, "usage: %s filter|lookup|tls|failures|outage|bench "
		                "SLAPD_DIR PKI_DIR SLAPD_SH OWN_DIR\n", argv[0]);
		return 2;
	}
	/* authd ignores SIGPIPE too: a write to a directory that went away is an error, not death. */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(group, "filter") == 0)
		return cmocka_run_group_tests_name("ldap_filter", filter, NULL, NULL);
	slapd_dir = argv[2];
	pki_dir = argv[3];
	slapd_sh = argv[4];
	own_dir = argv[5];
	if (access(slapd_dir, F_OK) != 0) {
		fprintf(stderr, "%s: %s: %s (is the slapd fixture up?)\n", argv[0], slapd_dir, strerror(errno));
		return 1;
	}
	read_env(slapd_dir, &shared);
	if (strcmp(group, "lookup") == 0)
		return cmocka_run_group_tests_name("ldap_lookup", lookup, NULL, NULL);
	if (strcmp(group, "tls") == 0)
		return cmocka_run_group_tests_name("ldap_tls", tls, NULL, NULL);
	if (strcmp(group, "failures") == 0)
		return cmocka_run_group_tests_name("ldap_failures", failures, NULL, NULL);
	if (strcmp(group, "outage") == 0)
		return cmocka_run_group_tests_name("ldap_outage", outage, NULL, NULL);
	if (strcmp(group, "bench") == 0)
		return cmocka_run_group_tests_name("ldap_bench", bench, NULL, NULL);
	fprintf(stderr, "%s: unknown group %s\n", argv[0], group);
	return 2;
}

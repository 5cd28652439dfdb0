/*
 * authd.conf validation: what `authd -C` tells an admin. Every error must name
 * the file and line and say what is wrong; a good config must load with
 * relative paths resolved against the config's directory.
 *
 * argv[1]: the test PKI directory (fixture "pki").
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include "authd/client.h"
#include "authd/authctl_config.h"
#include "authd/config.h"
#include "common/seal.h"
#include "policy/ocsp_check.h"
#include "policy/rules.h"

static const char *pki;
static char dir[] = "/tmp/authd-config-test-XXXXXX";

/* Writes dir/name with the given mode; returns its path (valid until the next call). */
static const char *write_file(const char *name, const char *body, mode_t mode)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* A config file as an admin keeps one that holds secrets: mode 0600. */
static const char *write_config(const char *name, const char *body)
{
	return write_file(name, body, 0600);
}

#define SECRET       "testing123-radius-secret"
#define GOOD_LISTEN  "listen = ( { address = \"127.0.0.1\"; port = 1812; } );\n"
#define GOOD_CLIENTS "clients = ( { name = \"sw\"; address = \"127.0.0.0/8\"; secret = \"" SECRET "\"; } );\n"
#define GOOD_LOG     "log = { decisions = \"decisions.jsonl\"; };\n"

static char *good_tls(void)
{
	static char tls[1024];

	snprintf(tls, sizeof(tls),
	         "tls = { certificate = \"%s/server.pem\"; private_key = \"%s/server.key\";\n"
	         "        ca = \"%s/ca-bundle.pem\"; };\n", pki, pki, pki);
	return tls;
}

static void expect_error_mode(const char *body, mode_t mode, const char *line_tag, const char *needle)
{
	struct authd_config cfg;
	char err[1024], want[600];
	const char *path = write_file("bad.conf", body, mode);

	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s%s", path, line_tag);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, needle) == NULL)
		fail_msg("error \"%s\" should start with \"%s\" and mention \"%s\"", err, want, needle);
}

static void expect_error(const char *body, const char *line_tag, const char *needle)
{
	expect_error_mode(body, 0600, line_tag, needle);
}

/* body, written with mode, loads. */
static void expect_loads_mode(const char *body, mode_t mode)
{
	struct authd_config cfg;
	char err[1024];

	if (config_load(write_file("ok.conf", body, mode), &cfg, err, sizeof(err)) != 0)
		fail_msg("config refused: %s", err);
	config_free(&cfg);
}

static void expect_loads(const char *body)
{
	expect_loads_mode(body, 0600);
}

static void test_good_config_loads(void **state)
{
	char body[4096];
	struct authd_config cfg;
	char err[1024];

	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG);
	assert_int_equal(config_load(write_config("good.conf", body), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_listen, 1);
	assert_int_equal(cfg.listen[0].port, 1812);
	assert_string_equal(cfg.clients[0].name, "sw");
	assert_true(cfg.clients[0].require_message_authenticator);
	assert_true(cfg.tls.require_client_eku);
	assert_int_equal(cfg.fragment_size, 1014);
	assert_int_equal(cfg.tls.max_handshake_message, 16384);
	/* Relative to the config file, not to the working directory. */
	assert_non_null(strstr(cfg.decision_log, dir));
	assert_false(cfg.decision_log_fail_open);    /* an unrecorded accept is refused */
	config_free(&cfg);
}

/* log.on_write_failure: "reject" (the default) or "accept", nothing else. */
static void test_decision_log_on_write_failure(void **state)
{
	char body[4096];
	struct authd_config cfg;
	char err[1024];

	(void)state;
	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(),
	         "log = { decisions = \"decisions.jsonl\"; on_write_failure = \"accept\"; };\n");
	assert_int_equal(config_load(write_config("fail-open.conf", body), &cfg, err, sizeof(err)), 0);
	assert_true(cfg.decision_log_fail_open);
	config_free(&cfg);
	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(),
	         "log = { decisions = \"decisions.jsonl\"; on_write_failure = \"ignore\"; };\n");
	expect_error(body, ":", "log.on_write_failure must be \"reject\" or \"accept\", not \"ignore\"");
}

static void test_syntax_error_has_line(void **state)
{
	expect_error(GOOD_LISTEN "clients = ( { name = \"sw\"; address = ; } );\n", ":2:", "syntax error");
}

static void test_unknown_key(void **state)
{
	char body[4096];

	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS,
	         "tls = { certificate = \"a\"; require_client_ekus = false; };\n", GOOD_LOG);
	expect_error(body, ":3:", "unknown setting \"require_client_ekus\" in tls");
}

static void test_missing_file(void **state)
{
	char body[4096];

	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS,
	         "tls = { certificate = \"nope.pem\"; private_key = \"k\"; ca = \"c\"; };\n", GOOD_LOG);
	expect_error(body, ":3:", "cannot read");
}

static void test_bad_client_address(void **state)
{
	char body[4096];

	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN,
	         "clients = ( { name = \"sw\"; address = \"10.0.0.1/8\"; secret = \"" SECRET "\"; } );\n",
	         good_tls(), GOOD_LOG);
	expect_error(body, ":2:", "host bits");
	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN,
	         "clients = ( { name = \"sw\"; address = \"lab\"; secret = \"" SECRET "\"; } );\n",
	         good_tls(), GOOD_LOG);
	expect_error(body, ":2:", "not an IP address");
}

static void test_secret_required_once(void **state)
{
	char body[4096];

	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN,
	         "clients = ( { name = \"sw\"; address = \"10.0.0.0/8\"; } );\n", good_tls(), GOOD_LOG);
	expect_error(body, ":2:", "exactly one of \"secret\" or \"secret_file\"");
}

/* eap.max_handshake_message reaches the TLS settings, within its range. */
static void test_max_handshake_message(void **state)
{
	char body[4096];
	struct authd_config cfg;
	char err[1024];

	snprintf(body, sizeof(body), "%s%s%s%seap = { max_handshake_message = 8192; };\n",
	         GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG);
	assert_int_equal(config_load(write_config("handshake.conf", body), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.tls.max_handshake_message, 8192);
	config_free(&cfg);
	snprintf(body, sizeof(body), "%s%s%s%seap = { max_handshake_message = 131396; };\n",
	         GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG);
	expect_error(body, ":", "\"max_handshake_message\" is 131396, must be 4096..65536");
	(void)state;
}

static void test_bad_port_and_version(void **state)
{
	char body[4096];

	snprintf(body, sizeof(body), "%s%s%s",
	         "listen = ( { address = \"127.0.0.1\"; port = 70000; } );\n", GOOD_CLIENTS, GOOD_LOG);
	expect_error(body, ":1:", "must be 1..65535");
	snprintf(body, sizeof(body), "%s%s"
	         "tls = { certificate = \"%s/server.pem\"; private_key = \"%s/server.key\";\n"
	         "  ca = \"%s/ca-bundle.pem\";\n  min_version = \"1.1\"; };\n%s",
	         GOOD_LISTEN, GOOD_CLIENTS, pki, pki, pki, GOOD_LOG);
	expect_error(body, ":5:", "must be \"1.2\" or \"1.3\"");
}

static void test_secret_file_must_be_private(void **state)
{
	char body[4096], secret[600];
	struct authd_config cfg;
	char err[1024];
	FILE *f;

	snprintf(secret, sizeof(secret), "%s/nas.secret", dir);
	f = fopen(secret, "w");
	assert_non_null(f);
	fputs("s3cret-from-file\n", f);
	fclose(f);
	chmod(secret, 0644);
	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN,
	         "clients = ( { name = \"sw\"; address = \"10.0.0.0/8\"; secret_file = \"nas.secret\"; } );\n",
	         good_tls(), GOOD_LOG);
	expect_error(body, ":2:", "readable by others (mode 0644)");
	chmod(secret, 0600);
	assert_int_equal(config_load(write_config("secret.conf", body), &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.clients[0].secret, "s3cret-from-file");
	config_free(&cfg);
}

static void test_missing_sections(void **state)
{
	expect_error(GOOD_LISTEN, ":0:", "missing required setting \"clients\"");
}

static void expect_policy_error(const char *sections, const char *line_tag, const char *needle)
{
	char body[8192];

	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         sections);
	expect_error(body, line_tag, needle);
}

#define STATIC_MAP "groups = ( { identity = \"laptop-*\"; groups = [ \"employees\" ]; } );\n"

static void test_policy_sections(void **state)
{
	char body[8192];
	struct authd_config cfg;
	char err[1024];

	snprintf(body, sizeof(body), "%s%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         STATIC_MAP,
	         "policy = { rules = ( { name = \"e\"; group = \"employees\"; vlan = 110;\n"
	         "  nas = \"sw\"; nas_port_type = \"Ethernet\"; } );\n"
	         "  default = \"quarantine\"; quarantine_vlan = \"999\"; };\n");
	assert_int_equal(config_load(write_config("policy.conf", body), &cfg, err, sizeof(err)), 0);
	assert_true(cfg.policy.placement);
	assert_int_equal(cfg.policy.n_rules, 1);
	assert_string_equal(cfg.policy.rules[0].vlan, "110");
	assert_int_equal(cfg.policy.rules[0].nas_port_type, NAS_PORT_TYPE_ETHERNET);
	assert_int_equal(cfg.policy.no_match, POLICY_QUARANTINE);
	assert_int_equal(cfg.policy.n_static_groups, 1);
	config_free(&cfg);

	/* Lines count from 1 in the file; the sections start on line 6. */
	expect_policy_error(STATIC_MAP "policy = { rules = ( { name = \"e\"; group = \"g\"; vlan = 1; colour = 2; } ); };\n",
	                    ":7:", "unknown setting \"colour\" in policy.rules");
	expect_policy_error(STATIC_MAP "policy = { rules = ( { name = \"e\"; group = \"g\"; vlan = 1; } );\n"
	                    "  default = \"quarantine\"; };\n", ":7:", "needs quarantine_vlan");
	expect_policy_error(STATIC_MAP "policy = { rules = ( { name = \"e\"; group = \"g\"; vlan = 5000; } ); };\n",
	                    ":7:", "outside 1..4094");
	expect_policy_error(STATIC_MAP "policy = { rules = ( { name = \"e\"; group = \"g\"; vlan = 1; nas = \"nope\"; } ); };\n",
	                    ":7:", "not a configured client");
	expect_policy_error(STATIC_MAP "policy = { rules = ( { group = \"g\"; vlan = 1; } ); };\n",
	                    ":7:", "needs a \"name\"");
	expect_policy_error("policy = { rules = ( { name = \"e\"; group = \"g\"; vlan = 1; } ); };\n",
	                    ":6:", "need groups");
	expect_policy_error(STATIC_MAP, ":0:", "no \"policy\" with rules");
	expect_policy_error("identity = { sources = [ \"subject_cn\", \"fingerprint\" ]; };\n",
	                    ":6:", "\"fingerprint\" is not one of");
	expect_policy_error("ldap = { uris = [ \"http://dc1\" ]; base_dn = \"dc=x\"; };\n",
	                    ":6:", "not an ldap:// or ldaps:// URI");
	expect_policy_error("ldap = { uris = [ \"ldap://dc1\" ]; base_dn = \"dc=x\";\n"
	                    "  bind_dn = \"cn=a\"; };\n", ":6:", "missing required setting \"bind_password\"");
}

#define REDIS "redis = { host = \"127.0.0.1\"; key_file = \"node.key\"; };\n"

/* dir/node.key with the given text and mode. */
static void write_node_key(const char *text, mode_t mode)
{
	write_file("node.key", text, mode);
}

#define NODE_KEY "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"

static void test_revocation_and_sessions(void **state)
{
	char body[8192];
	struct authd_config cfg;
	char err[1024];

	snprintf(body, sizeof(body),
	         "listen = ( { address = \"127.0.0.1\"; }, { address = \"127.0.0.1\"; type = \"accounting\"; } );\n"
	         "clients = ( { name = \"sw\"; address = \"127.0.0.0/8\"; secret = \"" SECRET "\";\n"
	         "              coa_port = 4000; coa_address = \"192.0.2.7\"; } );\n%s%s%s"
	         "revocation = { ocsp = { url = \"http://127.0.0.1:8888/\"; nonce = false; }; unknown = \"accept\"; };\n"
	         "sessions = { on_revoke = \"coa\"; retries = 0; };\n",
	         good_tls(), GOOD_LOG, REDIS);
	assert_int_equal(config_load(write_config("revocation.conf", body), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.listen[0].port, 1812);
	assert_false(cfg.listen[0].accounting);
	assert_int_equal(cfg.listen[1].port, 1813);
	assert_true(cfg.listen[1].accounting);
	assert_int_equal(cfg.clients[0].coa_port, 4000);
	assert_string_equal(cfg.clients[0].coa_address, "192.0.2.7");
	assert_null(cfg.clients[0].coa_secret);   /* authd never sends Disconnect/CoA: authctl does */
	assert_non_null(cfg.policy.revocation.ocsp);
	assert_string_equal(cfg.policy.revocation.ocsp->url, "http://127.0.0.1:8888/");
	assert_false(cfg.policy.revocation.ocsp->nonce);
	assert_int_equal(cfg.policy.revocation.ocsp->timeout_ms, 2000);
	assert_int_equal(cfg.policy.revocation.unknown, REVOCATION_UNKNOWN_ACCEPT);
	assert_true(cfg.sessions.enabled);
	assert_int_equal(cfg.sessions.dynauth.request, DYNAUTH_COA);
	assert_int_equal(cfg.sessions.dynauth.retries, 0);
	assert_int_equal(cfg.sessions.max_per_nas, 10000);
	assert_non_null(cfg.redis->seal);
	assert_string_equal(seal_key_id(cfg.redis->seal), "k1");
	config_free(&cfg);

	expect_policy_error("revocation = { unknown = \"reject\"; };\n", ":6:", "needs CRL files");
	expect_policy_error("revocation = { ocsp = { url = \"https://x/\"; }; };\n", ":6:", "http:// URL");
	expect_policy_error("revocation = { ocsp = { }; unknown = \"crl\"; };\n", ":6:", "it needs both");
	expect_policy_error("revocation = { ocsp = { }; unknown = \"maybe\"; };\n", ":6:",
	                    "must be \"reject\", \"crl\" or \"accept\"");
	expect_policy_error("sessions = { lifetime = 600; };\n", ":6:", "needs the redis section");
	expect_policy_error(REDIS "sessions = { on_revoke = \"kick\"; };\n", ":7:", "sessions.on_revoke must be");
	expect_policy_error(REDIS "sessions = { max_per_nas = 0; };\n", ":7:", "max_per_nas");
	expect_error("listen = ( { address = \"127.0.0.1\"; type = \"acct\"; } );\n", ":1:",
	             "listen type must be");
	snprintf(body, sizeof(body), "listen = ( { address = \"127.0.0.1\"; type = \"accounting\"; } );\n%s%s%s",
	         GOOD_CLIENTS, good_tls(), GOOD_LOG);
	expect_error(body, ":1:", "accounting listener needs the live-session table");
}

/* A config with one client entry holding client_settings (line 2). */
static void client_config(char *body, size_t size, const char *client_settings)
{
	snprintf(body, size, "%sclients = ( { name = \"sw\"; address = \"127.0.0.0/8\"; %s } );\n%s%s",
	         GOOD_LISTEN, client_settings, good_tls(), GOOD_LOG);
}

static void test_short_secrets(void **state)
{
	char body[4096];

	client_config(body, sizeof(body), "secret = \"testing123\";");
	expect_error(body, ":2:", "client \"sw\": secret is 10 characters, at least 16 are needed");
	client_config(body, sizeof(body), "secret = \"testing123\"; allow_short_secret = true;");
	expect_loads(body);
	client_config(body, sizeof(body), "secret = \"0123456789abcdef\";");   /* 16: enough */
	expect_loads(body);
	write_file("short.secret", "short-secret\n", 0600);
	client_config(body, sizeof(body), "secret_file = \"short.secret\";");
	expect_error(body, ":2:", "client \"sw\": secret_file is 12 characters");
	client_config(body, sizeof(body), "secret_file = \"short.secret\"; allow_short_secret = true;");
	expect_loads(body);
	/* authd never reads a CoA secret (authctl does, and checks it: test_authctl_config). */
	client_config(body, sizeof(body), "secret = \"" SECRET "\"; coa_secret = \"coa-short\";");
	expect_loads(body);
	client_config(body, sizeof(body), "secret = \"testing123\"; allow_short_secret = 1;");
	expect_error(body, ":2:", "\"allow_short_secret\" must be true or false");
}

#define LDAP_BIND(uri, extra)                                                                     \
	"ldap = { uris = [ " uri " ]; base_dn = \"dc=x\"; bind_dn = \"cn=a\";\n"                  \
	"  bind_password = \"bind-secret\"; " extra " };\n"
#define LDAP_POLICY "policy = { rules = ( { name = \"e\"; group = \"g\"; vlan = 1; } ); };\n"

/* The ldap and policy sections, after a good base (they start on line 6). */
static void expect_ldap_loads(const char *ldap)
{
	char body[8192];

	snprintf(body, sizeof(body), "%s%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         ldap, LDAP_POLICY);
	expect_loads(body);
}

static void test_ldap_cleartext_bind(void **state)
{
	expect_policy_error(LDAP_BIND("\"ldap://dc1\"", "") LDAP_POLICY, ":6:",
	                    "ldap.uris: \"ldap://dc1\" would send the bind password in the clear");
	expect_policy_error(LDAP_BIND("\"ldaps://dc1\", \"ldap://dc2\"", "") LDAP_POLICY, ":6:",
	                    "\"ldap://dc2\" would send the bind password in the clear");
	expect_policy_error(LDAP_BIND("\"ldap://dc1\"", "allow_cleartext_bind = \"yes\";") LDAP_POLICY,
	                    ":7:", "\"allow_cleartext_bind\" must be true or false");
	expect_ldap_loads(LDAP_BIND("\"ldap://dc1\"", "start_tls = true;"));
	expect_ldap_loads(LDAP_BIND("\"ldap://dc1\"", "allow_cleartext_bind = true;"));
	expect_ldap_loads(LDAP_BIND("\"ldaps://dc1\", \"ldaps://dc2\"", ""));
	/* An anonymous bind has no password to lose. */
	expect_ldap_loads("ldap = { uris = [ \"ldap://dc1\" ]; base_dn = \"dc=x\"; };\n");
}

/* Inline secrets make the config file itself a secret: others must not read it. */
static void test_inline_secrets_need_a_private_config(void **state)
{
	char body[8192];
	const char *client_file = "clients = ( { name = \"sw\"; address = \"127.0.0.0/8\"; "
	                          "secret_file = \"nas.secret\"; } );\n";

	write_file("nas.secret", SECRET "\n", 0600);
	write_file("bind.secret", "bind-secret\n", 0600);
	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG);
	expect_error_mode(body, 0644, ":2: clients.secret is written inline: ",
	                  "readable by others (mode 0644): chmod o-r it, or keep the secret in secret_file");
	expect_error_mode(body, 0604, ":2: clients.secret is written inline: ", "(mode 0604)");
	expect_loads_mode(body, 0640);   /* a service group may read it */

	/* No inline secret: the file may be world-readable. */
	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, client_file, good_tls(), GOOD_LOG);
	expect_loads_mode(body, 0644);

	snprintf(body, sizeof(body), "%sclients = ( { name = \"sw\"; address = \"127.0.0.0/8\";\n"
	         "  secret_file = \"nas.secret\"; coa_secret = \"" SECRET "\"; } );\n%s%s",
	         GOOD_LISTEN, good_tls(), GOOD_LOG);
	expect_error_mode(body, 0644, ":3: clients.coa_secret is written inline: ", "readable by others");

	snprintf(body, sizeof(body), "%s%s%s%s%s%s", GOOD_LISTEN, client_file, good_tls(), GOOD_LOG,
	         LDAP_BIND("\"ldaps://dc1\"", ""), LDAP_POLICY);
	expect_error_mode(body, 0644, ":7: ldap.bind_password is written inline: ",
	                  "keep the secret in bind_password_file");
	snprintf(body, sizeof(body), "%s%s%s%s%s%s", GOOD_LISTEN, client_file, good_tls(), GOOD_LOG,
	         "ldap = { uris = [ \"ldaps://dc1\" ]; base_dn = \"dc=x\"; bind_dn = \"cn=a\";\n"
	         "  bind_password_file = \"bind.secret\"; };\n", LDAP_POLICY);
	expect_loads_mode(body, 0644);

	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, client_file, good_tls(), GOOD_LOG,
	         "redis = { host = \"127.0.0.1\"; password = \"redis-secret\"; key_file = \"node.key\"; };\n");
	expect_error_mode(body, 0644, ":6: redis.password is written inline: ",
	                  "keep the secret in password_file");
	expect_loads_mode(body, 0600);
}

static void test_private_key_not_readable_by_others(void **state)
{
	char body[4096], key[4096], path[600];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/server.key", pki);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(key, 1, sizeof(key) - 1, f);
	fclose(f);
	key[n] = '\0';
	snprintf(body, sizeof(body),
	         "%s%stls = { certificate = \"%s/server.pem\";\n  private_key = \"server-copy.key\";\n"
	         "  ca = \"%s/ca-bundle.pem\"; };\n%s", GOOD_LISTEN, GOOD_CLIENTS, pki, pki, GOOD_LOG);
	write_file("server-copy.key", key, 0644);
	expect_error(body, ":4: tls.private_key: ", "server-copy.key is readable by others (mode 0644)");
	write_file("server-copy.key", key, 0640);
	expect_loads(body);
	write_file("server-copy.key", key, 0600);
	expect_loads(body);
}

static void expect_authctl_error(const char *body, const char *line_tag, const char *needle)
{
	struct authctl_config cfg;
	char err[1024], want[600];
	const char *path = write_config("authctl-bad.conf", body);

	assert_int_equal(authctl_config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s%s", path, line_tag);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, needle) == NULL)
		fail_msg("error \"%s\" should start with \"%s\" and mention \"%s\"", err, want, needle);
}

/*
 * authctl.conf: its own Redis user, the CAs, and clients shared with authd.conf
 * through @include (relative to the config's directory). authctl holds each
 * client's CoA secret, never the RADIUS secret when they differ; authd the
 * other way round.
 */
#define AUTHCTL_REDIS "redis = { host = \"127.0.0.1\"; };\n"

static void test_authctl_config(void **state)
{
	char body[4096], ca[600];
	struct authctl_config cfg;
	struct authd_config dcfg;
	char err[1024];

	write_file("clients.conf",
	           "clients = ( { name = \"sw\"; address = \"10.0.0.0/8\"; secret = \"radius-secret-0001\"; },\n"
	           "            { name = \"ap\"; address = \"192.0.2.0/24\"; secret_file = \"no-such-file\";\n"
	           "              coa_secret_file = \"ap-coa.secret\"; coa_address = \"192.0.2.9\"; } );\n", 0640);
	write_file("ap-coa.secret", "coa-secret-0000002\n", 0640);
	write_file("authctl.pw", "helpdesk-password\n", 0640);
	snprintf(ca, sizeof(ca), "ca = \"%s/ca-bundle.pem\";\n", pki);
	snprintf(body, sizeof(body),
	         "redis = { host = \"127.0.0.1\"; username = \"authctl\"; password_file = \"authctl.pw\"; };\n"
	         "%s@include \"clients.conf\"\nsessions = { on_revoke = \"coa\"; retries = 1; };\n", ca);
	if (authctl_config_load(write_config("authctl.conf", body), &cfg, err, sizeof(err)) != 0)
		fail_msg("authctl.conf refused: %s", err);
	assert_string_equal(cfg.redis.username, "authctl");
	assert_string_equal(cfg.redis.password, "helpdesk-password");   /* group-readable is fine */
	assert_string_equal(cfg.redis.prefix, "authd:");
	assert_int_equal(cfg.redis.connections, 1);
	assert_int_equal(cfg.n_clients, 2);
	assert_null(cfg.clients[0].secret);
	assert_string_equal(cfg.clients[0].coa_secret, "radius-secret-0001");   /* defaults to the secret */
	assert_string_equal(cfg.clients[1].coa_secret, "coa-secret-0000002");   /* secret_file never read */
	assert_string_equal(cfg.clients[1].coa_address, "192.0.2.9");
	assert_int_equal(cfg.sessions.dynauth.request, DYNAUTH_COA);
	assert_int_equal(cfg.sessions.dynauth.retries, 1);
	authctl_config_free(&cfg);

	/* The same clients file in authd.conf: authd reads the RADIUS secrets only. */
	write_file("clients.conf",
	           "clients = ( { name = \"sw\"; address = \"10.0.0.0/8\"; secret = \"radius-secret-0001\";\n"
	           "              coa_secret_file = \"no-such-file\"; } );\n", 0640);
	snprintf(body, sizeof(body), "%s@include \"clients.conf\"\n%s%s", GOOD_LISTEN, good_tls(), GOOD_LOG);
	assert_int_equal(config_load(write_config("shared.conf", body), &dcfg, err, sizeof(err)), 0);
	assert_string_equal(dcfg.clients[0].secret, "radius-secret-0001");
	assert_null(dcfg.clients[0].coa_secret);
	config_free(&dcfg);

	/* authd.conf itself is refused before anything in it is used. */
	snprintf(body, sizeof(body), "%s%s%s%s" REDIS, GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG);
	expect_authctl_error(body, ":1:", "this is authd's config (it has \"listen\"); authctl needs its own");
	snprintf(body, sizeof(body), "redis = { host = \"h\";\n  key_file = \"node.key\"; };\n%s", ca);
	expect_authctl_error(body, ":2:", "redis.key_file is the authd nodes' key: authctl never holds it");
	snprintf(body, sizeof(body), "redis = { host = \"h\"; connections = 8; };\n%s", ca);
	expect_authctl_error(body, ":1:", "unknown setting \"connections\" in redis");
	expect_authctl_error(ca, ":0:", "missing required group \"redis\"");
	expect_authctl_error(AUTHCTL_REDIS, ":0:", "missing required setting \"ca\"");
	snprintf(body, sizeof(body), AUTHCTL_REDIS "%s", ca);
	expect_authctl_error(body, ":0:", "missing required setting \"clients\"");
	snprintf(body, sizeof(body), AUTHCTL_REDIS "%ssessions = { on_revoke = \"none\"; };\n", ca);
	assert_int_equal(authctl_config_load(write_config("authctl.conf", body), &cfg, err, sizeof(err)), 0);
	authctl_config_free(&cfg);
	write_file("authctl.pw", "helpdesk-password\n", 0644);
	snprintf(body, sizeof(body), "redis = { host = \"h\"; password_file = \"authctl.pw\"; };\n%s", ca);
	expect_authctl_error(body, ":1:", "readable by others (mode 0644): chmod 640 it");

	/* The CoA secret authctl signs with is held to the length of a shared secret. */
	write_file("authctl.pw", "helpdesk-password\n", 0640);
	snprintf(body, sizeof(body),
	         "redis = { host = \"h\"; password_file = \"authctl.pw\"; };\n%s"
	         "clients = ( { name = \"sw\"; address = \"10.0.0.0/8\"; secret = \"" SECRET "\";\n"
	         "              coa_secret = \"coa-short\"; } );\n", ca);
	expect_authctl_error(body, ":4:", "client \"sw\": coa_secret is 9 characters");
}

/* redis.key_file: required with a redis section, private, well-formed. */
static void test_node_key_file(void **state)
{
	expect_policy_error("redis = { host = \"127.0.0.1\"; };\n", ":6:",
	                    "missing required setting \"key_file\"");
	write_node_key(NODE_KEY, 0644);
	expect_policy_error("redis = { host = \"127.0.0.1\";\n  key_file = \"node.key\"; };\n", ":7:",
	                    "mode 0644");
	write_node_key("k1 not-hex\n", 0600);
	expect_policy_error(REDIS, ":6:", "node.key:1: key \"k1\": expected 64 hex digits");
	write_node_key("# nothing yet\n", 0600);
	expect_policy_error(REDIS, ":6:", "no key");
	write_node_key(NODE_KEY, 0600);
}

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss = { 0 };

	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
		ss.ss_family = AF_INET6;
	}
	return ss;
}

/* An Access-Challenge is 4096 bytes at most: 20 of header, 18 of Message-Authenticator, 18 of
 * State, 16 EAP-Message headers and 10 of EAP-TLS header leave 3998 bytes of TLS. One more and
 * the RADIUS codec would drop the State of every full fragment. */
static void test_eap_limits(void **state)
{
	char body[4096];

	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { fragment_size = 3998; };\n");
	expect_loads(body);
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { fragment_size = 3999; };\n");
	expect_error(body, ":6:", "eap.fragment_size is 3999, at most 3998");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { fragment_size = 16384; };\n");
	expect_error(body, ":6:", "at most 3998");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { fragment_size = 63; };\n");
	expect_error(body, ":6:", "must be 64..");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { max_conversations = 0; };\n");
	expect_error(body, ":6:", "\"max_conversations\" is 0, must be 1..");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { timeout = 0; };\n");
	expect_error(body, ":6:", "\"timeout\" is 0, must be 1..");
	/* A byte budget too small for a few dozen conversations is a typo (KiB for bytes). */
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { max_buffered_bytes = 65536; };\n");
	expect_error(body, ":6:", "\"max_buffered_bytes\" is 65536, must be 1048576..");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "eap = { max_buffered_bytes = 1048576; };\n");
	expect_loads(body);
}

static void test_metrics(void **state)
{
	char body[4096], tls[1024];
	struct authd_config cfg;
	char err[1024];
	const char *path;

	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"[::1]:9812\"; allow = [ \"10.0.0.0/8\", \"2001:db8::/32\" ]; };\n");
	path = write_config("metrics.conf", body);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_true(cfg.metrics.enabled);
	assert_string_equal(cfg.metrics.address, "::1");
	assert_int_equal(cfg.metrics.port, 9812);
	assert_int_equal(cfg.metrics.n_allow, 2);
	assert_null(cfg.metrics.certificate);
	assert_int_equal(cfg.metrics.device_window_days, 30);
	assert_int_equal(cfg.metrics.max_tracked_devices, 100000);
	config_free(&cfg);
	/* Off unless configured; loopback only unless allow says otherwise. */
	snprintf(body, sizeof(body), "%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG);
	assert_int_equal(config_load(write_config("plain.conf", body), &cfg, err, sizeof(err)), 0);
	assert_false(cfg.metrics.enabled);
	config_free(&cfg);
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1:9812\"; };\n");
	assert_int_equal(config_load(write_config("loopback.conf", body), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.metrics.n_allow, 2);
	config_free(&cfg);
	snprintf(tls, sizeof(tls),
	         "metrics = { listen = \"127.0.0.1:9812\"; tls = { certificate = \"%s/server.pem\";\n"
	         "            private_key = \"%s/server.key\"; client_ca = \"%s/root-only.pem\"; }; };\n",
	         pki, pki, pki);
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG, tls);
	expect_loads(body);
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"localhost:9812\"; };\n");
	expect_error(body, ":6:", "metrics.listen must be \"ADDRESS:PORT\" with an IP literal");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1\"; };\n");
	expect_error(body, ":6:", "metrics.listen must be");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1:9812\"; allow = [ \"10.0.0.1/8\" ]; };\n");
	expect_error(body, ":6:", "metrics.allow: \"10.0.0.1/8\" has host bits set");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1:9812\"; tls = { certificate = \"/nonexistent.pem\"; }; };\n");
	expect_error(body, ":6:", "/nonexistent.pem");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1:9812\"; user = \"x\"; };\n");
	expect_error(body, ":6:", "user");
	/* The expiry horizon's window and table size. */
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1:9812\"; device_window_days = 7; max_tracked_devices = 5000; };\n");
	assert_int_equal(config_load(write_config("horizon.conf", body), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.metrics.device_window_days, 7);
	assert_int_equal(cfg.metrics.max_tracked_devices, 5000);
	config_free(&cfg);
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1:9812\"; device_window_days = 0; };\n");
	expect_error(body, ":6:", "\"device_window_days\" is 0, must be 1..366");
	snprintf(body, sizeof(body), "%s%s%s%s%s", GOOD_LISTEN, GOOD_CLIENTS, good_tls(), GOOD_LOG,
	         "metrics = { listen = \"127.0.0.1:9812\"; max_tracked_devices = 20000000; };\n");
	expect_error(body, ":6:", "\"max_tracked_devices\" is 20000000, must be 1..10000000");
}

static void test_client_match_prefixes(void **state)
{
	struct client c[3] = { 0 };
	char err[128];
	struct sockaddr_storage a;

	assert_int_equal(client_parse_address("10.1.0.0/16", &c[0], err, sizeof(err)), 0);
	assert_int_equal(client_parse_address("10.0.0.0/8", &c[1], err, sizeof(err)), 0);
	assert_int_equal(client_parse_address("2001:db8::/32", &c[2], err, sizeof(err)), 0);
	a = addr("10.1.2.3");
	assert_ptr_equal(client_match(c, 3, &a), &c[0]);   /* first match wins */
	a = addr("10.9.9.9");
	assert_ptr_equal(client_match(c, 3, &a), &c[1]);
	a = addr("::ffff:10.9.9.9");                         /* v4-mapped is v4 */
	assert_ptr_equal(client_match(c, 3, &a), &c[1]);
	a = addr("2001:db8:1::1");
	assert_ptr_equal(client_match(c, 3, &a), &c[2]);
	a = addr("11.0.0.1");
	assert_null(client_match(c, 3, &a));
	a = addr("2001:db9::1");
	assert_null(client_match(c, 3, &a));
	assert_int_equal(client_parse_address("10.0.0.0/33", &c[0], err, sizeof(err)), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config_loads),
		cmocka_unit_test(test_decision_log_on_write_failure),
		cmocka_unit_test(test_syntax_error_has_line),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_bad_client_address),
		cmocka_unit_test(test_secret_required_once),
		cmocka_unit_test(test_bad_port_and_version),
		cmocka_unit_test(test_secret_file_must_be_private),
		cmocka_unit_test(test_missing_sections),
		cmocka_unit_test(test_client_match_prefixes),
		cmocka_unit_test(test_policy_sections),
		cmocka_unit_test(test_revocation_and_sessions),
		cmocka_unit_test(test_short_secrets),
		cmocka_unit_test(test_ldap_cleartext_bind),
		cmocka_unit_test(test_inline_secrets_need_a_private_config),
		cmocka_unit_test(test_private_key_not_readable_by_others),
		cmocka_unit_test(test_authctl_config),
		cmocka_unit_test(test_node_key_file),
		cmocka_unit_test(test_max_handshake_message),
		cmocka_unit_test(test_eap_limits),
		cmocka_unit_test(test_metrics),
	};
	char cmd[128];
	int failed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PKI_DIR\n", argv[0]);
		return 2;
	}
	pki = argv[1];
	if (mkdtemp(dir) == NULL)
		return 2;
	write_node_key(NODE_KEY, 0600);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return failed;
}

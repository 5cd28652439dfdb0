/*
 * The metrics across two generations of the config, as a reload makes them:
 * each generation's backend calls and placements land on the series of the
 * names it gave them (a changed LDAP URI, a new rule), what the previous one
 * counted stays, and at the swap a removed CA or CRL file reads 0 and a
 * removed target's up gauge goes. A config whose names no longer fit is
 * refused without a trace. Takes the test PKI's directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authd/authd_metrics.h"
#include "authd/client.h"
#include "authd/config.h"
#include "common/metrics.h"
#include "common/name_table.h"
#include "policy/decision.h"
#include "policy/ldap_directory.h"
#include "policy/policy.h"
#include "policy/rules.h"

static const char *pki;

/* One generation's config: what authd_metrics_names reads of it. */
struct generation {
	struct authd_config cfg;
	struct redis_settings redis;
	struct ldap_settings ldap;
	const char *uris[2];
	char *crl_files[2];
	struct policy_rule rules[2];
	char path[5][512];                        /* CRLs, tls.ca, server, the CRLs' signers */
	struct policy_settings policy_settings;   /* the policy's: outlives it */
	struct policy *policy;
};

static void generation_init(struct generation *g, const char *ldap_b, const char *rule_b, const char *vlan_b,
                            const char *ca, size_t n_crl)
{
	memset(g, 0, sizeof(*g));
	g->redis = (struct redis_settings){ .host = "127.0.0.1", .port = 6379 };
	g->uris[0] = "ldap://ldap-a.example";
	g->uris[1] = ldap_b;
	g->ldap = (struct ldap_settings){ .uris = g->uris, .n_uris = 2 };
	snprintf(g->path[0], sizeof(g->path[0]), "%s/issuing-ca.crl.pem", pki);
	snprintf(g->path[1], sizeof(g->path[1]), "%s/root-ca.crl.pem", pki);
	snprintf(g->path[2], sizeof(g->path[2]), "%s/%s", pki, ca);
	snprintf(g->path[3], sizeof(g->path[3]), "%s/server.pem", pki);
	snprintf(g->path[4], sizeof(g->path[4]), "%s/ca-bundle.pem", pki);
	g->crl_files[0] = g->path[0];
	g->crl_files[1] = g->path[1];
	g->rules[0] = (struct policy_rule){ .name = "r1", .vlan = "10" };
	g->rules[1] = (struct policy_rule){ .name = (char *)rule_b, .vlan = (char *)vlan_b };
	g->cfg.redis = &g->redis;
	g->cfg.policy.ldap = &g->ldap;
	g->cfg.policy.revocation.crl_files = g->crl_files;
	g->cfg.policy.revocation.n_crl_files = n_crl;
	g->cfg.policy.rules = g->rules;
	g->cfg.policy.n_rules = 2;
	g->cfg.policy.quarantine_vlan = "99";
	g->cfg.tls.ca = g->path[2];
	g->cfg.tls.certificate = g->path[3];
	g->cfg.metrics = (struct metrics_settings){ .enabled = true, .device_window_days = 30,
	                                            .max_tracked_devices = 100 };
}

/* The policy whose figures a scrape reads: only its CRLs matter here. */
static struct policy *policy_of(struct generation *g)
{
	char err[256];
	struct policy *p;

	g->policy_settings.revocation = (struct revocation_settings){
		.configured = true, .crl_files = g->crl_files, .n_crl_files = g->cfg.policy.revocation.n_crl_files,
		.ca_file = g->path[4], .unknown = REVOCATION_UNKNOWN_ACCEPT };
	p = policy_new(&g->policy_settings, NULL, NULL, err, sizeof(err));
	if (p == NULL)
		fail_msg("policy: %s", err);
	return p;
}

static char *render(struct authd_metrics *am)
{
	size_t len;
	char *text = metrics_render(authd_metrics_registry(am), &len);

	assert_non_null(text);
	return text;
}

/* Whether text has the line `series value`, or (value NULL) a line for series. */
static bool has(const char *text, const char *series, const char *value)
{
	char line[1024];
	size_t n = (size_t)snprintf(line, sizeof(line), "\n%s%s%s", series, value ? " " : "", value ? value : "");

	for (const char *at = strstr(text, line); at != NULL; at = strstr(at + 1, line)) {
		if (value == NULL ? at[n] == ' ' : at[n] == '\n')
			return true;
	}
	return false;
}

static void call(const struct authd_metrics_names *mn, enum backend_kind b, unsigned target)
{
	struct backend_observer o = authd_metrics_observer(mn, b);

	o.call(o.arg, target, BACKEND_OK, 0.001);
}

static void place(struct authd_metrics *am, const struct authd_metrics_names *mn, const struct client *c,
                  int rule, const char *vlan)
{
	struct decision dec;

	decision_start(&dec, 1, c->name);
	dec.accept = true;
	dec.reason = POLICY_REASON_OK;
	dec.rule_index = rule;
	dec.vlan = vlan;
	authd_metrics_conversation_started(am, c);
	authd_metrics_decision(am, mn, c, &dec);
	decision_clear(&dec);
}

#define DEVICE_CA "ca=\"CN=authd Test Device CA,O=authd test\""
#define ROOT_CA "ca=\"CN=authd Test Root CA,O=authd test\""

static void test_two_generations(void **state)
{
	struct generation *one = calloc(1, sizeof(*one)), *two = calloc(1, sizeof(*two));
	struct name_table *clients = client_names_new(1);
	struct client sw = { .name = "sw-1" };
	struct authd_metrics *am;
	struct authd_metrics_names *mn1, *mn2;
	char err[256], series[1024], *text;

	(void)state;
	assert_int_equal(client_names_index(clients, &sw, 1, err, sizeof(err)), 0);
	assert_int_equal(sw.index, 1);
	generation_init(one, "ldap://ldap-b.example", "r2", "20", "ca-bundle.pem", 2);
	/* The second: another second URI, a new rule r3 in r2's place, the
	 * device CA and the root's CRL gone. */
	generation_init(two, "ldap://ldap-c.example", "r3", "30", "root-ca.pem", 1);
	am = authd_metrics_new(&one->cfg, clients);
	assert_non_null(am);
	mn1 = authd_metrics_names_new(am, &one->cfg, err, sizeof(err));
	assert_non_null(mn1);
	one->policy = policy_of(one);
	authd_metrics_use(am, mn1, one->policy);
	call(mn1, BACKEND_DIRECTORY, 1);
	call(mn1, BACKEND_REDIS, 0);
	place(am, mn1, &sw, 1, "20");

	text = render(am);
	assert_true(has(text, "authd_backend_requests_total{backend=\"directory\",target=\"ldap://ldap-b.example\","
	                      "result=\"ok\"}", "1"));
	assert_true(has(text, "authd_backend_requests_total{backend=\"redis\",target=\"127.0.0.1:6379\","
	                      "result=\"ok\"}", "1"));
	assert_true(has(text, "authd_backend_up{backend=\"directory\",target=\"ldap://ldap-b.example\"}", "1"));
	assert_true(has(text, "authd_placements_total{rule=\"r2\",vlan=\"20\"}", "1"));
	assert_true(has(text, "authd_decisions_total{outcome=\"accept\",reason=\"ok\",nas=\"sw-1\"}", "1"));
	assert_true(has(text, "authd_conversations_in_flight{nas=\"sw-1\"}", "0"));
	/* "" is no client: in the drops, never a NAS's own series. */
	assert_false(has(text, "authd_conversations_in_flight{nas=\"\"}", NULL));
	assert_true(has(text, "authd_ca_certificate_expiry_timestamp_seconds{" DEVICE_CA "}", NULL));
	assert_false(has(text, "authd_ca_certificate_expiry_timestamp_seconds{" DEVICE_CA "}", "0"));
	snprintf(series, sizeof(series), "authd_crl_next_update_timestamp_seconds{file=\"%s\"}", one->path[1]);
	assert_true(has(text, series, NULL));
	assert_false(has(text, series, "0"));
	assert_true(has(text, "authd_config_generation", "1"));
	free(text);

	/* The reload: the second generation's names, then its policy. Until
	 * the swap, conversations of either report, each by its numbering. */
	mn2 = authd_metrics_names_new(am, &two->cfg, err, sizeof(err));
	assert_non_null(mn2);
	two->policy = policy_of(two);
	call(mn2, BACKEND_DIRECTORY, 1);
	call(mn1, BACKEND_DIRECTORY, 1);
	place(am, mn2, &sw, 1, "30");
	place(am, mn1, &sw, 1, "20");
	authd_metrics_use(am, mn2, two->policy);
	authd_metrics_reload(am, true, 2);
	authd_metrics_names_free(mn1);
	policy_free(one->policy);

	text = render(am);
	assert_true(has(text, "authd_backend_requests_total{backend=\"directory\",target=\"ldap://ldap-c.example\","
	                      "result=\"ok\"}", "1"));
	assert_true(has(text, "authd_backend_requests_total{backend=\"directory\",target=\"ldap://ldap-b.example\","
	                      "result=\"ok\"}", "2"));
	assert_true(has(text, "authd_placements_total{rule=\"r3\",vlan=\"30\"}", "1"));
	assert_true(has(text, "authd_placements_total{rule=\"r2\",vlan=\"20\"}", "2"));
	assert_true(has(text, "authd_decisions_total{outcome=\"accept\",reason=\"ok\",nas=\"sw-1\"}", "3"));
	/* The target the config in force no longer names has no up gauge; the
	 * one it names has. */
	assert_false(has(text, "authd_backend_up{backend=\"directory\",target=\"ldap://ldap-b.example\"}", NULL));
	assert_true(has(text, "authd_backend_up{backend=\"directory\",target=\"ldap://ldap-c.example\"}", "1"));
	assert_true(has(text, "authd_backend_up{backend=\"redis\",target=\"127.0.0.1:6379\"}", "1"));
	/* The CA and the CRL file it no longer names read 0. */
	assert_true(has(text, "authd_ca_certificate_expiry_timestamp_seconds{" DEVICE_CA "}", "0"));
	assert_true(has(text, "authd_ca_certificate_expiry_timestamp_seconds{" ROOT_CA "}", NULL));
	assert_false(has(text, "authd_ca_certificate_expiry_timestamp_seconds{" ROOT_CA "}", "0"));
	assert_true(has(text, series, "0"));
	snprintf(series, sizeof(series), "authd_crl_next_update_timestamp_seconds{file=\"%s\"}", two->path[0]);
	assert_false(has(text, series, "0"));
	assert_true(has(text, "authd_config_generation", "2"));
	assert_true(has(text, "authd_config_reloads_total{result=\"ok\"}", "1"));
	free(text);

	authd_metrics_reload(am, false, 2);
	text = render(am);
	assert_true(has(text, "authd_config_reloads_total{result=\"refused\"}", "1"));
	assert_true(has(text, "authd_config_generation", "2"));
	free(text);

	authd_metrics_use(am, NULL, NULL);
	authd_metrics_names_free(mn2);
	policy_free(two->policy);
	authd_metrics_free(am);
	name_table_free(clients);
	free(one);
	free(two);
}

static void test_names_that_do_not_fit_are_refused_without_a_trace(void **state)
{
	struct generation *g = calloc(1, sizeof(*g)), *big = calloc(1, sizeof(*big));
	struct name_table *clients = client_names_new(0);
	size_t n = name_table_capacity_for(3) + 1;
	struct policy_rule *rules = calloc(n, sizeof(*rules));
	char (*names)[24] = calloc(n, sizeof(*names)), err[256] = "", series[1024], *text;
	struct authd_metrics *am;
	struct authd_metrics_names *mn;

	(void)state;
	generation_init(g, "ldap://ldap-b.example", "r2", "20", "ca-bundle.pem", 1);
	am = authd_metrics_new(&g->cfg, clients);
	mn = authd_metrics_names_new(am, &g->cfg, err, sizeof(err));
	assert_non_null(mn);
	/* More rules than the room left, and a CRL file never named before. */
	generation_init(big, "ldap://ldap-b.example", "r2", "20", "ca-bundle.pem", 2);
	snprintf(big->path[1], sizeof(big->path[1]), "/nonexistent/never.crl");
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "rule-%zu", i);
		rules[i] = (struct policy_rule){ .name = names[i], .vlan = "10" };
	}
	big->cfg.policy.rules = rules;
	big->cfg.policy.n_rules = n;
	assert_null(authd_metrics_names_new(am, &big->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "rule name(s)"));
	text = render(am);
	snprintf(series, sizeof(series), "authd_crl_next_update_timestamp_seconds{file=\"%s\"}", big->path[1]);
	assert_false(has(text, series, NULL));
	free(text);
	/* Without metrics: no names, and no error. */
	assert_null(authd_metrics_names_new(NULL, &g->cfg, err, sizeof(err)));
	assert_string_equal(err, "");
	authd_metrics_names_free(mn);
	authd_metrics_free(am);
	name_table_free(clients);
	free(rules);
	free(names);
	free(g);
	free(big);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_generations),
		cmocka_unit_test(test_names_that_do_not_fit_are_refused_without_a_trace),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PKI-DIR\n", argv[0]);
		return 2;
	}
	pki = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}

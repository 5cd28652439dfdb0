/*
 * Placement without a network: identity from certificates built here (so
 * hostile names such as an embedded NUL can be made), rule matching and
 * order, the static group map, and policy_decide's fallbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "policy/cert_identity.h"
#include "policy/ldap_directory.h"
#include "policy/ldap_filter.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "policy/static_groups.h"

/* A certificate with the given CN (explicit length, may hold NUL) and SANs
 * in openssl's config syntax ("DNS:a,email:b"); unsigned, which is all the
 * identity code needs. */
static X509 *make_cert(const char *cn, size_t cnlen, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);

	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234abcd);
	if (cn != NULL)
		assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
		                                            (const unsigned char *)cn, (int)cnlen, -1, 0), 1);
	X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"Device CA", -1, -1, 0);
	if (san != NULL) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);

		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	return x;
}

static enum cert_identity_status identity_of(X509 *x, const enum identity_source *src, size_t n,
                                             char *out, size_t outlen)
{
	enum identity_source used;

	return cert_identity(x, src, n, out, outlen, &used);
}

static void test_identity_sources_in_order(void **state)
{
	X509 *x = make_cert("laptop-cn", 9, "DNS:laptop.corp.example,email:it@corp.example,"
	                                    "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:laptop$@corp.example");
	enum identity_source upn_first[] = { IDENTITY_SAN_UPN, IDENTITY_SAN_DNS };
	enum identity_source cn_first[] = { IDENTITY_SUBJECT_CN, IDENTITY_SAN_DNS };
	enum identity_source email[] = { IDENTITY_SAN_EMAIL };
	enum identity_source serial[] = { IDENTITY_SERIAL };
	char out[256];

	assert_int_equal(identity_of(x, upn_first, 2, out, sizeof(out)), CERT_IDENTITY_FOUND);
	assert_string_equal(out, "laptop$@corp.example");
	assert_int_equal(identity_of(x, cn_first, 2, out, sizeof(out)), CERT_IDENTITY_FOUND);
	assert_string_equal(out, "laptop-cn");
	assert_int_equal(identity_of(x, email, 1, out, sizeof(out)), CERT_IDENTITY_FOUND);
	assert_string_equal(out, "it@corp.example");
	assert_int_equal(identity_of(x, serial, 1, out, sizeof(out)), CERT_IDENTITY_FOUND);
	assert_string_equal(out, "1234ABCD");
	X509_free(x);
}

static void test_identity_skips_empty_sources(void **state)
{
	X509 *x = make_cert("only-cn", 7, NULL);
	enum identity_source src[] = { IDENTITY_SAN_DNS, IDENTITY_SAN_UPN, IDENTITY_SUBJECT_CN };
	enum identity_source san_only[] = { IDENTITY_SAN_DNS };
	char out[256];

	assert_int_equal(identity_of(x, src, 3, out, sizeof(out)), CERT_IDENTITY_FOUND);
	assert_string_equal(out, "only-cn");
	assert_int_equal(identity_of(x, san_only, 1, out, sizeof(out)), CERT_IDENTITY_NONE);
	X509_free(x);
}

static void test_identity_refuses_hostile_values(void **state)
{
	enum identity_source cn[] = { IDENTITY_SUBJECT_CN };
	char out[256];
	X509 *nul = make_cert("laptop-0001.corp.example\0evil", 29, NULL);
	X509 *ctl = make_cert("laptop\n0001", 11, NULL);
	X509 *two = make_cert("a", 1, NULL);

	/* Truncating at the NUL would impersonate laptop-0001. */
	assert_int_equal(identity_of(nul, cn, 1, out, sizeof(out)), CERT_IDENTITY_INVALID);
	assert_non_null(strstr(out, "\\x00evil"));   /* described, with the NUL visible */
	assert_int_equal(identity_of(ctl, cn, 1, out, sizeof(out)), CERT_IDENTITY_INVALID);
	X509_NAME_add_entry_by_NID(X509_get_subject_name(two), NID_commonName, MBSTRING_ASC,
	                           (const unsigned char *)"b", 1, -1, 0);
	assert_int_equal(identity_of(two, cn, 1, out, sizeof(out)), CERT_IDENTITY_INVALID);
	X509_free(nul);
	X509_free(ctl);
	X509_free(two);
}

static void test_eap_identity_binding(void **state)
{
	assert_true(cert_identity_matches_eap("laptop.corp.example", "laptop.corp.example"));
	assert_true(cert_identity_matches_eap("laptop.corp.example", "host/LAPTOP.corp.example"));
	assert_false(cert_identity_matches_eap("laptop.corp.example", "printer.corp.example"));
	assert_false(cert_identity_matches_eap("laptop.corp.example", "laptop.corp.example.evil"));
	assert_false(cert_identity_matches_eap("laptop.corp.example", ""));
}

static struct policy_rule rule(char *name, char *group, char *vlan)
{
	return (struct policy_rule){ .name = name, .group = group, .vlan = vlan, .termination_action = -1 };
}

static void test_rules_first_match_wins(void **state)
{
	char *groups[] = { "cn=contractors,ou=groups,dc=corp", "cn=employees,ou=groups,dc=corp" };
	struct policy_rule rules[3] = {
		rule("wifi", "employees", "100"),
		rule("contractors", "CN=Contractors,OU=groups,DC=corp", "300"),
		rule("employees", "employees", "110"),
	};
	struct rule_input in = { .groups = groups, .n_groups = 2, .nas = "sw1",
	                         .nas_port_type = NAS_PORT_TYPE_ETHERNET };

	rules[0].nas_port_type = NAS_PORT_TYPE_WIRELESS;
	rules[0].ssid = "CORP";
	/* Wired: the wireless rule is skipped; the contractors DN (any case) comes first. */
	assert_int_equal(rules_first_match(rules, 3, &in), 1);
	/* Wireless on CORP: the first rule. On another SSID: not it. */
	in.nas_port_type = NAS_PORT_TYPE_WIRELESS;
	in.ssid = "CORP";
	assert_int_equal(rules_first_match(rules, 3, &in), 0);
	in.ssid = "corp";
	assert_int_equal(rules_first_match(rules, 3, &in), 1);
	in.n_groups = 0;
	assert_int_equal(rules_first_match(rules, 3, &in), -1);
}

static void test_rules_nas_and_issuer(void **state)
{
	char *groups[] = { "printers" };
	struct policy_rule rules[2] = { rule("lab", "printers", "10"), rule("any", "printers", "20") };
	struct rule_input in = { .groups = groups, .n_groups = 1, .nas = "sw2",
	                         .issuer_dn = "CN=Device CA,O=corp" };

	rules[0].nas = "sw1";
	rules[1].issuer = "Device CA";
	assert_int_equal(rules_first_match(rules, 2, &in), 1);
	in.nas = "sw1";
	assert_int_equal(rules_first_match(rules, 2, &in), 0);
	in.nas = "sw3";
	in.issuer_dn = "CN=Rogue CA,O=corp";
	assert_int_equal(rules_first_match(rules, 2, &in), -1);
}

static void test_leading_cn(void **state)
{
	char cn[64];

	assert_int_equal(rules_leading_cn("cn=a\\,b,ou=x", cn, sizeof(cn)), 0);
	assert_string_equal(cn, "a,b");
	assert_int_equal(rules_leading_cn("ou=x,cn=a", cn, sizeof(cn)), -1);
}

static void test_static_map_union(void **state)
{
	char *g1[] = { "employees", "staff" }, *g2[] = { "STAFF", "laptops" };
	struct static_group_entry map[] = {
		{ .pattern = "laptop-*.corp.example", .groups = g1, .n_groups = 2 },
		{ .pattern = "*.CORP.example", .groups = g2, .n_groups = 2 },
	};
	char **groups;
	size_t n;

	assert_int_equal(static_groups_lookup(map, 2, "Laptop-7.corp.example", &groups, &n), 2);
	assert_int_equal(n, 3);
	assert_string_equal(groups[0], "employees");
	assert_string_equal(groups[1], "staff");
	assert_string_equal(groups[2], "laptops");
	for (size_t i = 0; i < n; i++)
		free(groups[i]);
	free(groups);
	assert_int_equal(static_groups_lookup(map, 2, "kiosk.example.org", &groups, &n), 0);
	assert_int_equal(n, 0);
}

static void test_ldap_filter_escaping(void **state)
{
	const char *names[] = { "identity" };
	const char *hostile[] = { "*)(cn=*" };
	const size_t hostile_len[] = { 7 };
	const char *with_nul[] = { "a\0b\\" };
	const size_t with_nul_len[] = { 4 };
	char *f;

	f = ldap_filter_expand("(&(objectClass=device)(cn=%{identity}))", names, hostile, hostile_len, 1);
	assert_string_equal(f, "(&(objectClass=device)(cn=\\2a\\29\\28cn=\\2a))");
	free(f);
	/* A NUL is escaped, never a place to cut the value. */
	f = ldap_filter_expand("(cn=%{identity})", names, with_nul, with_nul_len, 1);
	assert_string_equal(f, "(cn=a\\00b\\5c)");
	free(f);
	/* Unknown variables and templates whose shape a value could change are refused. */
	assert_null(ldap_filter_expand("(cn=%{dn})", names, hostile, hostile_len, 1));
	assert_null(ldap_filter_expand("cn=%{identity}", names, hostile, hostile_len, 1));
	assert_null(ldap_filter_expand("(cn=%{identity}", names, hostile, hostile_len, 1));
}

static void decide(struct policy_settings *s, X509 *cert, const char *eap_identity,
                   struct decision *dec, struct policy_result *res)
{
	char err[128];
	struct policy *p = policy_new(s, NULL, NULL, err, sizeof(err));
	struct policy_request req = { .cert = cert, .eap_identity = eap_identity, .nas = "sw" };

	assert_non_null(p);
	decision_start(dec, 1, "sw");
	policy_decide(p, &req, dec, res);
	policy_free(p);
}

static void test_policy_fallbacks(void **state)
{
	char *employees[] = { "employees" }, *none[] = { "guests" };
	struct static_group_entry map[] = {
		{ .pattern = "laptop.corp.example", .groups = employees, .n_groups = 1 },
		{ .pattern = "kiosk.corp.example", .groups = none, .n_groups = 1 },
	};
	struct policy_rule rules[] = { rule("employees", "employees", "110") };
	struct policy_settings s = {
		.placement = true, .sources = { IDENTITY_SUBJECT_CN }, .n_sources = 1,
		.match_eap_identity = true, .static_groups = map, .n_static_groups = 2,
		.rules = rules, .n_rules = 1, .quarantine_vlan = "999",
	};
	X509 *laptop = make_cert("laptop.corp.example", 19, NULL);
	X509 *kiosk = make_cert("kiosk.corp.example", 18, NULL);
	X509 *stranger = make_cert("stranger.corp.example", 21, NULL);
	struct policy_result res;
	struct decision dec;

	decide(&s, laptop, "host/laptop.corp.example", &dec, &res);
	assert_true(res.accept);
	assert_string_equal(res.vlan, "110");
	assert_ptr_equal(res.rule, &rules[0]);
	assert_int_equal(dec.rule_index, 0);
	decision_clear(&dec);

	decide(&s, laptop, "kiosk.corp.example", &dec, &res);
	assert_false(res.accept);
	assert_int_equal(dec.reason, POLICY_REASON_IDENTITY_MISMATCH);
	decision_clear(&dec);

	decide(&s, kiosk, "kiosk.corp.example", &dec, &res);
	assert_false(res.accept);
	assert_int_equal(dec.reason, POLICY_REASON_NO_MATCHING_RULE);
	decision_clear(&dec);

	decide(&s, stranger, "stranger.corp.example", &dec, &res);
	assert_false(res.accept);
	assert_int_equal(dec.reason, POLICY_REASON_UNKNOWN_DEVICE);
	decision_clear(&dec);

	s.no_match = POLICY_QUARANTINE;
	decide(&s, stranger, "stranger.corp.example", &dec, &res);
	assert_true(res.accept);
	assert_int_equal(dec.reason, POLICY_REASON_QUARANTINE);
	assert_string_equal(res.vlan, "999");
	assert_non_null(strstr(dec.detail, "unknown_device"));
	decision_clear(&dec);

	/* Certificate-only mode: a valid certificate is enough, no VLAN. */
	s.placement = false;
	decide(&s, stranger, "stranger.corp.example", &dec, &res);
	assert_true(res.accept);
	assert_null(res.vlan);
	decision_clear(&dec);

	X509_free(laptop);
	X509_free(kiosk);
	X509_free(stranger);
}

/*
 * Overload: every directory thread is busy and their queue is full, so the
 * placement step is taken with backend_busy. It ends through the configured
 * fallback, as a directory outage does: policy.directory_unavailable =
 * "quarantine" places the device on the quarantine VLAN, "reject" refuses it.
 * The directory is never asked (nothing listens on its port).
 */
static void test_busy_directory_takes_the_fallback(void **state)
{
	const char *uris[] = { "ldap://127.0.0.1:1" };
	struct ldap_settings ldap = {
		.uris = uris, .n_uris = 1, .base_dn = "dc=example",
		.device_filter = "(cn=%{identity})", .group_mode = LDAP_GROUPS_MEMBEROF,
		.connect_timeout_ms = 100, .timeout_ms = 100, .connections = 1,
	};
	struct policy_rule rules[] = { rule("employees", "employees", "110") };
	struct policy_settings s = {
		.placement = true, .sources = { IDENTITY_SUBJECT_CN }, .n_sources = 1, .ldap = &ldap,
		.rules = rules, .n_rules = 1, .quarantine_vlan = "999",
		.directory_unavailable = POLICY_QUARANTINE,
	};
	X509 *laptop = make_cert("laptop.corp.example", 19, NULL);
	struct policy_request req = { .cert = laptop, .eap_identity = "laptop.corp.example", .nas = "sw" };
	struct policy_result res;
	struct decision dec;
	char err[128];
	struct policy *p = policy_new(&s, NULL, NULL, err, sizeof(err));

	assert_non_null(p);
	decision_start(&dec, 1, "sw");
	assert_int_equal(policy_decide_step(p, &req, POLICY_STEP_PLACEMENT, true, &dec, &res), POLICY_STEP_DONE);
	assert_true(res.accept);
	assert_int_equal(dec.reason, POLICY_REASON_QUARANTINE);
	assert_string_equal(res.vlan, "999");
	assert_non_null(strstr(dec.detail, "directory_unavailable"));
	assert_non_null(strstr(dec.detail, "busy"));
	decision_clear(&dec);
	policy_free(p);

	s.directory_unavailable = POLICY_REJECT;
	p = policy_new(&s, NULL, NULL, err, sizeof(err));
	assert_non_null(p);
	decision_start(&dec, 2, "sw");
	assert_int_equal(policy_decide_step(p, &req, POLICY_STEP_PLACEMENT, true, &dec, &res), POLICY_STEP_DONE);
	assert_false(res.accept);
	assert_int_equal(dec.reason, POLICY_REASON_DIRECTORY_UNAVAILABLE);
	assert_string_equal(decision_reason_code(&dec), "directory_unavailable");
	assert_string_equal(policy_reason_text(dec.reason), "device directory unavailable, try again later");
	decision_clear(&dec);
	policy_free(p);
	X509_free(laptop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_sources_in_order),
		cmocka_unit_test(test_identity_skips_empty_sources),
		cmocka_unit_test(test_identity_refuses_hostile_values),
		cmocka_unit_test(test_eap_identity_binding),
		cmocka_unit_test(test_rules_first_match_wins),
		cmocka_unit_test(test_rules_nas_and_issuer),
		cmocka_unit_test(test_leading_cn),
		cmocka_unit_test(test_static_map_union),
		cmocka_unit_test(test_ldap_filter_escaping),
		cmocka_unit_test(test_policy_fallbacks),
		cmocka_unit_test(test_busy_directory_takes_the_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

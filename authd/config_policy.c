/*
 * The placement sections of authd.conf: identity, ldap, groups (static map),
 * policy (rules and fallbacks) and revocation, parsed into struct policy_settings.
 */
#include "authd/config_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd/client.h"
#include "authd/config_parser.h"
#include "authd/config_sections.h"
#include "common/redis_pool.h"
#include "common/seal.h"
#include "common/strv.h"
#include "policy/ldap_directory.h"
#include "policy/ldap_filter.h"
#include "policy/ocsp_check.h"
#include "policy/rules.h"
#include "policy/static_groups.h"

static int parse_identity(struct config_parser *p, struct policy_settings *s)
{
	static const char *const keys[] = { "sources", "match_eap_identity", "reply_user_name", NULL };
	const config_setting_t *g, *list;
	const char *user_name = NULL;

	s->sources[0] = IDENTITY_SAN_DNS;
	s->sources[1] = IDENTITY_SUBJECT_CN;
	s->n_sources = 2;
	if (config_parser_group(p, config_root_setting(&p->cf), "identity", false, &g) < 0)
		return -1;
	if (g == NULL)
		return 0;
	if (config_parser_check_keys(p, g, "identity", keys) < 0 ||
	    config_parser_bool(p, g, "match_eap_identity", &s->match_eap_identity) < 0 ||
	    config_parser_string(p, g, "reply_user_name", false, &user_name) < 0)
		return -1;
	if (user_name != NULL && strcmp(user_name, "eap") == 0)
		s->reply_eap_identity = true;
	else if (user_name != NULL && strcmp(user_name, "certificate") != 0)
		return config_parser_fail(p, config_setting_get_member(g, "reply_user_name"),
		                          "identity.reply_user_name must be \"certificate\" or \"eap\", not \"%s\"",
		                          user_name);
	list = config_setting_get_member(g, "sources");
	if (list == NULL)
		return 0;
	if (!config_setting_is_array(list) || config_setting_length(list) == 0 ||
	    config_setting_length(list) > IDENTITY_SOURCE_COUNT)
		return config_parser_fail(p, list, "identity.sources must be an array of 1 to %d sources",
		                          IDENTITY_SOURCE_COUNT);
	s->n_sources = 0;
	for (int i = 0; i < config_setting_length(list); i++) {
		const char *name = config_setting_get_string_elem(list, i);

		if (name == NULL || identity_source_parse(name, &s->sources[s->n_sources]) < 0)
			return config_parser_fail(p, list,
			                          "identity.sources: \"%s\" is not one of subject_cn, "
			                          "san_dns, san_upn, san_email, serial", name ? name : "(not a string)");
		s->n_sources++;
	}
	return 0;
}

/* A filter template must expand with its one variable into a well-formed filter. */
static int check_filter(struct config_parser *p, const config_setting_t *g, const char *key,
                        const char *template, const char *variable)
{
	const char *names[] = { variable };
	const char *values[] = { "x" };
	const size_t lengths[] = { 1 };
	char *expanded = ldap_filter_expand(template, names, values, lengths, 1);

	if (expanded == NULL)
		return config_parser_fail(p, config_setting_get_member(g, key),
		                          "ldap.%s \"%s\" is not a filter using only %%{%s}", key, template, variable);
	free(expanded);
	return 0;
}

static int copy_string(struct config_parser *p, const config_setting_t *g, const char *key,
                       bool required, const char *fallback, const char **out)
{
	const char *v;

	if (config_parser_string(p, g, key, required, &v) < 0)
		return -1;
	if (v == NULL)
		v = fallback;
	*out = v != NULL ? strdup(v) : NULL;
	if (v != NULL && *out == NULL)
		return config_parser_fail(p, g, "out of memory");
	return 0;
}

/* A secret given inline (key) or in a file (file_key), never both; *out is
 * NULL when neither is set. */
static int parse_password(struct config_parser *p, const config_setting_t *g, const char *key,
                          const char *file_key, char **out)
{
	const char *inline_secret;

	*out = NULL;
	if (config_setting_get_member(g, key) != NULL && config_setting_get_member(g, file_key) != NULL)
		return config_parser_fail(p, g, "%s and %s are exclusive", key, file_key);
	if (config_setting_get_member(g, file_key) != NULL)
		return config_parser_secret_file(p, g, file_key, out);
	if (config_parser_inline_secret(p, g, key, &inline_secret) < 0)
		return -1;
	if (inline_secret != NULL && (*out = strdup(inline_secret)) == NULL)
		return config_parser_fail(p, g, "out of memory");
	return 0;
}

static int parse_ldap_password(struct config_parser *p, const config_setting_t *g, struct ldap_settings *l)
{
	char *password;

	if (parse_password(p, g, "bind_password", "bind_password_file", &password) < 0)
		return -1;
	l->bind_password = password;
	if (l->bind_dn == NULL && password != NULL)
		return config_parser_fail(p, g, "ldap: a bind password needs bind_dn");
	if (l->bind_dn != NULL && password == NULL)
		return config_parser_fail(p, g,
		                          "missing required setting \"bind_password\" (or bind_password_file)");
	return 0;
}

static int parse_ldap(struct config_parser *p, struct policy_settings *s)
{
	static const char *const keys[] = {
		"uris", "start_tls", "ca", "bind_dn", "bind_password", "bind_password_file", "base_dn",
		"device_filter", "groups", "group_base_dn", "group_filter", "nested_depth",
		"connect_timeout_ms", "timeout_ms", "connections", "cache_ttl", "allow_cleartext_bind", NULL
	};
	const config_setting_t *g;
	struct ldap_settings *l;
	bool allow_cleartext_bind = false;
	const char *mode;
	char **uris;

	if (config_parser_group(p, config_root_setting(&p->cf), "ldap", false, &g) < 0)
		return -1;
	if (g == NULL)
		return 0;
	l = s->ldap = calloc(1, sizeof(*l));
	if (l == NULL)
		return config_parser_fail(p, g, "out of memory");
	l->nested_depth = 3;
	l->connect_timeout_ms = 2000;
	l->timeout_ms = 3000;
	l->connections = 4;
	if (config_parser_check_keys(p, g, "ldap", keys) < 0 ||
	    config_parser_string_list(p, g, "uris", true, &uris, &l->n_uris) < 0)
		return -1;
	l->uris = (const char *const *)uris;
	for (size_t i = 0; i < l->n_uris; i++) {
		if (strncmp(uris[i], "ldap://", 7) != 0 && strncmp(uris[i], "ldaps://", 8) != 0)
			return config_parser_fail(p, config_setting_get_member(g, "uris"),
			                          "ldap.uris: \"%s\" is not an ldap:// or ldaps:// URI", uris[i]);
	}
	if (config_parser_bool(p, g, "start_tls", &l->start_tls) < 0 ||
	    config_parser_bool(p, g, "allow_cleartext_bind", &allow_cleartext_bind) < 0 ||
	    (config_setting_get_member(g, "ca") != NULL &&
	     config_parser_input_file(p, g, "ca", (char **)&l->ca) < 0) ||
	    copy_string(p, g, "bind_dn", false, NULL, &l->bind_dn) < 0 ||
	    parse_ldap_password(p, g, l) < 0 ||
	    copy_string(p, g, "base_dn", true, NULL, &l->base_dn) < 0 ||
	    copy_string(p, g, "device_filter", false, "(&(objectClass=device)(cn=%{identity}))",
	                &l->device_filter) < 0 ||
	    copy_string(p, g, "group_base_dn", false, NULL, &l->group_base_dn) < 0 ||
	    copy_string(p, g, "group_filter", false, "(member=%{dn})", &l->group_filter) < 0 ||
	    config_parser_uint(p, g, "nested_depth", 0, 10, &l->nested_depth) < 0 ||
	    config_parser_uint(p, g, "connect_timeout_ms", 100, 60000, &l->connect_timeout_ms) < 0 ||
	    config_parser_uint(p, g, "timeout_ms", 100, 60000, &l->timeout_ms) < 0 ||
	    config_parser_uint(p, g, "connections", 1, 64, &l->connections) < 0 ||
	    config_parser_uint(p, g, "cache_ttl", 0, 86400, &l->cache_ttl_s) < 0 ||
	    config_parser_string(p, g, "groups", false, &mode) < 0)
		return -1;
	/* A simple bind sends the password as it is: on ldap:// without StartTLS,
	 * anyone on the path reads it. */
	for (size_t i = 0; l->bind_password != NULL && !l->start_tls && !allow_cleartext_bind &&
	                   i < l->n_uris; i++) {
		if (strncmp(uris[i], "ldap://", 7) == 0)
			return config_parser_fail(p, config_setting_get_member(g, "uris"),
			                          "ldap.uris: \"%s\" would send the bind password in the clear: use "
			                          "ldaps://, set start_tls = true, or allow_cleartext_bind = true", uris[i]);
	}
	if (mode == NULL || strcmp(mode, "memberof") == 0)
		l->group_mode = LDAP_GROUPS_MEMBEROF;
	else if (strcmp(mode, "search") == 0)
		l->group_mode = LDAP_GROUPS_SEARCH;
	else
		return config_parser_fail(p, config_setting_get_member(g, "groups"),
		                          "ldap.groups must be \"memberof\" or \"search\", not \"%s\"", mode);
	return check_filter(p, g, "device_filter", l->device_filter, "identity") < 0 ||
	       check_filter(p, g, "group_filter", l->group_filter, "dn") < 0 ? -1 : 0;
}

static int parse_static_groups(struct config_parser *p, struct policy_settings *s)
{
	static const char *const keys[] = { "identity", "groups", NULL };
	const config_setting_t *list = config_lookup(&p->cf, "groups");
	int n;

	if (list == NULL)
		return 0;
	if (s->ldap != NULL)
		return config_parser_fail(p, list, "\"groups\" (the static map) and \"ldap\" are exclusive");
	if (!config_setting_is_list(list) || (n = config_setting_length(list)) == 0)
		return config_parser_fail(p, list,
		                          "\"groups\" must be a non-empty list ( { identity = ...; groups = [...]; } )");
	s->static_groups = calloc((size_t)n, sizeof(*s->static_groups));
	if (s->static_groups == NULL)
		return config_parser_fail(p, list, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct static_group_entry *e = &s->static_groups[i];
		const char *pattern;

		if (!config_setting_is_group(g))
			return config_parser_fail(p, g, "each \"groups\" entry must be a group { ... }");
		s->n_static_groups++;
		if (config_parser_check_keys(p, g, "groups", keys) < 0 ||
		    config_parser_string(p, g, "identity", true, &pattern) < 0 ||
		    config_parser_string_list(p, g, "groups", true, &e->groups, &e->n_groups) < 0)
			return -1;
		e->pattern = strdup(pattern);
		if (e->pattern == NULL)
			return config_parser_fail(p, g, "out of memory");
	}
	return 0;
}

static int parse_fallback(struct config_parser *p, const config_setting_t *g, const char *key,
                          enum policy_fallback *out)
{
	const char *v;

	if (config_parser_string(p, g, key, false, &v) < 0)
		return -1;
	if (v == NULL || strcmp(v, "reject") == 0)
		*out = POLICY_REJECT;
	else if (strcmp(v, "quarantine") == 0)
		*out = POLICY_QUARANTINE;
	else
		return config_parser_fail(p, config_setting_get_member(g, key),
		                          "policy.%s must be \"reject\" or \"quarantine\", not \"%s\"", key, v);
	return 0;
}

/* A VLAN is a name or a number (1..4094); both end up as the string sent in
 * Tunnel-Private-Group-Id. */
static int parse_vlan(struct config_parser *p, const config_setting_t *g, const char *key, bool required,
                      char **out)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	const char *v;

	*out = NULL;
	if (s == NULL)
		return required ? config_parser_fail(p, g, "missing required setting \"%s\"", key) : 0;
	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		int id = config_setting_get_int(s);

		if (id < 1 || id > 4094)
			return config_parser_fail(p, s, "%s %d is outside 1..4094", key, id);
		if (asprintf(out, "%d", id) < 0)
			return config_parser_fail(p, s, "out of memory");
		return 0;
	}
	if (config_parser_string(p, g, key, true, &v) < 0)
		return -1;
	if (strlen(v) > 253)
		return config_parser_fail(p, s, "%s is longer than a RADIUS attribute", key);
	*out = strdup(v);
	return *out != NULL ? 0 : config_parser_fail(p, s, "out of memory");
}

static int parse_port_type(struct config_parser *p, const config_setting_t *g, unsigned *out)
{
	const char *v;

	if (config_parser_string(p, g, "nas_port_type", false, &v) < 0)
		return -1;
	if (v == NULL)
		*out = 0;
	else if (rules_port_type(v, out) < 0)
		return config_parser_fail(p, config_setting_get_member(g, "nas_port_type"),
		                          "nas_port_type must be \"Ethernet\" or \"Wireless-802.11\", not \"%s\"", v);
	return 0;
}

static int parse_termination(struct config_parser *p, const config_setting_t *g, int *out)
{
	const char *v;

	*out = -1;
	if (config_parser_string(p, g, "termination_action", false, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	if (strcmp(v, "Default") == 0)
		*out = 0;
	else if (strcmp(v, "RADIUS-Request") == 0)
		*out = 1;
	else
		return config_parser_fail(p, config_setting_get_member(g, "termination_action"),
		                          "termination_action must be \"Default\" or \"RADIUS-Request\", not \"%s\"", v);
	return 0;
}

static int optional_copy(struct config_parser *p, const config_setting_t *g, const char *key, char **out)
{
	return copy_string(p, g, key, false, NULL, (const char **)out);
}

static int parse_rule(struct config_parser *p, const config_setting_t *g, struct policy_settings *s,
                      const struct authd_config *cfg)
{
	static const char *const keys[] = {
		"name", "group", "nas_port_type", "ssid", "nas", "issuer", "vlan",
		"session_timeout", "termination_action", "filter_id", "class", NULL
	};
	struct policy_rule *r = &s->rules[s->n_rules];
	bool known_nas = false;

	if (!config_setting_is_group(g))
		return config_parser_fail(p, g, "each rule must be a group { ... }");
	s->n_rules++;
	if (config_parser_check_keys(p, g, "policy.rules", keys) < 0 ||
	    optional_copy(p, g, "name", &r->name) < 0 || optional_copy(p, g, "group", &r->group) < 0 ||
	    parse_port_type(p, g, &r->nas_port_type) < 0 || optional_copy(p, g, "ssid", &r->ssid) < 0 ||
	    optional_copy(p, g, "nas", &r->nas) < 0 || optional_copy(p, g, "issuer", &r->issuer) < 0 ||
	    parse_vlan(p, g, "vlan", true, &r->vlan) < 0 ||
	    config_parser_uint(p, g, "session_timeout", 1, 0x7fffffff, &r->session_timeout) < 0 ||
	    parse_termination(p, g, &r->termination_action) < 0 ||
	    optional_copy(p, g, "filter_id", &r->filter_id) < 0 ||
	    optional_copy(p, g, "class", &r->class_attr) < 0)
		return -1;
	if (r->name == NULL)
		return config_parser_fail(p, g, "every rule needs a \"name\" (it goes to the decision log)");
	if (r->group == NULL)
		return config_parser_fail(p, g, "rule \"%s\" needs a \"group\"", r->name);
	for (size_t i = 0; i + 1 < s->n_rules; i++) {
		if (strcmp(s->rules[i].name, r->name) == 0)
			return config_parser_fail(p, g, "rule name \"%s\" is used twice", r->name);
	}
	for (size_t i = 0; r->nas != NULL && i < cfg->n_clients && !known_nas; i++)
		known_nas = strcmp(cfg->clients[i].name, r->nas) == 0;
	if (r->nas != NULL && !known_nas)
		return config_parser_fail(p, config_setting_get_member(g, "nas"),
		                          "rule \"%s\": nas \"%s\" is not a configured client", r->name, r->nas);
	if (r->termination_action >= 0 && r->session_timeout == 0)
		return config_parser_fail(p, g,
		                          "rule \"%s\": termination_action needs session_timeout", r->name);
	return 0;
}

static int parse_policy(struct config_parser *p, struct policy_settings *s, const struct authd_config *cfg)
{
	static const char *const keys[] = {
		"rules", "default", "directory_unavailable", "quarantine_vlan", NULL
	};
	const config_setting_t *g, *list;
	int n;

	if (config_parser_group(p, config_root_setting(&p->cf), "policy", false, &g) < 0)
		return -1;
	if (g == NULL) {
		if (s->ldap != NULL || s->static_groups != NULL)
			return config_parser_fail(p, config_root_setting(&p->cf),
			                          "groups come from ldap or the static map, but there is no \"policy\" with rules");
		return 0;
	}
	s->placement = true;
	if (config_parser_check_keys(p, g, "policy", keys) < 0 ||
	    parse_fallback(p, g, "default", &s->no_match) < 0 ||
	    parse_fallback(p, g, "directory_unavailable", &s->directory_unavailable) < 0 ||
	    parse_vlan(p, g, "quarantine_vlan", false, &s->quarantine_vlan) < 0)
		return -1;
	if ((s->no_match == POLICY_QUARANTINE || s->directory_unavailable == POLICY_QUARANTINE) &&
	    s->quarantine_vlan == NULL)
		return config_parser_fail(p, g, "a \"quarantine\" fallback needs quarantine_vlan");
	if (s->ldap == NULL && s->static_groups == NULL)
		return config_parser_fail(p, g,
		                          "policy rules need groups: add an \"ldap\" section or a static \"groups\" map");
	list = config_setting_get_member(g, "rules");
	if (list == NULL || !config_setting_is_list(list) || (n = config_setting_length(list)) == 0)
		return config_parser_fail(p, list != NULL ? list : g,
		                          "policy.rules must be a non-empty list ( { name = ...; group = ...; vlan = ...; } )");
	s->rules = calloc((size_t)n, sizeof(*s->rules));
	if (s->rules == NULL)
		return config_parser_fail(p, list, "out of memory");
	for (int i = 0; i < n; i++) {
		if (parse_rule(p, config_setting_get_elem(list, (unsigned)i), s, cfg) < 0)
			return -1;
	}
	return 0;
}

/* one of two words for a setting: 0 for the first (the default), 1 for the second. */
static int parse_choice(struct config_parser *p, const config_setting_t *g, const char *key,
                        const char *first, const char *second, bool *out)
{
	const char *v;

	if (config_parser_string(p, g, key, false, &v) < 0)
		return -1;
	if (v == NULL || strcmp(v, first) == 0)
		*out = false;
	else if (strcmp(v, second) == 0)
		*out = true;
	else
		return config_parser_fail(p, config_setting_get_member(g, key),
		                          "revocation.%s must be \"%s\" or \"%s\", not \"%s\"", key, first, second, v);
	return 0;
}

static int parse_crl_files(struct config_parser *p, const config_setting_t *g, struct revocation_settings *r)
{
	const config_setting_t *list = config_setting_get_member(g, "crl");
	int n;

	if (list == NULL)
		return 0;
	if (!config_setting_is_array(list) || (n = config_setting_length(list)) == 0)
		return config_parser_fail(p, list,
		                          "revocation.crl must be a non-empty array of CRL files [ \"...\" ]");
	r->crl_files = calloc((size_t)n, sizeof(*r->crl_files));
	if (r->crl_files == NULL)
		return config_parser_fail(p, g, "out of memory");
	for (int i = 0; i < n; i++) {
		const char *v = config_setting_get_string_elem(list, i);
		FILE *f;

		if (v == NULL || v[0] == '\0')
			return config_parser_fail(p, list, "revocation.crl must hold file names");
		r->crl_files[i] = config_parser_resolve(p, v);
		if (r->crl_files[i] == NULL)
			return config_parser_fail(p, list, "out of memory");
		r->n_crl_files++;
		f = fopen(r->crl_files[i], "r");
		if (f == NULL)
			return config_parser_fail(p, list, "crl: cannot read %s: %s",
			                          r->crl_files[i], strerror(errno));
		fclose(f);
	}
	return 0;
}

static int parse_ocsp(struct config_parser *p, const config_setting_t *parent, struct revocation_settings *r)
{
	static const char *const keys[] = { "url", "nonce", "timeout_ms", "max_age", NULL };
	const config_setting_t *g;
	struct ocsp_settings *o;
	const char *url;

	if (config_parser_group(p, parent, "ocsp", false, &g) < 0)
		return -1;
	if (g == NULL)
		return 0;
	o = r->ocsp = calloc(1, sizeof(*o));
	if (o == NULL)
		return config_parser_fail(p, g, "out of memory");
	ocsp_settings_init(o);
	if (config_parser_check_keys(p, g, "revocation.ocsp", keys) < 0 ||
	    config_parser_string(p, g, "url", false, &url) < 0 ||
	    config_parser_bool(p, g, "nonce", &o->nonce) < 0 ||
	    config_parser_uint(p, g, "timeout_ms", 50, 30000, &o->timeout_ms) < 0 ||
	    config_parser_uint(p, g, "max_age", 1, 7 * 86400, &o->max_age_s) < 0)
		return -1;
	/* Only plain HTTP: RFC 6960 responses are signed, and HTTPS to the
	 * responder would make revocation checking depend on revocation checking. */
	if (url != NULL && strncmp(url, "http://", 7) != 0)
		return config_parser_fail(p, config_setting_get_member(g, "url"),
		                          "revocation.ocsp.url must be an http:// URL, not \"%s\"", url);
	if (url != NULL && (o->url = strdup(url)) == NULL)
		return config_parser_fail(p, g, "out of memory");
	return 0;
}

static int parse_revocation(struct config_parser *p, struct authd_config *cfg)
{
	static const char *const keys[] = {
		"crl", "crl_expired", "unknown", "ocsp", "cache_max_ttl", "check_intermediates", NULL
	};
	struct revocation_settings *r = &cfg->policy.revocation;
	const config_setting_t *g;
	const char *unknown;

	r->cache_max_ttl = 3600;
	if (config_parser_group(p, config_root_setting(&p->cf), "revocation", false, &g) < 0)
		return -1;
	if (g == NULL)
		return 0;
	r->configured = true;
	r->line = (int)config_setting_source_line(g);
	if (config_parser_check_keys(p, g, "revocation", keys) < 0 ||
	    parse_choice(p, g, "crl_expired", "reject", "ignore", &r->ignore_expired_crl) < 0 ||
	    config_parser_string(p, g, "unknown", false, &unknown) < 0 ||
	    config_parser_uint(p, g, "cache_max_ttl", 0, 7 * 86400, &r->cache_max_ttl) < 0 ||
	    config_parser_bool(p, g, "check_intermediates", &r->check_intermediates) < 0 ||
	    parse_crl_files(p, g, r) < 0 || parse_ocsp(p, g, r) < 0)
		return -1;
	if (r->n_crl_files == 0 && r->ocsp == NULL)
		return config_parser_fail(p, g,
		                          "revocation needs CRL files (crl = [ ... ]), an ocsp section, or both");
	if (unknown == NULL || strcmp(unknown, "reject") == 0)
		r->unknown = REVOCATION_UNKNOWN_REJECT;
	else if (strcmp(unknown, "accept") == 0)
		r->unknown = REVOCATION_UNKNOWN_ACCEPT;
	else if (strcmp(unknown, "crl") == 0 && r->ocsp != NULL && r->n_crl_files > 0)
		r->unknown = REVOCATION_UNKNOWN_CRL;
	else if (strcmp(unknown, "crl") == 0)
		return config_parser_fail(p, config_setting_get_member(g, "unknown"),
		                          "revocation.unknown = \"crl\" falls back from OCSP to CRL files: it needs both");
	else
		return config_parser_fail(p, config_setting_get_member(g, "unknown"),
		                          "revocation.unknown must be \"reject\", \"crl\" or \"accept\", not \"%s\"", unknown);
	r->ca_file = strdup(cfg->tls.ca);
	if (r->ca_file == NULL)
		return config_parser_fail(p, g, "out of memory");
	return 0;
}

/* The node key seals what authd keeps in Redis: without it Redis would be
 * trusted storage, so authd's redis section needs one (authctl's never has
 * it). Loaded here, once, so that `authd -C` proves it. */
static int parse_key_file(struct config_parser *p, const config_setting_t *g, struct redis_settings *r)
{
	const config_setting_t *where;
	const char *value;
	char *path, err[256];

	if (config_parser_string(p, g, "key_file", true, &value) < 0)
		return -1;
	where = config_setting_get_member(g, "key_file");
	if ((path = config_parser_resolve(p, value)) == NULL)
		return config_parser_fail(p, where, "out of memory");
	r->seal = seal_load(path, err, sizeof(err));
	free(path);
	if (r->seal == NULL)
		return config_parser_fail(p, where, "redis.key_file: %s", err);
	return 0;
}

int config_redis_parse(struct config_parser *p, const config_setting_t *g, struct redis_settings *r)
{
	const char *host, *prefix;

	*r = (struct redis_settings){ .port = 6379, .timeout_ms = 500, .connections = 4 };
	if (config_parser_string(p, g, "host", true, &host) < 0 ||
	    config_parser_string(p, g, "prefix", false, &prefix) < 0 ||
	    config_parser_uint(p, g, "port", 1, 65535, &r->port) < 0 ||
	    config_parser_uint(p, g, "timeout_ms", 50, 60000, &r->timeout_ms) < 0 ||
	    config_parser_uint(p, g, "connections", 1, 64, &r->connections) < 0 ||
	    optional_copy(p, g, "username", &r->username) < 0)
		return -1;
	r->host = strdup(host);
	r->prefix = strdup(prefix != NULL ? prefix : "authd:");
	if (r->host == NULL || r->prefix == NULL)
		return config_parser_fail(p, g, "out of memory");
	return parse_password(p, g, "password", "password_file", &r->password);
}

void config_redis_clear(struct redis_settings *r)
{
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	free(r->host);
	free(r->username);
	free(r->password);
	free(r->prefix);
	seal_free(r->seal);
	memset(r, 0, sizeof(*r));
}

static int parse_redis(struct config_parser *p, struct authd_config *cfg)
{
	static const char *const keys[] = {
		"host", "port", "username", "password", "password_file", "prefix", "timeout_ms",
		"connections", "key_file", NULL
	};
	const config_setting_t *g;

	if (config_parser_group(p, config_root_setting(&p->cf), "redis", false, &g) < 0)
		return -1;
	if (g == NULL)
		return 0;
	cfg->redis = calloc(1, sizeof(*cfg->redis));
	if (cfg->redis == NULL)
		return config_parser_fail(p, g, "out of memory");
	return config_parser_check_keys(p, g, "redis", keys) < 0 ||
	       config_redis_parse(p, g, cfg->redis) < 0 ||
	       parse_key_file(p, g, cfg->redis) < 0 ? -1 : 0;
}

int config_policy_parse(struct config_parser *p, struct authd_config *cfg)
{
	struct policy_settings *s = &cfg->policy;

	return parse_identity(p, s) < 0 || parse_ldap(p, s) < 0 || parse_static_groups(p, s) < 0 ||
	       parse_policy(p, s, cfg) < 0 || parse_revocation(p, cfg) < 0 ||
	       parse_redis(p, cfg) < 0 ? -1 : 0;
}

static void clear_ldap(struct ldap_settings *l)
{
	/* The config allocated every string; the settings' const is for the directory. */
	strv_free((char **)l->uris, l->n_uris);
	if (l->bind_password != NULL) {
		explicit_bzero((char *)l->bind_password, strlen(l->bind_password));
		free((char *)l->bind_password);
	}
	free((char *)l->ca);
	free((char *)l->bind_dn);
	free((char *)l->base_dn);
	free((char *)l->device_filter);
	free((char *)l->group_base_dn);
	free((char *)l->group_filter);
	free(l);
}

void config_policy_clear(struct policy_settings *s)
{
	if (s->ldap != NULL)
		clear_ldap(s->ldap);
	for (size_t i = 0; i < s->n_static_groups; i++) {
		free(s->static_groups[i].pattern);
		strv_free(s->static_groups[i].groups, s->static_groups[i].n_groups);
	}
	free(s->static_groups);
	for (size_t i = 0; i < s->n_rules; i++) {
		struct policy_rule *r = &s->rules[i];

		free(r->name);
		free(r->group);
		free(r->ssid);
		free(r->nas);
		free(r->issuer);
		free(r->vlan);
		free(r->filter_id);
		free(r->class_attr);
	}
	free(s->rules);
	free(s->quarantine_vlan);
	strv_free(s->revocation.crl_files, s->revocation.n_crl_files);
	free(s->revocation.ca_file);
	if (s->revocation.ocsp != NULL) {
		free(s->revocation.ocsp->url);
		free(s->revocation.ocsp);
	}
	memset(s, 0, sizeof(*s));
}

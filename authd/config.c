#include "authd/config.h"
#include "authd/config_parser.h"
#include "authd/config_policy.h"
#include "authd/conversation_table.h"
#include "authd/live_sessions.h"
#include "authd/radius.h"
#include "authd/syslog_sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

static int get_tls_version(struct config_parser *p, const config_setting_t *group, const char *key,
                           int *out)
{
	const char *v;

	if (config_parser_string(p, group, key, false, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	if (strcmp(v, "1.2") == 0)
		*out = TLS1_2_VERSION;
	else if (strcmp(v, "1.3") == 0)
		*out = TLS1_3_VERSION;
	else
		return config_parser_fail(p, config_setting_get_member(group, key),
		                   "%s must be \"1.2\" or \"1.3\", not \"%s\"", key, v);
	return 0;
}

static int parse_listen(struct config_parser *p, struct authd_config *cfg)
{
	static const char *const keys[] = { "address", "port", "type", NULL };
	const config_setting_t *list = config_lookup(&p->cf, "listen");
	int n;

	if (list == NULL)
		return config_parser_fail(p, config_root_setting(&p->cf),
		                          "missing required setting \"listen\"");
	if (!config_setting_is_list(list) || (n = config_setting_length(list)) == 0)
		return config_parser_fail(p, list,
		                          "\"listen\" must be a non-empty list ( { address = ...; port = ...; } )");
	cfg->listen = calloc((size_t)n, sizeof(*cfg->listen));
	if (cfg->listen == NULL)
		return config_parser_fail(p, list, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct listen_addr *l = &cfg->listen[cfg->n_listen];
		unsigned port;
		const char *addr, *type = NULL;
		uint8_t buf[16];

		if (!config_setting_is_group(g))
			return config_parser_fail(p, g, "each \"listen\" entry must be a group { ... }");
		if (config_parser_check_keys(p, g, "listen", keys) < 0 ||
		    config_parser_string(p, g, "address", true, &addr) < 0 ||
		    config_parser_string(p, g, "type", false, &type) < 0)
			return -1;
		if (type != NULL && strcmp(type, "accounting") == 0)
			l->accounting = true;
		else if (type != NULL && strcmp(type, "authentication") != 0)
			return config_parser_fail(p, config_setting_get_member(g, "type"),
			                          "listen type must be \"authentication\" or \"accounting\", not \"%s\"", type);
		port = l->accounting ? 1813 : 1812;
		if (config_parser_uint(p, g, "port", 1, 65535, &port) < 0)
			return -1;
		if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
			return config_parser_fail(p, config_setting_get_member(g, "address"),
			                   "listen address \"%s\" is not an IPv4 or IPv6 literal", addr);
		l->address = strdup(addr);
		if (l->address == NULL)
			return config_parser_fail(p, g, "out of memory");
		l->port = (uint16_t)port;
		cfg->n_listen++;
	}
	return 0;
}

/*
 * RFC 2865 section 3: the secret should be at least 16 octets. A shorter one
 * falls to an offline guess from one sniffed request and its
 * Message-Authenticator, so it is refused unless the client entry says
 * allow_short_secret (for a NAS that cannot do better).
 */
static int check_secret_length(struct config_parser *p, const config_setting_t *g, const char *name,
                               const char *inline_key, const char *file_key, const char *secret)
{
	const config_setting_t *where = config_setting_get_member(g, inline_key);
	size_t len = strlen(secret);

	if (len >= CLIENT_SECRET_MIN_LENGTH)
		return 0;
	if (where == NULL)
		where = config_setting_get_member(g, file_key);
	return config_parser_fail(p, where, "client \"%s\": %s is %zu characters, at least %d are needed "
	                          "(RFC 2865): use a longer one, or set allow_short_secret = true",
	                          name, where != NULL ? config_setting_name(where) : inline_key, len,
	                          CLIENT_SECRET_MIN_LENGTH);
}

/* The secret a program holds for this client (see enum client_secret_use),
 * inline or from a file; *out NULL when the key is absent. */
static int client_secret(struct config_parser *p, const config_setting_t *g, const char *key,
                         const char *file_key, char **out)
{
	const char *inline_value;

	*out = NULL;
	if (config_parser_string(p, g, key, false, &inline_value) < 0)
		return -1;
	if (inline_value != NULL)
		*out = strdup(inline_value);
	else if (config_setting_get_member(g, file_key) != NULL)
		return config_parser_secret_file(p, g, file_key, out);
	else
		return 0;
	return *out != NULL ? 0 : config_parser_fail(p, g, "out of memory");
}

static int parse_client(struct config_parser *p, const config_setting_t *g, enum client_secret_use use,
                        struct client *clients, size_t *n)
{
	static const char *const keys[] = {
		"name", "address", "secret", "secret_file", "allow_short_secret",
		"require_message_authenticator", "coa_address", "coa_port", "coa_secret", "coa_secret_file",
		"max_conversations", "max_requests_per_second", "max_buffered_bytes", NULL
	};
	struct client *c = &clients[*n];
	const char *name, *address, *secret, *secret_file, *coa_address = NULL, *coa_secret = NULL;
	const char *coa_secret_file = NULL;
	bool allow_short_secret = false;
	char why[160];
	uint8_t coa_buf[16];

	if (!config_setting_is_group(g))
		return config_parser_fail(p, g, "each \"clients\" entry must be a group { ... }");
	if (config_parser_check_keys(p, g, "clients", keys) < 0 ||
	    config_parser_string(p, g, "name", true, &name) < 0 ||
	    config_parser_string(p, g, "address", true, &address) < 0 ||
	    config_parser_inline_secret(p, g, "secret", &secret) < 0 ||
	    config_parser_string(p, g, "secret_file", false, &secret_file) < 0 ||
	    config_parser_bool(p, g, "allow_short_secret", &allow_short_secret) < 0)
		return -1;
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(clients[i].name, name) == 0)
			return config_parser_fail(p, g, "client name \"%s\" is used twice", name);
	}
	if (client_parse_address(address, c, why, sizeof(why)) < 0)
		return config_parser_fail(p, config_setting_get_member(g, "address"),
		                          "client \"%s\": %s", name, why);
	if ((secret == NULL) == (secret_file == NULL))
		return config_parser_fail(p, g,
		                          "client \"%s\" needs exactly one of \"secret\" or \"secret_file\"", name);
	c->require_message_authenticator = true;
	c->coa_port = 3799;
	if (config_parser_bool(p, g, "require_message_authenticator",
	                       &c->require_message_authenticator) < 0 ||
	    config_parser_uint(p, g, "max_conversations", 1, 1000000, &c->max_conversations) < 0 ||
	    config_parser_uint(p, g, "max_requests_per_second", 1, 10000000,
	                       &c->max_requests_per_second) < 0 ||
	    config_parser_uint(p, g, "max_buffered_bytes", CONFIG_MIN_BUFFERED_BYTES, UINT_MAX,
	                       &c->max_buffered_bytes) < 0 ||
	           config_parser_uint(p, g, "coa_port", 1, 65535, &c->coa_port) < 0 ||
	           config_parser_string(p, g, "coa_address", false, &coa_address) < 0 ||
	           config_parser_inline_secret(p, g, "coa_secret", &coa_secret) < 0 ||
	           config_parser_string(p, g, "coa_secret_file", false, &coa_secret_file) < 0)
		return -1;
	if (coa_address != NULL && inet_pton(AF_INET, coa_address, coa_buf) != 1 &&
	    inet_pton(AF_INET6, coa_address, coa_buf) != 1)
		return config_parser_fail(p, config_setting_get_member(g, "coa_address"),
		                          "client \"%s\": coa_address \"%s\" is not an IPv4 or IPv6 literal", name, coa_address);
	if (coa_secret != NULL && coa_secret_file != NULL)
		return config_parser_fail(p, g,
		                          "client \"%s\" needs at most one of \"coa_secret\" or \"coa_secret_file\"", name);
	c->name = strdup(name);
	if (coa_address != NULL)
		c->coa_address = strdup(coa_address);
	if (c->name == NULL || (coa_address != NULL && c->coa_address == NULL)) {
		config_parser_fail(p, g, "out of memory");
		goto fail;
	}
	/* Each program reads only the secret it uses: the helpdesk, who may read
	 * the CoA secret, never needs the RADIUS one when they differ. */
	if (use == CLIENT_SECRET_RADIUS &&
	    (client_secret(p, g, "secret", "secret_file", &c->secret) < 0 ||
	     (!allow_short_secret && check_secret_length(p, g, name, "secret", "secret_file", c->secret) < 0)))
		goto fail;
	if (use == CLIENT_SECRET_COA) {
		bool own = coa_secret != NULL || coa_secret_file != NULL;
		const char *key = own ? "coa_secret" : "secret", *file_key = own ? "coa_secret_file" : "secret_file";

		if (client_secret(p, g, key, file_key, &c->coa_secret) < 0 ||
		    (!allow_short_secret && check_secret_length(p, g, name, key, file_key, c->coa_secret) < 0))
			goto fail;
	}
	(*n)++;
	return 0;
fail:
	client_clear(c);
	return -1;
}

int config_clients_parse(struct config_parser *p, bool required, enum client_secret_use use,
                         struct client **clients, size_t *n)
{
	const config_setting_t *list = config_lookup(&p->cf, "clients");
	int len;

	*clients = NULL;
	*n = 0;
	if (list == NULL)
		return required ? config_parser_fail(p, config_root_setting(&p->cf),
		                                     "missing required setting \"clients\"") : 0;
	if (!config_setting_is_list(list) || (len = config_setting_length(list)) == 0)
		return config_parser_fail(p, list,
		                          "\"clients\" must be a non-empty list ( { name = ...; address = ...; secret = ...; } )");
	*clients = calloc((size_t)len, sizeof(**clients));
	if (*clients == NULL)
		return config_parser_fail(p, list, "out of memory");
	for (int i = 0; i < len; i++) {
		if (parse_client(p, config_setting_get_elem(list, (unsigned)i), use, *clients, n) < 0)
			return -1;
	}
	return 0;
}

static int parse_tls(struct config_parser *p, struct authd_config *cfg)
{
	static const char *const keys[] = {
		"certificate", "private_key", "ca", "min_version", "max_version",
		"require_client_eku", "session_lifetime", NULL
	};
	struct eap_tls_settings *t = &cfg->tls;
	const config_setting_t *g;

	if (config_parser_group(p, config_root_setting(&p->cf), "tls", true, &g) < 0 ||
	    config_parser_check_keys(p, g, "tls", keys) < 0)
		return -1;
	cfg->tls_line = (int)config_setting_source_line(g);
	t->min_version = TLS1_2_VERSION;
	t->max_version = TLS1_3_VERSION;
	t->require_client_eku = true;
	if (config_parser_input_file(p, g, "certificate", (char **)&t->certificate) < 0 ||
	    config_parser_input_file(p, g, "private_key", (char **)&t->private_key) < 0 ||
	    config_parser_private_file(p, config_setting_get_member(g, "private_key"), t->private_key,
	                               "tls.private_key", "chmod o-r it (chmod 600, or 640 for a service group)") < 0 ||
	           config_parser_input_file(p, g, "ca", (char **)&t->ca) < 0 ||
	           get_tls_version(p, g, "min_version", &t->min_version) < 0 ||
	           get_tls_version(p, g, "max_version", &t->max_version) < 0 ||
	           config_parser_bool(p, g, "require_client_eku", &t->require_client_eku) < 0 ||
	           config_parser_uint(p, g, "session_lifetime", 0, 86400, &t->session_lifetime) < 0)
		return -1;
	if (t->session_lifetime > 0 && t->session_lifetime < 60)
		return config_parser_fail(p, config_setting_get_member(g, "session_lifetime"),
		                          "tls.session_lifetime must be 0 (no resumption) or 60..86400 seconds");
	if (t->min_version > t->max_version)
		return config_parser_fail(p, g, "tls.min_version is above tls.max_version");
	return 0;
}

static int parse_eap(struct config_parser *p, struct authd_config *cfg)
{
	static const char *const keys[] = {
		"fragment_size", "timeout", "max_conversations", "max_handshake_message", "max_buffered_bytes",
		NULL
	};
	unsigned max_handshake = EAP_TLS_DEFAULT_MAX_HANDSHAKE;
	const config_setting_t *g;
	size_t max_fragment = radius_challenge_eap_room(CONVERSATION_STATE_LEN) - EAP_TLS_OVERHEAD;

	cfg->tls.max_handshake_message = max_handshake;
	cfg->fragment_size = 1014;
	cfg->timeout = 30;
	cfg->max_conversations = 20000;
	cfg->max_buffered_bytes = 256u << 20;
	if (config_parser_group(p, config_root_setting(&p->cf), "eap", false, &g) < 0)
		return -1;
	if (g == NULL)
		return 0;
	if (config_parser_check_keys(p, g, "eap", keys) < 0 ||
	    config_parser_uint(p, g, "fragment_size", EAP_TLS_MIN_FRAGMENT, EAP_TLS_MAX_FRAGMENT,
	                    &cfg->fragment_size) < 0 ||
	           config_parser_uint(p, g, "timeout", 1, 3600, &cfg->timeout) < 0 ||
	           config_parser_uint(p, g, "max_conversations", 1, 1000000, &cfg->max_conversations) < 0 ||
	           config_parser_uint(p, g, "max_buffered_bytes", CONFIG_MIN_BUFFERED_BYTES, UINT_MAX,
	                              &cfg->max_buffered_bytes) < 0 ||
	                  config_parser_uint(p, g, "max_handshake_message",
	                                     EAP_TLS_MIN_MAX_HANDSHAKE, EAP_TLS_MAX_MAX_HANDSHAKE,
	                                     &max_handshake) < 0)
		return -1;
	cfg->tls.max_handshake_message = max_handshake;
	/* A larger fragment would make Access-Challenges the RADIUS codec cuts
	 * short, losing State: every handshake with a bigger flight would fail. */
	if (cfg->fragment_size > max_fragment)
		return config_parser_fail(p, config_setting_get_member(g, "fragment_size"),
		                          "eap.fragment_size is %u, at most %zu: an Access-Challenge is %d bytes at "
		                          "most, with Message-Authenticator, State and the EAP-Message and EAP-TLS "
		                          "headers",
		                          cfg->fragment_size, max_fragment, RADIUS_MAX_PACKET);
	return 0;
}

/* The decision log must be creatable: its directory writable, or the file. */
static int check_writable(struct config_parser *p, const config_setting_t *s, const char *path)
{
	char *copy;
	int rc;

	if (access(path, W_OK) == 0)
		return 0;
	if (errno != ENOENT)
		return config_parser_fail(p, s, "decisions: cannot write %s: %s", path, strerror(errno));
	copy = strdup(path);
	if (copy == NULL)
		return config_parser_fail(p, s, "out of memory");
	rc = access(dirname(copy), W_OK);
	if (rc < 0)
		config_parser_fail(p, s, "decisions: cannot create %s: %s", path, strerror(errno));
	free(copy);
	return rc;
}

/* An optional facility name at g.key into *facility (0 when absent). */
static int parse_facility(struct config_parser *p, const config_setting_t *g, const char *key, int *facility)
{
	const char *name = NULL;

	*facility = 0;
	if (config_parser_string(p, g, key, false, &name) < 0)
		return -1;
	if (name != NULL && syslog_facility_parse(name, facility) < 0)
		return config_parser_fail(p, config_setting_get_member(g, key),
		                          "log.%s: unknown syslog facility \"%s\" (one of %s)", key, name,
		                          syslog_facility_names());
	return 0;
}

static int parse_log(struct config_parser *p, struct authd_config *cfg)
{
	static const char *const keys[] = {
		"decisions", "level", "on_write_failure", "syslog", "decisions_syslog", NULL
	};
	const config_setting_t *g;
	const char *decisions, *level, *on_failure = NULL;

	cfg->log_level = LOG_INFO;
	if (config_parser_group(p, config_root_setting(&p->cf), "log", true, &g) < 0 ||
	    config_parser_check_keys(p, g, "log", keys) < 0 ||
	    config_parser_string(p, g, "decisions", true, &decisions) < 0 ||
	    config_parser_string(p, g, "level", false, &level) < 0 ||
	    config_parser_string(p, g, "on_write_failure", false, &on_failure) < 0 ||
	    parse_facility(p, g, "syslog", &cfg->log_syslog_facility) < 0 ||
	    parse_facility(p, g, "decisions_syslog", &cfg->decision_syslog_facility) < 0)
		return -1;
	if (level != NULL && log_level_parse(level, &cfg->log_level) < 0)
		return config_parser_fail(p, config_setting_get_member(g, "level"),
		                   "log.level must be \"error\", \"warning\", \"info\" or \"debug\", not \"%s\"", level);
	if (on_failure != NULL && strcmp(on_failure, "accept") == 0)
		cfg->decision_log_fail_open = true;
	else if (on_failure != NULL && strcmp(on_failure, "reject") != 0)
		return config_parser_fail(p, config_setting_get_member(g, "on_write_failure"),
		                   "log.on_write_failure must be \"reject\" or \"accept\", not \"%s\"", on_failure);
	cfg->decision_log = config_parser_resolve(p, decisions);
	if (cfg->decision_log == NULL)
		return config_parser_fail(p, g, "out of memory");
	return check_writable(p, config_setting_get_member(g, "decisions"), cfg->decision_log);
}

/* sessions.source_address: one address, or a list of one per family, that
 * Disconnect/CoA-Requests leave from. */
static int parse_source_address(struct config_parser *p, const config_setting_t *g, struct dynauth_settings *d)
{
	const config_setting_t *s = config_setting_get_member(g, "source_address");
	bool list = s != NULL && config_setting_is_array(s);
	int n = list ? config_setting_length(s) : 1;

	if (s == NULL)
		return 0;
	if (n < 1 || n > 2)
		return config_parser_fail(p, s, "sessions.source_address must be an address or a list of one per family");
	for (int i = 0; i < n; i++) {
		const char *text = config_setting_get_string(list ? config_setting_get_elem(s, (unsigned)i) : s);

		if (text != NULL && d->source4.sin_family == 0 && inet_pton(AF_INET, text, &d->source4.sin_addr) == 1)
			d->source4.sin_family = AF_INET;
		else if (text != NULL && d->source6.sin6_family == 0 &&
		         inet_pton(AF_INET6, text, &d->source6.sin6_addr) == 1)
			d->source6.sin6_family = AF_INET6;
		else
			return config_parser_fail(p, s, "sessions.source_address: \"%s\" is not an IPv4 or IPv6 address "
			                          "(one per family)", text != NULL ? text : "(not a string)");
	}
	return 0;
}

int config_sessions_parse(struct config_parser *p, bool have_redis, struct sessions_settings *s)
{
	static const char *const keys[] = {
		"enabled", "lifetime", "on_revoke", "timeout_ms", "retries", "max_per_nas", "nas_silent_after",
		"source_address", NULL
	};
	const config_setting_t *g;
	const char *on_revoke = NULL;

	*s = (struct sessions_settings){
		.enabled = have_redis,
		.lifetime = 86400,
		.max_per_nas = LIVE_SESSIONS_MAX_PER_NAS,
		.nas_silent_after = 7200,
		.dynauth = { .request = DYNAUTH_DISCONNECT, .timeout_ms = 1000, .retries = 3 },
		.disconnect_on_revoke = true,
	};
	if (config_parser_group(p, config_root_setting(&p->cf), "sessions", false, &g) < 0)
		return -1;
	/* A sessions section asks for the table, unless it says enabled = false. */
	s->enabled |= g != NULL;
	if (g != NULL &&
	    (config_parser_check_keys(p, g, "sessions", keys) < 0 ||
	     config_parser_bool(p, g, "enabled", &s->enabled) < 0 ||
	     config_parser_uint(p, g, "lifetime", 60, 30 * 86400, &s->lifetime) < 0 ||
	     config_parser_uint(p, g, "max_per_nas", 1, 10000000, &s->max_per_nas) < 0 ||
	     config_parser_uint(p, g, "nas_silent_after", 0, 30 * 86400, &s->nas_silent_after) < 0 ||
	     config_parser_uint(p, g, "timeout_ms", 50, 60000, &s->dynauth.timeout_ms) < 0 ||
	     config_parser_uint(p, g, "retries", 0, 10, &s->dynauth.retries) < 0 ||
	     config_parser_string(p, g, "on_revoke", false, &on_revoke) < 0 ||
	     parse_source_address(p, g, &s->dynauth) < 0))
		return -1;
	/* Below that, silence is not measured well enough (nas_watch.h). */
	if (s->nas_silent_after > 0 && s->nas_silent_after < 10)
		return config_parser_fail(p, config_setting_get_member(g, "nas_silent_after"),
		                          "sessions.nas_silent_after must be 0 (never) or at least 10 seconds, not %u",
		                          s->nas_silent_after);
	if (on_revoke != NULL && strcmp(on_revoke, "coa") == 0)
		s->dynauth.request = DYNAUTH_COA;
	else if (on_revoke != NULL && strcmp(on_revoke, "none") == 0)
		s->disconnect_on_revoke = false;
	else if (on_revoke != NULL && strcmp(on_revoke, "disconnect") != 0)
		return config_parser_fail(p, config_setting_get_member(g, "on_revoke"),
		                          "sessions.on_revoke must be \"disconnect\", \"coa\" or \"none\", not \"%s\"",
		                          on_revoke);
	/* The table lives in Redis so that any node (and authctl) can act on it. */
	if (s->enabled && !have_redis)
		return config_parser_fail(p, g, "sessions: the live-session table needs the redis section");
	return 0;
}

/* "127.0.0.1:9812" or "[::1]:9812" into the settings' address and port. */
static int metrics_listen(struct config_parser *p, const config_setting_t *g, const char *text,
                          struct metrics_settings *m)
{
	const char *host = text, *colon = strrchr(text, ':');
	size_t hostlen = colon != NULL ? (size_t)(colon - text) : 0;
	uint8_t buf[16];
	char *end;
	unsigned long port;

	if (hostlen > 2 && text[0] == '[' && text[hostlen - 1] == ']') {
		host++;
		hostlen -= 2;
	}
	if (colon == NULL || hostlen == 0 || (m->address = strndup(host, hostlen)) == NULL)
		goto fail;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port == 0 || port > 65535 ||
	    (inet_pton(AF_INET, m->address, buf) != 1 && inet_pton(AF_INET6, m->address, buf) != 1))
		goto fail;
	m->port = (uint16_t)port;
	return 0;
fail:
	return config_parser_fail(p, config_setting_get_member(g, "listen"),
	                          "metrics.listen must be \"ADDRESS:PORT\" with an IP literal "
	                          "(\"127.0.0.1:9812\", \"[::1]:9812\"), not \"%s\"", text);
}

static int parse_metrics_tls(struct config_parser *p, const config_setting_t *g, struct metrics_settings *m)
{
	static const char *const keys[] = { "certificate", "private_key", "client_ca", NULL };
	const config_setting_t *t;

	if (config_parser_group(p, g, "tls", false, &t) < 0)
		return -1;
	if (t == NULL)
		return 0;
	if (config_parser_check_keys(p, t, "metrics.tls", keys) < 0 ||
	    config_parser_input_file(p, t, "certificate", &m->certificate) < 0 ||
	    config_parser_input_file(p, t, "private_key", &m->private_key) < 0 ||
	    config_parser_private_file(p, config_setting_get_member(t, "private_key"), m->private_key,
	                               "metrics.tls.private_key",
	                               "chmod o-r it (chmod 600, or 640 for a service group)") < 0)
		return -1;
	if (config_setting_get_member(t, "client_ca") != NULL &&
	    config_parser_input_file(p, t, "client_ca", &m->client_ca) < 0)
		return -1;
	return 0;
}

/* The optional metrics endpoint: off unless the group is there. */
static int parse_metrics(struct config_parser *p, struct authd_config *cfg)
{
	static const char *const keys[] = {
		"listen", "allow", "tls", "device_window_days", "max_tracked_devices", NULL
	};
	static const char *const loopback[] = { "127.0.0.0/8", "::1/128" };
	struct metrics_settings *m = &cfg->metrics;
	const config_setting_t *g;
	const char *listen;
	char **allow = NULL;
	size_t n_allow = 0;
	char why[160];
	int rc = -1;

	if (config_parser_group(p, config_root_setting(&p->cf), "metrics", false, &g) < 0)
		return -1;
	if (g == NULL)
		return 0;
	m->enabled = true;
	m->line = (int)config_setting_source_line(g);
	m->device_window_days = 30;
	m->max_tracked_devices = 100000;
	if (config_parser_check_keys(p, g, "metrics", keys) < 0 ||
	    config_parser_string(p, g, "listen", true, &listen) < 0 || metrics_listen(p, g, listen, m) < 0 ||
	    config_parser_string_list(p, g, "allow", false, &allow, &n_allow) < 0 ||
	    parse_metrics_tls(p, g, m) < 0 ||
	    config_parser_uint(p, g, "device_window_days", 1, 366, &m->device_window_days) < 0 ||
	    config_parser_uint(p, g, "max_tracked_devices", 1, 10000000, &m->max_tracked_devices) < 0)
		goto out;
	/* Metrics name NASes and say how authentication goes: loopback only
	 * unless the config says who else may read them. */
	m->n_allow = allow != NULL ? n_allow : sizeof(loopback) / sizeof(loopback[0]);
	m->allow = calloc(m->n_allow, sizeof(*m->allow));
	if (m->allow == NULL) {
		config_parser_fail(p, g, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m->n_allow; i++) {
		if (ip_prefix_parse(allow != NULL ? allow[i] : loopback[i], &m->allow[i], why, sizeof(why)) < 0) {
			config_parser_fail(p, config_setting_get_member(g, "allow"), "metrics.allow: %s", why);
			goto out;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < n_allow; i++)
		free(allow[i]);
	free(allow);
	return rc;
}

static int parse_sessions(struct config_parser *p, struct authd_config *cfg)
{
	bool has_accounting = false;

	for (size_t i = 0; i < cfg->n_listen; i++)
		has_accounting |= cfg->listen[i].accounting;
	if (config_sessions_parse(p, cfg->redis != NULL, &cfg->sessions) < 0)
		return -1;
	if (has_accounting && !cfg->sessions.enabled)
		return config_parser_fail(p, config_lookup(&p->cf, "listen"),
		                          "an accounting listener needs the live-session table (a redis section, "
		                          "sessions not disabled)");
	return 0;
}

static int parse_user(struct config_parser *p, struct authd_config *cfg)
{
	const char *user;

	if (config_parser_string(p, config_root_setting(&p->cf), "user", false, &user) < 0)
		return -1;
	if (user == NULL)
		return 0;
	if (*user == '\0')
		return config_parser_fail(p, config_lookup(&p->cf, "user"), "user must name a user");
	if ((cfg->user = strdup(user)) == NULL)
		return config_parser_fail(p, config_lookup(&p->cf, "user"), "out of memory");
	return 0;
}

int config_load(const char *path, struct authd_config *cfg, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"listen", "clients", "tls", "eap", "log", "threads", "identity", "ldap", "groups", "policy",
		"revocation", "redis", "sessions", "metrics", "user", NULL
	};
	struct config_parser p = { .err = err, .errlen = errlen };
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	if (config_parser_read(&p, path) < 0)
		goto out;
	if ((cfg->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (config_parser_check_keys(&p, config_root_setting(&p.cf), "the top level", keys) < 0 ||
	    parse_listen(&p, cfg) < 0 ||
	    config_clients_parse(&p, true, CLIENT_SECRET_RADIUS, &cfg->clients, &cfg->n_clients) < 0 ||
	    parse_tls(&p, cfg) < 0 ||
	    config_policy_parse(&p, cfg) < 0 || parse_sessions(&p, cfg) < 0 || parse_eap(&p, cfg) < 0 ||
	    parse_log(&p, cfg) < 0 || parse_metrics(&p, cfg) < 0 ||
	    config_parser_uint(&p, config_root_setting(&p.cf), "threads", 0, 256, &cfg->threads) < 0 ||
	    parse_user(&p, cfg) < 0)
		goto out;
	rc = 0;
out:
	config_parser_close(&p);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

void config_free(struct authd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i].address);
	for (size_t i = 0; i < cfg->n_clients; i++)
		client_clear(&cfg->clients[i]);
	free(cfg->listen);
	free(cfg->clients);
	free((char *)cfg->tls.certificate);
	free((char *)cfg->tls.private_key);
	free((char *)cfg->tls.ca);
	free(cfg->decision_log);
	free(cfg->path);
	free(cfg->user);
	free(cfg->metrics.address);
	free(cfg->metrics.allow);
	free(cfg->metrics.certificate);
	free(cfg->metrics.private_key);
	free(cfg->metrics.client_ca);
	config_policy_clear(&cfg->policy);
	if (cfg->redis != NULL) {
		config_redis_clear(cfg->redis);
		free(cfg->redis);
	}
	memset(cfg, 0, sizeof(*cfg));
}

/* The list of what differs, "a, b, c", kept short whatever the count. */
static void note_change(char *out, size_t outlen, size_t *n, const char *what)
{
	size_t used = strlen(out);

	if (used + strlen(what) + 3 < outlen)
		snprintf(out + used, outlen - used, "%s%s", used > 0 ? ", " : "", what);
	(*n)++;
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_listen(const struct authd_config *a, const struct authd_config *b)
{
	if (a->n_listen != b->n_listen)
		return false;
	for (size_t i = 0; i < a->n_listen; i++) {
		if (!same_string(a->listen[i].address, b->listen[i].address) || a->listen[i].port != b->listen[i].port ||
		    a->listen[i].accounting != b->listen[i].accounting)
			return false;
	}
	return true;
}

static bool same_redis(const struct redis_settings *a, const struct redis_settings *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return same_string(a->host, b->host) && a->port == b->port && same_string(a->username, b->username) &&
	       same_string(a->password, b->password) && same_string(a->prefix, b->prefix) &&
	       a->timeout_ms == b->timeout_ms && a->connections == b->connections;
}

static bool same_metrics(const struct metrics_settings *a, const struct metrics_settings *b)
{
	return a->enabled == b->enabled && same_string(a->address, b->address) && a->port == b->port &&
	       a->n_allow == b->n_allow &&
	       (a->n_allow == 0 || memcmp(a->allow, b->allow, a->n_allow * sizeof(*a->allow)) == 0) &&
	       same_string(a->certificate, b->certificate) && same_string(a->private_key, b->private_key) &&
	       same_string(a->client_ca, b->client_ca) && a->device_window_days == b->device_window_days &&
	       a->max_tracked_devices == b->max_tracked_devices;
}

static bool same_sessions(const struct sessions_settings *a, const struct sessions_settings *b)
{
	return a->enabled == b->enabled && a->lifetime == b->lifetime && a->max_per_nas == b->max_per_nas &&
	       a->nas_silent_after == b->nas_silent_after;
}

size_t config_restart_changes(const struct authd_config *running, const struct authd_config *loaded, char *out,
                              size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	if (!same_listen(running, loaded))
		note_change(out, outlen, &n, "listen");
	if (running->threads != loaded->threads)
		note_change(out, outlen, &n, "threads");
	if (!same_string(running->user, loaded->user))
		note_change(out, outlen, &n, "user");
	if (!same_redis(running->redis, loaded->redis))
		note_change(out, outlen, &n, "redis");
	if (!same_sessions(&running->sessions, &loaded->sessions))
		note_change(out, outlen, &n, "sessions");
	if (!same_metrics(&running->metrics, &loaded->metrics))
		note_change(out, outlen, &n, "metrics");
	if (!same_string(running->decision_log, loaded->decision_log))
		note_change(out, outlen, &n, "log.decisions");
	if (running->log_syslog_facility != loaded->log_syslog_facility)
		note_change(out, outlen, &n, "log.syslog");
	if (running->decision_syslog_facility != loaded->decision_syslog_facility)
		note_change(out, outlen, &n, "log.decisions_syslog");
	if (running->max_conversations != loaded->max_conversations)
		note_change(out, outlen, &n, "eap.max_conversations");
	if (running->max_buffered_bytes != loaded->max_buffered_bytes)
		note_change(out, outlen, &n, "eap.max_buffered_bytes");
	if (running->timeout != loaded->timeout)
		note_change(out, outlen, &n, "eap.timeout");
	if (running->tls.session_lifetime != loaded->tls.session_lifetime)
		note_change(out, outlen, &n, "tls.session_lifetime");
	return n;
}

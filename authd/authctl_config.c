#include "authd/authctl_config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd/client.h"
#include "authd/config_parser.h"

/* Settings of authd.conf that authctl.conf never holds: pointed at authd.conf,
 * authctl says which file it wants instead of reading the server's secrets. */
static const char *const authd_only[] = {
	"listen", "tls", "eap", "log", "threads", "identity", "ldap", "groups", "policy", "revocation", NULL
};

static int check_top_level(struct config_parser *p)
{
	static const char *const keys[] = { "redis", "ca", "clients", "sessions", NULL };
	const config_setting_t *root = config_root_setting(&p->cf), *s;

	for (size_t i = 0; authd_only[i] != NULL; i++) {
		if ((s = config_setting_get_member(root, authd_only[i])) != NULL)
			return config_parser_fail(p, s,
			                          "this is authd's config (it has \"%s\"); authctl needs its own, "
			                          "without the server's secrets (see authd/authctl.conf.example)",
			                          authd_only[i]);
	}
	return config_parser_check_keys(p, root, "the top level", keys);
}

static int parse_redis(struct config_parser *p, struct authctl_config *cfg)
{
	static const char *const keys[] = {
		"host", "port", "username", "password", "password_file", "prefix", "timeout_ms", NULL
	};
	const config_setting_t *g, *key_file;

	if (config_parser_group(p, config_root_setting(&p->cf), "redis", true, &g) < 0)
		return -1;
	if ((key_file = config_setting_get_member(g, "key_file")) != NULL)
		return config_parser_fail(p, key_file,
		                          "redis.key_file is the authd nodes' key: authctl never holds it "
		                          "(see authd/authctl.conf.example)");
	if (config_parser_check_keys(p, g, "redis", keys) < 0 || config_redis_parse(p, g, &cfg->redis) < 0)
		return -1;
	/* One command at a time: one connection. */
	cfg->redis.connections = 1;
	return 0;
}

int authctl_config_load(const char *path, struct authctl_config *cfg, char *err, size_t errlen)
{
	struct config_parser p = { .err = err, .errlen = errlen, .secrets_group_readable = true };
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	if (config_parser_read(&p, path) < 0)
		goto out;
	if ((cfg->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (check_top_level(&p) < 0 || parse_redis(&p, cfg) < 0 ||
	    config_parser_input_file(&p, config_root_setting(&p.cf), "ca", &cfg->ca) < 0 ||
	    config_sessions_parse(&p, true, &cfg->sessions) < 0 ||
	    /* Without a NAS to tell, a revocation waits for the next re-authentication. */
	    config_clients_parse(&p, cfg->sessions.enabled && cfg->sessions.disconnect_on_revoke,
	                         CLIENT_SECRET_COA, &cfg->clients, &cfg->n_clients) < 0)
		goto out;
	rc = 0;
out:
	config_parser_close(&p);
	if (rc < 0)
		authctl_config_free(cfg);
	return rc;
}

void authctl_config_free(struct authctl_config *cfg)
{
	for (size_t i = 0; i < cfg->n_clients; i++)
		client_clear(&cfg->clients[i]);
	free(cfg->clients);
	free(cfg->ca);
	free(cfg->path);
	config_redis_clear(&cfg->redis);
	memset(cfg, 0, sizeof(*cfg));
}

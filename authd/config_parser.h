/*
 * The shared machinery of authd.conf and authctl.conf parsing: typed getters
 * that turn every problem into "file:line: what is wrong". Used by config.c
 * (server, TLS, clients), config_policy.c (identity, directory, rules) and
 * authctl_config.c. Getters return 0 or -1; after -1 the message is in p->err
 * and parsing stops.
 */
#ifndef AUTHD_CONFIG_PARSER_H
#define AUTHD_CONFIG_PARSER_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

struct config_parser {
	config_t cf;
	const char *file;   /* as given, for messages */
	char *dir;          /* base for relative paths */
	char *err;
	size_t errlen;
	/* Secret files may be readable by their group (authctl's helpdesk group),
	 * never by others; false: by their owner alone (authd). */
	bool secrets_group_readable;
};

/*
 * Reads path into p->cf (p->err, errlen and secrets_group_readable set by the
 * caller): relative paths and @include resolve against the file's directory.
 * 0, or -1 with the message. config_parser_close() afterwards either way.
 */
int config_parser_read(struct config_parser *p, const char *path);
void config_parser_close(struct config_parser *p);

int config_parser_fail(struct config_parser *p, const config_setting_t *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Unknown keys are errors: a misspelt security option silently ignored would
 * leave a check in a state the admin did not choose. */
int config_parser_check_keys(struct config_parser *p, const config_setting_t *group, const char *where,
                             const char *const allowed[]);
/* *out = the group, or NULL when absent and not required. */
int config_parser_group(struct config_parser *p, const config_setting_t *parent, const char *key,
                        bool required, const config_setting_t **out);
/* *out = a non-empty string, or NULL when absent and not required. Borrowed from the parser. */
int config_parser_string(struct config_parser *p, const config_setting_t *group, const char *key,
                         bool required, const char **out);
/* Leaves *out untouched (the default) when the key is absent. */
int config_parser_uint(struct config_parser *p, const config_setting_t *group, const char *key,
                       long long min, long long max, unsigned *out);
int config_parser_bool(struct config_parser *p, const config_setting_t *group, const char *key, bool *out);
/* A malloc'd array of malloc'd non-empty strings; *out NULL when absent and not required. */
int config_parser_string_list(struct config_parser *p, const config_setting_t *group, const char *key,
                              bool required, char ***out, size_t *n);
/* value made absolute against the config file's directory; malloc'd, NULL on ENOMEM. */
char *config_parser_resolve(const struct config_parser *p, const char *value);
/* A required file authd reads at startup: resolved (malloc'd) and proven readable now. */
int config_parser_input_file(struct config_parser *p, const config_setting_t *group,
                             const char *key, char **out);
/* The first line of the file named by key, for secrets kept out of the config;
 * the file must not be readable by others, nor by its group unless
 * p->secrets_group_readable. */
int config_parser_secret_file(struct config_parser *p, const config_setting_t *group, const char *key,
                              char **out);
/*
 * A file that holds something private (what: the setting, for the message)
 * must not be readable by others (mode & 0004); the group may read it, so a
 * service group can. where is the setting blamed; hint says how to fix it.
 */
int config_parser_private_file(struct config_parser *p, const config_setting_t *where, const char *path,
                               const char *what, const char *hint);
/*
 * A secret written in the config itself (key in group, optional): like
 * config_parser_string, and the file that holds it must not be readable by others,
 * or the config would hand the secret to every local user.
 */
int config_parser_inline_secret(struct config_parser *p, const config_setting_t *group, const char *key,
                                const char **out);

#endif

/*
 * The sections authd.conf and authctl.conf share, one parser each, so that a
 * clients file @included by both means the same to both. Which keys the redis
 * group admits is the caller's to check (config_parser_check_keys): each program's
 * file accepts only what that program uses, and authctl's refuses the node key.
 */
#ifndef AUTHD_CONFIG_SECTIONS_H
#define AUTHD_CONFIG_SECTIONS_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "authd/dynauth.h"

struct client;
struct config_parser;
struct redis_settings;

/* The live-session table and what a revocation does to a live session. */
struct sessions_settings {
	bool enabled;                  /* with a redis section, unless turned off */
	unsigned lifetime;             /* seconds a session lives without accounting news */
	unsigned max_per_nas;          /* live sessions one NAS may hold; beyond, new ones are not kept */
	unsigned nas_silent_after;     /* seconds without a request from a NAS that end its sessions; 0 never */
	struct dynauth_settings dynauth;
	bool disconnect_on_revoke;     /* false: revocation leaves live sessions alone */
};

/* Which of a client's secrets the program holds: authd answers RADIUS with
 * `secret`; authctl signs Disconnect/CoA-Requests with `coa_secret` (which
 * defaults to `secret`) and never reads the other. */
enum client_secret_use { CLIENT_SECRET_RADIUS, CLIENT_SECRET_COA };

/*
 * The top-level "clients" list into a malloc'd array (*clients, *n; freed
 * with client_clear on each and free). A missing list is an error when
 * required. On -1 what was parsed is still in *clients and *n, for the
 * caller's free.
 */
int config_clients_parse(struct config_parser *p, bool required, enum client_secret_use use,
                         struct client **clients, size_t *n);

/* The settings of the redis group g into *r (zeroed first; strings malloc'd,
 * freed with config_redis_clear). Does not check which keys g holds. */
int config_redis_parse(struct config_parser *p, const config_setting_t *g, struct redis_settings *r);
/* Frees what config_redis_parse (and the node key's loading) put in r,
 * wiping the password, and zeroes it. */
void config_redis_clear(struct redis_settings *r);

/* The optional top-level "sessions" group into *s, defaults first (enabled
 * when have_redis). */
int config_sessions_parse(struct config_parser *p, bool have_redis, struct sessions_settings *s);

#endif

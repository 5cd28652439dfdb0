/*
 * authd.conf: libconfig syntax, documented in authd/authd.conf.example.
 * Loading validates everything a running server would trip over later, so
 * `authd -C` can promise that a config it accepts will start.
 */
#ifndef AUTHD_CONFIG_H
#define AUTHD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authd/config_sections.h"
#include "authd/log.h"
#include "authd/metrics_settings.h"
#include "eap/eap_tls_settings.h"
#include "policy/policy_settings.h"

struct client;
struct redis_settings;

struct listen_addr {
	char *address;
	uint16_t port;
	bool accounting;               /* RFC 2866 accounting, not authentication */
};

#define CONFIG_MIN_BUFFERED_BYTES (1u << 20)

struct authd_config {
	char *path;
	struct listen_addr *listen;
	size_t n_listen;
	struct client *clients;
	size_t n_clients;
	struct eap_tls_settings tls;   /* strings owned by the config */
	int tls_line;                  /* where the tls group starts, for later errors */
	unsigned fragment_size;        /* cap on TLS bytes per EAP packet */
	unsigned timeout;              /* seconds an idle conversation lives */
	unsigned max_conversations;
	/* Bytes all conversations may buffer (eap_conversation_buffered); the
	 * per-client quota is max_buffered_bytes in each client. Both at least
	 * CONFIG_MIN_BUFFERED_BYTES: dozens of conversations at their limits. */
	unsigned max_buffered_bytes;
	char *decision_log;
	/* log.on_write_failure = "accept": an accept whose record cannot be
	 * written stays an accept (default "reject": it becomes a reject). */
	bool decision_log_fail_open;
	enum log_level log_level;
	/* log.syslog and log.decisions_syslog: syslog facility codes
	 * (authd/syslog_sink.h), 0 = not set (stderr; the file only). */
	int log_syslog_facility;
	int decision_syslog_facility;
	unsigned threads;              /* 0 = one per core */
	char *user;                    /* started as root, run as this user; NULL: not set (see
	                                  authd/privileges.h) */
	struct policy_settings policy; /* identity, directory, rules */
	struct redis_settings *redis;  /* the redis section (shared state); NULL: none */
	struct sessions_settings sessions;
	struct metrics_settings metrics;  /* strings and allow owned by the config */
};

/*
 * Reads and validates path into *cfg (zeroed first). Returns 0, or -1 with
 * "file:line: what is wrong" in err. On failure *cfg holds nothing to free.
 */
int config_load(const char *path, struct authd_config *cfg, char *err, size_t errlen);
void config_free(struct authd_config *cfg);

/*
 * The settings only a restart applies (the sockets, the threads, the user,
 * Redis, sessions, metrics, the decision log's path, syslog, the sizes of the
 * conversation table, the TLS session store) that differ between the
 * running config and a loaded one: their count, and their names in out
 * ("listen, threads"; cut short to fit). A reload applies everything else.
 */
size_t config_restart_changes(const struct authd_config *running, const struct authd_config *loaded, char *out,
                              size_t outlen);

#endif

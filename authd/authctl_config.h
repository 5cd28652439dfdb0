/*
 * authctl.conf: the helpdesk tool's own config (libconfig syntax, documented
 * in authd/authctl.conf.example). It holds only what authctl uses: its own
 * Redis user, the trusted device CAs, the NASes it may send Disconnect/CoA to
 * (with their CoA secrets) and the sessions settings. It never names the
 * server's private key or the nodes' Redis key, so the file can be given to
 * a helpdesk group without giving it authd's powers; authd.conf is refused.
 */
#ifndef AUTHD_AUTHCTL_CONFIG_H
#define AUTHD_AUTHCTL_CONFIG_H

#include <stddef.h>

#include "authd/config_sections.h"
#include "common/redis_pool.h"

struct client;

#define AUTHCTL_DEFAULT_CONFIG "/etc/authd/authctl.conf"

struct authctl_config {
	char *path;
	struct redis_settings redis;       /* authctl's own Redis ACL user */
	char *ca;                          /* PEM bundle of the trusted device CAs */
	struct client *clients;            /* only name, address, coa_*; no RADIUS secret */
	size_t n_clients;
	struct sessions_settings sessions;
};

/*
 * Reads and validates path into *cfg (zeroed first). Secret files may be
 * readable by their group (the helpdesk's), never by others. Returns 0, or -1
 * with "file:line: what is wrong" in err; on failure *cfg holds nothing to
 * free.
 */
int authctl_config_load(const char *path, struct authctl_config *cfg, char *err, size_t errlen);
void authctl_config_free(struct authctl_config *cfg);

#endif

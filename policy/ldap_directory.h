/*
 * Device lookup in an LDAP directory (OpenLDAP or Active Directory) with
 * libldap: find the device entry by its certificate identity, then its
 * groups (memberOf, or a group search), following nested groups.
 *
 * Calls block (bounded by the configured timeouts) and are meant for authd's
 * directory threads, never for the threads doing TLS. The directory is
 * thread-safe: concurrent lookups use separate pooled connections.
 */
#ifndef AUTHD_LDAP_DIRECTORY_H
#define AUTHD_LDAP_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/backend_observer.h"

enum ldap_group_mode {
	LDAP_GROUPS_MEMBEROF,   /* the device entry's memberOf values */
	LDAP_GROUPS_SEARCH,     /* groups whose member attribute names the device (group_filter) */
};

struct ldap_settings {
	const char *const *uris;    /* tried in order: failover */
	size_t n_uris;
	bool start_tls;             /* for ldap:// URIs; ldaps:// is TLS from the start */
	const char *ca;             /* PEM file to verify the server; NULL = system store */
	const char *bind_dn;        /* NULL = anonymous */
	const char *bind_password;
	const char *base_dn;        /* where devices are searched (subtree) */
	const char *device_filter;  /* template, e.g. "(&(objectClass=device)(cn=%{identity}))" */
	enum ldap_group_mode group_mode;
	const char *group_base_dn;  /* for LDAP_GROUPS_SEARCH and nesting; NULL = base_dn */
	const char *group_filter;   /* template, e.g. "(member=%{dn})" */
	unsigned nested_depth;      /* levels of groups-in-groups followed; 0 = direct only */
	unsigned connect_timeout_ms;
	unsigned timeout_ms;        /* per bind and per search */
	unsigned connections;       /* pooled connections = concurrent lookups */
	unsigned cache_ttl_s;       /* serve remembered results during an outage; 0 = off */
};

enum ldap_lookup_status {
	LDAP_LOOKUP_FOUND,          /* entry found; groups may be empty */
	LDAP_LOOKUP_NOT_FOUND,      /* directory answered: no such device (or more than one) */
	LDAP_LOOKUP_UNAVAILABLE,    /* no server reachable, bind refused, timeout, ... */
};

struct ldap_lookup_result {
	char *dn;                   /* the device entry */
	char **groups;              /* group DNs, direct and nested, without duplicates */
	size_t n_groups;
	bool from_cache;            /* served from the outage cache */
};

struct ldap_directory;

/* Checks and copies settings (nothing is contacted yet). NULL with err on failure. */
struct ldap_directory *ldap_directory_new(const struct ldap_settings *settings,
                                          char *err, size_t errlen);
void ldap_directory_free(struct ldap_directory *dir);
/* Every call to a server from now on is reported to o (copied; target: the
 * URI's index in settings->uris): each connection attempt (connect,
 * StartTLS, bind) and each lookup's searches; LDAP_TIMEOUT is a timeout.
 * Lookups answered by the breaker or the outage cache reach no server and
 * are not reported. Call it before the directory is shared. */
void ldap_directory_observe(struct ldap_directory *dir, const struct backend_observer *o);

/*
 * Looks up the device whose certificate identity is `identity`. Every value
 * substituted into a filter is escaped per RFC 4515. On FOUND the caller owns
 * *out and frees it with ldap_lookup_result_clear(). detail says what happened
 * in words fit for the decision log ("ldap://a:389: Can't contact LDAP server").
 */
enum ldap_lookup_status ldap_directory_lookup(struct ldap_directory *dir, const char *identity,
                                              struct ldap_lookup_result *out,
                                              char *detail, size_t detaillen);
void ldap_lookup_result_clear(struct ldap_lookup_result *res);

/*
 * The pure part of reading an answer (a fuzz target): adds one group DN as
 * the directory sent it (a memberOf value or a group entry's DN: len bytes,
 * not NUL-terminated) to res->groups, copied, unless already there (DNs
 * compare case-insensitively). A value that is empty or holds a NUL names no
 * group and is skipped. 1 added, 0 skipped or known, -1 out of memory, -2
 * res already holds max groups (a lookup then refuses the incomplete list).
 */
int ldap_lookup_result_add_group(struct ldap_lookup_result *res, const char *dn, size_t len,
                                 size_t max);

/* True while the directory is marked down (three lookups in a row failed to
 * reach it: see common/breaker.h). Lookups then answer from the outage cache
 * at once, so callers need not queue for a connection. */
bool ldap_directory_down(const struct ldap_directory *dir);

#endif

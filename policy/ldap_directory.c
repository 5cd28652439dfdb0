/*
 * The directory client: pooled libldap connections with failover, device
 * search, group resolution (memberOf or group search) with bounded nesting,
 * and a small outage cache.
 */
#include "policy/ldap_directory.h"

#include <ldap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_GROUPS 256            /* a device in more groups than this is a directory problem */
#define CACHE_MAX 1024
#define URI_BACKOFF_MS 1000       /* a failed URI is tried last for this long */

struct conn {
	pthread_mutex_t lock;
	LDAP *ld;                     /* NULL until connected, or after an error */
	size_t uri;                   /* which URI it is bound to */
};

struct cached {
	char *identity;
	struct ldap_lookup_result res;
	uint64_t stored_ms;
};

struct ldap_directory {
	struct ldap_settings s;       /* deep copy */
	char **uris;
	struct conn *conns;
	atomic_uint next_conn;
	pthread_mutex_t state_lock;   /* guards uri_failed_ms and the cache */
	uint64_t *uri_failed_ms;
	struct cached *cache;
	size_t n_cache;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

void ldap_lookup_result_clear(struct ldap_lookup_result *res)
{
	free(res->dn);
	free_strings(res->groups, res->n_groups);
	memset(res, 0, sizeof(*res));
}

static int copy_result(struct ldap_lookup_result *dst, const struct ldap_lookup_result *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->dn = strdup(src->dn);
	dst->groups = calloc(src->n_groups + 1, sizeof(*dst->groups));
	if (dst->dn == NULL || dst->groups == NULL)
		goto fail;
	for (; dst->n_groups < src->n_groups; dst->n_groups++) {
		dst->groups[dst->n_groups] = strdup(src->groups[dst->n_groups]);
		if (dst->groups[dst->n_groups] == NULL)
			goto fail;
	}
	return 0;
fail:
	ldap_lookup_result_clear(dst);
	return -1;
}

struct ldap_directory *ldap_directory_new(const struct ldap_settings *settings,
                                          char *err, size_t errlen)
{
	struct ldap_directory *d = calloc(1, sizeof(*d));
	bool oom = false;

	if (d == NULL || settings->n_uris == 0 || settings->connections == 0) {
		snprintf(err, errlen, d == NULL ? "out of memory" : "ldap needs at least one URI and connection");
		free(d);
		return NULL;
	}
	d->s = *settings;
	d->uris = calloc(settings->n_uris, sizeof(*d->uris));
	d->uri_failed_ms = calloc(settings->n_uris, sizeof(*d->uri_failed_ms));
	d->conns = calloc(settings->connections, sizeof(*d->conns));
	d->cache = settings->cache_ttl_s > 0 ? calloc(CACHE_MAX, sizeof(*d->cache)) : NULL;
	oom = d->uris == NULL || d->uri_failed_ms == NULL || d->conns == NULL ||
	      (settings->cache_ttl_s > 0 && d->cache == NULL);
	for (size_t i = 0; !oom && i < settings->n_uris; i++)
		d->uris[i] = dup_or_null(settings->uris[i], &oom);
	d->s.uris = (const char *const *)d->uris;
	d->s.ca = dup_or_null(settings->ca, &oom);
	d->s.bind_dn = dup_or_null(settings->bind_dn, &oom);
	d->s.bind_password = dup_or_null(settings->bind_password, &oom);
	d->s.base_dn = dup_or_null(settings->base_dn, &oom);
	d->s.device_filter = dup_or_null(settings->device_filter, &oom);
	d->s.group_base_dn = dup_or_null(settings->group_base_dn ? settings->group_base_dn
	                                                         : settings->base_dn, &oom);
	d->s.group_filter = dup_or_null(settings->group_filter, &oom);
	for (unsigned i = 0; d->conns != NULL && i < settings->connections; i++)
		pthread_mutex_init(&d->conns[i].lock, NULL);
	pthread_mutex_init(&d->state_lock, NULL);
	atomic_init(&d->next_conn, 0);
	if (oom) {
		snprintf(err, errlen, "out of memory");
		ldap_directory_free(d);
		return NULL;
	}
	return d;
}

void ldap_directory_free(struct ldap_directory *d)
{
	if (d == NULL)
		return;
	for (unsigned i = 0; d->conns != NULL && i < d->s.connections; i++) {
		if (d->conns[i].ld != NULL)
			ldap_unbind_ext_s(d->conns[i].ld, NULL, NULL);
		pthread_mutex_destroy(&d->conns[i].lock);
	}
	for (size_t i = 0; d->cache != NULL && i < d->n_cache; i++) {
		free(d->cache[i].identity);
		ldap_lookup_result_clear(&d->cache[i].res);
	}
	if (d->s.bind_password != NULL)
		explicit_bzero((char *)d->s.bind_password, strlen(d->s.bind_password));
	free((char *)d->s.ca);
	free((char *)d->s.bind_dn);
	free((char *)d->s.bind_password);
	free((char *)d->s.base_dn);
	free((char *)d->s.device_filter);
	free((char *)d->s.group_base_dn);
	free((char *)d->s.group_filter);
	free_strings(d->uris, d->s.n_uris);
	free(d->uri_failed_ms);
	free(d->conns);
	free(d->cache);
	pthread_mutex_destroy(&d->state_lock);
	free(d);
}

static bool uri_recently_failed(struct ldap_directory *d, size_t uri, uint64_t now)
{
	bool failed;

	pthread_mutex_lock(&d->state_lock);
	/* The failure may be younger than `now` (another thread's): no unsigned wrap. */
	failed = d->uri_failed_ms[uri] != 0 && d->uri_failed_ms[uri] + URI_BACKOFF_MS > now;
	pthread_mutex_unlock(&d->state_lock);
	return failed;
}

static void mark_uri(struct ldap_directory *d, size_t uri, bool failed)
{
	pthread_mutex_lock(&d->state_lock);
	d->uri_failed_ms[uri] = failed ? now_ms() : 0;
	pthread_mutex_unlock(&d->state_lock);
}

static void ms_to_timeval(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* One connection attempt to one URI: options, StartTLS, bind. */
static LDAP *open_uri(struct ldap_directory *d, size_t uri, char *detail, size_t detaillen)
{
	const char *u = d->uris[uri];
	struct berval cred = { 0, NULL };
	struct timeval network, api;
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
	LDAP *ld = NULL;

	if (ldap_initialize(&ld, u) != LDAP_SUCCESS) {
		snprintf(detail, detaillen, "%s: cannot parse URI", u);
		return NULL;
	}
	ms_to_timeval(d->s.connect_timeout_ms, &network);
	ms_to_timeval(d->s.timeout_ms, &api);
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &network);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &api);
	ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
	if (d->s.ca != NULL)
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, d->s.ca);
	/* Per-handle TLS context, so the options above apply to this handle. */
	ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	if (d->s.start_tls && strncmp(u, "ldap://", 7) == 0) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			snprintf(detail, detaillen, "%s: StartTLS: %s", u, ldap_err2string(rc));
			goto fail;
		}
	}
	if (d->s.bind_dn != NULL) {
		cred.bv_val = (char *)d->s.bind_password;
		cred.bv_len = strlen(d->s.bind_password);
	}
	rc = ldap_sasl_bind_s(ld, d->s.bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		snprintf(detail, detaillen, "%s: bind as %s: %s", u, d->s.bind_dn ? d->s.bind_dn : "anonymous",
		         ldap_err2string(rc));
		goto fail;
	}
	return ld;
fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

/* Connects c to the first URI that answers: recently failed URIs go last. */
static int connect_conn(struct ldap_directory *d, struct conn *c, char *detail, size_t detaillen)
{
	uint64_t now = now_ms();

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < d->s.n_uris; i++) {
			if (uri_recently_failed(d, i, now) != (pass == 1))
				continue;
			c->ld = open_uri(d, i, detail, detaillen);
			mark_uri(d, i, c->ld == NULL);
			if (c->ld != NULL) {
				c->uri = i;
				return 0;
			}
		}
	}
	return -1;
}

static void drop_conn(struct conn *c)
{
	if (c->ld != NULL)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	c->ld = NULL;
}

/* Errors that mean the connection (not the question) is bad: reconnect. */
static bool connection_error(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
	       rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_UNWILLING_TO_PERFORM ||
	       rc == LDAP_OTHER || rc == LDAP_LOCAL_ERROR;
}

static int search(struct ldap_directory *d, struct conn *c, const char *base, int scope,
                  const char *filter, char **attrs, int sizelimit, LDAPMessage **msg)
{
	struct timeval tv;

	ms_to_timeval(d->s.timeout_ms, &tv);
	*msg = NULL;
	return ldap_search_ext_s(c->ld, base, scope, filter, attrs, 0, NULL, NULL, &tv, sizelimit, msg);
}

static char *expand(const char *template, const char *name, const char *value)
{
	const char *names[] = { name }, *values[] = { value };
	const size_t lengths[] = { strlen(value) };

	return ldap_filter_expand(template, names, values, lengths, 1);
}

/* Adds dn to the result unless already there (case-insensitive). 1 added, 0 known, -1 ENOMEM. */
static int add_group(struct ldap_lookup_result *res, const char *dn)
{
	char **grown;

	for (size_t i = 0; i < res->n_groups; i++) {
		if (strcasecmp(res->groups[i], dn) == 0)
			return 0;
	}
	if (res->n_groups >= MAX_GROUPS)
		return 0;
	grown = realloc(res->groups, (res->n_groups + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	res->groups = grown;
	grown[res->n_groups] = strdup(dn);
	if (grown[res->n_groups] == NULL)
		return -1;
	res->n_groups++;
	return 1;
}

/* Adds the groups directly above `member` (a device or group DN). Returns an
 * LDAP result code. */
static int direct_groups(struct ldap_directory *d, struct conn *c, const char *member,
                         struct ldap_lookup_result *res)
{
	char *memberof[] = { "memberOf", NULL }, *none[] = { LDAP_NO_ATTRS, NULL };
	struct berval **vals = NULL;
	LDAPMessage *msg = NULL, *e;
	char *filter = NULL;
	int rc;

	if (d->s.group_mode == LDAP_GROUPS_MEMBEROF) {
		rc = search(d, c, member, LDAP_SCOPE_BASE, "(objectClass=*)", memberof, 1, &msg);
		if (rc != LDAP_SUCCESS)
			goto out;
		e = ldap_first_entry(c->ld, msg);
		vals = e != NULL ? ldap_get_values_len(c->ld, e, "memberOf") : NULL;
		for (int i = 0; vals != NULL && vals[i] != NULL; i++) {
			char dn[1024];

			snprintf(dn, sizeof(dn), "%.*s", (int)vals[i]->bv_len, vals[i]->bv_val);
			if (add_group(res, dn) < 0) {
				rc = LDAP_NO_MEMORY;
				goto out;
			}
		}
		goto out;
	}
	filter = expand(d->s.group_filter, "dn", member);
	if (filter == NULL) {
		rc = LDAP_FILTER_ERROR;
		goto out;
	}
	rc = search(d, c, d->s.group_base_dn, LDAP_SCOPE_SUBTREE, filter, none, MAX_GROUPS, &msg);
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		rc = LDAP_SUCCESS;
	for (e = ldap_first_entry(c->ld, msg); rc == LDAP_SUCCESS && e != NULL;
	     e = ldap_next_entry(c->ld, e)) {
		char *dn = ldap_get_dn(c->ld, e);

		if (dn != NULL && add_group(res, dn) < 0)
			rc = LDAP_NO_MEMORY;
		ldap_memfree(dn);
	}
out:
	ldap_value_free_len(vals);
	ldap_msgfree(msg);
	free(filter);
	return rc;
}

/* Groups of the device, then of its groups, level by level: every group is
 * expanded once, so cycles end. */
static int all_groups(struct ldap_directory *d, struct conn *c, struct ldap_lookup_result *res)
{
	size_t level_start = 0, level_end;
	int rc = direct_groups(d, c, res->dn, res);

	for (unsigned depth = 0; rc == LDAP_SUCCESS && depth < d->s.nested_depth; depth++) {
		level_end = res->n_groups;
		if (level_start == level_end)
			break;
		for (size_t i = level_start; rc == LDAP_SUCCESS && i < level_end; i++)
			rc = direct_groups(d, c, res->groups[i], res);
		level_start = level_end;
	}
	return rc;
}

/* The device search and its groups on one connection. Returns an LDAP code;
 * LDAP_NO_SUCH_OBJECT means no (unique) device, with detail set. */
static int find_device(struct ldap_directory *d, struct conn *c, const char *identity,
                       struct ldap_lookup_result *res, char *detail, size_t detaillen)
{
	char *none[] = { LDAP_NO_ATTRS, NULL };
	char *filter = expand(d->s.device_filter, "identity", identity);
	LDAPMessage *msg = NULL;
	char *dn;
	int rc, count;

	if (filter == NULL)
		return LDAP_FILTER_ERROR;
	rc = search(d, c, d->s.base_dn, LDAP_SCOPE_SUBTREE, filter, none, 2, &msg);
	free(filter);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(msg);
		return rc;
	}
	count = ldap_count_entries(c->ld, msg);
	if (count != 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
		snprintf(detail, detaillen, "%s", count == 0 ? "no device entry" : "several device entries match");
		ldap_msgfree(msg);
		return LDAP_NO_SUCH_OBJECT;
	}
	dn = ldap_get_dn(c->ld, ldap_first_entry(c->ld, msg));
	ldap_msgfree(msg);
	if (dn == NULL)
		return LDAP_NO_MEMORY;
	res->dn = strdup(dn);
	ldap_memfree(dn);
	if (res->dn == NULL)
		return LDAP_NO_MEMORY;
	return all_groups(d, c, res);
}

static struct conn *take_conn(struct ldap_directory *d)
{
	unsigned start = atomic_fetch_add(&d->next_conn, 1) % d->s.connections;

	for (unsigned i = 0; i < d->s.connections; i++) {
		struct conn *c = &d->conns[(start + i) % d->s.connections];

		if (pthread_mutex_trylock(&c->lock) == 0)
			return c;
	}
	pthread_mutex_lock(&d->conns[start].lock);
	return &d->conns[start];
}

static void cache_store(struct ldap_directory *d, const char *identity,
                        const struct ldap_lookup_result *res)
{
	struct cached *slot = NULL;

	pthread_mutex_lock(&d->state_lock);
	for (size_t i = 0; i < d->n_cache && slot == NULL; i++) {
		if (strcmp(d->cache[i].identity, identity) == 0)
			slot = &d->cache[i];
	}
	if (slot == NULL && d->n_cache < CACHE_MAX) {
		slot = &d->cache[d->n_cache++];
	} else if (slot == NULL) {
		slot = &d->cache[0];   /* full: replace the oldest */
		for (size_t i = 1; i < d->n_cache; i++) {
			if (d->cache[i].stored_ms < slot->stored_ms)
				slot = &d->cache[i];
		}
	}
	free(slot->identity);
	ldap_lookup_result_clear(&slot->res);
	slot->identity = strdup(identity);
	if (slot->identity == NULL || copy_result(&slot->res, res) < 0) {
		free(slot->identity);
		slot->identity = strdup("");   /* an unused slot that matches no identity */
		slot->stored_ms = 0;
	} else {
		slot->stored_ms = now_ms();
	}
	pthread_mutex_unlock(&d->state_lock);
}

static bool cache_find(struct ldap_directory *d, const char *identity, struct ldap_lookup_result *out)
{
	uint64_t now = now_ms();
	bool found = false;

	pthread_mutex_lock(&d->state_lock);
	for (size_t i = 0; i < d->n_cache && !found; i++) {
		struct cached *c = &d->cache[i];

		if (c->identity != NULL && strcmp(c->identity, identity) == 0 &&
		    now - c->stored_ms < (uint64_t)d->s.cache_ttl_s * 1000)
			found = copy_result(out, &c->res) == 0;
	}
	pthread_mutex_unlock(&d->state_lock);
	out->from_cache = found;
	return found;
}

enum ldap_lookup_status ldap_directory_lookup(struct ldap_directory *d, const char *identity,
                                              struct ldap_lookup_result *out,
                                              char *detail, size_t detaillen)
{
	enum ldap_lookup_status status = LDAP_LOOKUP_UNAVAILABLE;
	struct conn *c = take_conn(d);
	int rc = LDAP_SERVER_DOWN;

	memset(out, 0, sizeof(*out));
	detail[0] = '\0';
	/* A pooled connection may have died since its last use (a directory
	 * restart): one retry on a fresh connection tells that from an outage. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->ld == NULL && connect_conn(d, c, detail, detaillen) < 0)
			break;
		rc = find_device(d, c, identity, out, detail, detaillen);
		if (!connection_error(rc))
			break;
		snprintf(detail, detaillen, "%s: %s", d->uris[c->uri], ldap_err2string(rc));
		mark_uri(d, c->uri, true);
		drop_conn(c);
		ldap_lookup_result_clear(out);
		/* A server that let the search time out would let a retry time out too:
		 * one timeout is the most a lookup may cost. */
		if (rc == LDAP_TIMEOUT)
			break;
	}
	if (rc == LDAP_SUCCESS) {
		status = LDAP_LOOKUP_FOUND;
		if (d->cache != NULL)
			cache_store(d, identity, out);
	} else if (rc == LDAP_NO_SUCH_OBJECT) {
		status = LDAP_LOOKUP_NOT_FOUND;
		ldap_lookup_result_clear(out);
	} else {
		if (!connection_error(rc) && c->ld != NULL)
			snprintf(detail, detaillen, "%s: %s", d->uris[c->uri], ldap_err2string(rc));
		ldap_lookup_result_clear(out);
		if (d->cache != NULL && cache_find(d, identity, out))
			status = LDAP_LOOKUP_FOUND;
	}
	pthread_mutex_unlock(&c->lock);
	return status;
}

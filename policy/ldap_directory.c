/*
 * The directory client: pooled libldap connections with failover, device
 * search, group resolution (memberOf or group search) with bounded nesting,
 * and a small outage cache.
 *
 * Each pooled connection is guarded by its own mutex and used by one lookup at
 * a time. The searches of one nesting level are sent together and their
 * answers collected afterwards, so a level costs one round trip, not one per
 * group.
 */
#include "policy/ldap_directory.h"

#include <ldap.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/breaker.h"
#include "common/clock.h"
#include "common/strv.h"
#include "common/ttl_table.h"
#include "policy/ldap_filter.h"

/* A device in more groups than this is refused rather than given a partial
 * list: with first-match rules a missing group can mean a wider VLAN. */
#define MAX_GROUPS 1024
#define CACHE_MAX 10000           /* outage cache entries; the oldest goes first */
#define URI_BACKOFF_MS 1000       /* a URI that just failed is tried after the others */
#define FAILBACK_MS 30000         /* a connection on a later URI retries earlier ones this often */
#define IDLE_MAX_MS 60000         /* idle longer and a NAT or firewall may have dropped it */
#define MAX_URIS 64               /* one bit each in connect_conn */

struct conn {
	pthread_mutex_t lock;
	LDAP *ld;                     /* NULL until connected, or after an error */
	size_t uri;                   /* which URI it is bound to */
	uint64_t opened_ms, used_ms;
};

/* An outage cache entry. The table's key is a SHA-256 of the identity (which
 * may be longer than a key); the identity itself is kept and compared, so a
 * hash collision can never hand one device another's groups. */
struct cache_entry {
	struct ttl_node node;
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
	uint64_t *uri_failed_ms;      /* last failure per URI, 0 = none since the last success */
	struct ttl_table *cache;      /* NULL: cache off */
	struct breaker breaker;       /* a dead directory is skipped, not waited on per lookup */
	struct backend_observer observer;   /* all zero: none */
};

/* One search of a batch sent on one connection. */
struct query {
	const char *member;           /* whose groups are asked for (group searches) */
	const char *base;
	int scope;
	char *filter;                 /* owned */
	int msgid;                    /* -1: not sent */
	int rc;                       /* the search's own result code */
	LDAPMessage *msg;             /* its entries and result */
};

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

void ldap_lookup_result_clear(struct ldap_lookup_result *res)
{
	free(res->dn);
	strv_free(res->groups, res->n_groups);
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

/* A template must expand with its one variable (checked here, not per lookup). */
static bool template_ok(const char *template, const char *variable)
{
	const char *names[] = { variable }, *values[] = { "x" };
	const size_t lengths[] = { 1 };
	char *f = template != NULL ? ldap_filter_expand(template, names, values, lengths, 1) : NULL;

	free(f);
	return f != NULL;
}

static const char *check_settings(const struct ldap_settings *s)
{
	if (s->n_uris == 0 || s->uris == NULL)
		return "ldap needs at least one URI";
	if (s->n_uris > MAX_URIS)
		return "ldap takes at most 64 URIs";
	for (size_t i = 0; i < s->n_uris; i++) {
		if (s->uris[i] == NULL || !ldap_is_ldap_url(s->uris[i]))
			return "ldap URIs must be ldap:// or ldaps://";
	}
	if (s->connections == 0)
		return "ldap needs at least one connection";
	if (s->connect_timeout_ms == 0 || s->timeout_ms == 0)
		return "ldap timeouts must be above 0 ms";
	if (s->base_dn == NULL)
		return "ldap needs a base DN";
	if (s->bind_dn != NULL && (s->bind_password == NULL || s->bind_password[0] == '\0'))
		return "ldap bind_dn needs a password (an empty one is an unauthenticated bind)";
	if (!template_ok(s->device_filter, "identity"))
		return "ldap device_filter must be a parenthesized filter using only %{identity}";
	if (s->group_mode == LDAP_GROUPS_SEARCH && !template_ok(s->group_filter, "dn"))
		return "ldap group_filter must be a parenthesized filter using only %{dn}";
	return NULL;
}

struct ldap_directory *ldap_directory_new(const struct ldap_settings *settings,
                                          char *err, size_t errlen)
{
	const char *bad = check_settings(settings);
	struct ldap_directory *d = NULL;
	bool oom = false;

	if (bad != NULL) {
		snprintf(err, errlen, "%s", bad);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->s = *settings;
	d->uris = calloc(settings->n_uris, sizeof(*d->uris));
	d->uri_failed_ms = calloc(settings->n_uris, sizeof(*d->uri_failed_ms));
	d->conns = calloc(settings->connections, sizeof(*d->conns));
	if (settings->cache_ttl_s > 0)
		d->cache = ttl_table_new(CACHE_MAX, (uint64_t)settings->cache_ttl_s * 1000);
	oom = d->uris == NULL || d->uri_failed_ms == NULL || d->conns == NULL ||
	      (settings->cache_ttl_s > 0 && d->cache == NULL);
	for (size_t i = 0; !oom && i < settings->n_uris; i++)
		d->uris[i] = dup_or_null(settings->uris[i], &oom);
	d->s.uris = (const char *const *)d->uris;
	d->s.ca = dup_or_null(settings->ca, &oom);
	d->s.bind_dn = dup_or_null(settings->bind_dn, &oom);
	d->s.bind_password = dup_or_null(settings->bind_dn != NULL ? settings->bind_password : NULL, &oom);
	d->s.base_dn = dup_or_null(settings->base_dn, &oom);
	d->s.device_filter = dup_or_null(settings->device_filter, &oom);
	d->s.group_base_dn = dup_or_null(settings->group_base_dn ? settings->group_base_dn
	                                                         : settings->base_dn, &oom);
	d->s.group_filter = dup_or_null(settings->group_filter, &oom);
	for (unsigned i = 0; d->conns != NULL && i < settings->connections; i++)
		pthread_mutex_init(&d->conns[i].lock, NULL);
	breaker_init(&d->breaker, BREAKER_DEFAULT_THRESHOLD, BREAKER_DEFAULT_OPEN_MS);
	pthread_mutex_init(&d->state_lock, NULL);
	atomic_init(&d->next_conn, 0);
	if (oom) {
		snprintf(err, errlen, "out of memory");
		ldap_directory_free(d);
		return NULL;
	}
	return d;
}

static struct cache_entry *cache_entry_of(struct ttl_node *node)
{
	return (struct cache_entry *)((char *)node - offsetof(struct cache_entry, node));
}

static void cache_entry_free(struct cache_entry *e)
{
	free(e->identity);
	ldap_lookup_result_clear(&e->res);
	free(e);
}

/* Unlinks and frees one entry. Called with state_lock (or from free). */
static void cache_drop(struct ldap_directory *d, struct ttl_node *node)
{
	ttl_table_remove(d->cache, node);
	cache_entry_free(cache_entry_of(node));
}

void ldap_directory_free(struct ldap_directory *d)
{
	struct ttl_node *node;

	if (d == NULL)
		return;
	for (unsigned i = 0; d->conns != NULL && i < d->s.connections; i++) {
		if (d->conns[i].ld != NULL)
			ldap_unbind_ext_s(d->conns[i].ld, NULL, NULL);
		pthread_mutex_destroy(&d->conns[i].lock);
	}
	if (d->cache != NULL) {
		while ((node = ttl_table_oldest(d->cache)) != NULL)
			cache_drop(d, node);
		ttl_table_free(d->cache);
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
	strv_free(d->uris, d->s.n_uris);
	free(d->uri_failed_ms);
	free(d->conns);
	pthread_mutex_destroy(&d->state_lock);
	free(d);
}

/* ---- URI health ---------------------------------------------------------- */

void ldap_directory_observe(struct ldap_directory *d, const struct backend_observer *o)
{
	d->observer = *o;
}

/* One call to a URI, for the observer: rc is its LDAP code. */
static void report(struct ldap_directory *d, size_t uri, int rc, double started_ms)
{
	backend_observer_report(&d->observer, (unsigned)uri,
	                        rc == LDAP_SUCCESS ? BACKEND_OK : rc == LDAP_TIMEOUT ? BACKEND_TIMEOUT
	                                                                             : BACKEND_ERROR,
	                        started_ms);
}

static bool uri_failed_within(struct ldap_directory *d, size_t uri, uint64_t now, uint64_t window)
{
	bool failed;

	pthread_mutex_lock(&d->state_lock);
	/* The failure may be younger than `now` (another thread's): no unsigned wrap. */
	failed = d->uri_failed_ms[uri] != 0 && d->uri_failed_ms[uri] + window > now;
	pthread_mutex_unlock(&d->state_lock);
	return failed;
}

static void mark_uri(struct ldap_directory *d, size_t uri, bool failed)
{
	pthread_mutex_lock(&d->state_lock);
	d->uri_failed_ms[uri] = failed ? clock_now_ms() : 0;
	pthread_mutex_unlock(&d->state_lock);
}

/* ---- words for the operator ---------------------------------------------- */

/* "URI: what: libldap's words (its diagnostic, e.g. OpenSSL's reason)". */
static void say(char *detail, size_t len, const char *uri, const char *what, LDAP *ld, int rc)
{
	char *diag = NULL;
	bool has_diag;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	has_diag = diag != NULL && diag[0] != '\0';
	snprintf(detail, len, "%s: %s%s%s%s%s%s", uri, what, what[0] ? ": " : "", ldap_err2string(rc),
	         has_diag ? " (" : "", has_diag ? diag : "", has_diag ? ")" : "");
	ldap_memfree(diag);
}

static void append(char *detail, size_t len, const char *more)
{
	size_t used = strnlen(detail, len);

	if (used + 1 < len)
		snprintf(detail + used, len - used, "%s%s", used ? "; " : "", more);
}

/* ---- connections --------------------------------------------------------- */

static void ms_to_timeval(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* libldap calls this as a TLS session begins, before its handshake. */
static int tls_began(LDAP *ld, void *session, void *ctx, void *arg)
{
	*(bool *)arg = true;
	return 0;
}

/*
 * Debian's libldap (GnuTLS) says only "Connect error" or "Can't contact LDAP
 * server" when the handshake fails; knowing the handshake began tells a TLS
 * failure from an unreachable server, and the likely causes are named.
 */
static void say_open_failure(struct ldap_directory *d, const char *uri, const char *what, LDAP *ld,
                             int rc, bool tls_started, char *detail, size_t detaillen)
{
	char host[256] = "";
	LDAPURLDesc *lud = NULL;

	if (!tls_started || (rc != LDAP_CONNECT_ERROR && rc != LDAP_SERVER_DOWN)) {
		say(detail, detaillen, uri, what, ld, rc);
		return;
	}
	if (ldap_url_parse(uri, &lud) == LDAP_URL_SUCCESS && lud->lud_host != NULL)
		snprintf(host, sizeof(host), "%s", lud->lud_host);
	ldap_free_urldesc(lud);
	snprintf(detail, detaillen,
	         "%s: %s: TLS handshake failed: %s (the server's certificate must chain to %s, "
	         "name %s and be within its validity period; TLS 1.2 or later)",
	         uri, what, ldap_err2string(rc), d->s.ca != NULL ? d->s.ca : "the system CA store",
	         host[0] ? host : "the URI's host");
}

/* One connection attempt to one URI: options, StartTLS, bind. */
static LDAP *open_uri(struct ldap_directory *d, size_t uri, char *detail, size_t detaillen)
{
	const char *u = d->uris[uri];
	struct berval cred = { 0, NULL };
	struct timeval network, api;
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int tls_min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0, rc;
	bool tls_started = false;
	LDAP *ld = NULL;
	double started = clock_now_ms_precise();

	rc = ldap_initialize(&ld, u);
	if (rc != LDAP_SUCCESS) {
		snprintf(detail, detaillen, "%s: %s", u, ldap_err2string(rc));
		report(d, uri, rc, started);
		return NULL;
	}
	ms_to_timeval(d->s.connect_timeout_ms, &network);
	ms_to_timeval(d->s.timeout_ms, &api);
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	/* Chasing a referral would bind our credentials to a server we did not name. */
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &network);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &api);
	/* Always verify (whatever ldap.conf says), by chain and by host name. */
	ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
	ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls_min);
	if (d->s.ca != NULL)
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, d->s.ca);
	ldap_set_option(ld, LDAP_OPT_X_TLS_CONNECT_CB, (void *)tls_began);
	ldap_set_option(ld, LDAP_OPT_X_TLS_CONNECT_ARG, &tls_started);
	/* Per-handle TLS context, so the options above apply to this handle. */
	rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	if (rc != LDAP_OPT_SUCCESS) {
		say(detail, detaillen, u, "TLS setup", ld, rc == -1 ? LDAP_LOCAL_ERROR : rc);
		goto fail;
	}
	if (d->s.start_tls && strncasecmp(u, "ldap://", 7) == 0) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			say_open_failure(d, u, "StartTLS", ld, rc, tls_started, detail, detaillen);
			goto fail;
		}
	}
	if (d->s.bind_dn != NULL) {
		cred.bv_val = (char *)d->s.bind_password;
		cred.bv_len = strlen(d->s.bind_password);
	}
	rc = ldap_sasl_bind_s(ld, d->s.bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		char what[600];

		snprintf(what, sizeof(what), "bind as %s", d->s.bind_dn ? d->s.bind_dn : "anonymous");
		say_open_failure(d, u, what, ld, rc, tls_started, detail, detaillen);
		goto fail;
	}
	/* tls_started lives on this stack: the handle must not call back later. */
	ldap_set_option(ld, LDAP_OPT_X_TLS_CONNECT_CB, NULL);
	ldap_set_option(ld, LDAP_OPT_X_TLS_CONNECT_ARG, NULL);
	report(d, uri, LDAP_SUCCESS, started);
	return ld;
fail:
	report(d, uri, rc == LDAP_SUCCESS ? LDAP_OTHER : rc, started);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

static void drop_conn(struct conn *c)
{
	if (c->ld != NULL)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	c->ld = NULL;
}

/* Connects c to the first URI that answers; URIs that failed within the last
 * second go last (tried, not skipped: a restarted server is used at once).
 * detail collects every URI's failure. */
static int connect_conn(struct ldap_directory *d, struct conn *c, char *detail, size_t detaillen)
{
	uint64_t now = clock_now_ms(), went_last = 0;   /* bit i: URI i failed just now */
	char one[512];

	detail[0] = '\0';
	for (size_t i = 0; i < d->s.n_uris; i++) {
		if (uri_failed_within(d, i, now, URI_BACKOFF_MS))
			went_last |= UINT64_C(1) << i;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < d->s.n_uris; i++) {
			if (((went_last >> i) & 1) != (uint64_t)pass)
				continue;
			c->ld = open_uri(d, i, one, sizeof(one));
			mark_uri(d, i, c->ld == NULL);
			if (c->ld != NULL) {
				c->uri = i;
				c->opened_ms = c->used_ms = clock_now_ms();
				detail[0] = '\0';
				return 0;
			}
			append(detail, detaillen, one);
		}
	}
	return -1;
}

/* A connection that failed over to a later URI goes back to an earlier one
 * once that has not failed for a while; if it cannot, it stays where it is. */
static void fail_back(struct ldap_directory *d, struct conn *c, uint64_t now)
{
	char ignored[512];

	if (c->uri == 0 || now - c->opened_ms < FAILBACK_MS)
		return;
	c->opened_ms = now;   /* at most one attempt per period */
	for (size_t i = 0; i < c->uri; i++) {
		LDAP *ld;

		if (uri_failed_within(d, i, now, FAILBACK_MS))
			continue;
		ld = open_uri(d, i, ignored, sizeof(ignored));
		mark_uri(d, i, ld == NULL);
		if (ld != NULL) {
			drop_conn(c);
			c->ld = ld;
			c->uri = i;
			return;
		}
	}
}

/* Codes that say the connection, not the question, is bad. */
static bool connection_error(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR ||
	       rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_LOCAL_ERROR ||
	       rc == LDAP_ENCODING_ERROR || rc == LDAP_DECODING_ERROR || rc == LDAP_OTHER ||
	       rc == LDAP_UNWILLING_TO_PERFORM || rc == LDAP_PROTOCOL_ERROR;
}

/* ---- searches -------------------------------------------------------------- */

static void clear_queries(struct query *q, size_t n)
{
	for (size_t i = 0; q != NULL && i < n; i++) {
		free(q[i].filter);
		ldap_msgfree(q[i].msg);
	}
	free(q);
}

/*
 * Sends all n searches, then collects their answers: one round trip for the
 * batch, bounded by timeout_ms as a whole. Returns LDAP_SUCCESS when every
 * search was answered (each q[i].rc is that search's own code), else the
 * connection-level failure (the connection then has requests in flight and
 * must be dropped).
 */
static int run_queries(struct ldap_directory *d, struct conn *c, struct query *q, size_t n,
                       char **attrs, int sizelimit)
{
	uint64_t deadline = clock_now_ms() + d->s.timeout_ms;
	struct timeval server_limit;
	int rc = LDAP_SUCCESS;

	ms_to_timeval(d->s.timeout_ms, &server_limit);
	for (size_t i = 0; i < n; i++) {
		q[i].msgid = -1;
		rc = ldap_search_ext(c->ld, q[i].base, q[i].scope, q[i].filter, attrs, 0, NULL, NULL,
		                     &server_limit, sizelimit, &q[i].msgid);
		if (rc != LDAP_SUCCESS)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t now = clock_now_ms();
		struct timeval left;
		int type;

		ms_to_timeval(now < deadline ? (unsigned)(deadline - now) : 0, &left);
		type = ldap_result(c->ld, q[i].msgid, LDAP_MSG_ALL, &left, &q[i].msg);
		if (type == 0)
			return LDAP_TIMEOUT;
		if (type < 0) {
			ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &rc);
			return rc != LDAP_SUCCESS ? rc : LDAP_SERVER_DOWN;
		}
		rc = ldap_parse_result(c->ld, q[i].msg, &q[i].rc, NULL, NULL, NULL, NULL, 0);
		if (rc != LDAP_SUCCESS)
			return rc;
	}
	return LDAP_SUCCESS;
}

/* What one lookup is doing: the connection, the answer so far, the words. */
struct lookup {
	struct ldap_directory *d;
	struct conn *c;
	struct ldap_lookup_result *res;
	char *detail;
	size_t detaillen;
	bool not_found;               /* the directory answered: no such device */
	bool failed;                  /* the directory answered, but not usefully (detail set) */
};

int ldap_lookup_result_add_group(struct ldap_lookup_result *res, const char *dn, size_t len,
                                 size_t max)
{
	char **grown;

	/* A DN never holds a raw NUL; such a value is not a group. */
	if (len == 0 || memchr(dn, '\0', len) != NULL)
		return 0;
	for (size_t i = 0; i < res->n_groups; i++) {
		if (strlen(res->groups[i]) == len && strncasecmp(res->groups[i], dn, len) == 0)
			return 0;
	}
	if (res->n_groups >= max)
		return -2;
	grown = realloc(res->groups, (res->n_groups + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	res->groups = grown;
	grown[res->n_groups] = strndup(dn, len);
	if (grown[res->n_groups] == NULL)
		return -1;
	res->n_groups++;
	return 1;
}

/* ldap_lookup_result_add_group, saying in detail why a group cannot be added. */
static int add_group(struct lookup *l, const char *dn, size_t len)
{
	int rc = ldap_lookup_result_add_group(l->res, dn, len, MAX_GROUPS);

	if (rc == -2)
		snprintf(l->detail, l->detaillen, "%s: more than %d groups; refusing an incomplete list",
		         l->d->uris[l->c->uri], MAX_GROUPS);
	else if (rc == -1)
		snprintf(l->detail, l->detaillen, "out of memory");
	return rc < 0 ? -1 : rc;
}

/* Adds the memberOf values of one entry. */
static int add_memberof(struct lookup *l, LDAPMessage *entry)
{
	struct berval **vals = ldap_get_values_len(l->c->ld, entry, "memberOf");
	int rc = 0;

	for (size_t i = 0; vals != NULL && vals[i] != NULL && rc == 0; i++) {
		if (add_group(l, vals[i]->bv_val, vals[i]->bv_len) < 0)
			rc = -1;
	}
	ldap_value_free_len(vals);
	return rc;
}

static char *expand(const char *template, const char *name, const char *value)
{
	const char *names[] = { name }, *values[] = { value };
	const size_t lengths[] = { strlen(value) };

	return ldap_filter_expand(template, names, values, lengths, 1);
}

/*
 * Adds the groups directly above each of members (the device's DN, or the
 * groups of the previous level): one batch of searches. members may point
 * into res->groups, which add_group moves: only the strings are used after
 * the batch is sent. Returns an LDAP code for the connection; l->failed when
 * the answers were unusable.
 */
static int level_groups(struct lookup *l, const char *const *members, size_t n)
{
	struct ldap_directory *d = l->d;
	bool by_memberof = d->s.group_mode == LDAP_GROUPS_MEMBEROF;
	char *memberof[] = { "memberOf", NULL }, *none[] = { LDAP_NO_ATTRS, NULL };
	struct query *q = calloc(n, sizeof(*q));
	int rc = LDAP_NO_MEMORY;

	if (q == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		q[i].member = members[i];
		q[i].base = by_memberof ? members[i] : d->s.group_base_dn;
		q[i].scope = by_memberof ? LDAP_SCOPE_BASE : LDAP_SCOPE_SUBTREE;
		q[i].filter = by_memberof ? strdup("(objectClass=*)") : expand(d->s.group_filter, "dn", members[i]);
		if (q[i].filter == NULL)
			goto out;
	}
	rc = run_queries(d, l->c, q, n, by_memberof ? memberof : none, by_memberof ? 1 : MAX_GROUPS + 1);
	for (size_t i = 0; rc == LDAP_SUCCESS && !l->failed && i < n; i++) {
		if (by_memberof && (q[i].rc == LDAP_NO_SUCH_OBJECT || q[i].rc == LDAP_REFERRAL))
			continue;   /* a group we cannot see (deleted, another domain) has no groups for us */
		if (q[i].rc != LDAP_SUCCESS) {
			char what[600];

			snprintf(what, sizeof(what), "groups of %s", q[i].member);
			say(l->detail, l->detaillen, d->uris[l->c->uri], what, NULL, q[i].rc);
			l->failed = true;
			break;
		}
		for (LDAPMessage *e = ldap_first_entry(l->c->ld, q[i].msg); e != NULL && !l->failed;
		     e = ldap_next_entry(l->c->ld, e)) {
			char *dn = by_memberof ? NULL : ldap_get_dn(l->c->ld, e);

			if (by_memberof)
				l->failed = add_memberof(l, e) < 0;
			else
				l->failed = dn == NULL || add_group(l, dn, strlen(dn)) < 0;
			ldap_memfree(dn);
		}
	}
out:
	clear_queries(q, n);
	return rc;
}

/* The device's groups, then their groups, level by level: every group is
 * expanded once (the result is the visited set), so cycles end. */
static int all_groups(struct lookup *l, LDAPMessage *device)
{
	size_t level_start = 0, level_end;
	int rc = LDAP_SUCCESS;

	/* memberOf came with the device entry; a group search needs a round trip. */
	if (l->d->s.group_mode == LDAP_GROUPS_MEMBEROF)
		l->failed = add_memberof(l, device) < 0;
	else
		rc = level_groups(l, (const char *const *)&l->res->dn, 1);
	for (unsigned depth = 0; rc == LDAP_SUCCESS && !l->failed && depth < l->d->s.nested_depth; depth++) {
		level_end = l->res->n_groups;
		if (level_start == level_end)
			break;
		rc = level_groups(l, (const char *const *)l->res->groups + level_start, level_end - level_start);
		level_start = level_end;
	}
	return rc;
}

/* The device search and its groups on one connection. Returns an LDAP code
 * for the connection; the outcome is in l. */
static int find_device(struct lookup *l, const char *identity)
{
	struct ldap_directory *d = l->d;
	const char *uri = d->uris[l->c->uri];
	char *memberof[] = { "memberOf", NULL }, *none[] = { LDAP_NO_ATTRS, NULL };
	struct query q = { .base = d->s.base_dn, .scope = LDAP_SCOPE_SUBTREE };
	LDAPMessage *e;
	char *dn = NULL;
	int rc = LDAP_NO_MEMORY, count;

	q.filter = expand(d->s.device_filter, "identity", identity);
	if (q.filter == NULL)
		goto out;
	/* Two are enough to tell "one" from "ambiguous". */
	rc = run_queries(d, l->c, &q, 1, d->s.group_mode == LDAP_GROUPS_MEMBEROF ? memberof : none, 2);
	if (rc != LDAP_SUCCESS)
		goto out;
	if (q.rc != LDAP_SUCCESS && q.rc != LDAP_SIZELIMIT_EXCEEDED) {
		/* e.g. noSuchObject: the base DN is wrong, or not visible to the bind DN */
		char what[600];

		snprintf(what, sizeof(what), "search under %s", d->s.base_dn);
		say(l->detail, l->detaillen, uri, what, NULL, q.rc);
		l->failed = true;
		goto out;
	}
	count = ldap_count_entries(l->c->ld, q.msg);
	if (count != 1 || q.rc == LDAP_SIZELIMIT_EXCEEDED) {
		snprintf(l->detail, l->detaillen, "%s: %s", uri,
		         count == 0 ? "no device entry" : "several device entries match (ambiguous)");
		l->not_found = true;
		goto out;
	}
	e = ldap_first_entry(l->c->ld, q.msg);
	dn = ldap_get_dn(l->c->ld, e);
	l->res->dn = dn != NULL ? strdup(dn) : NULL;
	if (l->res->dn == NULL) {
		rc = LDAP_NO_MEMORY;
		goto out;
	}
	rc = all_groups(l, e);
out:
	ldap_memfree(dn);
	free(q.filter);
	ldap_msgfree(q.msg);
	return rc;
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

/* ---- outage cache ---------------------------------------------------------- */

static void cache_key(const char *identity, struct ttl_node *node)
{
	SHA256((const unsigned char *)identity, strlen(identity), node->key);
	node->keylen = SHA256_DIGEST_LENGTH;
}

/* The entry for identity, or NULL (also when another identity shares its
 * key). Called with state_lock. */
static struct ttl_node *cache_lookup(struct ldap_directory *d, const char *identity)
{
	struct ttl_node probe, *node;

	cache_key(identity, &probe);
	node = ttl_table_find(d->cache, probe.key, probe.keylen);
	if (node != NULL && strcmp(cache_entry_of(node)->identity, identity) != 0)
		return NULL;
	return node;
}

static void cache_store(struct ldap_directory *d, const char *identity,
                        const struct ldap_lookup_result *res)
{
	struct cache_entry *e = calloc(1, sizeof(*e));
	struct ttl_node *old;

	/* Copies are made before taking the lock; a failed copy only loses caching. */
	if (e == NULL || (e->identity = strdup(identity)) == NULL || copy_result(&e->res, res) < 0) {
		if (e != NULL)
			free(e->identity);
		free(e);
		return;
	}
	cache_key(identity, &e->node);
	e->stored_ms = clock_now_ms();
	pthread_mutex_lock(&d->state_lock);
	/* Whatever holds the key goes: the identity's older answer, or (on a
	 * collision) another identity's, which only loses caching. */
	if ((old = ttl_table_find(d->cache, e->node.key, e->node.keylen)) != NULL)
		cache_drop(d, old);
	/* Full: the oldest entry makes room. */
	if ((old = ttl_table_insert_evicting(d->cache, &e->node, e->stored_ms)) != NULL)
		cache_entry_free(cache_entry_of(old));
	pthread_mutex_unlock(&d->state_lock);
}

static void cache_forget(struct ldap_directory *d, const char *identity)
{
	struct ttl_node *node;

	pthread_mutex_lock(&d->state_lock);
	if ((node = cache_lookup(d, identity)) != NULL)
		cache_drop(d, node);
	pthread_mutex_unlock(&d->state_lock);
}

/* Copies a fresh entry for identity into out; returns its age in ms, or -1. */
static int64_t cache_find(struct ldap_directory *d, const char *identity, struct ldap_lookup_result *out)
{
	uint64_t now = clock_now_ms();
	struct ttl_node *node;
	struct cache_entry *e;
	int64_t age = -1;

	pthread_mutex_lock(&d->state_lock);
	node = cache_lookup(d, identity);
	if (node != NULL && now < node->expires_ms) {
		e = cache_entry_of(node);
		if (copy_result(out, &e->res) == 0)
			age = (int64_t)(now - e->stored_ms);
	} else if (node != NULL) {
		cache_drop(d, node);   /* stale: it will never serve again */
	}
	pthread_mutex_unlock(&d->state_lock);
	out->from_cache = age >= 0;
	return age;
}

/* ---- the lookup ------------------------------------------------------------ */

/* The directory could not answer: the outage cache may (FOUND), else UNAVAILABLE. */
static enum ldap_lookup_status serve_cached(struct ldap_directory *d, const char *identity,
                                            struct ldap_lookup_result *out, char *detail,
                                            size_t detaillen)
{
	char seen[64];
	int64_t age;

	if (d->cache == NULL || (age = cache_find(d, identity, out)) < 0)
		return LDAP_LOOKUP_UNAVAILABLE;
	snprintf(seen, sizeof(seen), "served from cache, %lld s old", (long long)(age / 1000));
	append(detail, detaillen, seen);
	return LDAP_LOOKUP_FOUND;
}

enum ldap_lookup_status ldap_directory_lookup(struct ldap_directory *d, const char *identity,
                                              struct ldap_lookup_result *out,
                                              char *detail, size_t detaillen)
{
	enum ldap_lookup_status status = LDAP_LOOKUP_UNAVAILABLE;
	struct lookup l = { .d = d, .res = out, .detail = detail, .detaillen = detaillen };
	struct conn *c = NULL;
	uint64_t now, started;
	double searched;
	int rc = LDAP_SERVER_DOWN;

	memset(out, 0, sizeof(*out));
	detail[0] = '\0';
	if (identity == NULL || identity[0] == '\0') {
		snprintf(detail, detaillen, "empty identity");
		return LDAP_LOOKUP_NOT_FOUND;
	}
	if (!breaker_allow(&d->breaker)) {
		snprintf(detail, detaillen, "directory marked down after %u failed lookups in a row, "
		         "next try in %u ms", d->breaker.threshold, breaker_retry_in_ms(&d->breaker));
		return serve_cached(d, identity, out, detail, detaillen);
	}
	started = clock_now_ms();
	c = l.c = take_conn(d);
	now = clock_now_ms();
	if (c->ld != NULL && now - c->used_ms > IDLE_MAX_MS)
		drop_conn(c);
	if (c->ld != NULL)
		fail_back(d, c, now);
	/* A pooled connection may have died since its last use (a directory
	 * restart): one retry on a fresh connection tells that from an outage. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->ld == NULL && connect_conn(d, c, detail, detaillen) < 0)
			break;
		c->used_ms = clock_now_ms();
		searched = clock_now_ms_precise();
		rc = find_device(&l, identity);
		report(d, c->uri, rc == LDAP_SUCCESS && l.failed ? LDAP_OTHER : rc, searched);
		if (rc == LDAP_SUCCESS)
			break;
		/* Requests may still be in flight on it: never reuse it. */
		say(detail, detaillen, d->uris[c->uri], "search", c->ld, rc);
		drop_conn(c);
		ldap_lookup_result_clear(out);
		if (!connection_error(rc))
			break;
		/* A server that let the search time out would let a retry time out
		 * too: one timeout is the most a lookup may cost. It also goes last
		 * for a while, so other connections try the other URIs first. */
		if (rc == LDAP_TIMEOUT) {
			mark_uri(d, c->uri, true);
			break;
		}
	}
	if (rc == LDAP_SUCCESS && l.not_found) {
		status = LDAP_LOOKUP_NOT_FOUND;
		ldap_lookup_result_clear(out);
		/* The directory's "no" is authoritative: never serve an older "yes". */
		if (d->cache != NULL)
			cache_forget(d, identity);
	} else if (rc == LDAP_SUCCESS && !l.failed) {
		status = LDAP_LOOKUP_FOUND;
		detail[0] = '\0';   /* a dead pooled connection replaced on the way is no news */
		if (d->cache != NULL)
			cache_store(d, identity, out);
	} else {
		ldap_lookup_result_clear(out);
		status = serve_cached(d, identity, out, detail, detaillen);
	}
	pthread_mutex_unlock(&c->lock);
	breaker_record(&d->breaker, rc == LDAP_SUCCESS || !connection_error(rc), started,
	               d->s.connect_timeout_ms < d->s.timeout_ms ? d->s.connect_timeout_ms : d->s.timeout_ms);
	return status;
}

bool ldap_directory_down(const struct ldap_directory *d)
{
	return breaker_is_open(&d->breaker);
}

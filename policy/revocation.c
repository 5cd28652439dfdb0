#include "policy/revocation.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cert_names.h"
#include "common/cert_ref.h"
#include "policy/crl_store.h"
#include "policy/helpdesk.h"
#include "policy/ocsp_check.h"
#include "policy/status_cache.h"
#include "common/utc_time.h"

/* The in-process cache (no Redis) holds this many certificates at most. */
#define LOCAL_CACHE_ENTRIES 100000

struct revocation {
	const struct revocation_settings *s;
	struct helpdesk *helpdesk;      /* NULL: no Redis */
	struct revocation_mirror *mirror;   /* borrowed; NULL: none */
	bool dry_run;                   /* writes nothing anywhere */
	struct status_cache *cache;     /* NULL: nothing to cache (no Redis, no OCSP) */
	struct ocsp_check *ocsp;        /* NULL: no OCSP */
	struct crl_store *crls;         /* NULL: no CRL files */
	atomic_ullong counters[REVOCATION_COUNTER_COUNT];
};

struct revocation *revocation_new(const struct revocation_settings *s, struct redis_pool *redis,
                                  struct revocation_mirror *mirror, bool dry_run, char *err, size_t errlen)
{
	struct revocation *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->s = s;
	r->dry_run = dry_run;
	r->mirror = mirror;
	if (redis != NULL && (r->helpdesk = helpdesk_new(redis, err, errlen)) == NULL)
		goto fail;
	/* With Redis the cache also serves CRLs the helpdesk imported, so it is
	 * consulted even without OCSP. */
	if ((redis != NULL || s->ocsp != NULL) &&
	    (r->cache = status_cache_new(redis, s->cache_max_ttl, LOCAL_CACHE_ENTRIES, err, errlen)) == NULL)
		goto fail;
	if (s->ocsp != NULL && (r->ocsp = ocsp_check_new(s->ocsp, s->ca_file, err, errlen)) == NULL)
		goto fail;
	if (s->n_crl_files > 0 &&
	    (r->crls = crl_store_new((const char *const *)s->crl_files, s->n_crl_files, s->ca_file, err,
	                             errlen)) == NULL)
		goto fail;
	return r;
fail:
	revocation_free(r);
	return NULL;
}

void revocation_free(struct revocation *r)
{
	if (r == NULL)
		return;
	helpdesk_free(r->helpdesk);
	status_cache_free(r->cache);
	ocsp_check_free(r->ocsp);
	crl_store_free(r->crls);
	free(r);
}

int revocation_reload(struct revocation *r, char *err, size_t errlen)
{
	return r->crls != NULL ? crl_store_reload(r->crls, err, errlen) : 0;
}

int revocation_reload_changed(struct revocation *r, char *err, size_t errlen)
{
	return r->crls != NULL ? crl_store_reload_if_changed(r->crls, err, errlen) : 0;
}

bool revocation_blocks(const struct revocation *r)
{
	return r->helpdesk != NULL;
}

void revocation_observe(struct revocation *r, const struct backend_observer *ocsp,
                        const struct backend_observer *crl)
{
	if (r->ocsp != NULL)
		ocsp_check_observe(r->ocsp, ocsp);
	if (r->crls != NULL)
		crl_store_observe(r->crls, crl);
}

bool revocation_ocsp_slot_down(const struct revocation *r, unsigned slot)
{
	return r->ocsp != NULL && ocsp_check_slot_down(r->ocsp, slot);
}

int64_t revocation_crl_next_update(const struct revocation *r, size_t file)
{
	return crl_store_next_update(r->crls, file);
}

unsigned revocation_ocsp_responder(struct revocation *r, X509 *cert)
{
	return r->ocsp != NULL ? ocsp_check_responder(r->ocsp, cert) : 0;
}

const char *revocation_counter_name(enum revocation_counter c)
{
	static const char *const names[REVOCATION_COUNTER_COUNT] = {
		[REVOCATION_CACHE_HITS] = "cache_hits",
		[REVOCATION_OCSP_QUERIES] = "ocsp_queries",
		[REVOCATION_OCSP_FAILURES] = "ocsp_failures",
		[REVOCATION_REDIS_UNAVAILABLE] = "redis_unavailable",
		[REVOCATION_SOFT_FAIL_ACCEPTS] = "soft_fail_accepts",
	};

	return names[c];
}

unsigned long long revocation_counter(const struct revocation *r, enum revocation_counter c)
{
	return atomic_load(&r->counters[c]);
}

void revocation_mirror_figures_of(const struct revocation *r, struct revocation_mirror_figures *out)
{
	*out = (struct revocation_mirror_figures){ 0 };
	if (r->mirror != NULL)
		revocation_mirror_figures(r->mirror, out);
}

static void count(struct revocation *r, enum revocation_counter c)
{
	atomic_fetch_add_explicit(&r->counters[c], 1, memory_order_relaxed);
}

/* Adds to dec->detail, so a Redis outage and what decided both show. */
__attribute__((format(printf, 2, 3))) static void note(struct decision *dec, const char *fmt, ...)
{
	size_t used = strlen(dec->detail);
	va_list ap;

	snprintf(dec->detail + used, sizeof(dec->detail) - used, "%s", used ? "; " : "");
	used = strlen(dec->detail);
	va_start(ap, fmt);
	vsnprintf(dec->detail + used, sizeof(dec->detail) - used, fmt, ap);
	va_end(ap);
}

/* A status some source gave, or none yet. */
struct learned {
	bool known;
	enum cert_status status;
	const char *source;
};

static void set(struct learned *l, enum cert_status status, const char *source)
{
	*l = (struct learned){ .known = true, .status = status, .source = source };
}

/* The helpdesk's list when Redis cannot answer: this node's mirror. */
static int check_mirror(struct revocation *r, const struct cert_ref *ref, struct decision *dec)
{
	struct revocation_record rec;
	char said[sizeof(dec->detail)];
	time_t age;

	switch (r->mirror != NULL ? revocation_mirror_lookup(r->mirror, ref, &rec, &age)
	                          : REVOCATION_MIRROR_NOT_LOADED) {
	case REVOCATION_MIRROR_LISTED:
		helpdesk_describe(&rec, said, sizeof(said));
		note(dec, "%s (from this node's mirror, synchronised %lld s ago)", said, (long long)age);
		return 1;
	case REVOCATION_MIRROR_NOT_LISTED:
		note(dec, "not on the helpdesk list (this node's mirror, synchronised %lld s ago)",
		     (long long)age);
		return 0;
	default:
		note(dec, "%s", "no mirror of the helpdesk list on this node yet");
		return -1;
	}
}

/* The helpdesk's list: Redis's when it answers (the mirror told what it
 * said), else the mirror's. 1 revoked (dec filled), 0 not listed, -1 no
 * one can say. */
static int check_helpdesk(struct revocation *r, const struct cert_ref *ref, struct decision *dec)
{
	struct revocation_record live, mirrored;
	char err[sizeof(dec->detail)], said[sizeof(dec->detail)];
	enum helpdesk_answer answer = helpdesk_get(r->helpdesk, ref, &live, err, sizeof(err));
	bool listed = answer == HELPDESK_PRESENT;

	if (answer == HELPDESK_ERROR) {
		count(r, REVOCATION_REDIS_UNAVAILABLE);
		note(dec, "helpdesk list not consulted: %s", err);
		return check_mirror(r, ref, dec);
	}
	if (r->mirror != NULL && revocation_mirror_saw(r->mirror, ref, listed, &mirrored) && !listed) {
		/* Deleted from Redis without an unrevoke: a revocation is undone
		 * only by the helpdesk, so it stands (see revocation_mirror.h). */
		helpdesk_describe(&mirrored, said, sizeof(said));
		note(dec, "%s (kept by this node's mirror: gone from Redis without an unrevoke)", said);
		return 1;
	}
	if (listed) {
		helpdesk_describe(&live, said, sizeof(said));
		note(dec, "%s", said);
	}
	return listed ? 1 : 0;
}

static void check_cache(struct revocation *r, const struct cert_ref *ref, struct decision *dec,
                        struct learned *l)
{
	struct cached_status st;
	char err[256], when[32];

	switch (status_cache_get(r->cache, ref, &st, err, sizeof(err))) {
	case STATUS_CACHE_HIT:
		count(r, REVOCATION_CACHE_HITS);
		utc_time_format(st.learned, when, sizeof(when));
		note(dec, "%s by %s at %s (cached)", cert_status_name(st.status), st.source, when);
		set(l, st.status, "cache");
		break;
	case STATUS_CACHE_UNREACHABLE:
		count(r, REVOCATION_REDIS_UNAVAILABLE);
		note(dec, "status cache not consulted: %s", err);
		break;
	case STATUS_CACHE_MISS:
		break;
	}
}

static void check_ocsp(struct revocation *r, X509 *cert, X509 *issuer, const struct cert_ref *ref,
                       struct decision *dec, struct learned *l)
{
	static const enum cert_status from_ocsp[] = {
		[OCSP_CHECK_GOOD] = CERT_STATUS_GOOD,
		[OCSP_CHECK_REVOKED] = CERT_STATUS_REVOKED,
		[OCSP_CHECK_UNKNOWN] = CERT_STATUS_UNKNOWN,
	};
	struct ocsp_answer answer;
	struct cached_status st;
	enum ocsp_check_status status;
	char err[256];

	count(r, REVOCATION_OCSP_QUERIES);
	status = ocsp_check_query(r->ocsp, cert, issuer, &answer);
	note(dec, "%s", answer.detail);
	if (status == OCSP_CHECK_FAILED) {
		count(r, REVOCATION_OCSP_FAILURES);
		return;
	}
	set(l, from_ocsp[status], "ocsp");
	if (r->dry_run)
		return;
	st = (struct cached_status){ .status = from_ocsp[status], .learned = time(NULL) };
	snprintf(st.source, sizeof(st.source), "ocsp");
	if (status_cache_put(r->cache, ref, &st, answer.next_update, err, sizeof(err)) < 0) {
		count(r, REVOCATION_REDIS_UNAVAILABLE);
		note(dec, "status not cached: %s", err);
	}
}

/* The CRLs: a certificate they list is revoked whatever any other source
 * said (a cached status, written by whoever can write to Redis, cannot
 * override it). Otherwise they answer when no source did and they are the
 * only source, or the fallback the admin chose for a status OCSP could not
 * give. */
static void check_crl(struct revocation *r, X509 *cert, X509 *issuer, struct decision *dec,
                      struct learned *l)
{
	char detail[sizeof(dec->detail)];
	enum crl_status status = crl_store_check(r->crls, cert, issuer, detail, sizeof(detail));
	bool answers = (!l->known || l->status == CERT_STATUS_UNKNOWN) &&
	               (r->ocsp == NULL || r->s->unknown == REVOCATION_UNKNOWN_CRL);

	if (status == CRL_EXPIRED && r->s->ignore_expired_crl)
		status = CRL_GOOD;
	if (status == CRL_REVOKED) {
		if (l->known && l->status != CERT_STATUS_REVOKED)
			note(dec, "overruled by the CRL");
		note(dec, "%s", detail);
		set(l, CERT_STATUS_REVOKED, "crl");
		return;
	}
	if (!answers)
		return;
	if (status != CRL_GOOD && detail[0] != '\0')
		note(dec, "%s", detail);
	set(l, status == CRL_GOOD ? CERT_STATUS_GOOD : CERT_STATUS_UNKNOWN, "crl");
}

/* One certificate through every source and the unknown rule: POLICY_REASON_OK,
 * or the reason to refuse, or POLICY_REASON_NEEDS_OCSP (see revocation_check). */
static enum policy_reason check_one(struct revocation *r, X509 *cert, X509 *issuer,
                             enum revocation_ocsp ocsp, struct decision *dec)
{
	struct learned l = { 0 };
	struct cert_ref ref;
	bool have_ref;
	int listed = -1;

	have_ref = cert_ref_make(cert, issuer, NULL, &ref) == 0;
	if (have_ref && r->helpdesk != NULL) {
		listed = check_helpdesk(r, &ref, dec);
		if (listed != 0) {
			/* Listed; or neither Redis nor a mirror can say, and no
			 * other source may stand in for the helpdesk's word. */
			dec->revocation = cert_status_name(listed > 0 ? CERT_STATUS_REVOKED : CERT_STATUS_UNKNOWN);
			dec->revocation_source = listed > 0 ? "helpdesk" : NULL;
			return listed > 0 ? POLICY_REASON_REVOKED : POLICY_REASON_REVOCATION_UNKNOWN;
		}
	}
	if (have_ref && r->cache != NULL)
		check_cache(r, &ref, dec, &l);
	if (!l.known && have_ref && r->ocsp != NULL) {
		/* Only a responder that is not marked down is worth a trip to the
		 * OCSP threads; one that is counts as failing, at once. */
		if (ocsp == REVOCATION_OCSP_DEFER && !ocsp_check_responder_down(r->ocsp, cert))
			return POLICY_REASON_NEEDS_OCSP;
		if (ocsp == REVOCATION_OCSP_ASK) {
			check_ocsp(r, cert, issuer, &ref, dec, &l);
		} else {
			/* Not here: the one query that probes a responder marked down
			 * belongs on the OCSP threads. */
			count(r, REVOCATION_OCSP_FAILURES);
			note(dec, "%s", ocsp == REVOCATION_OCSP_SKIP
			                        ? "OCSP not asked: every OCSP thread is busy and their queue is full"
			                        : "OCSP not asked: the responder is marked down after timeouts");
		}
	}
	if (r->crls != NULL)
		check_crl(r, cert, issuer, dec, &l);
	/* Only the helpdesk's list is kept: it decides, when it could be read. */
	if (!l.known && !r->s->configured && listed == 0)
		set(&l, CERT_STATUS_GOOD, "helpdesk");
	dec->revocation = cert_status_name(l.known ? l.status : CERT_STATUS_UNKNOWN);
	dec->revocation_source = l.known ? l.source : NULL;
	if (l.known && l.status == CERT_STATUS_GOOD)
		return POLICY_REASON_OK;
	if (l.known && l.status == CERT_STATUS_REVOKED)
		return POLICY_REASON_REVOKED;
	if (r->s->unknown == REVOCATION_UNKNOWN_ACCEPT) {
		count(r, REVOCATION_SOFT_FAIL_ACCEPTS);
		note(dec, "%s", "status unknown: accepted (revocation.unknown = \"accept\")");
		return POLICY_REASON_OK;
	}
	return POLICY_REASON_REVOCATION_UNKNOWN;
}

enum policy_reason revocation_check(struct revocation *r, X509 *cert, X509 *issuer,
                                   STACK_OF(X509) *chain, enum revocation_ocsp ocsp,
                                   struct decision *dec)
{
	enum policy_reason refusal;

	if (!r->s->configured && r->helpdesk == NULL)
		return POLICY_REASON_OK;
	refusal = check_one(r, cert, issuer, ocsp, dec);
	/* The intermediates, each by its issuer; the root (last) is trusted as it is. */
	for (int i = 1; refusal == POLICY_REASON_OK && r->s->check_intermediates && i + 1 < sk_X509_num(chain);
	     i++) {
		X509 *ca = sk_X509_value(chain, i);
		size_t before = strlen(dec->detail);
		char name[256], *mine;

		refusal = check_one(r, ca, sk_X509_value(chain, i + 1), ocsp, dec);
		if (refusal == POLICY_REASON_OK || refusal == POLICY_REASON_NEEDS_OCSP ||
		    (mine = strdup(dec->detail + before)) == NULL)
			continue;
		/* Say which certificate of the chain it was. */
		cert_name_string(X509_get_subject_name(ca), name, sizeof(name));
		dec->detail[before] = '\0';
		note(dec, "intermediate CA %s: %s", name, mine + (mine[0] == ';' ? 2 : 0));
		free(mine);
	}
	return refusal;
}

void revocation_remember_identity(struct revocation *r, const char *identity, X509 *cert,
                                  X509 *issuer)
{
	struct cert_ref ref;

	if (r->helpdesk != NULL && !r->dry_run && cert_ref_make(cert, issuer, NULL, &ref) == 0)
		helpdesk_remember(r->helpdesk, identity, &ref);
}

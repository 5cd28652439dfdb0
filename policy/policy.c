#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cert_names.h"
#include "common/clock.h"
#include "policy/cert_identity.h"
#include "policy/ldap_directory.h"
#include "policy/rules.h"
#include "policy/static_groups.h"
#include "policy/status_cache.h"

/* Threads for decisions when OCSP is on and nothing asks for more: enough
 * that a slow responder delays a few authentications, not all of them. */
#define POLICY_OCSP_THREADS_PER_RESPONDER 8

struct policy {
	const struct policy_settings *settings;
	struct ldap_directory *directory;   /* NULL: static map */
	struct redis_pool *redis;           /* borrowed; NULL: no redis section */
	struct revocation *revocation;
};

struct policy *policy_new(const struct policy_settings *settings, struct redis_pool *redis,
                          const struct policy_options *opts, char *err, size_t errlen)
{
	static const struct policy_options serving = { 0 };
	struct policy *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->settings = settings;
	if (settings->ldap != NULL) {
		p->directory = ldap_directory_new(settings->ldap, err, errlen);
		if (p->directory == NULL)
			goto fail;
	}
	p->redis = redis;
	if (opts == NULL)
		opts = &serving;
	if (p->directory != NULL)
		ldap_directory_observe(p->directory, &opts->directory);
	p->revocation = revocation_new(&settings->revocation, p->redis, opts->mirror, opts->dry_run, err,
	                               errlen);
	if (p->revocation == NULL)
		goto fail;
	revocation_observe(p->revocation, &opts->ocsp, &opts->crl);
	return p;
fail:
	policy_free(p);
	return NULL;
}

int policy_reload(struct policy *p, char *err, size_t errlen)
{
	return revocation_reload(p->revocation, err, errlen);
}

int policy_reload_changed(struct policy *p, char *err, size_t errlen)
{
	return revocation_reload_changed(p->revocation, err, errlen);
}

enum policy_reason policy_revocation_refusal(struct policy *p, X509 *cert, X509 *issuer,
                                             STACK_OF(X509) *chain, enum revocation_ocsp ocsp,
                                             struct decision *dec)
{
	return revocation_check(p->revocation, cert, issuer, chain, ocsp, dec);
}

unsigned long long policy_revocation_counter(const struct policy *p, enum revocation_counter c)
{
	return revocation_counter(p->revocation, c);
}

void policy_helpdesk_figures(const struct policy *p, struct revocation_mirror_figures *out)
{
	revocation_mirror_figures_of(p->revocation, out);
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	ldap_directory_free(p->directory);
	revocation_free(p->revocation);
	free(p);
}

unsigned policy_backend_threads(const struct policy *p, enum policy_backend b)
{
	switch (b) {
	case POLICY_BACKEND_REDIS:
		return p->redis != NULL ? redis_pool_connections(p->redis) : 0;
	case POLICY_BACKEND_OCSP:
		/* Queries hold a thread each while they wait on the responder. */
		return p->settings->revocation.ocsp != NULL ? POLICY_OCSP_THREADS_PER_RESPONDER : 0;
	case POLICY_BACKEND_DIRECTORY:
		return p->directory != NULL ? p->settings->ldap->connections : 0;
	default:
		return 0;
	}
}

enum policy_backend policy_step_backend(const struct policy *p, enum policy_step step)
{
	switch (step) {
	case POLICY_STEP_REVOCATION:
		return revocation_blocks(p->revocation) ? POLICY_BACKEND_REDIS : POLICY_BACKEND_NONE;
	case POLICY_STEP_OCSP:
		return POLICY_BACKEND_OCSP;
	case POLICY_STEP_PLACEMENT:
		/* Placement remembers the device's identity in Redis, too. */
		return p->directory != NULL ? POLICY_BACKEND_DIRECTORY
		       : p->redis != NULL   ? POLICY_BACKEND_REDIS : POLICY_BACKEND_NONE;
	default:
		return POLICY_BACKEND_NONE;
	}
}

bool policy_backend_down(const struct policy *p, enum policy_backend b)
{
	switch (b) {
	case POLICY_BACKEND_REDIS:
		return p->redis != NULL && redis_pool_down(p->redis);
	case POLICY_BACKEND_DIRECTORY:
		return p->directory != NULL && ldap_directory_down(p->directory);
	default:
		/* OCSP: revocation_check asks only responders that are not down. */
		return false;
	}
}

bool policy_ocsp_responder_down(const struct policy *p, unsigned slot)
{
	return revocation_ocsp_slot_down(p->revocation, slot);
}

int64_t policy_crl_next_update(const struct policy *p, size_t file)
{
	return revocation_crl_next_update(p->revocation, file);
}

unsigned policy_ocsp_responder(struct policy *p, X509 *cert)
{
	return revocation_ocsp_responder(p->revocation, cert);
}

/* Ends with the configured fallback: reject with `reason`, or the quarantine
 * VLAN (reason "quarantine", the original reason's code kept in detail). */
static void fall_back(const struct policy *p, enum policy_fallback fallback, enum policy_reason reason,
                      struct decision *dec, struct policy_result *out)
{
	if (fallback == POLICY_QUARANTINE) {
		char why[sizeof(dec->detail)];

		snprintf(why, sizeof(why), "%s%s%.200s", policy_reason_code(reason), dec->detail[0] ? ": " : "",
		         dec->detail);
		snprintf(dec->detail, sizeof(dec->detail), "%s", why);
		dec->accept = out->accept = true;
		dec->reason = POLICY_REASON_QUARANTINE;
		dec->vlan = out->vlan = p->settings->quarantine_vlan;
		return;
	}
	dec->accept = out->accept = false;
	dec->reason = reason;
}

/* Fills dec->dn and dec->groups. Returns 1 known device, 0 unknown, -1 directory
 * unavailable (or busy: every directory thread taken and their queue full; the
 * static map needs no thread). */
static int find_groups(struct policy *p, bool busy, struct decision *dec)
{
	struct ldap_lookup_result res = { 0 };
	struct timespec t0;
	int rc;

	if (busy && p->directory != NULL) {
		snprintf(dec->detail, sizeof(dec->detail), "directory not asked: every directory thread "
		         "is busy and their queue is full");
		return -1;
	}
	if (p->directory == NULL) {
		rc = static_groups_lookup(p->settings->static_groups, p->settings->n_static_groups,
		                          dec->cert_identity, &dec->groups, &dec->n_groups);
		if (rc < 0) {
			snprintf(dec->detail, sizeof(dec->detail), "out of memory");
			return -1;
		}
		return rc > 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	switch (ldap_directory_lookup(p->directory, dec->cert_identity, &res, dec->detail,
	                              sizeof(dec->detail))) {
	case LDAP_LOOKUP_FOUND:
		/* The result's allocations move into the record. */
		dec->dn = res.dn;
		dec->groups = res.groups;
		dec->n_groups = res.n_groups;
		dec->directory_cached = res.from_cache;
		rc = 1;
		break;
	case LDAP_LOOKUP_NOT_FOUND:
		rc = 0;
		break;
	default:
		rc = -1;
		break;
	}
	dec->directory_ms = (unsigned)clock_ms_since(&t0);
	return rc;
}

/* The revocation steps: the next step, or DONE with the refusal in dec. */
static enum policy_step check_revocation(struct policy *p, const struct policy_request *req,
                                         enum policy_step step, bool busy, struct decision *dec,
                                         struct policy_result *out)
{
	enum revocation_ocsp ocsp = step == POLICY_STEP_REVOCATION ? REVOCATION_OCSP_DEFER
	                            : busy ? REVOCATION_OCSP_SKIP : REVOCATION_OCSP_ASK;
	enum policy_reason refusal;

	memset(out, 0, sizeof(*out));
	dec->detail[0] = '\0';
	if (step == POLICY_STEP_REVOCATION && busy) {
		/* Not even the helpdesk's list was read: nothing may go on. */
		snprintf(dec->detail, sizeof(dec->detail), "revocation not checked: every Redis thread "
		         "is busy and their queue is full");
		dec->revocation = cert_status_name(CERT_STATUS_UNKNOWN);
		fall_back(p, POLICY_REJECT, POLICY_REASON_REVOCATION_UNKNOWN, dec, out);
		return POLICY_STEP_DONE;
	}
	refusal = revocation_check(p->revocation, req->cert, req->issuer, req->chain, ocsp, dec);
	if (refusal == POLICY_REASON_NEEDS_OCSP)
		return POLICY_STEP_OCSP;
	if (refusal != POLICY_REASON_OK) {
		fall_back(p, POLICY_REJECT, refusal, dec, out);
		return POLICY_STEP_DONE;
	}
	return POLICY_STEP_PLACEMENT;
}

/* Identity, directory and rules, for a certificate that is not revoked. */
static void place(struct policy *p, const struct policy_request *req, bool busy,
                  struct decision *dec, struct policy_result *out)
{
	const struct policy_settings *s = p->settings;
	enum identity_source used = IDENTITY_SUBJECT_CN;
	char issuer[512];
	struct rule_input in;
	int known, rule;

	switch (cert_identity(req->cert, s->sources, s->n_sources, dec->cert_identity,
	                      sizeof(dec->cert_identity), &used)) {
	case CERT_IDENTITY_NONE:
		if (!s->placement && !s->match_eap_identity) {
			dec->accept = out->accept = true;
			dec->reason = POLICY_REASON_OK;
			return;
		}
		snprintf(dec->detail, sizeof(dec->detail), "no configured identity source holds a value");
		fall_back(p, POLICY_REJECT, POLICY_REASON_NO_IDENTITY, dec, out);
		return;
	case CERT_IDENTITY_INVALID:
		snprintf(dec->detail, sizeof(dec->detail), "%s is unfit as an identity: %.200s",
		         identity_source_name(used), dec->cert_identity);
		dec->cert_identity[0] = '\0';
		fall_back(p, POLICY_REJECT, POLICY_REASON_IDENTITY_INVALID, dec, out);
		return;
	case CERT_IDENTITY_FOUND:
		dec->identity_source = identity_source_name(used);
		/* Best effort, and not where its backend could not take the step. */
		if (!busy)
			revocation_remember_identity(p->revocation, dec->cert_identity, req->cert, req->issuer);
		break;
	}
	if (s->match_eap_identity && !cert_identity_matches_eap(dec->cert_identity, req->eap_identity)) {
		snprintf(dec->detail, sizeof(dec->detail), "EAP identity does not name the certificate's %s",
		         identity_source_name(used));
		fall_back(p, POLICY_REJECT, POLICY_REASON_IDENTITY_MISMATCH, dec, out);
		return;
	}
	if (!s->placement) {
		dec->accept = out->accept = true;
		dec->reason = POLICY_REASON_OK;
		return;
	}
	known = find_groups(p, busy, dec);
	if (known < 0) {
		fall_back(p, s->directory_unavailable, POLICY_REASON_DIRECTORY_UNAVAILABLE, dec, out);
		return;
	}
	if (known == 0) {
		fall_back(p, s->no_match, POLICY_REASON_UNKNOWN_DEVICE, dec, out);
		return;
	}
	cert_name_string(X509_get_issuer_name(req->cert), issuer, sizeof(issuer));
	in = (struct rule_input){
		.groups = dec->groups,
		.n_groups = dec->n_groups,
		.nas = req->nas,
		.nas_port_type = req->nas_port_type,
		.ssid = req->ssid,
		.issuer_dn = issuer,
	};
	rule = rules_first_match(s->rules, s->n_rules, &in);
	if (rule < 0) {
		snprintf(dec->detail, sizeof(dec->detail), "%zu group(s), none matched by a rule",
		         dec->n_groups);
		fall_back(p, s->no_match, POLICY_REASON_NO_MATCHING_RULE, dec, out);
		return;
	}
	dec->rule_index = rule;
	dec->rule_name = s->rules[rule].name;
	dec->vlan = out->vlan = s->rules[rule].vlan;
	out->rule = &s->rules[rule];
	dec->accept = out->accept = true;
	dec->reason = POLICY_REASON_OK;
}

enum policy_step policy_decide_step(struct policy *p, const struct policy_request *req,
                                    enum policy_step step, bool backend_busy, struct decision *dec,
                                    struct policy_result *out)
{
	switch (step) {
	case POLICY_STEP_REVOCATION:
	case POLICY_STEP_OCSP:
		return check_revocation(p, req, step, backend_busy, dec, out);
	case POLICY_STEP_PLACEMENT:
		place(p, req, backend_busy, dec, out);
		return POLICY_STEP_DONE;
	default:
		return POLICY_STEP_DONE;
	}
}

void policy_decide(struct policy *p, const struct policy_request *req, struct decision *dec,
                   struct policy_result *out)
{
	enum policy_step step = POLICY_STEP_REVOCATION;

	while (step != POLICY_STEP_DONE)
		step = policy_decide_step(p, req, step, false, dec, out);
}

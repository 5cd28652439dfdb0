/*
 * Least-privilege placement: after the certificate is verified, who is the
 * device, which groups is it in (directory or static map), and which rule —
 * the first that matches — says where it goes. Anything not explicitly
 * allowed gets the configured fallback: reject, or the quarantine VLAN.
 */
#ifndef AUTHD_POLICY_H
#define AUTHD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "policy/decision.h"
#include "policy/ocsp_check.h"
#include "policy/policy_reason.h"
#include "policy/policy_settings.h"
#include "policy/revocation.h"

struct policy;

/* What a policy may do besides deciding. */
struct policy_options {
	bool dry_run;               /* writes nothing anywhere (authd --explain, -C) */
	/* The helpdesk list's mirror (revocation_mirror_new), borrowed: it
	 * outlives the policies a reload replaces. NULL: none (a dry run, or
	 * no Redis): a device is refused whenever Redis cannot say. */
	struct revocation_mirror *mirror;
	/* Where the directory's, the OCSP client's and the CRL store's calls
	 * are reported (see ldap_directory_observe, ocsp_check_observe,
	 * crl_store_observe); all zero: nowhere. */
	struct backend_observer directory, ocsp, crl;
};

/* Borrows settings and redis (the shared state: helpdesk list, status
 * cache; NULL: none), which must outlive the policy; opts NULL: serving, no
 * log. NULL with err on failure. */
struct policy *policy_new(const struct policy_settings *settings, struct redis_pool *redis,
                          const struct policy_options *opts, char *err, size_t errlen);
void policy_free(struct policy *p);

/* The revocation check alone (see revocation_check), e.g. before a device
 * may resume a session. POLICY_REASON_OK, the reason to refuse it, or (with
 * REVOCATION_OCSP_DEFER) POLICY_REASON_NEEDS_OCSP. */
enum policy_reason policy_revocation_refusal(struct policy *p, X509 *cert, X509 *issuer,
                                             STACK_OF(X509) *chain, enum revocation_ocsp ocsp,
                                             struct decision *dec);

/* Counters of the revocation checks. */
unsigned long long policy_revocation_counter(const struct policy *p, enum revocation_counter c);
/* What this node's mirror of the helpdesk list applied and holds. Lock-free. */
void policy_helpdesk_figures(const struct policy *p, struct revocation_mirror_figures *out);

/* Re-reads what can change on disk (CRLs); keeps the old state on error.
 * 0, or -1 with err. */
int policy_reload(struct policy *p, char *err, size_t errlen);
/* The same, only for files changed since they were read: 1 reloaded, 0 nothing
 * changed, -1 a changed file is broken (err). Cheap: call it every second. */
int policy_reload_changed(struct policy *p, char *err, size_t errlen);

/*
 * The backends a decision may wait on. Each gets threads of its own from the
 * caller, so that one slow backend holds up only what needs it: a device
 * whose status is cached never queues behind devices waiting on a silent
 * OCSP responder, and accounting never waits on the directory.
 */
enum policy_backend {
	POLICY_BACKEND_NONE,        /* nothing that blocks: run it where you are */
	POLICY_BACKEND_REDIS,       /* the helpdesk list, the shared status cache */
	POLICY_BACKEND_OCSP,
	POLICY_BACKEND_DIRECTORY,   /* LDAP */
	POLICY_BACKEND_COUNT
};

/* How many threads should serve backend b: as many as it takes requests in
 * parallel (0 when this config never waits on it). For OCSP: per responder. */
unsigned policy_backend_threads(const struct policy *p, enum policy_backend b);
/* OCSP responders are backends of their own: a responder that is slow but
 * alive (under its breaker's radar) must hold up only the devices it is
 * asked about. Which one a check of cert would ask: below
 * POLICY_OCSP_RESPONDERS, the same for every certificate naming it. */
#define POLICY_OCSP_RESPONDERS OCSP_CHECK_RESPONDERS
unsigned policy_ocsp_responder(struct policy *p, X509 *cert);
/* True while the OCSP responder in slot (below POLICY_OCSP_RESPONDERS) is
 * marked down. Lock-free: for metrics. */
bool policy_ocsp_responder_down(const struct policy *p, unsigned slot);
/* The nextUpdate of the CRL in force from the settings' crl_files[file], in
 * seconds since the Unix epoch; 0 when it has none. Lock-free: for metrics. */
int64_t policy_crl_next_update(const struct policy *p, size_t file);

struct policy_request {
	X509 *cert;                 /* the verified device certificate */
	X509 *issuer;               /* its issuer from the verified chain, NULL if unknown */
	STACK_OF(X509) *chain;      /* the verified chain, leaf first; NULL if unknown */
	const char *eap_identity;
	const char *nas;            /* client name */
	unsigned nas_port_type;     /* 0 = not sent */
	const char *ssid;           /* NULL = not sent */
};

struct policy_result {
	bool accept;
	const char *vlan;                 /* NULL = no VLAN attributes */
	const struct policy_rule *rule;   /* the matching rule (for its extra attributes), or NULL */
};

/*
 * A decision runs in steps, each waiting on at most one backend. Revocation
 * comes first: a revoked certificate is refused whatever the rules say.
 */
enum policy_step {
	POLICY_STEP_REVOCATION,     /* helpdesk list, cached status, CRLs */
	POLICY_STEP_OCSP,           /* the same, asking OCSP what nothing else could say */
	POLICY_STEP_PLACEMENT,      /* identity, directory, rules */
	POLICY_STEP_DONE,
};

/* The backend step waits on; NONE when it never blocks. */
enum policy_backend policy_step_backend(const struct policy *p, enum policy_step step);
/* True while backend b is marked down (see common/breaker.h): its calls fail
 * at once, so a thread of another backend may take a step that needs it on
 * its way instead of queueing. A TLS worker still hands it over: the one
 * call that probes whether the backend is back may wait its timeout. */
bool policy_backend_down(const struct policy *p, enum policy_backend b);

/*
 * Runs one step and returns the next; start at POLICY_STEP_REVOCATION. At
 * POLICY_STEP_DONE the policy fields of dec (accept, reason, detail,
 * revocation, cert_identity, dn, groups, rule, vlan, directory timings) and
 * *out are final. backend_busy: the step's backend cannot take it (its queue
 * is full), so the step ends as if the backend had failed, through the
 * configured fallback (revocation.unknown for OCSP, directory_unavailable
 * for the directory; a revocation check that could not even reach the
 * helpdesk list refuses). Thread-safe.
 */
enum policy_step policy_decide_step(struct policy *p, const struct policy_request *req,
                                    enum policy_step step, bool backend_busy, struct decision *dec,
                                    struct policy_result *out);

/* Every step in a row, where the caller is (authd --explain, tests). */
void policy_decide(struct policy *p, const struct policy_request *req, struct decision *dec,
                   struct policy_result *out);

#endif

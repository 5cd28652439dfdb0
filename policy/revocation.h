/*
 * Is the device certificate revoked? Sources in order: the helpdesk's list
 * (Redis, or this node's mirror of it when Redis cannot answer), the cached
 * status (Redis, or in process), OCSP, the issuer's CRL. What OCSP says is
 * cached until its nextUpdate (capped), so one query per certificate serves
 * every node. A local CRL that lists the certificate wins over any other
 * answer. When no source can say, the configured rule decides: reject, ask
 * the CRL, or accept (soft fail, logged); but with the helpdesk's list
 * unreadable and no mirror of it yet, the certificate is refused whatever
 * the rule.
 */
#ifndef AUTHD_REVOCATION_H
#define AUTHD_REVOCATION_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/backend_observer.h"
#include "common/redis_pool.h"
#include "policy/decision.h"
#include "policy/revocation_mirror.h"
#include "policy/revocation_settings.h"

/* Counted for the metrics and the shutdown summary. */
enum revocation_counter {
	REVOCATION_CACHE_HITS,
	REVOCATION_OCSP_QUERIES,
	REVOCATION_OCSP_FAILURES,
	REVOCATION_REDIS_UNAVAILABLE,
	REVOCATION_SOFT_FAIL_ACCEPTS,
	REVOCATION_COUNTER_COUNT
};

struct revocation;

/*
 * Borrows settings, redis (NULL: no helpdesk list, the cache in process) and
 * mirror (the helpdesk list's, consulted when Redis cannot answer; NULL:
 * none, so a device is refused whenever Redis cannot say). dry_run: writes
 * nothing anywhere (no status cached, no identity remembered), for
 * `authd --explain` and `authd -C`.
 */
struct revocation *revocation_new(const struct revocation_settings *settings, struct redis_pool *redis,
                                  struct revocation_mirror *mirror, bool dry_run, char *err, size_t errlen);
void revocation_free(struct revocation *r);

/* CRL files: see crl_store_reload and crl_store_reload_if_changed. */
int revocation_reload(struct revocation *r, char *err, size_t errlen);
int revocation_reload_changed(struct revocation *r, char *err, size_t errlen);

/* True when a check may wait on Redis (the helpdesk list, the shared cache). */
bool revocation_blocks(const struct revocation *r);
/* Which OCSP responder a check of cert would ask (see ocsp_check_responder). */
unsigned revocation_ocsp_responder(struct revocation *r, X509 *cert);
/* The OCSP client's and the CRL store's calls go to ocsp and crl (see
 * ocsp_check_observe, crl_store_observe), where there are such. Before r is shared. */
void revocation_observe(struct revocation *r, const struct backend_observer *ocsp,
                        const struct backend_observer *crl);
/* See ocsp_check_slot_down (false without OCSP) and crl_store_next_update
 * (file below settings->n_crl_files). Lock-free. */
bool revocation_ocsp_slot_down(const struct revocation *r, unsigned slot);
int64_t revocation_crl_next_update(const struct revocation *r, size_t file);

/* Whether a check may ask OCSP. */
enum revocation_ocsp {
	REVOCATION_OCSP_ASK,        /* yes, and wait for the answer */
	REVOCATION_OCSP_DEFER,      /* no: stop with POLICY_REASON_NEEDS_OCSP where only OCSP can say */
	REVOCATION_OCSP_SKIP,       /* no: every OCSP thread is taken, count it as OCSP failing */
};

/*
 * Checks cert (issued by issuer, NULL when the chain had none) and, with
 * check_intermediates, every CA of the verified chain (leaf first) below its
 * root. Fills dec->revocation, dec->revocation_source (the source that gave
 * the status; NULL when none did) and, on anything worth knowing,
 * dec->detail. Returns POLICY_REASON_OK when the certificate may go on, else
 * the reason to refuse it (POLICY_REASON_REVOKED or
 * POLICY_REASON_REVOCATION_UNKNOWN). With
 * REVOCATION_OCSP_DEFER it stops with POLICY_REASON_NEEDS_OCSP where only a live
 * responder could answer, so the caller can run the check again where
 * waiting on OCSP holds up nobody else (dec->detail is then to be cleared).
 * Thread-safe.
 */
enum policy_reason revocation_check(struct revocation *r, X509 *cert, X509 *issuer,
                                   STACK_OF(X509) *chain, enum revocation_ocsp ocsp,
                                   struct decision *dec);

/* So that the helpdesk can later revoke the device by name. Best effort. */
void revocation_remember_identity(struct revocation *r, const char *identity, X509 *cert,
                                  X509 *issuer);

unsigned long long revocation_counter(const struct revocation *r, enum revocation_counter c);
/* The figures of this node's mirror of the helpdesk list (zero without
 * one). Lock-free. */
void revocation_mirror_figures_of(const struct revocation *r, struct revocation_mirror_figures *out);
const char *revocation_counter_name(enum revocation_counter c);   /* e.g. "ocsp_queries" */

#endif

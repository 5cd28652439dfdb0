/*
 * Certificate revocation lists from files: loaded and checked (signed by a
 * trusted issuer) at startup, looked up per authentication, reloaded when a
 * file changes on disk or on request (SIGHUP) without stopping lookups.
 */
#ifndef AUTHD_CRL_STORE_H
#define AUTHD_CRL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/backend_observer.h"

enum crl_status {
	CRL_GOOD,       /* a current CRL of the issuer does not list the serial */
	CRL_REVOKED,    /* listed */
	CRL_EXPIRED,    /* the issuer's CRL is past its nextUpdate (and does not list it) */
	CRL_UNKNOWN,    /* no CRL of that issuer is loaded */
};

struct crl_store;

/*
 * Loads every file (PEM or DER); each CRL must be signed by a certificate in
 * ca_file (the trusted device issuers). NULL with err ("file: what") on failure.
 */
struct crl_store *crl_store_new(const char *const *files, size_t n_files, const char *ca_file,
                                char *err, size_t errlen);
void crl_store_free(struct crl_store *s);
/* From now on every lookup a file's CRL answered (good, revoked or past its
 * nextUpdate) is reported to o as ok, and every reload that failed on a
 * file as an error of that file (target: the file's index in files; o is
 * copied). Call it before s is shared. */
void crl_store_observe(struct crl_store *s, const struct backend_observer *o);
/* The nextUpdate of the CRL in force from files[file], in seconds since the
 * Unix epoch; 0 when it has none. Lock-free: for metrics. */
int64_t crl_store_next_update(const struct crl_store *s, size_t file);

/* Re-reads all files; on any error keeps the CRLs it had. 0, or -1 with err. */
int crl_store_reload(struct crl_store *s, char *err, size_t errlen);
/* Reloads if a file changed on disk since the last load: 1 reloaded, 0
 * unchanged, -1 the changed file is broken (err; the CRLs in force stay, and
 * that version of the file is not tried again). */
int crl_store_reload_if_changed(struct crl_store *s, char *err, size_t errlen);

/* Status of cert, issued by issuer. Thread-safe. detail says which CRL answered. */
enum crl_status crl_store_check(struct crl_store *s, X509 *cert, X509 *issuer,
                                char *detail, size_t detaillen);

/*
 * The pure part of loading (a fuzz target): one CRL from bytes (PEM or DER;
 * the file's whole content) whose signature a certificate in cas verifies,
 * that certificate in *signer when signer is not NULL (caller frees both).
 * NULL with err when the bytes hold no CRL or no CA in cas signed it.
 */
X509_CRL *crl_store_parse(const unsigned char *bytes, size_t len, STACK_OF(X509) *cas,
                          X509 **signer, char *err, size_t errlen);

/* One CRL file (PEM or DER) that a CA in ca_file signed, for authctl
 * import-crl; *signer gets that CA. Both are the caller's to free. NULL with
 * err when unreadable or not signed by a trusted CA. */
X509_CRL *crl_store_read_file(const char *path, const char *ca_file, X509 **signer, char *err,
                              size_t errlen);

#endif

/*
 * The "revocation" section as the config fills it: apart from revocation.h
 * so that a holder of the settings needs nothing else of the module.
 */
#ifndef AUTHD_REVOCATION_SETTINGS_H
#define AUTHD_REVOCATION_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

struct ocsp_settings;

/* When the status cannot be learned. */
enum revocation_unknown { REVOCATION_UNKNOWN_REJECT, REVOCATION_UNKNOWN_CRL, REVOCATION_UNKNOWN_ACCEPT };

/* The "revocation" section. */
struct revocation_settings {
	bool configured;            /* the section is present */
	char **crl_files;           /* may be none when OCSP serves */
	size_t n_crl_files;
	char *ca_file;              /* the trusted issuers: CRL and OCSP response signers */
	bool ignore_expired_crl;    /* use a CRL past its nextUpdate as if current */
	enum revocation_unknown unknown;
	bool check_intermediates;   /* also the CAs between the device and the root */
	struct ocsp_settings *ocsp; /* NULL: no OCSP */
	unsigned cache_max_ttl;     /* seconds a learned status is kept at most */
	int line;                   /* where the section starts, for load errors */
};

#endif

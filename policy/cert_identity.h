/*
 * Who a device is, read from its certificate: the first configured source
 * that holds a value (subject CN, SAN dNSName, SAN UPN, SAN rfc822Name, or
 * the serial). The value feeds directory filters and rules, so it is checked
 * here: no embedded NUL, no control characters, bounded length.
 */
#ifndef AUTHD_CERT_IDENTITY_H
#define AUTHD_CERT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

enum identity_source {
	IDENTITY_SUBJECT_CN,
	IDENTITY_SAN_DNS,
	IDENTITY_SAN_UPN,
	IDENTITY_SAN_EMAIL,
	IDENTITY_SERIAL,
	IDENTITY_SOURCE_COUNT
};

/* "subject_cn", "san_dns", "san_upn", "san_email", "serial". */
const char *identity_source_name(enum identity_source source);
int identity_source_parse(const char *name, enum identity_source *out);

enum cert_identity_status {
	CERT_IDENTITY_FOUND,
	CERT_IDENTITY_NONE,      /* no configured source holds a value */
	CERT_IDENTITY_INVALID,   /* the first value found is unfit (NUL, control bytes, too long) */
};

/*
 * Tries sources in order; on FOUND writes the value to out and the source to
 * *used. On INVALID, out holds a printable description of the bad value.
 */
enum cert_identity_status cert_identity(X509 *cert, const enum identity_source *sources,
                                        size_t n_sources, char *out, size_t outlen,
                                        enum identity_source *used);

/* The EAP identity names the same device: equal, or "host/" + identity
 * (Windows machine accounts); case-insensitive, as DNS names are. */
bool cert_identity_matches_eap(const char *identity, const char *eap_identity);

#endif

/*
 * How authd names one certificate in everything it shares between nodes
 * (revocations, cached status, live sessions): the SHA-1 of the issuer's
 * public key, as OCSP has it, and the serial. Two CAs with one name cannot
 * collide, and the helpdesk can name a certificate it does not hold.
 */
#ifndef COMMON_CERT_REF_H
#define COMMON_CERT_REF_H

#include <stddef.h>

#include <openssl/x509.h>

struct cert_ref {
	char issuer_key_hash[41];   /* hex, lower case */
	char serial[81];            /* hex, upper case, no leading zeros (BN_bn2hex) */
};

/* From a certificate, or (cert NULL) from a serial typed by hand: any case,
 * colons, leading zeros. 0, or -1 when the issuer's key cannot be hashed or
 * the serial is not hex. */
int cert_ref_make(X509 *cert_or_null, X509 *issuer, const char *serial_hex, struct cert_ref *out);

/* "issuerkeyhash:SERIAL", the suffix of every Redis key about the certificate. */
void cert_ref_string(const struct cert_ref *ref, char *out, size_t len);
/* The reverse; 0, or -1 when text is not of that form. */
int cert_ref_parse(const char *text, struct cert_ref *out);

#endif

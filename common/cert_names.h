/*
 * Human- and log-friendly renderings of certificate fields. Every output is a
 * NUL-terminated string, truncated to the buffer; certificate content is
 * attacker-controlled, so nothing here trusts its lengths or characters.
 */
#ifndef COMMON_CERT_NAMES_H
#define COMMON_CERT_NAMES_H

#include <stddef.h>

#include <openssl/x509.h>

/* RFC 2253 form, e.g. "CN=laptop-0001,O=Example". "" on error. */
void cert_name_string(const X509_NAME *name, char *out, size_t outlen);
/* The same in printable ASCII, whatever the name holds: bytes outside
 * ASCII as RFC 2253 \XX escapes (of their UTF-8), anything else unprintable
 * as '?'. For labels and other text that must stay ASCII. */
void cert_name_ascii(const X509_NAME *name, char *out, size_t outlen);
/* Serial as upper-case hex without separators. "" on error. */
void cert_serial_hex(const X509 *cert, char *out, size_t outlen);

/* Subject alternative names as "DNS:x", "email:x", "URI:x", "IP:x", "UPN:x". */
typedef void (*cert_san_fn)(const char *san, void *arg);
void cert_for_each_san(const X509 *cert, cert_san_fn fn, void *arg);

#endif

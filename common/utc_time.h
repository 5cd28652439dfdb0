/*
 * Times as the logs, audit records and details write them: ISO 8601 in
 * UTC to the second, e.g. "2026-11-27T10:00:00Z".
 */
#ifndef COMMON_UTC_TIME_H
#define COMMON_UTC_TIME_H

#include <stddef.h>
#include <time.h>

#include <openssl/asn1.h>

/* At least 21 bytes of out; "?" when t cannot be represented. */
void utc_time_format(time_t t, char *out, size_t len);

/* A certificate's, CRL's or OCSP response's time (UTCTime or
 * GeneralizedTime) as a time_t. 0, or -1 when t is NULL or malformed. */
int utc_time_from_asn1(const ASN1_TIME *t, time_t *out);

#endif

/*
 * The Class attribute authd puts in an Access-Accept (RFC 2865 5.25) so that
 * the NAS's accounting names the certificate of the session:
 *   RADIUS_AUTHD_CLASS_PREFIX "ISSUERKEYHASH:SERIAL:TAG"
 * TAG is a MAC under the node key (common/seal.h) over the name of the
 * client it was issued to and the certificate reference. Accounting carrying
 * a Class that does not verify for the NAS sending it names no session: a
 * Class copied from one NAS, or made up, cannot create live sessions under a
 * certificate.
 */
#ifndef AUTHD_SESSION_CLASS_H
#define AUTHD_SESSION_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "common/cert_ref.h"
#include "common/seal.h"

/* Longest value made, prefix included (well under a RADIUS attribute). */
#define SESSION_CLASS_MAX 180

/*
 * The general form, also for the live-session table's station index: ref as
 * "ISSUERKEYHASH:SERIAL:TAG", TAG a MAC for purpose (a short constant) over
 * binding (what the value belongs to: a client name, a Redis key) and ref.
 * bind: its length in out, or -1. verify: 0 with *ref set when value is
 * such a reference bound to binding under a key the node lists, else -1.
 */
int session_class_ref_bind(const struct seal *seal, const char *purpose, const char *binding,
                           const struct cert_ref *ref, char *out, size_t outlen);
int session_class_ref_verify(const struct seal *seal, const char *purpose, const char *binding,
                             const uint8_t *value, size_t len, struct cert_ref *ref);

/* The Class for ref issued to the client named nas, NUL-terminated in out
 * (at least SESSION_CLASS_MAX + 1 bytes). Its length, or -1. */
int session_class_make(const struct seal *seal, const char *nas, const struct cert_ref *ref,
                       char *out, size_t outlen);

/*
 * Takes apart the bytes after the prefix, as radius_request_decode() found
 * them (hostile: any bytes). A pure function (the fuzz target). 0 with *ref
 * and *tag (into value, *taglen bytes) set, or -1 when value is not
 * "ISSUERKEYHASH:SERIAL:TAG".
 */
int session_class_parse(const uint8_t *value, size_t len, struct cert_ref *ref, const uint8_t **tag,
                        size_t *taglen);

/* 0 with *ref set when value is a Class issued to nas under a key the node
 * lists; -1 otherwise (malformed, or its MAC does not verify for nas). */
int session_class_verify(const struct seal *seal, const char *nas, const uint8_t *value, size_t len,
                         struct cert_ref *ref);

#endif

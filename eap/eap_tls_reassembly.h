/*
 * Reassembly of one fragmented TLS message from EAP-TLS responses
 * (RFC 5216 section 2.1.5), under a byte limit of the caller's (one flight
 * of the peer: see EAP_TLS_FLIGHT_ALLOWANCE) and EAP_TLS_MAX_FRAGMENTS fragments.
 */
#ifndef AUTHD_EAP_TLS_REASSEMBLY_H
#define AUTHD_EAP_TLS_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>

#include "eap/eap_packet.h"

/* Embedded in the conversation; zero-initialised means idle. */
struct eap_tls_reassembly {
	unsigned char *buf;   /* grows with what arrived, never beyond declared */
	size_t cap;
	size_t declared;      /* L field of the first fragment */
	size_t received;
	unsigned fragments;
	bool active;          /* a fragment with M arrived and the message is not complete */
};

enum eap_tls_reassembly_status {
	EAP_TLS_REASSEMBLY_ERROR = -1,  /* err says why; the state is reset */
	EAP_TLS_REASSEMBLY_MORE,        /* acknowledge and wait for the next fragment */
	EAP_TLS_REASSEMBLY_DONE,        /* *msg and *msglen hold the complete message */
};

/*
 * Adds one frame of a message of at most max_message bytes. On DONE, *msg points either into the frame (unfragmented
 * message, no copy) or into the reassembly buffer; it stays valid until the
 * next add or reset. The caller resets after consuming the message.
 */
enum eap_tls_reassembly_status eap_tls_reassembly_add(struct eap_tls_reassembly *r,
                                                      const struct eap_tls_frame *frame,
                                                      size_t max_message,
                                                      const uint8_t **msg, size_t *msglen,
                                                      char *err, size_t errlen);

/* Frees the buffer (it may hold key exchange data, so it is wiped) and goes idle. */
void eap_tls_reassembly_reset(struct eap_tls_reassembly *r);

#endif

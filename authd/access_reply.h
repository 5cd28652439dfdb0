/*
 * The replies to an Access-Request, built from the decoded request and what
 * the conversation and the policy came to: Access-Challenge, Access-Accept
 * (keys, placement), Access-Reject. Building only: nothing here decides,
 * logs or sends.
 */
#ifndef AUTHD_ACCESS_REPLY_H
#define AUTHD_ACCESS_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "authd/radius.h"

struct policy_result;

/* An Access-Reject carrying the EAP-Failure eap (NULL: none) and message as
 * Reply-Message. NULL on ENOMEM. */
struct radius_reply *access_reply_reject(struct radius_request *req, const uint8_t *eap, size_t eap_len,
                                         const char *message);

/* An Access-Challenge carrying the EAP packet and the conversation's State.
 * NULL on ENOMEM. */
struct radius_reply *access_reply_challenge(struct radius_request *req, const uint8_t *eap, size_t eap_len,
                                            const uint8_t *state, size_t state_len);

/* What an Access-Accept carries; everything borrowed for the call. */
struct access_reply_accept {
	const uint8_t *eap;                     /* the EAP-Success */
	size_t eap_len;
	const uint8_t *msk;                     /* the EAP MSK, 64 bytes: the MS-MPPE keys */
	const char *user_name;                  /* "": none */
	const struct policy_result *placement;  /* the VLAN and the rule's extra attributes */
	const uint8_t *class_attr;              /* the session's Class; NULL: none */
	size_t class_len;
};

/* The Access-Accept; NULL when an attribute cannot be added (ENOMEM). */
struct radius_reply *access_reply_accept(struct radius_request *req, const struct access_reply_accept *a);

#endif

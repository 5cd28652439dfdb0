#include "authd/access_reply.h"

#include <string.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#include "policy/policy.h"
#include "policy/rules.h"

struct radius_reply *access_reply_reject(struct radius_request *req, const uint8_t *eap, size_t eap_len,
                                         const char *message)
{
	struct radius_reply *reply = radius_reply_new(req, PW_CODE_ACCESS_REJECT);

	if (reply == NULL)
		return NULL;
	if ((eap != NULL && radius_reply_add_octets(reply, PW_EAP_MESSAGE, 0, eap, eap_len) < 0) ||
	    radius_reply_add_string(reply, PW_REPLY_MESSAGE, 0, message) < 0) {
		radius_reply_free(reply);
		return NULL;
	}
	return reply;
}

struct radius_reply *access_reply_challenge(struct radius_request *req, const uint8_t *eap, size_t eap_len,
                                            const uint8_t *state, size_t state_len)
{
	struct radius_reply *reply = radius_reply_new(req, PW_CODE_ACCESS_CHALLENGE);

	if (reply == NULL)
		return NULL;
	if (radius_reply_add_octets(reply, PW_EAP_MESSAGE, 0, eap, eap_len) < 0 ||
	    radius_reply_add_octets(reply, PW_STATE, 0, state, state_len) < 0) {
		radius_reply_free(reply);
		return NULL;
	}
	return reply;
}

/* RFC 3580 §3.31 VLAN assignment, tag 1, and the rule's extra attributes. */
static int add_placement(struct radius_reply *reply, const struct policy_result *res)
{
	const struct policy_rule *rule = res->rule;

	if (res->vlan != NULL &&
	    (radius_reply_add_integer(reply, PW_TUNNEL_TYPE, 1, 13) < 0 ||          /* VLAN */
	     radius_reply_add_integer(reply, PW_TUNNEL_MEDIUM_TYPE, 1, 6) < 0 ||    /* IEEE-802 */
	     radius_reply_add_string(reply, PW_TUNNEL_PRIVATE_GROUP_ID, 1, res->vlan) < 0))
		return -1;
	if (rule == NULL)
		return 0;
	if (rule->session_timeout > 0 &&
	    radius_reply_add_integer(reply, PW_SESSION_TIMEOUT, 0, rule->session_timeout) < 0)
		return -1;
	if (rule->termination_action >= 0 &&
	    radius_reply_add_integer(reply, PW_TERMINATION_ACTION, 0, (uint32_t)rule->termination_action) < 0)
		return -1;
	if (rule->filter_id != NULL && radius_reply_add_string(reply, PW_FILTER_ID, 0, rule->filter_id) < 0)
		return -1;
	if (rule->class_attr != NULL &&
	    radius_reply_add_octets(reply, PW_CLASS, 0, (const uint8_t *)rule->class_attr,
	                            strlen(rule->class_attr)) < 0)
		return -1;
	return 0;
}

struct radius_reply *access_reply_accept(struct radius_request *req, const struct access_reply_accept *a)
{
	struct radius_reply *reply = radius_reply_new(req, PW_CODE_ACCESS_ACCEPT);

	if (reply == NULL)
		return NULL;
	/* RFC 2548 / RFC 5216: the NAS's receive key is the first half of the MSK. */
	if (radius_reply_add_octets(reply, PW_EAP_MESSAGE, 0, a->eap, a->eap_len) < 0 ||
	    radius_reply_add_octets(reply, PW_MSCHAP_MPPE_RECV_KEY, VENDORPEC_MICROSOFT, a->msk, 32) < 0 ||
	    radius_reply_add_octets(reply, PW_MSCHAP_MPPE_SEND_KEY, VENDORPEC_MICROSOFT, a->msk + 32, 32) < 0 ||
	    (a->user_name[0] != '\0' && radius_reply_add_string(reply, PW_USER_NAME, 0, a->user_name) < 0) ||
	    add_placement(reply, a->placement) < 0 ||
	    (a->class_attr != NULL &&
	     radius_reply_add_octets(reply, PW_CLASS, 0, a->class_attr, a->class_len) < 0)) {
		radius_reply_free(reply);
		return NULL;
	}
	return reply;
}

/* The unit tests' driver of eap_test_peer against eap/ in process; see eap_test_peer.h. */
#include "eap_test_peer.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

enum eap_step eap_test_run_policy(struct eap_conversation *conv, struct eap_test_peer *peer,
                                  bool allow, const uint8_t **last, size_t *lastlen)
{
	const uint8_t *out = NULL, *resp = NULL;
	size_t outlen = 0, resplen = 0;
	enum eap_step step;

	step = eap_conversation_step(conv, NULL, 0, &out, &outlen);
	for (int i = 0; (step == EAP_STEP_SEND || step == EAP_STEP_VERIFIED) &&
	                i < 2 * EAP_TLS_MAX_ROUND_TRIPS; i++) {
		if (step == EAP_STEP_VERIFIED) {
			step = allow ? eap_conversation_allow(conv, &out, &outlen)
			             : eap_conversation_refuse(conv, &out, &outlen);
			continue;
		}
		if (eap_test_peer_respond(peer, out, outlen, &resp, &resplen) < 0)
			fail_msg("peer: %s", eap_test_peer_error(peer));
		step = eap_conversation_step(conv, resp, resplen, &out, &outlen);
	}
	*last = out;
	*lastlen = outlen;
	return step;
}

enum eap_step eap_test_run(struct eap_conversation *conv, struct eap_test_peer *peer,
                           const uint8_t **last, size_t *lastlen)
{
	return eap_test_run_policy(conv, peer, true, last, lastlen);
}

/*
 * libFuzzer target for the RADIUS intake path: every datagram a NAS (or an
 * attacker spoofing one) can send goes through radius_request_decode() first.
 * The first input byte picks the client's Message-Authenticator policy and
 * the listener (authentication or accounting) so every branch is explored;
 * the rest is the datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authd/client.h"
#include "authd/radius.h"

static int initialized;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char secret[] = "testing123-radius-secret";
	struct client client = { .name = "fuzz", .secret = secret };
	struct radius_request req;
	char detail[160], err[256];

	if (!initialized) {
		if (radius_init(err, sizeof(err)) < 0)
			abort();
		initialized = 1;
	}
	if (size < 1)
		return 0;
	client.require_message_authenticator = data[0] & 1;
	if (radius_request_decode(data + 1, size - 1,
	                          data[0] & 2 ? RADIUS_PORT_ACCOUNTING : RADIUS_PORT_AUTH, &client, &req,
	                          detail, sizeof(detail)) == RADIUS_ACCEPTED) {
		/* Touch what dispatch would read, so bad pointers show up here. */
		volatile uint8_t sink = 0;

		for (size_t i = 0; req.eap != NULL && i < req.eap_len; i++)
			sink ^= req.eap[i];
		for (size_t i = 0; req.state != NULL && i < req.state_len; i++)
			sink ^= req.state[i];
		for (size_t i = 0; req.authd_class != NULL && i < req.authd_class_len; i++)
			sink ^= req.authd_class[i];
		sink ^= (uint8_t)(strlen(req.user_name) + strlen(req.acct_session_id) +
		                  strlen(req.called_station_id) + strlen(req.nas_identifier));
		(void)sink;
		radius_request_free(&req);
	}
	return 0;
}

/*
 * libFuzzer target for the EAP-TLS authenticator: an input is a sequence of
 * EAP packets from the peer, fed to one conversation, with the session a
 * resumption lookup finds; the format is eap_replay.h's. Most of the interest
 * is in framing and fragment reassembly, so by default each packet gets the
 * Identifier the server expects (else nearly everything would be discarded).
 *
 * OpenSSL's random bytes are a fixed pattern here, so the seeds that
 * make_eap_seeds records from real conversations (TLS 1.2 and 1.3, full and
 * resumed, fragmented, allowed and refused) replay to their end, and the
 * mutations start from the states those reach: resumption lookups, VERIFIED,
 * the last flight, SUCCESS.
 *
 * Needs AUTHD_TEST_PKI_DIR (made by tests/pki/make-pki.sh) for the server's
 * certificate and key.
 */
#include <stdint.h>
#include <stdlib.h>

#include "eap_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Created once: it is immutable and loading the PEM files is slow. */
	static struct eap_tls_context *ctx;
	struct eap_replay_result result;

	if (ctx == NULL) {
		eap_replay_deterministic_rand();
		ctx = eap_replay_context(getenv("AUTHD_TEST_PKI_DIR"));
	}
	eap_replay_run(ctx, data, size, &result);
	return 0;
}

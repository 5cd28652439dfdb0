/*
 * libFuzzer target over authbench's RADIUS reply handling (tools/authbench/bench_radius.c):
 * whatever a server sends back goes through the authenticator checks, the attribute parser
 * and, for MS-MPPE keys, the RFC 2548 decryption; the input is also sent out as an EAP packet
 * to exercise the request encoder's 253-byte splitting. Nothing may crash, read out of
 * bounds or accept a reply the checks did not pass.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_radius.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t secret[] = "testing123-radius-secret";
	static const uint8_t req_auth[BENCH_RADIUS_AUTH_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	static struct bench_radius_reply reply;
	static uint8_t out[BENCH_RADIUS_MAX];
	struct bench_radius_secret *s = bench_radius_secret_new(secret, sizeof(secret) - 1);
	struct bench_radius_request req = {
		.user_name = "host/fuzz", .calling_station_id = "02-00-00-00-00-01", .nas_identifier = "fuzz",
		.nas_port_type = BENCH_NAS_PORT_WIRELESS, .eap = data, .eap_len = size,
	};
	uint8_t key[64];
	size_t keylen;
	int n;

	if (s == NULL)
		abort();
	(void)bench_radius_check_reply(s, data, size, req_auth);
	if (bench_radius_parse_reply(data, size, &reply) == 0) {
		if (reply.eap_len > BENCH_RADIUS_MAX)
			abort();
		if (reply.mppe_send != NULL)
			(void)bench_radius_mppe_decrypt(s, reply.mppe_send, reply.mppe_send_len, req_auth, key,
			                                sizeof(key), &keylen);
		if (reply.mppe_recv != NULL)
			(void)bench_radius_mppe_decrypt(s, reply.mppe_recv, reply.mppe_recv_len, req_auth, key,
			                                sizeof(key), &keylen);
	}
	n = bench_radius_build_request(s, 7, req_auth, &req, out);
	/* A request that fits must pass the same checks a server makes (length field, attributes). */
	if (n > 0 && ((size_t)n > sizeof(out) || ((size_t)out[2] << 8 | out[3]) != (size_t)n))
		abort();
	bench_radius_secret_free(s);
	return 0;
}

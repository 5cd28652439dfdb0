/*
 * libFuzzer target for the Class attribute a NAS echoes in accounting and
 * the station index read back from Redis (authd/session_class.h):
 * session_class_parse() and session_class_verify() / session_class_ref_verify()
 * with a fixed node key, on any bytes after the "authd-cert:" prefix. A
 * parsed reference must be well-formed; random input must never verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authd/session_class.h"

static const char keys[] = "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seal *seal;
	struct cert_ref ref;
	const uint8_t *tag;
	size_t taglen;
	char err[256];

	if (seal == NULL && (seal = seal_parse("fuzz", keys, sizeof(keys) - 1, err, sizeof(err))) == NULL)
		abort();
	if (session_class_parse(data, size, &ref, &tag, &taglen) == 0) {
		if (strlen(ref.issuer_key_hash) != 40 || ref.serial[0] == '\0' || tag < data ||
		    tag + taglen > data + size)
			abort();
	}
	/* Verifying would be a forgery: the fuzzer does not hold the key. */
	if (session_class_verify(seal, "lab-switch", data, size, &ref) == 0 ||
	    session_class_ref_verify(seal, "station", "authd:station:lab-switch:02-00-00-00-00-01", data,
	                             size, &ref) == 0)
		abort();
	return 0;
}

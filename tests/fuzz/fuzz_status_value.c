/*
 * libFuzzer target for the revocation status cache's values read back from
 * Redis (policy/status_cache.h): status_cache_parse_value() on any bytes.
 * What it returns must point inside the input and name a known status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/status_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data;
	struct status_value sv;

	if (status_cache_parse_value(v, size, &sv) < 0)
		return 0;
	if (sv.status.status > CERT_STATUS_UNKNOWN || sv.signed_len > size ||
	    strnlen(sv.status.source, sizeof(sv.status.source)) == sizeof(sv.status.source))
		abort();
	if (sv.tag != NULL && (sv.tag < v || sv.tag + sv.taglen > v + size))
		abort();
	return 0;
}

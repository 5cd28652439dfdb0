/*
 * libFuzzer target for sealed values read back from Redis (common/seal.h):
 * seal_open() with a fixed node key, under a fixed name, on any bytes. The
 * parse must never overrun, and nothing but a value sealed under that key
 * for that name may open. The first input byte picks the name, so both a
 * matching and a mismatching one are explored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/seal.h"

static const char keys[] =
	"k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
	"old 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seal *seal;
	static const char *const names[] = { "authd:tls-session:00", "" };
	char id[SEAL_KEY_ID_MAX + 1], err[256];
	uint8_t *raw, *pt;
	size_t rawlen, ptlen;
	const char *name;

	if (seal == NULL && (seal = seal_parse("fuzz", keys, sizeof(keys) - 1, err, sizeof(err))) == NULL)
		abort();
	if (size < 1)
		return 0;
	name = names[data[0] & 1];
	if (seal_blob_parse((const char *)data + 1, size - 1, id, &raw, &rawlen) == SEAL_OK) {
		if (strlen(id) == 0 || strlen(id) > SEAL_KEY_ID_MAX)
			abort();
		free(raw);
	}
	/* Opening would be a forgery: input made without the key cannot carry a valid tag. */
	if (seal_open(seal, (const char *)data + 1, size - 1, name, strlen(name), &pt, &ptlen) == SEAL_OK ||
	    pt != NULL)
		abort();
	return 0;
}

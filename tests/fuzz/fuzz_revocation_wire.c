/*
 * libFuzzer target for what authd reads back from Redis about the helpdesk's
 * list (policy/revocation_wire.h): the change notice of the channel and the
 * log, and the audit record of a revocation hash.
 *
 * Input: byte 0 selects the parser; the rest is the payload.
 *   even  the payload is one notice, "SEQ revoke|unrevoke REF"
 *   odd   the payload is a HGETALL reply: field/value strings, each a 1-byte
 *         length and that many bytes (a truncated last one is cut short)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy/revocation_wire.h"

#define MAX_STRINGS 32

static void notice(const uint8_t *data, size_t size)
{
	struct revocation_notice n;
	char ref[128], again[2 * REVOCATION_NOTICE_MAX];
	int len;

	if (revocation_notice_parse((const char *)data, size, &n) < 0)
		return;
	/* The form is canonical: what was accepted reads the same written back. */
	cert_ref_string(&n.ref, ref, sizeof(ref));
	len = snprintf(again, sizeof(again), "%llu %s %s", (unsigned long long)n.seq,
	               n.change == REVOCATION_CHANGE_REVOKE ? "revoke" : "unrevoke", ref);
	if (n.seq == 0 || n.seq > INT64_MAX || (size_t)len != size || memcmp(again, data, size) != 0)
		__builtin_trap();
}

static void record(const uint8_t *data, size_t size)
{
	const char *fields[MAX_STRINGS / 2], *values[MAX_STRINGS / 2];
	size_t field_lens[MAX_STRINGS / 2], value_lens[MAX_STRINGS / 2], n = 0;
	struct revocation_record rec;

	/* Alternately a field and its value, as HGETALL interleaves them. */
	while (size > 0 && n < MAX_STRINGS) {
		size_t len = data[0] < size - 1 ? data[0] : size - 1;

		*(n % 2 == 0 ? &fields[n / 2] : &values[n / 2]) = (const char *)data + 1;
		*(n % 2 == 0 ? &field_lens[n / 2] : &value_lens[n / 2]) = len;
		n++;
		data += 1 + len;
		size -= 1 + len;
	}
	revocation_record_parse(fields, field_lens, values, value_lens, n / 2, &rec);
	/* Each field ends within its slot and holds no control byte. */
	for (size_t f = 0; f < REVOCATION_RECORD_FIELDS; f++) {
		size_t cap;
		const char *v = revocation_record_field(&rec, f, &cap);
		size_t len = strnlen(v, cap);

		if (len == cap)
			__builtin_trap();
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		notice(data + 1, size - 1);
	else
		record(data + 1, size - 1);
	return 0;
}

#include "policy/revocation_wire.h"

#include <string.h>

const char *const revocation_record_names[REVOCATION_RECORD_FIELDS] = {
	"subject", "issuer", "reason", "by", "at",
};

char *revocation_record_field(struct revocation_record *rec, size_t i, size_t *cap)
{
	char *const slots[REVOCATION_RECORD_FIELDS] = { rec->subject, rec->issuer, rec->reason,
	                                                rec->by, rec->at };
	const size_t caps[REVOCATION_RECORD_FIELDS] = { sizeof(rec->subject), sizeof(rec->issuer),
	                                                sizeof(rec->reason), sizeof(rec->by),
	                                                sizeof(rec->at) };

	*cap = caps[i];
	return slots[i];
}

/* Copies at most cap-1 bytes, control bytes (NUL included) as '?'. */
static void copy_printable(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[n] = '\0';
}

size_t revocation_record_parse(const char *const *fields, const size_t *field_lens,
                               const char *const *values, const size_t *value_lens, size_t n,
                               struct revocation_record *rec)
{
	size_t found = 0;

	memset(rec, 0, sizeof(*rec));
	for (size_t i = 0; i < n; i++) {
		for (size_t f = 0; f < REVOCATION_RECORD_FIELDS; f++) {
			size_t cap;
			char *slot;

			if (field_lens[i] != strlen(revocation_record_names[f]) ||
			    memcmp(fields[i], revocation_record_names[f], field_lens[i]) != 0)
				continue;
			slot = revocation_record_field(rec, f, &cap);
			copy_printable(slot, cap, values[i], value_lens[i]);
			found++;
		}
	}
	return found;
}

/* Reads a decimal 1..2^63-1 from s[0..len); 0, or -1. */
int revocation_seq_parse(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

int revocation_notice_parse(const char *text, size_t len, struct revocation_notice *out)
{
	char ref[REVOCATION_NOTICE_MAX];
	const char *sp1, *sp2, *change;
	size_t change_len, ref_len;

	memset(out, 0, sizeof(*out));
	if (len >= REVOCATION_NOTICE_MAX || memchr(text, '\0', len) != NULL)
		goto fail;
	if ((sp1 = memchr(text, ' ', len)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - text))) == NULL)
		goto fail;
	if (revocation_seq_parse(text, (size_t)(sp1 - text), &out->seq) < 0)
		goto fail;
	change = sp1 + 1;
	change_len = (size_t)(sp2 - change);
	if (change_len == 6 && memcmp(change, "revoke", 6) == 0)
		out->change = REVOCATION_CHANGE_REVOKE;
	else if (change_len == 8 && memcmp(change, "unrevoke", 8) == 0)
		out->change = REVOCATION_CHANGE_UNREVOKE;
	else
		goto fail;
	ref_len = len - (size_t)(sp2 + 1 - text);
	memcpy(ref, sp2 + 1, ref_len);
	ref[ref_len] = '\0';
	if (cert_ref_parse(ref, &out->ref) < 0)
		goto fail;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

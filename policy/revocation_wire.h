/*
 * What authd reads back from Redis about the helpdesk's list, parsed by pure
 * functions (no I/O, no allocation) so that each one is fuzzed: the audit
 * record of one revocation (the hash at "<prefix>revoked:<ref>") and the
 * change notices "SEQ revoke|unrevoke REF" that every change of the list
 * publishes on "<prefix>revocations" and keeps in "<prefix>revocations:log".
 * Whatever Redis holds is hostile input: bounded, checked, never trusted.
 */
#ifndef AUTHD_REVOCATION_WIRE_H
#define AUTHD_REVOCATION_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/cert_ref.h"

/* The audit record of a revocation. */
struct revocation_record {
	char subject[256];
	char issuer[256];
	char reason[256];
	char by[64];
	char at[32];                /* ISO 8601 UTC */
};

#define REVOCATION_RECORD_FIELDS 5
/* The hash fields, in the order of revocation_record_field. */
extern const char *const revocation_record_names[REVOCATION_RECORD_FIELDS];
/* The i-th field of rec (see revocation_record_names) and its capacity. */
char *revocation_record_field(struct revocation_record *rec, size_t i, size_t *cap);

/*
 * Fills rec from n field/value pairs as HGETALL returns them (binary-safe:
 * each with its length). Unknown fields are ignored, a value too long is
 * cut, a control byte or NUL becomes '?', so the record can go into a
 * detail or a log line as it is. Returns how many known fields were found
 * (a hash that names none is still a revocation: existence is what counts).
 */
size_t revocation_record_parse(const char *const *fields, const size_t *field_lens,
                               const char *const *values, const size_t *value_lens, size_t n,
                               struct revocation_record *rec);

enum revocation_change { REVOCATION_CHANGE_REVOKE, REVOCATION_CHANGE_UNREVOKE };

struct revocation_notice {
	uint64_t seq;               /* the value of "<prefix>revocations:seq" after the change */
	enum revocation_change change;
	struct cert_ref ref;
};

/* A notice is never longer than this. */
#define REVOCATION_NOTICE_MAX 160

/*
 * Parses text[0..len) of the form "SEQ revoke REF" or "SEQ unrevoke REF":
 * SEQ decimal, 1 to 2^63-1, without sign or leading zero; REF as
 * cert_ref_string writes it. 0, or -1 (out zeroed) for anything else.
 */
int revocation_notice_parse(const char *text, size_t len, struct revocation_notice *out);

/* A change's sequence number as the notice and <prefix>revocations:seq write
 * it: 1 to 2^63 - 1 in decimal, no sign, space or leading zero. 0, or -1. */
int revocation_seq_parse(const char *s, size_t len, uint64_t *out);

#endif

/*
 * The decision record: who asked, with which certificate, what was checked and
 * what came of it. One struct is filled along the conversation and written
 * once, as one JSON line, when the conversation ends. It is the product's
 * memory of why a device was let in or kept out.
 */
#ifndef AUTHD_DECISION_H
#define AUTHD_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "policy/policy_reason.h"

struct decision {
	uint64_t conversation;          /* authd's conversation id, also in the operational log */
	struct timespec started;        /* CLOCK_MONOTONIC, for duration_ms */
	bool accept;
	enum policy_reason reason;
	const char *handshake_reason;   /* POLICY_REASON_HANDSHAKE: EAP's code ("cert_expired", ...), static */
	char detail[256];               /* free text for humans, e.g. OpenSSL's verify error */
	char identity[256];             /* EAP-Response/Identity */
	char nas[64];                   /* client name from the config */
	char calling_station_id[64];
	X509 *cert;                     /* borrowed device certificate, may be NULL */
	const char *tls_version;        /* static string or NULL */
	bool resumed;                   /* the TLS handshake resumed a session */
	unsigned round_trips;
	/* Filled by policy_decide(): */
	const char *revocation;         /* "good", "revoked", "unknown"; NULL = not checked */
	const char *revocation_source;  /* "crl"; NULL = not checked */
	char cert_identity[256];        /* "" = none */
	const char *identity_source;    /* static string or NULL */
	char *dn;                       /* owned: the device's directory entry, or NULL */
	char **groups;                  /* owned */
	size_t n_groups;
	int rule_index;                 /* -1 = no rule matched */
	const char *rule_name;          /* borrowed from the settings */
	const char *vlan;               /* borrowed from the settings, NULL = none */
	unsigned directory_ms;
	bool directory_cached;          /* groups came from the outage cache */
};

/* Starts a record now for the given conversation id and NAS name. */
void decision_start(struct decision *d, uint64_t conversation, const char *nas);
/* The record's reason code as logged: the policy's, or EAP's for a failed handshake. */
const char *decision_reason_code(const struct decision *d);
/* Frees what the record owns (dn, groups). */
void decision_clear(struct decision *d);

/*
 * Caps on what outsiders put in a record (certificate fields, the EAP
 * identity, RADIUS attributes, directory answers), so that one line stays
 * small whatever a certificate holds: each string field at most
 * DECISION_STRING_MAX bytes of escaped JSON (then cut, ending in "…"); the
 * san array at most DECISION_SAN_MAX entries and DECISION_SAN_BYTES bytes,
 * groups DECISION_GROUPS_MAX and DECISION_GROUPS_BYTES (further entries left
 * out). A record names the fields it cut in "truncated". With these caps a
 * line is shorter than DECISION_LINE_MAX.
 */
#define DECISION_STRING_MAX   256
#define DECISION_SAN_MAX      16
#define DECISION_SAN_BYTES    2048
#define DECISION_GROUPS_MAX   64
#define DECISION_GROUPS_BYTES 4096
#define DECISION_LINE_MAX     16384

/*
 * Renders the record as one JSON object followed by '\n' into a malloc'd
 * string (caller frees). `now` is the wall-clock end time. Every string is
 * escaped (control bytes, and bytes that are not UTF-8, as \u00XX) and capped
 * as above, so hostile identities or certificate names can neither break
 * the line nor make it long. Returns NULL on allocation failure.
 */
char *decision_to_json(const struct decision *d, const struct timespec *now);

#endif

#include "policy/decision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cert_names.h"
#include "common/clock.h"
#include "common/json_buf.h"
#include "common/strv.h"

/* What an outsider controls (certificate fields, EAP identity, RADIUS
 * attributes, directory answers) is capped in the record; see decision.h. */
static const struct json_buf_limits field_limits = {
	.string_bytes = DECISION_STRING_MAX,
};
static const struct json_buf_limits san_limits = {
	.string_bytes = DECISION_STRING_MAX,
	.array_items = DECISION_SAN_MAX,
	.array_bytes = DECISION_SAN_BYTES,
};
static const struct json_buf_limits group_limits = {
	.string_bytes = DECISION_STRING_MAX,
	.array_items = DECISION_GROUPS_MAX,
	.array_bytes = DECISION_GROUPS_BYTES,
};

/* The fields of one record that were cut, for its "truncated" list. */
struct cut_fields {
	const char *names[24];
	size_t n;
	unsigned seen;              /* json_buf.cuts when last looked at */
};

/* Notes `name` when something was cut since the last call. */
static void note_cut(struct cut_fields *cut, const struct json_buf *b, const char *name)
{
	if (b->cuts != cut->seen && cut->n < sizeof(cut->names) / sizeof(cut->names[0]))
		cut->names[cut->n++] = name;
	cut->seen = b->cuts;
}

static void field(struct json_buf *b, struct cut_fields *cut, const char *key, const char *value)
{
	json_buf_string(b, key, value);
	note_cut(cut, b, key);
}

void decision_start(struct decision *d, uint64_t conversation, const char *nas)
{
	memset(d, 0, sizeof(*d));
	d->conversation = conversation;
	d->reason = POLICY_REASON_HANDSHAKE;
	d->handshake_reason = "tls_failed";
	snprintf(d->nas, sizeof(d->nas), "%s", nas);
	d->rule_index = -1;
	clock_gettime(CLOCK_MONOTONIC, &d->started);
}

const char *decision_reason_code(const struct decision *d)
{
	if (d->reason == POLICY_REASON_HANDSHAKE && d->handshake_reason != NULL)
		return d->handshake_reason;
	return policy_reason_code(d->reason);
}

void decision_clear(struct decision *d)
{
	strv_free(d->groups, d->n_groups);
	free(d->dn);
	d->groups = NULL;
	d->n_groups = 0;
	d->dn = NULL;
}

static void add_san(const char *san, void *arg)
{
	json_buf_array_string(arg, san);
}

static void format_time(const struct timespec *ts, char *out, size_t outlen)
{
	struct tm tm;
	char base[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%.19s.%03uZ", base, (unsigned)(ts->tv_nsec / 1000000) % 1000u);
}

static void add_cert(struct json_buf *b, struct cut_fields *cut, X509 *cert)
{
	char text[512];

	if (cert == NULL) {
		json_buf_string(b, "subject", NULL);
		json_buf_string(b, "issuer", NULL);
		json_buf_string(b, "serial", NULL);
		json_buf_array_begin(b, "san");
		json_buf_array_end(b);
		return;
	}
	cert_name_string(X509_get_subject_name(cert), text, sizeof(text));
	field(b, cut, "subject", text);
	cert_name_string(X509_get_issuer_name(cert), text, sizeof(text));
	field(b, cut, "issuer", text);
	cert_serial_hex(cert, text, sizeof(text));
	field(b, cut, "serial", text);
	json_buf_set_limits(b, &san_limits);
	json_buf_array_begin(b, "san");
	cert_for_each_san(cert, add_san, b);
	json_buf_array_end(b);
	json_buf_set_limits(b, &field_limits);
	note_cut(cut, b, "san");
}

static void add_rule(struct json_buf *b, struct cut_fields *cut, const struct decision *d)
{
	if (d->rule_index < 0) {
		json_buf_null(b, "rule");
		return;
	}
	json_buf_object_begin(b, "rule");
	json_buf_uint(b, "index", (uint64_t)d->rule_index);
	json_buf_string(b, "name", d->rule_name);
	json_buf_object_end(b);
	note_cut(cut, b, "rule");
}

char *decision_to_json(const struct decision *d, const struct timespec *now)
{
	static const struct json_buf_limits none = { 0 };
	struct cut_fields cut = { .n = 0 };
	struct json_buf b;
	char when[40];

	format_time(now, when, sizeof(when));
	json_buf_begin(&b);
	json_buf_set_limits(&b, &field_limits);
	json_buf_string(&b, "time", when);
	json_buf_string(&b, "outcome", d->accept ? "accept" : "reject");
	json_buf_string(&b, "reason", decision_reason_code(d));
	field(&b, &cut, "detail", d->detail);
	field(&b, &cut, "identity", d->identity);
	add_cert(&b, &cut, d->cert);
	json_buf_string(&b, "tls_version", d->tls_version);
	json_buf_bool(&b, "resumed", d->resumed);
	field(&b, &cut, "nas", d->nas);
	field(&b, &cut, "calling_station_id", d->calling_station_id);
	json_buf_string(&b, "revocation", d->revocation);
	json_buf_string(&b, "revocation_source", d->revocation_source);
	field(&b, &cut, "cert_identity", d->cert_identity[0] ? d->cert_identity : NULL);
	json_buf_string(&b, "identity_source", d->identity_source);
	field(&b, &cut, "dn", d->dn);
	json_buf_set_limits(&b, &group_limits);
	json_buf_array_begin(&b, "groups");
	for (size_t i = 0; i < d->n_groups; i++)
		json_buf_array_string(&b, d->groups[i]);
	json_buf_array_end(&b);
	json_buf_set_limits(&b, &field_limits);
	note_cut(&cut, &b, "groups");
	add_rule(&b, &cut, d);
	field(&b, &cut, "vlan", d->vlan);
	json_buf_uint(&b, "directory_ms", d->directory_ms);
	json_buf_bool(&b, "directory_cached", d->directory_cached);
	json_buf_uint(&b, "round_trips", d->round_trips);
	json_buf_uint(&b, "duration_ms", clock_ms_since(&d->started));
	json_buf_uint(&b, "conversation", d->conversation);
	/* Static names, not to be capped themselves. */
	json_buf_set_limits(&b, &none);
	json_buf_array_begin(&b, "truncated");
	for (size_t i = 0; i < cut.n; i++)
		json_buf_array_string(&b, cut.names[i]);
	json_buf_array_end(&b);
	return json_buf_finish(&b);
}

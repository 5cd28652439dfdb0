#include "policy/cert_identity.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "common/cert_names.h"

static const char *const source_names[IDENTITY_SOURCE_COUNT] = {
	[IDENTITY_SUBJECT_CN] = "subject_cn",
	[IDENTITY_SAN_DNS] = "san_dns",
	[IDENTITY_SAN_UPN] = "san_upn",
	[IDENTITY_SAN_EMAIL] = "san_email",
	[IDENTITY_SERIAL] = "serial",
};

const char *identity_source_name(enum identity_source source)
{
	return source < IDENTITY_SOURCE_COUNT ? source_names[source] : "unknown";
}

int identity_source_parse(const char *name, enum identity_source *out)
{
	for (int i = 0; i < IDENTITY_SOURCE_COUNT; i++) {
		if (strcmp(name, source_names[i]) == 0) {
			*out = (enum identity_source)i;
			return 0;
		}
	}
	return -1;
}

/*
 * Copies an ASN.1 string if it is fit to be an identity. Returns 1 copied,
 * 0 empty, -1 unfit (then out describes it, escaped).
 */
static int take_string(const ASN1_STRING *s, char *out, size_t outlen)
{
	unsigned char *utf8 = NULL;
	int len = ASN1_STRING_to_UTF8(&utf8, s);
	int rc = 1;

	if (len < 0) {
		/* e.g. a BMPString of an odd length: OpenSSL cannot convert it. */
		snprintf(out, outlen, "(not a valid string of its ASN.1 type)");
		ERR_clear_error();
		return -1;
	}
	if (len == 0) {
		rc = 0;
		goto out;
	}
	for (int i = 0; i < len; i++) {
		if (utf8[i] < 0x20 || utf8[i] == 0x7f) {
			rc = -1;
			break;
		}
	}
	if (rc == 1 && (size_t)len >= outlen)
		rc = -1;
	if (rc == 1) {
		memcpy(out, utf8, (size_t)len);
		out[len] = '\0';
	} else {
		/* Printable rendering for the log; bad bytes shown as \xNN. */
		size_t n = 0;

		for (int i = 0; i < len && n + 5 < outlen; i++) {
			if (utf8[i] < 0x20 || utf8[i] == 0x7f || utf8[i] == '\\')
				n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", utf8[i]);
			else
				out[n++] = (char)utf8[i];
		}
		out[n] = '\0';
	}
out:
	OPENSSL_free(utf8);
	return rc;
}

static int from_subject_cn(X509 *cert, char *out, size_t outlen)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

	if (idx < 0)
		return 0;
	/* Two CNs make "the" identity ambiguous: refuse rather than guess. */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0) {
		snprintf(out, outlen, "(several subject CNs)");
		return -1;
	}
	return take_string(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)), out, outlen);
}

static int from_san(X509 *cert, enum identity_source source, char *out, size_t outlen)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int rc = 0;

	for (int i = 0; i < sk_GENERAL_NAME_num(names) && rc == 0; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (source == IDENTITY_SAN_DNS && gn->type == GEN_DNS)
			rc = take_string(gn->d.dNSName, out, outlen);
		else if (source == IDENTITY_SAN_EMAIL && gn->type == GEN_EMAIL)
			rc = take_string(gn->d.rfc822Name, out, outlen);
		else if (source == IDENTITY_SAN_UPN && gn->type == GEN_OTHERNAME &&
		         OBJ_obj2nid(gn->d.otherName->type_id) == NID_ms_upn &&
		         gn->d.otherName->value->type == V_ASN1_UTF8STRING)
			rc = take_string(gn->d.otherName->value->value.utf8string, out, outlen);
	}
	GENERAL_NAMES_free(names);
	return rc;
}

enum cert_identity_status cert_identity(X509 *cert, const enum identity_source *sources,
                                        size_t n_sources, char *out, size_t outlen,
                                        enum identity_source *used)
{
	for (size_t i = 0; i < n_sources; i++) {
		int rc;

		if (sources[i] == IDENTITY_SUBJECT_CN) {
			rc = from_subject_cn(cert, out, outlen);
		} else if (sources[i] == IDENTITY_SERIAL) {
			cert_serial_hex(cert, out, outlen);
			rc = out[0] != '\0';
		} else {
			rc = from_san(cert, sources[i], out, outlen);
		}
		*used = sources[i];
		if (rc < 0)
			return CERT_IDENTITY_INVALID;
		if (rc > 0)
			return CERT_IDENTITY_FOUND;
	}
	out[0] = '\0';
	return CERT_IDENTITY_NONE;
}

bool cert_identity_matches_eap(const char *identity, const char *eap_identity)
{
	if (strncasecmp(eap_identity, "host/", 5) == 0)
		eap_identity += 5;
	return strcasecmp(identity, eap_identity) == 0;
}

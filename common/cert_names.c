#include "common/cert_names.h"

#include <arpa/inet.h>
#include <stdio.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

static void name_print(const X509_NAME *name, unsigned long flags, char *out, size_t outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, flags) >= 0)
		n = BIO_read(bio, out, (int)outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

void cert_name_string(const X509_NAME *name, char *out, size_t outlen)
{
	/* RFC 2253 with UTF-8 kept as is; control characters are escaped by JSON later. */
	name_print(name, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB, out, outlen);
}

void cert_name_ascii(const X509_NAME *name, char *out, size_t outlen)
{
	name_print(name, XN_FLAG_RFC2253, out, outlen);
	/* OpenSSL escapes what it prints as \XX; a name it cannot decode may
	 * leave other bytes behind. */
	for (char *c = out; *c != '\0'; c++) {
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	}
}

void cert_serial_hex(const X509 *cert, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, outlen, "%s", hex != NULL ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
}

static void asn1_string_out(const char *prefix, const ASN1_STRING *s, char *out, size_t outlen)
{
	int len = ASN1_STRING_length(s);
	const unsigned char *data = ASN1_STRING_get0_data(s);
	size_t n = (size_t)snprintf(out, outlen, "%s", prefix);

	/* The string is not NUL-terminated by contract and may contain NULs;
	 * copy byte by byte and stop at an embedded NUL. */
	for (int i = 0; i < len && n + 1 < outlen && data[i] != '\0'; i++)
		out[n++] = (char)data[i];
	out[n] = '\0';
}

static int general_name_string(const GENERAL_NAME *gn, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];

	switch (gn->type) {
	case GEN_DNS:
		asn1_string_out("DNS:", gn->d.dNSName, out, outlen);
		return 0;
	case GEN_EMAIL:
		asn1_string_out("email:", gn->d.rfc822Name, out, outlen);
		return 0;
	case GEN_URI:
		asn1_string_out("URI:", gn->d.uniformResourceIdentifier, out, outlen);
		return 0;
	case GEN_IPADD:
		if (gn->d.iPAddress->length == 4)
			inet_ntop(AF_INET, gn->d.iPAddress->data, ip, sizeof(ip));
		else if (gn->d.iPAddress->length == 16)
			inet_ntop(AF_INET6, gn->d.iPAddress->data, ip, sizeof(ip));
		else
			return -1;
		snprintf(out, outlen, "IP:%s", ip);
		return 0;
	case GEN_OTHERNAME:
		if (OBJ_obj2nid(gn->d.otherName->type_id) == NID_ms_upn &&
		    gn->d.otherName->value->type == V_ASN1_UTF8STRING) {
			asn1_string_out("UPN:", gn->d.otherName->value->value.utf8string, out, outlen);
			return 0;
		}
		return -1;
	default:
		return -1;
	}
}

void cert_for_each_san(const X509 *cert, cert_san_fn fn, void *arg)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char buf[256];

	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		if (general_name_string(sk_GENERAL_NAME_value(names, i), buf, sizeof(buf)) == 0)
			fn(buf, arg);
	}
	GENERAL_NAMES_free(names);
}

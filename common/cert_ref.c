#include "common/cert_ref.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

int cert_ref_make(X509 *cert, X509 *issuer, const char *serial_hex, struct cert_ref *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char digits[81], *hex;
	BIGNUM *bn = NULL;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (issuer == NULL || X509_pubkey_digest(issuer, EVP_sha1(), md, &len) != 1 || len != 20)
		return -1;
	for (unsigned i = 0; i < len; i++)
		snprintf(out->issuer_key_hash + 2 * i, 3, "%02x", md[i]);
	/* Both ways end in BN_bn2hex's form, so a serial typed by the helpdesk
	 * names the same key as the certificate. */
	if (cert != NULL) {
		bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	} else {
		for (; *serial_hex != '\0' && n + 1 < sizeof(digits); serial_hex++) {
			if (*serial_hex == ':')
				continue;
			if (!isxdigit((unsigned char)*serial_hex))
				return -1;
			digits[n++] = *serial_hex;
		}
		digits[n] = '\0';
		if (n == 0 || BN_hex2bn(&bn, digits) == 0)
			return -1;
	}
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	snprintf(out->serial, sizeof(out->serial), "%s", hex != NULL ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	return out->serial[0] != '\0' ? 0 : -1;
}

void cert_ref_string(const struct cert_ref *ref, char *out, size_t len)
{
	snprintf(out, len, "%s:%s", ref->issuer_key_hash, ref->serial);
}

int cert_ref_parse(const char *text, struct cert_ref *out)
{
	int end = 0;

	memset(out, 0, sizeof(*out));
	if (sscanf(text, "%40[0-9a-f]:%80[0-9A-F-]%n", out->issuer_key_hash, out->serial, &end) != 2 ||
	    text[end] != '\0' || strlen(out->issuer_key_hash) != 40) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

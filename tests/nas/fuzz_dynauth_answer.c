/*
 * libFuzzer target for dynauth_answer_check(): every datagram that reaches
 * the Dynamic Authorization client's sockets goes through it. Input: one
 * flags byte (bit 0: CoA rather than Disconnect; bit 1: give the datagram a
 * correct Response Authenticator, so that the checks behind it are explored
 * too), the Identifier, 16 octets of Request Authenticator, then the datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authd/dynauth.h"

#define SECRET "testing123-radius-secret"

/* What a NAS knowing the secret would put in octets 4..19. */
static void sign(uint8_t *buf, size_t len, const uint8_t *request_authenticator)
{
	size_t plen = (size_t)buf[2] << 8 | buf[3];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (plen < 20 || plen > len)
		plen = len;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(ctx, buf, 4) != 1 ||
	    EVP_DigestUpdate(ctx, request_authenticator, 16) != 1 ||
	    EVP_DigestUpdate(ctx, buf + 20, plen - 20) != 1 || EVP_DigestUpdate(ctx, SECRET, strlen(SECRET)) != 1 ||
	    EVP_DigestFinal_ex(ctx, buf + 4, &mdlen) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dynauth_answer ans;
	uint8_t *copy;
	char why[128];

	if (size < 18)
		return 0;
	copy = malloc(size - 18 + 1);   /* + 1: malloc(0) may return NULL */
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 18, size - 18);
	if ((data[0] & 2) && size - 18 >= 20)
		sign(copy, size - 18, data + 2);
	(void)dynauth_answer_check(data[0] & 1 ? DYNAUTH_COA : DYNAUTH_DISCONNECT, data[1], data + 2, SECRET, copy,
	                           size - 18, &ans, why, sizeof(why));
	free(copy);
	return 0;
}

#include "authd/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int client_parse_address(const char *text, struct client *c, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hostlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	unsigned maxbits;
	uint8_t masked[16];

	if (hostlen == 0 || hostlen >= sizeof(host)) {
		snprintf(err, errlen, "\"%s\" is not an IP address or prefix", text);
		return -1;
	}
	memcpy(host, text, hostlen);
	host[hostlen] = '\0';
	memset(c->addr, 0, sizeof(c->addr));
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		maxbits = 128;
	} else {
		snprintf(err, errlen, "\"%s\" is not an IP address or prefix", text);
		return -1;
	}
	c->prefix = maxbits;
	if (slash != NULL) {
		char *end;
		unsigned long bits;

		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || bits > maxbits) {
			snprintf(err, errlen, "\"%s\": prefix length must be 0..%u", text, maxbits);
			return -1;
		}
		c->prefix = (unsigned)bits;
	}
	/* Host bits below the prefix: compare the address with itself masked. */
	memset(masked, 0, sizeof(masked));
	memcpy(masked, c->addr, (c->prefix + 7) / 8);
	if (c->prefix % 8)
		masked[c->prefix / 8] &= (uint8_t)(0xff << (8 - c->prefix % 8));
	if (memcmp(masked, c->addr, maxbits / 8) != 0) {
		snprintf(err, errlen, "\"%s\" has host bits set below the /%u prefix", text, c->prefix);
		return -1;
	}
	return 0;
}

const struct client *client_match(const struct client *clients, size_t n,
                                  const struct sockaddr_storage *from)
{
	const uint8_t *addr;
	int family = from->ss_family;

	if (family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)from)->sin6_addr;

		addr = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			addr += 12;
		}
	} else {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (clients[i].family == family && prefix_equal(clients[i].addr, addr, clients[i].prefix))
			return &clients[i];
	}
	return NULL;
}

void client_clear(struct client *c)
{
	if (c->secret != NULL) {
		explicit_bzero(c->secret, strlen(c->secret));
		free(c->secret);
	}
	if (c->coa_secret != NULL) {
		explicit_bzero(c->coa_secret, strlen(c->coa_secret));
		free(c->coa_secret);
	}
	free(c->coa_address);
	free(c->name);
	memset(c, 0, sizeof(*c));
}

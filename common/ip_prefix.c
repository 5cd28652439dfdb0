#include "common/ip_prefix.h"

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

int ip_prefix_parse(const char *text, struct ip_prefix *p, char *err, size_t errlen)
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
	memset(p->addr, 0, sizeof(p->addr));
	if (inet_pton(AF_INET, host, p->addr) == 1) {
		p->family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, p->addr) == 1) {
		p->family = AF_INET6;
		maxbits = 128;
	} else {
		snprintf(err, errlen, "\"%s\" is not an IP address or prefix", text);
		return -1;
	}
	p->bits = maxbits;
	if (slash != NULL) {
		char *end;
		unsigned long bits;

		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || bits > maxbits) {
			snprintf(err, errlen, "\"%s\": prefix length must be 0..%u", text, maxbits);
			return -1;
		}
		p->bits = (unsigned)bits;
	}
	/* Host bits below the prefix: compare the address with itself masked. */
	memset(masked, 0, sizeof(masked));
	memcpy(masked, p->addr, (p->bits + 7) / 8);
	if (p->bits % 8)
		masked[p->bits / 8] &= (uint8_t)(0xff << (8 - p->bits % 8));
	if (memcmp(masked, p->addr, maxbits / 8) != 0) {
		snprintf(err, errlen, "\"%s\" has host bits set below the /%u prefix", text, p->bits);
		return -1;
	}
	return 0;
}

bool ip_prefix_contains(const struct ip_prefix *p, const struct sockaddr *from)
{
	const uint8_t *addr;
	int family = from->sa_family;

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
		return false;
	}
	return p->family == family && prefix_equal(p->addr, addr, p->bits);
}

/*
 * IP networks as written in configs ("192.0.2.1", "10.0.0.0/8",
 * "2001:db8::/32") and whether an address falls in one: NAS clients and the
 * metrics endpoint's allow-list use the same rules.
 */
#ifndef COMMON_IP_PREFIX_H
#define COMMON_IP_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_prefix {
	int family;                 /* AF_INET or AF_INET6 */
	uint8_t addr[16];           /* network address, host bits zero */
	unsigned bits;              /* prefix length */
};

/*
 * Parses text into *p. Host bits set below the prefix are an error (a typo
 * more often than intent). Returns 0, or -1 with a message in err.
 */
int ip_prefix_parse(const char *text, struct ip_prefix *p, char *err, size_t errlen);

/* True when the address (IPv4-mapped IPv6 taken as IPv4) is in p. */
bool ip_prefix_contains(const struct ip_prefix *p, const struct sockaddr *addr);

#endif

#include "common/sockaddr_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

void sockaddr_text_host(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
	                                          : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if ((ss->ss_family != AF_INET && ss->ss_family != AF_INET6) ||
	    inet_ntop(ss->ss_family, a, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
}

void sockaddr_text_endpoint(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		sockaddr_text_host(ss, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, (unsigned)ntohs(((const struct sockaddr_in *)ss)->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		sockaddr_text_host(ss, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, (unsigned)ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	} else {
		snprintf(out, outlen, "address family %d", ss->ss_family);
	}
}

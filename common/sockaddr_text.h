/* Socket addresses as log lines, session records and answers show them. */
#ifndef COMMON_SOCKADDR_TEXT_H
#define COMMON_SOCKADDR_TEXT_H

#include <stddef.h>
#include <sys/socket.h>

/* The IPv4 or IPv6 address alone ("192.0.2.1", "2001:db8::1"); "?" for any
 * other family. */
void sockaddr_text_host(const struct sockaddr_storage *ss, char *out, size_t outlen);

/* The address with its port ("192.0.2.1:3799", "[2001:db8::1]:3799");
 * "address family N" for any other family. */
void sockaddr_text_endpoint(const struct sockaddr_storage *ss, char *out, size_t outlen);

#endif

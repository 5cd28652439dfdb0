/*
 * NAS clients: who may talk to authd, with which shared secret.
 */
#ifndef AUTHD_CLIENT_H
#define AUTHD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/ip_prefix.h"

struct name_table;

/* Shorter shared secrets are refused unless the client entry allows them (RFC 2865 section 3). */
#define CLIENT_SECRET_MIN_LENGTH 16

struct client {
	char *name;
	size_t index;               /* its name's in the process's client names (client_names_index;
	                             * 0 until then): per-NAS tables and metric series, stable across
	                             * reloads */
	unsigned max_conversations; /* conversations it may hold in progress; 0: up to the global cap */
	unsigned max_buffered_bytes;   /* bytes its conversations may buffer; 0: up to the global budget */
	unsigned max_requests_per_second;   /* 0: no limit */
	struct ip_prefix net;       /* the addresses its requests come from */
	char *secret;               /* wiped on free */
	bool require_message_authenticator;
	/* RFC 5176: where the NAS takes Disconnect/CoA-Requests */
	char *coa_address;          /* NULL: the address its RADIUS requests come from */
	unsigned coa_port;
	char *coa_secret;           /* the shared secret unless configured; wiped on free */
};

/* Parses "192.0.2.1", "10.0.0.0/8", "2001:db8::/32" into c->net (see
 * ip_prefix_parse). Returns 0, or -1 with a message in err. */
int client_parse_address(const char *text, struct client *c, char *err, size_t errlen);

/* First client whose prefix contains the address (IPv4-mapped IPv6 is treated
 * as IPv4), or NULL. */
const struct client *client_match(const struct client *clients, size_t n,
                                  const struct sockaddr_storage *from);

/* The client names of the process's life (common/name_table.h), with room
 * for n_clients and the names reloads add; "" (no client) is index 0.
 * NULL when out of memory. */
struct name_table *client_names_new(size_t n_clients);
/* Interns the name of each of clients (n of them) in names and sets its
 * index. -1 with err when they do not all fit (nothing interned then, no
 * index changed) or out of memory. */
int client_names_index(struct name_table *names, struct client *clients, size_t n, char *err, size_t errlen);

/* Frees the strings of one client, wiping the secret. */
void client_clear(struct client *c);

#endif

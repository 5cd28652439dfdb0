#include "authd/client.h"

#include <stdlib.h>
#include <string.h>

int client_parse_address(const char *text, struct client *c, char *err, size_t errlen)
{
	return ip_prefix_parse(text, &c->net, err, errlen);
}

const struct client *client_match(const struct client *clients, size_t n,
                                  const struct sockaddr_storage *from)
{
	for (size_t i = 0; i < n; i++) {
		if (ip_prefix_contains(&clients[i].net, (const struct sockaddr *)from))
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

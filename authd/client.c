#include "authd/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/name_table.h"

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

struct name_table *client_names_new(size_t n_clients)
{
	struct name_table *t = name_table_new(name_table_capacity_for(1 + n_clients));

	if (t != NULL && name_table_intern(t, "") != 0) {
		name_table_free(t);
		return NULL;
	}
	return t;
}

int client_names_index(struct name_table *names, struct client *clients, size_t n, char *err, size_t errlen)
{
	const char **list = calloc(n > 0 ? n : 1, sizeof(*list));
	int rc = -1;

	if (list == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		list[i] = clients[i].name;
	if (name_table_check_room(names, list, n, 0, "client name(s)", err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		long index = name_table_intern(names, clients[i].name);

		if (index < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		clients[i].index = (size_t)index;
	}
	rc = 0;
out:
	free(list);
	return rc;
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

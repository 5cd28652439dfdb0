#include "policy/static_groups.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int add_unique(char ***groups, size_t *n, const char *group)
{
	char **grown;

	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp((*groups)[i], group) == 0)
			return 0;
	}
	grown = realloc(*groups, (*n + 1) * sizeof(**groups));
	if (grown == NULL)
		return -1;
	*groups = grown;
	grown[*n] = strdup(group);
	if (grown[*n] == NULL)
		return -1;
	(*n)++;
	return 0;
}

int static_groups_lookup(const struct static_group_entry *entries, size_t n, const char *identity,
                         char ***groups, size_t *n_groups)
{
	int matched = 0;

	*groups = NULL;
	*n_groups = 0;
	for (size_t i = 0; i < n; i++) {
		if (fnmatch(entries[i].pattern, identity, FNM_CASEFOLD) != 0)
			continue;
		matched++;
		for (size_t g = 0; g < entries[i].n_groups; g++) {
			if (add_unique(groups, n_groups, entries[i].groups[g]) < 0)
				goto fail;
		}
	}
	return matched;
fail:
	for (size_t i = 0; i < *n_groups; i++)
		free((*groups)[i]);
	free(*groups);
	*groups = NULL;
	*n_groups = 0;
	return -1;
}

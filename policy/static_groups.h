/* The embedded directory: identity patterns from the config mapped to groups. */
#ifndef AUTHD_STATIC_GROUPS_H
#define AUTHD_STATIC_GROUPS_H

#include <stddef.h>

struct static_group_entry {
	char *pattern;              /* fnmatch pattern on the identity, case-insensitive */
	char **groups;
	size_t n_groups;
};

/*
 * Collects, in config order and without duplicates, the groups of every entry
 * whose pattern matches identity. Returns the number of matching entries (0 =
 * unknown device), or -1 on allocation failure. *groups is malloc'd (caller
 * frees each string and the array).
 */
int static_groups_lookup(const struct static_group_entry *entries, size_t n, const char *identity,
                         char ***groups, size_t *n_groups);

#endif

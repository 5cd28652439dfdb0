/* RFC 4515 filter templates: the pure half of the directory client. */
#ifndef AUTHD_LDAP_FILTER_H
#define AUTHD_LDAP_FILTER_H

#include <stddef.h>

/*
 * Expands a filter template: each "%{name}" is replaced by the escaped value
 * of that variable (RFC 4515: '*', '(', ')', '\\' and NUL as \2a \28 \29 \5c
 * \00). Pure; returns a malloc'd string, or NULL for an unknown variable or a
 * template that is not a well-formed filter shape: one parenthesized filter,
 * balanced, escapes as \HH, variables only in assertion values (after an
 * item's '=').
 */
char *ldap_filter_expand(const char *template, const char *const *names,
                         const char *const *values, const size_t *value_lengths, size_t n);

#endif

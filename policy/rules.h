/* Rule matching: pure functions over the request and the device's groups. */
#ifndef AUTHD_RULES_H
#define AUTHD_RULES_H

#include <stddef.h>

#include "policy/policy.h"

struct rule_input {
	char *const *groups;        /* DNs (directory) or names (static map) */
	size_t n_groups;
	const char *nas;
	unsigned nas_port_type;     /* 0 = not sent */
	const char *ssid;           /* NULL = not sent */
	const char *issuer_dn;      /* RFC 2253 */
};

/* Index of the first matching rule, or -1. */
int rules_first_match(const struct policy_rule *rules, size_t n, const struct rule_input *in);

/* The value of a leading "CN=" RDN of an RFC 2253 DN (unescaped) into out;
 * 0, or -1 when the DN does not start with a CN. */
int rules_leading_cn(const char *dn, char *out, size_t outlen);

#endif

#include "policy/rules.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

int rules_leading_cn(const char *dn, char *out, size_t outlen)
{
	size_t n = 0;

	while (*dn == ' ')
		dn++;
	if (strncasecmp(dn, "cn=", 3) != 0 || outlen == 0)
		return -1;
	for (dn += 3; *dn != '\0' && *dn != ',' && *dn != '+'; dn++) {
		if (*dn == '\\' && dn[1] != '\0')
			dn++;   /* RFC 4514 escape: the next character is literal */
		if (n + 1 >= outlen)
			return -1;
		out[n++] = *dn;
	}
	out[n] = '\0';
	return 0;
}

/* A rule's name for a group or issuer matches a DN itself or the DN's CN. */
static bool names_dn(const char *want, const char *dn)
{
	char cn[256];

	if (strcasecmp(want, dn) == 0)
		return true;
	return rules_leading_cn(dn, cn, sizeof(cn)) == 0 && strcasecmp(want, cn) == 0;
}

static bool rule_matches(const struct policy_rule *r, const struct rule_input *in)
{
	bool in_group = false;

	for (size_t i = 0; i < in->n_groups && !in_group; i++)
		in_group = names_dn(r->group, in->groups[i]);
	if (!in_group)
		return false;
	if (r->nas_port_type != 0 && r->nas_port_type != in->nas_port_type)
		return false;
	/* SSIDs are case-sensitive octet strings (IEEE 802.11). */
	if (r->ssid != NULL && (in->ssid == NULL || strcmp(r->ssid, in->ssid) != 0))
		return false;
	if (r->nas != NULL && strcmp(r->nas, in->nas) != 0)
		return false;
	if (r->issuer != NULL && (in->issuer_dn == NULL || !names_dn(r->issuer, in->issuer_dn)))
		return false;
	return true;
}

int rules_first_match(const struct policy_rule *rules, size_t n, const struct rule_input *in)
{
	for (size_t i = 0; i < n; i++) {
		if (rule_matches(&rules[i], in))
			return (int)i;
	}
	return -1;
}

int rules_port_type(const char *name, unsigned *out)
{
	if (strcmp(name, "Ethernet") == 0)
		*out = NAS_PORT_TYPE_ETHERNET;
	else if (strcmp(name, "Wireless-802.11") == 0)
		*out = NAS_PORT_TYPE_WIRELESS;
	else
		return -1;
	return 0;
}

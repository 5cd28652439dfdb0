/* Rule matching: pure functions over the request and the device's groups. */
#ifndef AUTHD_RULES_H
#define AUTHD_RULES_H

#include <stddef.h>

/* RFC 2865 NAS-Port-Type values rules can name. */
#define NAS_PORT_TYPE_ETHERNET 15
#define NAS_PORT_TYPE_WIRELESS 19

struct policy_rule {
	char *name;
	char *group;                /* group DN, or the CN of a group DN (case-insensitive) */
	unsigned nas_port_type;     /* 0 = any */
	char *ssid;                 /* NULL = any */
	char *nas;                  /* client name; NULL = any */
	char *issuer;               /* issuer DN or its CN; NULL = any */
	char *vlan;
	unsigned session_timeout;   /* 0 = none */
	int termination_action;     /* -1 = none, else RFC 2865 value (1 = RADIUS-Request) */
	char *filter_id;            /* NULL = none */
	char *class_attr;           /* NULL = none */
};

struct rule_input {
	char *const *groups;        /* DNs (directory) or names (static map) */
	size_t n_groups;
	const char *nas;
	unsigned nas_port_type;     /* 0 = not sent */
	const char *ssid;           /* NULL = not sent */
	const char *issuer_dn;      /* RFC 2253 */
};

/* A NAS-Port-Type by its RFC 2865 name, as rules and `authd --explain` take
 * it: "Ethernet" or "Wireless-802.11". 0, or -1 for any other name. */
int rules_port_type(const char *name, unsigned *out);

/* Index of the first matching rule, or -1. */
int rules_first_match(const struct policy_rule *rules, size_t n, const struct rule_input *in);

/* The value of a leading "CN=" RDN of an RFC 2253 DN (unescaped) into out;
 * 0, or -1 when the DN does not start with a CN. */
int rules_leading_cn(const char *dn, char *out, size_t outlen);

#endif

/* Parsing of the placement sections (identity, ldap, groups, policy). */
#ifndef AUTHD_CONFIG_POLICY_H
#define AUTHD_CONFIG_POLICY_H

#include "authd/config.h"

struct config_parser;

/* Fills cfg->policy; needs cfg->clients parsed first (rules may name a NAS). */
int config_policy_parse(struct config_parser *p, struct authd_config *cfg);
/* Frees every string and array config_policy_parse put in s (even after a
 * failed parse), and zeroes s. */
void config_policy_clear(struct policy_settings *s);

#endif

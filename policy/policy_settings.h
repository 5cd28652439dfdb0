/*
 * What the config says about placement: apart from policy.h so that a holder
 * of the settings (authd's config) needs nothing else of the policy.
 */
#ifndef AUTHD_POLICY_SETTINGS_H
#define AUTHD_POLICY_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/cert_identity.h"
#include "policy/revocation_settings.h"

struct ldap_settings;
struct policy_rule;
struct static_group_entry;

enum policy_fallback { POLICY_REJECT, POLICY_QUARANTINE };

/* Everything the config says about placement; strings are owned by the
 * config that filled it (and freed by it). */
struct policy_settings {
	bool placement;             /* rules configured; without them a valid certificate is
	                               accepted with no VLAN (certificate-only mode) */
	enum identity_source sources[IDENTITY_SOURCE_COUNT];
	size_t n_sources;
	bool match_eap_identity;
	bool reply_eap_identity;    /* the Access-Accept's User-Name is the EAP identity the device
	                               sent, not its verified certificate identity */
	struct ldap_settings *ldap;             /* NULL: the static map serves */
	struct static_group_entry *static_groups;
	size_t n_static_groups;
	struct policy_rule *rules;
	size_t n_rules;
	enum policy_fallback no_match;          /* unknown device or no rule matched */
	enum policy_fallback directory_unavailable;
	char *quarantine_vlan;                  /* required when either fallback quarantines */
	struct revocation_settings revocation;
};

#endif

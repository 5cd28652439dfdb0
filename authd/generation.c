#include "authd/generation.h"

#include <stdio.h>
#include <stdlib.h>

#include "authd/authd_metrics.h"
#include "authd/client.h"
#include "authd/log.h"
#include "common/name_table.h"
#include "eap/eap_tls.h"
#include "policy/policy.h"

static void generation_free(struct generation *g)
{
	policy_free(g->policy);
	authd_metrics_names_free(g->names);
	eap_tls_context_free(g->tls);
	config_free(g->cfg);
	free(g->cfg);
	free(g->nas_rate);
	free(g);
}

struct generation *generation_new(unsigned number, struct authd_config *cfg, struct eap_tls_context *tls,
                                  const struct generation_deps *deps, char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof(*g));
	size_t capacity = name_table_capacity(deps->clients);
	struct policy_options opts = { .mirror = deps->mirror };

	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		config_free(cfg);
		free(cfg);
		eap_tls_context_free(tls);
		return NULL;
	}
	g->number = number;
	g->cfg = cfg;
	g->tls = tls;
	atomic_init(&g->refs, 1);
	g->nas_rate = calloc(capacity, sizeof(*g->nas_rate));
	if (g->nas_rate == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (deps->metrics != NULL &&
	    (g->names = authd_metrics_names_new(deps->metrics, cfg, err, errlen)) == NULL)
		goto fail;
	opts.directory = authd_metrics_observer(g->names, BACKEND_DIRECTORY);
	opts.ocsp = authd_metrics_observer(g->names, BACKEND_OCSP);
	opts.crl = authd_metrics_observer(g->names, BACKEND_CRL);
	g->policy = policy_new(&cfg->policy, deps->redis, &opts, err, errlen);
	if (g->policy == NULL)
		goto fail;
	/* Last: a name interned stays for the process's life, so a config that
	 * fails another check takes no room. */
	if (client_names_index(deps->clients, cfg->clients, cfg->n_clients, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct client *c = &cfg->clients[i];

		rate_limit_init(&g->nas_rate[c->index], c->max_requests_per_second);
		if (!c->require_message_authenticator)
			log_msg(LOG_WARNING, "client %s: require_message_authenticator is off: requests without "
			        "Message-Authenticator are accepted (BlastRADIUS, CVE-2024-3596)", c->name);
	}
	return g;
fail:
	generation_free(g);
	return NULL;
}

struct generation *generation_ref(struct generation *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

void generation_unref(struct generation *g)
{
	if (g != NULL && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) {
		log_msg(LOG_DEBUG, "config generation %u: its last conversation ended, freed", g->number);
		generation_free(g);
	}
}

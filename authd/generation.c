#include "authd/generation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void generation_tls_stamps(const struct authd_config *cfg, struct file_stamp *out)
{
	const char *const files[GENERATION_TLS_FILES] = { cfg->tls.certificate, cfg->tls.private_key, cfg->tls.ca };

	for (int i = 0; i < GENERATION_TLS_FILES; i++)
		out[i] = file_stamp_of(files[i]);
}

int generation_files_read(const char *path, struct generation_files *out, char *err, size_t errlen)
{
	char why[512];

	memset(out, 0, sizeof(*out));
	if ((out->cfg = malloc(sizeof(*out->cfg))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (config_load(path, out->cfg, err, errlen) < 0) {
		free(out->cfg);
		out->cfg = NULL;
		return -1;
	}
	generation_tls_stamps(out->cfg, out->tls_stamps);
	if ((out->tls = eap_tls_context_new(&out->cfg->tls, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s:%d: tls: %s", path, out->cfg->tls_line, why);
		generation_files_clear(out);
		return -1;
	}
	return 0;
}

void generation_files_clear(struct generation_files *f)
{
	eap_tls_context_free(f->tls);
	if (f->cfg != NULL) {
		config_free(f->cfg);
		free(f->cfg);
	}
	memset(f, 0, sizeof(*f));
}

struct generation *generation_new(unsigned number, struct generation_files *files,
                                  const struct generation_deps *deps, char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof(*g));
	size_t capacity = name_table_capacity(deps->clients);
	struct policy_options opts = { .mirror = deps->mirror };
	struct authd_config *cfg = files->cfg;

	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		generation_files_clear(files);
		return NULL;
	}
	g->number = number;
	g->cfg = cfg;
	g->tls = files->tls;
	memcpy(g->tls_files, files->tls_stamps, sizeof(g->tls_files));
	memset(files, 0, sizeof(*files));
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

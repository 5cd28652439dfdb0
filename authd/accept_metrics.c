#include "authd/accept_metrics.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "authd/config.h"
#include "common/cert_names.h"
#include "common/clock.h"
#include "common/expiry_horizon.h"
#include "common/metrics.h"
#include "common/name_table.h"
#include "common/utc_time.h"
#include "policy/decision.h"
#include "policy/rules.h"

/* authd_device_certificates_expiring's horizons, ascending, and their labels. */
#define N_HORIZONS 3
static const unsigned horizon_days[N_HORIZONS] = { 7, 30, 90 };
static const char *const horizon_labels[N_HORIZONS] = { "7d", "30d", "90d" };
/* A CA's subject as a label value: room for any real CA's name, and a bound
 * on what a CA file puts in every scrape. */
#define CA_LABEL_MAX 256
/* Certificates past the window forgotten per sweep: at a sweep a second, a
 * full table whose devices all left at once empties in under a minute, and
 * an accept never waits on more than this. */
#define SWEEP_MAX 4096

struct accept_metrics {
	struct expiry_horizon *horizon;
	EVP_MD *sha256;                  /* fetched once, not implicitly per accept */
	/* authd_placements_total's labels: "" (no rule: the quarantine
	 * fallback, or certificate-only mode) then the rule names; "" (no VLAN)
	 * then the VLANs of the rules and the quarantine VLAN. The CAs of tls.ca
	 * by subject. Of every generation; owned. */
	struct name_table *rules, *vlans, *cas;
	struct metrics_family *placements, *seen, *expiring, *forgotten, *server_expiry, *ca_expiry;
};

struct ca {
	char name[CA_LABEL_MAX];
	int64_t not_after;
};

struct accept_names {
	struct accept_metrics *am;
	/* Per rule of the generation (its rule_index): its name, its VLAN (""
	 * for none), then their label values once interned. */
	const char **rule_names, **rule_vlans;
	size_t n_rules;
	size_t *rule, *rule_vlan;
	const char *quarantine_name;     /* "" when none */
	size_t quarantine_vlan;
	struct ca *ca;                   /* tls.ca's subjects, each once */
	size_t n_cas;
	size_t *ca_label;
	int64_t server_not_after;
};

/* notAfter of the first certificate in a PEM file; 0 when unreadable. */
static int64_t first_not_after(const char *path)
{
	BIO *in = path != NULL ? BIO_new_file(path, "r") : NULL;
	X509 *x = in != NULL ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
	time_t t = 0;

	if (x == NULL || utc_time_from_asn1(X509_get0_notAfter(x), &t) < 0)
		t = 0;
	X509_free(x);
	BIO_free(in);
	ERR_clear_error();
	return t;
}

/*
 * Every certificate of the file at path into *cas (malloc'd; *n of them):
 * its subject (RFC 2253, ASCII, capped) and notAfter. The same subject
 * twice (a renewed CA next to the one it replaces) is one series with the
 * soonest notAfter: the one to act on. An unreadable file gives none; -1
 * when out of memory.
 */
static int read_cas(const char *path, struct ca **cas, size_t *n)
{
	BIO *in = path != NULL ? BIO_new_file(path, "r") : NULL;
	size_t cap = 0, i;
	X509 *x;
	int rc = -1;

	*cas = NULL;
	*n = 0;
	while (in != NULL && (x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		char name[CA_LABEL_MAX];
		time_t t;
		int bad;

		cert_name_ascii(X509_get_subject_name(x), name, sizeof(name));
		bad = utc_time_from_asn1(X509_get0_notAfter(x), &t);
		X509_free(x);
		if (bad)
			continue;
		for (i = 0; i < *n && strcmp((*cas)[i].name, name) != 0; i++)
			;
		if (i < *n) {
			if (t < (*cas)[i].not_after)
				(*cas)[i].not_after = t;
			continue;
		}
		if (*n == cap) {
			size_t more = cap ? 2 * cap : 8;
			struct ca *grown = realloc(*cas, more * sizeof(**cas));

			if (grown == NULL)
				goto out;
			*cas = grown;
			cap = more;
		}
		memcpy((*cas)[*n].name, name, sizeof(name));
		(*cas)[(*n)++].not_after = t;
	}
	rc = 0;
out:
	/* The end of the file is an error to PEM_read_bio_X509. */
	ERR_clear_error();
	BIO_free(in);
	return rc;
}

static int register_families(struct accept_metrics *am, struct metrics *m)
{
	const struct metrics_label placement[] = {
		{ "rule", name_table_values(am->rules), name_table_capacity(am->rules) },
		{ "vlan", name_table_values(am->vlans), name_table_capacity(am->vlans) } };
	const struct metrics_label within = { "within", horizon_labels, N_HORIZONS };
	const struct metrics_label ca = { "ca", name_table_values(am->cas), name_table_capacity(am->cas) };

	am->placements = metrics_counter(m, "authd_placements_total",
	                                 "Accepts by the rule that placed them and its VLAN (rule empty: the "
	                                 "quarantine fallback or certificate-only mode; vlan empty: none).",
	                                 placement, 2);
	am->seen = metrics_gauge(m, "authd_device_certificates_seen",
	                         "Distinct device certificates this node accepted in the last "
	                         "metrics.device_window_days days.", NULL, 0);
	am->expiring = metrics_gauge(m, "authd_device_certificates_expiring",
	                             "Of authd_device_certificates_seen, those expiring by the UTC day this many "
	                             "days from now (expired ones included).", &within, 1);
	am->forgotten = metrics_counter(m, "authd_device_certificates_forgotten_total",
	                                "Device certificates dropped from the horizon before their window ended "
	                                "because it held metrics.max_tracked_devices.", NULL, 0);
	am->server_expiry = metrics_gauge(m, "authd_server_certificate_expiry_timestamp_seconds",
	                                  "notAfter of tls.certificate, in seconds since the Unix epoch.", NULL, 0);
	am->ca_expiry = metrics_gauge(m, "authd_ca_certificate_expiry_timestamp_seconds",
	                              "notAfter of each CA in tls.ca, by subject (RFC 2253), in seconds since the "
	                              "Unix epoch (0: the config in force no longer names it).", &ca, 1);
	if (am->placements == NULL || am->seen == NULL || am->expiring == NULL || am->forgotten == NULL ||
	    am->server_expiry == NULL || am->ca_expiry == NULL)
		return -1;
	metrics_label_published(am->placements, 0, name_table_published(am->rules));
	metrics_label_published(am->placements, 1, name_table_published(am->vlans));
	metrics_label_published(am->ca_expiry, 0, name_table_published(am->cas));
	return 0;
}

/* A table with room for n names and reloads, "" first when empty_first. */
static struct name_table *labels_new(size_t n, bool empty_first)
{
	struct name_table *t = name_table_new(name_table_capacity_for(n + empty_first));

	if (t != NULL && empty_first && name_table_intern(t, "") != 0) {
		name_table_free(t);
		return NULL;
	}
	return t;
}

struct accept_metrics *accept_metrics_new(struct metrics *m, const struct authd_config *cfg)
{
	struct accept_metrics *am = calloc(1, sizeof(*am));
	struct ca *cas = NULL;
	size_t n_cas = 0;

	if (am == NULL)
		return NULL;
	am->horizon = expiry_horizon_new(cfg->metrics.max_tracked_devices,
	                                 (uint64_t)cfg->metrics.device_window_days * 86400 * 1000, time(NULL));
	am->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	/* Counted for the room only: each generation reads its own. */
	if (read_cas(cfg->tls.ca, &cas, &n_cas) < 0)
		goto fail;
	free(cas);
	am->rules = labels_new(cfg->policy.n_rules, true);
	am->vlans = labels_new(cfg->policy.n_rules + 1, true);
	am->cas = labels_new(n_cas, false);
	if (am->horizon == NULL || am->sha256 == NULL || am->rules == NULL || am->vlans == NULL || am->cas == NULL ||
	    register_families(am, m) < 0)
		goto fail;
	return am;
fail:
	accept_metrics_free(am);
	return NULL;
}

void accept_metrics_free(struct accept_metrics *am)
{
	if (am == NULL)
		return;
	expiry_horizon_free(am->horizon);
	EVP_MD_free(am->sha256);
	name_table_free(am->rules);
	name_table_free(am->vlans);
	name_table_free(am->cas);
	free(am);
}

struct accept_names *accept_names_new(struct accept_metrics *am, const struct authd_config *cfg)
{
	const struct policy_settings *p = &cfg->policy;
	struct accept_names *an = calloc(1, sizeof(*an));
	size_t n = p->n_rules > 0 ? p->n_rules : 1;

	if (an == NULL)
		return NULL;
	an->am = am;
	an->n_rules = p->n_rules;
	an->rule_names = calloc(n, sizeof(*an->rule_names));
	an->rule_vlans = calloc(n, sizeof(*an->rule_vlans));
	an->rule = calloc(n, sizeof(*an->rule));
	an->rule_vlan = calloc(n, sizeof(*an->rule_vlan));
	if (an->rule_names == NULL || an->rule_vlans == NULL || an->rule == NULL || an->rule_vlan == NULL ||
	    read_cas(cfg->tls.ca, &an->ca, &an->n_cas) < 0 ||
	    (an->ca_label = calloc(an->n_cas > 0 ? an->n_cas : 1, sizeof(*an->ca_label))) == NULL) {
		accept_names_free(an);
		return NULL;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		an->rule_names[i] = p->rules[i].name;
		an->rule_vlans[i] = p->rules[i].vlan != NULL ? p->rules[i].vlan : "";
	}
	an->quarantine_name = p->quarantine_vlan != NULL ? p->quarantine_vlan : "";
	an->server_not_after = first_not_after(cfg->tls.certificate);
	return an;
}

void accept_names_free(struct accept_names *an)
{
	if (an == NULL)
		return;
	free(an->rule_names);
	free(an->rule_vlans);
	free(an->rule);
	free(an->rule_vlan);
	free(an->ca);
	free(an->ca_label);
	free(an);
}

int accept_names_check(const struct accept_names *an, char *err, size_t errlen)
{
	const char **vlans = calloc(an->n_rules + 1, sizeof(*vlans));
	const char **cas = calloc(an->n_cas > 0 ? an->n_cas : 1, sizeof(*cas));
	int rc = -1;

	if (vlans == NULL || cas == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(vlans, an->rule_vlans, an->n_rules * sizeof(*vlans));
	vlans[an->n_rules] = an->quarantine_name;
	for (size_t i = 0; i < an->n_cas; i++)
		cas[i] = an->ca[i].name;
	if (name_table_check_room(an->am->rules, an->rule_names, an->n_rules, 0, "rule name(s)", err, errlen) < 0 ||
	    name_table_check_room(an->am->vlans, vlans, an->n_rules + 1, 0, "VLAN(s)", err, errlen) < 0 ||
	    name_table_check_room(an->am->cas, cas, an->n_cas, 0, "CA subject(s) in tls.ca", err, errlen) < 0)
		goto out;
	rc = 0;
out:
	free(vlans);
	free(cas);
	return rc;
}

/* The index of name in t, interned if new; -1 when it cannot be. */
static int intern(struct name_table *t, const char *name, size_t *index)
{
	long i = name_table_intern(t, name);

	if (i < 0)
		return -1;
	*index = (size_t)i;
	return 0;
}

int accept_names_intern(struct accept_names *an)
{
	struct accept_metrics *am = an->am;

	for (size_t i = 0; i < an->n_rules; i++) {
		if (intern(am->rules, an->rule_names[i], &an->rule[i]) < 0 ||
		    intern(am->vlans, an->rule_vlans[i], &an->rule_vlan[i]) < 0)
			return -1;
	}
	if (intern(am->vlans, an->quarantine_name, &an->quarantine_vlan) < 0)
		return -1;
	for (size_t i = 0; i < an->n_cas; i++) {
		if (intern(am->cas, an->ca[i].name, &an->ca_label[i]) < 0)
			return -1;
	}
	return 0;
}

void accept_metrics_use(struct accept_metrics *am, const struct accept_names *from, const struct accept_names *to)
{
	if (am == NULL)
		return;
	for (size_t i = 0; from != NULL && i < from->n_cas; i++) {
		bool named = false;

		for (size_t j = 0; to != NULL && j < to->n_cas && !named; j++)
			named = to->ca_label[j] == from->ca_label[i];
		if (!named)
			metrics_set(am->ca_expiry, from->ca_label[i], 0);
	}
	if (to == NULL)
		return;
	for (size_t i = 0; i < to->n_cas; i++)
		metrics_set(am->ca_expiry, to->ca_label[i], to->ca[i].not_after);
	metrics_set(am->server_expiry, 0, to->server_not_after);
}

void accept_metrics_collect(struct accept_metrics *am)
{
	size_t counts[N_HORIZONS];

	expiry_horizon_count(am->horizon, time(NULL), horizon_days, counts, N_HORIZONS);
	for (size_t i = 0; i < N_HORIZONS; i++)
		metrics_set(am->expiring, i, (int64_t)counts[i]);
	metrics_set(am->seen, 0, (int64_t)expiry_horizon_tracked(am->horizon));
	metrics_set(am->forgotten, 0, (int64_t)expiry_horizon_forgotten(am->horizon));
}

void accept_metrics_accept(struct accept_metrics *am, const struct accept_names *an, const struct decision *dec)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned digest_len;
	size_t rule, vlan;
	time_t not_after;

	if (dec->rule_index >= 0 && (size_t)dec->rule_index < an->n_rules) {
		rule = an->rule[dec->rule_index];
		vlan = an->rule_vlan[dec->rule_index];
	} else {
		/* Only the quarantine fallback gives a VLAN without a rule. */
		rule = 0;
		vlan = dec->vlan != NULL ? an->quarantine_vlan : 0;
	}
	metrics_add(am->placements, metrics_series(am->placements, (size_t[]){ rule, vlan }), 1);
	if (dec->cert != NULL && X509_digest(dec->cert, am->sha256, digest, &digest_len) == 1 &&
	    utc_time_from_asn1(X509_get0_notAfter(dec->cert), &not_after) == 0)
		expiry_horizon_see(am->horizon, digest, digest_len, not_after, clock_now_ms());
}

void accept_metrics_sweep(struct accept_metrics *am)
{
	expiry_horizon_sweep(am->horizon, clock_now_ms(), SWEEP_MAX);
}

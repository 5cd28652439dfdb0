#include "authd/accept_metrics.h"

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
	/* authd_placements_total's labels: the rule names then "" (no rule:
	 * the quarantine fallback, or certificate-only mode); every VLAN of the
	 * rules and the quarantine VLAN, once each, then "" (none). */
	const char **rules, **vlans;
	size_t n_rules, n_vlans;
	size_t *rule_vlan;               /* per rule, the index of its VLAN in vlans */
	size_t quarantine_vlan;
	struct ca {
		char name[CA_LABEL_MAX];
		int64_t not_after;
	} *ca;                           /* tls.ca's subjects, each once */
	const char **ca_labels;          /* their names, as label values */
	size_t n_cas;
	struct metrics_family *placements, *seen, *expiring, *forgotten, *server_expiry, *ca_expiry;
};

/* The index of s in values[0..n), or n. */
static size_t index_of(const char *const *values, size_t n, const char *s)
{
	size_t i = 0;

	while (i < n && strcmp(values[i], s) != 0)
		i++;
	return i;
}

/* Label values for the placements. Rule names are unique and non-empty (the
 * config sees to it), so "" is free for "no rule"; VLANs repeat across
 * rules and take one value each. */
static int placement_labels(struct accept_metrics *am, const struct policy_settings *p)
{
	am->rules = calloc(p->n_rules + 1, sizeof(*am->rules));
	am->vlans = calloc(p->n_rules + 2, sizeof(*am->vlans));
	am->rule_vlan = calloc(p->n_rules + 1, sizeof(*am->rule_vlan));
	if (am->rules == NULL || am->vlans == NULL || am->rule_vlan == NULL)
		return -1;
	for (size_t i = 0; i < p->n_rules; i++) {
		am->rules[i] = p->rules[i].name;
		am->rule_vlan[i] = index_of(am->vlans, am->n_vlans, p->rules[i].vlan);
		if (am->rule_vlan[i] == am->n_vlans)
			am->vlans[am->n_vlans++] = p->rules[i].vlan;
	}
	am->rules[p->n_rules] = "";
	am->n_rules = p->n_rules;
	if (p->quarantine_vlan != NULL) {
		am->quarantine_vlan = index_of(am->vlans, am->n_vlans, p->quarantine_vlan);
		if (am->quarantine_vlan == am->n_vlans)
			am->vlans[am->n_vlans++] = p->quarantine_vlan;
	}
	am->vlans[am->n_vlans++] = "";
	return 0;
}

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
 * Every certificate of tls.ca into am->ca: its subject (RFC 2253, ASCII,
 * capped) and notAfter. The same subject twice (a renewed CA next to the
 * one it replaces) is one series with the soonest notAfter: the one to act
 * on. An unreadable file gives no series; -1 when out of memory.
 */
static int read_cas(struct accept_metrics *am, const char *path)
{
	BIO *in = path != NULL ? BIO_new_file(path, "r") : NULL;
	size_t cap = 0, i;
	X509 *x;
	int rc = -1;

	while (in != NULL && (x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		char name[CA_LABEL_MAX];
		time_t t;
		int bad;

		cert_name_ascii(X509_get_subject_name(x), name, sizeof(name));
		bad = utc_time_from_asn1(X509_get0_notAfter(x), &t);
		X509_free(x);
		if (bad)
			continue;
		for (i = 0; i < am->n_cas && strcmp(am->ca[i].name, name) != 0; i++)
			;
		if (i < am->n_cas) {
			if (t < am->ca[i].not_after)
				am->ca[i].not_after = t;
			continue;
		}
		if (am->n_cas == cap) {
			size_t more = cap ? 2 * cap : 8;
			struct ca *grown = realloc(am->ca, more * sizeof(*am->ca));

			if (grown == NULL)
				goto out;
			am->ca = grown;
			cap = more;
		}
		memcpy(am->ca[am->n_cas].name, name, sizeof(name));
		am->ca[am->n_cas++].not_after = t;
	}
	if (am->n_cas > 0 && (am->ca_labels = calloc(am->n_cas, sizeof(*am->ca_labels))) == NULL)
		goto out;
	for (i = 0; i < am->n_cas; i++)
		am->ca_labels[i] = am->ca[i].name;
	rc = 0;
out:
	/* The end of the file is an error to PEM_read_bio_X509. */
	ERR_clear_error();
	BIO_free(in);
	return rc;
}

static int register_families(struct accept_metrics *am, struct metrics *m)
{
	const struct metrics_label placement[] = { { "rule", am->rules, am->n_rules + 1 },
	                                           { "vlan", am->vlans, am->n_vlans } };
	const struct metrics_label within = { "within", horizon_labels, N_HORIZONS };
	const struct metrics_label ca = { "ca", am->ca_labels, am->n_cas };

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
	if (am->placements == NULL || am->seen == NULL || am->expiring == NULL || am->forgotten == NULL ||
	    am->server_expiry == NULL)
		return -1;
	if (am->n_cas > 0) {
		am->ca_expiry = metrics_gauge(m, "authd_ca_certificate_expiry_timestamp_seconds",
		                              "notAfter of each CA in tls.ca, by subject (RFC 2253), in seconds "
		                              "since the Unix epoch.", &ca, 1);
		if (am->ca_expiry == NULL)
			return -1;
		for (size_t i = 0; i < am->n_cas; i++)
			metrics_set(am->ca_expiry, i, am->ca[i].not_after);
	}
	return 0;
}

struct accept_metrics *accept_metrics_new(struct metrics *m, const struct authd_config *cfg)
{
	struct accept_metrics *am = calloc(1, sizeof(*am));

	if (am == NULL)
		return NULL;
	am->horizon = expiry_horizon_new(cfg->metrics.max_tracked_devices,
	                                 (uint64_t)cfg->metrics.device_window_days * 86400 * 1000, time(NULL));
	am->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (am->horizon == NULL || am->sha256 == NULL || placement_labels(am, &cfg->policy) < 0 ||
	    read_cas(am, cfg->tls.ca) < 0 || register_families(am, m) < 0) {
		accept_metrics_free(am);
		return NULL;
	}
	metrics_set(am->server_expiry, 0, first_not_after(cfg->tls.certificate));
	return am;
}

void accept_metrics_free(struct accept_metrics *am)
{
	if (am == NULL)
		return;
	expiry_horizon_free(am->horizon);
	EVP_MD_free(am->sha256);
	free(am->rules);
	free(am->vlans);
	free(am->rule_vlan);
	free(am->ca);
	free(am->ca_labels);
	free(am);
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

void accept_metrics_accept(struct accept_metrics *am, const struct decision *dec)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned digest_len;
	size_t rule, vlan;
	time_t not_after;

	if (dec->rule_index >= 0 && (size_t)dec->rule_index < am->n_rules) {
		rule = (size_t)dec->rule_index;
		vlan = am->rule_vlan[rule];
	} else {
		/* Only the quarantine fallback gives a VLAN without a rule. */
		rule = am->n_rules;
		vlan = dec->vlan != NULL ? am->quarantine_vlan : am->n_vlans - 1;
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

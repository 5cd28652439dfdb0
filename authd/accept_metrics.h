/*
 * The metric families of what accepts say and rest on: accepts by the rule
 * that placed them and its VLAN (authd_placements_total), the expiry horizon
 * of the device certificates this node accepted lately
 * (authd_device_certificates_*), and when authd's own certificate and each
 * CA of tls.ca expire. Labels are bounded by the configuration (rule names,
 * VLANs, the CAs of tls.ca, of every generation of the config: a name keeps
 * its series across reloads); devices are tracked by certificate digest only,
 * never by identity, in a table of bounded size (common/expiry_horizon.h).
 */
#ifndef AUTHD_ACCEPT_METRICS_H
#define AUTHD_ACCEPT_METRICS_H

#include <stddef.h>

struct accept_metrics;
struct accept_names;
struct authd_config;
struct decision;
struct metrics;

/*
 * Registers the families in m, with room for cfg's rules, VLANs and CAs of
 * tls.ca and for those reloads add (common/name_table.h), and the horizon
 * with cfg's metrics settings (restart-only). Borrows m. NULL when out of
 * memory.
 */
struct accept_metrics *accept_metrics_new(struct metrics *m, const struct authd_config *cfg);
/* NULL: nothing. The families stay in the registry (freed with it). */
void accept_metrics_free(struct accept_metrics *am);

/*
 * What one generation of the config names: its rules and their VLANs (and
 * the quarantine VLAN), the CAs of tls.ca and tls.certificate, read now (a
 * file that cannot be read gives no CA, or 0 for the server certificate).
 * Made without interning (NULL when out of memory), checked, then interned,
 * one at a time. Borrows am and cfg, which must outlive it.
 */
struct accept_names *accept_names_new(struct accept_metrics *am, const struct authd_config *cfg);
/* 0 when its names fit beside those already interned; -1 with err. */
int accept_names_check(const struct accept_names *an, char *err, size_t errlen);
/* Interns them (after a check): 0, or -1 out of memory. */
int accept_names_intern(struct accept_names *an);
void accept_names_free(struct accept_names *an);
/* The swap from generation `from` (NULL: none yet) to `to` (NULL: none):
 * the server certificate's and to's CAs' expiry are to's, and a CA from
 * names that to does not reads 0. One thread at a time. */
void accept_metrics_use(struct accept_metrics *am, const struct accept_names *from, const struct accept_names *to);

/* At every scrape: mirrors the horizon into its gauges. Takes no lock an
 * accept takes. */
void accept_metrics_collect(struct accept_metrics *am);
/* An accepted decision, as logged, of a conversation of generation an: its
 * placement (by an's numbering of rules), and its device certificate into
 * the horizon (bounded work; allocates only as the table grows). May be
 * called from any thread. */
void accept_metrics_accept(struct accept_metrics *am, const struct accept_names *an, const struct decision *dec);
/* Forgets a bounded number of certificates past the window: call it
 * periodically (every second). */
void accept_metrics_sweep(struct accept_metrics *am);

#endif

/*
 * The metric families of what accepts say and rest on: accepts by the rule
 * that placed them and its VLAN (authd_placements_total), the expiry horizon
 * of the device certificates this node accepted lately
 * (authd_device_certificates_*), and when authd's own certificate and each
 * CA of tls.ca expire. Labels are bounded by the configuration (rule names,
 * VLANs, the CAs of tls.ca); devices are tracked by certificate digest only,
 * never by identity, in a table of bounded size (common/expiry_horizon.h).
 */
#ifndef AUTHD_ACCEPT_METRICS_H
#define AUTHD_ACCEPT_METRICS_H

struct accept_metrics;
struct authd_config;
struct decision;
struct metrics;

/*
 * Registers the families in m for this config: its rules, tls.certificate
 * and tls.ca (read now; a file that cannot be read leaves its series out, or
 * 0 for the server certificate) and the metrics settings of the horizon.
 * Borrows cfg (rule names and VLANs label series), which must outlive the
 * result. NULL when out of memory.
 */
struct accept_metrics *accept_metrics_new(struct metrics *m, const struct authd_config *cfg);
/* NULL: nothing. The families stay in the registry (freed with it). */
void accept_metrics_free(struct accept_metrics *am);
/* At every scrape: mirrors the horizon into its gauges. Takes no lock an
 * accept takes. */
void accept_metrics_collect(struct accept_metrics *am);
/* An accepted decision, as logged: its placement, and its device
 * certificate into the horizon (bounded work; allocates only as the table
 * grows). May be called from any thread. */
void accept_metrics_accept(struct accept_metrics *am, const struct decision *dec);
/* Forgets a bounded number of certificates past the window: call it
 * periodically (every second). */
void accept_metrics_sweep(struct accept_metrics *am);

#endif

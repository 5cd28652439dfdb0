/*
 * What the config says to the metrics endpoint (the "metrics" group): apart
 * from metrics_listener.h so that the config needs nothing else of it.
 */
#ifndef AUTHD_METRICS_SETTINGS_H
#define AUTHD_METRICS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip_prefix.h"

struct metrics_settings {
	bool enabled;              /* a metrics group is present: off unless configured */
	char *address;             /* an IPv4 or IPv6 literal */
	uint16_t port;
	struct ip_prefix *allow;   /* who may scrape; loopback when the config names none */
	size_t n_allow;
	/* TLS, all NULL for plain HTTP. With client_ca, a scraper must show a
	 * certificate issued by it. */
	char *certificate;
	char *private_key;
	char *client_ca;
	/* The device certificate expiry horizon: certificates accepted in the
	 * last device_window_days days, at most max_tracked_devices of them. */
	unsigned device_window_days;
	unsigned max_tracked_devices;
	int line;                  /* where the group starts, for later errors */
};

#endif

/*
 * authd: RADIUS server for 802.1X device authentication by certificate.
 *
 *   authd -c FILE       serve in the foreground, log to stderr, stop on SIGTERM
 *   authd -C -c FILE    check FILE and exit: 0 if it would start
 *   authd --explain CERT.pem [...] -c FILE
 *                       what that device would get, without a handshake
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/thread.h>

#include "authd/config.h"
#include "authd/explain.h"
#include "authd/log.h"
#include "authd/metrics_listener.h"
#include "authd/privileges.h"
#include "authd/radius.h"
#include "authd/server.h"
#include "authd/service_notify.h"
#include "eap/eap_tls.h"
#include "common/redis_pool.h"
#include "common/report.h"
#include "policy/policy.h"
#include "policy/rules.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: authd [-C] -c FILE\n"
	             "       authd --explain CERT.pem [--identity EAP_IDENTITY] [--nas NAME]\n"
	             "             [--nas-port-type Ethernet|Wireless-802.11] [--ssid SSID] -c FILE\n"
	             "  -c FILE   configuration file (libconfig syntax)\n"
	             "  -C        check the configuration and exit\n"
	             "  --explain print the identity, directory entry, groups, rule and result a\n"
	             "            device with this certificate would get (exit 0 accept, 3 reject)\n"
	             "  -h        this help\n");
}

/* A SIGTERM during the start is a request to stop, not an error: exit 0. */
static bool stopped_while_starting(int *rc)
{
	if (!server_stop_pending())
		return false;
	log_msg(LOG_INFO, "signal received while starting: stopping");
	*rc = 0;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "explain", required_argument, NULL, 'E' },
		{ "identity", required_argument, NULL, 'I' },
		{ "nas", required_argument, NULL, 'N' },
		{ "nas-port-type", required_argument, NULL, 'P' },
		{ "ssid", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct explain_request explain = { 0 };
	const char *path = NULL;
	bool check_only = false;
	struct authd_config cfg;
	struct server *server = NULL;
	char err[1024];
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "c:Ch", long_options, NULL)) != -1) {
		switch (opt) {
		case 'E':
			explain.cert_file = optarg;
			break;
		case 'I':
			explain.eap_identity = optarg;
			break;
		case 'N':
			explain.nas = optarg;
			break;
		case 'P':
			if (rules_port_type(optarg, &explain.nas_port_type) < 0) {
				fprintf(stderr, "authd: --nas-port-type must be Ethernet or Wireless-802.11\n");
				return 2;
			}
			break;
		case 'S':
			explain.ssid = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (explain.cert_file == NULL && (explain.eap_identity != NULL || explain.nas != NULL ||
	                                  explain.nas_port_type != 0 || explain.ssid != NULL)) {
		fprintf(stderr, "authd: --identity, --nas, --nas-port-type and --ssid go with --explain\n");
		return 2;
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Before any thread exists, so every thread inherits the mask and the
	 * main thread alone takes signals with sigwait(). */
	server_block_signals();
	/* A directory connection that died under us must fail a write with
	 * EPIPE, not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	if (privileges_harden(err, sizeof(err)) < 0 || radius_init(err, sizeof(err)) < 0 ||
	    evthread_use_pthreads() < 0) {
		fprintf(stderr, "authd: %s\n", err);
		return 1;
	}
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	log_set_level(cfg.log_level);
	log_detect_journal();
	report_set_sink(log_report_line);
	if (explain.cert_file != NULL) {
		rc = explain_run(&cfg, &explain);
		goto out;
	}
	if (check_only) {
		/* As the server reads them: the TLS files and the metrics
		 * endpoint's as root, then, as the configured user, what the
		 * policy loads beyond them (CRLs, directory settings). */
		struct eap_tls_context *tls = eap_tls_context_new(&cfg.tls, err, sizeof(err));
		struct redis_pool *redis = NULL;
		struct policy *policy = NULL;

		if (tls == NULL) {
			fprintf(stderr, "%s:%d: tls: %s\n", path, cfg.tls_line, err);
			goto out;
		}
		eap_tls_context_free(tls);
		if (metrics_listener_check(&cfg.metrics, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s:%d: %s\n", path, cfg.metrics.line, err);
			goto out;
		}
		if (privileges_drop(cfg.user, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", path, err);
			goto out;
		}
		if ((cfg.redis != NULL && (redis = redis_pool_new(cfg.redis, err, sizeof(err))) == NULL) ||
		    (policy = policy_new(&cfg.policy, redis, &(struct policy_options){ .dry_run = true }, err,
		                         sizeof(err))) == NULL) {
			fprintf(stderr, "%s:%d: %s\n", path, cfg.policy.revocation.line, err);
			redis_pool_free(redis);
			goto out;
		}
		policy_free(policy);
		redis_pool_free(redis);
		printf("%s: configuration OK\n", path);
		rc = 0;
		goto out;
	}
	log_use_syslog(cfg.log_syslog_facility);
	service_notify_init();
	if (stopped_while_starting(&rc))
		goto out;
	server = server_new(&cfg, err, sizeof(err));
	if (server == NULL) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	if (stopped_while_starting(&rc))
		goto out;
	switch (server_run(server)) {
	case SERVER_STOPPED:
		rc = 0;
		break;
	case SERVER_ABANDONED:
		/* Backend threads still hold the server's state: free nothing under them. */
		_exit(0);
	case SERVER_FAILED:
		break;
	}
out:
	server_free(server);
	config_free(&cfg);
	return rc;
}

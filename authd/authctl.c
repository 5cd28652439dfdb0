/*
 * authctl: the helpdesk's tool. Revocations go to the list in Redis that
 * every authd node consults on each authentication.
 *
 *   authctl -c FILE revoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME) --reason TEXT
 *   authctl -c FILE unrevoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME)
 *   authctl -c FILE revocations [--json]
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "authd/config.h"
#include "policy/cert_names.h"
#include "policy/helpdesk.h"
#include "policy/json_buf.h"

struct target {
	const char *cert_file, *serial, *issuer_file, *identity, *reason;
	bool json;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: authctl -c FILE revoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME)\n"
	             "                       --reason TEXT\n"
	             "       authctl -c FILE unrevoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME)\n"
	             "       authctl -c FILE revocations [--json]\n");
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (x == NULL)
		fprintf(stderr, "authctl: %s: no PEM certificate\n", path);
	return x;
}

/* The trusted CA in tls.ca that issued cert (name and signature). */
static X509 *find_issuer(const char *ca_file, X509 *cert)
{
	FILE *f = fopen(ca_file, "r");
	X509 *ca, *found = NULL;

	while (f != NULL && found == NULL && (ca = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (X509_check_issued(ca, cert) == X509_V_OK)
			found = ca;
		else
			X509_free(ca);
	}
	if (f != NULL)
		fclose(f);
	if (found == NULL)
		fprintf(stderr, "authctl: no CA in %s issued this certificate\n", ca_file);
	return found;
}

/* A device by name: the certificate it last authenticated with on any node. */
static int identify_by_name(struct helpdesk *h, const char *identity, struct cert_ref *id,
                            struct revocation_record *rec)
{
	char err[512];
	int rc = helpdesk_lookup_identity(h, identity, id, err, sizeof(err));

	if (rc <= 0) {
		fprintf(stderr, "authctl: %s\n", rc < 0 ? err : "no authentication of that identity is on record");
		return -1;
	}
	snprintf(rec->subject, sizeof(rec->subject), "identity %s", identity);
	snprintf(rec->issuer, sizeof(rec->issuer), "issuer key %s", id->issuer_key_hash);
	return 0;
}

/* Resolves the target to the list's key and, for revoke, the audit record. */
static int identify(struct helpdesk *h, const struct authd_config *cfg, const struct target *t,
                    struct cert_ref *id, struct revocation_record *rec)
{
	X509 *cert = NULL, *issuer = NULL;
	int rc = -1;

	memset(rec, 0, sizeof(*rec));
	if (t->identity != NULL)
		return identify_by_name(h, t->identity, id, rec);
	if (t->cert_file != NULL) {
		cert = read_cert(t->cert_file);
		issuer = cert != NULL ? find_issuer(cfg->tls.ca, cert) : NULL;
	} else if (t->serial != NULL && t->issuer_file != NULL) {
		issuer = read_cert(t->issuer_file);
	} else {
		usage(stderr);
		return -1;
	}
	if (issuer == NULL)
		goto out;
	if (cert_ref_make(cert, issuer, t->serial, id) < 0) {
		fprintf(stderr, "authctl: cannot identify the certificate (serial must be hex)\n");
		goto out;
	}
	if (cert != NULL)
		cert_name_string(X509_get_subject_name(cert), rec->subject, sizeof(rec->subject));
	cert_name_string(X509_get_subject_name(issuer), rec->issuer, sizeof(rec->issuer));
	rc = 0;
out:
	X509_free(cert);
	X509_free(issuer);
	return rc;
}

/* Who runs the command: the admin behind sudo, else the user. */
static void who(char *out, size_t len)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());

	snprintf(out, len, "%s", sudo != NULL ? sudo : pw != NULL ? pw->pw_name : "unknown");
}

static void now_iso(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_entry(const struct cert_ref *id, const struct revocation_record *rec, void *arg)
{
	const struct target *t = arg;
	struct json_buf b;
	char *line;

	if (!t->json) {
		printf("serial %s  issuer %s  subject %s\n    revoked by %s at %s: %s\n", id->serial,
		       rec->issuer, rec->subject[0] ? rec->subject : "(unknown)", rec->by, rec->at, rec->reason);
		return;
	}
	json_buf_begin(&b);
	json_buf_string(&b, "serial", id->serial);
	json_buf_string(&b, "issuer_key_hash", id->issuer_key_hash);
	json_buf_string(&b, "issuer", rec->issuer);
	json_buf_string(&b, "subject", rec->subject);
	json_buf_string(&b, "reason", rec->reason);
	json_buf_string(&b, "by", rec->by);
	json_buf_string(&b, "at", rec->at);
	line = json_buf_finish(&b);
	if (line != NULL)
		fputs(line, stdout);
	free(line);
}

static int run(struct helpdesk *h, const struct authd_config *cfg, const char *cmd,
               struct target *t)
{
	struct revocation_record rec;
	struct cert_ref id;
	char err[512];
	int rc;

	if (strcmp(cmd, "revocations") == 0)
		return helpdesk_list(h, print_entry, t, err, sizeof(err)) == 0 ? 0
		       : (fprintf(stderr, "authctl: %s\n", err), 1);
	if (strcmp(cmd, "revoke") != 0 && strcmp(cmd, "unrevoke") != 0) {
		usage(stderr);
		return 2;
	}
	if (identify(h, cfg, t, &id, &rec) < 0)
		return 2;
	if (strcmp(cmd, "unrevoke") == 0) {
		rc = helpdesk_unrevoke(h, &id, err, sizeof(err));
		if (rc < 0)
			return fprintf(stderr, "authctl: %s\n", err), 1;
		printf(rc ? "unrevoked serial %s of %s\n" : "serial %s of %s was not revoked\n", id.serial,
		       rec.issuer);
		return 0;
	}
	if (t->reason == NULL || t->reason[0] == '\0') {
		fprintf(stderr, "authctl: revoke needs --reason: the audit record says why\n");
		return 2;
	}
	snprintf(rec.reason, sizeof(rec.reason), "%s", t->reason);
	who(rec.by, sizeof(rec.by));
	now_iso(rec.at, sizeof(rec.at));
	if (helpdesk_revoke(h, &id, &rec, err, sizeof(err)) < 0)
		return fprintf(stderr, "authctl: %s\n", err), 1;
	printf("revoked serial %s (%s) of %s\n    by %s at %s: %s\n", id.serial,
	       rec.subject[0] ? rec.subject : "subject unknown", rec.issuer, rec.by, rec.at, rec.reason);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "cert", required_argument, NULL, 'x' },
		{ "serial", required_argument, NULL, 's' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "identity", required_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct target t = { 0 };
	struct authd_config cfg;
	struct redis_pool *redis = NULL;
	struct helpdesk *h = NULL;
	const char *path = NULL;
	char err[1024];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'x': t.cert_file = optarg; break;
		case 's': t.serial = optarg; break;
		case 'i': t.issuer_file = optarg; break;
		case 'n': t.identity = optarg; break;
		case 'r': t.reason = optarg; break;
		case 'j': t.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (path == NULL || optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (cfg.policy.redis == NULL) {
		fprintf(stderr, "authctl: %s has no redis section: the helpdesk list lives in Redis\n", path);
		config_free(&cfg);
		return 1;
	}
	if ((redis = redis_pool_new(cfg.policy.redis, err, sizeof(err))) == NULL ||
	    (h = helpdesk_new(redis, err, sizeof(err))) == NULL)
		rc = (fprintf(stderr, "authctl: %s\n", err), 1);
	else
		rc = run(h, &cfg, argv[optind], &t);
	helpdesk_free(h);
	redis_pool_free(redis);
	config_free(&cfg);
	return rc;
}

/*
 * authctl: the helpdesk's tool. Revocations go to the list in Redis that
 * every authd node consults on each authentication, and the revoked device's
 * live sessions are ended at their NAS at once (RFC 5176).
 *
 *   authctl [-c FILE] revoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME) --reason TEXT
 *   authctl [-c FILE] unrevoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME)
 *   authctl [-c FILE] revocations [--json]
 *   authctl [-c FILE] import-crl FILE
 *   authctl [-c FILE] audit [--count N]
 *
 * FILE is authctl's own config (default /etc/authd/authctl.conf), never
 * authd.conf: the helpdesk needs neither the server's private key nor the
 * nodes' Redis key, and logs in to Redis as its own ACL user. Every change is
 * recorded under the operating-system user the command runs as.
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

#include "authd/authctl_config.h"
#include "authd/live_sessions.h"
#include "authd/radius.h"
#include "authd/session_disconnect.h"
#include "common/cert_names.h"
#include "policy/crl_store.h"
#include "policy/helpdesk.h"
#include "common/json_buf.h"
#include "policy/status_cache.h"
#include "common/utc_time.h"

struct target {
	const char *cert_file, *serial, *issuer_file, *identity, *reason;
	bool json;
	unsigned count;
};

/* What the commands work on. */
struct ctl {
	const struct authctl_config *cfg;
	struct redis_pool *redis;
	struct helpdesk *helpdesk;
	struct live_sessions *sessions;   /* NULL: sessions are off */
	struct operator_id by;
};

/* How long a serial imported from a CRL without nextUpdate stays refused
 * (authd's default revocation.cache_max_ttl); with a nextUpdate, until then. */
#define IMPORT_TTL_WITHOUT_NEXT_UPDATE_S 3600

static void usage(FILE *out)
{
	fprintf(out, "usage: authctl [-c FILE] revoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME)\n"
	             "                         --reason TEXT\n"
	             "       authctl [-c FILE] unrevoke (--cert FILE | --serial HEX --issuer FILE | --identity NAME)\n"
	             "       authctl [-c FILE] revocations [--json]\n"
	             "       authctl [-c FILE] import-crl FILE\n"
	             "       authctl [-c FILE] audit [--count N]\n"
	             "FILE: authctl's own config, default " AUTHCTL_DEFAULT_CONFIG "\n");
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

/* The trusted CA in the config's ca bundle that issued cert (name and signature). */
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
	enum helpdesk_answer rc = helpdesk_lookup_identity(h, identity, id, err, sizeof(err));

	if (rc != HELPDESK_PRESENT) {
		fprintf(stderr, "authctl: %s\n",
		        rc == HELPDESK_ERROR ? err : "no authentication of that identity is on record");
		return -1;
	}
	snprintf(rec->subject, sizeof(rec->subject), "identity %s", identity);
	snprintf(rec->issuer, sizeof(rec->issuer), "issuer key %s", id->issuer_key_hash);
	return 0;
}

/* Resolves the target to the list's key and, for revoke, the audit record. */
static int identify(struct helpdesk *h, const struct authctl_config *cfg, const struct target *t,
                    struct cert_ref *id, struct revocation_record *rec)
{
	X509 *cert = NULL, *issuer = NULL;
	int rc = -1;

	memset(rec, 0, sizeof(*rec));
	if (t->identity != NULL)
		return identify_by_name(h, t->identity, id, rec);
	if (t->cert_file != NULL) {
		cert = read_cert(t->cert_file);
		issuer = cert != NULL ? find_issuer(cfg->ca, cert) : NULL;
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

/*
 * Who runs the command: the operating-system user of the real uid, which the
 * kernel vouches for. Never an environment variable such as SUDO_USER, which
 * whoever runs the command sets as they like; behind sudo the record says
 * root (or the -u user), and sudo's own log says who that was.
 */
static void who(struct operator_id *by)
{
	struct passwd *pw = getpwuid(getuid());

	by->uid = getuid();
	if (pw != NULL)
		snprintf(by->name, sizeof(by->name), "%s", pw->pw_name);
	else
		snprintf(by->name, sizeof(by->name), "uid %lu", (unsigned long)by->uid);
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

static void audit_revocation(struct ctl *c, const char *action, const struct cert_ref *id,
                             const struct revocation_record *rec)
{
	struct json_buf b;
	char err[256], *line;

	json_buf_begin(&b);
	json_buf_string(&b, "at", rec->at);
	json_buf_string(&b, "action", action);
	json_buf_string(&b, "by", c->by.name);
	json_buf_uint(&b, "uid", (unsigned long long)c->by.uid);
	json_buf_string(&b, "serial", id->serial);
	json_buf_string(&b, "issuer_key_hash", id->issuer_key_hash);
	json_buf_string(&b, "subject", rec->subject);
	json_buf_string(&b, "reason", rec->reason);
	line = json_buf_finish(&b);
	if (line != NULL && helpdesk_audit(c->helpdesk, line, err, sizeof(err)) < 0)
		fprintf(stderr, "authctl: audit log not written: %s\n", err);
	free(line);
}

/* Ends the live sessions of a certificate just revoked; since is when the
 * revocation was recorded. Returns how many there were, or -1 when sessions
 * are off or unknown. */
static int disconnect(struct ctl *c, const struct cert_ref *id, const struct timespec *since)
{
	char err[512];
	int n;

	if (c->sessions == NULL || !c->cfg->sessions.disconnect_on_revoke)
		return -1;
	n = session_disconnect(c->cfg, c->redis, c->sessions, c->helpdesk, id, &c->by, since, stdout, err,
	                       sizeof(err));
	if (n < 0)
		fprintf(stderr, "authctl: live sessions unknown, none disconnected: %s\n", err);
	return n;
}

static int cmd_revoke(struct ctl *c, const struct target *t)
{
	struct revocation_record rec;
	struct timespec recorded;
	struct cert_ref id;
	char err[512];

	if (t->reason == NULL || t->reason[0] == '\0') {
		fprintf(stderr, "authctl: revoke needs --reason: the audit record says why\n");
		return 2;
	}
	if (identify(c->helpdesk, c->cfg, t, &id, &rec) < 0)
		return 2;
	snprintf(rec.reason, sizeof(rec.reason), "%s", t->reason);
	snprintf(rec.by, sizeof(rec.by), "%s", c->by.name);
	utc_time_format(time(NULL), rec.at, sizeof(rec.at));
	if (helpdesk_revoke(c->helpdesk, &id, &rec, err, sizeof(err)) < 0)
		return fprintf(stderr, "authctl: %s\n", err), 1;
	clock_gettime(CLOCK_MONOTONIC, &recorded);
	printf("revoked serial %s (%s) of %s\n    by %s at %s: %s\n", id.serial,
	       rec.subject[0] ? rec.subject : "subject unknown", rec.issuer, rec.by, rec.at, rec.reason);
	fflush(stdout);
	audit_revocation(c, "revoke", &id, &rec);
	if (disconnect(c, &id, &recorded) == 0)
		printf("no live session of this certificate is on record\n");
	return 0;
}

static int cmd_unrevoke(struct ctl *c, const struct target *t)
{
	struct revocation_record rec;
	struct cert_ref id;
	char err[512];
	enum helpdesk_answer rc;

	if (identify(c->helpdesk, c->cfg, t, &id, &rec) < 0)
		return 2;
	rc = helpdesk_unrevoke(c->helpdesk, &id, err, sizeof(err));
	if (rc == HELPDESK_ERROR)
		return fprintf(stderr, "authctl: %s\n", err), 1;
	printf(rc == HELPDESK_PRESENT ? "unrevoked serial %s of %s\n"
	          : "serial %s of %s was not on the list in Redis; nodes still refusing it are told to stop\n",
	       id.serial, rec.issuer);
	/* Audited either way: even without an entry in Redis the notice lifts
	 * what nodes' mirrors kept (an entry deleted behind the helpdesk's back). */
	utc_time_format(time(NULL), rec.at, sizeof(rec.at));
	if (rc == HELPDESK_ABSENT)
		snprintf(rec.reason, sizeof(rec.reason), "not on the list in Redis");
	audit_revocation(c, "unrevoke", &id, &rec);
	return 0;
}

/*
 * A CRL the CA just published: every serial it lists becomes "revoked by crl"
 * in the shared status cache, so every node refuses it whether or not it has
 * the file, and live sessions of those certificates are ended.
 */
static int cmd_import_crl(struct ctl *c, const char *path)
{
	struct status_cache *cache = NULL;
	STACK_OF(X509_REVOKED) *revoked;
	struct cached_status st = { .status = CERT_STATUS_REVOKED, .source = "crl" };
	struct revocation_record rec = { 0 };
	struct timespec recorded;
	X509 *signer = NULL;
	X509_CRL *crl;
	time_t next_update;
	char err[512] = "", issuer[256];
	int n, rc = 1;

	crl = crl_store_read_file(path, c->cfg->ca, &signer, err, sizeof(err));
	if (crl == NULL)
		return fprintf(stderr, "authctl: %s\n", err), 1;
	cert_name_string(X509_get_subject_name(signer), issuer, sizeof(issuer));
	if (utc_time_from_asn1(X509_CRL_get0_nextUpdate(crl), &next_update) < 0)
		next_update = 0;
	if (next_update != 0 && next_update <= time(NULL)) {
		fprintf(stderr, "authctl: %s: this CRL of %s is past its nextUpdate: get a current one\n",
		        path, issuer);
		goto out;
	}
	cache = status_cache_new(c->redis, IMPORT_TTL_WITHOUT_NEXT_UPDATE_S, 0, err, sizeof(err));
	if (cache == NULL)
		goto fail;
	st.learned = time(NULL);
	revoked = X509_CRL_get_REVOKED(crl);
	n = sk_X509_REVOKED_num(revoked);
	for (int i = 0; i < n; i++) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)),
		                                NULL);
		char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
		struct cert_ref id;
		int ok = hex != NULL && cert_ref_make(NULL, signer, hex, &id) == 0 &&
		         status_cache_put(cache, &id, &st, next_update, err, sizeof(err)) == 0;

		OPENSSL_free(hex);
		BN_free(bn);
		if (!ok)
			goto fail;
		clock_gettime(CLOCK_MONOTONIC, &recorded);
		snprintf(rec.subject, sizeof(rec.subject), "serial %s", id.serial);
		snprintf(rec.reason, sizeof(rec.reason), "listed in the CRL %s", path);
		utc_time_format(time(NULL), rec.at, sizeof(rec.at));
		audit_revocation(c, "import-crl", &id, &rec);
		disconnect(c, &id, &recorded);
	}
	printf("imported %d revoked serial(s) of %s from %s\n", n, issuer, path);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "authctl: %s: import stopped: %s\n", path, err[0] ? err : "out of memory");
out:
	status_cache_free(cache);
	X509_CRL_free(crl);
	X509_free(signer);
	return rc;
}

static void print_line(const char *line, void *arg)
{
	printf("%s\n", line);
}

static int run(struct ctl *c, const char *cmd, const char *arg, struct target *t)
{
	char err[512];

	if (strcmp(cmd, "revoke") == 0 && arg == NULL)
		return cmd_revoke(c, t);
	if (strcmp(cmd, "unrevoke") == 0 && arg == NULL)
		return cmd_unrevoke(c, t);
	if (strcmp(cmd, "import-crl") == 0 && arg != NULL)
		return cmd_import_crl(c, arg);
	if (strcmp(cmd, "revocations") == 0 && arg == NULL)
		return helpdesk_list(c->helpdesk, print_entry, t, err, sizeof(err)) == 0
		               ? 0 : (fprintf(stderr, "authctl: %s\n", err), 1);
	if (strcmp(cmd, "audit") == 0 && arg == NULL)
		return helpdesk_audit_list(c->helpdesk, t->count, print_line, NULL, err, sizeof(err)) == 0
		               ? 0 : (fprintf(stderr, "authctl: %s\n", err), 1);
	usage(stderr);
	return 2;
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
		{ "count", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct target t = { .count = 20 };
	struct authctl_config cfg;
	struct ctl c = { .cfg = &cfg };
	const char *path = AUTHCTL_DEFAULT_CONFIG;
	char err[1024], *end;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'x': t.cert_file = optarg; break;
		case 's': t.serial = optarg; break;
		case 'i': t.issuer_file = optarg; break;
		case 'n': t.identity = optarg; break;
		case 'r': t.reason = optarg; break;
		case 'j': t.json = true; break;
		case 'k':
			t.count = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0' || t.count == 0 || t.count > HELPDESK_AUDIT_KEEP) {
				fprintf(stderr, "authctl: --count must be 1..%d\n", HELPDESK_AUDIT_KEEP);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	if (authctl_config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "authctl: %s\n", err);
		return 1;
	}
	who(&c.by);
	/* The dictionaries encode the Disconnect-Requests. */
	if (radius_init(err, sizeof(err)) < 0 ||
	    (c.redis = redis_pool_new(&cfg.redis, err, sizeof(err))) == NULL ||
	    (c.helpdesk = helpdesk_new(c.redis, err, sizeof(err))) == NULL ||
	    (cfg.sessions.enabled &&
	     (c.sessions = live_sessions_new(c.redis, cfg.sessions.lifetime, cfg.sessions.max_per_nas, err,
	                                          sizeof(err))) == NULL)) {
		fprintf(stderr, "authctl: %s\n", err);
		goto out;
	}
	rc = run(&c, argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL, &t);
out:
	live_sessions_free(c.sessions);
	helpdesk_free(c.helpdesk);
	redis_pool_free(c.redis);
	authctl_config_free(&cfg);
	return rc;
}

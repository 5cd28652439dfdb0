#include "authd/explain.h"

#include <stdio.h>

#include <openssl/pem.h>

#include "eap/eap_tls.h"
#include "common/cert_names.h"
#include "policy/policy.h"

/* The handshake's own certificate checks. Prints one line; 0 if they pass. */
static int verify(const struct authd_config *cfg, X509 *cert, STACK_OF(X509) *chain,
                  STACK_OF(X509) **verified, enum eap_reason *reason)
{
	struct eap_tls_context *tls;
	enum eap_reason r;
	char detail[512];

	tls = eap_tls_context_new(&cfg->tls, detail, sizeof(detail));
	if (tls == NULL) {
		fprintf(stderr, "%s: tls: %s\n", cfg->path, detail);
		return -1;
	}
	r = eap_tls_verify_certificate(tls, cert, chain, verified, detail, sizeof(detail));
	eap_tls_context_free(tls);
	*reason = r;
	if (r != EAP_REASON_OK) {
		printf("certificate: rejected: %s\n", detail);
		return -1;
	}
	printf("certificate: valid (trusted issuer, validity, key usage, key strength)\n");
	return 0;
}

static int read_certs(const char *path, X509 **cert, STACK_OF(X509) **chain)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	*cert = NULL;
	*chain = sk_X509_new_null();
	if (f == NULL || *chain == NULL) {
		perror(path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	while (*cert != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(*chain, x);
	fclose(f);
	if (*cert == NULL) {
		fprintf(stderr, "%s: no PEM certificate\n", path);
		return -1;
	}
	return 0;
}

static void print_outcome(const struct authd_config *cfg, const struct decision *dec)
{
	printf("identity: %s%s%s%s\n", dec->cert_identity[0] ? dec->cert_identity : "(none)",
	       dec->identity_source ? " (" : "", dec->identity_source ? dec->identity_source : "",
	       dec->identity_source ? ")" : "");
	if (cfg->policy.ldap == NULL)
		printf("directory: static map\n");
	else if (dec->dn != NULL)
		printf("directory: %s%s (%u ms)\n", dec->dn, dec->directory_cached ? " [cached]" : "",
		       dec->directory_ms);
	else if (dec->reason == POLICY_REASON_DIRECTORY_UNAVAILABLE)
		printf("directory: unavailable: %s\n", dec->detail);
	else if (dec->reason == POLICY_REASON_UNKNOWN_DEVICE)
		printf("directory: not found\n");
	else
		printf("directory: not consulted\n");
	if (dec->revocation != NULL)
		printf("revocation: %s (%s)\n", dec->revocation,
		       dec->revocation_source != NULL ? dec->revocation_source : "no source answered");
	printf("groups:");
	for (size_t i = 0; i < dec->n_groups; i++)
		printf("%s%s", i ? "; " : " ", dec->groups[i]);
	printf("%s\n", dec->n_groups ? "" : " (none)");
	if (dec->rule_index >= 0)
		printf("rule: #%d %s\n", dec->rule_index, dec->rule_name);
	else
		printf("rule: none\n");
}

int explain_run(const struct authd_config *cfg, const struct explain_request *req)
{
	struct decision dec;
	struct policy_request preq;
	struct policy_result res;
	struct redis_pool *redis = NULL;
	struct policy *policy = NULL;
	STACK_OF(X509) *chain = NULL, *verified = NULL;
	X509 *cert = NULL;
	char text[512], err[512];
	enum eap_reason reason = EAP_REASON_CERT_INVALID;
	int rc = EXPLAIN_ERROR;

	if (read_certs(req->cert_file, &cert, &chain) < 0)
		goto out;
	/* A dry run: it reads what it must and writes nothing, in Redis or elsewhere. */
	if ((cfg->redis != NULL && (redis = redis_pool_new(cfg->redis, err, sizeof(err))) == NULL) ||
	    (policy = policy_new(&cfg->policy, redis, &(struct policy_options){ .dry_run = true }, err,
	                         sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", cfg->path, err);
		goto out;
	}
	cert_name_string(X509_get_subject_name(cert), text, sizeof(text));
	printf("subject: %s\n", text);
	cert_name_string(X509_get_issuer_name(cert), text, sizeof(text));
	printf("issuer: %s\n", text);
	decision_start(&dec, 0, req->nas != NULL ? req->nas : "");
	if (verify(cfg, cert, chain, &verified, &reason) < 0) {
		printf("result: reject (%s)\n", eap_reason_code(reason));
		rc = EXPLAIN_REJECT;
		goto done;
	}
	/* Unless told otherwise, assume the device names itself as its certificate does. */
	cert_identity(cert, cfg->policy.sources, cfg->policy.n_sources, text, sizeof(text),
	              &(enum identity_source){ 0 });
	preq = (struct policy_request){
		.cert = cert,
		.issuer = sk_X509_num(verified) > 1 ? sk_X509_value(verified, 1) : NULL,
		.chain = verified,
		.eap_identity = req->eap_identity != NULL ? req->eap_identity : text,
		.nas = req->nas != NULL ? req->nas : "",
		.nas_port_type = req->nas_port_type,
		.ssid = req->ssid,
	};
	policy_decide(policy, &preq, &dec, &res);
	print_outcome(cfg, &dec);
	if (res.accept && res.vlan != NULL)
		printf("result: accept, VLAN %s%s\n", res.vlan,
		       dec.reason == POLICY_REASON_QUARANTINE ? " (quarantine)" : "");
	else if (res.accept)
		printf("result: accept (no VLAN)\n");
	else
		printf("result: reject (%s)%s%s\n", decision_reason_code(&dec), dec.detail[0] ? ": " : "", dec.detail);
	rc = res.accept ? EXPLAIN_ACCEPT : EXPLAIN_REJECT;
done:
	decision_clear(&dec);
	policy_free(policy);
out:
	redis_pool_free(redis);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(verified, X509_free);
	return rc;
}

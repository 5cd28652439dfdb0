/*
 * bench_revocation PKI_DIR OCSP_URL REDIS_PORT|none N — what the revocation check costs one
 * authentication: policy/revocation.c's revocation_check() of the laptop certificate, N times
 * each way, against a real responder and (unless "none") a real redis-server:
 *   uncached  the cached status is dropped before each check, so each one asks the responder
 *             (and, with Redis, reads the helpdesk list and the cache, and writes the answer)
 *   cached    every check is answered by the cache (with Redis: the helpdesk list, then the cache)
 * Prints median, p99 and mean wall time and the mean CPU time of this process per check, in µs.
 * Run by tools/bench-revocation.sh; not a test (timings belong to benchmarks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/pem.h>

#include "common/cert_ref.h"
#include "common/redis_pool.h"
#include "policy/ocsp_check.h"
#include "policy/revocation.h"
#include "common/seal.h"

static X509 *load(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	if (x == NULL) {
		fprintf(stderr, "bench_revocation: cannot read %s\n", path);
		exit(2);
	}
	return x;
}

static double now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Drops the cached status so the next check asks the responder. */
static void forget(struct redis_pool *redis, struct revocation **r, const struct revocation_settings *s,
                   const struct cert_ref *ref)
{
	char key[256], ref_text[128], err[256];
	const char *argv[2] = { "DEL", key };
	redisReply *reply;

	if (redis == NULL) {
		/* The in-process cache has no delete: a fresh one is empty. */
		revocation_free(*r);
		if ((*r = revocation_new(s, NULL, NULL, false, err, sizeof(err))) == NULL) {
			fprintf(stderr, "bench_revocation: %s\n", err);
			exit(1);
		}
		return;
	}
	cert_ref_string(ref, ref_text, sizeof(ref_text));
	snprintf(key, sizeof(key), "%sstatus:%s", redis_pool_prefix(redis), ref_text);
	if ((reply = redis_pool_command(redis, 2, argv, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_revocation: %s\n", err);
		exit(1);
	}
	freeReplyObject(reply);
}

static void series(const char *name, struct revocation **r, struct redis_pool *redis,
                   const struct revocation_settings *s, X509 *cert, X509 *issuer, int n, bool uncached)
{
	double *wall = calloc((size_t)n, sizeof(*wall)), total = 0, cpu = 0;
	struct cert_ref ref;

	cert_ref_make(cert, issuer, NULL, &ref);
	for (int i = 0; i < n; i++) {
		struct decision dec;
		double t0, c0;
		enum policy_reason refusal;

		if (uncached)
			forget(redis, r, s, &ref);
		memset(&dec, 0, sizeof(dec));
		c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
		t0 = now_us(CLOCK_MONOTONIC);
		refusal = revocation_check(*r, cert, issuer, NULL, REVOCATION_OCSP_ASK, &dec);
		wall[i] = now_us(CLOCK_MONOTONIC) - t0;
		cpu += now_us(CLOCK_PROCESS_CPUTIME_ID) - c0;
		total += wall[i];
		if (refusal != POLICY_REASON_OK || strcmp(dec.revocation_source, uncached ? "ocsp" : "cache") != 0) {
			fprintf(stderr, "bench_revocation: %s check %d: %s from %s (%s)\n", name, i,
			        policy_reason_code(refusal), dec.revocation_source, dec.detail);
			exit(1);
		}
	}
	qsort(wall, (size_t)n, sizeof(*wall), by_value);
	printf("%-10s %6d checks  median %8.1f µs  p99 %8.1f µs  mean %8.1f µs  CPU %7.1f µs\n", name, n,
	       wall[n / 2], wall[(n * 99 + 99) / 100 - 1], total / n, cpu / n);
	free(wall);
}

static const char node_key[] = "b1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

int main(int argc, char **argv)
{
	struct ocsp_settings ocsp;
	struct redis_settings rs = { .host = "127.0.0.1", .prefix = "bench:", .timeout_ms = 1000, .connections = 1 };
	struct revocation_settings s = { .configured = true, .ocsp = &ocsp, .cache_max_ttl = 3600 };
	struct redis_pool *redis = NULL;
	struct revocation *r;
	char ca[1024], err[256];
	X509 *cert, *issuer;
	int n;

	if (argc != 5 || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: bench_revocation PKI_DIR OCSP_URL REDIS_PORT|none N\n");
		return 2;
	}
	ocsp_settings_init(&ocsp);
	ocsp.url = argv[2];
	snprintf(ca, sizeof(ca), "%s/ca-bundle.pem", argv[1]);
	s.ca_file = ca;
	cert = load(argv[1], "laptop.pem");
	issuer = load(argv[1], "issuing-ca.pem");
	if (strcmp(argv[3], "none") != 0) {
		rs.port = (unsigned)atoi(argv[3]);
		/* A node key, as authd has one: statuses in Redis carry its MAC. */
		rs.seal = seal_parse("bench", node_key, sizeof(node_key) - 1, err, sizeof(err));
		redis = rs.seal != NULL ? redis_pool_new(&rs, err, sizeof(err)) : NULL;
	}
	r = revocation_new(&s, redis, NULL, false, err, sizeof(err));
	if ((strcmp(argv[3], "none") != 0 && redis == NULL) || r == NULL) {
		fprintf(stderr, "bench_revocation: %s\n", err);
		return 1;
	}
	printf("revocation check of laptop.pem, %s:\n", redis != NULL ? "Redis cache" : "in-process cache");
	series("uncached", &r, redis, &s, cert, issuer, n, true);
	series("cached", &r, redis, &s, cert, issuer, n, false);
	revocation_free(r);
	redis_pool_free(redis);
	seal_free(rs.seal);
	X509_free(cert);
	X509_free(issuer);
	return 0;
}

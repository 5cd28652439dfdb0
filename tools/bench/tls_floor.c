/*
 * tls_floor — what OpenSSL alone costs per EAP-TLS authentication: mutual TLS handshakes
 * with the test PKI's certificates, client and server in this one process on memory BIOs,
 * no EAP, no RADIUS, no sockets. No server can authenticate a device for less CPU than
 * the server side of this, so it is the floor under authd's and FreeRADIUS's numbers.
 *
 *   tls_floor --pki DIR [--count N] [--mode tls12|tls13|tls12-resumed|tls13-resumed|all]
 *             [--store internal|der] [--machine]
 *
 * --pki defaults to $AUTHD_PKI (a directory made by tests/pki/make-pki.sh), --count to 1000,
 * --mode to all, --store to internal.
 *
 * For each mode, N handshakes (after a few unmeasured ones) of a client holding laptop.pem
 * against a server holding server.pem. The server's CPU time is the sum of its
 * SSL_do_handshake() calls on CLOCK_THREAD_CPUTIME_ID, so it includes certificate
 * verification and everything OpenSSL writes into its BIO, and nothing of the client or of
 * moving bytes between them; the client's is measured the same way (plus reading the
 * TLS 1.3 NewSessionTicket). Server handshakes/s is what one core would do at that cost.
 *
 * Resumed modes resume the session of the previous handshake (TLS 1.3: the ticket it got),
 * from a server-side session cache: OpenSSL's in-memory cache (--store internal), or, like
 * authd, a store outside OpenSSL holding each session in DER (--store der: i2d on every new
 * session, d2i on every lookup, which parses the device certificate again: OpenSSL 3.0
 * spends on the order of 100 µs on that alone).
 *
 * Output: a table, or with --machine one line per mode:
 *   floor mode=tls13 store=none count=N server_us=... server_p50_us=... client_us=... server_hs_per_s=...
 */
#include <err.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define WARMUP_HANDSHAKES 20
#define MAX_FLIGHTS 16          /* a handshake needing more round trips is broken */
#define STORE_SLOTS 16          /* DER store: only the newest sessions are ever asked for */

enum store_kind { STORE_INTERNAL, STORE_DER };

struct mode {
	const char *name;
	int version;                /* what the client offers (the server offers 1.2 and 1.3) */
	bool resumed;
};

static const struct mode modes[] = {
	{ "tls12", TLS1_2_VERSION, false },
	{ "tls13", TLS1_3_VERSION, false },
	{ "tls12-resumed", TLS1_2_VERSION, true },
	{ "tls13-resumed", TLS1_3_VERSION, true },
};

/* The --store der session store: sessions in DER, as authd's caller-kept store holds them. */
struct der_slot {
	unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
	unsigned int idlen;
	unsigned char *der;
	size_t derlen;
};

struct der_store {
	struct der_slot slot[STORE_SLOTS];
	unsigned next;
};

/* What the server's verify callback keeps, as authd's struct eap_tls_peer does. */
struct server_peer {
	X509 *leaf;
	bool rejected;
};

struct cost {
	uint64_t server_ns;
	uint64_t client_ns;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What one timed interval costs by itself: the mean of back-to-back clock readings. */
static double timer_overhead_ns(void)
{
	uint64_t start = thread_cpu_ns(), t = start;

	for (int i = 0; i < 1000; i++)
		t = thread_cpu_ns();
	return (double)(t - start) / 1000.0;
}

static void openssl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "no OpenSSL error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	errx(1, "%s: %s", what, buf);
}

static STACK_OF(X509) *read_certificates(const char *dir, const char *name)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	char path[4096];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		err(1, "%s", path);
	while (certs != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(certs, x))
			openssl_fail(path);
	fclose(f);
	ERR_clear_error();   /* "no start line" at the end of the file */
	if (sk_X509_num(certs) <= 0)
		errx(1, "%s: no certificate", path);
	return certs;
}

static EVP_PKEY *read_key(const char *dir, const char *name)
{
	char path[4096];
	EVP_PKEY *key;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		err(1, "%s", path);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		openssl_fail(path);
	return key;
}

/* Leaf first, then its chain; the matching key. */
static void use_identity(SSL_CTX *ctx, const char *dir, const char *cert, const char *key_name)
{
	STACK_OF(X509) *certs = read_certificates(dir, cert);
	EVP_PKEY *key = read_key(dir, key_name);

	if (!SSL_CTX_use_certificate(ctx, sk_X509_value(certs, 0)) || !SSL_CTX_use_PrivateKey(ctx, key))
		openssl_fail(cert);
	for (int i = 1; i < sk_X509_num(certs); i++)
		if (!SSL_CTX_add1_chain_cert(ctx, sk_X509_value(certs, i)))
			openssl_fail(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
}

/* Trusted issuers; the server also names them in its CertificateRequest, as authd does. */
static void use_trust(SSL_CTX *ctx, const char *dir, const char *name, bool name_in_request)
{
	STACK_OF(X509) *certs = read_certificates(dir, name);
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);

	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *ca = sk_X509_value(certs, i);

		if (!X509_STORE_add_cert(store, ca) || (name_in_request && !SSL_CTX_add_client_CA(ctx, ca)))
			openssl_fail(name);
	}
	sk_X509_pop_free(certs, X509_free);
}

/* authd's verify_callback without its reason bookkeeping: keep the leaf, require clientAuth. */
static int server_verify(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct server_peer *peer = SSL_get_app_data(ssl);
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	X509 *leaf = X509_STORE_CTX_get0_cert(store);

	if (peer->leaf == NULL && leaf != NULL && X509_up_ref(leaf))
		peer->leaf = leaf;
	if (!ok) {
		peer->rejected = true;
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(store) == 0 && cert != NULL &&
	    !((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) &&
	      (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT))) {
		peer->rejected = true;
		X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE);
		return 0;
	}
	return 1;
}

/* The server context's app data is its struct der_store (with --store der). */
static struct der_store *der_store_of(SSL *ssl)
{
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

static void der_slot_clear(struct der_slot *s)
{
	OPENSSL_clear_free(s->der, s->derlen);   /* a session holds its master secret */
	memset(s, 0, sizeof(*s));
}

/* OpenSSL made a session: keep its DER encoding (the reference stays OpenSSL's). */
static int der_store_new(SSL *ssl, SSL_SESSION *sess)
{
	struct der_store *st = der_store_of(ssl);
	struct der_slot *s = &st->slot[st->next++ % STORE_SLOTS];
	const unsigned char *id;
	unsigned char *p;
	unsigned int idlen;
	int len;

	der_slot_clear(s);
	id = SSL_SESSION_get_id(sess, &idlen);
	len = i2d_SSL_SESSION(sess, NULL);
	if (len <= 0 || idlen > sizeof(s->id) || (s->der = OPENSSL_malloc((size_t)len)) == NULL)
		return 0;
	p = s->der;
	s->derlen = (size_t)i2d_SSL_SESSION(sess, &p);
	memcpy(s->id, id, idlen);
	s->idlen = idlen;
	return 0;
}

/* The peer offers a session id (TLS 1.2) or a stateful ticket (TLS 1.3): decode it afresh. */
static SSL_SESSION *der_store_get(SSL *ssl, const unsigned char *id, int idlen, int *copy)
{
	struct der_store *st = der_store_of(ssl);

	*copy = 0;   /* the decoded session's one reference goes to OpenSSL */
	for (unsigned i = 0; i < STORE_SLOTS; i++) {
		struct der_slot *s = &st->slot[i];
		const unsigned char *p = s->der;

		if (s->der != NULL && s->idlen == (unsigned)idlen && memcmp(s->id, id, s->idlen) == 0)
			return d2i_SSL_SESSION(NULL, &p, (long)s->derlen);
	}
	return NULL;
}

/* OpenSSL drops a session (a TLS 1.3 ticket is used up): forget it too. */
static void der_store_remove(SSL_CTX *ctx, SSL_SESSION *sess)
{
	struct der_store *st = SSL_CTX_get_app_data(ctx);
	const unsigned char *id;
	unsigned int idlen;

	id = SSL_SESSION_get_id(sess, &idlen);
	for (unsigned i = 0; i < STORE_SLOTS; i++)
		if (st->slot[i].der != NULL && st->slot[i].idlen == idlen &&
		    memcmp(st->slot[i].id, id, idlen) == 0)
			der_slot_clear(&st->slot[i]);
}

/*
 * The server context as authd's eap_tls_context_new() makes it: TLS 1.2 to 1.3, security
 * level 2, OpenSSL's default cipher suites and groups with the server's preference, no
 * renegotiation, released idle buffers, the device must present a certificate that chains
 * to ca-bundle.pem and carries clientAuth. Sessions as its configure_sessions(): without
 * resumption none are cached and no tickets sent; with it, a server-side cache,
 * SSL_OP_NO_TICKET so TLS 1.3 issues stateful tickets, one ticket per handshake, the same
 * session id context. Where it differs:
 *  - --store internal keeps sessions in OpenSSL's cache, which authd does not use
 *    (SSL_SESS_CACHE_NO_INTERNAL): that is the floor. --store der is nearer authd: sessions
 *    in DER outside OpenSSL, i2d for each new one and d2i for each lookup, within
 *    SSL_do_handshake. authd does that work outside SSL_do_handshake instead, and more of
 *    it: its ClientHello callback pauses the handshake (one more SSL_do_handshake call), a
 *    backend thread decodes the stored session, verifies its certificate again and checks
 *    revocation, then the conversation decodes it a second time to resume it.
 *  - no EAP-TLS key derivation (SSL_export_keying_material), no TLS 1.3 commitment
 *    message, and SSL_new/SSL_free are not counted: they are outside SSL_do_handshake.
 */
static SSL_CTX *server_context(const char *pki, bool resumption, enum store_kind store,
                               struct der_store *der)
{
	static const unsigned char id_context[] = "authd EAP-TLS";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		openssl_fail("server context");
	SSL_CTX_set_security_level(ctx, 2);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		openssl_fail("server versions");
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, server_verify);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (!resumption) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(ctx, 0);
	} else {
		if (!SSL_CTX_set_session_id_context(ctx, id_context, sizeof(id_context) - 1))
			openssl_fail("session id context");
		SSL_CTX_set_num_tickets(ctx, 1);
		if (store == STORE_INTERNAL) {
			SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		} else {
			SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
			SSL_CTX_set_app_data(ctx, der);
			SSL_CTX_sess_set_new_cb(ctx, der_store_new);
			SSL_CTX_sess_set_get_cb(ctx, der_store_get);
			SSL_CTX_sess_set_remove_cb(ctx, der_store_remove);
		}
	}
	use_identity(ctx, pki, "server.pem", "server.key");
	use_trust(ctx, pki, "ca-bundle.pem", true);
	return ctx;
}

/* The device: laptop.pem (leaf only), checking the server against the root alone. */
static SSL_CTX *client_context(const char *pki, int version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		openssl_fail("client context");
	SSL_CTX_set_security_level(ctx, 2);
	if (!SSL_CTX_set_min_proto_version(ctx, version) || !SSL_CTX_set_max_proto_version(ctx, version))
		openssl_fail("client versions");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* The client keeps the session itself (SSL_get1_session) and offers it again. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	use_identity(ctx, pki, "laptop.pem", "laptop.key");
	use_trust(ctx, pki, "root-only.pem", false);
	return ctx;
}

/* An SSL on two fresh memory BIOs, as authd's eap_tls_context_new_ssl() makes it. */
static SSL *new_ssl(SSL_CTX *ctx, bool server, void *app_data)
{
	SSL *ssl = SSL_new(ctx);
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());

	if (ssl == NULL || rbio == NULL || wbio == NULL)
		openssl_fail("SSL_new");
	BIO_set_mem_eof_return(rbio, -1);
	SSL_set_bio(ssl, rbio, wbio);
	SSL_set_app_data(ssl, app_data);
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	return ssl;
}

/* What one side wrote goes to the other side's read BIO (the network, here uncounted). */
static void deliver(SSL *from, SSL *to)
{
	BIO *out = SSL_get_wbio(from), *in = SSL_get_rbio(to);
	char buf[16384];
	int n;

	while ((n = BIO_read(out, buf, sizeof(buf))) > 0)
		if (BIO_write(in, buf, n) != n)
			openssl_fail("BIO_write");
}

/* One SSL_do_handshake step timed into *ns; true when that side's handshake is done. */
static bool step(SSL *ssl, const char *who, uint64_t *ns)
{
	uint64_t t0 = thread_cpu_ns();
	int ret = SSL_do_handshake(ssl);

	*ns += thread_cpu_ns() - t0;
	if (ret == 1)
		return true;
	if (SSL_get_error(ssl, ret) != SSL_ERROR_WANT_READ)
		openssl_fail(who);
	return false;
}

/*
 * One handshake, offering `offer` when not NULL. Adds the CPU time of each side to *cost.
 * Returns the client's session for the next resumption (the caller frees it).
 */
static SSL_SESSION *handshake(SSL_CTX *server_ctx, SSL_CTX *client_ctx, SSL_SESSION *offer,
                              bool expect_resumed, struct cost *cost)
{
	struct server_peer peer = { 0 };
	SSL *server = new_ssl(server_ctx, true, &peer);
	SSL *client = new_ssl(client_ctx, false, NULL);
	bool server_done = false, client_done = false;
	SSL_SESSION *next;
	uint64_t t0;
	char byte;
	int ret;

	if (offer != NULL && !SSL_set_session(client, offer))
		openssl_fail("SSL_set_session");
	for (int flight = 0; !(server_done && client_done); flight++) {
		if (flight == MAX_FLIGHTS)
			errx(1, "handshake did not finish in %d flights", MAX_FLIGHTS);
		if (!client_done)
			client_done = step(client, "client handshake", &cost->client_ns);
		deliver(client, server);
		if (!server_done)
			server_done = step(server, "server handshake", &cost->server_ns);
		deliver(server, client);
	}
	/* TLS 1.3: the ticket arrives after the handshake; reading takes it in (no data comes). */
	t0 = thread_cpu_ns();
	ret = SSL_read(client, &byte, 1);
	cost->client_ns += thread_cpu_ns() - t0;
	if (ret > 0 || SSL_get_error(client, ret) != SSL_ERROR_WANT_READ)
		openssl_fail("client reading the session ticket");

	/* A resumed handshake verifies nothing: the session remembers the certificate. */
	if (peer.rejected || SSL_get0_peer_certificate(server) == NULL ||
	    SSL_get_verify_result(server) != X509_V_OK)
		errx(1, "the server did not accept laptop.pem (verify result %ld)", SSL_get_verify_result(server));
	if ((bool)SSL_session_reused(server) != expect_resumed || (bool)SSL_session_reused(client) != expect_resumed)
		errx(1, "the handshake %s a session, expected it %s", SSL_session_reused(server) ? "resumed" : "did not resume",
		     expect_resumed ? "to" : "not to");
	next = SSL_get1_session(client);
	/*
	 * EAP-TLS ends without close_notify. An SSL freed without a shutdown state counts as
	 * failed, and OpenSSL then evicts its session from the cache and marks it unresumable.
	 */
	SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_set_shutdown(server, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	X509_free(peer.leaf);
	SSL_free(client);
	SSL_free(server);
	return next;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static const char *store_name(const struct mode *m, enum store_kind store)
{
	if (!m->resumed)
		return "none";
	return store == STORE_INTERNAL ? "internal" : "der";
}

static void run_mode(const struct mode *m, const char *pki, long count, enum store_kind store, bool machine)
{
	struct der_store der = { 0 };
	SSL_CTX *server_ctx = server_context(pki, m->resumed, store, &der);
	SSL_CTX *client_ctx = client_context(pki, m->version);
	uint64_t *server_ns = calloc((size_t)count, sizeof(*server_ns));
	uint64_t server_total = 0, client_total = 0;
	SSL_SESSION *session = NULL, *next;
	struct cost cost;
	double server_us, client_us;

	if (server_ns == NULL)
		err(1, "calloc");
	for (long i = -WARMUP_HANDSHAKES; i < count; i++) {
		bool resume = m->resumed && session != NULL;

		cost = (struct cost){ 0 };
		next = handshake(server_ctx, client_ctx, resume ? session : NULL, resume, &cost);
		SSL_SESSION_free(session);
		session = next;
		if (m->resumed && !SSL_SESSION_is_resumable(session))
			errx(1, "%s: the server gave no resumable session", m->name);
		if (i < 0)
			continue;
		server_ns[i] = cost.server_ns;
		server_total += cost.server_ns;
		client_total += cost.client_ns;
	}
	qsort(server_ns, (size_t)count, sizeof(*server_ns), by_value);
	server_us = (double)server_total / (double)count / 1e3;
	client_us = (double)client_total / (double)count / 1e3;
	if (machine)
		printf("floor mode=%s store=%s count=%ld server_us=%.1f server_p50_us=%.1f client_us=%.1f "
		       "server_hs_per_s=%.0f\n", m->name, store_name(m, store), count, server_us,
		       (double)server_ns[count / 2] / 1e3, client_us, 1e6 / server_us);
	else
		printf("%-14s %-9s %12.1f %12.1f %12.1f %16.0f\n", m->name, store_name(m, store), server_us,
		       (double)server_ns[count / 2] / 1e3, client_us, 1e6 / server_us);
	fflush(stdout);
	SSL_SESSION_free(session);
	for (unsigned i = 0; i < STORE_SLOTS; i++)
		der_slot_clear(&der.slot[i]);
	free(server_ns);
	SSL_CTX_free(client_ctx);
	SSL_CTX_free(server_ctx);
}

static void usage(void)
{
	fprintf(stderr, "usage: tls_floor --pki DIR [--count N] "
	        "[--mode tls12|tls13|tls12-resumed|tls13-resumed|all] [--store internal|der] [--machine]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "pki", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "store", required_argument, NULL, 's' },
		{ "machine", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pki = getenv("AUTHD_PKI"), *mode = "all";
	enum store_kind store = STORE_INTERNAL;
	bool machine = false, any = false;
	long count = 1000;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || count < 1 || count > 10000000)
				errx(2, "--count needs a number from 1 to 10000000");
			break;
		case 'p':
			pki = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 's':
			if (strcmp(optarg, "internal") == 0)
				store = STORE_INTERNAL;
			else if (strcmp(optarg, "der") == 0)
				store = STORE_DER;
			else
				errx(2, "--store is internal or der");
			break;
		case 'M':
			machine = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (pki == NULL)
		errx(2, "no PKI: give --pki DIR (made by tests/pki/make-pki.sh) or set AUTHD_PKI");

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		any = any || strcmp(mode, "all") == 0 || strcmp(mode, modes[i].name) == 0;
	if (!any)
		errx(2, "unknown mode '%s' (tls12, tls13, tls12-resumed, tls13-resumed or all)", mode);
	if (!machine) {
		printf("TLS floor: %s, %ld handshakes per mode, certificates from %s\n",
		       OpenSSL_version(OPENSSL_VERSION), count, pki);
		printf("CPU time per handshake in µs (this thread; each timed call adds about %.2f µs);\n"
		       "handshakes/s: one core at the server's cost\n", timer_overhead_ns() / 1e3);
		printf("%-14s %-9s %12s %12s %12s %16s\n", "mode", "store", "server", "server p50", "client",
		       "server hs/s");
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(mode, "all") == 0 || strcmp(mode, modes[i].name) == 0)
			run_mode(&modes[i], pki, count, store, machine);
	}
	return 0;
}

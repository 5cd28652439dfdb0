/*
 * authbench — an EAP-TLS load generator: many concurrent 802.1X supplicant
 * conversations over RADIUS/UDP against authd, FreeRADIUS or any RADIUS
 * server doing EAP-TLS (RFC 5216 for TLS 1.2, RFC 9190 for TLS 1.3).
 *
 *   authbench -s 127.0.0.1:1812 --secret testing123-radius-secret --ca root.pem \
 *             --cert laptop.pem --key laptop.key --tls 1.3 -c 32 -n 2000
 *
 * Each conversation is an OpenSSL client on memory BIOs (tests/unit/eap_test_peer.c,
 * which frames EAP-TLS by hand, fragments both ways and checks the server's
 * framing strictly) plus a RADIUS client written here from the RFCs
 * (bench_radius.c): Message-Authenticator on every Access-Request, the
 * Response Authenticator and Message-Authenticator of every reply checked,
 * State echoed, EAP-Message split in 253-byte attributes, retransmission of
 * the identical packet after --timeout. Every Access-Accept must carry
 * MS-MPPE-Recv-Key and -Send-Key; they are decrypted (RFC 2548) and must equal
 * the halves of the MSK the client exported (RFC 5216 2.3, RFC 9190 2.3).
 *
 * One event loop (epoll) per --threads, each with its own UDP sockets (a pool
 * of source ports, each with at most 256 Identifiers in flight), its own share
 * of the load and of the devices. A device is a certificate from the pool,
 * the EAP identity it implies and the TLS session it got last; --resume
 * PERCENT makes that share of auths offer the device's session.
 *
 * Progress goes to stderr once a second; the report and a final
 * "summary: key=value ..." line (for scripts) to stdout. Exit status: 0 when
 * every auth was accepted with matching keys (rejects allowed with
 * --allow-reject), 1 when any failed, 2 for a usage or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench_radius.h"
#include "eap_test_peer.h"

#define MAX_ROUND_TRIPS  64      /* an EAP-TLS auth needs about 4 to 8 */
#define MPPE_KEY_LEN     32
#define DEFAULT_DEVICES  1024
#define IDS_PER_SOCKET   256
#define REQUESTS_PER_SOCKET 128  /* default pool: each port at most half full, so Identifiers rest */
#define LATE_START_NS    5000000  /* --rate: a start this far behind its schedule is reported */

enum cause {
	CAUSE_NONE,
	CAUSE_TIMEOUT,
	CAUSE_REJECT,
	CAUSE_BAD_AUTHENTICATOR,
	CAUSE_BAD_MESSAGE_AUTHENTICATOR,
	CAUSE_NO_MESSAGE_AUTHENTICATOR,
	CAUSE_MALFORMED_REPLY,
	CAUSE_UNEXPECTED_REPLY,
	CAUSE_EAP_ERROR,
	CAUSE_TLS_ERROR,
	CAUSE_EARLY_SUCCESS,
	CAUSE_NO_COMMITMENT,
	CAUSE_MPPE_MISSING,
	CAUSE_MPPE_MISMATCH,
	CAUSE_TOO_MANY_ROUND_TRIPS,
	CAUSE_INTERNAL,
	CAUSE_COUNT
};

/* Stable names: the summary line and the CSV use them. */
static const char *const cause_names[CAUSE_COUNT] = {
	[CAUSE_NONE] = "",
	[CAUSE_TIMEOUT] = "timeout",
	[CAUSE_REJECT] = "reject",
	[CAUSE_BAD_AUTHENTICATOR] = "bad_authenticator",
	[CAUSE_BAD_MESSAGE_AUTHENTICATOR] = "bad_message_authenticator",
	[CAUSE_NO_MESSAGE_AUTHENTICATOR] = "no_message_authenticator",
	[CAUSE_MALFORMED_REPLY] = "malformed_reply",
	[CAUSE_UNEXPECTED_REPLY] = "unexpected_reply",
	[CAUSE_EAP_ERROR] = "eap_error",
	[CAUSE_TLS_ERROR] = "tls_error",
	[CAUSE_EARLY_SUCCESS] = "success_before_handshake",
	[CAUSE_NO_COMMITMENT] = "no_commitment_message",
	[CAUSE_MPPE_MISSING] = "mppe_missing",
	[CAUSE_MPPE_MISMATCH] = "mppe_mismatch",
	[CAUSE_TOO_MANY_ROUND_TRIPS] = "too_many_round_trips",
	[CAUSE_INTERNAL] = "internal",
};

struct cert_file {
	char *cert, *key;          /* owned */
};

#define MAX_SERVERS 8

struct options {
	const char *servers[MAX_SERVERS];   /* several: each auth goes to the next, so a device
	                                       roams between them (and resumes across them) */
	unsigned nservers;
	uint8_t *secret;
	size_t secret_len;
	struct cert_file *certs;
	size_t ncerts;
	const char *ca;
	const char *identity;
	int tls_version;         /* 0: any */
	unsigned resume_pct;
	unsigned devices;
	unsigned concurrency;    /* 0: not given */
	double rate;             /* 0: closed loop */
	uint64_t count;          /* UINT64_MAX: not given */
	double duration;         /* 0: not given */
	bool hold;               /* half-open without --count or --duration: hold until a signal */
	unsigned half_open;
	size_t half_open_fill;   /* bytes each half-open conversation declares and sends but one */
	unsigned threads;
	unsigned sockets;        /* 0: default */
	unsigned timeout_ms;
	unsigned retries;
	unsigned nas_port_type;
	size_t fragment;
	const char *csv;
	bool allow_reject;
	bool quiet;
};

/* State every thread reads; written only by main before the threads start, or atomically. */
struct shared {
	const struct options *opt;
	struct sockaddr_storage server[MAX_SERVERS];
	socklen_t server_len[MAX_SERVERS];
	FILE *csv;
	_Atomic uint64_t load_start_ns;     /* 0 until every half-open conversation is established */
	atomic_uint half_open_pending;      /* workers still establishing half-open conversations */
	atomic_bool stop;                   /* start no more auths (signal, duration) */
	atomic_bool abort_now;              /* second signal: give up on what is in flight */
};

struct device {
	unsigned cert;
	SSL_SESSION *session;    /* last resumable session; owned */
	bool busy;
};

struct sock;

struct conv {
	struct worker *w;
	struct eap_test_peer *peer;
	struct device *dev;
	bool half_open;
	size_t filled;           /* half-open: bytes of the --half-open-fill message sent */
	bool active;
	bool offered_session;
	unsigned server;         /* which --server the whole conversation talks to */
	uint64_t seq;            /* auth number, unique in the run */
	uint64_t start_ns;       /* scheduled start: latency includes any wait for a free slot */
	unsigned round_trips;
	unsigned tries;          /* sends of the current request */
	uint32_t gen;            /* bumps when the current request is answered or abandoned */
	struct sock *sock;       /* where the current request is in flight; NULL: none */
	uint8_t id;
	uint8_t req_auth[BENCH_RADIUS_AUTH_LEN];
	uint8_t *req;            /* the current request, for retransmission (BENCH_RADIUS_MAX) */
	size_t reqlen;
	uint8_t state[BENCH_RADIUS_MAX_STATE];
	size_t state_len;
	char station[24];
	struct conv *next_free;
};

struct sock {
	int fd;
	unsigned server;         /* the --server it is connected to */
	struct conv *inflight[IDS_PER_SOCKET];
	/* The Request Authenticator each Identifier carried last: a late duplicate reply to it
	 * (after a retransmission) is recognised as stale rather than as a forgery. */
	uint8_t prev_auth[IDS_PER_SOCKET][BENCH_RADIUS_AUTH_LEN];
	bool prev_valid[IDS_PER_SOCKET];
	uint8_t free_ids[IDS_PER_SOCKET];   /* ring, least recently used first */
	unsigned free_head, free_count;
};

struct timer {
	uint64_t at;
	struct conv *conv;
	uint32_t gen;
};

struct rt_stats {
	uint64_t n, sum;
	unsigned min, max;
};

/* What a worker counts; the atomics are read by the progress line while it runs. */
struct counters {
	atomic_uint_fast64_t started, finished, accepts, rejects, failures, active;
	atomic_uint_fast64_t half_open_ok, half_open_failed;
	atomic_uint_fast64_t requests, retransmissions;
};

/*
 * The server chain a thread last verified, to verify each distinct chain once:
 * the load generator should spend its CPU on what every handshake must do.
 * The handshake itself (CertificateVerify, Finished) is checked every time.
 */
struct verified_chain {
	X509 *leaf;
	STACK_OF(X509) *untrusted;
	uint64_t hits;
};

struct worker {
	unsigned index;
	pthread_t thread;
	struct shared *sh;
	const struct options *opt;
	int epfd;
	struct sock *socks;
	unsigned nsocks, sock_rr;
	struct bench_radius_secret *secret;
	SSL_CTX **ctx;                /* per certificate */
	struct verified_chain verified;
	char **identity;              /* per certificate */
	struct device *devs;
	unsigned ndevs, dev_rr;
	struct conv *convs;           /* max_active load conversations */
	struct conv *free_convs;
	struct conv *half;            /* half_open conversations */
	unsigned max_active;
	unsigned half_n, half_started, half_done;
	uint64_t quota;               /* auths this worker starts; UINT64_MAX: until stopped */
	double rate;                  /* auths/s, 0: closed loop */
	uint64_t next_start_ns;
	uint64_t rng;
	struct timer *heap;
	size_t heap_len, heap_cap;
	/* results */
	struct counters c;
	uint64_t causes[CAUSE_COUNT];
	uint32_t *lat_us;             /* latency of every auth that got a final answer */
	size_t lat_len, lat_cap;
	uint64_t max_lat_us;
	struct rt_stats rt_full, rt_resumed;
	uint64_t resumed, resume_offered, resume_refused, mppe_ok;
	uint64_t tls12, tls13;
	uint64_t stale_replies, unmatched_replies, send_errors, delayed_starts;
	uint64_t end_ns;
	atomic_bool done;
	char first_failure[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("authbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---------------------------------------------------------------- timers */

static void heap_push(struct worker *w, uint64_t at, struct conv *c)
{
	size_t i;

	if (w->heap_len == w->heap_cap) {
		size_t cap = w->heap_cap != 0 ? 2 * w->heap_cap : 1024;
		struct timer *h = realloc(w->heap, cap * sizeof(*h));

		if (h == NULL)
			die("out of memory");
		w->heap = h;
		w->heap_cap = cap;
	}
	i = w->heap_len++;
	while (i > 0 && w->heap[(i - 1) / 2].at > at) {
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = (struct timer){ .at = at, .conv = c, .gen = c->gen };
}

static struct timer heap_pop(struct worker *w)
{
	struct timer top = w->heap[0], last = w->heap[--w->heap_len];
	size_t i = 0, n = w->heap_len;

	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < n && w->heap[l].at < last.at)
			m = l;
		if (l + 1 < n && w->heap[l + 1].at < (m == i ? last.at : w->heap[m].at))
			m = l + 1;
		if (m == i)
			break;
		w->heap[i] = w->heap[m];
		i = m;
	}
	if (n > 0)
		w->heap[i] = last;
	return top;
}

/* ---------------------------------------------------------------- sockets and Identifiers */

static bool take_id(struct worker *w, struct conv *c)
{
	for (unsigned tried = 0; tried < w->nsocks; tried++) {
		struct sock *s = &w->socks[w->sock_rr];

		w->sock_rr = (w->sock_rr + 1) % w->nsocks;
		if (s->free_count == 0 || s->server != c->server)
			continue;
		c->id = s->free_ids[s->free_head];
		s->free_head = (s->free_head + 1) % IDS_PER_SOCKET;
		s->free_count--;
		c->sock = s;
		s->inflight[c->id] = c;
		return true;
	}
	return false;
}

static void release_id(struct conv *c)
{
	struct sock *s = c->sock;

	if (s == NULL)
		return;
	s->inflight[c->id] = NULL;
	memcpy(s->prev_auth[c->id], c->req_auth, BENCH_RADIUS_AUTH_LEN);
	s->prev_valid[c->id] = true;
	s->free_ids[(s->free_head + s->free_count) % IDS_PER_SOCKET] = c->id;
	s->free_count++;
	c->sock = NULL;
	c->gen++;
}

static void transmit(struct worker *w, struct conv *c)
{
	if (send(c->sock->fd, c->req, c->reqlen, 0) < 0) {
		/* A full socket buffer loses the packet like a network would: the timer resends it. */
		w->send_errors++;
	}
	c->tries++;
	heap_push(w, now_ns() + (uint64_t)w->opt->timeout_ms * 1000000u, c);
}

/* ---------------------------------------------------------------- auth lifecycle */

static void csv_line(struct worker *w, struct conv *c, const char *outcome, bool resumed,
                     enum cause cause, double latency_ms, const char *detail)
{
	const char *version = c->peer != NULL ? eap_test_peer_tls_version(c->peer) : NULL;
	uint64_t load_start = atomic_load(&w->sh->load_start_ns);
	char quoted[320];
	size_t q = 0;

	quoted[q++] = '"';
	for (const char *p = detail != NULL ? detail : ""; *p != '\0' && q < sizeof(quoted) - 3; p++) {
		if (*p == '"')
			quoted[q++] = '"';
		quoted[q++] = *p == '\n' ? ' ' : *p;
	}
	quoted[q++] = '"';
	quoted[q] = '\0';
	fprintf(w->sh->csv, "%.6f,%.3f,%u,%s,%d,%s,%s,%s,%s\n",
	        c->start_ns >= load_start ? (double)(c->start_ns - load_start) / 1e9 : 0.0, latency_ms,
	        c->round_trips, outcome, resumed ? 1 : 0, cause_names[cause], c->station,
	        version != NULL ? version : "", quoted);
}

static void note_latency(struct worker *w, uint64_t us)
{
	if (w->lat_len == w->lat_cap) {
		size_t cap = w->lat_cap != 0 ? 2 * w->lat_cap : 4096;
		uint32_t *l = realloc(w->lat_us, cap * sizeof(*l));

		if (l == NULL)
			die("out of memory");
		w->lat_us = l;
		w->lat_cap = cap;
	}
	w->lat_us[w->lat_len++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	if (us > w->max_lat_us)
		w->max_lat_us = us;
}

static void rt_note(struct rt_stats *s, unsigned rt)
{
	if (s->n == 0 || rt < s->min)
		s->min = rt;
	if (rt > s->max)
		s->max = rt;
	s->n++;
	s->sum += rt;
}

/* The end of one auth (accepted when cause is NONE, rejected when REJECT, failed otherwise). */
static void finish(struct worker *w, struct conv *c, enum cause cause, const char *detail)
{
	uint64_t now = now_ns(), lat_us = (now - c->start_ns) / 1000;
	bool resumed = c->peer != NULL && eap_test_peer_resumed(c->peer);
	const char *outcome = cause == CAUSE_NONE ? "accept" : cause == CAUSE_REJECT ? "reject" : "fail";

	release_id(c);
	c->gen++;
	if (c->half_open) {
		/* Established (a challenge came back) or failed: either way it holds no request now. */
		free(c->req);
		c->req = NULL;
		eap_test_peer_free(c->peer);
		c->peer = NULL;
		w->half_done++;
		if (cause == CAUSE_NONE) {
			atomic_fetch_add_explicit(&w->c.half_open_ok, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&w->c.half_open_failed, 1, memory_order_relaxed);
			w->causes[cause]++;
			if (w->first_failure[0] == '\0')
				snprintf(w->first_failure, sizeof(w->first_failure), "half-open %s: %s",
				         cause_names[cause], detail != NULL ? detail : "");
		}
		return;
	}
	if (cause == CAUSE_NONE || cause == CAUSE_REJECT)
		note_latency(w, lat_us);
	if (cause == CAUSE_NONE) {
		SSL_SESSION *s = eap_test_peer_session(c->peer);
		const char *v = eap_test_peer_tls_version(c->peer);

		atomic_fetch_add_explicit(&w->c.accepts, 1, memory_order_relaxed);
		w->mppe_ok++;
		rt_note(resumed ? &w->rt_resumed : &w->rt_full, c->round_trips);
		if (resumed)
			w->resumed++;
		if (v != NULL && strcmp(v, "TLSv1.3") == 0)
			w->tls13++;
		else
			w->tls12++;
		if (s != NULL) {
			SSL_SESSION_free(c->dev->session);
			c->dev->session = s;
		}
	} else if (cause == CAUSE_REJECT) {
		atomic_fetch_add_explicit(&w->c.rejects, 1, memory_order_relaxed);
		w->causes[cause]++;
	} else {
		atomic_fetch_add_explicit(&w->c.failures, 1, memory_order_relaxed);
		w->causes[cause]++;
	}
	if (cause != CAUSE_NONE && (cause != CAUSE_REJECT || !w->opt->allow_reject) &&
	    w->first_failure[0] == '\0')
		snprintf(w->first_failure, sizeof(w->first_failure), "%s (station %s, %u round trips)%s%s",
		         cause_names[cause], c->station, c->round_trips, detail != NULL ? ": " : "",
		         detail != NULL ? detail : "");
	if (c->offered_session && !resumed && cause == CAUSE_NONE)
		w->resume_refused++;
	if (w->sh->csv != NULL)
		csv_line(w, c, outcome, resumed, cause, (double)(now - c->start_ns) / 1e6, detail);
	eap_test_peer_free(c->peer);
	c->peer = NULL;
	c->dev->busy = false;
	c->dev = NULL;
	c->active = false;
	c->next_free = w->free_convs;
	w->free_convs = c;
	atomic_fetch_sub_explicit(&w->c.active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->c.finished, 1, memory_order_relaxed);
}

/* Sends one EAP packet in a new Access-Request (new Identifier and Request Authenticator). */
static void send_eap(struct worker *w, struct conv *c, const uint8_t *eap, size_t eaplen)
{
	const struct options *o = w->opt;
	const char *identity = o->identity != NULL ? o->identity
	                       : c->dev != NULL ? w->identity[c->dev->cert] : w->identity[0];
	struct bench_radius_request r = {
		.user_name = identity,
		.calling_station_id = c->station,
		.nas_identifier = "authbench",
		.nas_port = (uint32_t)c->seq,
		.nas_port_type = o->nas_port_type,
		.framed_mtu = 1400,
		.state = c->state_len != 0 ? c->state : NULL,
		.state_len = c->state_len,
		.eap = eap,
		.eap_len = eaplen,
	};
	int len;

	if (c->round_trips >= MAX_ROUND_TRIPS) {
		finish(w, c, CAUSE_TOO_MANY_ROUND_TRIPS, NULL);
		return;
	}
	if (!take_id(w, c)) {
		/* Cannot happen: the pool has an Identifier for every conversation that can be active. */
		finish(w, c, CAUSE_INTERNAL, "no free RADIUS Identifier");
		return;
	}
	if (RAND_bytes(c->req_auth, sizeof(c->req_auth)) != 1) {
		finish(w, c, CAUSE_INTERNAL, "RAND_bytes failed");
		return;
	}
	len = bench_radius_build_request(w->secret, c->id, c->req_auth, &r, c->req);
	if (len < 0) {
		finish(w, c, CAUSE_INTERNAL, "Access-Request does not fit in 4096 bytes");
		return;
	}
	c->reqlen = (size_t)len;
	c->round_trips++;
	c->tries = 0;
	atomic_fetch_add_explicit(&w->c.requests, 1, memory_order_relaxed);
	transmit(w, c);
}

static void send_identity(struct worker *w, struct conv *c)
{
	static const uint8_t request_identity[] = { 1, 0, 0, 5, 1 };
	const uint8_t *resp;
	size_t resplen;

	if (eap_test_peer_respond(c->peer, request_identity, sizeof(request_identity), &resp, &resplen) < 0) {
		finish(w, c, CAUSE_INTERNAL, eap_test_peer_error(c->peer));
		return;
	}
	send_eap(w, c, resp, resplen);
}

static struct eap_test_peer *new_peer(struct worker *w, struct device *dev, bool resume)
{
	struct eap_test_peer_options po = {
		.identity = w->opt->identity != NULL ? w->opt->identity : w->identity[dev->cert],
		.fragment_size = w->opt->fragment,
		.ssl_ctx = w->ctx[dev->cert],
		.session = resume ? dev->session : NULL,
		.lenient_length = true,
	};

	return eap_test_peer_new(&po);
}

static void set_station(struct worker *w, struct conv *c)
{
	/* Unique per auth: a locally administered MAC made of the auth number. */
	uint64_t m = c->seq;

	(void)w;
	snprintf(c->station, sizeof(c->station), "02-%02X-%02X-%02X-%02X-%02X",
	         (unsigned)(m >> 32) & 0xff, (unsigned)(m >> 24) & 0xff, (unsigned)(m >> 16) & 0xff,
	         (unsigned)(m >> 8) & 0xff, (unsigned)m & 0xff);
}

/* A device for the next auth: one with a session to resume, or the next one round robin. */
static struct device *pick_device(struct worker *w, bool resume)
{
	if (resume) {
		unsigned start = (unsigned)(xorshift(&w->rng) % w->ndevs);

		for (unsigned i = 0; i < w->ndevs; i++) {
			struct device *d = &w->devs[(start + i) % w->ndevs];

			if (!d->busy && d->session != NULL)
				return d;
		}
	}
	for (unsigned i = 0; i < w->ndevs; i++) {
		struct device *d = &w->devs[w->dev_rr];

		w->dev_rr = (w->dev_rr + 1) % w->ndevs;
		if (!d->busy)
			return d;
	}
	return NULL;
}

static void start_auth(struct worker *w, uint64_t scheduled)
{
	struct conv *c = w->free_convs;
	bool resume = w->opt->resume_pct > 0 && xorshift(&w->rng) % 100 < w->opt->resume_pct;
	struct device *dev;

	if (c == NULL)
		return;
	dev = pick_device(w, resume);
	if (dev == NULL)
		return;
	w->free_convs = c->next_free;
	resume = resume && dev->session != NULL;
	c->active = true;
	c->dev = dev;
	dev->busy = true;
	c->offered_session = resume;
	c->seq = (uint64_t)atomic_fetch_add_explicit(&w->c.started, 1, memory_order_relaxed) *
	         w->opt->threads + w->index + (uint64_t)w->opt->half_open;
	c->server = (unsigned)(c->seq % w->opt->nservers);
	c->start_ns = scheduled;
	c->round_trips = 0;
	c->state_len = 0;
	set_station(w, c);
	if (resume)
		w->resume_offered++;
	atomic_fetch_add_explicit(&w->c.active, 1, memory_order_relaxed);
	c->peer = new_peer(w, dev, resume);
	if (c->peer == NULL) {
		unsigned long e = ERR_get_error();

		finish(w, c, CAUSE_INTERNAL, e != 0 ? ERR_reason_error_string(e) : "cannot create the TLS client");
		return;
	}
	send_identity(w, c);
}

static void start_half_open(struct worker *w)
{
	struct conv *c = &w->half[w->half_started];

	c->w = w;
	c->half_open = true;
	c->active = true;
	c->seq = (uint64_t)w->half_started * w->opt->threads + w->index;
	c->server = (unsigned)(c->seq % w->opt->nservers);
	w->half_started++;
	c->start_ns = now_ns();
	set_station(w, c);
	c->req = malloc(BENCH_RADIUS_MAX);
	c->dev = &w->devs[c->seq % w->ndevs];
	c->peer = c->req != NULL ? new_peer(w, c->dev, false) : NULL;
	if (c->peer == NULL) {
		finish(w, c, CAUSE_INTERNAL, "cannot create the TLS client");
		return;
	}
	send_identity(w, c);
}

/*
 * The next fragment of the message a half-open conversation fills the
 * server's reassembly with: an EAP-TLS response declaring --half-open-fill
 * bytes (L on the first fragment, M on all), of which all but the last are
 * sent, so the server holds them and waits. The bytes are well-formed TLS
 * application-data records; nothing reads them before the message is whole.
 */
static void send_fill(struct worker *w, struct conv *c, uint8_t id)
{
	enum { RECORD = 4096 };
	size_t total = w->opt->half_open_fill, n = total - 1 - c->filled, off = 6;
	uint8_t pkt[10 + 4000];

	if (n > w->opt->fragment)
		n = w->opt->fragment;
	pkt[0] = 2;
	pkt[1] = id;
	pkt[4] = 13;
	pkt[5] = 0x40;
	if (c->filled == 0) {
		pkt[5] |= 0x80;
		for (int i = 0; i < 4; i++)
			pkt[6 + i] = (uint8_t)(total >> (24 - 8 * i));
		off = 10;
	}
	for (size_t i = 0; i < n; i++) {
		size_t at = (c->filled + i) % RECORD;
		static const uint8_t header[5] = { 23, 3, 3, (RECORD - 5) >> 8, (RECORD - 5) & 0xff };

		pkt[off + i] = at < sizeof(header) ? header[at] : 0;
	}
	c->filled += n;
	pkt[2] = (uint8_t)((off + n) >> 8);
	pkt[3] = (uint8_t)(off + n);
	send_eap(w, c, pkt, off + n);
}

/* ---------------------------------------------------------------- replies */

static void check_keys(struct worker *w, struct conv *c, const struct bench_radius_reply *r)
{
	uint8_t msk[EAP_MSK_LEN], emsk[EAP_EMSK_LEN], recv[64], send_key[64];
	size_t recv_len = 0, send_len = 0;
	enum cause cause = CAUSE_NONE;
	const char *detail = NULL;

	if (r->mppe_recv == NULL || r->mppe_send == NULL) {
		cause = CAUSE_MPPE_MISSING;
		detail = "Access-Accept without MS-MPPE-Recv-Key and MS-MPPE-Send-Key";
	} else if (bench_radius_mppe_decrypt(w->secret, r->mppe_recv, r->mppe_recv_len, c->req_auth, recv,
	                                     sizeof(recv), &recv_len) < 0 ||
	           bench_radius_mppe_decrypt(w->secret, r->mppe_send, r->mppe_send_len, c->req_auth, send_key,
	                                     sizeof(send_key), &send_len) < 0) {
		cause = CAUSE_MPPE_MISMATCH;
		detail = "MS-MPPE key attribute does not decrypt";
	} else if (eap_test_peer_keys(c->peer, msk, emsk) < 0) {
		cause = CAUSE_TLS_ERROR;
		detail = "client cannot export the MSK";
	} else if (recv_len != MPPE_KEY_LEN || send_len != MPPE_KEY_LEN ||
	           CRYPTO_memcmp(recv, msk, MPPE_KEY_LEN) != 0 ||
	           CRYPTO_memcmp(send_key, msk + MPPE_KEY_LEN, MPPE_KEY_LEN) != 0) {
		/* RFC 5216 2.3 / RFC 9190 2.3: Recv-Key is MSK[0..31], Send-Key MSK[32..63] (RFC 3748 usage). */
		cause = CAUSE_MPPE_MISMATCH;
		detail = "MS-MPPE keys differ from the MSK the client derived";
	}
	OPENSSL_cleanse(msk, sizeof(msk));
	OPENSSL_cleanse(emsk, sizeof(emsk));
	OPENSSL_cleanse(recv, sizeof(recv));
	OPENSSL_cleanse(send_key, sizeof(send_key));
	finish(w, c, cause, detail);
}

static void on_accept(struct worker *w, struct conv *c, const struct bench_radius_reply *r)
{
	const char *version;

	if (r->eap_len < 4 || r->eap[0] != 3) {
		finish(w, c, CAUSE_UNEXPECTED_REPLY, "Access-Accept without EAP-Success");
		return;
	}
	if (eap_test_peer_tls_error(c->peer) != NULL) {
		finish(w, c, CAUSE_TLS_ERROR, eap_test_peer_tls_error(c->peer));
		return;
	}
	if (!eap_test_peer_handshake_done(c->peer)) {
		finish(w, c, CAUSE_EARLY_SUCCESS, "Access-Accept before the client finished the TLS handshake");
		return;
	}
	version = eap_test_peer_tls_version(c->peer);
	if (version != NULL && strcmp(version, "TLSv1.3") == 0 && eap_test_peer_app_data(c->peer) == 0) {
		finish(w, c, CAUSE_NO_COMMITMENT, "TLS 1.3 success without the RFC 9190 commitment message");
		return;
	}
	check_keys(w, c, r);
}

static void on_reject(struct worker *w, struct conv *c)
{
	const char *tls = c->peer != NULL ? eap_test_peer_tls_error(c->peer) : NULL;

	/* The client's own TLS failure (e.g. the server's certificate is not trusted) is not the
	 * server's refusal, even though the server answers it with a reject. */
	if (tls != NULL && !eap_test_peer_tls_alert_received(c->peer))
		finish(w, c, CAUSE_TLS_ERROR, tls);
	else
		finish(w, c, CAUSE_REJECT, tls);
}

static void on_challenge(struct worker *w, struct conv *c, const struct bench_radius_reply *r)
{
	const uint8_t *resp;
	size_t resplen;

	if (r->eap_len == 0) {
		finish(w, c, CAUSE_UNEXPECTED_REPLY, "Access-Challenge without EAP-Message");
		return;
	}
	/* RFC 2865 5.24: the State of a challenge goes back unchanged in the next request. */
	c->state_len = 0;
	if (r->state != NULL) {
		memcpy(c->state, r->state, r->state_len);
		c->state_len = r->state_len;
	}
	if (c->half_open) {
		if (r->eap[0] != 1 || r->eap_len < 6 || r->eap[4] != 13 ||
		    (c->filled == 0 && !(r->eap[5] & 0x20)))
			finish(w, c, CAUSE_UNEXPECTED_REPLY, c->filled == 0 ? "no EAP-TLS Start after the identity"
			                                                     : "no EAP-TLS acknowledgement of a fragment");
		else if (c->filled + 1 < w->opt->half_open_fill)
			send_fill(w, c, r->eap[1]);
		else
			finish(w, c, CAUSE_NONE, NULL);
		return;
	}
	if (eap_test_peer_respond(c->peer, r->eap, r->eap_len, &resp, &resplen) < 0) {
		finish(w, c, CAUSE_EAP_ERROR, eap_test_peer_error(c->peer));
		return;
	}
	send_eap(w, c, resp, resplen);
}

static enum cause check_cause(enum bench_radius_check k)
{
	switch (k) {
	case BENCH_RADIUS_OK: return CAUSE_NONE;
	case BENCH_RADIUS_MALFORMED: return CAUSE_MALFORMED_REPLY;
	case BENCH_RADIUS_BAD_AUTHENTICATOR: return CAUSE_BAD_AUTHENTICATOR;
	case BENCH_RADIUS_NO_MESSAGE_AUTHENTICATOR: return CAUSE_NO_MESSAGE_AUTHENTICATOR;
	case BENCH_RADIUS_BAD_MESSAGE_AUTHENTICATOR: return CAUSE_BAD_MESSAGE_AUTHENTICATOR;
	}
	return CAUSE_INTERNAL;
}

static void on_datagram(struct worker *w, struct sock *s, const uint8_t *pkt, size_t len,
                        struct bench_radius_reply *r)
{
	struct conv *c;
	enum bench_radius_check k;
	uint8_t id;

	if (len < 20)
		return;
	id = pkt[1];
	c = s->inflight[id];
	if (c == NULL) {
		if (s->prev_valid[id] && bench_radius_check_reply(w->secret, pkt, len, s->prev_auth[id]) == BENCH_RADIUS_OK)
			w->stale_replies++;
		else
			w->unmatched_replies++;
		return;
	}
	k = bench_radius_check_reply(w->secret, pkt, len, c->req_auth);
	if (k != BENCH_RADIUS_OK) {
		/* A late answer to the previous request on this Identifier, not a forgery. */
		if (s->prev_valid[id] && bench_radius_check_reply(w->secret, pkt, len, s->prev_auth[id]) == BENCH_RADIUS_OK) {
			w->stale_replies++;
			return;
		}
		finish(w, c, check_cause(k), NULL);
		return;
	}
	if (bench_radius_parse_reply(pkt, len, r) < 0) {
		finish(w, c, CAUSE_MALFORMED_REPLY, NULL);
		return;
	}
	release_id(c);
	switch (r->code) {
	case BENCH_RADIUS_ACCESS_CHALLENGE:
		on_challenge(w, c, r);
		break;
	case BENCH_RADIUS_ACCESS_ACCEPT:
		if (c->half_open)
			finish(w, c, CAUSE_UNEXPECTED_REPLY, "Access-Accept to an identity");
		else
			on_accept(w, c, r);
		break;
	case BENCH_RADIUS_ACCESS_REJECT:
		on_reject(w, c);
		break;
	default:
		finish(w, c, CAUSE_UNEXPECTED_REPLY, "reply code neither Accept, Reject nor Challenge");
		break;
	}
}

static void drain_socket(struct worker *w, struct sock *s, uint8_t *buf, struct bench_radius_reply *r)
{
	for (;;) {
		ssize_t n = recv(s->fd, buf, BENCH_RADIUS_MAX + 1, 0);

		if (n < 0)
			return;  /* EAGAIN, or an ICMP error queued on the socket: retransmission copes */
		on_datagram(w, s, buf, (size_t)n, r);
	}
}

static void fire_timers(struct worker *w, uint64_t now)
{
	while (w->heap_len > 0 && w->heap[0].at <= now) {
		struct timer t = heap_pop(w);
		struct conv *c = t.conv;

		if (t.gen != c->gen || c->sock == NULL)
			continue;
		if (c->tries <= w->opt->retries) {
			atomic_fetch_add_explicit(&w->c.retransmissions, 1, memory_order_relaxed);
			transmit(w, c);
		} else {
			finish(w, c, CAUSE_TIMEOUT, "no reply");
		}
	}
}

/* ---------------------------------------------------------------- the loop */

/* Whether this worker may start another auth now: not stopped, quota and duration not spent. */
static bool load_may_start(struct worker *w, uint64_t now)
{
	uint64_t load_start = atomic_load_explicit(&w->sh->load_start_ns, memory_order_relaxed);

	return load_start != 0 && !atomic_load_explicit(&w->sh->stop, memory_order_relaxed) &&
	       atomic_load_explicit(&w->c.started, memory_order_relaxed) < w->quota &&
	       (w->opt->duration == 0 || now < load_start + (uint64_t)(w->opt->duration * 1e9));
}

/* Nothing in flight and nothing left to start; half-open conversations are held to the end. */
static bool run_over(struct worker *w, uint64_t now, bool half_phase)
{
	uint64_t load_start = atomic_load_explicit(&w->sh->load_start_ns, memory_order_relaxed);

	if (half_phase || load_start == 0 || atomic_load_explicit(&w->c.active, memory_order_relaxed) != 0 ||
	    load_may_start(w, now))
		return false;
	if (w->half_n == 0 || atomic_load_explicit(&w->sh->stop, memory_order_relaxed))
		return true;
	if (w->opt->duration > 0)
		return now >= load_start + (uint64_t)(w->opt->duration * 1e9);
	return !w->opt->hold;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct epoll_event ev[64];
	struct bench_radius_reply *reply = malloc(sizeof(*reply));
	uint8_t *buf = malloc(BENCH_RADIUS_MAX + 1);
	bool half_phase = w->half_n > 0, load_started = false;

	if (reply == NULL || buf == NULL)
		die("out of memory");
	if (!half_phase && atomic_fetch_sub(&sh->half_open_pending, 1) == 1)
		atomic_store(&sh->load_start_ns, now_ns());
	for (;;) {
		uint64_t now = now_ns(), wake = now + 100000000u, load_start;
		int n, timeout_ms;

		if (atomic_load_explicit(&sh->abort_now, memory_order_relaxed))
			break;
		fire_timers(w, now);
		if (half_phase) {
			bool stop = atomic_load_explicit(&sh->stop, memory_order_relaxed);

			while (!stop && w->half_started < w->half_n && w->half_started - w->half_done < w->max_active)
				start_half_open(w);
			if (w->half_done == w->half_n || (stop && w->half_started == w->half_done)) {
				half_phase = false;
				/* The last worker to finish opens the load phase for all. */
				if (atomic_fetch_sub(&sh->half_open_pending, 1) == 1)
					atomic_store(&sh->load_start_ns, now_ns());
			}
		}
		load_start = atomic_load(&sh->load_start_ns);
		if (!load_started && load_start != 0) {
			load_started = true;
			w->next_start_ns = load_start;
		}
		if (load_started && w->rate == 0) {
			/* Closed loop: every free slot starts the next auth. */
			while (w->free_convs != NULL && load_may_start(w, now))
				start_auth(w, now_ns());
		} else if (load_started) {
			while (load_may_start(w, now) && w->next_start_ns <= now) {
				/* Every slot busy: the start waits, and its latency counts the wait. */
				if (w->free_convs == NULL)
					break;
				if (now - w->next_start_ns > LATE_START_NS)
					w->delayed_starts++;
				start_auth(w, w->next_start_ns);
				w->next_start_ns = load_start +
				        (uint64_t)((double)atomic_load_explicit(&w->c.started, memory_order_relaxed) *
				                   1e9 / w->rate);
			}
			if (load_may_start(w, now) && w->free_convs != NULL && w->next_start_ns < wake)
				wake = w->next_start_ns;
		}
		if (run_over(w, now, half_phase))
			break;
		if (w->opt->duration > 0 && load_start != 0 && load_may_start(w, now) &&
		    load_start + (uint64_t)(w->opt->duration * 1e9) < wake)
			wake = load_start + (uint64_t)(w->opt->duration * 1e9);
		if (w->heap_len > 0 && w->heap[0].at < wake)
			wake = w->heap[0].at;
		now = now_ns();
		timeout_ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
		n = epoll_wait(w->epfd, ev, 64, timeout_ms);
		for (int i = 0; i < n; i++)
			drain_socket(w, &w->socks[ev[i].data.u32], buf, reply);
	}
	w->end_ns = now_ns();
	free(reply);
	free(buf);
	atomic_store(&w->done, true);
	return NULL;
}

/* ---------------------------------------------------------------- setup */

static bool same_chain(const struct verified_chain *v, X509 *leaf, STACK_OF(X509) *untrusted)
{
	int n = untrusted != NULL ? sk_X509_num(untrusted) : 0;

	if (v->leaf == NULL || X509_cmp(v->leaf, leaf) != 0 || sk_X509_num(v->untrusted) != n)
		return false;
	for (int i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(v->untrusted, i), sk_X509_value(untrusted, i)) != 0)
			return false;
	return true;
}

/* SSL_CTX_set_cert_verify_callback: X509_verify_cert() once per distinct server chain. */
static int verify_server_chain(X509_STORE_CTX *store, void *arg)
{
	struct verified_chain *v = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(store);
	STACK_OF(X509) *untrusted = X509_STORE_CTX_get0_untrusted(store);
	int ok;

	if (leaf != NULL && same_chain(v, leaf, untrusted)) {
		v->hits++;
		X509_STORE_CTX_set_error(store, X509_V_OK);
		return 1;
	}
	ok = X509_verify_cert(store);
	if (ok == 1 && leaf != NULL) {
		X509_free(v->leaf);
		sk_X509_pop_free(v->untrusted, X509_free);
		X509_up_ref(leaf);
		v->leaf = leaf;
		v->untrusted = untrusted != NULL ? X509_chain_up_ref(untrusted) : sk_X509_new_null();
		if (v->untrusted == NULL) {
			X509_free(v->leaf);
			v->leaf = NULL;
		}
	}
	return ok;
}

/* "host/" + the first DNS name of the certificate, or its CN: what authd's identity check expects. */
static char *cert_identity(SSL_CTX *ctx)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	GENERAL_NAMES *san;
	char cn[256] = "", *out = NULL;

	if (x == NULL)
		return strdup("anonymous");
	san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);

		if (g->type == GEN_DNS) {
			snprintf(cn, sizeof(cn), "%.*s", ASN1_STRING_length(g->d.dNSName),
			         (const char *)ASN1_STRING_get0_data(g->d.dNSName));
			break;
		}
	}
	GENERAL_NAMES_free(san);
	if (cn[0] == '\0')
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	if (asprintf(&out, "host/%s", cn[0] != '\0' ? cn : "anonymous") < 0)
		return NULL;
	return out;
}

static int open_socket(const struct shared *sh, unsigned server)
{
	int fd = socket(sh->server[server].ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int size = 1 << 20;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	/* Bursts of replies must not be dropped by a small receive buffer (capped by rmem_max). */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (connect(fd, (const struct sockaddr *)&sh->server[server], sh->server_len[server]) < 0)
		die("connect to %s: %s", sh->opt->servers[server], strerror(errno));
	return fd;
}

static void worker_init(struct worker *w, struct shared *sh, unsigned index)
{
	const struct options *o = sh->opt;
	unsigned t = o->threads;
	unsigned conc = o->concurrency != 0 ? o->concurrency : o->rate > 0 ? 4096 : 32;

	w->index = index;
	w->sh = sh;
	w->opt = o;
	w->max_active = conc / t + (index < conc % t);
	w->half_n = o->half_open / t + (index < o->half_open % t);
	w->quota = o->count == UINT64_MAX ? UINT64_MAX : o->count / t + (index < o->count % t);
	w->rate = o->rate / t;
	if (RAND_bytes((unsigned char *)&w->rng, sizeof(w->rng)) != 1 || w->rng == 0)
		w->rng = 0x9e3779b97f4a7c15u + index;
	w->secret = bench_radius_secret_new(o->secret, o->secret_len);
	if (w->secret == NULL)
		die("cannot set up HMAC-MD5 (is MD5 available in this OpenSSL?)");

	/* One client context per certificate and thread, so threads do not contend on one. */
	w->ctx = calloc(o->ncerts, sizeof(*w->ctx));
	w->identity = calloc(o->ncerts, sizeof(*w->identity));
	if (w->ctx == NULL || w->identity == NULL)
		die("out of memory");
	for (size_t i = 0; i < o->ncerts; i++) {
		struct eap_test_peer_options po = {
			.cert = o->certs[i].cert,
			.key = o->certs[i].key,
			.server_ca = o->ca,
			.min_version = o->tls_version,
			.max_version = o->tls_version,
			.security_level = -1,
		};

		w->ctx[i] = eap_test_peer_ctx_new(&po);
		if (w->ctx[i] == NULL) {
			unsigned long e = ERR_get_error();

			die("cannot load %s / %s%s%s: %s", o->certs[i].cert, o->certs[i].key, o->ca != NULL ? " / " : "",
			    o->ca != NULL ? o->ca : "", e != 0 ? ERR_reason_error_string(e) : "unknown error");
		}
		/* TLS 1.3 sends tickets after the handshake; EAP-TLS keeps one per device. */
		SSL_CTX_set_session_cache_mode(w->ctx[i], SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(w->ctx[i], 1);
		if (o->ca != NULL)
			SSL_CTX_set_cert_verify_callback(w->ctx[i], verify_server_chain, &w->verified);
		w->identity[i] = cert_identity(w->ctx[i]);
		if (w->identity[i] == NULL)
			die("out of memory");
	}

	w->ndevs = o->devices / t + (index < o->devices % t);
	if (w->ndevs < w->max_active)
		w->ndevs = w->max_active;  /* a device runs one auth at a time */
	w->devs = calloc(w->ndevs, sizeof(*w->devs));
	if (w->devs == NULL)
		die("out of memory");
	for (unsigned i = 0; i < w->ndevs; i++)
		w->devs[i].cert = (i * t + index) % (unsigned)o->ncerts;

	w->convs = calloc(w->max_active, sizeof(*w->convs));
	w->half = calloc(w->half_n != 0 ? w->half_n : 1, sizeof(*w->half));
	if (w->convs == NULL || w->half == NULL)
		die("out of memory");
	for (unsigned i = w->max_active; i-- > 0;) {
		struct conv *c = &w->convs[i];

		c->w = w;
		c->req = malloc(BENCH_RADIUS_MAX);
		if (c->req == NULL)
			die("out of memory");
		c->next_free = w->free_convs;
		w->free_convs = c;
	}

	/* Every conversation that can have a request in flight finds an Identifier. */
	w->nsocks = o->sockets != 0 ? o->sockets / t + (index < o->sockets % t) : 0;
	{
		unsigned need = (w->max_active + IDS_PER_SOCKET - 1) / IDS_PER_SOCKET;
		unsigned dflt = (w->max_active + REQUESTS_PER_SOCKET - 1) / REQUESTS_PER_SOCKET;

		if (w->nsocks == 0)
			w->nsocks = dflt < 2 ? 2 : dflt;
		if (w->nsocks < need)
			w->nsocks = need;
		/* That many for each server; socket i talks to server i % nservers. */
		w->nsocks *= o->nservers;
	}
	w->socks = calloc(w->nsocks, sizeof(*w->socks));
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->socks == NULL || w->epfd < 0)
		die("cannot set up the event loop: %s", strerror(errno));
	for (unsigned i = 0; i < w->nsocks; i++) {
		struct sock *s = &w->socks[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		s->server = i % o->nservers;
		s->fd = open_socket(sh, s->server);
		for (unsigned id = 0; id < IDS_PER_SOCKET; id++)
			s->free_ids[id] = (uint8_t)id;
		s->free_count = IDS_PER_SOCKET;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
			die("epoll_ctl: %s", strerror(errno));
	}
}

static void worker_free(struct worker *w)
{
	const struct options *o = w->opt;

	for (unsigned i = 0; i < w->max_active; i++) {
		eap_test_peer_free(w->convs[i].peer);
		free(w->convs[i].req);
	}
	for (unsigned i = 0; i < w->half_n; i++) {
		eap_test_peer_free(w->half[i].peer);
		free(w->half[i].req);
	}
	for (unsigned i = 0; i < w->ndevs; i++)
		SSL_SESSION_free(w->devs[i].session);
	for (size_t i = 0; i < o->ncerts; i++) {
		SSL_CTX_free(w->ctx[i]);
		free(w->identity[i]);
	}
	for (unsigned i = 0; i < w->nsocks; i++)
		close(w->socks[i].fd);
	if (w->epfd >= 0)
		close(w->epfd);
	bench_radius_secret_free(w->secret);
	X509_free(w->verified.leaf);
	sk_X509_pop_free(w->verified.untrusted, X509_free);
	free(w->ctx);
	free(w->identity);
	free(w->devs);
	free(w->convs);
	free(w->half);
	free(w->socks);
	free(w->heap);
	free(w->lat_us);
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
	fputs(
"usage: authbench -s HOST[:PORT] --secret SECRET (--cert FILE --key FILE)... [options]\n"
"EAP-TLS load generator: many 802.1X supplicant conversations over RADIUS/UDP.\n"
"\n"
"server and devices:\n"
"  -s, --server HOST[:PORT]  RADIUS server (port 1812 unless given; [ADDR]:PORT for IPv6);\n"
"                            repeat for several: auths go to each in turn, so devices\n"
"                            roam between them (and resume across them)\n"
"      --secret SECRET       RADIUS shared secret (or --secret-file FILE, first line)\n"
"      --cert FILE --key FILE\n"
"                            a device certificate (PEM, leaf optionally followed by its\n"
"                            chain) and its key; repeat for a pool of certificates\n"
"      --cert-dir DIR        add every NAME.pem in DIR that has a NAME.key beside it\n"
"      --ca FILE             verify the server's certificate against these CAs (default:\n"
"                            not verified); each distinct chain is verified once per\n"
"                            thread, the handshake's signatures every time\n"
"      --identity NAME       EAP identity of every device (default: host/ and the\n"
"                            certificate's first DNS name, else its CN)\n"
"      --tls 1.2|1.3|any     TLS version to offer (default any: up to 1.3)\n"
"      --resume PERCENT      share of auths that offer the session their device got\n"
"                            earlier (default 0: every auth a full handshake)\n"
"      --devices N           devices, each with a certificate from the pool (round\n"
"                            robin) and its own TLS session (default 1024)\n"
"load:\n"
"  -c, --concurrency N       conversations in flight, each starting the next auth when\n"
"                            it ends (default 32); with --rate: the cap (default 4096)\n"
"  -r, --rate R              start R auths per second whatever the answers (open loop);\n"
"                            latency counts from the scheduled start\n"
"  -n, --count N             auths in total (default 1000, unless --duration)\n"
"  -d, --duration S          start auths for S seconds (with --count: whichever ends first)\n"
"      --half-open N         first open N conversations up to the EAP-TLS Start (identity\n"
"                            only) and hold them idle until the end, e.g. to measure the\n"
"                            server's memory per conversation; without --count or\n"
"                            --duration they are held until SIGINT/SIGTERM\n"
"      --half-open-fill B    each half-open conversation then sends an EAP-TLS message\n"
"                            declaring B bytes, in --fragment pieces, all but its last\n"
"                            byte: the server holds them in its reassembly buffer\n"
"  -t, --threads N           event loops, each with its share of everything (default 1)\n"
"RADIUS:\n"
"      --sockets N           UDP source ports (default: one per 128 conversations, at\n"
"                            least 2 per thread; each carries at most 256 Identifiers)\n"
"      --timeout MS          retransmit a request unanswered after MS ms (default 2000)\n"
"      --retries N           retransmissions before an auth fails as timeout (default 2)\n"
"      --nas-port-type T     wireless (default), ethernet or a number (RFC 2865 5.41)\n"
"      --fragment N          TLS bytes per EAP-Response (default 1398, wpa_supplicant's)\n"
"output:\n"
"      --csv FILE            one line per auth: start_s (since the load began),\n"
"                            latency_ms, round_trips, outcome, resumed, cause,\n"
"                            calling_station_id, tls_version, detail\n"
"      --allow-reject        Access-Rejects do not make the exit status non-zero\n"
"  -q, --quiet               no progress and no report: only the summary line\n"
"  -h, --help\n"
"\n"
"Every Access-Request carries Message-Authenticator; every reply must carry a valid one\n"
"and a valid Response Authenticator. Every Access-Accept must carry MS-MPPE-Recv-Key and\n"
"MS-MPPE-Send-Key equal to the MSK the client derived (RFC 5216, RFC 9190). Calling-\n"
"Station-Id is unique per auth. Failure causes: timeout, reject, bad_authenticator,\n"
"bad_message_authenticator, no_message_authenticator, malformed_reply, unexpected_reply,\n"
"eap_error, tls_error, success_before_handshake, no_commitment_message, mppe_missing,\n"
"mppe_mismatch, too_many_round_trips, internal.\n"
"Exit status: 0 when every auth was accepted with matching keys (rejects too with\n"
"--allow-reject), 1 otherwise, 2 for a usage or setup error.\n", f);
}

static unsigned long long parse_number(const char *name, const char *s, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		die("%s: '%s' is not a number from 0 to %llu", name, s, max);
	return v;
}

static double parse_positive(const char *name, const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v > 0) || !isfinite(v))
		die("%s: '%s' is not a positive number", name, s);
	return v;
}

/* Takes cert and key (allocated) into o. */
static void add_cert(struct options *o, char *cert, char *key)
{
	struct cert_file *c = realloc(o->certs, (o->ncerts + 1) * sizeof(*c));

	if (c == NULL || cert == NULL || key == NULL)
		die("out of memory");
	o->certs = c;
	o->certs[o->ncerts].cert = cert;
	o->certs[o->ncerts].key = key;
	o->ncerts++;
}

static void add_cert_dir(struct options *o, const char *dir)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);

	if (n < 0)
		die("%s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		size_t len = strlen(name);
		char *cert = NULL, *key = NULL;

		if (len > 4 && strcmp(name + len - 4, ".pem") == 0 &&
		    asprintf(&cert, "%s/%s", dir, name) >= 0 &&
		    asprintf(&key, "%s/%.*s.key", dir, (int)(len - 4), name) >= 0 && access(key, R_OK) == 0) {
			add_cert(o, cert, key);
		} else {
			free(cert);
			free(key);
		}
		free(list[i]);
	}
	free(list);
}

static void read_secret_file(struct options *o, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	if (fgets(line, sizeof(line), f) == NULL)
		die("%s: empty", path);
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	free(o->secret);
	o->secret = (uint8_t *)strdup(line);
	o->secret_len = strlen(line);
	OPENSSL_cleanse(line, sizeof(line));
}

enum {
	OPT_SECRET = 256, OPT_SECRET_FILE, OPT_CERT, OPT_KEY, OPT_CERT_DIR, OPT_CA, OPT_IDENTITY, OPT_TLS,
	OPT_RESUME, OPT_DEVICES, OPT_HALF_OPEN, OPT_HALF_OPEN_FILL, OPT_SOCKETS, OPT_TIMEOUT, OPT_RETRIES, OPT_NAS_PORT_TYPE,
	OPT_FRAGMENT, OPT_CSV, OPT_ALLOW_REJECT,
};

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "cert-dir", required_argument, NULL, OPT_CERT_DIR },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "identity", required_argument, NULL, OPT_IDENTITY },
		{ "tls", required_argument, NULL, OPT_TLS },
		{ "resume", required_argument, NULL, OPT_RESUME },
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "half-open", required_argument, NULL, OPT_HALF_OPEN },
		{ "half-open-fill", required_argument, NULL, OPT_HALF_OPEN_FILL },
		{ "threads", required_argument, NULL, 't' },
		{ "sockets", required_argument, NULL, OPT_SOCKETS },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "nas-port-type", required_argument, NULL, OPT_NAS_PORT_TYPE },
		{ "fragment", required_argument, NULL, OPT_FRAGMENT },
		{ "csv", required_argument, NULL, OPT_CSV },
		{ "allow-reject", no_argument, NULL, OPT_ALLOW_REJECT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pending_cert = NULL;
	int ch;

	*o = (struct options){
		.devices = DEFAULT_DEVICES, .count = UINT64_MAX, .threads = 1, .timeout_ms = 2000,
		.retries = 2, .nas_port_type = BENCH_NAS_PORT_WIRELESS, .fragment = 1398,
	};
	while ((ch = getopt_long(argc, argv, "s:c:r:n:d:t:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (o->nservers == MAX_SERVERS)
				die("at most %d --server", MAX_SERVERS);
			o->servers[o->nservers++] = optarg;
			break;
		case OPT_SECRET:
			free(o->secret);
			o->secret = (uint8_t *)strdup(optarg);
			o->secret_len = strlen(optarg);
			break;
		case OPT_SECRET_FILE: read_secret_file(o, optarg); break;
		case OPT_CERT:
			if (pending_cert != NULL)
				die("--cert %s has no --key", pending_cert);
			pending_cert = optarg;
			break;
		case OPT_KEY:
			if (pending_cert == NULL)
				die("--key %s without a --cert before it", optarg);
			add_cert(o, strdup(pending_cert), strdup(optarg));
			pending_cert = NULL;
			break;
		case OPT_CERT_DIR: add_cert_dir(o, optarg); break;
		case OPT_CA: o->ca = optarg; break;
		case OPT_IDENTITY: o->identity = optarg; break;
		case OPT_TLS:
			if (strcmp(optarg, "1.2") == 0)
				o->tls_version = TLS1_2_VERSION;
			else if (strcmp(optarg, "1.3") == 0)
				o->tls_version = TLS1_3_VERSION;
			else if (strcmp(optarg, "any") == 0)
				o->tls_version = 0;
			else
				die("--tls: 1.2, 1.3 or any, not '%s'", optarg);
			break;
		case OPT_RESUME: o->resume_pct = (unsigned)parse_number("--resume", optarg, 100); break;
		case OPT_DEVICES: o->devices = (unsigned)parse_number("--devices", optarg, 10000000); break;
		case 'c': o->concurrency = (unsigned)parse_number("--concurrency", optarg, 1000000); break;
		case 'r': o->rate = parse_positive("--rate", optarg); break;
		case 'n': o->count = parse_number("--count", optarg, UINT64_MAX - 1); break;
		case 'd': o->duration = parse_positive("--duration", optarg); break;
		case OPT_HALF_OPEN: o->half_open = (unsigned)parse_number("--half-open", optarg, 10000000); break;
		case OPT_HALF_OPEN_FILL:
			o->half_open_fill = (size_t)parse_number("--half-open-fill", optarg, 1u << 20);
			break;
		case 't': o->threads = (unsigned)parse_number("--threads", optarg, 256); break;
		case OPT_SOCKETS: o->sockets = (unsigned)parse_number("--sockets", optarg, 65536); break;
		case OPT_TIMEOUT: o->timeout_ms = (unsigned)parse_number("--timeout", optarg, 600000); break;
		case OPT_RETRIES: o->retries = (unsigned)parse_number("--retries", optarg, 100); break;
		case OPT_NAS_PORT_TYPE:
			if (strcasecmp(optarg, "wireless") == 0 || strcasecmp(optarg, "Wireless-802.11") == 0)
				o->nas_port_type = BENCH_NAS_PORT_WIRELESS;
			else if (strcasecmp(optarg, "ethernet") == 0)
				o->nas_port_type = BENCH_NAS_PORT_ETHERNET;
			else
				o->nas_port_type = (unsigned)parse_number("--nas-port-type", optarg, UINT32_MAX);
			break;
		case OPT_FRAGMENT: o->fragment = (size_t)parse_number("--fragment", optarg, 4000); break;
		case OPT_CSV: o->csv = optarg; break;
		case OPT_ALLOW_REJECT: o->allow_reject = true; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (pending_cert != NULL)
		die("--cert %s has no --key", pending_cert);
	if (o->nservers == 0)
		die("--server HOST[:PORT] is required (see --help)");
	if (o->secret == NULL || o->secret_len == 0)
		die("--secret or --secret-file is required");
	if (o->ncerts == 0)
		die("at least one --cert FILE --key FILE (or --cert-dir DIR) is required");
	if (o->count == UINT64_MAX && o->duration == 0) {
		o->hold = o->half_open != 0;
		o->count = o->half_open != 0 ? 0 : 1000;
	}
	if (o->concurrency == 0 && o->rate == 0)
		o->concurrency = 32;
	if (o->threads == 0)
		die("--threads must be at least 1");
	if (o->concurrency != 0 && o->concurrency < o->threads)
		die("--concurrency %u is less than --threads %u", o->concurrency, o->threads);
	if (o->devices == 0)
		die("--devices must be at least 1");
	if (o->timeout_ms == 0)
		die("--timeout must be at least 1 ms");
	if (o->fragment < 64)
		die("--fragment must be at least 64");
	if (o->half_open_fill != 0 && (o->half_open == 0 || o->half_open_fill < 2))
		die("--half-open-fill needs --half-open, and at least 2 bytes");
}

static void resolve_server(struct shared *sh, unsigned index)
{
	const char *arg = sh->opt->servers[index];
	char host[256], port[16] = "1812";
	const char *colon;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *res;
	int rc;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			die("--server: '%s' is not [ADDRESS]:PORT", arg);
		snprintf(host, sizeof(host), "%.*s", (int)(close - arg - 1), arg + 1);
		if (close[1] == ':')
			snprintf(port, sizeof(port), "%s", close + 2);
	} else if ((colon = strrchr(arg, ':')) != NULL && strchr(arg, ':') == colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", arg);
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("--server %s: %s", arg, gai_strerror(rc));
	memcpy(&sh->server[index], res->ai_addr, res->ai_addrlen);
	sh->server_len[index] = res->ai_addrlen;
	freeaddrinfo(res);
}

/* ---------------------------------------------------------------- report */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double percentile_ms(const uint32_t *sorted, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	/* nearest rank */
	i = (size_t)ceil(p / 100.0 * (double)n);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return sorted[i] / 1000.0;
}

static double process_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

struct totals {
	uint64_t started, finished, accepts, rejects, failures, active, half_ok, half_failed, requests,
	         retransmissions;
};

static struct totals sum_counters(const struct worker *ws, unsigned n)
{
	struct totals t = { 0 };

	for (unsigned i = 0; i < n; i++) {
		const struct counters *c = &ws[i].c;

		t.started += atomic_load_explicit(&c->started, memory_order_relaxed);
		t.finished += atomic_load_explicit(&c->finished, memory_order_relaxed);
		t.accepts += atomic_load_explicit(&c->accepts, memory_order_relaxed);
		t.rejects += atomic_load_explicit(&c->rejects, memory_order_relaxed);
		t.failures += atomic_load_explicit(&c->failures, memory_order_relaxed);
		t.active += atomic_load_explicit(&c->active, memory_order_relaxed);
		t.half_ok += atomic_load_explicit(&c->half_open_ok, memory_order_relaxed);
		t.half_failed += atomic_load_explicit(&c->half_open_failed, memory_order_relaxed);
		t.requests += atomic_load_explicit(&c->requests, memory_order_relaxed);
		t.retransmissions += atomic_load_explicit(&c->retransmissions, memory_order_relaxed);
	}
	return t;
}

static void print_rt(const char *what, const struct rt_stats *s)
{
	if (s->n == 0)
		printf("  %-8s  -\n", what);
	else
		printf("  %-8s  %.2f round trips/auth (min %u, max %u) over %" PRIu64 " auths\n", what,
		       (double)s->sum / (double)s->n, s->min, s->max, s->n);
}

static int report(const struct options *o, struct worker *ws, double load_s, double total_s)
{
	unsigned n = o->threads;
	struct totals t = sum_counters(ws, n);
	uint64_t causes[CAUSE_COUNT] = { 0 }, resumed = 0, offered = 0, refused = 0, mppe_ok = 0, tls12 = 0,
	         tls13 = 0, stale = 0, unmatched = 0, send_errors = 0, delayed = 0, max_us = 0;
	struct rt_stats full = { 0 }, res = { 0 };
	size_t nlat = 0;
	uint32_t *lat;
	double cpu = process_cpu_s(), rate, p50, p95, p99, full_avg, res_avg;
	const char *first_failure = "";
	bool ok;

	for (unsigned i = 0; i < n; i++)
		nlat += ws[i].lat_len;
	lat = malloc((nlat != 0 ? nlat : 1) * sizeof(*lat));
	if (lat == NULL)
		die("out of memory");
	nlat = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct worker *w = &ws[i];

		if (w->lat_len != 0)
			memcpy(lat + nlat, w->lat_us, w->lat_len * sizeof(*lat));
		nlat += w->lat_len;
		for (int k = 0; k < CAUSE_COUNT; k++)
			causes[k] += w->causes[k];
		resumed += w->resumed;
		offered += w->resume_offered;
		refused += w->resume_refused;
		mppe_ok += w->mppe_ok;
		tls12 += w->tls12;
		tls13 += w->tls13;
		stale += w->stale_replies;
		unmatched += w->unmatched_replies;
		send_errors += w->send_errors;
		delayed += w->delayed_starts;
		if (w->max_lat_us > max_us)
			max_us = w->max_lat_us;
		if (first_failure[0] == '\0')
			first_failure = w->first_failure;
		if (w->rt_full.n != 0) {
			if (full.n == 0 || w->rt_full.min < full.min)
				full.min = w->rt_full.min;
			if (w->rt_full.max > full.max)
				full.max = w->rt_full.max;
			full.n += w->rt_full.n;
			full.sum += w->rt_full.sum;
		}
		if (w->rt_resumed.n != 0) {
			if (res.n == 0 || w->rt_resumed.min < res.min)
				res.min = w->rt_resumed.min;
			if (w->rt_resumed.max > res.max)
				res.max = w->rt_resumed.max;
			res.n += w->rt_resumed.n;
			res.sum += w->rt_resumed.sum;
		}
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	p50 = percentile_ms(lat, nlat, 50);
	p95 = percentile_ms(lat, nlat, 95);
	p99 = percentile_ms(lat, nlat, 99);
	free(lat);
	rate = load_s > 0 ? (double)t.finished / load_s : 0;
	full_avg = full.n != 0 ? (double)full.sum / (double)full.n : 0;
	res_avg = res.n != 0 ? (double)res.sum / (double)res.n : 0;
	ok = t.failures == 0 && t.half_failed == 0 && (o->allow_reject || t.rejects == 0) &&
	     t.finished == t.started;

	if (!o->quiet) {
		printf("authbench: %" PRIu64 " auths in %.2f s against %s (TLS %s, %s %g, %u thread%s)\n", t.finished,
		       load_s, o->nservers == 1 ? o->servers[0] : "several servers",
		       o->tls_version == TLS1_3_VERSION ? "1.3" : o->tls_version == TLS1_2_VERSION ? "1.2" : "any",
		       o->rate > 0 ? "rate" : "concurrency", o->rate > 0 ? o->rate : (double)o->concurrency, n,
		       n == 1 ? "" : "s");
		if (o->half_open != 0)
			printf("  half-open  %" PRIu64 " of %u conversations established and held, %" PRIu64 " failed\n",
			       t.half_ok, o->half_open, t.half_failed);
		printf("  throughput  %.1f auths/s\n", rate);
		printf("  latency     p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  (%zu auths with a final answer)\n",
		       p50, p95, p99, max_us / 1000.0, nlat);
		print_rt("full", &full);
		print_rt("resumed", &res);
		if (o->resume_pct != 0)
			printf("  resumption  %" PRIu64 " offered, %" PRIu64 " resumed, %" PRIu64 " refused by the server (full handshake instead)\n",
			       offered, resumed, refused);
		printf("  outcome     %" PRIu64 " accepts (MPPE keys matched the MSK in %" PRIu64 "), %" PRIu64 " rejects, %" PRIu64 " failures\n",
		       t.accepts, mppe_ok, t.rejects, t.failures);
		printf("  tls         TLSv1.2 %" PRIu64 ", TLSv1.3 %" PRIu64 "\n", tls12, tls13);
		for (int k = 1; k < CAUSE_COUNT; k++)
			if (causes[k] != 0)
				printf("  cause       %-26s %" PRIu64 "\n", cause_names[k], causes[k]);
		if (first_failure[0] != '\0')
			printf("  first failure: %s\n", first_failure);
		printf("  radius      %" PRIu64 " requests, %" PRIu64 " retransmissions, %" PRIu64 " late duplicate replies, %" PRIu64 " unmatched, %" PRIu64 " send errors\n",
		       t.requests, t.retransmissions, stale, unmatched, send_errors);
		if (o->rate > 0)
			printf("  rate        %" PRIu64 " starts more than 5 ms behind schedule (no free slot: raise "
			       "--concurrency; or authbench short of CPU: add --threads)\n", delayed);
		printf("  cpu         authbench used %.2f s of CPU in %.2f s: %.0f%% of one core\n", cpu, total_s,
		       total_s > 0 ? 100.0 * cpu / total_s : 0);
	}
	if (o->quiet && first_failure[0] != '\0')
		fprintf(stderr, "authbench: first failure: %s\n", first_failure);
	printf("summary: ok=%d auths=%" PRIu64 " accepts=%" PRIu64 " rejects=%" PRIu64 " failures=%" PRIu64
	       " duration_s=%.3f auths_per_s=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f"
	       " rt_full=%.2f rt_full_n=%" PRIu64 " rt_resumed=%.2f rt_resumed_n=%" PRIu64
	       " resumed=%" PRIu64 " resume_offered=%" PRIu64 " mppe_ok=%" PRIu64 " tls12=%" PRIu64 " tls13=%" PRIu64
	       " half_open=%" PRIu64 " half_open_failed=%" PRIu64 " requests=%" PRIu64 " retransmissions=%" PRIu64
	       " late_starts=%" PRIu64 " cpu_s=%.2f cpu_pct=%.0f",
	       ok ? 1 : 0, t.finished, t.accepts, t.rejects, t.failures, load_s, rate, p50, p95, p99,
	       max_us / 1000.0, full_avg, full.n, res_avg, res.n, resumed, offered, mppe_ok, tls12, tls13,
	       t.half_ok, t.half_failed, t.requests, t.retransmissions, delayed, cpu,
	       total_s > 0 ? 100.0 * cpu / total_s : 0);
	for (int k = 1; k < CAUSE_COUNT; k++)
		printf(" %s=%" PRIu64, cause_names[k], causes[k]);
	printf("\n");
	fflush(stdout);
	return ok ? 0 : 1;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	struct options opt;
	struct shared sh = { 0 };
	struct worker *ws;
	sigset_t sigs;
	uint64_t t0, load_start, end;
	uint64_t last_finished = 0, last_ns;
	double last_cpu = 0;
	int rc;

	parse_options(argc, argv, &opt);
	sh.opt = &opt;
	for (unsigned i = 0; i < opt.nservers; i++)
		resolve_server(&sh, i);
	if (opt.csv != NULL) {
		sh.csv = fopen(opt.csv, "w");
		if (sh.csv == NULL)
			die("%s: %s", opt.csv, strerror(errno));
		fprintf(sh.csv, "start_s,latency_ms,round_trips,outcome,resumed,cause,calling_station_id,tls_version,detail\n");
	}
	atomic_init(&sh.half_open_pending, opt.threads);
	ws = calloc(opt.threads, sizeof(*ws));
	if (ws == NULL)
		die("out of memory");
	for (unsigned i = 0; i < opt.threads; i++)
		worker_init(&ws[i], &sh, i);

	/* Signals go to this thread only: the first stops new auths, the second abandons the rest. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	t0 = last_ns = now_ns();
	for (unsigned i = 0; i < opt.threads; i++)
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0)
			die("pthread_create failed");

	for (;;) {
		struct timespec tick = { .tv_nsec = 50000000 };
		int sig = sigtimedwait(&sigs, NULL, &tick);
		uint64_t now = now_ns();
		bool running = false;

		if (sig > 0) {
			if (atomic_load(&sh.stop)) {
				atomic_store(&sh.abort_now, true);
			} else {
				atomic_store(&sh.stop, true);
				if (!opt.quiet)
					fprintf(stderr, "authbench: stopping: no new auths, waiting for those in flight "
					                "(again to abandon them)\n");
			}
		}
		for (unsigned i = 0; i < opt.threads; i++)
			running |= !atomic_load(&ws[i].done);
		if (!running)
			break;
		if (!opt.quiet && now - last_ns >= 1000000000u) {
			struct totals t = sum_counters(ws, opt.threads);
			double dt = (double)(now - last_ns) / 1e9, cpu = process_cpu_s();

			fprintf(stderr, "[%6.1fs] %" PRIu64 " done: %" PRIu64 " accept, %" PRIu64 " reject, %" PRIu64
			        " fail; %" PRIu64 " in flight; %.0f auths/s; cpu %.0f%%",
			        (double)(now - t0) / 1e9, t.accepts + t.rejects + t.failures, t.accepts, t.rejects,
			        t.failures, t.active,
			        (double)(t.finished - last_finished) / dt, 100 * (cpu - last_cpu) / dt);
			if (opt.half_open != 0)
				fprintf(stderr, "; half-open %" PRIu64 "/%u held, %" PRIu64 " failed", t.half_ok,
				        opt.half_open, t.half_failed);
			fputc('\n', stderr);
			last_cpu = cpu;
			last_finished = t.finished;
			last_ns = now;
		}
	}
	end = 0;
	for (unsigned i = 0; i < opt.threads; i++) {
		pthread_join(ws[i].thread, NULL);
		if (ws[i].end_ns > end)
			end = ws[i].end_ns;
	}
	load_start = atomic_load(&sh.load_start_ns);
	if (load_start == 0 || load_start > end)
		load_start = end;
	rc = report(&opt, ws, (double)(end - load_start) / 1e9, (double)(end - t0) / 1e9);
	if (sh.csv != NULL && fclose(sh.csv) != 0) {
		fprintf(stderr, "authbench: %s: %s\n", opt.csv, strerror(errno));
		rc = 1;
	}
	for (unsigned i = 0; i < opt.threads; i++)
		worker_free(&ws[i]);
	free(ws);
	OPENSSL_cleanse(opt.secret, opt.secret_len);
	free(opt.secret);
	for (size_t i = 0; i < opt.ncerts; i++) {
		free(opt.certs[i].cert);
		free(opt.certs[i].key);
	}
	free(opt.certs);
	return rc;
}

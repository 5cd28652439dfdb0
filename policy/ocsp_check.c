#include "policy/ocsp_check.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/breaker.h"
#include "common/clock.h"
#include "common/cert_names.h"
#include "common/printable.h"
#include "common/utc_time.h"

#define NONCE_LEN 32            /* RFC 8954: clients SHOULD send 32 octets */
#define MAX_URL 1024
/* A responder's breaker: one that stopped answering is skipped for a while. */
struct responder {
	char url[MAX_URL];          /* "" until taken */
	struct breaker breaker;
};

struct ocsp_check {
	char *url;                  /* override, or NULL: the certificate's AIA */
	bool nonce;
	unsigned timeout_ms;
	unsigned max_age_s;
	X509_STORE *store;          /* the trusted CAs; only read once ocsp_check_new returns */
	pthread_mutex_t responders_lock;   /* guards the urls of responders */
	struct responder responders[OCSP_CHECK_RESPONDERS];
};

/* The parts of an http:// URL a request needs, each a NUL-terminated copy. */
struct http_url {
	char *host;                 /* an IPv6 literal without its brackets */
	char *port;
	char *path;                 /* with its query; never empty */
};

void ocsp_settings_init(struct ocsp_settings *s)
{
	*s = (struct ocsp_settings){
		.url = NULL, .nonce = true,
		.timeout_ms = OCSP_CHECK_DEFAULT_TIMEOUT_MS, .max_age_s = OCSP_CHECK_DEFAULT_MAX_AGE_S,
	};
}

const char *ocsp_check_status_name(enum ocsp_check_status s)
{
	switch (s) {
	case OCSP_CHECK_GOOD: return "good";
	case OCSP_CHECK_REVOKED: return "revoked";
	case OCSP_CHECK_UNKNOWN: return "unknown";
	case OCSP_CHECK_FAILED: break;
	}
	return "failed";
}

/* ---- URLs ---------------------------------------------------------------- */

static void url_free(struct http_url *u)
{
	free(u->host);
	free(u->port);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

/*
 * http://host[:port][/path][?query][#fragment]. The URL may come from a
 * certificate, and its host and path end up on our request line, so anything
 * that is not printable ASCII (CR, LF, NUL, space) is refused rather than
 * escaped. 0, or -1 with why.
 */
static int url_parse(const char *url, struct http_url *u, char *why, size_t whylen)
{
	const char *auth, *auth_end, *host, *host_end, *port = "80", *rest;
	size_t n = strnlen(url, MAX_URL + 1), port_len = 2;
	unsigned long portnum = 80;

	memset(u, 0, sizeof(*u));
	if (n > MAX_URL) {
		snprintf(why, whylen, "URL longer than %d bytes", MAX_URL);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
			snprintf(why, whylen, "URL holds a space, control or non-ASCII character");
			return -1;
		}
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		snprintf(why, whylen, "https responder URLs are not supported (OCSP is served over "
		                      "http: its responses are signed)");
		return -1;
	}
	if (strncasecmp(url, "http://", 7) != 0) {
		snprintf(why, whylen, "not an http:// URL");
		return -1;
	}
	auth = url + 7;
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL) {
		snprintf(why, whylen, "URL with user information");
		return -1;
	}
	if (auth < auth_end && *auth == '[') {
		host = auth + 1;
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (host_end == NULL || strspn(host, "0123456789abcdefABCDEF:.") != (size_t)(host_end - host)) {
			snprintf(why, whylen, "URL with a malformed IPv6 address");
			return -1;
		}
		rest = host_end + 1;
	} else {
		host = auth;
		host_end = auth + strcspn(auth, ":/?#");
		rest = host_end;
		if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
		    (size_t)(host_end - host)) {
			snprintf(why, whylen, "URL with a malformed host name");
			return -1;
		}
	}
	if (host_end == host) {
		snprintf(why, whylen, "URL without a host");
		return -1;
	}
	if (rest < auth_end) {
		if (*rest != ':') {
			snprintf(why, whylen, "URL with a malformed host");
			return -1;
		}
		port = rest + 1;
		port_len = (size_t)(auth_end - port);
		portnum = port_len >= 1 && port_len <= 5 && strspn(port, "0123456789") == port_len
		          ? strtoul(port, NULL, 10) : 0;
		if (portnum == 0 || portnum > 65535) {
			snprintf(why, whylen, "URL with a malformed port");
			return -1;
		}
	}
	u->host = strndup(host, (size_t)(host_end - host));
	u->port = strndup(port, port_len);
	/* The fragment is the client's business; a bare query gets the root path. */
	n = strcspn(auth_end, "#");
	if (n == 0 || *auth_end == '?') {
		if (asprintf(&u->path, "/%.*s", (int)n, auth_end) < 0)
			u->path = NULL;
	} else {
		u->path = strndup(auth_end, n);
	}
	if (u->host == NULL || u->port == NULL || u->path == NULL) {
		url_free(u);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* The first id-ad-ocsp URL of cert that is http://; else the first one (it will be refused). */
static char *aia_url(X509 *cert)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	char *url = NULL;

	for (int i = 0; i < sk_OPENSSL_STRING_num(urls) && url == NULL; i++) {
		if (strncasecmp(sk_OPENSSL_STRING_value(urls, i), "http://", 7) == 0)
			url = strdup(sk_OPENSSL_STRING_value(urls, i));
	}
	if (url == NULL && sk_OPENSSL_STRING_num(urls) > 0)
		url = strdup(sk_OPENSSL_STRING_value(urls, 0));
	X509_email_free(urls);
	return url;
}

/* ---- time budget ----------------------------------------------------------- */

static struct timespec deadline_after(unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Milliseconds left, rounded up so that poll() never spins on 0; 0 when past. */
static int remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 + (deadline->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return (int)((ns + 999999) / 1000000);
}

/* ---- name resolution within the deadline ------------------------------------ */

/*
 * getaddrinfo() cannot be bounded, so a host name is resolved on a thread of
 * its own that we stop waiting for at the deadline. Whoever of the two lets
 * go last frees the lookup.
 */
struct lookup {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int refs;
	bool done;
	int rc;
	struct addrinfo *res;
	char *host, *port;
};

/* Called with l->lock held; releases it. */
static void lookup_unref(struct lookup *l)
{
	bool last = --l->refs == 0;

	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res != NULL)
		freeaddrinfo(l->res);
	pthread_cond_destroy(&l->done_cond);
	pthread_mutex_destroy(&l->lock);
	free(l->host);
	free(l->port);
	free(l);
}

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(l->host, l->port, &hints, &res);

	pthread_mutex_lock(&l->lock);
	l->rc = rc;
	l->res = rc == 0 ? res : NULL;
	l->done = true;
	pthread_cond_signal(&l->done_cond);
	lookup_unref(l);
	return NULL;
}

/* 0 with *res, -1 with why (*timed_out when the deadline passed). */
static int resolve(const struct http_url *u, const struct timespec *deadline,
                   struct addrinfo **res, bool *timed_out, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	pthread_condattr_t cattr;
	pthread_attr_t tattr;
	pthread_t thread;
	struct lookup *l;
	int rc;

	*res = NULL;
	rc = getaddrinfo(u->host, u->port, &hints, res);
	if (rc == 0)
		return 0;
	if (rc != EAI_NONAME) {
		snprintf(why, whylen, "cannot use address %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL || (l->host = strdup(u->host)) == NULL || (l->port = strdup(u->port)) == NULL) {
		if (l != NULL)
			free(l->host);
		free(l);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&l->done_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	l->refs = 2;
	pthread_attr_init(&tattr);
	pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&thread, &tattr, lookup_run, l);
	pthread_attr_destroy(&tattr);
	pthread_mutex_lock(&l->lock);
	if (rc != 0) {
		l->refs--;
		lookup_unref(l);
		snprintf(why, whylen, "cannot resolve %s: no thread (%s)", u->host, strerror(rc));
		return -1;
	}
	while (!l->done && pthread_cond_timedwait(&l->done_cond, &l->lock, deadline) != ETIMEDOUT)
		;
	if (!l->done) {
		*timed_out = true;
		snprintf(why, whylen, "resolving %s", u->host);
		lookup_unref(l);
		return -1;
	}
	rc = l->rc;
	*res = l->res;
	l->res = NULL;
	lookup_unref(l);
	if (rc != 0) {
		snprintf(why, whylen, "cannot resolve %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	return 0;
}

/* ---- HTTP/1.0 POST over a non-blocking socket ------------------------------- */

/* Waits for events on fd until the deadline: 1 ready, 0 deadline passed, -1 error. */
static int wait_for(int fd, short events, const struct timespec *deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ms, n;

	while ((ms = remaining_ms(deadline)) > 0) {
		n = poll(&p, 1, ms);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

static void address_string(const struct addrinfo *ai, char *out, size_t len)
{
	char host[64], port[8];

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), port, sizeof(port),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, len, "?");
	else
		snprintf(out, len, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* A connected non-blocking socket to one of the addresses, or -1 with why. */
static int connect_any(const struct addrinfo *list, const struct timespec *deadline,
                       bool *timed_out, char *why, size_t whylen)
{
	snprintf(why, whylen, "no address to connect to");
	for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		char addr[80];
		int fd, error = 0, ready;
		socklen_t elen = sizeof(error);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			error = errno;
			goto next;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return fd;
		if (errno != EINPROGRESS) {
			error = errno;
			goto next;
		}
		ready = wait_for(fd, POLLOUT, deadline);
		if (ready == 0) {
			close(fd);
			*timed_out = true;
			snprintf(why, whylen, "connecting");
			return -1;
		}
		if (ready < 0)
			error = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen) < 0)
			error = errno;
		if (error == 0)
			return fd;
next:
		address_string(ai, addr, sizeof(addr));
		snprintf(why, whylen, "cannot connect to %s: %s", addr, strerror(error));
		if (fd >= 0)
			close(fd);
	}
	return -1;
}

static int send_all(int fd, const unsigned char *buf, size_t len, const struct timespec *deadline,
                    bool *timed_out, char *why, size_t whylen)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(why, whylen, "cannot send the request: %s", strerror(errno));
			return -1;
		}
		if (wait_for(fd, POLLOUT, deadline) <= 0) {
			*timed_out = true;
			snprintf(why, whylen, "sending the request");
			return -1;
		}
	}
	return 0;
}

/* End of the response head ("\r\n\r\n", or bare "\n\n"): offset of the body, 0 if not yet. */
static size_t head_end(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	*value = line + k + 1;
	*vlen = n - k - 1;
	while (*vlen > 0 && (**value == ' ' || **value == '\t')) {
		(*value)++;
		(*vlen)--;
	}
	while (*vlen > 0 && ((*value)[*vlen - 1] == ' ' || (*value)[*vlen - 1] == '\t'))
		(*vlen)--;
	return true;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* head is not NUL-terminated: everything here is bounded by len. */
int ocsp_check_http_head(const char *head, size_t len, long *content_length, char *why,
                         size_t whylen)
{
	static const char ocsp_type[] = "application/ocsp-response";
	const char *line = head, *end = head + len, *nl, *value;
	char shown[80];
	bool typed = false;
	size_t n, vlen;

	*content_length = -1;
	nl = memchr(line, '\n', len);
	n = nl != NULL ? (size_t)(nl - line) : len;
	if (n >= 1 && line[n - 1] == '\r')
		n--;
	if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || !is_digit(line[7]) || line[8] != ' ' ||
	    !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) {
		printable_bytes(shown, sizeof(shown), line, n < 40 ? n : 40);
		snprintf(why, whylen, "not an HTTP/1.x response: \"%s\"", shown);
		return -1;
	}
	if (memcmp(line + 9, "200", 3) != 0) {
		printable_bytes(shown, sizeof(shown), line + 9, n - 9 < 60 ? n - 9 : 60);
		snprintf(why, whylen, "HTTP status %s", shown);
		return -1;
	}
	/* A head without a line end has a status line and no headers. */
	for (line = nl != NULL ? nl + 1 : end; line < end; line += n + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		n = nl != NULL ? (size_t)(nl - line) : (size_t)(end - line);
		vlen = n >= 1 && line[n - 1] == '\r' ? n - 1 : n;
		if (header_is(line, vlen, "Content-Type", &value, &vlen)) {
			const char *semi = memchr(value, ';', vlen);
			size_t tlen = semi != NULL ? (size_t)(semi - value) : vlen;

			while (tlen > 0 && (value[tlen - 1] == ' ' || value[tlen - 1] == '\t'))
				tlen--;
			if (tlen != sizeof(ocsp_type) - 1 || strncasecmp(value, ocsp_type, tlen) != 0) {
				printable_bytes(shown, sizeof(shown), value, vlen < 60 ? vlen : 60);
				snprintf(why, whylen, "Content-Type \"%s\", not %s", shown, ocsp_type);
				return -1;
			}
			typed = true;
		} else if (header_is(line, vlen, "Content-Length", &value, &vlen)) {
			long cl = 0;
			size_t i;

			/* At most 10 digits before any arithmetic: a longer number would overflow. */
			for (i = 0; vlen <= 10 && i < vlen && is_digit(value[i]); i++)
				cl = cl * 10 + (value[i] - '0');
			if (vlen == 0 || vlen > 10 || i < vlen) {
				printable_bytes(shown, sizeof(shown), value, vlen < 30 ? vlen : 30);
				snprintf(why, whylen, "malformed Content-Length \"%s\"", shown);
				return -1;
			}
			if (*content_length >= 0 && cl != *content_length) {
				snprintf(why, whylen, "two different Content-Length headers");
				return -1;
			}
			if (cl > OCSP_CHECK_MAX_RESPONSE) {
				snprintf(why, whylen, "response of %ld bytes is larger than the limit of %d",
				         cl, OCSP_CHECK_MAX_RESPONSE);
				return -1;
			}
			*content_length = cl;
		} else if (header_is(line, vlen, "Transfer-Encoding", &value, &vlen)) {
			printable_bytes(shown, sizeof(shown), value, vlen < 30 ? vlen : 30);
			snprintf(why, whylen, "Transfer-Encoding \"%s\" in an answer to HTTP/1.0", shown);
			return -1;
		}
	}
	if (!typed) {
		snprintf(why, whylen, "no Content-Type (expected %s)", ocsp_type);
		return -1;
	}
	return 0;
}

void ocsp_check_http_init(struct ocsp_check_http *r)
{
	r->head = 0;
	r->content_length = -1;
}

enum ocsp_check_http_state ocsp_check_http_feed(struct ocsp_check_http *r, const unsigned char *buf,
                                                size_t len, bool closed, size_t *body_off,
                                                size_t *body_len, char *why, size_t whylen)
{
	size_t body;

	if (r->head == 0) {
		r->head = head_end(buf, len < OCSP_CHECK_MAX_HTTP_HEAD ? len : OCSP_CHECK_MAX_HTTP_HEAD);
		if (r->head == 0) {
			if (len >= OCSP_CHECK_MAX_HTTP_HEAD) {
				snprintf(why, whylen, "HTTP response headers longer than %d bytes",
				         OCSP_CHECK_MAX_HTTP_HEAD);
				return OCSP_CHECK_HTTP_REFUSED;
			}
			if (!closed)
				return OCSP_CHECK_HTTP_MORE;
			snprintf(why, whylen, len == 0 ? "connection closed without an answer"
			                               : "connection closed inside the HTTP response headers");
			return OCSP_CHECK_HTTP_REFUSED;
		}
		if (ocsp_check_http_head((const char *)buf, r->head, &r->content_length, why, whylen) < 0)
			return OCSP_CHECK_HTTP_REFUSED;
	}
	body = len - r->head;
	if (r->content_length >= 0 && body >= (size_t)r->content_length) {
		body = (size_t)r->content_length;   /* anything after it is not ours */
	} else if (!closed) {
		if (len < OCSP_CHECK_MAX_HTTP)
			return OCSP_CHECK_HTTP_MORE;
		snprintf(why, whylen, "response larger than the limit of %d bytes", OCSP_CHECK_MAX_RESPONSE);
		return OCSP_CHECK_HTTP_REFUSED;
	} else if (r->content_length >= 0) {
		snprintf(why, whylen, "truncated response: %zu of %ld bytes", body, r->content_length);
		return OCSP_CHECK_HTTP_REFUSED;
	}
	if (body > OCSP_CHECK_MAX_RESPONSE) {
		snprintf(why, whylen, "response larger than the limit of %d bytes", OCSP_CHECK_MAX_RESPONSE);
		return OCSP_CHECK_HTTP_REFUSED;
	}
	if (body == 0) {
		snprintf(why, whylen, "empty HTTP body");
		return OCSP_CHECK_HTTP_REFUSED;
	}
	*body_off = r->head;
	*body_len = body;
	return OCSP_CHECK_HTTP_DONE;
}

/*
 * Reads the whole response (within the deadline and the size limits) and
 * returns its body: *body points into *buf, which the caller frees.
 */
static int receive_response(int fd, const struct timespec *deadline, unsigned char **buf,
                            const unsigned char **body, size_t *body_len, bool *timed_out,
                            char *why, size_t whylen)
{
	struct ocsp_check_http reader;
	enum ocsp_check_http_state state = OCSP_CHECK_HTTP_MORE;
	size_t len = 0, body_off = 0;
	bool closed = false;
	unsigned char *b = malloc(OCSP_CHECK_MAX_HTTP);

	*buf = b;
	if (b == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	ocsp_check_http_init(&reader);
	while (state == OCSP_CHECK_HTTP_MORE) {
		ssize_t n;
		int ready;

		if (len > 0 || closed) {
			state = ocsp_check_http_feed(&reader, b, len, closed, &body_off, body_len, why, whylen);
			if (state != OCSP_CHECK_HTTP_MORE)
				break;
		}
		ready = wait_for(fd, POLLIN, deadline);
		if (ready == 0) {
			*timed_out = true;
			if (len == 0)
				snprintf(why, whylen, "waiting for the response");
			else
				snprintf(why, whylen, "reading the response, %zu bytes so far", len);
			return -1;
		}
		n = ready < 0 ? -1 : recv(fd, b + len, OCSP_CHECK_MAX_HTTP - len, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(why, whylen, "cannot receive the response: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			closed = true;
		len += (size_t)n;
	}
	if (state != OCSP_CHECK_HTTP_DONE)
		return -1;
	*body = b + body_off;
	return 0;
}

/*
 * POSTs req to u and returns the response body in a buffer the caller frees
 * (*buf; the body is *body, *body_len inside it). Everything, resolving
 * included, ends by the deadline. 0, or -1 with why.
 */
static int http_post(const struct http_url *u, const unsigned char *req, size_t req_len,
                     unsigned timeout_ms, unsigned char **buf, const unsigned char **body,
                     size_t *body_len, char *why, size_t whylen)
{
	struct timespec deadline = deadline_after(timeout_ms);
	struct addrinfo *addrs = NULL;
	bool timed_out = false, ipv6 = strchr(u->host, ':') != NULL;
	char phase[160], *head = NULL;
	int fd = -1, head_len, rc = -1;

	*buf = NULL;
	if (resolve(u, &deadline, &addrs, &timed_out, phase, sizeof(phase)) < 0)
		goto fail;
	fd = connect_any(addrs, &deadline, &timed_out, phase, sizeof(phase));
	if (fd < 0)
		goto fail;
	head_len = asprintf(&head,
	                    "POST %s HTTP/1.0\r\n"
	                    "Host: %s%s%s%s%s\r\n"
	                    "Content-Type: application/ocsp-request\r\n"
	                    "Accept: application/ocsp-response\r\n"
	                    "Content-Length: %zu\r\n"
	                    "Connection: close\r\n"
	                    "\r\n",
	                    u->path, ipv6 ? "[" : "", u->host, ipv6 ? "]" : "",
	                    strcmp(u->port, "80") != 0 ? ":" : "",
	                    strcmp(u->port, "80") != 0 ? u->port : "", req_len);
	if (head_len < 0) {
		head = NULL;
		snprintf(phase, sizeof(phase), "out of memory");
		goto fail;
	}
	if (send_all(fd, (const unsigned char *)head, (size_t)head_len, &deadline, &timed_out,
	             phase, sizeof(phase)) < 0 ||
	    send_all(fd, req, req_len, &deadline, &timed_out, phase, sizeof(phase)) < 0 ||
	    receive_response(fd, &deadline, buf, body, body_len, &timed_out, phase, sizeof(phase)) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	if (timed_out)
		snprintf(why, whylen, "no answer within %u ms (%s)", timeout_ms, phase);
	else
		snprintf(why, whylen, "%s", phase);
	free(*buf);
	*buf = NULL;
out:
	free(head);
	if (fd >= 0)
		close(fd);
	if (addrs != NULL)
		freeaddrinfo(addrs);
	return rc;
}

/* ---- the response ------------------------------------------------------------ */

/*
 * Why OCSP_basic_verify refused, from its error queue: the first OCSP reason
 * and its data (the X509 verify error, when the signer's chain failed).
 */
static void verify_failure(OCSP_BASICRESP *bs, X509 *issuer, char *why, size_t whylen)
{
	STACK_OF(X509) *extra = sk_X509_new_null();
	unsigned long e, reason = 0;
	const char *data = NULL, *d;
	char data_copy[128] = "", signer_name[160] = "(not in the response)";
	X509 *signer = NULL;
	int flags;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &d, &flags)) != 0) {
		if (ERR_GET_LIB(e) != ERR_LIB_OCSP || reason != 0)
			continue;
		reason = ERR_GET_REASON(e);
		if ((flags & ERR_TXT_STRING) && d != NULL) {
			data = strncmp(d, "Verify error:", 13) == 0 ? d + 13 : d;
			data += strspn(data, " ");
			snprintf(data_copy, sizeof(data_copy), "%s", data);
		}
	}
	if (extra != NULL && issuer != NULL)
		sk_X509_push(extra, issuer);
	if (OCSP_resp_get0_signer(bs, &signer, extra) == 1)
		cert_name_string(X509_get_subject_name(signer), signer_name, sizeof(signer_name));
	sk_X509_free(extra);
	ERR_clear_error();
	switch (reason) {
	case OCSP_R_SIGNER_CERTIFICATE_NOT_FOUND:
		snprintf(why, whylen, "signature check failed: the signer's certificate is not in the "
		                      "response and is not the issuer");
		break;
	case OCSP_R_SIGNATURE_FAILURE:
		snprintf(why, whylen, "signature check failed: the signature of %s does not verify",
		         signer_name);
		break;
	case OCSP_R_CERTIFICATE_VERIFY_ERROR:
		snprintf(why, whylen, "signature check failed: signer %s does not chain to a trusted CA (%s)",
		         signer_name, data_copy);
		break;
	case OCSP_R_MISSING_OCSPSIGNING_USAGE:
	case OCSP_R_ROOT_CA_NOT_TRUSTED:
		snprintf(why, whylen, "signature check failed: signer %s is neither the certificate's "
		                      "issuer nor a responder delegated by it (EKU OCSPSigning)", signer_name);
		break;
	default:
		d = reason != 0 ? ERR_reason_error_string(ERR_PACK(ERR_LIB_OCSP, 0, reason)) : NULL;
		snprintf(why, whylen, "signature check failed: %s", d != NULL ? d : "no reason given");
		break;
	}
}

/* Does the response echo the nonce we sent? 0, or -1 with why. */
static int check_nonce(OCSP_BASICRESP *bs, const unsigned char *nonce, size_t nonce_len,
                       char *why, size_t whylen)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	int rc;

	if (req == NULL || nonce_len > INT_MAX ||
	    !OCSP_request_add1_nonce(req, (unsigned char *)nonce, (int)nonce_len)) {
		OCSP_REQUEST_free(req);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	rc = OCSP_check_nonce(req, bs);
	OCSP_REQUEST_free(req);
	if (rc == 1)
		return 0;
	if (rc == -1)
		snprintf(why, whylen, "the response does not echo our nonce (a responder that cannot "
		                      "needs nonce off)");
	else
		snprintf(why, whylen, "the response carries another nonce than ours (replayed or misdirected)");
	return -1;
}

/* thisUpdate/nextUpdate against now. Fills out's times. 0, or -1 with why. */
static int check_times(const struct ocsp_check *c, ASN1_GENERALIZEDTIME *this_upd,
                       ASN1_GENERALIZEDTIME *next_upd, time_t now, struct ocsp_answer *out,
                       char *why, size_t whylen)
{
	char a[32], b[32];

	if (utc_time_from_asn1(this_upd, &out->this_update) < 0) {
		snprintf(why, whylen, "malformed thisUpdate");
		return -1;
	}
	if (next_upd != NULL && utc_time_from_asn1(next_upd, &out->next_update) < 0) {
		snprintf(why, whylen, "malformed nextUpdate");
		return -1;
	}
	utc_time_format(out->this_update, a, sizeof(a));
	if (out->this_update > now + OCSP_CHECK_CLOCK_SKEW_S) {
		snprintf(why, whylen, "thisUpdate %s is in the future (clocks apart?)", a);
		return -1;
	}
	if (next_upd != NULL) {
		utc_time_format(out->next_update, b, sizeof(b));
		if (out->next_update < out->this_update) {
			snprintf(why, whylen, "nextUpdate %s is before thisUpdate %s", b, a);
			return -1;
		}
		if (out->next_update < now - OCSP_CHECK_CLOCK_SKEW_S) {
			snprintf(why, whylen, "stale response: nextUpdate %s has passed", b);
			return -1;
		}
	} else if (out->this_update < now - (time_t)c->max_age_s) {
		snprintf(why, whylen, "stale response: no nextUpdate and thisUpdate %s is more than %u s old",
		         a, c->max_age_s);
		return -1;
	}
	return 0;
}

static enum ocsp_check_status judge(struct ocsp_check *c, const unsigned char *der, size_t len,
                                    X509 *cert, X509 *issuer, const unsigned char *nonce,
                                    size_t nonce_len, time_t now, struct ocsp_answer *out,
                                    char *why, size_t whylen)
{
	enum ocsp_check_status status = OCSP_CHECK_FAILED;
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	STACK_OF(X509) *untrusted = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *this_upd = NULL, *next_upd = NULL;
	int cert_status, reason = -1, rstatus;
	char t[32], serial[80];

	ERR_clear_error();
	if (cert == NULL || issuer == NULL) {
		snprintf(why, whylen, "no certificate or no issuer to ask about");
		goto out;
	}
	if (len == 0 || len > OCSP_CHECK_MAX_RESPONSE) {
		snprintf(why, whylen, "response of %zu bytes", len);
		goto out;
	}
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL) {
		snprintf(why, whylen, "not a DER OCSPResponse");
		goto out;
	}
	if (p != der + len) {
		snprintf(why, whylen, "%zu bytes after the OCSPResponse", (size_t)(der + len - p));
		goto out;
	}
	rstatus = OCSP_response_status(resp);
	if (rstatus != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		snprintf(why, whylen, "the responder refused: %s", OCSP_response_status_str(rstatus));
		goto out;
	}
	bs = OCSP_response_get1_basic(resp);
	if (bs == NULL) {
		snprintf(why, whylen, "not a basic OCSP response");
		goto out;
	}
	/* The issuer completes the signer's chain when tls.ca holds only the root,
	 * and is the signer when the CA answers itself without including its certificate. */
	untrusted = sk_X509_new_null();
	if (untrusted == NULL || !sk_X509_push(untrusted, issuer)) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (OCSP_basic_verify(bs, untrusted, c->store, 0) != 1) {
		verify_failure(bs, issuer, why, whylen);
		goto out;
	}
	if (nonce != NULL && check_nonce(bs, nonce, nonce_len, why, whylen) < 0)
		goto out;
	id = OCSP_cert_to_id(NULL, cert, issuer);
	if (id == NULL) {
		snprintf(why, whylen, "cannot compute the certificate's OCSP CertID");
		goto out;
	}
	if (OCSP_resp_find_status(bs, id, &cert_status, &reason, &rev, &this_upd, &next_upd) != 1) {
		cert_serial_hex(cert, serial, sizeof(serial));
		snprintf(why, whylen, "the response says nothing about this certificate (serial %s)", serial);
		goto out;
	}
	if (check_times(c, this_upd, next_upd, now, out, why, whylen) < 0)
		goto out;
	switch (cert_status) {
	case V_OCSP_CERTSTATUS_GOOD:
		status = OCSP_CHECK_GOOD;
		utc_time_format(out->this_update, t, sizeof(t));
		if (next_upd != NULL) {
			char n[32];

			utc_time_format(out->next_update, n, sizeof(n));
			snprintf(why, whylen, "good (thisUpdate %s, nextUpdate %s)", t, n);
		} else {
			snprintf(why, whylen, "good (thisUpdate %s, no nextUpdate)", t);
		}
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		if (utc_time_from_asn1(rev, &out->revoked_at) < 0) {
			snprintf(why, whylen, "revoked, with a malformed revocation time");
			goto out;   /* fail closed, but say so */
		}
		status = OCSP_CHECK_REVOKED;
		out->reason = reason == OCSP_REVOKED_STATUS_NOSTATUS ? -1 : reason;
		utc_time_format(out->revoked_at, t, sizeof(t));
		snprintf(why, whylen, "revoked at %s (%s)", t,
		         out->reason < 0 ? "no reason given" : OCSP_crl_reason_str(out->reason));
		break;
	default:
		status = OCSP_CHECK_UNKNOWN;
		cert_serial_hex(cert, serial, sizeof(serial));
		snprintf(why, whylen, "unknown: the responder does not know serial %s", serial);
		break;
	}
out:
	if (status == OCSP_CHECK_FAILED) {
		out->this_update = out->next_update = out->revoked_at = 0;
		out->reason = -1;
	}
	out->status = status;
	sk_X509_free(untrusted);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return status;
}

/* out->detail = "OCSP[ who]: why", cut to fit (the end of a long reason matters least). */
static void set_detail(struct ocsp_answer *out, const char *who, const char *why)
{
	int n = snprintf(out->detail, sizeof(out->detail), "OCSP%s%.100s: ", who != NULL ? " " : "",
	                 who != NULL ? who : "");
	size_t k;

	if (n < 0 || (size_t)n >= sizeof(out->detail))
		return;
	k = strnlen(why, sizeof(out->detail) - (size_t)n - 1);
	memcpy(out->detail + n, why, k);
	out->detail[(size_t)n + k] = '\0';
}

static void answer_reset(struct ocsp_answer *out)
{
	memset(out, 0, sizeof(*out));
	out->status = OCSP_CHECK_FAILED;
	out->reason = -1;
}

enum ocsp_check_status ocsp_check_verify_response(struct ocsp_check *c, const unsigned char *der,
                                                  size_t len, X509 *cert, X509 *issuer,
                                                  const unsigned char *nonce_or_null,
                                                  size_t nonce_len, time_t now,
                                                  struct ocsp_answer *out)
{
	char why[sizeof(out->detail)];

	answer_reset(out);
	judge(c, der, len, cert, issuer, nonce_or_null, nonce_len, now, out, why, sizeof(why));
	set_detail(out, NULL, why);
	return out->status;
}

/* ---- the query ---------------------------------------------------------------- */

/* DER OCSPRequest for one certificate, with a fresh nonce if nonce != NULL. */
static unsigned char *build_request(X509 *cert, X509 *issuer, unsigned char *nonce, int *len,
                                    char *why, size_t whylen)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
	unsigned char *der = NULL;

	if (req == NULL || id == NULL) {
		snprintf(why, whylen, "cannot compute the certificate's OCSP CertID");
		goto fail;
	}
	if (OCSP_request_add0_id(req, id) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	id = NULL;   /* owned by req now */
	if (nonce != NULL && (RAND_bytes(nonce, NONCE_LEN) != 1 ||
	                      !OCSP_request_add1_nonce(req, nonce, NONCE_LEN))) {
		snprintf(why, whylen, "cannot make a nonce");
		goto fail;
	}
	*len = i2d_OCSP_REQUEST(req, &der);
	if (*len <= 0) {
		der = NULL;
		snprintf(why, whylen, "cannot encode the request");
		goto fail;
	}
fail:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	ERR_clear_error();
	return der;
}

/* The slot of the responder at url, taken on first sight when `take`
 * (-1: not seen yet). Once every slot is taken, the last one serves the
 * rest, for their breaker and their threads alike. */
static int responder_slot(struct ocsp_check *c, const char *url, bool take)
{
	int found = -1;

	pthread_mutex_lock(&c->responders_lock);
	for (int i = 0; i < OCSP_CHECK_RESPONDERS && found < 0; i++) {
		struct responder *r = &c->responders[i];

		if (strcmp(r->url, url) == 0 || (r->url[0] == '\0' && take)) {
			snprintf(r->url, sizeof(r->url), "%s", url);
			found = i;
		}
	}
	if (found < 0 && (take || c->responders[OCSP_CHECK_RESPONDERS - 1].url[0] != '\0'))
		found = OCSP_CHECK_RESPONDERS - 1;
	pthread_mutex_unlock(&c->responders_lock);
	return found;
}

/* The URL that would be asked about cert (NULL: none, or out of memory). */
static char *responder_url(const struct ocsp_check *c, X509 *cert)
{
	return c->url != NULL ? strdup(c->url) : aia_url(cert);
}

bool ocsp_check_responder_down(struct ocsp_check *c, X509 *cert)
{
	char *url = responder_url(c, cert);
	int slot = url != NULL ? responder_slot(c, url, false) : -1;

	free(url);
	return slot >= 0 && breaker_is_open(&c->responders[slot].breaker);
}

unsigned ocsp_check_responder(struct ocsp_check *c, X509 *cert)
{
	char *url = responder_url(c, cert);
	int slot = url != NULL ? responder_slot(c, url, true) : -1;

	free(url);
	/* No URL: the query fails at once wherever it runs. */
	return slot >= 0 ? (unsigned)slot : OCSP_CHECK_RESPONDERS - 1;
}

enum ocsp_check_status ocsp_check_query(struct ocsp_check *c, X509 *cert, X509 *issuer,
                                        struct ocsp_answer *out)
{
	struct breaker *breaker;
	uint64_t started;
	unsigned char nonce[NONCE_LEN], *req = NULL, *buf = NULL;
	const unsigned char *body = NULL;
	char why[sizeof(out->detail)], *url = NULL;
	struct http_url u = { 0 };
	size_t body_len = 0;
	int req_len = 0;

	answer_reset(out);
	if (cert == NULL || issuer == NULL) {
		set_detail(out, NULL, "no certificate or no issuer to ask about");
		return OCSP_CHECK_FAILED;
	}
	url = responder_url(c, cert);
	if (url == NULL) {
		set_detail(out, NULL, c->url != NULL ? "out of memory"
		                      : "the certificate names no OCSP responder (AIA) and no ocsp url is set");
		return OCSP_CHECK_FAILED;
	}
	if (url_parse(url, &u, why, sizeof(why)) < 0) {
		char shown[101];

		/* A certificate's URL is not to be trusted as text either. */
		printable_bytes(shown, sizeof(shown), url, strnlen(url, sizeof(shown) - 1));
		set_detail(out, shown, why);
		goto out;
	}
	started = clock_now_ms();
	breaker = &c->responders[responder_slot(c, url, true)].breaker;
	if (!breaker_allow(breaker)) {
		snprintf(why, sizeof(why), "marked down after %u failed queries in a row, next try in %u ms",
		         breaker->threshold, breaker_retry_in_ms(breaker));
		goto done;
	}
	req = build_request(cert, issuer, c->nonce ? nonce : NULL, &req_len, why, sizeof(why));
	if (req == NULL) {
		breaker_record(breaker, true, started, c->timeout_ms);   /* not the responder's fault */
		goto done;
	}
	/* Only silence counts against the responder, not what it said. */
	if (http_post(&u, req, (size_t)req_len, c->timeout_ms, &buf, &body, &body_len, why, sizeof(why)) < 0) {
		breaker_record(breaker, false, started, c->timeout_ms);
		goto done;
	}
	breaker_record(breaker, true, started, c->timeout_ms);
	judge(c, body, body_len, cert, issuer, c->nonce ? nonce : NULL, NONCE_LEN, time(NULL), out,
	      why, sizeof(why));
done:
	set_detail(out, url, why);
out:
	OPENSSL_free(req);
	free(buf);
	url_free(&u);
	free(url);
	return out->status;
}

/* ---- setup ---------------------------------------------------------------------- */

static X509_STORE *load_store(const char *path, char *err, size_t errlen)
{
	X509_STORE *store = X509_STORE_new();
	FILE *f = fopen(path, "r");
	X509 *x;
	int n = 0;

	if (f == NULL || store == NULL) {
		snprintf(err, errlen, "%s: %s", path, f == NULL ? strerror(errno) : "out of memory");
		goto fail;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(store, x);

		X509_free(x);
		if (!ok) {
			snprintf(err, errlen, "%s: cannot use certificate %d", path, n + 1);
			goto fail;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no PEM certificate", path);
		goto fail;
	}
	/* Responder chains meet the same bar as device chains (security level 2). */
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_get0_param(store), 2);
	fclose(f);
	ERR_clear_error();
	return store;
fail:
	if (f != NULL)
		fclose(f);
	X509_STORE_free(store);
	ERR_clear_error();
	return NULL;
}

struct ocsp_check *ocsp_check_new(const struct ocsp_settings *s, const char *ca_file,
                                  char *err, size_t errlen)
{
	struct ocsp_check *c = calloc(1, sizeof(*c));
	struct http_url u;
	char why[160];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->responders_lock, NULL);
	for (size_t i = 0; i < OCSP_CHECK_RESPONDERS; i++)
		breaker_init(&c->responders[i].breaker, BREAKER_DEFAULT_THRESHOLD, BREAKER_DEFAULT_OPEN_MS);
	if (s->timeout_ms == 0 || s->timeout_ms > OCSP_CHECK_MAX_TIMEOUT_MS) {
		snprintf(err, errlen, "OCSP timeout %u ms: must be 1 to %d", s->timeout_ms,
		         OCSP_CHECK_MAX_TIMEOUT_MS);
		goto fail;
	}
	if (s->url != NULL) {
		if (url_parse(s->url, &u, why, sizeof(why)) < 0) {
			char shown[100];

			printable_bytes(shown, sizeof(shown), s->url, strnlen(s->url, sizeof(shown) - 1));
			snprintf(err, errlen, "OCSP url %s: %s", shown, why);
			goto fail;
		}
		url_free(&u);
		c->url = strdup(s->url);
		if (c->url == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	c->nonce = s->nonce;
	c->timeout_ms = s->timeout_ms;
	c->max_age_s = s->max_age_s;
	c->store = load_store(ca_file, err, errlen);
	if (c->store == NULL)
		goto fail;
	return c;
fail:
	ocsp_check_free(c);
	return NULL;
}

void ocsp_check_free(struct ocsp_check *c)
{
	if (c == NULL)
		return;
	X509_STORE_free(c->store);
	pthread_mutex_destroy(&c->responders_lock);
	free(c->url);
	free(c);
}

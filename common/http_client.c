#include "common/http_client.h"

#include <errno.h>
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

#include "common/printable.h"

/* ---- URLs --------------------------------------------------------------------- */

void http_url_free(struct http_url *u)
{
	free(u->host);
	free(u->port);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

/* The URL may come from a certificate, and its host and path end up on our
 * request line, so anything that is not printable ASCII (CR, LF, NUL, space)
 * is refused rather than escaped. */
int http_url_parse(const char *url, struct http_url *u, char *why, size_t whylen)
{
	const char *auth, *auth_end, *host, *host_end, *port = "80", *rest;
	size_t n = strnlen(url, HTTP_URL_MAX + 1), port_len = 2;
	unsigned long portnum = 80;

	memset(u, 0, sizeof(*u));
	if (n > HTTP_URL_MAX) {
		snprintf(why, whylen, "URL longer than %d bytes", HTTP_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
			snprintf(why, whylen, "URL holds a space, control or non-ASCII character");
			return -1;
		}
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		snprintf(why, whylen, "https URLs are not supported");
		return HTTP_URL_HTTPS;
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
		http_url_free(u);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- time budget ------------------------------------------------------------ */

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
int http_response_head(const char *head, size_t len, const char *content_type, size_t max_body,
                       long *content_length, char *why, size_t whylen)
{
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
			if (tlen != strlen(content_type) || strncasecmp(value, content_type, tlen) != 0) {
				printable_bytes(shown, sizeof(shown), value, vlen < 60 ? vlen : 60);
				snprintf(why, whylen, "Content-Type \"%s\", not %s", shown, content_type);
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
			if ((unsigned long)cl > max_body) {
				snprintf(why, whylen, "response of %ld bytes is larger than the limit of %zu",
				         cl, max_body);
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
		snprintf(why, whylen, "no Content-Type (expected %s)", content_type);
		return -1;
	}
	return 0;
}

void http_reader_init(struct http_reader *r, const char *content_type, size_t max_body)
{
	r->content_type = content_type;
	r->max_body = max_body;
	r->head = 0;
	r->content_length = -1;
}

enum http_reader_state http_reader_feed(struct http_reader *r, const unsigned char *buf, size_t len,
                                        bool closed, size_t *body_off, size_t *body_len, char *why,
                                        size_t whylen)
{
	size_t body;

	if (r->head == 0) {
		r->head = head_end(buf, len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD);
		if (r->head == 0) {
			if (len >= HTTP_MAX_HEAD) {
				snprintf(why, whylen, "HTTP response headers longer than %d bytes",
				         HTTP_MAX_HEAD);
				return HTTP_READER_REFUSED;
			}
			if (!closed)
				return HTTP_READER_MORE;
			snprintf(why, whylen, len == 0 ? "connection closed without an answer"
			                               : "connection closed inside the HTTP response headers");
			return HTTP_READER_REFUSED;
		}
		if (http_response_head((const char *)buf, r->head, r->content_type, r->max_body,
		                       &r->content_length, why, whylen) < 0)
			return HTTP_READER_REFUSED;
	}
	body = len - r->head;
	if (r->content_length >= 0 && body >= (size_t)r->content_length) {
		body = (size_t)r->content_length;   /* anything after it is not ours */
	} else if (!closed) {
		if (len < HTTP_MAX_HEAD + r->max_body)
			return HTTP_READER_MORE;
		snprintf(why, whylen, "response larger than the limit of %zu bytes", r->max_body);
		return HTTP_READER_REFUSED;
	} else if (r->content_length >= 0) {
		snprintf(why, whylen, "truncated response: %zu of %ld bytes", body, r->content_length);
		return HTTP_READER_REFUSED;
	}
	if (body > r->max_body) {
		snprintf(why, whylen, "response larger than the limit of %zu bytes", r->max_body);
		return HTTP_READER_REFUSED;
	}
	if (body == 0) {
		snprintf(why, whylen, "empty HTTP body");
		return HTTP_READER_REFUSED;
	}
	*body_off = r->head;
	*body_len = body;
	return HTTP_READER_DONE;
}

/*
 * Reads the whole response (within the deadline and the size limits) and
 * returns its body: *body points into *buf, which the caller frees.
 */
static int receive_response(int fd, const struct timespec *deadline, const char *content_type,
                            size_t max_body, unsigned char **buf, const unsigned char **body,
                            size_t *body_len, bool *timed_out, char *why, size_t whylen)
{
	struct http_reader reader;
	enum http_reader_state state = HTTP_READER_MORE;
	size_t len = 0, body_off = 0, cap = HTTP_MAX_HEAD + max_body;
	bool closed = false;
	unsigned char *b = malloc(cap);

	*buf = b;
	if (b == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	http_reader_init(&reader, content_type, max_body);
	while (state == HTTP_READER_MORE) {
		ssize_t n;
		int ready;

		if (len > 0 || closed) {
			state = http_reader_feed(&reader, b, len, closed, &body_off, body_len, why, whylen);
			if (state != HTTP_READER_MORE)
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
		n = ready < 0 ? -1 : recv(fd, b + len, cap - len, 0);
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
	if (state != HTTP_READER_DONE)
		return -1;
	*body = b + body_off;
	return 0;
}

int http_post(const struct http_url *u, const struct http_exchange *x, const unsigned char *req,
              size_t req_len, unsigned char **buf, const unsigned char **body, size_t *body_len,
              char *why, size_t whylen)
{
	unsigned timeout_ms = x->timeout_ms;
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
	                    "Content-Type: %s\r\n"
	                    "Accept: %s\r\n"
	                    "Content-Length: %zu\r\n"
	                    "Connection: close\r\n"
	                    "\r\n",
	                    u->path, ipv6 ? "[" : "", u->host, ipv6 ? "]" : "",
	                    strcmp(u->port, "80") != 0 ? ":" : "",
	                    strcmp(u->port, "80") != 0 ? u->port : "", x->request_type, x->response_type,
	                    req_len);
	if (head_len < 0) {
		head = NULL;
		snprintf(phase, sizeof(phase), "out of memory");
		goto fail;
	}
	if (send_all(fd, (const unsigned char *)head, (size_t)head_len, &deadline, &timed_out,
	             phase, sizeof(phase)) < 0 ||
	    send_all(fd, req, req_len, &deadline, &timed_out, phase, sizeof(phase)) < 0 ||
	    receive_response(fd, &deadline, x->response_type, x->max_body, buf, body, body_len, &timed_out,
	                     phase, sizeof(phase)) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	if (timed_out) {
		snprintf(why, whylen, "no answer within %u ms (%s)", timeout_ms, phase);
		rc = HTTP_POST_TIMEOUT;
	} else {
		snprintf(why, whylen, "%s", phase);
	}
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

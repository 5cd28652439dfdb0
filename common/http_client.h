/*
 * A bounded HTTP/1.0 client for what authd fetches from servers it does not
 * trust (an OCSP responder today, CRL distribution points next): one POST to
 * a plain http:// URL, everything (resolving included) ended by a hard
 * deadline, the answer held to one Content-Type and a size limit. Calls
 * block and belong on backend threads.
 */
#ifndef COMMON_HTTP_CLIENT_H
#define COMMON_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_URL_MAX 1024       /* longer URLs are refused */
#define HTTP_MAX_HEAD 8192      /* status line and headers */

/* The parts of an http:// URL a request needs, each a NUL-terminated copy. */
struct http_url {
	char *host;                 /* an IPv6 literal without its brackets */
	char *port;
	char *path;                 /* with its query; never empty */
};

/* http_url_parse's answer to an https:// URL, which this client does not speak. */
#define HTTP_URL_HTTPS (-2)

/*
 * http://host[:port][/path][?query][#fragment] into *u (freed with
 * http_url_free). 0; HTTP_URL_HTTPS for an https:// URL; -1 for anything
 * else it refuses (longer than HTTP_URL_MAX, user information, a space,
 * control or non-ASCII byte, a malformed host or port); why says what.
 */
int http_url_parse(const char *url, struct http_url *u, char *why, size_t whylen);
void http_url_free(struct http_url *u);

/* What one POST sends and accepts. */
struct http_exchange {
	const char *request_type;   /* the request's Content-Type */
	const char *response_type;  /* the only Content-Type accepted back (also sent as Accept) */
	size_t max_body;            /* larger response bodies are refused */
	unsigned timeout_ms;        /* for everything: resolving, connecting, sending, reading */
};

/* http_post's answer when the deadline passed first. */
#define HTTP_POST_TIMEOUT (-2)

/*
 * POSTs req to u and returns the response body in a buffer the caller frees
 * (*buf; the body is *body, *body_len inside it). 0, or -1 with why, or
 * HTTP_POST_TIMEOUT with why "no answer within N ms (what it was doing)".
 */
int http_post(const struct http_url *u, const struct http_exchange *x, const unsigned char *req,
              size_t req_len, unsigned char **buf, const unsigned char **body, size_t *body_len,
              char *why, size_t whylen);

/*
 * The response reader's pure part (a fuzz target): what http_post makes of
 * the bytes a server sends.
 *
 * The status line and headers, head[0..len) (not NUL-terminated; normally up
 * to and including the blank line): status 200, Content-Type content_type,
 * no Transfer-Encoding, at most one Content-Length value, within max_body.
 * *content_length gets it, or -1 when absent (the body runs until the server
 * closes). 0, or -1 with why.
 */
int http_response_head(const char *head, size_t len, const char *content_type, size_t max_body,
                       long *content_length, char *why, size_t whylen);

/* Where a response read so far stands; set up by http_reader_init. */
struct http_reader {
	const char *content_type;   /* borrowed */
	size_t max_body;
	size_t head;                /* offset of the body once the head is whole, else 0 */
	long content_length;        /* -1: absent or head not yet whole */
};

enum http_reader_state {
	HTTP_READER_MORE,           /* read more (buf must have room: len < HTTP_MAX_HEAD + max_body) */
	HTTP_READER_DONE,           /* the body is buf[*body_off .. *body_off + *body_len) */
	HTTP_READER_REFUSED,        /* why says what is wrong; stop reading */
};

/* A reader for a response of content_type (borrowed) with a body of at most max_body bytes. */
void http_reader_init(struct http_reader *r, const char *content_type, size_t max_body);
/*
 * Judges buf[0..len), everything received so far (len <= HTTP_MAX_HEAD +
 * max_body; each call sees the previous bytes unchanged plus new ones),
 * `closed` once the server has closed the connection. DONE gives a non-empty
 * body of at most max_body bytes inside buf: Content-Length bytes when the
 * head gives one (bytes after them are ignored), else all until close.
 */
enum http_reader_state http_reader_feed(struct http_reader *r, const unsigned char *buf, size_t len,
                                        bool closed, size_t *body_off, size_t *body_len, char *why,
                                        size_t whylen);

#endif

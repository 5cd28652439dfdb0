#include "authd/metrics_listener.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "authd/log.h"
#include "common/metrics.h"
#include "common/rate_limit.h"
#include "common/sockaddr_text.h"

#define REFUSED_LOG_PER_SECOND 5

struct metrics_listener {
	const struct metrics_settings *settings;
	struct metrics *registry;
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *accepting;    /* evhttp's, paused at the connection cap */
	SSL_CTX *tls;                        /* NULL: plain HTTP */
	/* Connections evhttp holds, or held until the last sweep; only the
	 * listener's thread touches them. */
	struct bufferevent *open[METRICS_LISTENER_MAX_CONNECTIONS];
	size_t n_open;
	struct event *every_second;
	struct rate_limit refused_log;
	pthread_t thread;
	bool started;
};

static int fail_tls(char *err, size_t errlen, const char *what, const char *file)
{
	snprintf(err, errlen, "metrics.tls: %s %s: %s", what, file, ERR_reason_error_string(ERR_get_error()));
	return -1;
}

/* The server side of the endpoint's TLS: the same floor as EAP-TLS's (TLS
 * 1.2 minimum, security level 2), client certificates when client_ca says. */
static SSL_CTX *tls_context(const struct metrics_settings *s, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "metrics.tls: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_security_level(ctx, 2);
	if (SSL_CTX_use_certificate_chain_file(ctx, s->certificate) != 1) {
		fail_tls(err, errlen, "cannot use certificate", s->certificate);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, s->private_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fail_tls(err, errlen, "cannot use private key", s->private_key);
		goto fail;
	}
	if (s->client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, s->client_ca, NULL) != 1) {
			fail_tls(err, errlen, "cannot load client_ca", s->client_ca);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int metrics_listener_check(const struct metrics_settings *s, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (!s->enabled || s->certificate == NULL)
		return 0;
	ctx = tls_context(s, err, errlen);
	SSL_CTX_free(ctx);
	return ctx != NULL ? 0 : -1;
}

static bool allowed(const struct metrics_listener *l, const struct sockaddr *peer)
{
	for (size_t i = 0; i < l->settings->n_allow; i++) {
		if (ip_prefix_contains(&l->settings->allow[i], peer))
			return true;
	}
	return false;
}

static void refuse(struct metrics_listener *l, struct evhttp_request *req, const struct sockaddr *peer)
{
	struct sockaddr_storage ss = { 0 };
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned suppressed;

	if (peer != NULL && rate_limit_allow(&l->refused_log, &suppressed)) {
		memcpy(&ss, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                              : sizeof(struct sockaddr_in));
		sockaddr_text_host(&ss, addr, sizeof(addr));
		log_msg(LOG_WARNING, "metrics: refused %s: not in metrics.allow (%u similar lines suppressed "
		        "before)", addr, suppressed);
	}
	evhttp_send_error(req, 403, "Forbidden");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_listener *l = arg;
	const struct sockaddr *peer = evhttp_connection_get_addr(evhttp_request_get_connection(req));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body;
	size_t len;
	char *text;

	if (peer == NULL || !allowed(l, peer)) {
		refuse(l, req, peer);
		return;
	}
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	text = metrics_render(l->registry, &len);
	body = evhttp_request_get_output_buffer(req);
	if (text == NULL || evbuffer_add(body, text, len) < 0) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

/*
 * evhttp 2.1 has no cap on connections of its own, and says nothing when
 * it closes one. So the listener holds a reference on every connection's
 * bufferevent: one evhttp has freed has its callbacks cleared (and only
 * this reference keeps it), which a sweep (at each new connection and once
 * a second) notices, dropping the reference. At the cap, accepting pauses
 * (further clients wait in the backlog) until a sweep frees a slot.
 */
static void sweep(struct metrics_listener *l)
{
	bufferevent_data_cb readcb, writecb;
	bufferevent_event_cb eventcb;
	void *cbarg;
	bool was_full = l->n_open == METRICS_LISTENER_MAX_CONNECTIONS;

	for (size_t i = 0; i < l->n_open;) {
		bufferevent_getcb(l->open[i], &readcb, &writecb, &eventcb, &cbarg);
		if (readcb != NULL || writecb != NULL || eventcb != NULL || cbarg != NULL) {
			i++;
			continue;
		}
		bufferevent_decref(l->open[i]);
		l->open[i] = l->open[--l->n_open];
	}
	if (was_full && l->n_open < METRICS_LISTENER_MAX_CONNECTIONS && l->accepting != NULL)
		evconnlistener_enable(l->accepting);
}

static void on_second(evutil_socket_t fd, short what, void *arg)
{
	sweep(arg);
}

static struct bufferevent *new_connection(struct event_base *base, void *arg)
{
	struct metrics_listener *l = arg;
	struct bufferevent *bev;
	SSL *ssl = NULL;

	sweep(l);
	if (l->tls != NULL) {
		ssl = SSL_new(l->tls);
		if (ssl == NULL)
			return NULL;
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                     BEV_OPT_CLOSE_ON_FREE);
	} else {
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_incref(bev);
	l->open[l->n_open++] = bev;
	if (l->n_open == METRICS_LISTENER_MAX_CONNECTIONS)
		evconnlistener_disable(l->accepting);
	return bev;
}

struct metrics_listener *metrics_listener_new(const struct metrics_settings *s, struct metrics *registry,
                                              char *err, size_t errlen)
{
	struct metrics_listener *l = calloc(1, sizeof(*l));
	struct evhttp_bound_socket *bound;

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->settings = s;
	l->registry = registry;
	rate_limit_init(&l->refused_log, REFUSED_LOG_PER_SECOND);
	if (s->certificate != NULL && (l->tls = tls_context(s, err, errlen)) == NULL)
		goto fail;
	l->base = event_base_new();
	l->http = l->base != NULL ? evhttp_new(l->base) : NULL;
	if (l->http == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	evhttp_set_max_headers_size(l->http, METRICS_LISTENER_MAX_HEADERS);
	evhttp_set_max_body_size(l->http, 0);
	evhttp_set_timeout(l->http, METRICS_LISTENER_TIMEOUT_S);
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET);
	evhttp_set_gencb(l->http, on_request, l);
	evhttp_set_bevcb(l->http, new_connection, l);
	bound = evhttp_bind_socket_with_handle(l->http, s->address, s->port);
	if (bound == NULL) {
		snprintf(err, errlen, "metrics: cannot listen on [%s]:%u", s->address, s->port);
		goto fail;
	}
	l->accepting = evhttp_bound_socket_get_listener(bound);
	l->every_second = event_new(l->base, -1, EV_PERSIST, on_second, l);
	if (l->every_second == NULL || event_add(l->every_second, &(struct timeval){ 1, 0 }) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return l;
fail:
	metrics_listener_free(l);
	return NULL;
}

static void *listener_main(void *arg)
{
	struct metrics_listener *l = arg;

	event_base_dispatch(l->base);
	return NULL;
}

int metrics_listener_start(struct metrics_listener *l, char *err, size_t errlen)
{
	if (pthread_create(&l->thread, NULL, listener_main, l) != 0) {
		snprintf(err, errlen, "metrics: cannot start its thread");
		return -1;
	}
	l->started = true;
	log_msg(LOG_INFO, "metrics on %s://[%s]:%u/metrics", l->tls != NULL ? "https" : "http",
	        l->settings->address, l->settings->port);
	return 0;
}

void metrics_listener_free(struct metrics_listener *l)
{
	if (l == NULL)
		return;
	if (l->started) {
		/* A timer, unlike a loop break, is not lost if the loop has not
		 * started yet. */
		event_base_loopexit(l->base, NULL);
		pthread_join(l->thread, NULL);
	}
	l->accepting = NULL;
	if (l->every_second != NULL)
		event_free(l->every_second);
	if (l->http != NULL)
		evhttp_free(l->http);
	/* Every connection is closed now: what remains is the references. */
	for (size_t i = 0; i < l->n_open; i++)
		bufferevent_decref(l->open[i]);
	if (l->base != NULL)
		event_base_free(l->base);
	SSL_CTX_free(l->tls);
	free(l);
}

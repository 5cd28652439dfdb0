#include "authd/dynauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <freeradius/build.h>
#include <freeradius/libradius.h>

#include "authd/radius.h"
#include "common/clock.h"
#include "common/sockaddr_text.h"

#define MAX_VALUE_LEN     253
#define IDS_PER_LANE      256   /* the Identifier is one octet */
#define MAX_IN_FLIGHT     4096
#define MAX_LANES         (2 * MAX_IN_FLIGHT / IDS_PER_LANE)  /* both families full */
#define DRAIN_BUDGET      1024  /* datagrams read per wakeup, so a flood cannot hold off the timer */

static const char *const outcome_texts[] = {
	[DYNAUTH_ACK] = "ack",
	[DYNAUTH_NAK] = "nak",
	[DYNAUTH_TIMEOUT] = "timeout",
	[DYNAUTH_ERROR] = "error",
};

const char *dynauth_outcome_text(enum dynauth_outcome o)
{
	return (unsigned)o < sizeof(outcome_texts) / sizeof(outcome_texts[0]) ? outcome_texts[o] : "unknown";
}

const char *dynauth_error_cause_text(unsigned cause)
{
	switch (cause) {
	case 201: return "Residual-Session-Context-Removed";
	case 202: return "Invalid-EAP-Packet";
	case 401: return "Unsupported-Attribute";
	case 402: return "Missing-Attribute";
	case 403: return "NAS-Identification-Mismatch";
	case 404: return "Invalid-Request";
	case 405: return "Unsupported-Service";
	case 406: return "Unsupported-Extension";
	case 407: return "Invalid-Attribute-Value";
	case 501: return "Administratively-Prohibited";
	case 502: return "Request-Not-Routable";
	case 503: return "Session-Context-Not-Found";
	case 504: return "Session-Context-Not-Removable";
	case 505: return "Other-Proxy-Processing-Error";
	case 506: return "Resources-Unavailable";
	case 507: return "Request-Initiated";
	case 508: return "Multiple-Session-Selection-Unsupported";
	default: return "unknown";
	}
}

static unsigned request_code(enum dynauth_request request)
{
	return request == DYNAUTH_COA ? PW_CODE_COA_REQUEST : PW_CODE_DISCONNECT_REQUEST;
}

/* ---- the answer check (pure) ------------------------------------------- */

/* What is wrong with an answer whose check gave v (NULL: nothing). */
static const char *verdict_fault(enum radius_verdict v, const char *invalid, const char *crypto_failed)
{
	switch (v) {
	case RADIUS_VALID:
		return NULL;
	case RADIUS_INVALID:
		return invalid;
	case RADIUS_CRYPTO_FAILED:
		return crypto_failed;
	}
	return crypto_failed;
}

int dynauth_answer_check(enum dynauth_request request, uint8_t id, const uint8_t request_authenticator[16],
                         const char *secret, const uint8_t *buf, size_t len, struct dynauth_answer *ans,
                         char *why, size_t whylen)
{
	unsigned ack = request_code(request) + 1, nak = request_code(request) + 2;
	struct radius_walk w;
	struct radius_attr a;
	enum radius_walk_step step;
	const char *fault;
	size_t plen = 0;
	int rc = -1;

	memset(ans, 0, sizeof(*ans));
	switch (radius_frame_check(buf, len, &plen)) {
	case RADIUS_FRAME_OK:
		break;
	case RADIUS_FRAME_SHORT:
		snprintf(why, whylen, "%zu octets is shorter than a RADIUS header", len);
		goto out;
	case RADIUS_FRAME_BAD_LENGTH:
		snprintf(why, whylen, "Length field %zu does not fit the %zu octets received",
		         (size_t)buf[2] << 8 | buf[3], len);
		goto out;
	}
	if (buf[0] != ack && buf[0] != nak) {
		snprintf(why, whylen, "code %u answers no %s-Request", buf[0],
		         request == DYNAUTH_COA ? "CoA" : "Disconnect");
		goto out;
	}
	if (buf[1] != id) {
		snprintf(why, whylen, "Identifier %u, expected %u", buf[1], id);
		goto out;
	}
	radius_walk_begin(&w, buf, plen);
	while ((step = radius_walk_next(&w, &a)) == RADIUS_WALK_ATTRIBUTE) {
		if (a.type != PW_ERROR_CAUSE)
			continue;
		if (a.len != 4) {
			snprintf(why, whylen, "Error-Cause of %zu octets", a.len);
			goto out;
		}
		if (ans->error_cause == 0)
			ans->error_cause = (unsigned)a.value[0] << 24 | (unsigned)a.value[1] << 16 |
			                   (unsigned)a.value[2] << 8 | a.value[3];
	}
	if (step == RADIUS_WALK_OVERRUN) {
		snprintf(why, whylen, "attribute at offset %zu overruns the packet", w.pos);
		goto out;
	}
	if (step == RADIUS_WALK_BAD_MESSAGE_AUTHENTICATOR) {
		snprintf(why, whylen, "Message-Authenticator repeated or not 16 octets");
		goto out;
	}

	fault = verdict_fault(radius_authenticator_check(buf, plen, request_authenticator, secret),
	                      "wrong Response Authenticator (shared secret mismatch?)", "MD5 failed");
	if (fault != NULL) {
		snprintf(why, whylen, "%s", fault);
		goto out;
	}
	/* With the Request Authenticator in place (RFC 5176 3.4). libfreeradius
	 * 3.2.1 signs its own ACK/NAK with zeros in place instead; such answers
	 * fail here, as they fail its own rad_verify(). */
	if (w.ma_at != 0)
		fault = verdict_fault(radius_message_authenticator_check(buf, plen, w.ma_at, request_authenticator,
		                                                         secret),
		                      "wrong Message-Authenticator", "HMAC-MD5 failed");
	if (fault != NULL) {
		snprintf(why, whylen, "%s", fault);
		goto out;
	}
	ans->ack = buf[0] == ack;
	ans->message_authenticator = w.ma_at != 0;
	rc = 0;

out:
	if (rc < 0)
		ans->error_cause = 0;
	return rc;
}

/* ---- sending ------------------------------------------------------------ */

/* One socket, and the targets sharing its Identifier space: the Identifier
 * tells requests apart per source address and port (RFC 2865 3). */
struct lane {
	int fd;
	int family;
	unsigned used;                       /* Identifiers handed out */
	uint8_t first_id;                    /* random: Identifiers are not predictable */
	size_t target_of[IDS_PER_LANE];      /* index + 1 of the target using an Identifier, 0 none */
};

/* A target while it is in flight. */
struct flight {
	struct radius_reply *request;        /* encoded and signed once; retransmissions are identical */
	const uint8_t *data;                 /* the datagram, inside request */
	size_t len;
	struct lane *lane;
	bool pending;                        /* valid, and no valid answer yet */
	unsigned ignored;                    /* answers that failed the checks */
	char ignored_why[96];                /* why the last one did */
	char icmp[48];                       /* last ICMP error about the NAS, "" none */
	int send_errno;                      /* last failed send, 0 none */
};

/* One batch of at most MAX_IN_FLIGHT targets, all in flight together. */
struct batch {
	enum dynauth_request request;
	struct dynauth_target *t;            /* the caller's targets of this batch */
	struct flight *f;                    /* one per target */
	size_t pending;                      /* targets still waiting for a valid answer */
	struct lane lanes[MAX_LANES];
	size_t n_lanes;
	double start;                        /* when dynauth_send() started */
};

static bool present(const char *v)
{
	return v != NULL && v[0] != '\0';
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/* Input faults that make a target unsendable; "" when it is fine. */
static const char *target_fault(const struct dynauth_target *t)
{
	const struct dynauth_session *s = &t->session;
	const char *values[] = { s->user_name, s->acct_session_id, s->calling_station_id,
		                 s->called_station_id, s->nas_identifier };
	struct in_addr ip;

	if (t->nas_len > sizeof(t->nas))
		return "NAS address length larger than a sockaddr_storage";
	if (t->nas.ss_family == AF_INET) {
		if (t->nas_len < sizeof(struct sockaddr_in))
			return "NAS address length too short for IPv4";
	} else if (t->nas.ss_family == AF_INET6) {
		if (t->nas_len < sizeof(struct sockaddr_in6))
			return "NAS address length too short for IPv6";
	} else {
		return "NAS address is neither IPv4 nor IPv6";
	}
	if (!present(t->secret))
		return "no shared secret";
	if (!present(s->user_name) && !present(s->acct_session_id) && !present(s->calling_station_id))
		return "no User-Name, Acct-Session-Id or Calling-Station-Id to identify the session";
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (present(values[i]) && strlen(values[i]) > MAX_VALUE_LEN)
			return "a session attribute is longer than 253 octets";
	}
	if (present(s->nas_ip_address) && inet_pton(AF_INET, s->nas_ip_address, &ip) != 1)
		return "NAS-IP-Address is not a dotted IPv4 address";
	return "";
}

/* Session attributes are optional: an absent one is left out. */
static int add_present(struct radius_reply *r, unsigned attr, const char *value)
{
	return present(value) ? radius_reply_add_string(r, attr, 0, value) : 0;
}

/* The request for t, encoded and signed into f->data, or
 * NULL with why. Event-Timestamp lets the NAS refuse an old request replayed
 * (RFC 5176, replay protection). */
static struct radius_reply *encode_request(enum dynauth_request request, uint8_t id,
                                           const struct dynauth_target *t, struct flight *f, const char **why)
{
	const struct dynauth_session *s = &t->session;
	struct radius_reply *r = radius_reply_new_request(request_code(request), id);

	*why = "out of memory";
	if (r == NULL)
		return NULL;
	if ((present(s->nas_ip_address) && radius_reply_add_address(r, PW_NAS_IP_ADDRESS, s->nas_ip_address) < 0) ||
	    add_present(r, PW_NAS_IDENTIFIER, s->nas_identifier) < 0 ||
	    add_present(r, PW_USER_NAME, s->user_name) < 0 ||
	    add_present(r, PW_ACCT_SESSION_ID, s->acct_session_id) < 0 ||
	    add_present(r, PW_CALLING_STATION_ID, s->calling_station_id) < 0 ||
	    add_present(r, PW_CALLED_STATION_ID, s->called_station_id) < 0 ||
	    radius_reply_add_integer(r, PW_EVENT_TIMESTAMP, 0, (uint32_t)time(NULL)) < 0)
		goto fail;
	if (request == DYNAUTH_COA &&
	    (radius_reply_add_integer(r, PW_SERVICE_TYPE, 0, PW_AUTHORIZE_ONLY) < 0 ||
	     radius_reply_add_octets(r, PW_STATE, 0, t->state, sizeof(t->state)) < 0))
		goto fail;
	if (radius_reply_encode_request(r, t->secret, &f->data, &f->len, why) < 0)
		goto fail;
	return r;

fail:
	radius_reply_free(r);
	return NULL;
}

/* A socket for requests to NASes of family, bound to the configured source
 * address of that family if any. -1 with errno. */
static int lane_open(const struct dynauth_settings *s, struct lane *l, int family)
{
	int on = 1;

	memset(l, 0, sizeof(*l));
	l->family = family;
	l->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -1;
	if ((family == AF_INET && s->source4.sin_family == AF_INET &&
	     bind(l->fd, (const struct sockaddr *)&s->source4, sizeof(s->source4)) < 0) ||
	    (family == AF_INET6 && s->source6.sin6_family == AF_INET6 &&
	     bind(l->fd, (const struct sockaddr *)&s->source6, sizeof(s->source6)) < 0)) {
		int saved = errno;

		close(l->fd);
		errno = saved;
		return -1;
	}
	/* ICMP errors reach an unconnected socket only through the error queue.
	 * Diagnosis only: a failed setsockopt costs nothing but the note. */
	if (family == AF_INET)
		(void)setsockopt(l->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
	else
		(void)setsockopt(l->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
	if (RAND_bytes(&l->first_id, 1) != 1)
		l->first_id = 0;
	return 0;
}

/* The lane for a target of this family with a free Identifier, opening one
 * if needed. NULL with errno when no socket can be had. */
static struct lane *lane_for(const struct dynauth_settings *s, struct batch *b, int family)
{
	for (size_t i = 0; i < b->n_lanes; i++) {
		if (b->lanes[i].family == family && b->lanes[i].used < IDS_PER_LANE)
			return &b->lanes[i];
	}
	if (b->n_lanes == MAX_LANES) {
		errno = EMFILE;
		return NULL;
	}
	if (lane_open(s, &b->lanes[b->n_lanes], family) < 0)
		return NULL;
	return &b->lanes[b->n_lanes++];
}

/* Records which targets an ICMP error concerns; msg_name of an error-queue
 * message is the destination of the datagram that caused it. */
static void note_icmp(struct batch *b, struct lane *l, const struct sockaddr_storage *dst,
                      const struct sock_extended_err *ee)
{
	char text[sizeof(b->f[0].icmp)], reason[64];

	if (ee->ee_errno == ECONNREFUSED)
		snprintf(text, sizeof(text), "ICMP port unreachable");
	else
		snprintf(text, sizeof(text), "ICMP error: %s", strerror_r((int)ee->ee_errno, reason, sizeof(reason)));
	for (size_t id = 0; id < IDS_PER_LANE; id++) {
		size_t i = l->target_of[id];

		if (i != 0 && b->f[i - 1].pending && same_endpoint(dst, &b->t[i - 1].nas))
			snprintf(b->f[i - 1].icmp, sizeof(b->f[i - 1].icmp), "%s", text);
	}
}

/* Empties the socket's error queue (which also clears its pending error). */
static void drain_errors(struct batch *b, struct lane *l)
{
	for (int k = 0; k < IDS_PER_LANE; k++) {
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
			struct cmsghdr align;
		} control;
		struct sockaddr_storage dst;
		uint8_t byte;
		struct iovec iov = { .iov_base = &byte, .iov_len = sizeof(byte) };
		struct msghdr m = {
			.msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		struct sock_extended_err ee;

		memset(&dst, 0, sizeof(dst));
		if (recvmsg(l->fd, &m, MSG_ERRQUEUE) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
			if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) ||
			    c->cmsg_len < CMSG_LEN(sizeof(ee)))
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6)
				note_icmp(b, l, &dst, &ee);
		}
	}
}

static void send_request(struct batch *b, size_t i)
{
	struct dynauth_target *t = &b->t[i];
	struct flight *f = &b->f[i];
	ssize_t r;

	r = sendto(f->lane->fd, f->data, f->len, 0, (const struct sockaddr *)&t->nas, t->nas_len);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		/* The socket may be reporting an ICMP error about another NAS it
		 * talks to; read that from the error queue and try once more. */
		drain_errors(b, f->lane);
		r = sendto(f->lane->fd, f->data, f->len, 0, (const struct sockaddr *)&t->nas, t->nas_len);
	}
	if (r == (ssize_t)f->len) {
		if (t->tries == 0)
			t->first_sent_ms = clock_now_ms_precise() - b->start;
		t->tries++;
	} else {
		f->send_errno = r < 0 ? errno : EMSGSIZE;
	}
}

static void ignore_answer(struct flight *f, const char *why)
{
	f->ignored++;
	snprintf(f->ignored_why, sizeof(f->ignored_why), "%s", why);
}

static void on_datagram(struct batch *b, struct lane *l, const uint8_t *buf, size_t len,
                        const struct sockaddr_storage *from)
{
	struct dynauth_answer ans;
	struct dynauth_target *t;
	struct flight *f;
	char why[96], where[64];
	size_t i;

	/* Without an Identifier that names a request in flight there is no one
	 * to tell; late copies of answered requests end here too. */
	if (len < 2 || l->target_of[buf[1]] == 0)
		return;
	i = l->target_of[buf[1]] - 1;
	t = &b->t[i];
	f = &b->f[i];
	if (!f->pending)
		return;
	if (!same_endpoint(from, &t->nas)) {
		sockaddr_text_endpoint(from, where, sizeof(where));
		snprintf(why, sizeof(why), "from %s, not the NAS", where);
		ignore_answer(f, why);
		return;
	}
	if (len > RADIUS_MAX_PACKET) {
		snprintf(why, sizeof(why), "datagram of %zu octets", len);
		ignore_answer(f, why);
		return;
	}
	if (dynauth_answer_check(b->request, t->id, f->data + 4, t->secret, buf, len, &ans, why,
	                         sizeof(why)) < 0) {
		ignore_answer(f, why);
		return;
	}
	f->pending = false;
	b->pending--;
	t->answered_ms = clock_now_ms_precise() - b->start;
	t->outcome = ans.ack ? DYNAUTH_ACK : DYNAUTH_NAK;
	t->error_cause = ans.error_cause;
}

static void receive_answers(struct batch *b, struct lane *l)
{
	uint8_t buf[RADIUS_MAX_PACKET];

	for (int k = 0; k < DRAIN_BUDGET; k++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t len;

		memset(&from, 0, sizeof(from));
		/* MSG_TRUNC: the datagram's real length, so an oversized one is seen as such. */
		len = recvfrom(l->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* A pending ICMP error is reported once here; the queue says whose. */
			drain_errors(b, l);
			continue;
		}
		on_datagram(b, l, buf, (size_t)len, &from);
	}
}

/* Waits until deadline (ms, CLOCK_MONOTONIC) or until nothing is pending. */
static void wait_answers(struct batch *b, double deadline)
{
	struct pollfd pfd[MAX_LANES];
	double left;
	int r;

	for (size_t i = 0; i < b->n_lanes; i++)
		pfd[i] = (struct pollfd){ .fd = b->lanes[i].fd, .events = POLLIN };
	while (b->pending > 0 && (left = deadline - clock_now_ms_precise()) > 0) {
		r = poll(pfd, b->n_lanes, (int)left + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return;
		for (size_t i = 0; i < b->n_lanes && r > 0; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].revents & POLLERR)
				drain_errors(b, &b->lanes[i]);
			if (pfd[i].revents & POLLIN)
				receive_answers(b, &b->lanes[i]);
		}
	}
}

/* Fills in t->detail from the outcome and what was noticed on the way. */
static void describe(struct dynauth_target *t, const struct flight *f, double since_first_send)
{
	char *d = t->detail;
	size_t cap = sizeof(t->detail), at;
	char reason[64];

	switch (t->outcome) {
	case DYNAUTH_ACK:
		if (t->error_cause != 0)
			snprintf(d, cap, "ACK with Error-Cause %s (%u)", dynauth_error_cause_text(t->error_cause),
			         t->error_cause);
		else
			snprintf(d, cap, "ACK");
		break;
	case DYNAUTH_NAK:
		if (t->error_cause != 0)
			snprintf(d, cap, "NAK: %s (%u)", dynauth_error_cause_text(t->error_cause), t->error_cause);
		else
			snprintf(d, cap, "NAK without Error-Cause");
		break;
	case DYNAUTH_TIMEOUT:
		snprintf(d, cap, "no answer after %u %s (%.0f ms)", t->tries, t->tries == 1 ? "try" : "tries",
		         since_first_send);
		break;
	case DYNAUTH_ERROR:
		snprintf(d, cap, "cannot send: %s", strerror_r(f->send_errno, reason, sizeof(reason)));
		return;
	}
	at = strlen(d);
	if (f->ignored == 1 && at < cap)
		at += (size_t)snprintf(d + at, cap - at, "; ignored an invalid answer: %s", f->ignored_why);
	else if (f->ignored > 1 && at < cap)
		at += (size_t)snprintf(d + at, cap - at, "; ignored %u invalid answers, the last: %s", f->ignored,
		                       f->ignored_why);
	if (f->icmp[0] != '\0' && at < cap)
		at += (size_t)snprintf(d + at, cap - at, "; %s", f->icmp);
	if (f->send_errno != 0 && at < cap)
		snprintf(d + at, cap - at, "; a send failed: %s", strerror_r(f->send_errno, reason, sizeof(reason)));
}

/* Sends to n <= MAX_IN_FLIGHT targets and waits for their answers. Adds the
 * number of targets sent to at least once to *sent. */
static void run_batch(const struct dynauth_settings *s, struct dynauth_target *t, size_t n, double start,
                      size_t *sent)
{
	struct batch *b = calloc(1, sizeof(*b));
	const char *why;

	if (b == NULL || (b->f = calloc(n, sizeof(*b->f))) == NULL) {
		for (size_t i = 0; i < n; i++)
			snprintf(t[i].detail, sizeof(t[i].detail), "out of memory");
		goto out;
	}
	b->request = s->request;
	b->t = t;
	b->start = start;

	for (size_t i = 0; i < n; i++) {
		struct flight *f = &b->f[i];
		char reason[64];

		if ((why = target_fault(&t[i]))[0] != '\0') {
			snprintf(t[i].detail, sizeof(t[i].detail), "%s", why);
			continue;
		}
		if (s->request == DYNAUTH_COA && RAND_bytes(t[i].state, sizeof(t[i].state)) != 1) {
			snprintf(t[i].detail, sizeof(t[i].detail), "no random State");
			continue;
		}
		if ((f->lane = lane_for(s, b, t[i].nas.ss_family)) == NULL) {
			bool bound = t[i].nas.ss_family == AF_INET ? s->source4.sin_family != 0
			                                           : s->source6.sin6_family != 0;

			snprintf(t[i].detail, sizeof(t[i].detail), "%s: %s",
			         bound ? "socket from the configured source address" : "socket",
			         strerror_r(errno, reason, sizeof(reason)));
			continue;
		}
		t[i].id = (uint8_t)(f->lane->first_id + f->lane->used);
		if ((f->request = encode_request(s->request, t[i].id, &t[i], f, &why)) == NULL) {
			snprintf(t[i].detail, sizeof(t[i].detail), "%s", why);
			continue;
		}
		f->lane->target_of[t[i].id] = i + 1;
		f->lane->used++;
		f->pending = true;
		b->pending++;
	}

	for (unsigned round = 0; round <= s->retries && b->pending > 0; round++) {
		double deadline = clock_now_ms_precise() + (double)s->timeout_ms * (double)(1u << round);

		for (size_t i = 0; i < n; i++) {
			if (b->f[i].pending)
				send_request(b, i);
		}
		wait_answers(b, deadline);
	}

	for (size_t i = 0; i < n; i++) {
		if (b->f[i].request == NULL)
			continue;                /* detail says why it was not sent */
		if (b->f[i].pending)
			t[i].outcome = t[i].tries > 0 ? DYNAUTH_TIMEOUT : DYNAUTH_ERROR;
		if (t[i].tries > 0)
			(*sent)++;
		describe(&t[i], &b->f[i], clock_now_ms_precise() - start - t[i].first_sent_ms);
	}

out:
	if (b != NULL) {
		for (size_t i = 0; b->f != NULL && i < n; i++)
			radius_reply_free(b->f[i].request);
		for (size_t i = 0; i < b->n_lanes; i++)
			close(b->lanes[i].fd);
		free(b->f);
		free(b);
	}
}

int dynauth_send(const struct dynauth_settings *settings, struct dynauth_target *t, size_t n, char *err,
                 size_t errlen)
{
	struct dynauth_settings s = { .request = DYNAUTH_DISCONNECT, .timeout_ms = DYNAUTH_DEFAULT_TIMEOUT_MS,
		                      .retries = DYNAUTH_DEFAULT_RETRIES };
	double start = clock_now_ms_precise();
	size_t sent = 0;

	if (settings != NULL)
		s = *settings;
	if (s.timeout_ms == 0)
		s.timeout_ms = DYNAUTH_DEFAULT_TIMEOUT_MS;
	if (s.timeout_ms > DYNAUTH_MAX_TIMEOUT_MS)
		s.timeout_ms = DYNAUTH_MAX_TIMEOUT_MS;
	if (s.retries > DYNAUTH_MAX_RETRIES)
		s.retries = DYNAUTH_MAX_RETRIES;
	if (n == 0)
		return 0;
	if (t == NULL) {
		snprintf(err, errlen, "no targets");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		t[i].outcome = DYNAUTH_ERROR;
		t[i].error_cause = t[i].tries = 0;
		t[i].id = 0;
		memset(t[i].state, 0, sizeof(t[i].state));
		t[i].first_sent_ms = t[i].answered_ms = 0;
		t[i].detail[0] = '\0';
	}
	/* Without dictionaries the encoder would write every attribute as
	 * unknown octets; refuse instead. */
	if (!radius_dictionaries_loaded()) {
		for (size_t i = 0; i < n; i++)
			snprintf(t[i].detail, sizeof(t[i].detail), "RADIUS dictionaries not loaded");
		snprintf(err, errlen, "RADIUS dictionaries not loaded (radius_init() was not called)");
		return -1;
	}
	for (size_t done = 0; done < n; done += MAX_IN_FLIGHT)
		run_batch(&s, t + done, n - done < MAX_IN_FLIGHT ? n - done : MAX_IN_FLIGHT, start, &sent);
	if (sent == 0) {
		snprintf(err, errlen, "nothing could be sent (first target: %s)", t[0].detail);
		return -1;
	}
	return 0;
}

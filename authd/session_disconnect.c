#include "authd/session_disconnect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "authd/client.h"
#include "authd/dynauth.h"
#include "authd/dynauth_stats.h"
#include "common/json_buf.h"
#include "common/printable.h"
#include "common/utc_time.h"

static const struct client *client_named(const struct authctl_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clients; i++) {
		if (strcmp(cfg->clients[i].name, name) == 0)
			return &cfg->clients[i];
	}
	return NULL;
}

static int parse_address(const char *text, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	} else {
		return -1;
	}
	return 0;
}

/*
 * Where the NAS takes dynamic authorization, at its coa_port: its configured
 * coa_address as it is, else the address the session record names, which
 * Redis handed back and so must lie inside the client's configured range. 0,
 * or -1 with why nothing may be sent.
 */
static int target_address(const struct client *c, const struct live_session *s,
                          struct dynauth_target *t, char *why, size_t whylen)
{
	char shown[sizeof(s->nas_addr)], range[INET6_ADDRSTRLEN];

	if (c->coa_address != NULL)
		return parse_address(c->coa_address, c->coa_port, &t->nas, &t->nas_len);
	printable_string(shown, sizeof(shown), s->nas_addr);
	if (parse_address(s->nas_addr, c->coa_port, &t->nas, &t->nas_len) < 0) {
		snprintf(why, whylen, "the session's NAS address \"%s\" is not an IP address", shown);
		return -1;
	}
	if (client_match(c, 1, &t->nas) == NULL) {
		inet_ntop(c->net.family, c->net.addr, range, sizeof(range));
		snprintf(why, whylen, "the session's NAS address %s is outside client %s's range %s/%u",
		         shown, c->name, range, c->net.bits);
		return -1;
	}
	return 0;
}

static const char *or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* One audit entry per session acted on; t NULL: nothing was sent, and
 * outcome and detail say why. */
static void audit(struct helpdesk *h, const struct cert_ref *ref, const struct live_session *s,
                  const struct dynauth_target *t, const struct operator_id *by, const char *request,
                  const char *outcome, const char *detail)
{
	char at[32], err[256], *line;
	struct json_buf b;

	utc_time_format(time(NULL), at, sizeof(at));
	json_buf_begin(&b);
	json_buf_string(&b, "at", at);
	json_buf_string(&b, "action", request);
	json_buf_string(&b, "by", by->name);
	json_buf_uint(&b, "uid", (unsigned long long)by->uid);
	json_buf_string(&b, "serial", ref->serial);
	json_buf_string(&b, "issuer_key_hash", ref->issuer_key_hash);
	json_buf_string(&b, "identity", s->identity);
	json_buf_string(&b, "nas", s->nas);
	json_buf_string(&b, "nas_addr", s->nas_addr);
	json_buf_string(&b, "user_name", s->user_name);
	json_buf_string(&b, "calling_station_id", s->calling_station_id);
	json_buf_string(&b, "acct_session_id", s->acct_session_id);
	json_buf_string(&b, "outcome", t != NULL ? dynauth_outcome_text(t->outcome) : outcome);
	if (t != NULL) {
		json_buf_uint(&b, "error_cause", t->error_cause);
		json_buf_uint(&b, "tries", t->tries);
	}
	json_buf_string(&b, "detail", t != NULL ? t->detail : detail);
	line = json_buf_finish(&b);
	if (line != NULL && helpdesk_audit(h, line, err, sizeof(err)) < 0)
		fprintf(stderr, "authctl: audit log not written: %s\n", err);
	free(line);
}

static void print_outcome(FILE *out, const struct live_session *s, const struct dynauth_target *t,
                          double sent_after_ms)
{
	char who[sizeof(s->identity)], nas[sizeof(s->nas)], station[sizeof(s->calling_station_id)];
	char session[sizeof(s->acct_session_id)];

	/* What the record says is shown, never sent to the terminal as it is. */
	printable_string(who, sizeof(who), s->identity[0] ? s->identity : s->user_name);
	printable_string(nas, sizeof(nas), s->nas);
	printable_string(station, sizeof(station), s->calling_station_id[0] ? s->calling_station_id : "?");
	printable_string(session, sizeof(session), s->acct_session_id);
	fprintf(out, "  %s on NAS %s (station %s%s%s): ", who, nas, station, session[0] ? ", session " : "",
	        session);
	switch (t->outcome) {
	case DYNAUTH_ACK:
		fprintf(out, "disconnected (ACK %.0f ms after the request; sent %.1f ms after the revocation)\n",
		        t->answered_ms - t->first_sent_ms, sent_after_ms);
		break;
	case DYNAUTH_NAK:
		fprintf(out, "NAS refused: %s\n", t->detail);
		break;
	default:
		fprintf(out, "%s: %s\n", t->outcome == DYNAUTH_TIMEOUT ? "no answer" : "not sent", t->detail);
		break;
	}
}

/* A figure not counted costs a line, never the disconnect. */
static void count(struct redis_pool *redis, const char *nas, enum dynauth_request request,
                  enum dynauth_stats_outcome outcome, unsigned error_cause, double wait_s)
{
	char err[256];

	if (dynauth_stats_record(redis, nas, request, outcome, error_cause, wait_s, err, sizeof(err)) < 0)
		fprintf(stderr, "authctl: Disconnect/CoA figures not counted: %s\n", err);
}

int session_disconnect(const struct authctl_config *cfg, struct redis_pool *redis, struct live_sessions *ls,
                       struct helpdesk *h,
                       const struct cert_ref *ref, const struct operator_id *by,
                       const struct timespec *since, FILE *out, char *err, size_t errlen)
{
	const char *request = cfg->sessions.dynauth.request == DYNAUTH_COA ? "coa" : "disconnect";
	struct live_session *sessions = NULL;
	struct dynauth_target *targets = NULL;
	size_t n = 0, *index = NULL, m = 0;
	struct timespec started;
	char why[256];
	int rc = -1;

	if (live_sessions_of(ls, ref, &sessions, &n, err, errlen) < 0)
		return -1;
	if (n == 0) {
		rc = 0;
		goto out;
	}
	targets = calloc(n, sizeof(*targets));
	index = calloc(n, sizeof(*index));
	if (targets == NULL || index == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Sessions of NASes no longer configured, or whose record points outside
	 * the NAS's range, get nothing: said and audited. */
	for (size_t i = 0; i < n; i++) {
		const struct client *c = client_named(cfg, sessions[i].nas);
		struct dynauth_target *t = &targets[m];
		char shown[sizeof(sessions[i].identity)], nas[sizeof(sessions[i].nas)];

		if (c == NULL || target_address(c, &sessions[i], t, why, sizeof(why)) < 0) {
			if (c == NULL)
				snprintf(why, sizeof(why), "the NAS is not in the config");
			printable_string(shown, sizeof(shown), sessions[i].identity);
			printable_string(nas, sizeof(nas), sessions[i].nas);
			fprintf(out, "  %s on NAS %s: not sent: %s\n", shown, nas, why);
			audit(h, ref, &sessions[i], NULL, by, request, c == NULL ? "error" : "refused", why);
			count(redis, c != NULL ? c->name : "", cfg->sessions.dynauth.request, DYNAUTH_STATS_REFUSED, 0,
			      -1);
			continue;
		}
		t->secret = c->coa_secret;
		t->session = (struct dynauth_session){
			.user_name = or_null(sessions[i].user_name),
			.acct_session_id = or_null(sessions[i].acct_session_id),
			.calling_station_id = or_null(sessions[i].calling_station_id),
			.nas_identifier = or_null(sessions[i].nas_identifier),
			.nas_ip_address = or_null(sessions[i].nas_ip_address),
		};
		index[m++] = i;
	}
	fprintf(out, "%zu live session(s): sending %s-Request%s\n", n,
	        cfg->sessions.dynauth.request == DYNAUTH_COA ? "CoA" : "Disconnect", m == 1 ? "" : "s");
	clock_gettime(CLOCK_MONOTONIC, &started);
	if (m > 0 && dynauth_send(&cfg->sessions.dynauth, targets, m, why, sizeof(why)) < 0)
		fprintf(out, "  %s\n", why);
	for (size_t k = 0; k < m; k++) {
		const struct live_session *s = &sessions[index[k]];
		double sent_after_ms = ms_between(since, &started) + targets[k].first_sent_ms;

		print_outcome(out, s, &targets[k], sent_after_ms);
		audit(h, ref, s, &targets[k], by, request, NULL, NULL);
		count(redis, s->nas, cfg->sessions.dynauth.request, dynauth_stats_outcome_of(targets[k].outcome),
		      targets[k].error_cause, targets[k].tries > 0 ? sent_after_ms / 1e3 : -1);
		/* An acknowledged Disconnect ended the session; a CoA did not. */
		if (targets[k].outcome == DYNAUTH_ACK && cfg->sessions.dynauth.request == DYNAUTH_DISCONNECT &&
		    live_sessions_end(ls, ref, s, why, sizeof(why)) < 0)
			fprintf(stderr, "authctl: session not removed from the table: %s\n", why);
	}
	rc = (int)n;
out:
	free(sessions);
	free(targets);
	free(index);
	return rc;
}

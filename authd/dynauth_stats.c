#include "authd/dynauth_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/printable.h"

const char *const dynauth_stats_requests[DYNAUTH_STATS_REQUESTS] = {
	[DYNAUTH_DISCONNECT] = "disconnect", [DYNAUTH_COA] = "coa",
};
const char *const dynauth_stats_outcomes[DYNAUTH_STATS_OUTCOMES] = {
	[DYNAUTH_STATS_ACK] = "ack", [DYNAUTH_STATS_NAK] = "nak", [DYNAUTH_STATS_TIMEOUT] = "timeout",
	[DYNAUTH_STATS_ERROR] = "error", [DYNAUTH_STATS_REFUSED] = "refused",
};
#define CAUSE_OTHER (DYNAUTH_STATS_CAUSES - 2)
#define CAUSE_NONE (DYNAUTH_STATS_CAUSES - 1)
const char *const dynauth_stats_causes[DYNAUTH_STATS_CAUSES] = {
	"201", "202", "401", "402", "403", "404", "405", "406", "407",
	"501", "502", "503", "504", "505", "506", "507", "508", "other", "none",
};
/* From a request sent while authctl still prints to a request behind a
 * NAS's worth of retransmissions to others. */
const double dynauth_stats_wait_bounds[DYNAUTH_STATS_WAIT_BOUNDS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

#define WAIT_PREFIX "wait:le:"
#define WAIT_SUM "wait:sum"
#define WAIT_COUNT "wait:count"

enum dynauth_stats_outcome dynauth_stats_outcome_of(enum dynauth_outcome o)
{
	switch (o) {
	case DYNAUTH_ACK: return DYNAUTH_STATS_ACK;
	case DYNAUTH_NAK: return DYNAUTH_STATS_NAK;
	case DYNAUTH_TIMEOUT: return DYNAUTH_STATS_TIMEOUT;
	default: return DYNAUTH_STATS_ERROR;
	}
}

static size_t cause_index(unsigned cause)
{
	char text[16];

	if (cause == 0)
		return CAUSE_NONE;
	snprintf(text, sizeof(text), "%u", cause);
	for (size_t i = 0; i < CAUSE_OTHER; i++) {
		if (strcmp(dynauth_stats_causes[i], text) == 0)
			return i;
	}
	return CAUSE_OTHER;
}

static void wait_field(size_t bucket, char *out, size_t len)
{
	if (bucket < DYNAUTH_STATS_WAIT_BOUNDS)
		snprintf(out, len, WAIT_PREFIX "%g", dynauth_stats_wait_bounds[bucket]);
	else
		snprintf(out, len, WAIT_PREFIX "+Inf");
}

/* Every field one request moves goes up by one in the same script, so a
 * reader never sees half of it; the sum, a float, goes up by ARGV[2]. */
static const char record_script[] =
	"for i = 3, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end "
	"if ARGV[2] ~= '' then redis.call('HINCRBYFLOAT', KEYS[1], ARGV[1], ARGV[2]) end "
	"return 1";

int dynauth_stats_record(struct redis_pool *redis, const char *nas, enum dynauth_request request,
                         enum dynauth_stats_outcome outcome, unsigned error_cause, double wait_s, char *err,
                         size_t errlen)
{
	char key[160], req[320], nak[320], bucket[32], sum[32] = "";
	const char *argv[10] = { "EVAL", record_script, "1", key, WAIT_SUM, sum, req };
	int argc = 7;
	redisReply *r;

	snprintf(key, sizeof(key), "%s" DYNAUTH_STATS_KEY, redis_pool_prefix(redis));
	snprintf(req, sizeof(req), "req:%s:%s:%s", nas, dynauth_stats_requests[request],
	         dynauth_stats_outcomes[outcome]);
	if (outcome == DYNAUTH_STATS_NAK) {
		snprintf(nak, sizeof(nak), "nak:%s:%s", nas, dynauth_stats_causes[cause_index(error_cause)]);
		argv[argc++] = nak;
	}
	if (wait_s >= 0) {
		size_t b = 0;

		while (b < DYNAUTH_STATS_WAIT_BOUNDS && wait_s > dynauth_stats_wait_bounds[b])
			b++;
		wait_field(b, bucket, sizeof(bucket));
		snprintf(sum, sizeof(sum), "%.6f", wait_s);
		argv[argc++] = bucket;
		argv[argc++] = WAIT_COUNT;
	}
	if ((r = redis_pool_command(redis, argc, argv, err, errlen)) == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

int dynauth_stats_init(struct dynauth_stats *st, const char *const *nas, size_t n_nas)
{
	*st = (struct dynauth_stats){ .nas = nas, .n_nas = n_nas, .n_named = n_nas };
	st->requests = calloc(n_nas * DYNAUTH_STATS_REQUESTS * DYNAUTH_STATS_OUTCOMES, sizeof(*st->requests));
	st->naks = calloc(n_nas * DYNAUTH_STATS_CAUSES, sizeof(*st->naks));
	return st->requests != NULL && st->naks != NULL ? 0 : -1;
}

void dynauth_stats_free(struct dynauth_stats *st)
{
	free(st->requests);
	free(st->naks);
	st->requests = st->naks = NULL;
}

void dynauth_stats_reset(struct dynauth_stats *st)
{
	memset(st->requests, 0, st->n_nas * DYNAUTH_STATS_REQUESTS * DYNAUTH_STATS_OUTCOMES * sizeof(*st->requests));
	memset(st->naks, 0, st->n_nas * DYNAUTH_STATS_CAUSES * sizeof(*st->naks));
	memset(st->wait, 0, sizeof(st->wait));
	st->wait_sum = 0;
	st->wait_count = 0;
	st->ignored = 0;
	st->first_ignored[0] = '\0';
}

/* The index of the n bytes at s among values, or count when absent. */
static size_t lookup(const char *const *values, size_t count, const char *s, size_t n)
{
	size_t i = 0;

	while (i < count && (strlen(values[i]) != n || memcmp(values[i], s, n) != 0))
		i++;
	return i;
}

/* Plain decimal digits, 0..DYNAUTH_STATS_MAX_COUNT. */
static int parse_count(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 13)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > DYNAUTH_STATS_MAX_COUNT)
		return -1;
	*out = v;
	return 0;
}

/* Digits with at most one point, as HINCRBYFLOAT writes them. */
static int parse_seconds(const char *s, size_t n, double *out)
{
	char text[32], *end;
	size_t points = 0;
	double v;

	if (n == 0 || n >= sizeof(text))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			points++;
		else if (s[i] < '0' || s[i] > '9')
			return -1;
	}
	if (points > 1 || s[0] == '.')
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	v = strtod(text, &end);
	if (*end != '\0' || !isfinite(v) || v > DYNAUTH_STATS_MAX_SECONDS)
		return -1;
	*out = v;
	return 0;
}

/* The last colon-separated part of s[0..*n): its start, *n cut before its colon. NULL without one. */
static const char *last_part(const char *s, size_t *n, size_t *part_len)
{
	const char *colon = *n > 0 ? memrchr(s, ':', *n) : NULL;

	if (colon == NULL)
		return NULL;
	*part_len = *n - (size_t)(colon + 1 - s);
	*n = (size_t)(colon - s);
	return colon + 1;
}

/* The slot a field names, or NULL. */
static uint64_t *slot_of(struct dynauth_stats *st, const char *f, size_t n)
{
	const char *last, *before;
	size_t last_len, before_len, nas, a, b;

	if (n > 4 && memcmp(f, "req:", 4) == 0) {
		f += 4, n -= 4;
		if ((last = last_part(f, &n, &last_len)) == NULL || (before = last_part(f, &n, &before_len)) == NULL)
			return NULL;
		nas = lookup(st->nas, st->n_named, f, n);
		a = lookup(dynauth_stats_requests, DYNAUTH_STATS_REQUESTS, before, before_len);
		b = lookup(dynauth_stats_outcomes, DYNAUTH_STATS_OUTCOMES, last, last_len);
		if (nas == st->n_named || a == DYNAUTH_STATS_REQUESTS || b == DYNAUTH_STATS_OUTCOMES)
			return NULL;
		return &st->requests[(nas * DYNAUTH_STATS_REQUESTS + a) * DYNAUTH_STATS_OUTCOMES + b];
	}
	if (n > 4 && memcmp(f, "nak:", 4) == 0) {
		f += 4, n -= 4;
		if ((last = last_part(f, &n, &last_len)) == NULL)
			return NULL;
		nas = lookup(st->nas, st->n_named, f, n);
		b = lookup(dynauth_stats_causes, DYNAUTH_STATS_CAUSES, last, last_len);
		return nas < st->n_named && b < DYNAUTH_STATS_CAUSES ? &st->naks[nas * DYNAUTH_STATS_CAUSES + b] : NULL;
	}
	if (n == strlen(WAIT_COUNT) && memcmp(f, WAIT_COUNT, n) == 0)
		return &st->wait_count;
	for (size_t bucket = 0; bucket <= DYNAUTH_STATS_WAIT_BOUNDS; bucket++) {
		char name[32];

		wait_field(bucket, name, sizeof(name));
		if (n == strlen(name) && memcmp(f, name, n) == 0)
			return &st->wait[bucket];
	}
	return NULL;
}

static int ignore(struct dynauth_stats *st, const char *field, size_t field_len)
{
	/* Shown, never logged as it is: a writer chose these bytes. */
	if (st->ignored++ == 0)
		printable_bytes(st->first_ignored, sizeof(st->first_ignored), field, field_len);
	return -1;
}

int dynauth_stats_field(struct dynauth_stats *st, const char *field, size_t field_len, const char *value,
                        size_t value_len)
{
	uint64_t *slot;

	if (field_len == strlen(WAIT_SUM) && memcmp(field, WAIT_SUM, field_len) == 0)
		return parse_seconds(value, value_len, &st->wait_sum) == 0 ? 0 : ignore(st, field, field_len);
	slot = slot_of(st, field, field_len);
	if (slot == NULL || parse_count(value, value_len, slot) < 0)
		return ignore(st, field, field_len);
	return 0;
}

void dynauth_stats_finish(struct dynauth_stats *st)
{
	uint64_t total = 0;

	for (size_t b = 0; b <= DYNAUTH_STATS_WAIT_BOUNDS; b++)
		total += st->wait[b];
	if (total == st->wait_count && (total > 0 || st->wait_sum == 0))
		return;
	memset(st->wait, 0, sizeof(st->wait));
	st->wait_sum = 0;
	st->wait_count = 0;
	ignore(st, WAIT_COUNT, strlen(WAIT_COUNT));
}

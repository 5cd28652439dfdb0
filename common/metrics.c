#include "common/metrics.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A histogram's sum is kept in nanounits: an integer, so one atomic add. */
#define SUM_SCALE 1e9
#define NS_PER_S 1000000000LL

enum family_type { TYPE_COUNTER, TYPE_GAUGE, TYPE_HISTOGRAM };

struct metrics_family {
	struct metrics_family *next;
	enum family_type type;
	const char *name;
	const char *help;
	struct metrics_label labels[METRICS_MAX_LABELS];
	const atomic_size_t *published[METRICS_MAX_LABELS];   /* NULL: every value */
	size_t hidden[METRICS_MAX_LABELS];   /* a value never rendered; SIZE_MAX: none */
	size_t n_labels;
	size_t n_series;
	const double *bounds;
	size_t n_bounds;
	bool nanoseconds;           /* a counter of seconds kept in ns */
	/* Counters and gauges: one cell per series (gauges with 2+ labels: and
	 * a second, non-zero once the series was set). Histograms: per series,
	 * n_bounds + 1 bucket counts (not cumulative; +Inf last), then the sum. */
	size_t cells_per_series;
	atomic_llong *cells;
};

struct metrics {
	struct metrics_family *first, **last;
	void (*collect)(void *arg);
	void *collect_arg;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m != NULL)
		m->last = &m->first;
	return m;
}

void metrics_free(struct metrics *m)
{
	struct metrics_family *f, *next;

	if (m == NULL)
		return;
	for (f = m->first; f != NULL; f = next) {
		next = f->next;
		free(f->cells);
		free(f);
	}
	free(m);
}

static struct metrics_family *family_new(struct metrics *m, enum family_type type, const char *name,
                                         const char *help, const struct metrics_label *labels,
                                         size_t n_labels, const double *bounds, size_t n_bounds)
{
	struct metrics_family *f;
	size_t n_series = 1;

	if (n_labels > METRICS_MAX_LABELS)
		return NULL;
	for (size_t i = 0; i < n_labels; i++) {
		if (labels[i].n_values == 0 || n_series > SIZE_MAX / labels[i].n_values)
			return NULL;
		n_series *= labels[i].n_values;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	*f = (struct metrics_family){ .type = type, .name = name, .help = help, .n_labels = n_labels,
	                              .n_series = n_series, .bounds = bounds, .n_bounds = n_bounds,
	                              .cells_per_series = type == TYPE_HISTOGRAM              ? n_bounds + 2
	                                                  : type == TYPE_GAUGE && n_labels >= 2 ? 2 : 1 };
	if (n_labels > 0)
		memcpy(f->labels, labels, n_labels * sizeof(*labels));
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		f->hidden[i] = SIZE_MAX;
	f->cells = calloc(n_series * f->cells_per_series, sizeof(*f->cells));
	if (f->cells == NULL) {
		free(f);
		return NULL;
	}
	*m->last = f;
	m->last = &f->next;
	return f;
}

struct metrics_family *metrics_counter(struct metrics *m, const char *name, const char *help,
                                       const struct metrics_label *labels, size_t n_labels)
{
	return family_new(m, TYPE_COUNTER, name, help, labels, n_labels, NULL, 0);
}

struct metrics_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
                                     const struct metrics_label *labels, size_t n_labels)
{
	return family_new(m, TYPE_GAUGE, name, help, labels, n_labels, NULL, 0);
}

struct metrics_family *metrics_seconds_counter(struct metrics *m, const char *name, const char *help,
                                               const struct metrics_label *labels, size_t n_labels)
{
	struct metrics_family *f = family_new(m, TYPE_COUNTER, name, help, labels, n_labels, NULL, 0);

	if (f != NULL)
		f->nanoseconds = true;
	return f;
}

struct metrics_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
                                         const struct metrics_label *labels, size_t n_labels,
                                         const double *bounds, size_t n_bounds)
{
	return family_new(m, TYPE_HISTOGRAM, name, help, labels, n_labels, bounds, n_bounds);
}

void metrics_label_published(struct metrics_family *f, size_t label, const atomic_size_t *published)
{
	f->published[label] = published;
}

void metrics_label_hide(struct metrics_family *f, size_t label, size_t value)
{
	f->hidden[label] = value;
}

size_t metrics_series(const struct metrics_family *f, const size_t *values)
{
	size_t series = 0;

	for (size_t i = 0; i < f->n_labels; i++)
		series = series * f->labels[i].n_values + values[i];
	return series;
}

void metrics_add(struct metrics_family *f, size_t series, int64_t n)
{
	atomic_llong *cells = &f->cells[series * f->cells_per_series];

	atomic_fetch_add_explicit(&cells[0], n, memory_order_relaxed);
	if (f->cells_per_series == 2)
		atomic_store_explicit(&cells[1], 1, memory_order_relaxed);
}

void metrics_set(struct metrics_family *f, size_t series, int64_t value)
{
	atomic_llong *cells = &f->cells[series * f->cells_per_series];

	atomic_store_explicit(&cells[0], value, memory_order_relaxed);
	if (f->cells_per_series == 2)
		atomic_store_explicit(&cells[1], 1, memory_order_relaxed);
}

void metrics_clear(struct metrics_family *f, size_t series)
{
	atomic_llong *cells = &f->cells[series * f->cells_per_series];

	for (size_t i = 0; i < f->cells_per_series; i++)
		atomic_store_explicit(&cells[i], 0, memory_order_relaxed);
}

void metrics_observe(struct metrics_family *f, size_t series, double value)
{
	atomic_llong *cells = &f->cells[series * f->cells_per_series];
	size_t bucket = 0;

	while (bucket < f->n_bounds && value > f->bounds[bucket])
		bucket++;
	atomic_fetch_add_explicit(&cells[bucket], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cells[f->n_bounds + 1], llround(value * SUM_SCALE), memory_order_relaxed);
}

void metrics_on_render(struct metrics *m, void (*collect)(void *arg), void *arg)
{
	m->collect = collect;
	m->collect_arg = arg;
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void put_escaped(FILE *out, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (quote && *s == '"')
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

/* name{label="value",...,le="x"}: extra (may be NULL) is one more label, already safe. */
static void put_series_name(FILE *out, const struct metrics_family *f, const char *suffix, size_t series,
                            const char *extra_name, const char *extra_value)
{
	size_t index[METRICS_MAX_LABELS];
	bool any = f->n_labels > 0 || extra_name != NULL;

	for (size_t i = f->n_labels; i-- > 0;) {
		index[i] = series % f->labels[i].n_values;
		series /= f->labels[i].n_values;
	}
	fprintf(out, "%s%s", f->name, suffix);
	if (!any)
		return;
	fputc('{', out);
	for (size_t i = 0; i < f->n_labels; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i].name);
		put_escaped(out, f->labels[i].values[index[i]], true);
		fputc('"', out);
	}
	if (extra_name != NULL)
		fprintf(out, "%s%s=\"%s\"", f->n_labels ? "," : "", extra_name, extra_value);
	fputc('}', out);
}

static bool series_is_zero(const struct metrics_family *f, size_t series)
{
	const atomic_llong *cells = &f->cells[series * f->cells_per_series];
	size_t n = f->type == TYPE_HISTOGRAM ? f->n_bounds + 1 : 1;

	/* A gauge's second cell says it was set: rendered even at 0. */
	if (f->type == TYPE_GAUGE && f->cells_per_series == 2)
		return atomic_load_explicit(&cells[1], memory_order_relaxed) == 0;
	for (size_t i = 0; i < n; i++) {
		if (atomic_load_explicit(&cells[i], memory_order_relaxed) != 0)
			return false;
	}
	return true;
}

/* Whether every label value of series is published (below published[i])
 * and none is hidden. */
static bool series_published(const struct metrics_family *f, size_t series, const size_t *published)
{
	for (size_t i = f->n_labels; i-- > 0;) {
		size_t value = series % f->labels[i].n_values;

		if (value >= published[i] || value == f->hidden[i])
			return false;
		series /= f->labels[i].n_values;
	}
	return true;
}

static void put_histogram(FILE *out, const struct metrics_family *f, size_t series)
{
	const atomic_llong *cells = &f->cells[series * f->cells_per_series];
	long long cumulative = 0;
	char le[32];

	/* +Inf and _count come from the same loads as the buckets, so a scrape
	 * racing an observation still renders a consistent histogram. */
	for (size_t b = 0; b <= f->n_bounds; b++) {
		cumulative += atomic_load_explicit(&cells[b], memory_order_relaxed);
		if (b < f->n_bounds)
			snprintf(le, sizeof(le), "%g", f->bounds[b]);
		else
			snprintf(le, sizeof(le), "+Inf");
		put_series_name(out, f, "_bucket", series, "le", le);
		fprintf(out, " %lld\n", cumulative);
	}
	put_series_name(out, f, "_sum", series, NULL, NULL);
	fprintf(out, " %.9f\n", (double)atomic_load_explicit(&cells[f->n_bounds + 1], memory_order_relaxed) /
	                        SUM_SCALE);
	put_series_name(out, f, "_count", series, NULL, NULL);
	fprintf(out, " %lld\n", cumulative);
}

static void put_family(FILE *out, const struct metrics_family *f)
{
	static const char *const types[] = {
		[TYPE_COUNTER] = "counter", [TYPE_GAUGE] = "gauge", [TYPE_HISTOGRAM] = "histogram"
	};
	bool skip_zero = f->n_labels >= 2;
	size_t published[METRICS_MAX_LABELS];
	long long v;

	/* Acquire: the text of every value below the count is written. */
	for (size_t i = 0; i < f->n_labels; i++)
		published[i] = f->published[i] == NULL ? f->labels[i].n_values
		                                       : atomic_load_explicit(f->published[i], memory_order_acquire);
	fprintf(out, "# HELP %s ", f->name);
	put_escaped(out, f->help, false);
	fprintf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
	for (size_t s = 0; s < f->n_series; s++) {
		if (!series_published(f, s, published) || (skip_zero && series_is_zero(f, s)))
			continue;
		if (f->type == TYPE_HISTOGRAM) {
			put_histogram(out, f, s);
			continue;
		}
		put_series_name(out, f, "", s, NULL, NULL);
		v = atomic_load_explicit(&f->cells[s * f->cells_per_series], memory_order_relaxed);
		if (f->nanoseconds)
			fprintf(out, " %lld.%09lld\n", v / NS_PER_S, v % NS_PER_S);   /* a counter: >= 0 */
		else
			fprintf(out, " %lld\n", v);
	}
}

char *metrics_render(struct metrics *m, size_t *len)
{
	char *text = NULL;
	FILE *out;

	if (m->collect != NULL)
		m->collect(m->collect_arg);
	out = open_memstream(&text, len);
	if (out == NULL)
		return NULL;
	for (const struct metrics_family *f = m->first; f != NULL; f = f->next)
		put_family(out, f);
	if (ferror(out)) {
		fclose(out);
		free(text);
		return NULL;
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void metrics_set_histogram(struct metrics_family *f, size_t series, const uint64_t *buckets, double sum)
{
	atomic_llong *cells = &f->cells[series * f->cells_per_series];

	for (size_t b = 0; b <= f->n_bounds; b++)
		atomic_store_explicit(&cells[b], (long long)buckets[b], memory_order_relaxed);
	atomic_store_explicit(&cells[f->n_bounds + 1], llround(sum * SUM_SCALE), memory_order_relaxed);
}

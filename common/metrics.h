/*
 * A registry of metrics rendered in the Prometheus text exposition format
 * 0.0.4: counters, gauges and histograms whose label values are all known
 * when the family is registered (NAS names from the config, reason codes,
 * outcomes), so every series is an array slot made up front. Updating one is
 * a relaxed atomic on that slot: the hot path takes no lock and allocates
 * nothing, and a scrape only reads. Label values are bounded by
 * configuration, never by what a device sends.
 *
 * Registration is not thread-safe: register everything, then share. Updates
 * and metrics_render may run concurrently from any threads.
 */
#ifndef COMMON_METRICS_H
#define COMMON_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 3

struct metrics;
struct metrics_family;

/* One label and the values it may take. Borrowed: name and values must
 * outlive the registry. */
struct metrics_label {
	const char *name;
	const char *const *values;
	size_t n_values;
};

struct metrics *metrics_new(void);
/* Frees the registry and its families. NULL: nothing. */
void metrics_free(struct metrics *m);

/*
 * Registers a family; NULL when out of memory or when the arguments are
 * unusable (more than METRICS_MAX_LABELS labels, a label without values).
 * name and help are borrowed, as are labels[i] (the array itself is copied).
 * A histogram's bounds (ascending upper bounds, the "le" of each bucket
 * before +Inf) are borrowed too. Series with every value zero are left out
 * of a rendering when the family has two labels or more (most combinations
 * never happen), except a gauge's once it has been set or added to (a
 * backend at 0, down, is news); families with fewer show every series, zero
 * or not.
 */
struct metrics_family *metrics_counter(struct metrics *m, const char *name, const char *help,
                                       const struct metrics_label *labels, size_t n_labels);
struct metrics_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
                                     const struct metrics_label *labels, size_t n_labels);
/* A counter of seconds kept in nanoseconds, so that fractions add up
 * without a lock: metrics_add adds nanoseconds, the rendering says seconds. */
struct metrics_family *metrics_seconds_counter(struct metrics *m, const char *name, const char *help,
                                               const struct metrics_label *labels, size_t n_labels);
struct metrics_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
                                         const struct metrics_label *labels, size_t n_labels,
                                         const double *bounds, size_t n_bounds);

/*
 * Label `label` of f has values learnt at run time (an OCSP responder's
 * URL): its n_values are slots, of which the first *published are in use,
 * and series with a value past them are not rendered. The owner of the
 * count (borrowed, outlives f) writes a slot's text, then raises the count
 * with a release store, and never changes a published value. Call it at
 * registration.
 */
void metrics_label_published(struct metrics_family *f, size_t label, const atomic_size_t *published);
/* Series whose label `label` has value index `value` are never rendered (a
 * name table's "" in a family where it cannot happen). At registration. */
void metrics_label_hide(struct metrics_family *f, size_t label, size_t value);

/* The series of f for one value index per label (values[i] < labels[i].n_values;
 * NULL or ignored for a family without labels). */
size_t metrics_series(const struct metrics_family *f, const size_t *values);

/* Counters and gauges: adds n (a gauge may go down with a negative n). */
void metrics_add(struct metrics_family *f, size_t series, int64_t n);
/* Gauges, and counters mirrored from a count kept elsewhere: sets the value. */
void metrics_set(struct metrics_family *f, size_t series, int64_t value);
/* A gauge's series back to never set: in a family of two labels or more it
 * is no longer rendered (a target the config stopped naming), in others it
 * reads 0. */
void metrics_clear(struct metrics_family *f, size_t series);
/* Histograms: counts one observation (seconds, round trips, ...; >= 0). */
void metrics_observe(struct metrics_family *f, size_t series, double value);

/* Called at the start of every rendering, from the rendering thread, to set
 * what is mirrored from elsewhere (metrics_set). One per registry; arg borrowed. */
void metrics_on_render(struct metrics *m, void (*collect)(void *arg), void *arg);

/*
 * The whole registry in the text format, as one malloc'd string (caller
 * frees) of *len bytes. NULL when out of memory.
 */
char *metrics_render(struct metrics *m, size_t *len);

/* Histograms mirrored from counts kept elsewhere: sets the series' buckets
 * (n_bounds + 1 counts, not cumulative, +Inf last) and sum (>= 0). */
void metrics_set_histogram(struct metrics_family *f, size_t series, const uint64_t *buckets, double sum);

#endif

/* pg_prom.h — writing the Prometheus text exposition format (version 0.0.4), and the two
 * instruments pregon's processes keep for it: histograms with fixed buckets and bounded tables
 * of labelled counters (pg_tally.h).
 *
 * A process renders its metrics into a pg_prom_t: one family at a time (# HELP and # TYPE
 * lines, then its samples), label values escaped as the format says (backslash, double quote,
 * line feed), numbers printed so that promtool reads them back exactly (integers as integers,
 * +Inf for the last bucket). The writer only appends to a growing buffer; an allocation that
 * fails makes every later call a no-op and pg_prom_take() answer NULL, so a render never
 * needs an error check per line. Names and labels are the caller's: follow the conventions
 * (`_total` for counters, base units `_seconds`/`_bytes`, bounded label values: never a debtor
 * id). Not thread-safe: one writer renders, then hands the text away. */
#ifndef PG_PROM_H
#define PG_PROM_H

#include <stddef.h>
#include <stdint.h>

typedef struct pg_prom pg_prom_t;

/* A new, empty text. NULL when out of memory. */
pg_prom_t *pg_prom_new(void);

/* Frees; accepts NULL and nulls the caller's pointer. */
void pg_prom_destroy(pg_prom_t **self_p);

/* Starts a family: "# HELP name help" and "# TYPE name type" (type "counter", "gauge",
 * "histogram"). Every sample of the family follows before the next family starts. */
void pg_prom_family(pg_prom_t *self, const char *name, const char *type, const char *help);

/* One sample "name{k1="v1",...} value": labels are NULL-terminated pairs of name and value
 * (`labels` may be NULL: no labels). A value that is integral and below 2^53 is printed as an
 * integer. */
void pg_prom_sample(pg_prom_t *self, const char *name, const char *const *labels, double value);

/* The same with the labels given as arguments: name, value, then pairs, then NULL. */
void pg_prom_samplef(pg_prom_t *self, const char *name, double value, ...)
    __attribute__((sentinel));

/* A histogram with fixed upper bounds (ascending, in the metric's base unit). Plain data: the
 * owner observes and renders from one thread. */
#define PG_PROM_MAX_BUCKETS 24
typedef struct {
    double bounds[PG_PROM_MAX_BUCKETS];
    uint64_t counts[PG_PROM_MAX_BUCKETS]; /* observations <= bounds[i], not cumulative */
    size_t n;                             /* bounds used */
    uint64_t count;                       /* every observation (+Inf bucket) */
    double sum;
} pg_prom_hist_t;

/* Sets up h with n bounds (copied; n is cut to PG_PROM_MAX_BUCKETS). */
void pg_prom_hist_init(pg_prom_hist_t *h, const double *bounds, size_t n);

/* Latency bounds in seconds from 100 µs to 10 s, for request and round-trip histograms. */
extern const double pg_prom_latency_bounds[];
extern const size_t pg_prom_latency_n;

/* Counts one observation. */
void pg_prom_hist_observe(pg_prom_hist_t *h, double value);

/* Writes h's samples (name_bucket{...,le=...} cumulative, name_sum, name_count) with the given
 * labels (NULL-terminated pairs, may be NULL). The family line is the caller's. */
void pg_prom_histogram(pg_prom_t *self, const char *name, const char *const *labels,
                       const pg_prom_hist_t *h);

/* The text so far, NUL-terminated, handed to the caller (free it), and the writer emptied.
 * *len (may be NULL) gets its length. NULL when an allocation failed. */
char *pg_prom_take(pg_prom_t *self, size_t *len);

#endif

/* pg_tally.h — a bounded table of labelled counters: "how many verdicts with code C, reason R,
 * rule U, jurisdiction J", "how many reports on channel C with outcome O and provider code P".
 *
 * Every row is one combination of label values (each value copied, cut to PG_TALLY_VALUE_MAX
 * bytes). The table holds at most `max_rows` rows: Prometheus series are forever, so the
 * number of combinations a process exports must stay bounded whatever its input says. Once
 * full, a new combination is counted in the one overflow row whose every value is "other"
 * (and pg_tally_overflowed says how often), so a flood of provider codes or rule ids never
 * grows memory or the scrape. Rows keep their first-seen order. Not thread-safe: one owner
 * (pregond's loop) adds and renders. */
#ifndef PG_TALLY_H
#define PG_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "pg_prom.h"

#define PG_TALLY_MAX_LABELS 4
#define PG_TALLY_VALUE_MAX  63

typedef struct pg_tally pg_tally_t;

/* A table of counters labelled by n_labels names (copied; 1..PG_TALLY_MAX_LABELS), at most
 * max_rows rows (>= 1) plus the overflow row. NULL on invalid arguments or out of memory. */
pg_tally_t *pg_tally_new(const char *const *label_names, size_t n_labels, size_t max_rows);

/* Frees; accepts NULL and nulls the caller's pointer. */
void pg_tally_destroy(pg_tally_t **self_p);

/* Adds `by` to the row of these values (n_labels of them; NULL reads as ""). */
void pg_tally_add(pg_tally_t *self, const char *const *values, uint64_t by);

/* Rows in use (not counting the overflow row), and additions that went to the overflow row. */
size_t pg_tally_rows(const pg_tally_t *self);
uint64_t pg_tally_overflowed(const pg_tally_t *self);

/* The count of the row of these values, 0 when there is none (for tests). */
uint64_t pg_tally_get(const pg_tally_t *self, const char *const *values);

/* Writes one sample of `name` per row (and the overflow row when used), labelled with the
 * table's names. The family line is the caller's. */
void pg_tally_render(const pg_tally_t *self, pg_prom_t *out, const char *name);

#endif

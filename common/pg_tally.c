/* pg_tally.c — the bounded table of labelled counters (pg_tally.h).
 *
 * Rows live in one array in first-seen order; an open-addressing index of twice the row
 * bound (FNV-1a over the values) finds a combination in O(1), so counting a verdict costs a
 * hash and a few compares whatever the table's size. Nothing is ever removed. */
#include "pg_tally.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char values[PG_TALLY_MAX_LABELS][PG_TALLY_VALUE_MAX + 1];
    uint64_t count;
} s_row_t;

struct pg_tally {
    char names[PG_TALLY_MAX_LABELS][PG_TALLY_VALUE_MAX + 1];
    size_t n_labels, max_rows, n_rows, index_cap;
    s_row_t *rows;
    int32_t *index; /* row number, -1 = free */
    uint64_t overflowed;
};

pg_tally_t *pg_tally_new(const char *const *label_names, size_t n_labels, size_t max_rows) {
    if (!label_names || n_labels < 1 || n_labels > PG_TALLY_MAX_LABELS || max_rows < 1 ||
        max_rows > (1u << 20))
        return NULL;
    pg_tally_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->n_labels = n_labels;
    self->max_rows = max_rows;
    self->index_cap = 16;
    while (self->index_cap < 2 * max_rows)
        self->index_cap *= 2;
    self->rows = calloc(max_rows, sizeof *self->rows);
    self->index = malloc(self->index_cap * sizeof *self->index);
    if (!self->rows || !self->index) {
        pg_tally_destroy(&self);
        return NULL;
    }
    memset(self->index, 0xff, self->index_cap * sizeof *self->index);
    for (size_t i = 0; i < n_labels; i++) {
        strncpy(self->names[i], label_names[i] ? label_names[i] : "", PG_TALLY_VALUE_MAX);
        self->names[i][PG_TALLY_VALUE_MAX] = '\0';
    }
    return self;
}

void pg_tally_destroy(pg_tally_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free((*self_p)->rows);
    free((*self_p)->index);
    free(*self_p);
    *self_p = NULL;
}

/* FNV-1a over the values as they are stored (cut), separated by a 0 byte. */
static uint64_t s_hash(const pg_tally_t *self, const char *const *values) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < self->n_labels; i++) {
        const char *v = values[i] ? values[i] : "";
        for (size_t k = 0; v[k] && k < PG_TALLY_VALUE_MAX; k++)
            h = (h ^ (unsigned char)v[k]) * 1099511628211ull;
        h = (h ^ 0u) * 1099511628211ull;
    }
    return h;
}

static bool s_same(const pg_tally_t *self, const s_row_t *row, const char *const *values) {
    for (size_t i = 0; i < self->n_labels; i++) {
        const char *v = values[i] ? values[i] : "";
        if (strncmp(row->values[i], v, PG_TALLY_VALUE_MAX) != 0)
            return false;
    }
    return true;
}

/* The index slot of these values: theirs, or the free one where they would go. */
static size_t s_slot(const pg_tally_t *self, const char *const *values) {
    size_t mask = self->index_cap - 1, at = (size_t)s_hash(self, values) & mask;
    while (self->index[at] >= 0 && !s_same(self, &self->rows[self->index[at]], values))
        at = (at + 1) & mask;
    return at;
}

void pg_tally_add(pg_tally_t *self, const char *const *values, uint64_t by) {
    if (!self || !values)
        return;
    size_t at = s_slot(self, values);
    if (self->index[at] >= 0) {
        self->rows[self->index[at]].count += by;
        return;
    }
    if (self->n_rows == self->max_rows) {
        self->overflowed += by;
        return;
    }
    s_row_t *row = &self->rows[self->n_rows];
    for (size_t i = 0; i < self->n_labels; i++) {
        strncpy(row->values[i], values[i] ? values[i] : "", PG_TALLY_VALUE_MAX);
        row->values[i][PG_TALLY_VALUE_MAX] = '\0';
    }
    row->count = by;
    self->index[at] = (int32_t)self->n_rows++;
}

size_t pg_tally_rows(const pg_tally_t *self) {
    return self ? self->n_rows : 0;
}

uint64_t pg_tally_overflowed(const pg_tally_t *self) {
    return self ? self->overflowed : 0;
}

uint64_t pg_tally_get(const pg_tally_t *self, const char *const *values) {
    if (!self || !values)
        return 0;
    size_t at = s_slot(self, values);
    return self->index[at] >= 0 ? self->rows[self->index[at]].count : 0;
}

void pg_tally_render(const pg_tally_t *self, pg_prom_t *out, const char *name) {
    if (!self)
        return;
    const char *labels[2 * PG_TALLY_MAX_LABELS + 1];
    for (size_t r = 0; r <= self->n_rows; r++) {
        if (r == self->n_rows && !self->overflowed)
            break;
        for (size_t i = 0; i < self->n_labels; i++) {
            labels[2 * i] = self->names[i];
            labels[2 * i + 1] = r < self->n_rows ? self->rows[r].values[i] : "other";
        }
        labels[2 * self->n_labels] = NULL;
        pg_prom_sample(out, name, labels,
                       (double)(r < self->n_rows ? self->rows[r].count : self->overflowed));
    }
}

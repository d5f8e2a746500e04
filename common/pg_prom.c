/* pg_prom.c — the Prometheus text exposition writer and its histogram (pg_prom.h).
 *
 * The text grows by doubling; the first allocation that fails marks the writer broken and
 * everything after it is dropped: a render either is whole or is not given out at all, never
 * a family cut in the middle. */
#include "pg_prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_prom {
    char *buf;
    size_t len, cap;
    bool broken;
};

const double pg_prom_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const size_t pg_prom_latency_n = sizeof pg_prom_latency_bounds / sizeof pg_prom_latency_bounds[0];

pg_prom_t *pg_prom_new(void) {
    return calloc(1, sizeof(pg_prom_t));
}

void pg_prom_destroy(pg_prom_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

static bool s_reserve(pg_prom_t *self, size_t more) {
    if (self->broken)
        return false;
    if (self->len + more + 1 <= self->cap)
        return true;
    size_t cap = self->cap ? self->cap : 4096;
    while (cap < self->len + more + 1)
        cap *= 2;
    char *b = realloc(self->buf, cap);
    if (!b) {
        self->broken = true;
        return false;
    }
    self->buf = b;
    self->cap = cap;
    return true;
}

static void s_put(pg_prom_t *self, const char *s, size_t n) {
    if (!s_reserve(self, n))
        return;
    memcpy(self->buf + self->len, s, n);
    self->len += n;
    self->buf[self->len] = '\0';
}

static void s_puts(pg_prom_t *self, const char *s) {
    s_put(self, s, strlen(s));
}

/* HELP text escapes backslash and line feed; label values also the double quote. */
static void s_escaped(pg_prom_t *self, const char *s, bool quote) {
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '\\')
            s_put(self, "\\\\", 2);
        else if (*p == '\n')
            s_put(self, "\\n", 2);
        else if (*p == '"' && quote)
            s_put(self, "\\\"", 2);
        else
            s_put(self, p, 1);
    }
}

static void s_number(pg_prom_t *self, double v) {
    char num[64];
    if (isnan(v))
        snprintf(num, sizeof num, "NaN");
    else if (isinf(v))
        snprintf(num, sizeof num, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(num, sizeof num, "%.0f", v);
    else
        snprintf(num, sizeof num, "%.17g", v);
    s_puts(self, num);
}

void pg_prom_family(pg_prom_t *self, const char *name, const char *type, const char *help) {
    s_puts(self, "# HELP ");
    s_puts(self, name);
    s_put(self, " ", 1);
    s_escaped(self, help, false);
    s_puts(self, "\n# TYPE ");
    s_puts(self, name);
    s_put(self, " ", 1);
    s_puts(self, type);
    s_put(self, "\n", 1);
}

/* name{labels[,extra_name="extra_value"]} value */
static void s_sample(pg_prom_t *self, const char *name, const char *const *labels,
                     const char *extra_name, const char *extra_value, double value) {
    s_puts(self, name);
    bool any = (labels && labels[0]) || extra_name;
    if (any)
        s_put(self, "{", 1);
    bool first = true;
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        if (!first)
            s_put(self, ",", 1);
        first = false;
        s_puts(self, labels[i]);
        s_put(self, "=\"", 2);
        s_escaped(self, labels[i + 1], true);
        s_put(self, "\"", 1);
    }
    if (extra_name) {
        if (!first)
            s_put(self, ",", 1);
        s_puts(self, extra_name);
        s_put(self, "=\"", 2);
        s_escaped(self, extra_value, true);
        s_put(self, "\"", 1);
    }
    if (any)
        s_put(self, "}", 1);
    s_put(self, " ", 1);
    s_number(self, value);
    s_put(self, "\n", 1);
}

void pg_prom_sample(pg_prom_t *self, const char *name, const char *const *labels, double value) {
    s_sample(self, name, labels, NULL, NULL, value);
}

void pg_prom_samplef(pg_prom_t *self, const char *name, double value, ...) {
    const char *labels[17];
    size_t n = 0;
    va_list ap;
    va_start(ap, value);
    for (const char *s; n < 16 && (s = va_arg(ap, const char *)) != NULL;)
        labels[n++] = s;
    va_end(ap);
    labels[n & ~(size_t)1] = NULL; /* an odd count drops the name without a value */
    s_sample(self, name, labels, NULL, NULL, value);
}

void pg_prom_hist_init(pg_prom_hist_t *h, const double *bounds, size_t n) {
    memset(h, 0, sizeof *h);
    h->n = n < PG_PROM_MAX_BUCKETS ? n : PG_PROM_MAX_BUCKETS;
    memcpy(h->bounds, bounds, h->n * sizeof *bounds);
}

void pg_prom_hist_observe(pg_prom_hist_t *h, double value) {
    h->count++;
    h->sum += value;
    for (size_t i = 0; i < h->n; i++)
        if (value <= h->bounds[i]) {
            h->counts[i]++;
            return;
        }
}

void pg_prom_histogram(pg_prom_t *self, const char *name, const char *const *labels,
                       const pg_prom_hist_t *h) {
    char series[256], le[64];
    snprintf(series, sizeof series, "%s_bucket", name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h->n; i++) {
        cumulative += h->counts[i];
        snprintf(le, sizeof le, "%.17g", h->bounds[i]);
        s_sample(self, series, labels, "le", le, (double)cumulative);
    }
    s_sample(self, series, labels, "le", "+Inf", (double)h->count);
    snprintf(series, sizeof series, "%s_sum", name);
    s_sample(self, series, labels, NULL, NULL, h->sum);
    snprintf(series, sizeof series, "%s_count", name);
    s_sample(self, series, labels, NULL, NULL, (double)h->count);
}

char *pg_prom_take(pg_prom_t *self, size_t *len) {
    if (self->broken || !s_reserve(self, 0)) {
        free(self->buf);
        memset(self, 0, sizeof *self);
        return NULL;
    }
    char *text = self->buf;
    text[self->len] = '\0';
    if (len)
        *len = self->len;
    memset(self, 0, sizeof *self);
    return text;
}

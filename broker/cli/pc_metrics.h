/* pc_metrics.h — one reading of a process's /metrics, for pregonctl status and top: fetched
 * with libcurl, parsed from the Prometheus text format into samples (name, labels, value).
 *
 * The parser reads what pg_prom.h writes and what the format allows around it: comment lines
 * (# HELP, # TYPE, others) skipped, label values with the three escapes (\\ \" \n), an optional
 * timestamp after the value ignored, +Inf/-Inf/NaN. A line it cannot read is skipped and
 * counted, never fatal. A reading is plain data, owned by the caller. */
#ifndef PC_METRICS_H
#define PC_METRICS_H

#include <stddef.h>

#define PC_METRICS_MAX_LABELS 8

typedef struct {
    char *name;
    char *keys[PC_METRICS_MAX_LABELS], *values[PC_METRICS_MAX_LABELS];
    size_t n_labels;
    double value;
} pc_sample_t;

typedef struct pc_metrics pc_metrics_t;

/* Parses a text. NULL when out of memory. */
pc_metrics_t *pc_metrics_parse(const char *text, size_t len);

/* GET base_url + "/metrics" (2 s timeout) and parse it. NULL with a reason in err. */
pc_metrics_t *pc_metrics_fetch(const char *base_url, char *err, size_t errlen);

void pc_metrics_destroy(pc_metrics_t **self_p);

size_t pc_metrics_count(const pc_metrics_t *self);
const pc_sample_t *pc_metrics_at(const pc_metrics_t *self, size_t i);
/* Lines that could not be read. */
size_t pc_metrics_skipped(const pc_metrics_t *self);

/* The value of label key in s, NULL when it has none. */
const char *pc_sample_label(const pc_sample_t *s, const char *key);

/* The sum of the samples called name whose labels include every (key, value) pair given
 * (NULL-terminated); 0 when none. */
double pc_metrics_sum(const pc_metrics_t *self, const char *name, ...) __attribute__((sentinel));

#endif

/* vc_counts.c — the day counts' file (see vc_counts.h), with jansson. */
#include "vc_counts.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static uint32_t s_day(int64_t now_ms) {
    return (uint32_t)(now_ms / 86400000);
}

int vc_counts_load(vc_pool_t *pool, const char *path, int64_t now_ms, char *err, size_t err_len) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f && errno == ENOENT)
            return 0; /* first start */
        if (f)
            fclose(f);
        snprintf(err, err_len, "counts state %.200s: %.100s", path, jerr.text);
        return -1;
    }
    json_t *day = json_object_get(root, "day"), *counts = json_object_get(root, "counts");
    if (!json_is_integer(day) || !json_is_object(counts)) {
        snprintf(err, err_len, "counts state %.200s: no day or counts", path);
        json_decref(root);
        return -1;
    }
    if (json_integer_value(day) == (json_int_t)s_day(now_ms)) {
        const char *number;
        json_t *v;
        json_object_foreach(counts, number, v) {
            json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
            if (n > 0 && n <= UINT32_MAX)
                vc_pool_set_count(pool, number, s_day(now_ms), (uint32_t)n);
        }
    }
    json_decref(root);
    return 0;
}

/* One number's count into the object (the highest, for a number listed in two pools). */
static void s_put(void *ctx, const char *number, uint32_t calls) {
    json_t *counts = ctx, *had = json_object_get(counts, number);
    if (!had || json_integer_value(had) < (json_int_t)calls)
        json_object_set_new(counts, number, json_integer(calls));
}

int vc_counts_save(const vc_pool_t *pool, const char *path, int64_t now_ms, char *err,
                   size_t err_len) {
    json_t *root = json_object(), *counts = json_object();
    if (!root || !counts) {
        json_decref(root);
        json_decref(counts);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    vc_pool_counts_each(pool, s_day(now_ms), s_put, counts);
    json_object_set_new(root, "day", json_integer(s_day(now_ms)));
    json_object_set_new(root, "counts", counts);
    char tmp[4096];
    int rc = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp ||
        json_dump_file(root, tmp, JSON_COMPACT) != 0 || rename(tmp, path) != 0) {
        snprintf(err, err_len, "cannot write %.200s: %s", path, strerror(errno));
        rc = -1;
    }
    json_decref(root);
    return rc;
}

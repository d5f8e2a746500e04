/* vc_counts.c — the day counts' file (see vc_counts.h), with jansson. */
#include "vc_counts.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t s_day(int64_t now_ms) {
    return (uint32_t)(now_ms / 86400000);
}

#define S_MAX_FILE                                                                                 \
    (16u << 20) /* far past 1,024 numbers in 256 pools: a file this big is not ours */

int vc_counts_load(vc_pool_t *pool, const char *path, int64_t now_ms, char *err, size_t err_len) {
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > (off_t)S_MAX_FILE) {
        snprintf(err, err_len, "counts state %.200s: %lld bytes, over %u", path,
                 (long long)st.st_size, S_MAX_FILE);
        return -1;
    }
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
        const char *tenant, *campaign, *number;
        json_t *by_campaign, *by_number, *v;
        json_object_foreach(counts, tenant, by_campaign) {
            json_object_foreach(by_campaign, campaign, by_number) {
                json_object_foreach(by_number, number, v) {
                    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
                    if (n > 0 && n <= UINT32_MAX)
                        vc_pool_set_count(pool, tenant, campaign, number, s_day(now_ms),
                                          (uint32_t)n);
                }
            }
        }
    }
    json_decref(root);
    return 0;
}

/* One pool's count of a number into counts[tenant][campaign][number]. */
static void s_put(void *ctx, const char *tenant, const char *campaign, const char *number,
                  uint32_t calls) {
    json_t *counts = ctx, *t = json_object_get(counts, tenant);
    if (!t)
        json_object_set_new(counts, tenant, t = json_object());
    json_t *c = t ? json_object_get(t, campaign) : NULL;
    if (t && !c)
        json_object_set_new(t, campaign, c = json_object());
    if (c)
        json_object_set_new(c, number, json_integer(calls));
}

/* Writes root to tmp, flushed to the disk, then renames it over path: after a crash the file
 * is the old one or the new one, never a short one. */
static int s_write(json_t *root, const char *tmp, const char *path) {
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int rc =
        json_dumpf(root, f, JSON_COMPACT) == 0 && fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    return rc;
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
    /* the process's own temporary name: two workers sharing a state directory never write
     * into each other's */
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, err_len, "counts state %.200s: path too long", path);
        rc = -1;
    } else if (s_write(root, tmp, path) != 0) {
        snprintf(err, err_len, "cannot write %.200s: %s", path, strerror(errno));
        rc = -1;
    }
    json_decref(root);
    return rc;
}

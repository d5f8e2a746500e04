/* au_verify.c — recomputing the archive's chains (see au_verify.h). One pass per shard over its
 * segments in day order; the state below is what the next line must match. At the first
 * problem of a shard its text is made and the shard's pass ends. */
#include "au_verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_seg.h"

typedef struct {
    char file[40]; /* sN/DAY.jsonl */
    uint64_t line, seq;
} s_where_t;

typedef struct {
    const char *dir;
    const au_key_t *pub;
    au_verify_result_t *res;
    char problem[1024];
    /* the chain */
    uint64_t exp;
    char prev[AU_HASH_HEX], cp_prev[AU_HASH_HEX];
    int started, cp_known;
    s_where_t last; /* the line before */
    int brk;        /* a break in the chain waiting for the next signature */
    s_where_t brk_at;
    s_where_t brk_before;
    /* the segment */
    uint64_t seg_records;
    int closed, tail_unsigned;
    s_where_t first_unsigned;
    char cache[4096][AU_HASH_HEX]; /* content files already checked, by their first 3 digits */
} s_state_t;

static int s_problem(s_state_t *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->problem, sizeof st->problem, fmt, ap);
    va_end(ap);
    return 1;
}

static int s_content_ok(s_state_t *st, const char *hash) {
    unsigned slot = (unsigned)strtoul((char[4]){hash[0], hash[1], hash[2], 0}, NULL, 16) & 4095;
    if (strcmp(st->cache[slot], hash) == 0)
        return 1;
    char path[640];
    au_content_path(st->dir, hash, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > cap) {
            cap = (len + n) * 2;
            char *b = realloc(buf, cap);
            if (!b)
                break;
            buf = b;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    char h[AU_HASH_HEX];
    au_sha256_hex(buf ? buf : "", len, h);
    free(buf);
    if (strcmp(h, hash) != 0)
        return 0;
    memcpy(st->cache[slot], hash, AU_HASH_HEX);
    st->res->contents++;
    return 1;
}

/* A removal record of the shard that names the checkpoint `hash` ending at seq - 1. */
static int s_removal_names(s_state_t *st, int shard, const int *days, size_t n, const char *hash,
                           uint64_t seq) {
    for (size_t i = 0; i < n; i++) {
        char path[640];
        au_seg_path(st->dir, shard, days[i], path, sizeof path);
        au_lines_t r;
        if (au_lines_open(&r, path) < 0)
            continue;
        int found = 0;
        while (!found && au_lines_next(&r) == 1) {
            if (!strstr(r.line, "\"kind\":\"removal\"") ||
                au_verify_line(st->pub, r.line, r.len) != 1)
                continue;
            json_t *o = json_loadb(r.line, r.len, 0, NULL);
            const char *cp = json_string_value(json_object_get(o, "checkpoint"));
            uint64_t cs = (uint64_t)json_integer_value(json_object_get(o, "cpseq"));
            found = cp && strcmp(cp, hash) == 0 && cs + 1 == seq;
            json_decref(o);
        }
        au_lines_close(&r);
        if (found)
            return 1;
    }
    return 0;
}

/* One complete line. 0 go on, 1 a problem (in st->problem). Long for a reason: its checks run in
 * the order a line is read (seq, link, signature, counts, content), each one naming the problem. */
static int s_line(s_state_t *st, au_lines_t *r, const s_where_t *here, int anchor_ok) {
    json_t *o = json_loadb(r->line, r->len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return s_problem(st, "%s:%" PRIu64 ": not a JSON object: edited", here->file, here->line);
    }
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
    const char *prev = json_string_value(json_object_get(o, "prev"));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    s_where_t w = *here;
    w.seq = seq;
    int rc = 0;
    if (!st->started) {
        if (!(seq == 1 && prev && strcmp(prev, AU_GENESIS) == 0) && !anchor_ok) {
            rc = s_problem(st,
                           "%s:%" PRIu64 ": the shard's first line, seq %" PRIu64
                           ", does not start the chain and no removal record names what came "
                           "before it: segments removed out of band",
                           w.file, w.line, seq);
            goto out;
        }
        st->started = 1;
        st->exp = seq;
        snprintf(st->prev, sizeof st->prev, "%s", prev ? prev : "");
    }
    if (seq != st->exp) {
        int chained = prev && strcmp(prev, st->prev) == 0;
        if (chained)
            rc = s_problem(
                st, "%s:%" PRIu64 ": record seq %" PRIu64 " edited: its seq should be %" PRIu64,
                w.file, w.line, seq, st->exp);
        else if (seq > st->exp) {
            /* a gap: removed, unless the missing one comes next (two lines swapped) */
            uint64_t next = 0;
            if (au_lines_next(r) == 1 && !r->partial) {
                json_t *n = json_loadb(r->line, r->len, 0, NULL);
                next = (uint64_t)json_integer_value(json_object_get(n, "seq"));
                json_decref(n);
            }
            if (next == st->exp)
                rc = s_problem(st,
                               "%s:%" PRIu64 ": record seq %" PRIu64
                               " reordered: it stands before seq %" PRIu64,
                               w.file, w.line, seq, st->exp);
            else if (seq == st->exp + 1)
                rc = s_problem(st,
                               "record seq %" PRIu64 " removed: %s:%" PRIu64 " holds seq %" PRIu64
                               " after seq %" PRIu64,
                               st->exp, w.file, w.line, seq, st->exp - 1);
            else
                rc = s_problem(st,
                               "records seq %" PRIu64 "..%" PRIu64 " removed: %s:%" PRIu64
                               " holds seq %" PRIu64,
                               st->exp, seq - 1, w.file, w.line, seq);
        } else
            rc = s_problem(st,
                           "%s:%" PRIu64 ": record seq %" PRIu64 " out of order (seq %" PRIu64
                           " expected): reordered or inserted",
                           w.file, w.line, seq, st->exp);
        goto out;
    }
    if (!prev || strcmp(prev, st->prev) != 0) {
        if (st->brk) {
            rc = s_problem(st,
                           "%s:%" PRIu64 ": record seq %" PRIu64 " does not chain to seq %" PRIu64
                           " before it: edited or appended out of band",
                           st->brk_at.file, st->brk_at.line, st->brk_at.seq, st->brk_at.seq - 1);
            goto out;
        }
        st->brk = 1;
        st->brk_at = w;
        st->brk_before = st->last;
    }
    if (kind) {
        int sig = au_verify_line(st->pub, r->line, r->len);
        if (sig != 1) {
            rc = st->brk && (strcmp(kind, "seal") == 0 || strcmp(kind, "checkpoint") == 0)
                     ? s_problem(
                           st,
                           "%s:%" PRIu64 ": record seq %" PRIu64 " does not chain to seq %" PRIu64
                           " before it: edited or appended out of band",
                           st->brk_at.file, st->brk_at.line, st->brk_at.seq, st->brk_at.seq - 1)
                     : s_problem(st, "%s:%" PRIu64 ": %s seq %" PRIu64 ": %s", w.file, w.line, kind,
                                 seq, sig < 0 ? "no signature: edited" : "bad signature: edited");
            goto out;
        }
        st->res->signatures++;
        if (st->brk) {
            rc = s_problem(st,
                           "%s:%" PRIu64 ": record seq %" PRIu64
                           " edited: its hash is not the one seq %" PRIu64
                           " chains to (seq %" PRIu64 "..%" PRIu64 " are sealed by %s:%" PRIu64 ")",
                           st->brk_before.file, st->brk_before.line, st->brk_before.seq,
                           st->brk_at.seq, st->brk_at.seq, seq, w.file, w.line);
            goto out;
        }
        if (strcmp(kind, "seal") == 0 || strcmp(kind, "checkpoint") == 0) {
            uint64_t count = (uint64_t)json_integer_value(json_object_get(o, "count"));
            if (count != st->seg_records) {
                rc = s_problem(st,
                               "%s:%" PRIu64 ": %s seq %" PRIu64 " counts %" PRIu64
                               " records, the segment holds %" PRIu64
                               " before it: records %s out of band",
                               w.file, w.line, kind, seq, count, st->seg_records,
                               count < st->seg_records ? "appended" : "removed");
                goto out;
            }
            st->tail_unsigned = 0;
        }
        if (strcmp(kind, "checkpoint") == 0) {
            const char *cpprev = json_string_value(json_object_get(o, "cpprev"));
            if (st->cp_known && (!cpprev || strcmp(cpprev, st->cp_prev) != 0)) {
                rc = s_problem(st,
                               "%s:%" PRIu64 ": checkpoint seq %" PRIu64
                               " does not chain to the previous checkpoint",
                               w.file, w.line, seq);
                goto out;
            }
            st->closed = 1;
            au_sha256_hex(r->line, r->len, st->cp_prev);
            st->cp_known = 1;
        }
        if (strcmp(kind, "removal") == 0)
            st->res->removals++;
    } else {
        if (st->closed) {
            rc = s_problem(st,
                           "%s:%" PRIu64 ": record seq %" PRIu64
                           " appended after the segment's checkpoint",
                           w.file, w.line, seq);
            goto out;
        }
        st->seg_records++;
        st->res->records++;
        if (!st->tail_unsigned)
            st->first_unsigned = w;
        st->tail_unsigned = 1;
        const char *at = json_string_value(json_object_get(o, "at"));
        int64_t ms = at ? atoll(at) : 0;
        if (ms && (!st->res->first_ms || ms < st->res->first_ms))
            st->res->first_ms = ms;
        if (ms > st->res->last_ms)
            st->res->last_ms = ms;
        const char *content = json_string_value(json_object_get(o, "content"));
        if (content && strlen(content) == 64 && !json_object_get(o, "body") &&
            !s_content_ok(st, content)) {
            rc = s_problem(st,
                           "%s:%" PRIu64 ": record seq %" PRIu64
                           " names content %.16s… whose file is missing or edited",
                           w.file, w.line, seq, content);
            goto out;
        }
    }
    au_sha256_hex(r->line, r->len, st->prev);
    st->exp = seq + 1;
    st->last = w;
out:
    json_decref(o);
    return rc;
}

/* One segment file. 0, 1 (problem), -1 (unreadable). */
static int s_segment(s_state_t *st, int shard, int day, int newest, int anchor_ok) {
    char path[640], name[11];
    au_seg_path(st->dir, shard, day, path, sizeof path);
    au_day_name(day, name);
    s_where_t here = {{0}, 0, 0};
    snprintf(here.file, sizeof here.file, "s%d/%s.jsonl", shard, name);
    au_lines_t r;
    if (au_lines_open(&r, path) < 0)
        return -1;
    st->res->segments++;
    st->seg_records = 0;
    st->closed = 0;
    st->tail_unsigned = 0;
    int rc = 0, got;
    while (rc == 0 && (got = au_lines_next(&r)) == 1) {
        here.line++;
        if (r.partial) {
            if (!newest)
                rc = s_problem(st, "%s:%" PRIu64 ": a torn last line", here.file, here.line);
            break; /* the newest segment's: a write in progress */
        }
        rc = s_line(st, &r, &here, anchor_ok && here.line == 1);
    }
    au_lines_close(&r);
    if (rc)
        return rc;
    if (st->brk)
        return s_problem(st,
                         "%s:%" PRIu64 ": record seq %" PRIu64 " does not chain to seq %" PRIu64
                         " before it and no seal covers it: edited or appended out of band",
                         st->brk_at.file, st->brk_at.line, st->brk_at.seq, st->brk_at.seq - 1);
    if (st->tail_unsigned)
        return s_problem(st,
                         "%s:%" PRIu64 ": records from seq %" PRIu64
                         " on are covered by no seal: appended out of band (or pregon-audit was "
                         "killed mid-write and has not run since)",
                         st->first_unsigned.file, st->first_unsigned.line, st->first_unsigned.seq);
    if (!st->closed && !newest)
        return s_problem(st, "%s: no checkpoint closes it: truncated", here.file);
    return 0;
}

static int s_verify_shards(const char *dir, const au_key_t *pub, const int *shards, size_t ns,
                           int from_day, int to_day, void (*problem)(void *ctx, const char *text),
                           void *ctx, au_verify_result_t *res, char *err, size_t err_len);

int au_verify(const char *dir, const au_key_t *pub, int from_day, int to_day,
              void (*problem)(void *ctx, const char *text), void *ctx, au_verify_result_t *res,
              char *err, size_t err_len) {
    memset(res, 0, sizeof *res);
    int *shards = NULL;
    size_t ns = 0;
    if (au_seg_shards(dir, &shards, &ns) < 0) {
        snprintf(err, err_len, "%s: cannot list", dir);
        return -1;
    }
    int rc =
        s_verify_shards(dir, pub, shards, ns, from_day, to_day, problem, ctx, res, err, err_len);
    free(shards);
    return rc;
}

int au_verify_shard(const char *dir, const au_key_t *pub, int shard, int from_day, int to_day,
                    void (*problem)(void *ctx, const char *text), void *ctx,
                    au_verify_result_t *res, char *err, size_t err_len) {
    memset(res, 0, sizeof *res);
    return s_verify_shards(dir, pub, &shard, 1, from_day, to_day, problem, ctx, res, err, err_len);
}

/* The shards' passes (one state, reset per shard). */
static int s_verify_shards(const char *dir, const au_key_t *pub, const int *shards, size_t ns,
                           int from_day, int to_day, void (*problem)(void *ctx, const char *text),
                           void *ctx, au_verify_result_t *res, char *err, size_t err_len) {
    s_state_t *st = malloc(sizeof *st);
    if (!st) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < ns; i++) {
        memset(st, 0, sizeof *st);
        st->dir = dir;
        st->pub = pub;
        st->res = res;
        int *days = NULL;
        size_t nd = 0;
        if (au_seg_days(dir, shards[i], &days, &nd) < 0) {
            snprintf(err, err_len, "%s/s%d: cannot list", dir, shards[i]);
            rc = -1;
            break;
        }
        res->shards++;
        int found = 0, shard_rc = 0;
        for (size_t d = 0; shard_rc == 0 && d < nd; d++) {
            if ((from_day >= 0 && days[d] < from_day) || (to_day >= 0 && days[d] > to_day))
                continue;
            int anchor_ok = 0;
            if (!found) {
                /* the first segment checked: a range starting later, or removals, anchor it */
                anchor_ok = d > 0;
                if (d == 0) {
                    au_lines_t r;
                    char path[640];
                    au_seg_path(dir, shards[i], days[d], path, sizeof path);
                    if (au_lines_open(&r, path) == 0 && au_lines_next(&r) == 1) {
                        json_t *o = json_loadb(r.line, r.len, 0, NULL);
                        const char *p = json_string_value(json_object_get(o, "prev"));
                        uint64_t s = (uint64_t)json_integer_value(json_object_get(o, "seq"));
                        if (p && s > 1 && s_removal_names(st, shards[i], days, nd, p, s)) {
                            anchor_ok = 1;
                            snprintf(st->cp_prev, sizeof st->cp_prev, "%s", p);
                            st->cp_known = 1;
                        }
                        json_decref(o);
                    }
                    au_lines_close(&r);
                }
                found = 1;
            }
            shard_rc = s_segment(st, shards[i], days[d], d + 1 == nd, anchor_ok);
        }
        free(days);
        if (shard_rc < 0) {
            snprintf(err, err_len, "shard %d: a segment could not be read", shards[i]);
            rc = -1;
        } else if (shard_rc > 0) {
            res->problems++;
            rc = 1;
            if (problem)
                problem(ctx, st->problem);
        }
    }
    free(st);
    return rc;
}

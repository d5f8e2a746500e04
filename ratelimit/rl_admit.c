/* rl_admit.c — batch admission against Redis (contract and key layout in rl_admit.h).
 *
 * Round trips per attempt: one pipelined HMGET per distinct debtor, then one pipelined FCALL
 * pg_admit per shard present in the batch.
 * Everything a job needs across the two is kept in s_work_t; nothing here logs. */
#include "rl_admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_history.h"

#define MAX_ATTEMPTS 6
#define HISTORY_FLOOR_SECS                                                                         \
    (35LL * 86400) /* keep at least this much history, whatever the policy                         \
                    */
#define NUM_LEN 32

struct rl_admit {
    redisContext *redis;   /* borrowed */
    const st_keys_t *keys; /* borrowed */
    st_fn_t *fn;           /* borrowed */
    int64_t idem_ttl;
    char err[256];
    uint64_t retries;
    int dry_run; /* pg_peek instead of pg_admit: nothing written */
};

/* Per-job working state of one batch. */
typedef struct {
    char *hist_key, *job_key, *sup_key; /* in the batch's key arena (sup_key: the tenant's
                                         * suppression hash in the debtor's shard) */
    char queue_key[64];
    int shard;
    char off[16]; /* UTC offset of the zone now, for the audit record's local time */
    char *ctx;    /* owned: the audit context, pregon.lua's x (s_pack_ctx) */
    int ctx_len;
    char counters[RL_COUNTERS_TEXT_MAX + RL_ID_MAX + 4]; /* "3 of 7 in 7d (rule)" */
    char action;                                         /* 'A', 'D', 'R', 'E', 'X' */
    int pending;                                         /* still to be committed */
    int64_t until;
    const char *rule;
    const char *reason;
    char ver[NUM_LEN];
    char until_s[NUM_LEN];
    char score_s[NUM_LEN];
    char *new_hist; /* owned; accepted jobs only */
    int new_hist_len;
    char *win; /* owned: the window key of a windowed job (rl_admit_job_t.window), else NULL */
} s_work_t;

static const char *const s_vnames[] = {"UNKNOWN",   "ACCEPTED", "DEFERRED", "REJECTED",
                                       "DUPLICATE", "BUSY",     "EXPIRED"};

const char *rl_vcode_name(int code) {
    return (code >= 1 && code <= 6) ? s_vnames[code] : "UNKNOWN";
}

int rl_vcode_parse(const char *name) {
    for (int i = 1; i <= 6; i++)
        if (name && strcmp(name, s_vnames[i]) == 0)
            return i;
    return 0;
}

rl_admit_t *rl_admit_new(redisContext *redis, const st_keys_t *keys, st_fn_t *fn) {
    rl_admit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->keys = keys;
    self->fn = fn;
    self->idem_ttl = 35LL * 86400;
    return self;
}

void rl_admit_destroy(rl_admit_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void rl_admit_set_dry_run(rl_admit_t *self, int on) {
    if (self)
        self->dry_run = on != 0;
}

int rl_admit_dry_run(const rl_admit_t *self) {
    return self ? self->dry_run : 0;
}

void rl_admit_set_idem_ttl(rl_admit_t *self, int64_t seconds) {
    if (seconds > 0)
        self->idem_ttl = seconds;
}

const char *rl_admit_strerror(const rl_admit_t *self) {
    return self->err;
}

uint64_t rl_admit_retries(const rl_admit_t *self) {
    return self->retries;
}

static void s_seterr(rl_admit_t *self, const char *what, const redisReply *r) {
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(self->err, sizeof self->err, "%s: %s", what, r->str);
    else if (self->redis->err)
        snprintf(self->err, sizeof self->err, "%s: %s", what, self->redis->errstr);
    else
        snprintf(self->err, sizeof self->err, "%s: unexpected reply", what);
}

/* The zone's UTC offset now: the library writes the debtor's local time from it. */
static void s_offset_string(const rl_job_t *job, int64_t now, char *buf, size_t len) {
    if (job->n_zones < 1 || !job->zones[0])
        buf[0] = '\0';
    else
        snprintf(buf, len, "%d", (int)rl_zone_offset(job->zones[0], now));
}

static const char *s_zone_name(const rl_job_t *job) {
    return job->n_zones >= 1 && job->zones[0] ? rl_zone_name(job->zones[0]) : "";
}

/* The batch's keys, one after the other in blocks: no per-job buffer to clear or allocate. */
typedef struct s_block {
    struct s_block *next;
    char data[];
} s_block_t;
typedef struct {
    s_block_t *blocks;
    size_t used, cap; /* of the first block */
} s_arena_t;
#define S_BLOCK (64 * 1024)

static void s_arena_free(s_arena_t *a) {
    while (a->blocks) {
        s_block_t *next = a->blocks->next;
        free(a->blocks);
        a->blocks = next;
    }
}

/* Builds the job's three keys in the arena; -1 if they cannot be built (too long, no memory). */
static int s_arena_keys(rl_admit_t *self, s_arena_t *a, const rl_admit_job_t *job, s_work_t *wk) {
    for (int tries = 0; tries < 2; tries++) {
        if (a->blocks) {
            int n = st_keys_job_set(self->keys, job->tenant, job->debtor, job->job_id,
                                    a->blocks->data + a->used, a->cap - a->used, &wk->hist_key,
                                    &wk->job_key, &wk->sup_key, &wk->shard);
            if (n >= 0) {
                a->used += (size_t)n;
                return 0;
            }
            if (a->used == 0)
                return -1; /* does not fit an empty block: the ids are too long */
        }
        s_block_t *b = malloc(sizeof *b + S_BLOCK);
        if (!b)
            return -1;
        b->next = a->blocks;
        a->blocks = b;
        a->used = 0;
        a->cap = S_BLOCK;
    }
    return -1;
}

/* Packs the job's audit context as pregon.lua's x field: debt NUL campaign NUL contact NUL zone
 * NUL offset NUL template NUL jurisdiction (no field can hold a NUL: they are C strings). */
#define S_CTX_PARTS 7
static int s_pack_ctx(const rl_admit_job_t *job, s_work_t *wk) {
    const char *parts[S_CTX_PARTS] = {job->debt_id ? job->debt_id : "",
                                      job->campaign ? job->campaign : "",
                                      job->contact ? job->contact : "",
                                      job->reject_reason ? "" : s_zone_name(&job->decide),
                                      wk->off,
                                      job->template_id ? job->template_id : "",
                                      job->jurisdiction ? job->jurisdiction : ""};
    size_t len = S_CTX_PARTS - 1;
    for (int i = 0; i < S_CTX_PARTS; i++)
        len += strlen(parts[i]);
    wk->ctx = malloc(len + 1);
    if (!wk->ctx)
        return -1;
    size_t at = 0;
    for (int i = 0; i < S_CTX_PARTS; i++) {
        size_t l = strlen(parts[i]);
        memcpy(wk->ctx + at, parts[i], l);
        at += l;
        if (i < S_CTX_PARTS - 1)
            wk->ctx[at++] = '\0';
    }
    wk->ctx[at] = '\0';
    wk->ctx_len = (int)at;
    return 0;
}

/* The counters that decided, with their rule when it is not the verdict's own (an accepted
 * job has no deciding rule: the text names the cap closest to its limit). */
static void s_counters_text(const rl_verdict_t *v, char *buf, size_t len) {
    size_t n = rl_verdict_counters(v, buf, len);
    const char *rule = v->counters.rule;
    if (n && rule && (!v->rule || strcmp(rule, v->rule) != 0))
        snprintf(buf + n, len - n, " (%s)", rule);
}

/* The caller's own deferral (rl_admit_job_t.defer_until) over the policy's verdict v: an
 * allowed job, or one deferred to an earlier instant, waits until the caller's instant, or
 * expires when its expiry comes first. */
static void s_caller_defer(const rl_admit_job_t *job, rl_verdict_t *v) {
    if (job->defer_until <= 0 || !(v->outcome == RL_ALLOW || v->outcome == RL_DEFER) ||
        (v->outcome == RL_DEFER && v->until >= job->defer_until))
        return;
    int64_t exp = job->decide.expires_at;
    v->outcome = exp && job->defer_until >= exp ? RL_EXPIRE : RL_DEFER; /* as rl_decide's */
    v->until = job->defer_until;
    v->rule = job->defer_rule ? job->defer_rule : "caller.defer";
    v->reason = job->defer_reason ? job->defer_reason : "deferred";
}

/* Orders job indexes by debtor, then by position in the batch (qsort_r comparator). */
static int s_cmp_by_debtor(const void *a, const void *b, void *ctx) {
    const s_work_t *w = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(w[x].hist_key, w[y].hist_key);
    return c ? c : (x > y) - (x < y);
}

/* Decides every pending job of the debtor group order[g0..g1) from the history reply. */
static void s_decide_group(const rl_admit_job_t *jobs, s_work_t *w, const size_t *order, size_t g0,
                           size_t g1, const redisReply *hr, int64_t now) {
    static __thread rl_contact_t hist[RL_MAX_HISTORY + 1];
    static __thread uint32_t refs[RL_MAX_HISTORY + 1];
    long long ver = 0;
    int n = 0;
    if (hr && hr->type == REDIS_REPLY_ARRAY && hr->elements == 2) {
        if (hr->element[0]->type == REDIS_REPLY_STRING)
            ver = strtoll(hr->element[0]->str, NULL, 10);
        if (hr->element[1]->type == REDIS_REPLY_STRING) {
            n = rl_history_decode(hr->element[1]->str, hr->element[1]->len, hist, refs,
                                  RL_MAX_HISTORY);
            if (n < 0)
                n = 0; /* unreadable history: start over rather than refuse the debtor forever */
        }
    }
    for (size_t k = g0; k < g1; k++) {
        size_t i = order[k];
        const rl_admit_job_t *job = &jobs[i];
        s_work_t *wk = &w[i];
        if (!wk->pending)
            continue;
        free(wk->new_hist);
        wk->new_hist = NULL;
        snprintf(wk->ver, sizeof wk->ver, "%lld", ver);
        if (job->reject_reason) {
            wk->action = 'X';
            wk->rule = job->reject_rule ? job->reject_rule : "job.invalid";
            wk->reason = job->reject_reason;
            continue;
        }
        /* A repeat of an earlier job of this batch is not a second contact: it gets the first
         * one's decision and a version that never commits, so the script answers DUPLICATE once
         * the first has committed, or asks for a retry together with it. */
        const s_work_t *orig = NULL;
        for (size_t e = g0; e < k && !orig; e++)
            if (w[order[e]].pending && strcmp(jobs[order[e]].job_id, job->job_id) == 0)
                orig = &w[order[e]];
        if (orig) {
            wk->action = orig->action;
            wk->rule = orig->rule;
            wk->reason = orig->reason;
            wk->until = orig->until;
            snprintf(wk->counters, sizeof wk->counters, "%s", orig->counters);
            snprintf(wk->ver, sizeof wk->ver, "-1");
            snprintf(wk->until_s, sizeof wk->until_s, "%lld", (long long)wk->until);
            continue;
        }
        rl_verdict_t v;
        rl_decide(&job->decide, hist, (size_t)n, now, &v);
        s_counters_text(&v, wk->counters, sizeof wk->counters);
        s_caller_defer(job, &v);
        wk->rule = v.rule ? v.rule : "";
        wk->reason = v.reason ? v.reason : "";
        wk->until = v.until;
        switch (v.outcome) {
            case RL_ALLOW: {
                wk->action = 'A';
                if (n == RL_MAX_HISTORY) { /* full: drop the oldest */
                    memmove(hist, hist + 1, (RL_MAX_HISTORY - 1) * sizeof hist[0]);
                    memmove(refs, refs + 1, (RL_MAX_HISTORY - 1) * sizeof refs[0]);
                    n--;
                }
                hist[n] = (rl_contact_t){now, job->decide.debt, (uint8_t)job->decide.channel, 0};
                refs[n] = rl_job_ref(job->tenant, job->job_id);
                n++;
                int64_t lookback = rl_policy_lookback(job->decide.policy);
                if (lookback < HISTORY_FLOOR_SECS)
                    lookback = HISTORY_FLOOR_SECS;
                size_t cap = (size_t)n * RL_HISTORY_RECORD_MAX + 1;
                wk->new_hist = malloc(cap);
                wk->new_hist_len = wk->new_hist
                                       ? rl_history_encode(hist, refs, (size_t)n, now - lookback,
                                                           wk->new_hist, cap)
                                       : -1;
                if (wk->new_hist_len < 0) { /* out of memory: refuse this one, safely */
                    wk->action = 'X';
                    wk->rule = "pregon.internal";
                    wk->reason = "no-memory";
                }
                /* the next accepted job of this debtor expects the version this one creates */
                if (wk->action == 'A')
                    ver++;
                break;
            }
            case RL_DEFER:
                wk->action = 'D';
                break;
            case RL_EXPIRE:
                wk->action = 'E';
                break;
            case RL_REJECT:
            default:
                wk->action = 'R';
                break;
        }
        snprintf(wk->until_s, sizeof wk->until_s, "%lld", (long long)wk->until);
    }
}

static void s_busy_all(s_work_t *w, size_t n, rl_admit_verdict_t *out, const char *reason) {
    for (size_t i = 0; i < n; i++) {
        if (!w[i].pending)
            continue;
        out[i].code = RL_V_BUSY;
        snprintf(out[i].reason, sizeof out[i].reason, "%s", reason);
        w[i].pending = 0;
    }
}

static void s_copy(char *dst, size_t len, const redisReply *r) {
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(dst, len, "%s", r->str);
    else
        dst[0] = '\0';
}

/* Reads one script result entry into out; returns 1 if the job must be decided again. */
static int s_take_result(const redisReply *e, s_work_t *wk, rl_admit_verdict_t *out) {
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return 1;
    const char c = e->element[0]->str[0];
    memset(out, 0, sizeof *out);
    switch (c) {
        case 'T':
            return 1;
        case 'A':
            out->code = RL_V_ACCEPTED;
            break;
        case 'D':
            out->code = RL_V_DEFERRED;
            out->until = wk->until;
            snprintf(out->rule, sizeof out->rule, "%s", wk->rule);
            snprintf(out->reason, sizeof out->reason, "%s", wk->reason);
            break;
        case 'E':
            out->code = RL_V_EXPIRED;
            out->until = wk->until;
            snprintf(out->rule, sizeof out->rule, "%s", wk->rule);
            snprintf(out->reason, sizeof out->reason, "%s", "expired");
            break;
        case 'R':
            out->code = RL_V_REJECTED;
            if (e->elements >= 3) {
                s_copy(out->rule, sizeof out->rule, e->element[1]);
                s_copy(out->reason, sizeof out->reason, e->element[2]);
            }
            break;
        case 'U': {
            char first[32];
            out->code = RL_V_DUPLICATE;
            s_copy(first, sizeof first, e->elements >= 2 ? e->element[1] : NULL);
            out->first = (rl_vcode_t)rl_vcode_parse(first);
            snprintf(out->reason, sizeof out->reason, "duplicate");
            break;
        }
        case 'S':
            out->code = RL_V_DUPLICATE;
            out->stale = 1;
            snprintf(out->reason, sizeof out->reason, "stale");
            break;
        default:
            return 1;
    }
    wk->pending = 0;
    return 0;
}

#define S_HEAD 5  /* FCALL name numkeys audit deferred */
#define S_NK   4  /* keys per job */
#define S_NA   19 /* arguments per job */

/* Builds one pg_admit call over the pending jobs idx[0..m) (all of one shard) into argv/argl;
 * returns its argc. `num` holds the call's own number strings (numkeys, audit, deferred keys). */
static int s_admit_call(rl_admit_t *self, const rl_admit_job_t *jobs, s_work_t *w,
                        const size_t *idx, size_t m, const char *const *head, const char **argv,
                        size_t *argl, char (*num)[ST_KEY_MAX]) {
    static const char readmit_s[2][2] = {"0", "1"};
    size_t a = 0;
#define S_ARG(s)       (argv[a] = (s), argl[a] = (size_t)-1, a++)
#define S_ARGN(s, len) (argv[a] = (s), argl[a] = (len), a++)
    S_ARG("FCALL");
    S_ARG("pg_admit");
    snprintf(num[0], sizeof num[0], "%zu", 2 + S_NK * m);
    st_key_shared(self->keys, w[idx[0]].shard, "audit", num[1], sizeof num[1]);
    st_key_shared(self->keys, w[idx[0]].shard, "deferred", num[2], sizeof num[2]);
    S_ARG(num[0]);
    S_ARG(num[1]);
    S_ARG(num[2]);
    for (size_t j = 0; j < m; j++) {
        S_ARG(w[idx[j]].hist_key);
        S_ARG(w[idx[j]].job_key);
        S_ARG(w[idx[j]].sup_key);
        S_ARG(w[idx[j]].queue_key);
    }
    for (int h = 0; h < 3; h++)
        S_ARG(head[h]);
    for (size_t j = 0; j < m; j++) {
        const rl_admit_job_t *job = &jobs[idx[j]];
        s_work_t *wk = &w[idx[j]];
        S_ARG(job->job_id);
        S_ARG(job->tenant);
        S_ARG(job->debtor);
        S_ARG(readmit_s[job->readmit ? 1 : 0]);
        S_ARG(wk->ver);
        S_ARGN(&wk->action, 1);
        S_ARG(wk->until_s);
        S_ARG(wk->rule);
        S_ARG(wk->reason);
        if (wk->new_hist)
            S_ARGN(wk->new_hist, (size_t)wk->new_hist_len);
        else
            S_ARG("");
        S_ARGN(job->payload ? (const char *)job->payload : "", job->payload ? job->payload_len : 0);
        S_ARG(rl_channel_name(job->decide.channel));
        S_ARG(job->contact ? job->contact : "");
        S_ARG(wk->score_s);
        S_ARGN(wk->ctx, (size_t)wk->ctx_len);
        S_ARG(wk->counters);
        S_ARG(wk->win ? wk->win : "");
        S_ARGN(job->link ? job->link : "", job->link ? job->link_len : 0);
        S_ARG(job->keep_payload ? "1" : "0");
    }
#undef S_ARG
#undef S_ARGN
    for (size_t i = 0; i < a; i++)
        if (argl[i] == (size_t)-1)
            argl[i] = strlen(argv[i]);
    return (int)a;
}

/* Commits the pending jobs: one pg_admit call per shard, all pipelined, in `order` (which
 * keeps each shard's jobs together). Returns 0, or -1 on a Redis failure. */
static int s_commit(rl_admit_t *self, const rl_admit_job_t *jobs, s_work_t *w, const size_t *order,
                    size_t n, int64_t now, rl_admit_verdict_t *out, size_t *retry) {
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        np += w[i].pending;
    *retry = 0;
    if (np == 0)
        return 0;
    size_t *idx = malloc(np * sizeof *idx);
    size_t *start = malloc((np + 1) * sizeof *start); /* calls: idx[start[c]..start[c+1]) */
    const char **argv = malloc((S_HEAD * np + 3 * np + (S_NK + S_NA) * np) * sizeof *argv);
    size_t *argl = malloc((S_HEAD * np + 3 * np + (S_NK + S_NA) * np) * sizeof *argl);
    char(*num)[ST_KEY_MAX] = NULL;
    int rc = 0;
    if (!idx || !start || !argv || !argl) {
        snprintf(self->err, sizeof self->err, "out of memory");
        rc = -1;
        goto done;
    }
    size_t m = 0, calls = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (!w[i].pending)
            continue;
        if (m == 0 || w[idx[m - 1]].shard != w[i].shard)
            start[calls++] = m;
        idx[m++] = i;
    }
    start[calls] = m;
    num = malloc(3 * calls * sizeof *num);
    if (!num) {
        snprintf(self->err, sizeof self->err, "out of memory");
        rc = -1;
        goto done;
    }
    char now_s[NUM_LEN], ttl_s[NUM_LEN], hist_ttl_s[NUM_LEN];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now * 1000);
    snprintf(ttl_s, sizeof ttl_s, "%lld", (long long)self->idem_ttl);
    snprintf(hist_ttl_s, sizeof hist_ttl_s, "%lld", (long long)HISTORY_FLOOR_SECS + 86400);
    const char *head[3] = {now_s, ttl_s, hist_ttl_s};
    size_t used = 0;
    int *argc = malloc(calls * sizeof *argc);
    size_t *at = malloc(calls * sizeof *at);
    if (!argc || !at) {
        free(argc), free(at);
        snprintf(self->err, sizeof self->err, "out of memory");
        rc = -1;
        goto done;
    }
    for (size_t c = 0; c < calls; c++) {
        at[c] = used;
        argc[c] = s_admit_call(self, jobs, w, idx + start[c], start[c + 1] - start[c], head,
                               argv + used, argl + used, num + 3 * c);
        used += (size_t)argc[c];
    }
    redisReply **rs = calloc(calls, sizeof *rs);
    const char *fn = self->dry_run ? "pg_peek" : "pg_admit";
    if (!rs || st_fn_pipeline(self->fn, fn, calls, argc, at, argv, argl, rs) < 0) {
        snprintf(self->err, sizeof self->err, "%s", rs ? st_fn_strerror(self->fn) : "no memory");
        rc = -1; /* the jobs of a call without a reply stay pending: BUSY, fail closed */
    }
    for (size_t c = 0; rs && c < calls; c++) {
        redisReply *r = rs[c];
        size_t first = start[c], cnt = start[c + 1] - start[c];
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == cnt) {
            /* a call that answered is committed, whatever became of the others */
            for (size_t j = 0; j < cnt; j++)
                *retry +=
                    (size_t)s_take_result(r->element[j], &w[idx[first + j]], &out[idx[first + j]]);
        } else if (r) {
            s_seterr(self, "FCALL pg_admit", r);
            rc = -1;
        }
        freeReplyObject(r);
    }
    free(rs);
    free(argc), free(at);
done:
    free(idx), free(start), free(argv), free(argl), free(num);
    return rc;
}

int rl_admit_batch(rl_admit_t *self, const rl_admit_job_t *jobs, size_t n, int64_t now,
                   rl_admit_verdict_t *out) {
    self->err[0] = '\0';
    if (n == 0)
        return 0;
    s_work_t *w = calloc(n, sizeof *w);
    size_t *order = malloc(n * sizeof *order);
    redisReply **hist = calloc(n, sizeof *hist);
    char(*qkey)[RL_CH_COUNT][64] =
        calloc((size_t)st_keys_shards(self->keys), sizeof *qkey); /* queue keys, made once */
    int rc = 0;
    if (!w || !order || !hist || !qkey) {
        free(w), free(order), free(hist), free(qkey);
        snprintf(self->err, sizeof self->err, "out of memory");
        for (size_t i = 0; i < n; i++) {
            memset(&out[i], 0, sizeof out[i]);
            out[i].code = RL_V_BUSY;
            snprintf(out[i].reason, sizeof out[i].reason, "no-memory");
        }
        return -1;
    }
    s_arena_t arena = {NULL, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const rl_admit_job_t *job = &jobs[i];
        s_work_t *wk = &w[i];
        memset(&out[i], 0, sizeof out[i]);
        order[i] = i;
        wk->pending = 1;
        if (s_arena_keys(self, &arena, job, wk) < 0) {
            wk->hist_key = wk->job_key = wk->sup_key = (char *)"";
            out[i].code = RL_V_REJECTED;
            snprintf(out[i].rule, sizeof out[i].rule, "job.fields");
            snprintf(out[i].reason, sizeof out[i].reason, "id-too-long");
            wk->pending = 0;
            continue;
        }
        if (qkey[wk->shard][job->decide.channel % RL_CH_COUNT][0] == '\0') {
            char what[32];
            snprintf(what, sizeof what, "q:%s", rl_channel_name(job->decide.channel));
            st_key_shared(self->keys, wk->shard, what,
                          qkey[wk->shard][job->decide.channel % RL_CH_COUNT], 64);
        }
        snprintf(wk->queue_key, sizeof wk->queue_key, "%s",
                 qkey[wk->shard][job->decide.channel % RL_CH_COUNT]);
        /* scores are whole milliseconds in practice: skip the costly float formatting then */
        double score = job->queue_score;
        if (score >= -9e15 && score <= 9e15 && score == (double)(long long)score)
            snprintf(wk->score_s, sizeof wk->score_s, "%lld", (long long)score);
        else
            snprintf(wk->score_s, sizeof wk->score_s, "%.17g", score);
        if (!job->reject_reason)
            s_offset_string(&job->decide, now, wk->off, sizeof wk->off);
        if (job->window && !job->reject_reason) {
            char wkey[ST_KEY_MAX];
            if (st_key_window(self->keys, job->tenant, job->debtor,
                              rl_channel_name(job->decide.channel),
                              job->contact ? job->contact : "", wkey, sizeof wkey) < 0 ||
                !(wk->win = strdup(wkey))) {
                out[i].code = RL_V_REJECTED;
                snprintf(out[i].rule, sizeof out[i].rule, "job.fields");
                snprintf(out[i].reason, sizeof out[i].reason, "id-too-long");
                wk->pending = 0;
                continue;
            }
        }
        if (s_pack_ctx(job, wk) < 0) {
            out[i].code = RL_V_BUSY;
            snprintf(out[i].reason, sizeof out[i].reason, "no-memory");
            wk->pending = 0;
        }
    }
    qsort_r(order, n, sizeof *order, s_cmp_by_debtor, w);

    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        /* 1. read each pending debtor's version and history, pipelined */
        size_t groups = 0;
        for (size_t g0 = 0; g0 < n;) {
            size_t g1 = g0 + 1;
            while (g1 < n && strcmp(w[order[g1]].hist_key, w[order[g0]].hist_key) == 0)
                g1++;
            int any = 0;
            for (size_t k = g0; k < g1; k++)
                any |= w[order[k]].pending;
            if (any) {
                redisAppendCommand(self->redis, "HMGET %s v c", w[order[g0]].hist_key);
                groups++;
            }
            g0 = g1;
        }
        size_t got = 0;
        for (; got < groups; got++) {
            void *reply = NULL;
            if (redisGetReply(self->redis, &reply) != REDIS_OK) {
                s_seterr(self, "HMGET history", NULL);
                break;
            }
            hist[got] = reply;
        }
        if (got < groups) {
            for (size_t g = 0; g < got; g++)
                freeReplyObject(hist[g]), hist[g] = NULL;
            rc = -1;
            break;
        }
        /* 2. decide, debtor by debtor */
        size_t g = 0;
        for (size_t g0 = 0; g0 < n;) {
            size_t g1 = g0 + 1;
            while (g1 < n && strcmp(w[order[g1]].hist_key, w[order[g0]].hist_key) == 0)
                g1++;
            int any = 0;
            for (size_t k = g0; k < g1; k++)
                any |= w[order[k]].pending;
            if (any) {
                s_decide_group(jobs, w, order, g0, g1, hist[g], now);
                freeReplyObject(hist[g]);
                hist[g++] = NULL;
            }
            g0 = g1;
        }
        /* 3. commit atomically */
        size_t retry = 0;
        if (s_commit(self, jobs, w, order, n, now, out, &retry) < 0) {
            rc = -1;
            break;
        }
        if (retry == 0)
            break;
        self->retries += retry;
    }
    s_busy_all(w, n, out, rc < 0 ? "redis-unavailable" : "contention");
    for (size_t i = 0; i < n; i++)
        free(w[i].new_hist), free(w[i].ctx), free(w[i].win);
    free(w), free(order), free(hist), free(qkey);
    s_arena_free(&arena);
    return rc;
}

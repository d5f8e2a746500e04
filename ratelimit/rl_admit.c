/* rl_admit.c — batch admission against Redis (contract and key layout in rl_admit.h).
 *
 * Round trips per attempt: one pipelined HMGET per distinct debtor, one EVALSHA for the batch.
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
    redisContext *redis; /* borrowed */
    char prefix[32];
    char sha[48];
    int64_t idem_ttl;
    char err[256];
    uint64_t retries;
};

/* Per-job working state of one batch. */
typedef struct {
    char hist_key[320];
    char job_key[480];
    char sup_key[320];
    char queue_key[64];
    char action; /* 'A', 'D', 'R', 'E', 'X' */
    int pending; /* still to be committed */
    int64_t until;
    const char *rule;
    const char *reason;
    char ver[NUM_LEN];
    char until_s[NUM_LEN];
    char score_s[NUM_LEN];
    char local[40];
    char *new_hist; /* owned; accepted jobs only */
    int new_hist_len;
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

rl_admit_t *rl_admit_new(redisContext *redis, const char *prefix) {
    rl_admit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    snprintf(self->prefix, sizeof self->prefix, "%s", prefix && *prefix ? prefix : "pg");
    self->idem_ttl = 35LL * 86400;
    return self;
}

void rl_admit_destroy(rl_admit_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
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

static int s_fit(int n, size_t len) {
    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

int rl_admit_key_history(const rl_admit_t *self, const char *tenant, const char *debtor, char *buf,
                         size_t len) {
    return s_fit(snprintf(buf, len, "%s:{%s:%s}:h", self->prefix, tenant, debtor), len);
}

int rl_admit_key_job(const rl_admit_t *self, const char *tenant, const char *debtor,
                     const char *job_id, char *buf, size_t len) {
    return s_fit(snprintf(buf, len, "%s:{%s:%s}:j:%s", self->prefix, tenant, debtor, job_id), len);
}

int rl_admit_key_suppress(const rl_admit_t *self, const char *tenant, const char *debtor, char *buf,
                          size_t len) {
    return s_fit(snprintf(buf, len, "%s:{%s:%s}:sup", self->prefix, tenant, debtor), len);
}

static void s_seterr(rl_admit_t *self, const char *what, const redisReply *r) {
    if (r && r->type == REDIS_REPLY_ERROR)
        snprintf(self->err, sizeof self->err, "%s: %s", what, r->str);
    else if (self->redis->err)
        snprintf(self->err, sizeof self->err, "%s: %s", what, self->redis->errstr);
    else
        snprintf(self->err, sizeof self->err, "%s: unexpected reply", what);
}

static int s_load_script(rl_admit_t *self) {
    redisReply *r = redisCommand(self->redis, "SCRIPT LOAD %s", rl_admit_lua);
    if (!r || r->type != REDIS_REPLY_STRING) {
        s_seterr(self, "SCRIPT LOAD", r);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    snprintf(self->sha, sizeof self->sha, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

static void s_local_string(const rl_job_t *job, int64_t now, char *buf, size_t len) {
    if (job->n_zones < 1 || !job->zones[0]) {
        buf[0] = '\0';
        return;
    }
    rl_local_t lt;
    rl_zone_local(job->zones[0], now, &lt);
    int off = lt.utc_offset, sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", lt.year, lt.month, lt.day,
             lt.hour, lt.min, lt.sec, sign, off / 3600, (off / 60) % 60);
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
            snprintf(wk->ver, sizeof wk->ver, "-1");
            snprintf(wk->until_s, sizeof wk->until_s, "%lld", (long long)wk->until);
            continue;
        }
        rl_verdict_t v;
        rl_decide(&job->decide, hist, (size_t)n, now, &v);
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

/* Runs admit.lua over the pending jobs; returns 0 or -1 on a Redis failure. */
static int s_commit(rl_admit_t *self, const rl_admit_job_t *jobs, s_work_t *w, size_t n,
                    int64_t now, rl_admit_verdict_t *out, size_t *retry) {
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        np += w[i].pending;
    *retry = 0;
    if (np == 0)
        return 0;
    const size_t argc = 3 + 2 + 4 * np + 3 + 15 * np;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *argl = malloc(argc * sizeof *argl);
    size_t *idx = malloc(np * sizeof *idx);
    if (!argv || !argl || !idx) {
        free(argv), free(argl), free(idx);
        snprintf(self->err, sizeof self->err, "out of memory");
        return -1;
    }
    char numkeys[NUM_LEN], now_s[NUM_LEN], ttl_s[NUM_LEN], hist_ttl_s[NUM_LEN];
    char audit_key[64], deferred_key[64];
    snprintf(numkeys, sizeof numkeys, "%zu", 2 + 4 * np);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(ttl_s, sizeof ttl_s, "%lld", (long long)self->idem_ttl);
    snprintf(hist_ttl_s, sizeof hist_ttl_s, "%lld", (long long)HISTORY_FLOOR_SECS + 86400);
    snprintf(audit_key, sizeof audit_key, "%s:audit", self->prefix);
    snprintf(deferred_key, sizeof deferred_key, "%s:deferred", self->prefix);

    size_t a = 0;
#define S_ARG(s)       (argv[a] = (s), argl[a] = strlen(argv[a]), a++)
#define S_ARGN(s, len) (argv[a] = (s), argl[a] = (len), a++)
    S_ARG("EVALSHA");
    S_ARG(self->sha);
    S_ARG(numkeys);
    S_ARG(audit_key);
    S_ARG(deferred_key);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!w[i].pending)
            continue;
        idx[k++] = i;
        S_ARG(w[i].hist_key);
        S_ARG(w[i].job_key);
        S_ARG(w[i].sup_key);
        S_ARG(w[i].queue_key);
    }
    S_ARG(now_s);
    S_ARG(ttl_s);
    S_ARG(hist_ttl_s);
    static const char readmit_s[2][2] = {"0", "1"};
    for (size_t j = 0; j < np; j++) {
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
        S_ARG(wk->local);
    }
#undef S_ARG
#undef S_ARGN

    redisReply *r = NULL;
    for (int tries = 0; tries < 2; tries++) {
        if (!self->sha[0] && s_load_script(self) < 0)
            break;
        argv[1] = self->sha;
        argl[1] = strlen(self->sha);
        r = redisCommandArgv(self->redis, (int)a, argv, argl);
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(r);
            r = NULL;
            self->sha[0] = '\0';
            continue;
        }
        break;
    }
    int rc = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != np) {
        if (!self->err[0] || r)
            s_seterr(self, "EVALSHA admit", r);
        rc = -1;
    } else {
        for (size_t j = 0; j < np; j++)
            *retry += (size_t)s_take_result(r->element[j], &w[idx[j]], &out[idx[j]]);
    }
    if (r)
        freeReplyObject(r);
    free(argv), free(argl), free(idx);
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
    int rc = 0;
    if (!w || !order || !hist) {
        free(w), free(order), free(hist);
        snprintf(self->err, sizeof self->err, "out of memory");
        for (size_t i = 0; i < n; i++) {
            memset(&out[i], 0, sizeof out[i]);
            out[i].code = RL_V_BUSY;
            snprintf(out[i].reason, sizeof out[i].reason, "no-memory");
        }
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const rl_admit_job_t *job = &jobs[i];
        s_work_t *wk = &w[i];
        memset(&out[i], 0, sizeof out[i]);
        order[i] = i;
        wk->pending = 1;
        if (rl_admit_key_history(self, job->tenant, job->debtor, wk->hist_key,
                                 sizeof wk->hist_key) < 0 ||
            rl_admit_key_job(self, job->tenant, job->debtor, job->job_id, wk->job_key,
                             sizeof wk->job_key) < 0 ||
            rl_admit_key_suppress(self, job->tenant, job->debtor, wk->sup_key, sizeof wk->sup_key) <
                0) {
            out[i].code = RL_V_REJECTED;
            snprintf(out[i].rule, sizeof out[i].rule, "job.fields");
            snprintf(out[i].reason, sizeof out[i].reason, "id-too-long");
            wk->pending = 0;
            continue;
        }
        snprintf(wk->queue_key, sizeof wk->queue_key, "%s:q:%s", self->prefix,
                 rl_channel_name(job->decide.channel));
        /* scores are whole milliseconds in practice: skip the costly float formatting then */
        double score = job->queue_score;
        if (score >= -9e15 && score <= 9e15 && score == (double)(long long)score)
            snprintf(wk->score_s, sizeof wk->score_s, "%lld", (long long)score);
        else
            snprintf(wk->score_s, sizeof wk->score_s, "%.17g", score);
        if (!job->reject_reason)
            s_local_string(&job->decide, now, wk->local, sizeof wk->local);
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
        if (s_commit(self, jobs, w, n, now, out, &retry) < 0) {
            rc = -1;
            break;
        }
        if (retry == 0)
            break;
        self->retries += retry;
    }
    s_busy_all(w, n, out, rc < 0 ? "redis-unavailable" : "contention");
    for (size_t i = 0; i < n; i++)
        free(w[i].new_hist);
    free(w), free(order), free(hist);
    return rc;
}

/* brk_store.c — the broker's Redis operations (see brk_store.h). */
#include "brk_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_history.h"

extern const char brk_dispatch_lua[], brk_report_lua[], brk_release_lua[];

enum { S_DISPATCH, S_REPORT, S_RELEASE, S_NSCRIPTS };

struct brk_store {
    redisContext *redis; /* borrowed */
    char prefix[32];
    char sha[S_NSCRIPTS][48];
    int64_t ttl;
    int max_attempts;
    uint32_t resend_unknown;
    char err[256];
};

static const char *s_script(int i) {
    return i == S_DISPATCH ? brk_dispatch_lua : i == S_REPORT ? brk_report_lua : brk_release_lua;
}

brk_store_t *brk_store_new(redisContext *redis, const char *prefix, int64_t finished_ttl_s,
                           int max_attempts, uint32_t resend_unknown) {
    brk_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    snprintf(self->prefix, sizeof self->prefix, "%s", prefix);
    self->ttl = finished_ttl_s;
    self->max_attempts = max_attempts;
    self->resend_unknown = resend_unknown;
    return self;
}

void brk_store_destroy(brk_store_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *brk_store_strerror(const brk_store_t *self) {
    return self->err;
}

static void s_seterr(brk_store_t *self, const char *what, const redisReply *r) {
    snprintf(self->err, sizeof self->err, "%s: %s", what,
             r && r->type == REDIS_REPLY_ERROR ? r->str
             : self->redis->err                ? self->redis->errstr
                                               : "unexpected reply");
}

/* EVALSHA of script i, loading it on first use or after NOSCRIPT. argv[0..1] are filled here. */
static redisReply *s_eval(brk_store_t *self, int i, int argc, const char **argv, size_t *argl) {
    for (int tries = 0; tries < 2; tries++) {
        if (!self->sha[i][0]) {
            redisReply *l = redisCommand(self->redis, "SCRIPT LOAD %s", s_script(i));
            if (!l || l->type != REDIS_REPLY_STRING) {
                s_seterr(self, "SCRIPT LOAD", l);
                if (l)
                    freeReplyObject(l);
                return NULL;
            }
            snprintf(self->sha[i], sizeof self->sha[i], "%s", l->str);
            freeReplyObject(l);
        }
        argv[0] = "EVALSHA";
        argl[0] = 7;
        argv[1] = self->sha[i];
        argl[1] = strlen(self->sha[i]);
        redisReply *r = redisCommandArgv(self->redis, argc, argv, argl);
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(r);
            self->sha[i][0] = '\0';
            continue;
        }
        if (!r || r->type == REDIS_REPLY_ERROR) {
            s_seterr(self, "EVALSHA", r);
            if (r)
                freeReplyObject(r);
            return NULL;
        }
        return r;
    }
    return NULL;
}

static void s_lens(int argc, const char **argv, size_t *argl) {
    for (int i = 2; i < argc; i++)
        if (argl[i] == (size_t)-1)
            argl[i] = strlen(argv[i]);
}

void brk_store_leased_free(brk_leased_t *arr, size_t n) {
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].job_key);
        free(arr[i].payload);
    }
    free(arr);
}

static int s_push(brk_leased_t **arr, size_t *n, const redisReply *key, const redisReply *payload,
                  unsigned attempt) {
    brk_leased_t *grown = realloc(*arr, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *arr = grown;
    brk_leased_t *e = &grown[*n];
    e->job_key = strndup(key->str, key->len);
    e->payload = malloc(payload->len ? payload->len : 1);
    if (!e->job_key || !e->payload) {
        free(e->job_key);
        free(e->payload);
        return -1;
    }
    memcpy(e->payload, payload->str, payload->len);
    e->payload_len = payload->len;
    e->attempt = attempt;
    (*n)++;
    return 0;
}

int brk_store_lease(brk_store_t *self, rl_channel_t ch, int n, int64_t lease_until_ms, int64_t now,
                    brk_leased_t **out, size_t *n_out) {
    char q[64], leases[64], audit[64], count[16], until[32], now_s[32];
    snprintf(q, sizeof q, "%s:q:%s", self->prefix, rl_channel_name(ch));
    snprintf(leases, sizeof leases, "%s:leases", self->prefix);
    snprintf(audit, sizeof audit, "%s:audit", self->prefix);
    snprintf(count, sizeof count, "%d", n);
    snprintf(until, sizeof until, "%lld", (long long)lease_until_ms);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    const char *argv[] = {NULL, NULL, "3", q, leases, audit, count, until, now_s};
    size_t argl[9];
    for (int i = 0; i < 9; i++)
        argl[i] = (size_t)-1;
    s_lens(9, argv, argl);
    *out = NULL;
    *n_out = 0;
    redisReply *r = s_eval(self, S_DISPATCH, 9, argv, argl);
    if (!r)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 3) {
        s_seterr(self, "dispatch", r);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i + 2 < r->elements; i += 3)
        if (s_push(out, n_out, r->element[i], r->element[i + 1],
                   (unsigned)atoi(r->element[i + 2]->str)) < 0)
            rc = -1;
    freeReplyObject(r);
    return rc;
}

/* The per-report part of a batched report call, with its storage. */
typedef struct {
    char jk[480], hk[320], q[64], att[16], retry_at[32], ref[16];
} s_report_strs_t;

#define S_REPORT_HEAD  10  /* EVALSHA sha numkeys + 4 keys + now, ttl, max attempts */
#define S_REPORT_KEYS  3   /* per report */
#define S_REPORT_ARGS  12  /* per report */
#define S_REPORT_CHUNK 256 /* reports per script call: bounds how long one call holds Redis */

/* Builds the argument vector of one call over reps[0..n); argv/argl/strs have room for n. */
static int s_report_call(brk_store_t *self, const brk_report_t *reps, size_t n, int64_t now,
                         const char **argv, size_t *argl, s_report_strs_t *strs, char *head) {
    /* head: 7 strings of 64 bytes: numkeys, leases, retry, audit, deferred, now, ttl, maxatt */
    char *numkeys = head, *leases = head + 64, *retry = head + 128, *audit = head + 192,
         *deferred = head + 256, *now_s = head + 320, *ttl = head + 384, *maxatt = head + 448;
    snprintf(numkeys, 64, "%zu", 4 + S_REPORT_KEYS * n);
    snprintf(leases, 64, "%s:leases", self->prefix);
    snprintf(retry, 64, "%s:retry", self->prefix);
    snprintf(audit, 64, "%s:audit", self->prefix);
    snprintf(deferred, 64, "%s:deferred", self->prefix);
    snprintf(now_s, 64, "%lld", (long long)now);
    snprintf(ttl, 64, "%lld", (long long)self->ttl);
    snprintf(maxatt, 64, "%d", self->max_attempts);
    int c = 0;
    argv[c++] = "EVALSHA";
    argv[c++] = self->sha[S_REPORT];
    argv[c++] = numkeys;
    argv[c++] = leases;
    argv[c++] = retry;
    argv[c++] = audit;
    argv[c++] = deferred;
    for (size_t i = 0; i < n; i++) {
        const brk_report_t *rep = &reps[i];
        s_report_strs_t *t = &strs[i];
        /* key layout as rl_admit.h documents it */
        snprintf(t->jk, sizeof t->jk, "%s:{%s:%s}:j:%s", self->prefix, rep->tenant, rep->debtor,
                 rep->job_id);
        snprintf(t->hk, sizeof t->hk, "%s:{%s:%s}:h", self->prefix, rep->tenant, rep->debtor);
        snprintf(t->q, sizeof t->q, "%s:q:%s", self->prefix, rl_channel_name(rep->channel));
        argv[c++] = t->jk;
        argv[c++] = t->hk;
        argv[c++] = t->q;
    }
    argv[c++] = now_s;
    argv[c++] = ttl;
    argv[c++] = maxatt;
    for (size_t i = 0; i < n; i++) {
        const brk_report_t *rep = &reps[i];
        s_report_strs_t *t = &strs[i];
        snprintf(t->att, sizeof t->att, "%u", rep->attempt);
        snprintf(t->retry_at, sizeof t->retry_at, "%lld", (long long)rep->retry_at);
        snprintf(t->ref, sizeof t->ref, "%x", rl_job_ref(rep->tenant, rep->job_id));
        argv[c++] = rep->outcome;
        argv[c++] = t->att;
        argv[c++] = rep->provider_id ? rep->provider_id : "";
        argv[c++] = rep->provider_code ? rep->provider_code : "";
        argv[c++] = rep->detail ? rep->detail : "";
        argv[c++] = t->retry_at;
        argv[c++] = t->ref;
        argv[c++] = (self->resend_unknown & RL_CH_BIT(rep->channel)) ? "1" : "0";
        argv[c++] = rep->job_id;
        argv[c++] = rep->tenant;
        argv[c++] = rep->debtor;
        argv[c++] = rl_channel_name(rep->channel);
    }
    for (int i = 0; i < c; i++)
        argl[i] = strlen(argv[i]);
    return c;
}

/* Copies the states of one call's reply; false when the reply is not one state per report. */
static bool s_report_states(const redisReply *r, size_t n, char (*states)[32]) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return false;
    for (size_t i = 0; i < n; i++)
        snprintf(states[i], 32, "%s",
                 r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "?");
    return true;
}

int brk_store_report(brk_store_t *self, const brk_report_t *rep, int64_t now, char *state,
                     size_t state_len) {
    char states[1][32];
    int rc = brk_store_report_many(self, rep, 1, now, states);
    snprintf(state, state_len, "%s", rc == 0 ? states[0] : "?");
    return rc;
}

int brk_store_report_many(brk_store_t *self, const brk_report_t *reps, size_t n, int64_t now,
                          char (*states)[32]) {
    if (n == 0)
        return 0;
    size_t calls = (n + S_REPORT_CHUNK - 1) / S_REPORT_CHUNK;
    size_t max_argc = S_REPORT_HEAD + (S_REPORT_KEYS + S_REPORT_ARGS) * S_REPORT_CHUNK;
    const char **argv = malloc(calls * max_argc * sizeof *argv);
    size_t *argl = malloc(calls * max_argc * sizeof *argl);
    int *argc = malloc(calls * sizeof *argc);
    s_report_strs_t *strs = malloc(n * sizeof *strs);
    char *heads = malloc(calls * 512);
    int rc = 0;
    if (!argv || !argl || !argc || !strs || !heads) {
        snprintf(self->err, sizeof self->err, "out of memory");
        rc = -1;
        goto done;
    }
    if (!self->sha[S_REPORT][0]) { /* load the script once through the ordinary path */
        redisReply *l = redisCommand(self->redis, "SCRIPT LOAD %s", s_script(S_REPORT));
        if (!l || l->type != REDIS_REPLY_STRING) {
            s_seterr(self, "SCRIPT LOAD", l);
            if (l)
                freeReplyObject(l);
            rc = -1;
            goto done;
        }
        snprintf(self->sha[S_REPORT], sizeof self->sha[S_REPORT], "%s", l->str);
        freeReplyObject(l);
    }
    /* every chunk in one pipelined round trip */
    for (size_t k = 0; k < calls; k++) {
        size_t first = k * S_REPORT_CHUNK,
               m = n - first < S_REPORT_CHUNK ? n - first : S_REPORT_CHUNK;
        argc[k] = s_report_call(self, reps + first, m, now, argv + k * max_argc,
                                argl + k * max_argc, strs + first, heads + k * 512);
        redisAppendCommandArgv(self->redis, argc[k], argv + k * max_argc, argl + k * max_argc);
    }
    bool reload = false;
    for (size_t k = 0; k < calls; k++) {
        size_t first = k * S_REPORT_CHUNK,
               m = n - first < S_REPORT_CHUNK ? n - first : S_REPORT_CHUNK;
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK) {
            s_seterr(self, "EVALSHA report", NULL);
            rc = -1;
            goto done;
        }
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            reload = true; /* Redis restarted between calls: this chunk is applied again below */
            for (size_t i = 0; i < m; i++)
                snprintf(states[first + i], 32, "noscript");
        } else if (!s_report_states(r, m, states + first)) {
            s_seterr(self, "report", r);
            for (size_t i = 0; i < m; i++)
                snprintf(states[first + i], 32, "error");
        }
        freeReplyObject(r);
    }
    if (reload) {
        self->sha[S_REPORT][0] = '\0';
        for (size_t k = 0; k < calls && rc == 0; k++) {
            size_t first = k * S_REPORT_CHUNK,
                   m = n - first < S_REPORT_CHUNK ? n - first : S_REPORT_CHUNK;
            if (strcmp(states[first], "noscript") != 0)
                continue;
            redisReply *r =
                s_eval(self, S_REPORT, argc[k], argv + k * max_argc, argl + k * max_argc);
            if (!r)
                rc = -1;
            else if (!s_report_states(r, m, states + first))
                s_seterr(self, "report", r);
            if (r)
                freeReplyObject(r);
        }
    }
done:
    free(argv);
    free(argl);
    free(argc);
    free(strs);
    free(heads);
    return rc;
}

int brk_store_release_retries(brk_store_t *self, int64_t now, int limit) {
    char retry[64], now_s[32], lim[16], prefix[64], score[32];
    snprintf(retry, sizeof retry, "%s:retry", self->prefix);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(prefix, sizeof prefix, "%s:q:", self->prefix);
    snprintf(score, sizeof score, "%lld", (long long)now * 1000);
    const char *argv[] = {NULL, NULL, "1", retry, now_s, lim, prefix, score};
    size_t argl[8];
    for (int i = 0; i < 8; i++)
        argl[i] = (size_t)-1;
    s_lens(8, argv, argl);
    redisReply *r = s_eval(self, S_RELEASE, 8, argv, argl);
    if (!r)
        return -1;
    int n = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return n;
}

/* Keys from zset `set` with score <= max, then their payload and attempt, pipelined. */
static int s_due(brk_store_t *self, const char *set, long long max, int limit, brk_leased_t **out,
                 size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    redisReply *keys =
        redisCommand(self->redis, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %d", set, max, limit);
    if (!keys || keys->type != REDIS_REPLY_ARRAY) {
        s_seterr(self, "ZRANGEBYSCORE", keys);
        if (keys)
            freeReplyObject(keys);
        return -1;
    }
    for (size_t i = 0; i < keys->elements; i++)
        redisAppendCommand(self->redis, "HMGET %b p att", keys->element[i]->str,
                           keys->element[i]->len);
    int rc = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *h = NULL;
        if (redisGetReply(self->redis, (void **)&h) != REDIS_OK) {
            s_seterr(self, "HMGET", NULL);
            rc = -1;
            break;
        }
        if (rc == 0 && h->type == REDIS_REPLY_ARRAY && h->elements == 2 &&
            h->element[0]->type == REDIS_REPLY_STRING) {
            unsigned att =
                h->element[1]->type == REDIS_REPLY_STRING ? (unsigned)atoi(h->element[1]->str) : 0;
            if (s_push(out, n_out, keys->element[i], h->element[0], att) < 0)
                rc = -1;
        } else if (rc == 0) { /* the job is gone: drop its entry */
            freeReplyObject(redisCommand(self->redis, "ZREM %s %b", set, keys->element[i]->str,
                                         keys->element[i]->len));
        }
        freeReplyObject(h);
    }
    freeReplyObject(keys);
    return rc;
}

int brk_store_due_deferred(brk_store_t *self, int64_t now, int limit, brk_leased_t **out,
                           size_t *n_out) {
    char set[64];
    snprintf(set, sizeof set, "%s:deferred", self->prefix);
    return s_due(self, set, (long long)now, limit, out, n_out);
}

int brk_store_expired_leases(brk_store_t *self, int64_t now_ms, int limit, brk_leased_t **out,
                             size_t *n_out) {
    char set[64];
    snprintf(set, sizeof set, "%s:leases", self->prefix);
    return s_due(self, set, (long long)now_ms, limit, out, n_out);
}

long long brk_store_queue_len(brk_store_t *self, rl_channel_t ch) {
    redisReply *r = redisCommand(self->redis, "ZCARD %s:q:%s", self->prefix, rl_channel_name(ch));
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

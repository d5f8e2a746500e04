/* brk_store.c — the broker's calls of the state machine (see brk_store.h).
 *
 * Every write is an FCALL of store/pregon.lua on one shard; a batch becomes one call per shard
 * present in it, all appended before any reply is read (one round trip). Reads that feed a
 * transition (due deferrals, expired leases) are single-key commands; their replies are always
 * read in full before anything else is sent, so a pipeline never falls out of step. */
#include "brk_store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "rl_history.h"

#define REPORT_CHUNK 256 /* reports per call: bounds how long one call holds Redis */
#define LEASE_SHARE  64  /* jobs asked of one shard at least, when the credit allows */

struct brk_store {
    redisContext *redis;   /* borrowed */
    const st_keys_t *keys; /* borrowed */
    st_fn_t *fn;           /* borrowed */
    int64_t ttl;
    int max_attempts;
    char resend[64]; /* ",email," */
    char broker_tag[128];
    char instance[128]; /* broker_tag up to and including '#' */
    int lease_rr[RL_CH_COUNT], due_rr, lease_exp_rr;
    int (*random)(void *ctx, void *buf, size_t len);
    void *random_ctx;
    char err[256];
};

/* getrandom(2), retried on EINTR and short reads (it never blocks once the pool is ready). */
static int s_getrandom(void *ctx, void *buf, size_t len) {
    (void)ctx;
    for (size_t got = 0; got < len;) {
        ssize_t n = getrandom((char *)buf + got, len - got, 0);
        if (n < 0 && errno != EINTR)
            return -1;
        got += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

brk_store_t *brk_store_new(redisContext *redis, const st_keys_t *keys, st_fn_t *fn,
                           const brk_store_opts_t *o) {
    brk_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->keys = keys;
    self->fn = fn;
    self->ttl = o->finished_ttl_s;
    self->max_attempts = o->max_attempts;
    self->random = o->random ? o->random : s_getrandom;
    self->random_ctx = o->random_ctx;
    snprintf(self->resend, sizeof self->resend, ",");
    for (int c = 1; c < RL_CH_COUNT; c++)
        if (o->resend_unknown & RL_CH_BIT(c))
            snprintf(self->resend + strlen(self->resend),
                     sizeof self->resend - strlen(self->resend), "%s,",
                     rl_channel_name((rl_channel_t)c));
    snprintf(self->broker_tag, sizeof self->broker_tag, "%s", o->broker_tag ? o->broker_tag : "");
    snprintf(self->instance, sizeof self->instance, "%s", self->broker_tag);
    char *hash = strchr(self->instance, '#');
    if (hash)
        hash[1] = '\0';
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

static void s_fnerr(brk_store_t *self) {
    snprintf(self->err, sizeof self->err, "%s", st_fn_strerror(self->fn));
}

void brk_store_leased_free(brk_leased_t *arr, size_t n) {
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].lease_id);
        free(arr[i].payload);
    }
    free(arr);
}

/* The nonce of lease field l ("worker NUL broker NUL nonce"); "" when it has none. */
static const char *s_lease_nonce(const redisReply *l) {
    if (!l || l->type != REDIS_REPLY_STRING)
        return "";
    const char *a = memchr(l->str, '\0', l->len);
    const char *b = a ? memchr(a + 1, '\0', l->len - (size_t)(a + 1 - l->str)) : NULL;
    return b && (size_t)(l->str + l->len - (b + 1)) == ST_NONCE_HEX ? b + 1 : "";
}

/* Appends one entry; lease_key (a job key) becomes a lease id, with nonce, when given. */
static int s_push(brk_store_t *self, brk_leased_t **arr, size_t *n, size_t *cap,
                  const redisReply *lease_key, unsigned attempt, const char *nonce,
                  const redisReply *payload) {
    if (*n == *cap) {
        size_t grown = *cap ? *cap * 2 : 64;
        brk_leased_t *a = realloc(*arr, grown * sizeof *a);
        if (!a)
            return -1;
        *arr = a;
        *cap = grown;
    }
    brk_leased_t *e = &(*arr)[*n];
    memset(e, 0, sizeof *e);
    e->attempt = attempt;
    if (lease_key) {
        char id[ST_LEASE_MAX];
        if (st_lease_id(self->keys, lease_key->str, attempt, nonce, id, sizeof id) < 0)
            return 0; /* cannot be: keys are built to fit */
        e->lease_id = strdup(id);
        if (!e->lease_id)
            return -1;
    }
    if (payload) {
        e->payload = malloc(payload->len ? payload->len : 1);
        if (!e->payload) {
            free(e->lease_id);
            return -1;
        }
        memcpy(e->payload, payload->str, payload->len);
        e->payload_len = payload->len;
    }
    (*n)++;
    return 0;
}

/* --- leasing ------------------------------------------------------------------------------ */

/* The nonces of n leases, ST_NONCE_HEX hex digits each, one string (pg_lease's ARGV[7]); the
 * caller frees it. NULL (and err) when the random source failed: nothing is leased then. */
static char *s_nonces(brk_store_t *self, int n) {
    unsigned char *raw = malloc((size_t)n * ST_NONCE_BYTES);
    char *hex = malloc((size_t)n * ST_NONCE_HEX + 1);
    if (!raw || !hex || self->random(self->random_ctx, raw, (size_t)n * ST_NONCE_BYTES) < 0) {
        snprintf(self->err, sizeof self->err, "%s",
                 raw && hex ? "no random bytes for lease nonces" : "out of memory");
        free(raw), free(hex);
        return NULL;
    }
    hex[0] = '\0';
    for (int i = 0; i < n; i++)
        st_nonce_hex(raw + (size_t)i * ST_NONCE_BYTES, hex + (size_t)i * ST_NONCE_HEX);
    free(raw);
    return hex;
}

/* A pg_lease call of one brk_store_lease: whether its jobs reached the caller. */
typedef enum { S_ASKED, S_TAKEN, S_NOT_RUN } s_fate_t;
typedef struct {
    int shard;
    char *nonces;
    s_fate_t fate;
} s_call_t;

/* The calls of a brk_store_lease that failed: none of their jobs is dispatched. Each call that
 * may have run (no reply, or a reply whose jobs were not handed out) is remembered in `lost`;
 * a Redis error reply proves its call did not run. Frees the nonces. */
static void s_remember(brk_lost_t *lost, rl_channel_t ch, int64_t until_ms, s_call_t *calls,
                       size_t n, bool failed) {
    for (size_t c = 0; c < n; c++) {
        if (failed && lost && calls[c].fate != S_NOT_RUN) {
            int n_nonces = (int)(strlen(calls[c].nonces) / ST_NONCE_HEX);
            brk_lost_add(lost, calls[c].shard, (int)ch, until_ms, calls[c].nonces, n_nonces);
        }
        free(calls[c].nonces);
    }
}

/* Reads the replies of calls[from..to) in order (the connection stays in step). A call without a
 * reply (connection lost) and every one after it keep the fate S_ASKED: outcome unknown. */
static int s_read_leases(brk_store_t *self, s_call_t *calls, size_t from, size_t to,
                         const int *asked, bool *full, brk_leased_t **out, size_t *n_out,
                         size_t *cap, int *left) {
    int rc = 0;
    for (size_t c = from; c < to; c++) {
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK) {
            s_seterr(self, "FCALL pg_lease", NULL);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            calls[c].fate = S_NOT_RUN; /* an error reply: it leased nothing */
            if (rc == 0)
                s_seterr(self, "FCALL pg_lease", r);
            rc = -1;
        } else if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements % 5)) {
            s_seterr(self, "FCALL pg_lease", r);
            rc = -1; /* keep reading: the connection stays in step */
        }
        for (size_t i = 0; rc == 0 && i + 4 < r->elements; i += 5) {
            size_t before = *n_out;
            if (s_push(self, out, n_out, cap, r->element[i], (unsigned)atoi(r->element[i + 2]->str),
                       r->element[i + 3]->str, r->element[i + 1]) < 0)
                rc = -1;
            else if (*n_out > before && r->element[i + 4]->type == REDIS_REPLY_STRING)
                (*out)[*n_out - 1].window_until_ms = strtoll(r->element[i + 4]->str, NULL, 10);
        }
        if (rc == 0) {
            int got = (int)r->elements / 5;
            full[calls[c].shard] = got == asked[c - from];
            *left -= got;
            calls[c].fate = S_TAKEN;
        }
        freeReplyObject(r);
    }
    return rc;
}

/* Over 100 lines: the rounds of calls, their arguments and the bookkeeping of lost answers read
 * best in one place. */
int brk_store_lease(brk_store_t *self, rl_channel_t ch, int n, int64_t lease_until_ms,
                    int64_t now_ms, const char *worker_tag, brk_lost_t *lost, brk_leased_t **out,
                    size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (n <= 0 || ch <= RL_CH_NONE || ch >= RL_CH_COUNT)
        return 0;
    const int shards = st_keys_shards(self->keys);
    /* ask as few shards as the credit needs (from the round-robin cursor) in one round trip, so
     * a small credit costs one call; a later round goes on to the
     * shards that gave all they were asked for while credit is left */
    char until[32], now[32], what[32], ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)self->ttl); /* of a job suppressed while queued */
    snprintf(until, sizeof until, "%lld", (long long)lease_until_ms);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(what, sizeof what, "q:%s", rl_channel_name(ch));
    int left = n, rc = 0;
    size_t cap = 0, n_calls_all = 0;
    bool *full = calloc((size_t)shards, sizeof *full);
    /* every call of every round, so that a failure can remember those whose jobs are lost */
    s_call_t *all = calloc((size_t)shards * 4, sizeof *all);
    int *asked = malloc((size_t)shards * sizeof *asked);
    if (!full || !all || !asked) {
        free(full), free(all), free(asked);
        return -1;
    }
    for (int s = 0; s < shards; s++)
        full[s] = true;
    for (int round = 0; round < 4 && left > 0 && rc == 0; round++) {
        int asking = 0;
        for (int s = 0; s < shards; s++)
            asking += full[s];
        if (asking == 0)
            break;
        /* fewer, larger calls (each has a fixed cost): LEASE_SHARE jobs a shard, but twice as
         * many shards each round, so empty shards are passed over quickly */
        int n_calls = (left + LEASE_SHARE - 1) / LEASE_SHARE;
        if (n_calls < (1 << round))
            n_calls = 1 << round;
        if (n_calls > asking)
            n_calls = asking;
        int share = (left + n_calls - 1) / n_calls;
        int calls = 0, start = self->lease_rr[ch];
        size_t first = n_calls_all;
        for (int k = 0, budget = left; k < shards && budget > 0; k++) {
            int s = (start + k) % shards;
            if (!full[s])
                continue;
            char q[ST_KEY_MAX], l[ST_KEY_MAX], a[ST_KEY_MAX], cnt[16];
            st_key_shared(self->keys, s, what, q, sizeof q);
            st_key_shared(self->keys, s, "leases", l, sizeof l);
            st_key_shared(self->keys, s, "audit", a, sizeof a);
            int want = share < budget ? share : budget;
            snprintf(cnt, sizeof cnt, "%d", want);
            char *nonces = s_nonces(self, want);
            if (!nonces) {
                rc = -1;
                break;
            }
            const char *argv[] = {
                NULL, NULL,  "3", q, l, a, cnt, until, now, worker_tag, self->broker_tag,
                ttl,  nonces};
            size_t argl[13];
            for (int i = 0; i < 13; i++)
                argl[i] = (size_t)-1;
            if (st_fn_append(self->fn, "pg_lease", 13, argv, argl) < 0) {
                free(nonces);
                s_fnerr(self);
                rc = -1;
                break;
            }
            all[n_calls_all++] = (s_call_t){s, nonces, S_ASKED}; /* kept: its answer may be lost */
            asked[calls++] = want;
            budget -= want;
        }
        self->lease_rr[ch] = (start + 1) % shards;
        if (s_read_leases(self, all, first, first + (size_t)calls, asked, full, out, n_out, &cap,
                          &left) < 0)
            rc = -1;
    }
    if (rc < 0 && !self->err[0])
        snprintf(self->err, sizeof self->err, "out of memory");
    s_remember(lost, ch, lease_until_ms, all, n_calls_all, rc < 0);
    if (rc < 0) { /* none is dispatched: the caller gets none */
        brk_store_leased_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
    }
    free(full), free(all), free(asked);
    return rc;
}

/* Whether a dispatched job's lease (its `l` field) is one a scan wants. */
typedef bool (*s_lease_pred_t)(brk_store_t *self, const redisReply *l, void *ctx);

/* Appends to out the jobs of shard's leases set scored in [min, max] (ZRANGEBYSCORE bounds)
 * that are still dispatched and whose `l` pred accepts: one ZRANGEBYSCORE, then one pipelined
 * HMGET per job. Returns 0, or -1 with the reason in self->err. */
static int s_scan_leases(brk_store_t *self, int shard, const char *min, const char *max,
                         s_lease_pred_t pred, void *ctx, brk_leased_t **out, size_t *n_out,
                         size_t *cap) {
    char set[ST_KEY_MAX];
    st_key_shared(self->keys, shard, "leases", set, sizeof set);
    redisReply *keys = redisCommand(self->redis, "ZRANGEBYSCORE %s %s %s", set, min, max);
    if (!keys || keys->type != REDIS_REPLY_ARRAY) {
        s_seterr(self, "ZRANGEBYSCORE", keys);
        freeReplyObject(keys);
        return -1;
    }
    for (size_t i = 0; i < keys->elements; i++)
        redisAppendCommand(self->redis, "HMGET %b l att s", keys->element[i]->str,
                           keys->element[i]->len);
    int rc = 0;
    for (size_t i = 0; i < keys->elements; i++) { /* every reply read, even after a failure */
        redisReply *h = NULL;
        if (redisGetReply(self->redis, (void **)&h) != REDIS_OK) {
            s_seterr(self, "HMGET", NULL);
            freeReplyObject(keys);
            return -1;
        }
        bool take = rc == 0 && h->type == REDIS_REPLY_ARRAY && h->elements == 3;
        for (size_t e = 0; take && e < 3; e++)
            take = h->element[e]->type == REDIS_REPLY_STRING;
        take =
            take && strcmp(h->element[2]->str, "dispatched") == 0 && pred(self, h->element[0], ctx);
        if (take &&
            s_push(self, out, n_out, cap, keys->element[i], (unsigned)atoi(h->element[1]->str),
                   s_lease_nonce(h->element[0]), NULL) < 0)
            rc = -1;
        freeReplyObject(h);
    }
    freeReplyObject(keys);
    if (rc < 0)
        snprintf(self->err, sizeof self->err, "out of memory");
    return rc;
}

static bool s_is_lost_call(brk_store_t *self, const redisReply *l, void *ctx) {
    (void)self;
    return brk_lost_has_nonce(ctx, s_lease_nonce(l));
}

int brk_store_recover_lost(brk_store_t *self, brk_lost_t *lost, brk_leased_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    size_t cap = 0;
    for (const brk_lost_call_t *call; (call = brk_lost_oldest(lost)) != NULL;) {
        /* the exact score: the leases this shard gave in that millisecond, the call's among
         * them if it ran */
        char score[32];
        snprintf(score, sizeof score, "%lld", (long long)call->until_ms);
        if (s_scan_leases(self, call->shard, score, score, s_is_lost_call, (void *)call, out, n_out,
                          &cap) < 0)
            return -1;
        brk_lost_forget_oldest(lost);
    }
    return 0;
}

/* --- reports ------------------------------------------------------------------------------- */

/* A parsed report, with the storage its call's arguments point into. */
typedef struct {
    size_t rep; /* index into reps */
    int shard;
    char jk[ST_KEY_MAX], hk[ST_KEY_MAX], att[16], retry_at[32], ref[16];
    char nonce[ST_NONCE_HEX + 1];
} s_parsed_t;

static int s_cmp_shard(const void *a, const void *b) {
    const s_parsed_t *x = a, *y = b;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    return (x->rep > y->rep) - (x->rep < y->rep);
}

#define S_REPORT_HEAD 11 /* FCALL name numkeys, 4 keys, now ttl maxatt resend */
#define S_REPORT_NK   2
#define S_REPORT_NA   9

/* Builds the call over p[0..m) (one shard) into argv/argl; head[] holds its own strings. */
static int s_report_call(brk_store_t *self, const brk_report_t *reps, s_parsed_t *p, size_t m,
                         const char *now_s, const char **argv, size_t *argl,
                         char (*head)[ST_KEY_MAX]) {
    int c = 0;
    static const char *const shared[4] = {"leases", "retry", "audit", "deferred"};
    argv[c++] = "FCALL";
    argv[c++] = "pg_report";
    snprintf(head[0], sizeof head[0], "%zu", 4 + S_REPORT_NK * m);
    argv[c++] = head[0];
    for (int k = 0; k < 4; k++) {
        st_key_shared(self->keys, p[0].shard, shared[k], head[1 + k], sizeof head[1 + k]);
        argv[c++] = head[1 + k];
    }
    for (size_t i = 0; i < m; i++) {
        argv[c++] = p[i].jk;
        argv[c++] = p[i].hk;
    }
    snprintf(head[5], sizeof head[5], "%lld", (long long)self->ttl);
    snprintf(head[6], sizeof head[6], "%d", self->max_attempts);
    argv[c++] = now_s;
    argv[c++] = head[5];
    argv[c++] = head[6];
    argv[c++] = self->resend;
    for (size_t i = 0; i < m; i++) {
        const brk_report_t *r = &reps[p[i].rep];
        argv[c++] = r->outcome;
        argv[c++] = p[i].att;
        argv[c++] = r->provider_id ? r->provider_id : "";
        argv[c++] = r->provider_code ? r->provider_code : "";
        argv[c++] = r->detail ? r->detail : "";
        argv[c++] = p[i].retry_at;
        argv[c++] = p[i].ref;
        argv[c++] = p[i].nonce;
        argv[c++] = r->holder ? r->holder : ""; /* "": the broker's own */
    }
    for (int i = 0; i < c; i++)
        argl[i] = strlen(argv[i]);
    return c;
}

/* A call that failed: its reports were not applied (never acknowledged to their worker). */
static void s_states_error(const s_parsed_t *p, size_t m, char (*states)[BRK_STATE_LEN]) {
    for (size_t i = 0; i < m; i++)
        snprintf(states[p[i].rep], BRK_STATE_LEN, "error");
}

static bool s_take_states(const redisReply *r, const s_parsed_t *p, size_t m,
                          char (*states)[BRK_STATE_LEN]) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != m)
        return false;
    for (size_t i = 0; i < m; i++)
        snprintf(states[p[i].rep], BRK_STATE_LEN, "%s",
                 r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "?");
    return true;
}

int brk_store_report_many(brk_store_t *self, const brk_report_t *reps, size_t n, int64_t now_ms,
                          char (*states)[BRK_STATE_LEN]) {
    if (n == 0)
        return 0;
    s_parsed_t *p = malloc(n * sizeof *p);
    size_t m = 0;
    if (!p) {
        snprintf(self->err, sizeof self->err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        s_parsed_t *e = &p[m];
        unsigned attempt;
        st_job_ref_t ref;
        snprintf(states[i], BRK_STATE_LEN, "bad-lease");
        if (!reps[i].outcome ||
            st_lease_parse(self->keys, reps[i].lease_id, e->jk, sizeof e->jk, &attempt, e->nonce) <
                0 ||
            st_job_key_parse(self->keys, e->jk, strlen(e->jk), &ref) < 0 ||
            st_key_history(self->keys, ref.tenant, ref.debtor, e->hk, sizeof e->hk) < 0)
            continue;
        e->rep = i;
        e->shard = ref.shard;
        snprintf(e->att, sizeof e->att, "%u", attempt);
        snprintf(e->retry_at, sizeof e->retry_at, "%lld", (long long)reps[i].retry_at);
        snprintf(e->ref, sizeof e->ref, "%x", rl_job_ref(ref.tenant, ref.job_id));
        m++;
    }
    qsort(p, m, sizeof *p, s_cmp_shard);
    /* calls: runs of one shard, cut at REPORT_CHUNK */
    size_t calls = 0;
    size_t *start = malloc((m + 1) * sizeof *start);
    const char **argv =
        malloc((m * (S_REPORT_NK + S_REPORT_NA) + (m + 1) * S_REPORT_HEAD) * sizeof *argv);
    size_t *argl =
        malloc((m * (S_REPORT_NK + S_REPORT_NA) + (m + 1) * S_REPORT_HEAD) * sizeof *argl);
    int rc = 0;
    if (!start || !argv || !argl) {
        snprintf(self->err, sizeof self->err, "out of memory");
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < m; i++)
        if (i == 0 || p[i].shard != p[i - 1].shard || i - start[calls - 1] == REPORT_CHUNK)
            start[calls++] = i;
    start[calls] = m;
    char(*heads)[7][ST_KEY_MAX] = malloc((calls ? calls : 1) * sizeof *heads);
    int *argc = malloc((calls ? calls : 1) * sizeof *argc);
    size_t *at = malloc((calls ? calls : 1) * sizeof *at);
    if (!heads || !argc || !at) {
        free(heads), free(argc), free(at);
        snprintf(self->err, sizeof self->err, "out of memory");
        rc = -1;
        goto done;
    }
    char now_s[32];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_ms);
    size_t used = 0;
    for (size_t c = 0; c < calls; c++) {
        at[c] = used;
        argc[c] = s_report_call(self, reps, p + start[c], start[c + 1] - start[c], now_s,
                                argv + used, argl + used, heads[c]);
        used += (size_t)argc[c];
    }
    redisReply **rs = calloc(calls ? calls : 1, sizeof *rs);
    if (!rs || st_fn_pipeline(self->fn, "pg_report", calls, argc, at, argv, argl, rs) < 0) {
        s_fnerr(self); /* calls without a reply: their reports are not applied */
        if (!rs || self->redis->err)
            rc = -1;
    }
    for (size_t c = 0; c < calls; c++) {
        redisReply *r = rs ? rs[c] : NULL;
        if (!r || !s_take_states(r, p + start[c], start[c + 1] - start[c], states)) {
            if (r)
                s_seterr(self, "FCALL pg_report", r);
            s_states_error(p + start[c], start[c + 1] - start[c], states); /* not applied */
        }
        freeReplyObject(r);
    }
    free(rs);
    free(heads), free(argc), free(at);
done:
    free(p), free(start), free(argv), free(argl);
    return rc;
}

/* --- retries and deferrals ------------------------------------------------------------------- */

int brk_store_release_retries(brk_store_t *self, int64_t now_ms, int limit, int *full) {
    const int shards = st_keys_shards(self->keys);
    char now_s[32], now_ms_s[32], lim[16];
    snprintf(now_s, sizeof now_s, "%lld", (long long)(now_ms / 1000));
    snprintf(now_ms_s, sizeof now_ms_s, "%lld", (long long)now_ms);
    snprintf(lim, sizeof lim, "%d", limit);
    *full = 0;
    int appended = 0, rc = 0, total = 0;
    static const char *const queues[5] = {"q:sms", "q:whatsapp", "q:voice", "q:email",
                                          "q:messenger"};
    for (int s = 0; s < shards && rc == 0; s++) {
        char k[7][ST_KEY_MAX];
        st_key_shared(self->keys, s, "retry", k[0], sizeof k[0]);
        st_key_shared(self->keys, s, "audit", k[1], sizeof k[1]);
        for (int q = 0; q < 5; q++)
            st_key_shared(self->keys, s, queues[q], k[2 + q], sizeof k[2 + q]);
        const char *argv[] = {NULL, NULL, "7",  k[0],  k[1], k[2],    k[3],
                              k[4], k[5], k[6], now_s, lim,  now_ms_s};
        size_t argl[13];
        for (int i = 0; i < 13; i++)
            argl[i] = (size_t)-1;
        if (st_fn_append(self->fn, "pg_release", 13, argv, argl) < 0) {
            s_fnerr(self);
            rc = -1;
        } else {
            appended++;
        }
    }
    for (int c = 0; c < appended; c++) {
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK) {
            s_seterr(self, "FCALL pg_release", NULL);
            return -1;
        }
        if (r->type == REDIS_REPLY_INTEGER) {
            total += (int)r->integer;
            *full |= r->integer >= limit;
        } else if (!st_fn_is_missing(r)) { /* missing: the next tick loads it */
            s_seterr(self, "FCALL pg_release", r);
        }
        freeReplyObject(r);
    }
    return rc < 0 ? -1 : total;
}

/* Entries of zset `what` with score <= max, round-robin over shards from *rr, at most limit:
 * then each job's payload and attempt (HMGET p att), pipelined; entries whose job is gone are
 * removed afterwards, once every reply has been read. */
static int s_due(brk_store_t *self, const char *what, long long max, int limit, int *rr,
                 bool as_lease, brk_leased_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    const int shards = st_keys_shards(self->keys);
    size_t cap = 0;
    int rc = 0;
    for (int k = 0; k < shards && (int)*n_out < limit && rc == 0; k++) {
        int s = (*rr + k) % shards;
        char set[ST_KEY_MAX];
        st_key_shared(self->keys, s, what, set, sizeof set);
        redisReply *keys = redisCommand(self->redis, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %d", set,
                                        max, limit - (int)*n_out);
        if (!keys || keys->type != REDIS_REPLY_ARRAY) {
            s_seterr(self, "ZRANGEBYSCORE", keys);
            freeReplyObject(keys);
            return -1;
        }
        for (size_t i = 0; i < keys->elements; i++)
            redisAppendCommand(self->redis, "HMGET %b p att s l", keys->element[i]->str,
                               keys->element[i]->len);
        bool *gone = calloc(keys->elements ? keys->elements : 1, sizeof *gone);
        size_t n_gone = 0;
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *h = NULL;
            if (redisGetReply(self->redis, (void **)&h) != REDIS_OK) {
                s_seterr(self, "HMGET", NULL);
                rc = -1;
                break;
            }
            bool ok = h->type == REDIS_REPLY_ARRAY && h->elements == 4 &&
                      h->element[2]->type == REDIS_REPLY_STRING &&
                      (as_lease || h->element[0]->type == REDIS_REPLY_STRING);
            if (rc == 0 && ok) {
                unsigned att = h->element[1]->type == REDIS_REPLY_STRING
                                   ? (unsigned)atoi(h->element[1]->str)
                                   : 0;
                if (s_push(self, out, n_out, &cap, as_lease ? keys->element[i] : NULL, att,
                           s_lease_nonce(h->element[3]), as_lease ? NULL : h->element[0]) < 0)
                    rc = -1;
            } else if (rc == 0 && gone) {
                gone[i] = true;
                n_gone++;
            }
            freeReplyObject(h);
        }
        for (size_t i = 0; rc == 0 && gone && i < keys->elements; i++)
            if (gone[i]) /* the job expired or was deleted: its index entry goes too */
                freeReplyObject(redisCommand(self->redis, "ZREM %s %b", set, keys->element[i]->str,
                                             keys->element[i]->len));
        free(gone);
        freeReplyObject(keys);
        if (!self->redis->err && rc == 0)
            continue;
        if (self->redis->err) {
            s_seterr(self, "redis", NULL);
            rc = -1;
        }
    }
    *rr = (*rr + 1) % shards;
    return rc;
}

int brk_store_due_deferred(brk_store_t *self, int64_t now_s, int limit, brk_leased_t **out,
                           size_t *n_out) {
    return s_due(self, "deferred", (long long)now_s, limit, &self->due_rr, false, out, n_out);
}

int brk_store_expired_leases(brk_store_t *self, int64_t now_ms, int limit, brk_leased_t **out,
                             size_t *n_out) {
    return s_due(self, "leases", (long long)now_ms, limit, &self->lease_exp_rr, true, out, n_out);
}

/* The leases of worker_tag given by this instance: by an earlier incarnation only, or by any. */
typedef struct {
    const char *worker_tag;
    bool any_incarnation;
} s_holder_t;

static bool s_is_holders(brk_store_t *self, const redisReply *l, void *ctx) {
    const s_holder_t *want = ctx;
    /* l: "worker NUL broker NUL nonce" (pregon.lua) */
    const char *lw = l->str;
    size_t lw_len = strlen(lw);
    const char *lb = lw_len < l->len ? lw + lw_len + 1 : "";
    return strcmp(lw, want->worker_tag) == 0 &&
           strncmp(lb, self->instance, strlen(self->instance)) == 0 &&
           (want->any_incarnation || strcmp(lb, self->broker_tag) != 0);
}

static int s_leases_matching(brk_store_t *self, const char *worker_tag, int64_t now_ms,
                             bool any_incarnation, brk_leased_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    size_t cap = 0;
    s_holder_t want = {worker_tag, any_incarnation};
    char min[32];
    snprintf(min, sizeof min, "(%lld", (long long)now_ms); /* leases not expired yet */
    for (int s = 0; s < st_keys_shards(self->keys); s++)
        if (s_scan_leases(self, s, min, "+inf", s_is_holders, &want, out, n_out, &cap) < 0)
            return -1;
    return 0;
}

int brk_store_leases_of(brk_store_t *self, const char *worker_tag, int64_t now_ms,
                        brk_leased_t **out, size_t *n_out) {
    return s_leases_matching(self, worker_tag, now_ms, false, out, n_out);
}

int brk_store_leases_held_by(brk_store_t *self, const char *worker_tag, int64_t now_ms,
                             brk_leased_t **out, size_t *n_out) {
    return s_leases_matching(self, worker_tag, now_ms, true, out, n_out);
}

long long brk_store_queue_len(brk_store_t *self, rl_channel_t ch) {
    const int shards = st_keys_shards(self->keys);
    char what[32];
    snprintf(what, sizeof what, "q:%s", rl_channel_name(ch));
    for (int s = 0; s < shards; s++) {
        char q[ST_KEY_MAX];
        st_key_shared(self->keys, s, what, q, sizeof q);
        redisAppendCommand(self->redis, "ZCARD %s", q);
    }
    long long total = 0;
    for (int s = 0; s < shards; s++) {
        redisReply *r = NULL;
        if (redisGetReply(self->redis, (void **)&r) != REDIS_OK) {
            s_seterr(self, "ZCARD", NULL);
            return -1;
        }
        if (r->type == REDIS_REPLY_INTEGER && total >= 0)
            total += r->integer;
        else
            total = -1;
        freeReplyObject(r);
    }
    return total;
}

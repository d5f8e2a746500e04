/* brk_metrics.c — pregond's metrics: the tallies, the Redis gauges and the render (see
 * brk_metrics.h).
 *
 * The gauges are read from Redis at most every ops.gauges_ms, and at once when a scrape
 * finds them older than that, so a Prometheus scraping every 15 s costs one pipelined round
 * trip per shard every 15 s, not one per loop turn. A scrape never waits for Redis when Redis
 * is down: the gauges of the last good read are served with pregon_redis_up 0 and
 * pregon_gauges_age_seconds saying how old they are. Counter names carry `_total`, durations
 * are seconds; the render is one function long because it is one list of families, in the
 * order README documents them. */
#include "brk_metrics.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_ops.h"
#include "rl_policy.h"
#include "rl_policyset.h"

#define S_HOURS          24
#define S_MAX_VERDICT    512 /* rows of {code, reason, rule, jurisdiction} */
#define S_MAX_REPORT     512 /* rows of {channel, outcome, provider_code} */
#define S_SHARD_LABEL_AT 64  /* more shards than this: ready jobs are summed per channel */

typedef struct {
    long long ready[RL_CH_COUNT]; /* per channel; -1 = channel not enabled */
    long long deferred, retry, leases, audit, parked, pauses;
    long long due[RL_CH_COUNT][S_HOURS]; /* deferred jobs of a channel due in clock hour h */
} s_shard_t;

struct brk_metrics {
    const brk_config_t *cfg;
    brk_redis_t *redis;
    const st_keys_t *keys;
    brk_workers_t *workers;
    const brk_rules_t *rules;
    brk_counters_t *n;
    pg_ops_t *ops;
    s_shard_t *shards;
    int n_shards;
    int64_t gauges_at_ms; /* when the gauges were last read whole; 0 = never */
    int64_t tried_at_ms;  /* when a read was last tried */
    bool redis_up;
    pg_prom_hist_t redis_seconds;
    uint64_t gauge_errors;
};

static const char *const s_code_names[7] = {"unspecified", "accepted", "deferred", "rejected",
                                            "duplicate",   "busy",     "expired"};

int brk_metrics_counters_init(brk_counters_t *n) {
    const char *v[] = {"code", "reason", "rule", "jurisdiction"};
    const char *r[] = {"channel", "outcome", "provider_code"};
    n->verdicts_by = pg_tally_new(v, 4, S_MAX_VERDICT);
    n->reports_by = pg_tally_new(r, 3, S_MAX_REPORT);
    pg_prom_hist_init(&n->admission_seconds, pg_prom_latency_bounds, pg_prom_latency_n);
    return n->verdicts_by && n->reports_by ? 0 : -1;
}

void brk_metrics_counters_release(brk_counters_t *n) {
    pg_tally_destroy(&n->verdicts_by);
    pg_tally_destroy(&n->reports_by);
}

void brk_metrics_count_verdict(brk_counters_t *n, const brk_rules_t *rules, int code,
                               const char *reason, const char *rule, const char *jurisdiction) {
    if (!n->verdicts_by)
        return;
    const char *j = "unknown";
    if (jurisdiction && jurisdiction[0] && rules && rules->policies &&
        rl_policyset_get(rules->policies, jurisdiction))
        j = jurisdiction;
    else if (!jurisdiction || !jurisdiction[0])
        j = "";
    const char *values[4] = {code >= 0 && code < 7 ? s_code_names[code] : "unspecified",
                             reason ? reason : "", rule ? rule : "", j};
    pg_tally_add(n->verdicts_by, values, 1);
}

void brk_metrics_count_report(brk_counters_t *n, int channel, const char *outcome,
                              const char *provider_code) {
    if (!n->reports_by)
        return;
    char lower[32];
    size_t i = 0;
    for (; outcome && outcome[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)(outcome[i] >= 'A' && outcome[i] <= 'Z' ? outcome[i] + 32 : outcome[i]);
    lower[i] = '\0';
    const char *values[3] = {
        channel > 0 && channel < RL_CH_COUNT ? rl_channel_name((rl_channel_t)channel) : "unknown",
        lower, provider_code ? provider_code : ""};
    pg_tally_add(n->reports_by, values, 1);
}

brk_metrics_t *brk_metrics_new(const brk_config_t *cfg, brk_redis_t *redis, const st_keys_t *keys,
                               brk_workers_t *workers, const brk_rules_t *rules, brk_counters_t *n,
                               char *err, size_t errlen) {
    brk_metrics_t *self = calloc(1, sizeof *self);
    int shards = st_keys_shards(keys);
    if (self)
        self->shards = calloc((size_t)shards, sizeof *self->shards);
    if (!self || !self->shards) {
        snprintf(err, errlen, "out of memory");
        brk_metrics_destroy(&self);
        return NULL;
    }
    *self = (brk_metrics_t){.cfg = cfg,
                            .redis = redis,
                            .keys = keys,
                            .workers = workers,
                            .rules = rules,
                            .n = n,
                            .shards = self->shards,
                            .n_shards = shards};
    pg_prom_hist_init(&self->redis_seconds, pg_prom_latency_bounds, pg_prom_latency_n);
    pg_ops_config_t oc = {.listen = cfg->ops_listen, .allow_public = cfg->ops_allow_public != 0};
    char why[512];
    self->ops = pg_ops_new(&oc, why, sizeof why);
    if (!self->ops) {
        snprintf(err, errlen, "ops.listen %s: %s", cfg->ops_listen, why);
        brk_metrics_destroy(&self);
        return NULL;
    }
    return self;
}

void brk_metrics_destroy(brk_metrics_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_ops_destroy(&(*self_p)->ops);
    free((*self_p)->shards);
    free(*self_p);
    *self_p = NULL;
}

int brk_metrics_fd(const brk_metrics_t *self) {
    return self ? pg_ops_fd(self->ops) : -1;
}

uint16_t brk_metrics_port(const brk_metrics_t *self) {
    return self ? pg_ops_port(self->ops) : 0;
}

static bool s_enabled(const brk_metrics_t *self, int ch) {
    return (self->cfg->channels & RL_CH_BIT(ch)) != 0;
}

static double s_mono_s(void) {
    return (double)pg_ops_mono_ms() / 1000.0;
}

/* The commands of one shard, appended in the order s_read_shard reads them. Returns their
 * count, or -1 when a key does not fit. */
static int s_append_shard(brk_metrics_t *self, redisContext *c, int shard) {
    char key[ST_KEY_MAX], what[32];
    int k = 0;
    for (int ch = 1; ch < RL_CH_COUNT; ch++) {
        if (!s_enabled(self, ch))
            continue;
        snprintf(what, sizeof what, "q:%s", rl_channel_name((rl_channel_t)ch));
        if (st_key_shared(self->keys, shard, what, key, sizeof key) < 0)
            return -1;
        redisAppendCommand(c, "ZCARD %s", key);
        k++;
    }
    const char *sets[] = {"deferred", "retry", "leases", "paused"};
    for (size_t i = 0; i < 4; i++) {
        if (st_key_shared(self->keys, shard, sets[i], key, sizeof key) < 0)
            return -1;
        redisAppendCommand(c, "ZCARD %s", key);
        k++;
    }
    if (st_key_shared(self->keys, shard, "audit", key, sizeof key) < 0)
        return -1;
    redisAppendCommand(c, "XLEN %s", key);
    k++;
    if (st_key_shared(self->keys, shard, "pause", key, sizeof key) < 0)
        return -1;
    redisAppendCommand(c, "HLEN %s", key);
    k++;
    if (st_key_shared(self->keys, shard, "due", key, sizeof key) < 0)
        return -1;
    redisAppendCommand(c, "HGETALL %s", key); /* the wave, kept by pregon.lua's due_move */
    k++;
    return k;
}

/* The wave hash's fields "CHANNEL|HOUR" -> count into sh->due: hour 0 is the current clock hour
 * (UTC) and takes the overdue ones, hours 24 and more ahead are left out. */
static int s_read_wave(s_shard_t *sh, const redisReply *r, int64_t now_s) {
    if (r->type != REDIS_REPLY_ARRAY)
        return -1;
    long long now_h = (long long)(now_s / 3600);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        const char *bar = memchr(f->str, '|', f->len);
        char name[16];
        if (!bar || (size_t)(bar - f->str) >= sizeof name)
            continue;
        memcpy(name, f->str, (size_t)(bar - f->str));
        name[bar - f->str] = '\0';
        rl_channel_t ch = rl_channel_parse(name);
        long long hour = strtoll(bar + 1, NULL, 10), n = strtoll(v->str, NULL, 10);
        if (ch <= 0 || ch >= RL_CH_COUNT || hour < 0 || hour >= now_h + S_HOURS || n <= 0 ||
            n > (1LL << 40)) /* not what due_move writes: a damaged field counts nothing */
            continue;
        sh->due[ch][hour < now_h ? 0 : hour - now_h] += n;
    }
    return 0;
}

/* Reads the answers of one shard into sh. Returns 0, or -1 on an error (the connection is
 * then dropped by the caller). */
static int s_read_shard(brk_metrics_t *self, redisContext *c, s_shard_t *sh, int64_t now_s) {
    long long *slots[RL_CH_COUNT + 6];
    int k = 0;
    for (int ch = 1; ch < RL_CH_COUNT; ch++) {
        sh->ready[ch] = -1;
        if (s_enabled(self, ch))
            slots[k++] = &sh->ready[ch];
    }
    slots[k++] = &sh->deferred;
    slots[k++] = &sh->retry;
    slots[k++] = &sh->leases;
    slots[k++] = &sh->parked;
    slots[k++] = &sh->audit;
    slots[k++] = &sh->pauses;
    int rc = 0;
    for (int i = 0; i <= k; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
            return -1; /* the connection is gone: nothing more to read */
        if (i == k)    /* the last answer: the wave */
            rc = s_read_wave(sh, r, now_s) < 0 ? -1 : rc;
        else if (r->type == REDIS_REPLY_INTEGER)
            *slots[i] = r->integer;
        else
            rc = -1; /* an ACL refusal, a wrong type: keep reading the pipeline's answers */
        freeReplyObject(r);
    }
    return rc;
}

/* Reads every shard's gauges (one pipelined round trip each). */
static void s_read_gauges(brk_metrics_t *self, int64_t now_ms) {
    self->tried_at_ms = now_ms;
    self->redis_up = brk_redis_ok(self->redis, now_ms);
    redisContext *c = self->redis_up ? brk_redis_context(self->redis) : NULL;
    if (!c)
        return;
    for (int s = 0; s < self->n_shards; s++) {
        s_shard_t sh;
        memset(&sh, 0, sizeof sh);
        double t0 = s_mono_s();
        int k = s_append_shard(self, c, s);
        int rc = k < 0 ? -1 : s_read_shard(self, c, &sh, now_ms / 1000);
        if (rc != 0) {
            self->gauge_errors++;
            if (c->err) {
                brk_redis_drop(self->redis, "reading the metrics' gauges");
                self->redis_up = false;
                return;
            }
            continue;
        }
        pg_prom_hist_observe(&self->redis_seconds, s_mono_s() - t0);
        self->shards[s] = sh;
    }
    self->gauges_at_ms = now_ms;
}

/* Readiness: the first reason not to be, or NULL. */
static const char *s_unready(brk_metrics_t *self, char *buf, size_t len) {
    if (!self->redis_up)
        return brk_redis_busy_reason(self->redis);
    for (int ch = 1; ch < RL_CH_COUNT; ch++) {
        if (!s_enabled(self, ch))
            continue;
        brk_workers_channel_t w;
        brk_workers_channel(self->workers, ch, &w);
        if (!w.workers) {
            snprintf(buf, len, "no %s worker", rl_channel_name((rl_channel_t)ch));
            return buf;
        }
    }
    if (self->cfg->ops_max_audit_backlog > 0) {
        long long audit = 0;
        for (int s = 0; s < self->n_shards; s++)
            audit += self->shards[s].audit;
        if (audit > self->cfg->ops_max_audit_backlog) {
            snprintf(buf, len, "audit backlog %lld records (ops.max_audit_backlog %lld)", audit,
                     (long long)self->cfg->ops_max_audit_backlog);
            return buf;
        }
    }
    return NULL;
}

static void s_counter(pg_prom_t *p, const char *name, const char *help, uint64_t v) {
    pg_prom_family(p, name, "counter", help);
    pg_prom_sample(p, name, NULL, (double)v);
}

static void s_gauge(pg_prom_t *p, const char *name, const char *help, double v) {
    pg_prom_family(p, name, "gauge", help);
    pg_prom_sample(p, name, NULL, v);
}

/* The queues, sets and the sunrise wave. */
static void s_render_gauges(brk_metrics_t *self, pg_prom_t *p, int64_t now_ms) {
    pg_prom_family(p, "pregon_ready_jobs", "gauge",
                   "Jobs queued and ready for dispatch, by channel and shard.");
    bool by_shard = self->n_shards <= S_SHARD_LABEL_AT;
    for (int ch = 1; ch < RL_CH_COUNT; ch++) {
        if (!s_enabled(self, ch))
            continue;
        long long sum = 0;
        for (int s = 0; s < self->n_shards; s++) {
            long long v = self->shards[s].ready[ch] > 0 ? self->shards[s].ready[ch] : 0;
            sum += v;
            char shard[16];
            snprintf(shard, sizeof shard, "%d", s);
            if (by_shard)
                pg_prom_samplef(p, "pregon_ready_jobs", (double)v, "channel",
                                rl_channel_name((rl_channel_t)ch), "shard", shard, NULL);
        }
        if (!by_shard)
            pg_prom_samplef(p, "pregon_ready_jobs", (double)sum, "channel",
                            rl_channel_name((rl_channel_t)ch), "shard", "all", NULL);
    }
    long long deferred = 0, retry = 0, leases = 0, audit = 0, parked = 0;
    long long due[RL_CH_COUNT][S_HOURS] = {{0}};
    for (int s = 0; s < self->n_shards; s++) {
        deferred += self->shards[s].deferred;
        retry += self->shards[s].retry;
        leases += self->shards[s].leases;
        audit += self->shards[s].audit;
        parked += self->shards[s].parked;
        for (int ch = 1; ch < RL_CH_COUNT; ch++)
            for (int h = 0; h < S_HOURS; h++)
                due[ch][h] += self->shards[s].due[ch][h];
    }
    s_gauge(p, "pregon_deferred_jobs", "Jobs deferred to a later legal instant.", (double)deferred);
    pg_prom_family(p, "pregon_deferred_due_jobs", "gauge",
                   "The sunrise wave: deferred jobs coming due in each of the next 24 clock "
                   "hours (UTC), by channel (hours_ahead 0: the current hour and the overdue).");
    for (int ch = 1; ch < RL_CH_COUNT; ch++) {
        if (!s_enabled(self, ch))
            continue;
        for (int h = 0; h < S_HOURS; h++) {
            char hs[8];
            snprintf(hs, sizeof hs, "%d", h);
            pg_prom_samplef(p, "pregon_deferred_due_jobs", (double)due[ch][h], "channel",
                            rl_channel_name((rl_channel_t)ch), "hours_ahead", hs, NULL);
        }
    }
    s_gauge(p, "pregon_retry_jobs", "Jobs waiting for their retry instant.", (double)retry);
    s_gauge(p, "pregon_parked_jobs", "Jobs parked by a pause, waiting for its end.",
            (double)parked);
    s_gauge(p, "pregon_pauses", "Pauses in force (tenant, campaign, channel).",
            (double)(self->n_shards ? self->shards[0].pauses : 0));
    s_gauge(p, "pregon_leases_in_flight", "Jobs leased to workers and not reported yet.",
            (double)leases);
    s_gauge(p, "pregon_audit_backlog_records",
            "Audit records in Redis streams not yet drained by pregon-audit.", (double)audit);
    s_gauge(p, "pregon_redis_up", "1 when Redis is reachable on this broker's dataset.",
            self->redis_up ? 1 : 0);
    s_gauge(p, "pregon_gauges_age_seconds", "Age of the queue gauges above (read from Redis).",
            self->gauges_at_ms ? (double)(now_ms - self->gauges_at_ms) / 1000.0 : -1);
    pg_prom_family(p, "pregon_redis_roundtrip_seconds", "histogram",
                   "One pipelined round trip to Redis (a shard's gauges).");
    pg_prom_histogram(p, "pregon_redis_roundtrip_seconds", NULL, &self->redis_seconds);
}

static void s_render_workers(brk_metrics_t *self, pg_prom_t *p) {
    static const char *const fam[][3] = {
        {"pregon_workers", "gauge", "Workers connected and taking jobs, by channel."},
        {"pregon_worker_credit", "gauge", "Jobs workers asked for and were not given yet."},
        {"pregon_worker_held_leases", "gauge", "Leases held by the channel's workers."},
        {"pregon_channel_halted", "gauge", "1 when the channel is halted."}};
    brk_workers_channel_t w[RL_CH_COUNT];
    for (int ch = 1; ch < RL_CH_COUNT; ch++)
        brk_workers_channel(self->workers, ch, &w[ch]);
    for (int f = 0; f < 4; f++) {
        pg_prom_family(p, fam[f][0], fam[f][1], fam[f][2]);
        for (int ch = 1; ch < RL_CH_COUNT; ch++) {
            if (!s_enabled(self, ch))
                continue;
            double v = f == 0   ? w[ch].workers
                       : f == 1 ? (double)w[ch].credit
                       : f == 2 ? (double)w[ch].held
                                : (w[ch].halted ? 1 : 0);
            pg_prom_samplef(p, fam[f][0], v, "channel", rl_channel_name((rl_channel_t)ch), NULL);
        }
    }
}

/* What budgeted tenants and their listed campaigns spent today, this month and in total, and
 * their budgets (brk_budget.h): spent from each tenant's budget hash at render time (one HMGET
 * per tenant and campaign: both come from the budgets file, a bounded set), limits from the file.
 * Amounts in the tenant's currency; campaign "" is the tenant's own budget. */
static const char *const s_periods[3] = {"day", "month", "total"};

static void s_budget_fields(const char *cm, const char *day, const char *month, char f[3][200]) {
    if (cm) {
        snprintf(f[0], 200, "cd:%s:%s", cm, day);
        snprintf(f[1], 200, "cm:%s:%s", cm, month);
        snprintf(f[2], 200, "ct:%s", cm);
    } else {
        snprintf(f[0], 200, "d:%s", day);
        snprintf(f[1], 200, "m:%s", month);
        snprintf(f[2], 200, "-"); /* a tenant has no total budget */
    }
}

static void s_render_budgets(brk_metrics_t *self, pg_prom_t *p, int64_t now_ms) {
    const brk_budgets_t *b = self->rules ? self->rules->budgets : NULL;
    redisContext *c = self->redis_up ? brk_redis_context(self->redis) : NULL;
    if (!b || !brk_budgets_tenants(b))
        return;
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[16], month[16];
    strftime(day, sizeof day, "%Y%m%d", &tm);
    strftime(month, sizeof month, "%Y%m", &tm);
    for (int pass = 0; pass < 2; pass++) {
        const char *name = pass ? "pregon_budget_limit" : "pregon_budget_spent";
        pg_prom_family(p, name, "gauge",
                       pass ? "The budget of the period (0: none), in the tenant's currency."
                            : "Spent on messages in the period, in the tenant's currency.");
        for (size_t i = 0; i < brk_budgets_tenants(b); i++) {
            const char *tn = brk_budgets_tenant(b, i);
            char bk[ST_KEY_MAX];
            if (st_key_budget(self->keys, tn, bk, sizeof bk) < 0)
                continue;
            size_t nc = brk_budgets_campaigns(b, i);
            for (size_t k = 0; k <= nc; k++) {
                const char *cm = k < nc ? brk_budgets_campaign(b, i, k) : NULL;
                brk_budget_limits_t l;
                brk_budget_limits(b, tn, cm, &l);
                int64_t limits[3] = {cm ? l.campaign_daily : l.tenant_daily,
                                     cm ? l.campaign_monthly : l.tenant_monthly,
                                     cm ? l.campaign_total : 0};
                char f[3][200];
                s_budget_fields(cm, day, month, f);
                redisReply *r =
                    !pass && c ? redisCommand(c, "HMGET %s %s %s %s", bk, f[0], f[1], f[2]) : NULL;
                bool got = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3;
                for (int q = 0; q < 3; q++) {
                    if ((!cm && q == 2) || (!pass && !got))
                        continue;
                    double v = pass                 ? (double)limits[q] / 1e6
                               : r->element[q]->str ? atof(r->element[q]->str) / 1e6
                                                    : 0;
                    pg_prom_samplef(p, name, v, "tenant", tn, "campaign", cm ? cm : "", "period",
                                    s_periods[q], NULL);
                }
                freeReplyObject(r);
            }
        }
    }
}

static const char *const s_inbound_names[] = BRK_INBOUND_RESULTS;

static void s_render(brk_metrics_t *self, int64_t now_ms) {
    pg_prom_t *p = pg_prom_new();
    if (!p)
        return;
    const brk_counters_t *n = self->n;
    pg_prom_family(p, "pregon_verdicts_total", "counter",
                   "Verdicts answered to submitters, by code, reason, rule and jurisdiction.");
    pg_tally_render(n->verdicts_by, p, "pregon_verdicts_total");
    pg_prom_family(p, "pregon_admission_batch_seconds", "histogram",
                   "Time to admit one submitted batch, Redis included.");
    pg_prom_histogram(p, "pregon_admission_batch_seconds", NULL, &n->admission_seconds);
    pg_prom_family(p, "pregon_reports_total", "counter",
                   "Worker reports, by channel, outcome and provider code.");
    pg_tally_render(n->reports_by, p, "pregon_reports_total");
    pg_prom_family(p, "pregon_inbound_events_total", "counter",
                   "Provider webhook events from pregon-hooks, by how they were applied.");
    for (size_t i = 0; i < sizeof n->inbound / sizeof n->inbound[0]; i++)
        pg_prom_samplef(p, "pregon_inbound_events_total", (double)n->inbound[i], "result",
                        s_inbound_names[i], NULL);
    s_counter(p, "pregon_dispatched_total", "Jobs leased to workers.", n->dispatched);
    s_counter(p, "pregon_released_deferred_total", "Deferred jobs admitted again at their time.",
              n->released_deferred);
    s_counter(p, "pregon_released_retries_total", "Retries queued again at their time.",
              n->released_retries);
    s_counter(p, "pregon_unparked_total", "Parked jobs sent back to admission, their pause lifted.",
              n->unparked);
    s_counter(p, "pregon_expired_leases_total", "Leases that expired without a report (UNKNOWN).",
              n->expired_leases);
    s_counter(p, "pregon_bad_frames_total", "Frames refused as malformed.", n->bad_frames);
    s_counter(p, "pregon_redis_errors_total", "Redis calls that failed.", n->redis_errors);
    s_counter(p, "pregon_auth_denied_total", "CURVE handshakes refused.", n->auth_denied);
    s_counter(p, "pregon_tenant_forbidden_total", "Jobs refused for a tenant their key lacks.",
              n->tenant_forbidden);
    s_counter(p, "pregon_queue_read_errors_total", "Shards whose queue gauges could not be read.",
              self->gauge_errors);
    s_counter(p, "pregon_metrics_scrapes_total", "Scrapes of this endpoint served.",
              pg_ops_scrapes(self->ops));
    s_render_workers(self, p);
    s_render_budgets(self, p, now_ms);
    s_render_gauges(self, p, now_ms);
    size_t len = 0;
    char *text = pg_prom_take(p, &len);
    pg_prom_destroy(&p);
    pg_ops_publish(self->ops, text, len);
}

void brk_metrics_turn(brk_metrics_t *self, int64_t now_ms, bool fd_ready) {
    if (!self)
        return;
    pg_ops_alive(self->ops, pg_ops_mono_ms());
    int64_t every = self->cfg->ops_gauges_ms > 0 ? self->cfg->ops_gauges_ms : 5000;
    bool wanted = fd_ready && pg_ops_wanted(self->ops);
    /* on schedule: a scrape between two reads is served the last one (and its age) */
    if (!self->tried_at_ms || now_ms - self->tried_at_ms >= every || now_ms < self->tried_at_ms)
        s_read_gauges(self, now_ms);
    if (wanted)
        s_render(self, now_ms);
    char why[160];
    const char *unready = s_unready(self, why, sizeof why);
    pg_ops_set_ready(self->ops, unready == NULL, unready);
}

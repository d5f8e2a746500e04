/* brk_timers.c — retries, deferrals, lease expiry and heartbeats by the clock (see brk_timers.h).
 */
#include "brk_timers.h"

#include <stdio.h>
#include <stdlib.h>

#include "brk_admission.h"
#include "brk_pause.h"
#include "pg_log.h"
#include "pregon.pb-c.h"

/* TIMER_MS: the tick. DUE_CHUNK: deferrals, retries (per shard) and expired leases handled per
 * tick or backlog turn. RELEASE_LOW_WATER: a backlog is released while the ready queues of
 * channels with workers hold fewer jobs than this. BACKLOG_WAIT_MS: how soon the loop looks
 * again while a backlog is due (never a spin). */
#define TIMER_MS          200
#define DUE_CHUNK         500
#define RETRY_CHUNK       64
#define RELEASE_LOW_WATER 10000
#define BACKLOG_WAIT_MS   5

struct brk_timers {
    const brk_config_t *cfg;
    brk_redis_t *redis;
    const brk_rules_t *rules;
    brk_workers_t *workers;
    brk_reports_t *reports;
    brk_counters_t *n;
    int64_t next_tick_ms;
    bool deferred_backlog, retry_backlog, lease_backlog;
    brk_pause_t *pause; /* parked jobs back to admission once their pause is lifted */
};

brk_timers_t *brk_timers_new(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                             brk_workers_t *workers, brk_reports_t *reports, brk_counters_t *n) {
    brk_timers_t *self = calloc(1, sizeof *self);
    if (self)
        *self = (brk_timers_t){cfg,
                               redis,
                               rules,
                               workers,
                               reports,
                               n,
                               0,
                               false,
                               false,
                               false,
                               brk_pause_new(cfg, redis)};
    if (self && !self->pause)
        brk_timers_destroy(&self);
    return self;
}

void brk_timers_destroy(brk_timers_t **self_p) {
    if (!self_p || !*self_p)
        return;
    brk_pause_destroy(&(*self_p)->pause);
    free(*self_p);
    *self_p = NULL;
}

static void s_release_retries(brk_timers_t *self, brk_store_t *store, int64_t now_ms) {
    int full = 0;
    int released = brk_store_release_retries(store, now_ms, RETRY_CHUNK, &full);
    if (released < 0) {
        brk_redis_drop(self->redis, brk_store_strerror(store));
        return;
    }
    self->n->released_retries += (uint64_t)released;
    self->retry_backlog = full;
}

/* Deferred jobs coming due go through admission again. */
static void s_release_deferred(brk_timers_t *self, brk_store_t *store, int64_t now_ms) {
    brk_leased_t *due;
    size_t n;
    if (brk_store_due_deferred(store, now_ms / 1000, DUE_CHUNK, &due, &n) < 0) {
        brk_redis_drop(self->redis, brk_store_strerror(store));
        return;
    }
    self->deferred_backlog = n == DUE_CHUNK;
    Pregon__SendRequest **reqs = calloc(n ? n : 1, sizeof *reqs);
    const void **payloads = calloc(n ? n : 1, sizeof *payloads);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    rl_admit_verdict_t *v = calloc(n ? n : 1, sizeof *v);
    size_t m = 0;
    for (size_t i = 0; reqs && payloads && lens && v && i < n; i++) {
        Pregon__SendRequest *r =
            pregon__send_request__unpack(NULL, due[i].payload_len, due[i].payload);
        if (!r)
            continue; /* cannot be for what admission stored: it stays deferred, and is seen */
        reqs[m] = r;
        payloads[m] = due[i].payload;
        lens[m++] = due[i].payload_len;
    }
    if (m) {
        brk_admission_run(self->cfg, self->redis, self->rules, reqs, payloads, lens, m, 1, now_ms,
                          v);
        for (size_t i = 0; i < m; i++)
            self->n->released_deferred += v[i].code == RL_V_ACCEPTED;
    }
    for (size_t i = 0; i < m; i++)
        pregon__send_request__free_unpacked(reqs[i], NULL);
    free(reqs), free(payloads), free(lens), free(v);
    brk_store_leased_free(due, n);
}

/* Leases past their expiry become UNKNOWN reports, applied together (one log line per batch:
 * each job's own record is in the audit stream). */
static void s_expire_leases(brk_timers_t *self, brk_store_t *store, int64_t now_ms) {
    brk_leased_t *exp;
    size_t n;
    if (brk_store_expired_leases(store, now_ms, DUE_CHUNK, &exp, &n) < 0) {
        brk_redis_drop(self->redis, brk_store_strerror(store));
        return;
    }
    self->lease_backlog = n == DUE_CHUNK;
    for (size_t i = 0; i < n; i++)
        brk_reports_add(self->reports, now_ms, exp[i].lease_id, "UNKNOWN", 0, "", "",
                        "lease expired without a report", now_ms / 1000 + 1, NULL, 0, 0, NULL);
    self->n->expired_leases += n;
    if (n)
        pg_log("%zu lease(s) expired without a report, outcome unknown (first: %s)", n,
               exp[0].lease_id);
    brk_reports_flush(self->reports, now_ms);
    brk_store_leased_free(exp, n);
}

void brk_timers_run(brk_timers_t *self, int64_t now_ms) {
    if (now_ms >= self->next_tick_ms) {
        self->next_tick_ms = now_ms + TIMER_MS;
        brk_workers_tick(self->workers, now_ms);
        brk_reports_tick(self->reports, now_ms);
        brk_redis_verify(self->redis, now_ms);
        if (!brk_redis_ok(self->redis, now_ms))
            return;
        s_release_retries(self, brk_redis_store(self->redis), now_ms);
        long unparked = brk_pause_unpark(self->pause, now_ms, NULL);
        if (unparked > 0) {
            self->n->unparked += (uint64_t)unparked;
            self->deferred_backlog = true; /* they are due now: admit them without a tick's wait */
        }
        if (brk_redis_store(self->redis))
            s_release_deferred(self, brk_redis_store(self->redis), now_ms);
        /* the leases of a call whose answer was lost are handed back first: expired, they would
         * read UNKNOWN (Redis down longer than lease_ms) */
        if (brk_redis_store(self->redis) && brk_workers_recover_lost(self->workers, now_ms) == 0 &&
            brk_redis_store(self->redis))
            s_expire_leases(self, brk_redis_store(self->redis), now_ms);
        return;
    }
    /* between ticks: one more chunk of whatever backlog the tick found */
    if (self->lease_backlog && brk_redis_ok(self->redis, now_ms) &&
        brk_workers_recover_lost(self->workers, now_ms) == 0 && brk_redis_store(self->redis))
        s_expire_leases(self, brk_redis_store(self->redis), now_ms);
    if ((!self->deferred_backlog && !self->retry_backlog) || !brk_workers_any(self->workers))
        return;
    long long ready = brk_workers_ready_jobs(self->workers, now_ms);
    if (ready < 0 || ready >= RELEASE_LOW_WATER || !brk_redis_store(self->redis))
        return;
    if (self->retry_backlog)
        s_release_retries(self, brk_redis_store(self->redis), now_ms);
    if (self->deferred_backlog && brk_redis_store(self->redis))
        s_release_deferred(self, brk_redis_store(self->redis), now_ms);
}

long brk_timers_wait_ms(const brk_timers_t *self, int64_t now_ms) {
    int64_t wait = self->next_tick_ms - now_ms;
    if ((self->deferred_backlog || self->retry_backlog || self->lease_backlog) &&
        wait > BACKLOG_WAIT_MS)
        wait = BACKLOG_WAIT_MS;
    return wait < 0 ? 0 : (long)wait;
}

/* brk_reports.c — batching reports into the store (see brk_reports.h). */
#include "brk_reports.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg_log.h"
#include "rl_policy.h"

#define MAX_PENDING  4096
#define FLUSH_AT     512   /* reports that make a flush worth it at once (32 a shard of 16) */
#define SUMMARY_MS   10000 /* FAILED jobs and retries: a summary line per interval */
#define LOG_EACH_MAX 5     /* ... after this many individual lines in one interval */

typedef struct {
    char lease_id[ST_LEASE_MAX];
    char outcome[16];
    int channel;
    char provider_id[96];
    char provider_code[16];
    char detail[256];
    int64_t retry_at;
    unsigned char peer[255];
    size_t peer_len;
    uint64_t seq;
    char holder[BRK_HOLDER_MAX]; /* "" with has_holder false: the broker's own */
    bool has_holder;
    unsigned flags; /* BRK_REPORT_FALLBACK, BRK_REPORT_SUPPRESS */
} s_pending_t;

struct brk_reports {
    brk_redis_t *redis;
    const st_keys_t *keys;
    brk_events_t *events;
    brk_counters_t *n;
    s_pending_t *pending; /* MAX_PENDING */
    size_t n_pending;
    int64_t first_pending_ms;      /* when the oldest queued report came */
    brk_report_t *reps;            /* MAX_PENDING, pointing into pending */
    char (*states)[BRK_STATE_LEN]; /* MAX_PENDING */
    int64_t interval_start;
    unsigned failed_logged, retry_logged;
    uint64_t failed_folded, retry_folded;
    char last_failed[160], last_retry[160];
    brk_reports_ack_fn ack;
    void *ack_ctx;
    brk_reports_result_fn result;
    void *result_ctx;
    uint64_t *ack_seqs; /* MAX_PENDING */
    brk_index_t *index; /* borrowed; NULL: no webhook maps */
    int64_t first_index_ms;
    brk_reports_failed_fn failed;
    void *failed_ctx;
};

void brk_reports_set_failed(brk_reports_t *self, brk_reports_failed_fn fn, void *ctx) {
    self->failed = fn;
    self->failed_ctx = ctx;
}

void brk_reports_flag_last(brk_reports_t *self, unsigned flags) {
    if (self->n_pending)
        self->pending[self->n_pending - 1].flags = flags;
}

void brk_reports_set_ack(brk_reports_t *self, brk_reports_ack_fn fn, void *ctx) {
    self->ack = fn;
    self->ack_ctx = ctx;
}

void brk_reports_set_result(brk_reports_t *self, brk_reports_result_fn fn, void *ctx) {
    self->result = fn;
    self->result_ctx = ctx;
}

brk_reports_t *brk_reports_new(brk_redis_t *redis, const st_keys_t *keys, brk_events_t *events,
                               brk_counters_t *n) {
    brk_reports_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->keys = keys;
    self->events = events;
    self->n = n;
    self->pending = calloc(MAX_PENDING, sizeof *self->pending);
    self->reps = calloc(MAX_PENDING, sizeof *self->reps);
    self->states = calloc(MAX_PENDING, sizeof *self->states);
    self->ack_seqs = calloc(MAX_PENDING, sizeof *self->ack_seqs);
    if (!self->pending || !self->reps || !self->states || !self->ack_seqs)
        brk_reports_destroy(&self);
    return self;
}

void brk_reports_destroy(brk_reports_t **self_p) {
    if (!self_p || !*self_p)
        return;
    brk_reports_t *self = *self_p;
    free(self->pending);
    free(self->reps);
    free(self->states);
    free(self->ack_seqs);
    free(self);
    *self_p = NULL;
}

int brk_reports_add(brk_reports_t *self, int64_t now_ms, const char *lease_id, const char *outcome,
                    int channel, const char *provider_id, const char *provider_code,
                    const char *detail, int64_t retry_at_s, const void *peer, size_t peer_len,
                    uint64_t seq, const char *holder) {
    if (self->n_pending == MAX_PENDING)
        brk_reports_flush(self, now_ms);
    if (self->n_pending == MAX_PENDING) { /* Redis unreachable and the buffer full */
        self->n->reports_dropped++;
        return -1; /* not acknowledged: a worker sends it again, an expiry reports it again */
    }
    if (self->n_pending == 0)
        self->first_pending_ms = now_ms;
    s_pending_t *p = &self->pending[self->n_pending++];
    snprintf(p->lease_id, sizeof p->lease_id, "%s", lease_id ? lease_id : "");
    snprintf(p->outcome, sizeof p->outcome, "%s", outcome);
    p->channel = channel;
    snprintf(p->provider_id, sizeof p->provider_id, "%s", provider_id ? provider_id : "");
    snprintf(p->provider_code, sizeof p->provider_code, "%s", provider_code ? provider_code : "");
    snprintf(p->detail, sizeof p->detail, "%s", detail ? detail : "");
    p->retry_at = retry_at_s;
    p->peer_len = peer && peer_len <= sizeof p->peer ? peer_len : 0;
    if (p->peer_len)
        memcpy(p->peer, peer, p->peer_len);
    p->seq = seq;
    p->has_holder = holder != NULL;
    snprintf(p->holder, sizeof p->holder, "%s", holder ? holder : "");
    p->flags = 0;
    return 0;
}

/* Tells each worker which of its reports were applied (in the order they came). */
static void s_acknowledge(brk_reports_t *self, size_t n) {
    if (!self->ack)
        return;
    bool *done = calloc(n ? n : 1, sizeof *done);
    if (!done)
        return; /* the workers keep vouching for those leases until they expire: safe */
    for (size_t i = 0; i < n; i++) {
        const s_pending_t *p = &self->pending[i];
        if (done[i] || !p->peer_len || !p->seq || strcmp(self->states[i], "error") == 0)
            continue; /* a report whose call failed stays vouched for by its worker */
        size_t m = 0;
        for (size_t k = i; k < n; k++) {
            const s_pending_t *q = &self->pending[k];
            if (!done[k] && q->seq && q->peer_len == p->peer_len &&
                memcmp(q->peer, p->peer, p->peer_len) == 0 &&
                strcmp(self->states[k], "error") != 0) {
                self->ack_seqs[m++] = q->seq;
                done[k] = true;
            }
        }
        self->ack(self->ack_ctx, p->peer, p->peer_len, self->ack_seqs, m);
    }
    free(done);
}

/* Tells brk_workers what became of each of its workers' reports (brk_reports_set_result). */
static void s_tell_results(brk_reports_t *self, size_t n, int64_t now_ms) {
    for (size_t i = 0; self->result && i < n; i++) {
        const s_pending_t *p = &self->pending[i];
        if (p->peer_len && strcmp(self->states[i], "error") != 0)
            self->result(self->result_ctx, now_ms, p->peer, p->peer_len, p->lease_id, p->outcome,
                         self->states[i], p->detail);
    }
}

/* One line per FAILED job or retry, LOG_EACH_MAX per interval; the rest go into the summary. */
static void s_note(brk_reports_t *self, const s_pending_t *p, const char *state) {
    bool failed = strcmp(state, "failed") == 0, retry = strcmp(state, "retry") == 0;
    if (!failed && !retry)
        return;
    if (failed)
        self->n->failed++;
    else
        self->n->retries++;
    unsigned *logged = failed ? &self->failed_logged : &self->retry_logged;
    uint64_t *folded = failed ? &self->failed_folded : &self->retry_folded;
    char *last = failed ? self->last_failed : self->last_retry;
    char detail[120];
    snprintf(detail, sizeof detail, "%.80s", p->detail);
    snprintf(last, 160, "%s %s", p->provider_code[0] ? p->provider_code : "-", detail);
    if (strcmp(p->outcome, "HANDBACK") == 0 || strcmp(p->outcome, "CONFIG_ERROR") == 0)
        return; /* hand-backs are not attempts: counted, not logged one by one */
    if (*logged < LOG_EACH_MAX) {
        (*logged)++;
        char job[200];
        st_lease_describe(self->keys, p->lease_id, job, sizeof job);
        pg_log("%s job %s on %s: %s (%s)", failed ? "FAILED" : "retry", job,
               rl_channel_name((rl_channel_t)p->channel), last, p->outcome);
    } else {
        (*folded)++;
    }
}

void brk_reports_tick(brk_reports_t *self, int64_t now_ms) {
    if (now_ms - self->interval_start < SUMMARY_MS)
        return;
    if (self->failed_folded)
        pg_log("%llu more jobs FAILED in the last %d s; last: %s",
               (unsigned long long)self->failed_folded, SUMMARY_MS / 1000, self->last_failed);
    if (self->retry_folded)
        pg_log("retry storm: %llu more retries in the last %d s; last: %s",
               (unsigned long long)self->retry_folded, SUMMARY_MS / 1000, self->last_retry);
    self->interval_start = now_ms;
    self->failed_logged = self->retry_logged = 0;
    self->failed_folded = self->retry_folded = 0;
}

void brk_reports_maybe_flush(brk_reports_t *self, int64_t now_ms) {
    size_t indexed = self->index ? brk_index_pending(self->index) : 0;
    if (self->n_pending >= FLUSH_AT ||
        (self->n_pending && now_ms - self->first_pending_ms >= BRK_REPORTS_DELAY_MS) ||
        (indexed && now_ms - self->first_index_ms >= BRK_REPORTS_DELAY_MS))
        brk_reports_flush(self, now_ms);
}

long brk_reports_wait_ms(const brk_reports_t *self, int64_t now_ms) {
    int64_t first = self->n_pending ? self->first_pending_ms : INT64_MAX;
    if (self->index && brk_index_pending(self->index) && self->first_index_ms < first)
        first = self->first_index_ms;
    if (first == INT64_MAX)
        return -1;
    int64_t w = first + BRK_REPORTS_DELAY_MS - now_ms;
    return w < 0 ? 0 : (long)w;
}

/* A SENT report: its provider id now leads a webhook to the job. */
static void s_index_sent(brk_reports_t *self, const s_pending_t *p, int64_t now_ms) {
    char jk[ST_KEY_MAX];
    unsigned attempt = 0;
    if (p->provider_id[0] &&
        st_lease_parse(self->keys, p->lease_id, jk, sizeof jk, &attempt, NULL) == 0)
        brk_index_sent(self->index, now_ms, p->channel, p->provider_id, jk, attempt);
}

void brk_reports_set_index(brk_reports_t *self, brk_index_t *index) {
    self->index = index;
}

void brk_reports_contact(brk_reports_t *self, int64_t now_ms, int channel, const char *contact,
                         const char *tenant, const char *debtor, const char *job_id,
                         const char *sender) {
    if (!self->index)
        return;
    if (brk_index_pending(self->index) == 0)
        self->first_index_ms = now_ms;
    brk_index_contact(self->index, now_ms, channel, contact, tenant, debtor, job_id, sender);
}

/* Reports with flags whose job is FAILED now (applied, or found so already): the fallback and
 * the suppression they ask for (brk_reports_set_failed). One whose hook failed is not
 * acknowledged ("error"): its worker sends it again. */
static void s_after_failed(brk_reports_t *self, size_t n, int64_t now_ms) {
    for (size_t i = 0; self->failed && i < n; i++) {
        const s_pending_t *p = &self->pending[i];
        const char *st = self->states[i];
        if (!p->flags ||
            (strcmp(st, "failed") != 0 && strcmp(st, "refused: failed -> FAILED") != 0))
            continue;
        if (self->failed(self->failed_ctx, p->lease_id, p->flags, p->provider_code, p->detail,
                         now_ms) < 0)
            snprintf(self->states[i], BRK_STATE_LEN, "error");
    }
}

/* True for a store answer that changed the job (not stale, gone, refused or a bad lease). */
static bool s_applied(const char *st) {
    return strcmp(st, "stale") != 0 && strcmp(st, "gone") != 0 && strcmp(st, "bad-lease") != 0 &&
           strcmp(st, "wrong-lease") != 0 && strcmp(st, "not-holder") != 0 &&
           strcmp(st, "error") != 0 && strncmp(st, "refused", 7) != 0;
}

/* The "report" event of an applied report: the job named by its lease (the store's word, not
 * the worker's), every field of the report but the lease id, the state it led to. */
static void s_publish(brk_reports_t *self, const s_pending_t *p, const char *state,
                      int64_t now_ms) {
    static const struct {
        const char *name;
        Pregon__DeliveryReport__Outcome code;
    } outcomes[] = {{"SENT", PREGON__DELIVERY_REPORT__OUTCOME__SENT},
                    {"DELIVERED", PREGON__DELIVERY_REPORT__OUTCOME__DELIVERED},
                    {"FAILED", PREGON__DELIVERY_REPORT__OUTCOME__FAILED},
                    {"RETRY", PREGON__DELIVERY_REPORT__OUTCOME__RETRY},
                    {"UNKNOWN", PREGON__DELIVERY_REPORT__OUTCOME__UNKNOWN},
                    {"CONFIG_ERROR", PREGON__DELIVERY_REPORT__OUTCOME__CONFIG_ERROR},
                    {"SKIPPED", PREGON__DELIVERY_REPORT__OUTCOME__SKIPPED},
                    {"HANDBACK", PREGON__DELIVERY_REPORT__OUTCOME__HANDED_BACK}};
    char jk[ST_KEY_MAX];
    unsigned attempt = 0;
    st_job_ref_t ref;
    if (!brk_events_on(self->events) || /* no feed: nothing to build (the lease parsed) */
        st_lease_parse(self->keys, p->lease_id, jk, sizeof jk, &attempt, NULL) != 0 ||
        st_job_key_parse(self->keys, jk, strlen(jk), &ref) != 0)
        return;
    Pregon__DeliveryReport r = PREGON__DELIVERY_REPORT__INIT;
    for (size_t k = 0; k < sizeof outcomes / sizeof *outcomes; k++)
        if (strcasecmp(p->outcome, outcomes[k].name) == 0)
            r.outcome = outcomes[k].code;
    r.job_id = ref.job_id;
    r.tenant = ref.tenant;
    r.provider_id = (char *)p->provider_id;
    r.provider_code = (char *)p->provider_code;
    r.detail = (char *)p->detail;
    r.retry_at_ms = p->retry_at > 0 ? p->retry_at * 1000 : 0;
    r.at_ms = now_ms;
    r.channel = (Pregon__Channel)p->channel;
    brk_events_publish_report(self->events, ref.tenant, ref.job_id, &r, state);
}

void brk_reports_flush(brk_reports_t *self, int64_t now_ms) {
    size_t n = self->n_pending;
    if (n == 0) {
        if (self->index)
            brk_index_flush(self->index, now_ms);
        return;
    }
    brk_store_t *store = brk_redis_ok(self->redis, now_ms) ? brk_redis_store(self->redis) : NULL;
    if (!store) {
        self->first_pending_ms = now_ms + 200; /* looked at again in 200 ms: no busy loop */
        return; /* kept (unacknowledged) until Redis is back: applied then, before their leases
                   are found expired (s_expire_leases adds behind them) */
    }
    self->n_pending = 0;
    for (size_t i = 0; i < n; i++) {
        const s_pending_t *p = &self->pending[i];
        self->reps[i] = (brk_report_t){p->lease_id,
                                       p->outcome,
                                       p->provider_id,
                                       p->provider_code,
                                       p->detail,
                                       p->retry_at,
                                       p->has_holder ? p->holder : NULL};
    }
    if (brk_store_report_many(store, self->reps, n, now_ms, self->states) < 0) {
        pg_log("reports not applied: %s", brk_store_strerror(store));
        brk_redis_drop(self->redis, brk_store_strerror(store));
        return;
    }
    s_after_failed(self, n, now_ms);
    s_acknowledge(self, n);
    for (size_t i = 0; i < n; i++) {
        const char *st = self->states[i];
        if (strcmp(st, "stale") == 0 || strcmp(st, "gone") == 0)
            self->n->stale_reports++;
        else if (strcmp(st, "bad-lease") == 0)
            self->n->bad_leases++;
        else if (strcmp(st, "wrong-lease") == 0)
            self->n->wrong_leases++;
        else if (strcmp(st, "not-holder") == 0)
            self->n->foreign_reports++;
        else if (strncmp(st, "refused", 7) == 0)
            self->n->refused_reports++;
        else
            s_note(self, &self->pending[i], st);
        if (self->index && strcmp(st, "sent") == 0)
            s_index_sent(self, &self->pending[i], now_ms);
        if (s_applied(st))
            s_publish(self, &self->pending[i], st, now_ms);
    }
    s_tell_results(self, n, now_ms);
    if (self->index)
        brk_index_flush(self->index, now_ms);
}

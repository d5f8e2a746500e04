/* brk_workers.c — the worker table, the backend protocol and dispatch (see brk_workers.h). */
#include "brk_workers.h"
#include "brk_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "brk_evidence.h"
#include "brk_template.h"
#include "pg_log.h"
#include "pg_logsum.h"
#include "pregon.pb-c.h"

#define MAX_WORKERS    256
#define MAX_ID         255
#define LEASE_ROUND    512 /* jobs leased per store call and worker */
#define CREDIT_BUCKETS 32  /* a worker's leases by when they were given, over one lease_ms */
#define MAX_VARS       64
#define MAX_HELD       65536 /* leases one WorkerReady may list: the worker's 2 MiB bound, in ids */

/* Leases given to a worker in one interval of lease_ms / (CREDIT_BUCKETS - 2). */
typedef struct {
    int64_t slot; /* the interval: ms / width */
    uint32_t n;
} s_bucket_t;

typedef struct {
    unsigned char id[MAX_ID];
    size_t id_len;
    char name[80];                 /* worker_id, escaped for logs */
    char key[BRK_KEY_NAME_MAX];    /* the authenticated key it joined with ("anonymous") */
    bool anonymous;                /* no key: the shared pool of dispatch.anonymous_workers */
    char holder[BRK_HOLDER_MAX];   /* "key/worker_id#", escaped: who holds its leases */
    char tag[BRK_HOLDER_MAX + 72]; /* holder + incarnation, recorded with its leases */
    rl_channel_t channel;
    uint32_t credit; /* jobs it asked for and was not given yet */
    uint32_t held;   /* leases given and neither reported nor expired */
    s_bucket_t given[CREDIT_BUCKETS];
    uint64_t dispatched; /* jobs ever given: an entry never given one may be evicted */
    int64_t joined_ms, last_seen_ms, last_sent_ms;
    bool halted, leaving, foreign_logged;
} s_worker_t;

struct brk_workers {
    void *sock;
    brk_auth_t *auth; /* borrowed: who a peer is */
    const brk_config_t *cfg;
    brk_redis_t *redis;
    const brk_rules_t *rules;
    brk_reports_t *reports;
    brk_events_t *events;
    brk_counters_t *n;
    s_worker_t *w; /* MAX_WORKERS */
    size_t n_workers, rr;
    int64_t no_worker_since[RL_CH_COUNT]; /* 0: it has a worker */
    bool no_worker_logged[RL_CH_COUNT];
    bool channel_halted[RL_CH_COUNT];
    pg_logsum_t *logsum;      /* refusals and foreign reports: bounded lines */
    brk_lost_t *lost;         /* lease calls whose answer was lost, until recovered */
    brk_evidence_t *evidence; /* CONTENT records of dispatched attempts (audit) */
};

static void s_on_result(void *ctx, int64_t now_ms, const void *peer, size_t peer_len,
                        const char *lease_id, const char *outcome, const char *state,
                        const char *detail);

brk_workers_t *brk_workers_new(void *sock, brk_auth_t *auth, const brk_config_t *cfg,
                               brk_redis_t *redis, const brk_rules_t *rules, brk_reports_t *reports,
                               brk_events_t *events, brk_counters_t *n, int64_t now_ms) {
    brk_workers_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (brk_workers_t){.sock = sock,
                            .auth = auth,
                            .cfg = cfg,
                            .redis = redis,
                            .rules = rules,
                            .reports = reports,
                            .events = events,
                            .n = n};
    self->w = calloc(MAX_WORKERS, sizeof *self->w);
    self->logsum = pg_logsum_new(&(pg_logsum_config_t){.interval_ms = 10000, .burst = 3});
    self->lost = brk_lost_new();
    self->evidence = brk_evidence_new(cfg->redis_prefix, cfg->shards);
    if (!self->w || !self->logsum || !self->lost || !self->evidence) {
        brk_evidence_destroy(&self->evidence);
        brk_lost_destroy(&self->lost);
        pg_logsum_destroy(&self->logsum);
        free(self->w);
        free(self);
        return NULL;
    }
    brk_reports_set_result(reports, s_on_result, self);
    for (int c = 1; c < RL_CH_COUNT; c++)
        self->no_worker_since[c] = now_ms;
    return self;
}

void brk_workers_destroy(brk_workers_t **self_p) {
    if (!self_p || !*self_p)
        return;
    brk_workers_t *self = *self_p;
    if (brk_lost_count(self->lost))
        pg_log("stopping with %zu lease call(s) whose answer was lost not recovered: their leases "
               "expire UNKNOWN",
               brk_lost_count(self->lost));
    brk_lost_destroy(&self->lost);
    brk_evidence_destroy(&self->evidence);
    pg_logsum_destroy(&(*self_p)->logsum);
    free((*self_p)->w);
    free(*self_p);
    *self_p = NULL;
}

static s_worker_t *s_find(brk_workers_t *self, const void *id, size_t len) {
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->w[i].id_len == len && memcmp(self->w[i].id, id, len) == 0)
            return &self->w[i];
    return NULL;
}

static void s_remove(brk_workers_t *self, s_worker_t *w) {
    *w = self->w[--self->n_workers];
}

static void s_send(brk_workers_t *self, s_worker_t *w, const Pregon__BrokerToWorker *msg,
                   int64_t now_ms) {
    size_t len = pregon__broker_to_worker__get_packed_size(msg);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return;
    pregon__broker_to_worker__pack(msg, buf);
    zmq_send(self->sock, w->id, w->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->sock, buf, len, ZMQ_DONTWAIT);
    w->last_sent_ms = now_ms;
    if (buf != stackbuf)
        free(buf);
}

bool brk_workers_release_line(brk_workers_t *self, const char *tag, const char *lease_id,
                              int64_t now_ms) {
    for (size_t i = 0; tag && tag[0] && i < self->n_workers; i++) {
        s_worker_t *w = &self->w[i];
        if (w->channel != RL_CH_VOICE || strcmp(w->tag, tag) != 0)
            continue;
        Pregon__ReleaseLine rl = PREGON__RELEASE_LINE__INIT;
        rl.lease_id = (char *)lease_id;
        Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
        msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_RELEASE_LINE;
        msg.release_line = &rl;
        s_send(self, w, &msg, now_ms);
        return true;
    }
    return false;
}

static bool s_takes_jobs(const s_worker_t *w) {
    return w->channel > RL_CH_NONE && !w->halted && !w->leaving;
}

static bool s_channel_has_worker(const brk_workers_t *self, rl_channel_t ch) {
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->w[i].channel == ch && s_takes_jobs(&self->w[i]))
            return true;
    return false;
}

/* The channel lost or regained its last worker taking jobs: remember since when. */
static void s_channel_changed(brk_workers_t *self, rl_channel_t ch, int64_t now_ms) {
    bool has = s_channel_has_worker(self, ch);
    if (has) {
        if (self->no_worker_logged[ch])
            pg_log("channel %s has a worker again", rl_channel_name(ch));
        if (self->channel_halted[ch])
            pg_log("channel %s resumed", rl_channel_name(ch));
        self->no_worker_since[ch] = 0;
        self->no_worker_logged[ch] = false;
        self->channel_halted[ch] = false;
    } else if (!self->no_worker_since[ch]) {
        self->no_worker_since[ch] = now_ms;
    }
}

/* --- trust: who holds a lease, the room each key has, how many jobs a worker holds -------- */

/* Copies n bytes of in into out, '%' '/' '#' and bytes outside 0x21..0x7e as %XX, so that
 * "key/worker_id#" names exactly one key and one worker id. */
static void s_escape(const char *in, size_t n, char *out, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 <= len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x21 || c > 0x7e || c == '%' || c == '/' || c == '#') {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

/* The holder text of a worker: "key/worker_id#" (pg_lease records it before the incarnation,
 * pg_report compares a report's with it: the key and worker id, not the process). */
static void s_holder_of(const char *key, const void *worker_id, size_t id_len, char *out,
                        size_t len) {
    char k[3 * BRK_KEY_NAME_MAX + 1], wid[3 * 120 + 1];
    s_escape(key, strnlen(key, BRK_KEY_NAME_MAX - 1), k, sizeof k);
    s_escape(worker_id, id_len < 120 ? id_len : 120, wid, sizeof wid);
    snprintf(out, len, "%s/%s#", k, wid);
}

/* Leases a worker holds, by the interval they were given in: those older than lease_ms have
 * expired (recorded UNKNOWN by the timers) and no longer count. */
static int64_t s_bucket_width(const brk_workers_t *self) {
    return self->cfg->lease_ms / (CREDIT_BUCKETS - 2) + 1;
}

static void s_held_expire(const brk_workers_t *self, s_worker_t *w, int64_t now_ms) {
    int64_t width = s_bucket_width(self);
    for (int i = 0; i < CREDIT_BUCKETS; i++) {
        s_bucket_t *b = &w->given[i];
        if (b->n && (b->slot + 1) * width + self->cfg->lease_ms <= now_ms) {
            w->held -= b->n < w->held ? b->n : w->held;
            b->n = 0;
        }
    }
}

static void s_held_add(const brk_workers_t *self, s_worker_t *w, int64_t now_ms) {
    int64_t slot = now_ms / s_bucket_width(self);
    s_bucket_t *b = &w->given[slot % CREDIT_BUCKETS];
    if (b->slot < slot) /* its leases expired 30 intervals ago: s_held_expire counted them out */
        b->slot = slot;
    b->n++;
    w->held++;
}

/* One of w's leases was reported by w: the oldest interval's count goes down. */
static void s_held_done(s_worker_t *w) {
    s_bucket_t *oldest = NULL;
    for (int i = 0; i < CREDIT_BUCKETS; i++)
        if (w->given[i].n && (!oldest || w->given[i].slot < oldest->slot))
            oldest = &w->given[i];
    if (oldest && w->held) {
        oldest->n--;
        w->held--;
    }
}

/* Jobs w may be given now: its credit, within dispatch.max_credit leases held at once. */
static uint32_t s_room(const brk_workers_t *self, s_worker_t *w, int64_t now_ms) {
    s_held_expire(self, w, now_ms);
    uint32_t cap = (uint32_t)self->cfg->max_credit;
    uint32_t room = w->held >= cap ? 0 : cap - w->held;
    return w->credit < room ? w->credit : room;
}

static uint32_t s_clamp_credit(const brk_workers_t *self, uint64_t credit) {
    return credit < (uint64_t)self->cfg->max_credit ? (uint32_t)credit
                                                    : (uint32_t)self->cfg->max_credit;
}

/* The pool an identity's entries come from: its key's worker_slots, or the anonymous peers'
 * dispatch.anonymous_workers (which never reach the room reserved for keys). */
static bool s_same_pool(const s_worker_t *w, const brk_identity_t *ident) {
    return ident->anonymous ? w->anonymous : !w->anonymous && strcmp(w->key, ident->name) == 0;
}

static size_t s_pool_cap(const brk_workers_t *self, const brk_identity_t *ident) {
    if (ident->anonymous)
        return (size_t)self->cfg->anonymous_workers;
    return ident->worker_slots > 0 ? (size_t)ident->worker_slots : 0;
}

/* A routing id for a log line: printable bytes kept, the rest escaped, bounded. */
static const char *s_peer_name(const void *id, size_t len, char *buf, size_t buflen) {
    s_escape(id, len < 64 ? len : 64, buf, buflen);
    return buf;
}

/* Refuses a WorkerReady: counted and logged (a flood of them in a few lines). */
static void s_refuse(brk_workers_t *self, const char *name, const brk_identity_t *ident,
                     const char *why) {
    self->n->workers_refused++;
    pg_logsum_event(self->logsum, "workers refused", "worker %s (key %s) refused: %s", name,
                    ident ? ident->name : "(unknown)", why);
}

/* A place in the table for a new worker of `ident`, or NULL (refused: counted and logged; the
 * peer is not answered, so a real worker, hearing nothing, connects and asks again later).
 * When the identity's pool is full, a newcomer that asks for jobs takes the place of the entry of
 * that pool that joined first among those that ask for none and were never given one: peers
 * that only heartbeat (or announce themselves again and again) cannot keep a worker out; a
 * worker asking for jobs, or that had some, is never replaced. */
static s_worker_t *s_admit(brk_workers_t *self, const void *id, size_t id_len,
                           const brk_identity_t *ident, const char *name, uint32_t credit,
                           int64_t now_ms) {
    size_t cap = s_pool_cap(self, ident), have = 0;
    s_worker_t *idle = NULL;
    for (size_t i = 0; i < self->n_workers; i++) {
        s_worker_t *o = &self->w[i];
        if (!s_same_pool(o, ident))
            continue;
        have++;
        if (!o->dispatched && !o->credit && (!idle || o->joined_ms < idle->joined_ms))
            idle = o;
    }
    if (have >= cap || self->n_workers == MAX_WORKERS) {
        if (!idle || cap == 0 || !credit) { /* asking for nothing, it takes no one's place */
            char why[120];
            snprintf(why, sizeof why, "%s %zu worker-table entr%s in use",
                     ident->anonymous ? "the anonymous peers' pool has its" : "its key has its",
                     have, have == 1 ? "y" : "ies");
            s_refuse(self, name, ident, have >= cap ? why : "the worker table is full");
            return NULL;
        }
        rl_channel_t ch = idle->channel;
        pg_logsum_event(self->logsum, "idle workers replaced",
                        "worker %s (asking for no job, never given one) gives its table entry to "
                        "worker %s",
                        idle->name, name);
        *idle = self->w[--self->n_workers];
        s_channel_changed(self, ch, now_ms);
    }
    s_worker_t *w = &self->w[self->n_workers++];
    memset(w, 0, sizeof *w);
    memcpy(w->id, id, id_len);
    w->id_len = id_len;
    snprintf(w->key, sizeof w->key, "%s", ident->name);
    w->anonymous = ident->anonymous;
    w->joined_ms = now_ms;
    return w;
}

/* Tells a peer that has no entry why it gets nothing (Halt): its key may not serve the channel
 * it offers. */
static void s_halt_peer(brk_workers_t *self, const void *id, size_t id_len, const char *why) {
    Pregon__Halt h = PREGON__HALT__INIT;
    h.reason = (char *)why;
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_HALT;
    msg.halt = &h;
    size_t len = pregon__broker_to_worker__get_packed_size(&msg);
    uint8_t buf[512];
    if (len > sizeof buf)
        return;
    pregon__broker_to_worker__pack(&msg, buf);
    zmq_send(self->sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->sock, buf, len, ZMQ_DONTWAIT);
}

/* A report that was not the lease holder's (state "not-holder" or "wrong-lease"): counted by
 * brk_reports, acknowledged (the peer stops resending it), ignored; logged once per table
 * entry, and in bounded lines for peers without one. */
static void s_foreign(brk_workers_t *self, s_worker_t *w, const void *peer, size_t peer_len,
                      const char *lease_id, const char *state) {
    const char *what =
        strcmp(state, "not-holder") == 0 ? "a lease another worker holds" : "no current lease";
    char pn[200];
    if (w && w->foreign_logged)
        return;
    if (w) {
        w->foreign_logged = true;
        pg_log("worker %s (key %s) reported %s (%.80s): ignored; more from it are counted "
               "(stop line), not logged",
               w->name, w->key, what, lease_id);
    } else {
        pg_logsum_event(self->logsum, "reports for leases not held",
                        "peer %s without a worker entry reported %s (%.80s): ignored",
                        s_peer_name(peer, peer_len, pn, sizeof pn), what, lease_id);
    }
}

static int s_cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Leases a previous incarnation of this broker gave this worker process that it does not hold
 * any more never reached it: they go back to their queue (not an attempt). */
static void s_reconcile(brk_workers_t *self, const s_worker_t *w, const Pregon__WorkerReady *r,
                        int64_t now_ms) {
    brk_store_t *store = brk_redis_ok(self->redis, now_ms) ? brk_redis_store(self->redis) : NULL;
    brk_leased_t *mine;
    size_t n, lost = 0;
    /* sorted, so that each of this worker's leases is looked up, not compared with them all */
    char **held = malloc((r->n_held_leases ? r->n_held_leases : 1) * sizeof *held);
    if (!held || !store || brk_store_leases_of(store, w->tag, now_ms, &mine, &n) < 0) {
        free(held);
        return; /* those leases expire; nothing is lost */
    }
    if (r->n_held_leases) {
        memcpy(held, r->held_leases, r->n_held_leases * sizeof *held);
        qsort(held, r->n_held_leases, sizeof *held, s_cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = mine[i].lease_id;
        if (r->n_held_leases && bsearch(&key, held, r->n_held_leases, sizeof *held, s_cmp_str))
            continue;
        brk_reports_add(self->reports, now_ms, mine[i].lease_id, "HANDBACK", w->channel, "", "",
                        "lost in transit: the worker never received it", now_ms / 1000, NULL, 0, 0,
                        NULL);
        lost++;
    }
    brk_store_leased_free(mine, n);
    free(held);
    if (lost) {
        self->n->handed_back_lost += lost;
        pg_log("worker %s did not hold %zu lease(s) a previous broker gave it: handed back",
               w->name, lost);
    }
}

/* The worker process restarted: its previous incarnation's leases that the new process does not
 * list (its journal lists every job that process started or reported) were never started, or
 * were still in transit when it died. They go back to their queue, untried (not an attempt;
 * the debtor's contact is made when the job is sent). Skipped when Redis is unreachable: those
 * leases then expire as UNKNOWN (the worker names the previous incarnation again on its next
 * ready, which covers a reconnection). */
static void s_reconcile_previous(brk_workers_t *self, const s_worker_t *w,
                                 const Pregon__WorkerReady *r, int64_t now_ms) {
    char tag[BRK_HOLDER_MAX + 72]; /* the previous process's, as its leases record it */
    snprintf(tag, sizeof tag, "%s%.64s", w->holder, r->previous_incarnation);
    brk_store_t *store = brk_redis_ok(self->redis, now_ms) ? brk_redis_store(self->redis) : NULL;
    brk_leased_t *prev;
    size_t n, lost = 0;
    char **held = malloc((r->n_held_leases ? r->n_held_leases : 1) * sizeof *held);
    if (!held || !store || brk_store_leases_held_by(store, tag, now_ms, &prev, &n) < 0) {
        free(held);
        if (!store)
            pg_log("worker %s restarted, but Redis is unreachable: the leases of its previous "
                   "process are not handed back now",
                   w->name);
        return;
    }
    if (r->n_held_leases) {
        memcpy(held, r->held_leases, r->n_held_leases * sizeof *held);
        qsort(held, r->n_held_leases, sizeof *held, s_cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = prev[i].lease_id;
        if (r->n_held_leases && bsearch(&key, held, r->n_held_leases, sizeof *held, s_cmp_str))
            continue;
        brk_reports_add(self->reports, now_ms, prev[i].lease_id, "HANDBACK", w->channel, "", "",
                        "worker restarted: its previous process never started it", now_ms / 1000,
                        NULL, 0, 0, NULL);
        lost++;
    }
    brk_store_leased_free(prev, n);
    free(held);
    self->n->handed_back_lost += lost;
    pg_log("worker %s restarted (previous process %.64s): %zu of its lease(s) never started, "
           "handed back; %zu listed by its journal",
           w->name, r->previous_incarnation, lost, n - lost);
}

static void s_on_ready(brk_workers_t *self, const void *id, size_t id_len,
                       const brk_identity_t *ident, const Pregon__WorkerReady *r, int64_t now_ms) {
    rl_channel_t ch = (rl_channel_t)r->channel;
    char name[80]; /* bounded; pg_log escapes what it prints */
    snprintf(name, sizeof name, "%.64s", r->worker_id ? r->worker_id : "");
    if (ch <= RL_CH_NONE || ch >= RL_CH_COUNT || id_len > MAX_ID) {
        self->n->bad_frames++;
        return;
    }
    if (!(self->cfg->channels & RL_CH_BIT(ch))) {
        self->n->bad_frames++;
        pg_log("worker %s offers channel %s, which this broker does not serve (channels:): "
               "ignored",
               name, rl_channel_name(ch));
        return;
    }
    if (!brk_identity_may_channel(ident, (int)ch)) {
        char why[160];
        snprintf(why, sizeof why, "key %s may not serve channel %s", ident->name,
                 rl_channel_name(ch));
        s_refuse(self, name, ident, why);
        s_halt_peer(self, id, id_len, why);
        return;
    }
    s_worker_t *w = s_find(self, id, id_len);
    if (w && strcmp(w->key, ident->name) != 0) { /* another key took this routing id over */
        rl_channel_t was = w->channel;
        s_remove(self, w);
        s_channel_changed(self, was, now_ms);
        w = NULL;
    }
    bool rejoin = w != NULL;
    if (!w && !(w = s_admit(self, id, id_len, ident, name, r->credit, now_ms)))
        return;
    rl_channel_t was = w->channel;
    snprintf(w->name, sizeof w->name, "%s", name);
    const char *wid = r->worker_id ? r->worker_id : "";
    s_holder_of(ident->name, wid, strlen(wid), w->holder, sizeof w->holder);
    snprintf(w->tag, sizeof w->tag, "%s%.64s", w->holder, r->incarnation ? r->incarnation : "");
    w->channel = ch;
    w->credit = s_clamp_credit(self, r->credit);
    w->halted = w->leaving = false;
    w->last_seen_ms = now_ms;
    pg_log("worker %s %s on %s with credit %u%s, holding %zu lease(s)", w->name,
           rejoin ? "ready again" : "joined", rl_channel_name(ch), w->credit,
           r->credit > w->credit ? " (dispatch.max_credit)" : "", r->n_held_leases);
    if (r->n_held_leases > MAX_HELD) { /* no worker of ours lists that many: not believed */
        self->n->bad_frames++;
        pg_log("worker %s lists %zu held leases, more than %d: nothing handed back for it", w->name,
               r->n_held_leases, MAX_HELD);
    } else if (r->incarnation && r->incarnation[0]) {
        s_reconcile(self, w, r, now_ms);
        if (r->previous_incarnation && r->previous_incarnation[0] &&
            strcmp(r->previous_incarnation, r->incarnation) != 0)
            s_reconcile_previous(self, w, r, now_ms);
    }
    if (was && was != ch)
        s_channel_changed(self, was, now_ms);
    s_channel_changed(self, ch, now_ms);
}

static const char *s_outcome_name(int o) {
    /* pg_report's names; HANDBACK: returned untried, not an attempt */
    static const char *const names[] = {"?",       "SENT",         "DELIVERED", "FAILED",  "RETRY",
                                        "UNKNOWN", "CONFIG_ERROR", "SKIPPED",   "HANDBACK"};
    return (o >= 1 && o <= 8) ? names[o] : NULL;
}

/* A configuration error (credentials, sender...): this worker gets nothing until it is ready
 * again; the channel is halted when no other worker takes its jobs. */
static void s_halt(brk_workers_t *self, s_worker_t *w, const char *detail, int64_t now_ms) {
    char why[200];
    snprintf(why, sizeof why, "%.160s", detail ? detail : "");
    w->halted = true;
    Pregon__Halt h = PREGON__HALT__INIT;
    h.reason = why;
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_HALT;
    msg.halt = &h;
    s_send(self, w, &msg, now_ms);
    pg_log("worker %s on %s halted: configuration error: %s", w->name, rl_channel_name(w->channel),
           why);
    if (!s_channel_has_worker(self, w->channel) && !self->channel_halted[w->channel]) {
        self->channel_halted[w->channel] = true;
        pg_log("channel %s halted: no worker left that takes its jobs",
               rl_channel_name(w->channel));
        brk_events_publish(self->events, "halt", NULL, NULL, w->channel, NULL, why);
    }
    s_channel_changed(self, w->channel, now_ms);
}

/* A worker's report goes to brk_reports with who sent it: the entry's holder, or for a peer
 * without one (a worker whose Ready is not in yet), its key and routing id (a worker's routing id
 * is its worker id). Whether it is the lease holder's is decided when it is applied; a
 * configuration error halts the worker only then (s_on_result). */
static void s_on_report(brk_workers_t *self, s_worker_t *w, const brk_identity_t *ident,
                        const zmq_msg_t *id, const Pregon__DeliveryReport *r, int64_t now_ms) {
    const char *outcome = s_outcome_name(r->outcome);
    self->n->reports++;
    brk_metrics_count_report(self->n, (int)r->channel, outcome ? outcome : "invalid",
                             r->provider_code);
    if (!outcome || !r->lease_id || !r->lease_id[0]) {
        self->n->bad_frames++;
        return;
    }
    char holder[BRK_HOLDER_MAX];
    if (w)
        snprintf(holder, sizeof holder, "%s", w->holder);
    else
        s_holder_of(ident->name, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size((zmq_msg_t *)id),
                    holder, sizeof holder);
    unsigned flags = 0;
    if (r->outcome == PREGON__DELIVERY_REPORT__OUTCOME__FAILED)
        flags = (r->fallback_eligible ? BRK_REPORT_FALLBACK : 0u) |
                (r->suppress_contact ? BRK_REPORT_SUPPRESS : 0u);
    if (brk_reports_add(
            self->reports, now_ms, r->lease_id, outcome, r->channel, r->provider_id,
            r->provider_code, r->detail, r->retry_at_ms ? r->retry_at_ms / 1000 : now_ms / 1000 + 1,
            zmq_msg_data((zmq_msg_t *)id), zmq_msg_size((zmq_msg_t *)id), r->seq, holder) == 0 &&
        flags)
        brk_reports_flag_last(self->reports, flags);
}

/* brk_reports_result_fn: what became of a worker's report. Applied: one lease fewer held, and a
 * configuration error halts the worker; not the holder's: logged once and ignored. */
static void s_on_result(void *ctx, int64_t now_ms, const void *peer, size_t peer_len,
                        const char *lease_id, const char *outcome, const char *state,
                        const char *detail) {
    brk_workers_t *self = ctx;
    s_worker_t *w = s_find(self, peer, peer_len);
    if (!strcmp(state, "not-holder") || !strcmp(state, "wrong-lease")) {
        s_foreign(self, w, peer, peer_len, lease_id, state);
        return;
    }
    bool applied = strcmp(state, "stale") && strcmp(state, "gone") && strcmp(state, "bad-lease") &&
                   strncmp(state, "refused", 7);
    if (!w || !applied)
        return;
    s_held_done(w);
    if (!strcmp(outcome, "CONFIG_ERROR") && !w->halted)
        s_halt(self, w, detail, now_ms);
}

static void s_on_leaving(brk_workers_t *self, s_worker_t *w, const Pregon__Leaving *l,
                         int64_t now_ms) {
    char why[120];
    snprintf(why, sizeof why, "%.100s", l->reason ? l->reason : "");
    rl_channel_t ch = w->channel;
    if (l->done) {
        pg_log("worker %s on %s left (%s)", w->name, rl_channel_name(ch), why);
        s_remove(self, w);
    } else {
        w->leaving = true;
        w->credit = 0;
        Pregon__LeaveAck ack = PREGON__LEAVE_ACK__INIT;
        Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
        msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_LEAVE_ACK;
        msg.leave_ack = &ack;
        s_send(self, w, &msg, now_ms);
        pg_log("worker %s on %s leaving (%s): no more jobs for it", w->name, rl_channel_name(ch),
               why);
    }
    s_channel_changed(self, ch, now_ms);
}

bool brk_workers_handle(brk_workers_t *self, int64_t now_ms) {
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return false;
    }
    zmq_msg_init(&body);
    bool two = zmq_msg_more(&id) && zmq_msg_recv(&body, self->sock, 0) >= 0;
    while (two && zmq_msg_more(&body)) { /* more than two frames: drain, then refuse */
        two = false;
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        int more = 1;
        while (more && zmq_msg_recv(&extra, self->sock, 0) >= 0)
            more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    Pregon__WorkerToBroker *msg =
        two ? pregon__worker_to_broker__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body))
            : NULL;
    const brk_identity_t *ident = msg ? brk_auth_peer(self->auth, &body) : NULL;
    if (!msg || !ident) { /* no identity: its key was removed since it connected */
        self->n->bad_frames++;
        if (msg)
            pregon__worker_to_broker__free_unpacked(msg, NULL);
    } else {
        s_worker_t *w = s_find(self, zmq_msg_data(&id), zmq_msg_size(&id));
        if (w && strcmp(w->key, ident->name) != 0)
            w = NULL; /* not the entry's key: that peer is not this worker */
        if (w)
            w->last_seen_ms = now_ms;
        switch (msg->msg_case) {
            case PREGON__WORKER_TO_BROKER__MSG_READY:
                s_on_ready(self, zmq_msg_data(&id), zmq_msg_size(&id), ident, msg->ready, now_ms);
                break;
            case PREGON__WORKER_TO_BROKER__MSG_CREDIT:
                if (w && !w->leaving && !w->halted)
                    w->credit = s_clamp_credit(self, (uint64_t)w->credit + msg->credit->credit);
                break;
            case PREGON__WORKER_TO_BROKER__MSG_HEARTBEAT:
                break;
            case PREGON__WORKER_TO_BROKER__MSG_REPORT:
                s_on_report(self, w, ident, &id, msg->report, now_ms);
                break;
            case PREGON__WORKER_TO_BROKER__MSG_LEAVING:
                if (w)
                    s_on_leaving(self, w, msg->leaving, now_ms);
                break;
            default:
                self->n->bad_frames++;
                break;
        }
        pregon__worker_to_broker__free_unpacked(msg, NULL);
    }
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return true;
}

/* Renders and sends one leased job to w; a job that cannot be rendered is FAILED. */
static void s_dispatch_one(brk_workers_t *self, s_worker_t *w, const brk_leased_t *job,
                           int64_t lease_until_ms, int64_t now_ms) {
    Pregon__SendRequest *req = pregon__send_request__unpack(NULL, job->payload_len, job->payload);
    if (!req) { /* cannot happen for what admission stored; fail the job rather than loop */
        brk_reports_add(self->reports, now_ms, job->lease_id, "FAILED", w->channel, "", "",
                        "stored payload unreadable", 0, NULL, 0, 0, NULL);
        return;
    }
    const char *keys[MAX_VARS], *values[MAX_VARS];
    size_t nv = req->n_variables < MAX_VARS ? req->n_variables : MAX_VARS;
    for (size_t i = 0; i < nv; i++) {
        keys[i] = req->variables[i]->key;
        values[i] = req->variables[i]->value;
    }
    Pregon__Content *content = NULL;
    const char *why = NULL;
    const brk_tpl_t *tpl = brk_tpl_get(self->rules->templates, req->template_id);
    /* for the channel of the worker that sends it (the queue's: the job's own) */
    if (brk_tpl_render_content(tpl, (int)w->channel, keys, values, nv, &content, &why) < 0) {
        brk_reports_add(self->reports, now_ms, job->lease_id, "FAILED", w->channel, "", "",
                        why ? why : "template", 0, NULL, 0, 0, NULL);
        pregon__send_request__free_unpacked(req, NULL);
        return;
    }
    Pregon__Dispatch d = PREGON__DISPATCH__INIT;
    d.job = req;
    d.lease_id = job->lease_id;
    d.lease_expires_ms = lease_until_ms;
    d.attempt = job->attempt;
    d.content = content;
    d.window_until_ms = job->window_until_ms; /* 0 unless the job needs the service window */
    /* "key/worker_id#incarnation", the lease's holder: the incarnation follows the holder */
    d.worker_incarnation = w->tag + strlen(w->holder);
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_DISPATCH;
    msg.dispatch = &d;
    s_send(self, w, &msg, now_ms);
    /* what it carried, for the audit (sent in brk_workers_dispatch, after the batch) */
    brk_evidence_append(self->evidence, req, job->attempt, content, now_ms);
    w->credit--;
    w->dispatched++;
    s_held_add(self, w, now_ms);
    self->n->dispatched++;
    brk_reports_contact(self->reports, now_ms, (int)req->channel, req->contact, req->tenant,
                        req->debtor_id, req->job_id, req->sender);
    brk_tpl_content_free(&content);
    pregon__send_request__free_unpacked(req, NULL);
}

size_t brk_workers_dispatch(brk_workers_t *self, int64_t now_ms) {
    size_t total = 0;
    if (self->n_workers == 0 || !brk_redis_ok(self->redis, now_ms))
        return 0;
    if (brk_workers_recover_lost(self, now_ms) < 0)
        return 0;
    brk_store_t *store = brk_redis_store(self->redis);
    for (size_t k = 0; k < self->n_workers; k++) {
        s_worker_t *w = &self->w[(self->rr + k) % self->n_workers];
        if (!w->credit || !s_takes_jobs(w))
            continue;
        /* lease until the worker's credit is spent or the queues are empty: a worker left
         * idle while admission runs is throughput lost for good */
        for (int round = 0; round < 8; round++) {
            uint32_t room = s_room(self, w, now_ms);
            if (!room)
                break;
            int want = room < LEASE_ROUND ? (int)room : LEASE_ROUND;
            int64_t until = now_ms + self->cfg->lease_ms;
            brk_leased_t *jobs;
            size_t n;
            size_t lost_before = brk_lost_count(self->lost);
            if (brk_store_lease(store, w->channel, want, until, now_ms, w->tag, self->lost, &jobs,
                                &n) < 0) {
                if (brk_lost_count(self->lost) != lost_before)
                    pg_log("lease call for worker %s failed with its outcome unknown (%s): its "
                           "leases are handed back once Redis answers",
                           w->name, brk_store_strerror(store));
                brk_redis_drop(self->redis, brk_store_strerror(store));
                return total;
            }
            for (size_t i = 0; i < n; i++)
                s_dispatch_one(self, w, &jobs[i], until, now_ms);
            if (brk_evidence_flush(self->evidence, brk_redis_context(self->redis)) < 0 &&
                brk_redis_context(self->redis)->err)
                brk_redis_drop(self->redis, "CONTENT records: Redis went away");
            total += n;
            brk_store_leased_free(jobs, n);
            if (n < (size_t)want)
                break;
        }
    }
    self->rr++;
    return total;
}

int brk_workers_recover_lost(brk_workers_t *self, int64_t now_ms) {
    if (brk_lost_count(self->lost) == 0)
        return 0;
    brk_store_t *store = brk_redis_ok(self->redis, now_ms) ? brk_redis_store(self->redis) : NULL;
    if (!store)
        return -1;
    const brk_lost_call_t *first = brk_lost_oldest(self->lost);
    int channel = first->channel, asked = first->n;
    size_t calls = brk_lost_count(self->lost);
    brk_leased_t *found;
    size_t n;
    int rc = brk_store_recover_lost(store, self->lost, &found, &n);
    for (size_t i = 0; i < n; i++)
        brk_reports_add(self->reports, now_ms, found[i].lease_id, "HANDBACK", channel, "", "",
                        "lease answer lost: never dispatched", now_ms / 1000, NULL, 0, 0, NULL);
    self->n->handed_back_unanswered += n;
    pg_log("recovered %zu lease call(s) whose answer was lost (first: %s, %d job(s) asked): %zu "
           "lease(s) found in Redis, never dispatched: handed back%s",
           calls - brk_lost_count(self->lost), rl_channel_name((rl_channel_t)channel), asked, n,
           rc < 0 ? "; Redis failed before the rest" : "");
    brk_store_leased_free(found, n);
    brk_reports_flush(self->reports, now_ms); /* before any expiry sweep reads the leases */
    if (rc < 0) {
        brk_redis_drop(self->redis, brk_store_strerror(store));
        return -1;
    }
    return 0;
}

void brk_workers_tick(brk_workers_t *self, int64_t now_ms) {
    const int64_t hb = self->cfg->heartbeat_ms;
    pg_logsum_tick(self->logsum);
    for (size_t i = 0; i < self->n_workers;) {
        s_worker_t *w = &self->w[i];
        if (now_ms - w->last_seen_ms > 3 * hb) {
            rl_channel_t ch = w->channel;
            pg_log("worker %s on %s is gone (no heartbeat for %lld ms); its leases expire", w->name,
                   rl_channel_name(ch), (long long)(now_ms - w->last_seen_ms));
            s_remove(self, w);
            s_channel_changed(self, ch, now_ms);
            continue;
        }
        if (now_ms - w->last_sent_ms >= hb) {
            Pregon__Heartbeat h = PREGON__HEARTBEAT__INIT;
            h.at_ms = now_ms;
            Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
            msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_HEARTBEAT;
            msg.heartbeat = &h;
            s_send(self, w, &msg, now_ms);
        }
        i++;
    }
    for (int c = 1; c < RL_CH_COUNT; c++) {
        if (!(self->cfg->channels & RL_CH_BIT(c)) || !self->no_worker_since[c] ||
            self->no_worker_logged[c])
            continue;
        if (now_ms - self->no_worker_since[c] >= (int64_t)self->cfg->no_worker_warn_s * 1000) {
            pg_log("channel %s is enabled but has had no worker for %d s: its jobs wait in the "
                   "queue",
                   rl_channel_name((rl_channel_t)c), self->cfg->no_worker_warn_s);
            self->no_worker_logged[c] = true;
        }
    }
}

void brk_workers_ack(void *ctx, const void *peer, size_t peer_len, const uint64_t *seqs, size_t n) {
    brk_workers_t *self = ctx;
    Pregon__ReportAck ack = PREGON__REPORT_ACK__INIT;
    ack.seqs = (uint64_t *)seqs;
    ack.n_seqs = n;
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_REPORT_ACK;
    msg.report_ack = &ack;
    size_t len = pregon__broker_to_worker__get_packed_size(&msg);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return; /* the worker keeps vouching for those leases until they expire: safe */
    pregon__broker_to_worker__pack(&msg, buf);
    zmq_send(self->sock, peer, peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->sock, buf, len, ZMQ_DONTWAIT);
    if (buf != stackbuf)
        free(buf);
}

bool brk_workers_any(const brk_workers_t *self) {
    for (size_t i = 0; i < self->n_workers; i++)
        if (s_takes_jobs(&self->w[i]))
            return true;
    return false;
}

void brk_workers_channel(const brk_workers_t *self, int channel, brk_workers_channel_t *out) {
    memset(out, 0, sizeof *out);
    if (!self || channel <= 0 || channel >= RL_CH_COUNT)
        return;
    for (size_t i = 0; i < self->n_workers; i++) {
        const s_worker_t *w = &self->w[i];
        if ((int)w->channel != channel)
            continue;
        out->held += w->held;
        if (!s_takes_jobs(w))
            continue;
        out->workers++;
        out->credit += w->credit;
    }
    out->halted = self->channel_halted[channel];
}

long long brk_workers_ready_jobs(brk_workers_t *self, int64_t now_ms) {
    brk_store_t *store = brk_redis_ok(self->redis, now_ms) ? brk_redis_store(self->redis) : NULL;
    if (!store)
        return -1;
    long long total = 0;
    for (int c = 1; c < RL_CH_COUNT; c++) {
        if (!s_channel_has_worker(self, (rl_channel_t)c))
            continue;
        long long n = brk_store_queue_len(store, (rl_channel_t)c);
        total += n > 0 ? n : 0;
    }
    return total;
}

/* brk_workers.c — the worker table, the backend protocol and dispatch (see brk_workers.h). */
#include "brk_workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "brk_template.h"
#include "pg_log.h"
#include "pregon.pb-c.h"

#define MAX_WORKERS 256
#define MAX_ID      255
#define MAX_CREDIT  100000 /* a hostile worker cannot make the broker lease more than this */
#define LEASE_ROUND 512    /* jobs leased per store call and worker */
#define MAX_VARS    64
#define MAX_HELD    65536 /* leases one WorkerReady may list: the worker's 2 MiB bound, in ids */

typedef struct {
    unsigned char id[MAX_ID];
    size_t id_len;
    char name[80]; /* worker_id, escaped for logs */
    char tag[200]; /* worker_id#incarnation, recorded with its leases */
    rl_channel_t channel;
    uint32_t credit;
    int64_t last_seen_ms, last_sent_ms;
    bool halted, leaving;
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
};

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
    if (!self->w) {
        free(self);
        return NULL;
    }
    for (int c = 1; c < RL_CH_COUNT; c++)
        self->no_worker_since[c] = now_ms;
    return self;
}

void brk_workers_destroy(brk_workers_t **self_p) {
    if (!self_p || !*self_p)
        return;
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
                        "lost in transit: the worker never received it", now_ms / 1000, NULL, 0, 0);
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
    char tag[200];
    snprintf(tag, sizeof tag, "%.*s#%.64s", 120, r->worker_id ? r->worker_id : "",
             r->previous_incarnation);
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
                        NULL, 0, 0);
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
                       const Pregon__WorkerReady *r, int64_t now_ms) {
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
    s_worker_t *w = s_find(self, id, id_len);
    bool rejoin = w != NULL;
    if (!w) {
        if (self->n_workers == MAX_WORKERS) {
            pg_log("worker %s refused: %d workers already", name, MAX_WORKERS);
            return;
        }
        w = &self->w[self->n_workers++];
        memset(w, 0, sizeof *w);
        memcpy(w->id, id, id_len);
        w->id_len = id_len;
    }
    rl_channel_t was = w->channel;
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->tag, sizeof w->tag, "%.*s#%.64s", 120, r->worker_id ? r->worker_id : "",
             r->incarnation ? r->incarnation : "");
    w->channel = ch;
    w->credit = r->credit < MAX_CREDIT ? r->credit : MAX_CREDIT;
    w->halted = w->leaving = false;
    w->last_seen_ms = now_ms;
    pg_log("worker %s %s on %s with credit %u, holding %zu lease(s)", w->name,
           rejoin ? "ready again" : "joined", rl_channel_name(ch), w->credit, r->n_held_leases);
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

static void s_on_report(brk_workers_t *self, s_worker_t *w, const zmq_msg_t *id,
                        const Pregon__DeliveryReport *r, int64_t now_ms) {
    const char *outcome = s_outcome_name(r->outcome);
    self->n->reports++;
    if (!outcome || !r->lease_id || !r->lease_id[0]) {
        self->n->bad_frames++;
        return;
    }
    brk_reports_add(self->reports, now_ms, r->lease_id, outcome, r->channel, r->provider_id,
                    r->provider_code, r->detail,
                    r->retry_at_ms ? r->retry_at_ms / 1000 : now_ms / 1000 + 1,
                    zmq_msg_data((zmq_msg_t *)id), zmq_msg_size((zmq_msg_t *)id), r->seq);
    if (r->outcome == PREGON__DELIVERY_REPORT__OUTCOME__CONFIG_ERROR && w && !w->halted)
        s_halt(self, w, r->detail, now_ms);
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
    if (!msg) {
        self->n->bad_frames++;
    } else {
        s_worker_t *w = s_find(self, zmq_msg_data(&id), zmq_msg_size(&id));
        if (w)
            w->last_seen_ms = now_ms;
        switch (msg->msg_case) {
            case PREGON__WORKER_TO_BROKER__MSG_READY:
                s_on_ready(self, zmq_msg_data(&id), zmq_msg_size(&id), msg->ready, now_ms);
                break;
            case PREGON__WORKER_TO_BROKER__MSG_CREDIT:
                if (w && !w->leaving && !w->halted)
                    w->credit = w->credit + msg->credit->credit < MAX_CREDIT
                                    ? w->credit + msg->credit->credit
                                    : MAX_CREDIT;
                break;
            case PREGON__WORKER_TO_BROKER__MSG_HEARTBEAT:
                break;
            case PREGON__WORKER_TO_BROKER__MSG_REPORT:
                s_on_report(self, w, &id, msg->report, now_ms);
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
                        "stored payload unreadable", 0, NULL, 0, 0);
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
                        why ? why : "template", 0, NULL, 0, 0);
        pregon__send_request__free_unpacked(req, NULL);
        return;
    }
    Pregon__Dispatch d = PREGON__DISPATCH__INIT;
    d.job = req;
    d.lease_id = job->lease_id;
    d.lease_expires_ms = lease_until_ms;
    d.attempt = job->attempt;
    d.content = content;
    const char *inc = strrchr(w->tag, '#'); /* "worker_id#incarnation": the lease's holder */
    d.worker_incarnation = (char *)(inc ? inc + 1 : "");
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_DISPATCH;
    msg.dispatch = &d;
    s_send(self, w, &msg, now_ms);
    w->credit--;
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
    brk_store_t *store = brk_redis_store(self->redis);
    for (size_t k = 0; k < self->n_workers; k++) {
        s_worker_t *w = &self->w[(self->rr + k) % self->n_workers];
        if (!w->credit || !s_takes_jobs(w))
            continue;
        /* lease until the worker's credit is spent or the queues are empty: a worker left
         * idle while admission runs is throughput lost for good */
        for (int round = 0; w->credit && round < 8; round++) {
            int want = w->credit < LEASE_ROUND ? (int)w->credit : LEASE_ROUND;
            int64_t until = now_ms + self->cfg->lease_ms;
            brk_leased_t *jobs;
            size_t n;
            if (brk_store_lease(store, w->channel, want, until, now_ms, w->tag, &jobs, &n) < 0) {
                brk_redis_drop(self->redis, brk_store_strerror(store));
                return total;
            }
            for (size_t i = 0; i < n; i++)
                s_dispatch_one(self, w, &jobs[i], until, now_ms);
            total += n;
            brk_store_leased_free(jobs, n);
            if (n < (size_t)want)
                break;
        }
    }
    self->rr++;
    return total;
}

void brk_workers_tick(brk_workers_t *self, int64_t now_ms) {
    const int64_t hb = self->cfg->heartbeat_ms;
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

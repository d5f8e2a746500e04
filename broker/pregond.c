/* pregond.c — the broker process: one event loop over the submit and worker sockets.
 *
 * Frontend ROUTER: SubmitBatch in, SubmitReply out (one verdict per job, answered only once the
 * job is in Redis). Backend ROUTER: channel workers announce credit; the loop leases at most that
 * many ready jobs to each and applies their reports. Timers release due retries and deferrals,
 * expire leases and exchange heartbeats. Redis state is the truth: this process keeps only the
 * worker table and counters, so it can be killed and restarted at any moment.
 * Signal handlers only set a flag; all logging happens here, at the top level. */
#include <malloc.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <zmq.h>

#include "brk_config.h"
#include "brk_store.h"
#include "brk_submit.h"
#include "brk_template.h"
#include "pregon.pb-c.h"
#include "rl_admit.h"
#include "rl_policyset.h"

/* FRONT_BUDGET_MS: admission work per turn (at least one batch), so that workers, heartbeats
 * and dispatch run between batches and sending never starves. RELEASE_LOW_WATER: a backlog of
 * due jobs is released faster than the timer's DUE_CHUNK per tick while the workers' ready
 * queues hold fewer jobs than this. */
#define MAX_WORKERS       256
#define MAX_ID            256
#define LEASE_CHUNK       256 /* jobs leased per Redis call */
#define TIMER_MS          200
#define DUE_CHUNK         500
#define RELEASE_LOW_WATER 10000
#define FINISHED_TTL_S    (35LL * 86400)
#define MAX_FRONT_PER_RUN 64
#define FRONT_BUDGET_MS   5

static volatile sig_atomic_t s_stop;
static void s_on_signal(int sig) {
    (void)sig;
    s_stop = 1;
}

typedef struct {
    unsigned char id[MAX_ID];
    size_t id_len;
    char name[64];
    rl_channel_t channel;
    uint32_t credit;
    int64_t last_seen_ms;
    int64_t last_sent_ms;
    int halted;
} s_worker_t;

typedef struct {
    uint64_t verdicts[7];
    uint64_t bad_frames, too_large, dispatched, reports, stale_reports, expired_leases;
    uint64_t released_deferred, redis_errors;
} s_counters_t;

/* A worker report waiting for the end of the loop turn, when all of them go to Redis at once. */
typedef struct {
    char job_key[512];
    char outcome[16];
    unsigned attempt;
    int channel;
    char provider_id[96];
    char provider_code[16];
    char detail[256];
    int64_t retry_at;
} s_pending_report_t;

#define MAX_PENDING 4096

typedef struct {
    brk_config_t cfg;
    s_pending_report_t *pending; /* MAX_PENDING */
    size_t n_pending;
    void *zctx, *front, *back, *pub;
    redisContext *redis;
    rl_admit_t *admit;
    brk_store_t *store;
    rl_policyset_t *policies;
    brk_tpl_catalog_t *templates;
    s_worker_t workers[MAX_WORKERS];
    size_t n_workers;
    size_t rr; /* round-robin start */
    int channel_halted[RL_CH_COUNT];
    int redis_down;
    int64_t next_timer_ms, next_redis_try_ms;
    int deferred_backlog, retry_backlog, lease_backlog; /* the last pass found a full chunk */
    s_counters_t n;
} s_broker_t;

static void s_log(const char *fmt, ...) {
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s pregond: ", ts);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int64_t s_now_ms(const s_broker_t *b) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + b->cfg.clock_offset_s * 1000;
}

/* --- Redis connection: fail closed ------------------------------------------------------- */

static void s_redis_drop(s_broker_t *b, const char *why) {
    if (!b->redis_down)
        s_log("redis unavailable (%s): admitting nothing, answering BUSY until it is back", why);
    b->redis_down = 1;
    b->n.redis_errors++;
    rl_admit_destroy(&b->admit);
    brk_store_destroy(&b->store);
    if (b->redis)
        redisFree(b->redis);
    b->redis = NULL;
}

static int s_redis_connect(s_broker_t *b) {
    struct timeval tv = {2, 0};
    redisContext *c = b->cfg.redis_socket[0]
                          ? redisConnectUnixWithTimeout(b->cfg.redis_socket, tv)
                          : redisConnectWithTimeout(b->cfg.redis_host, b->cfg.redis_port, tv);
    if (!c || c->err) {
        if (!b->redis_down)
            s_log("cannot connect to redis: %s", c ? c->errstr : "out of memory");
        b->redis_down = 1;
        if (c)
            redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    b->redis = c;
    b->admit = rl_admit_new(c, b->cfg.redis_prefix);
    b->store = brk_store_new(c, b->cfg.redis_prefix, FINISHED_TTL_S, b->cfg.max_attempts,
                             b->cfg.resend_unknown);
    if (!b->admit || !b->store) {
        s_redis_drop(b, "out of memory");
        return -1;
    }
    if (b->redis_down)
        s_log("redis is back: admitting again");
    b->redis_down = 0;
    return 0;
}

static int s_redis_ok(s_broker_t *b) {
    if (b->redis && !b->redis->err)
        return 1;
    if (b->redis)
        s_redis_drop(b, b->redis->errstr);
    int64_t now = s_now_ms(b);
    if (now < b->next_redis_try_ms)
        return 0;
    b->next_redis_try_ms = now + 1000;
    return s_redis_connect(b) == 0;
}

/* --- events ------------------------------------------------------------------------------ */

static void s_event(s_broker_t *b, const char *type, const char *tenant, const char *job_id,
                    int channel, const Pregon__Verdict *v, const char *detail) {
    if (!b->pub)
        return;
    Pregon__Event ev = PREGON__EVENT__INIT;
    ev.type = (char *)type;
    ev.tenant = (char *)(tenant ? tenant : "");
    ev.job_id = (char *)(job_id ? job_id : "");
    ev.channel = (Pregon__Channel)channel;
    ev.verdict = (Pregon__Verdict *)v;
    ev.at_ms = s_now_ms(b);
    ev.detail = (char *)(detail ? detail : "");
    size_t len = pregon__event__get_packed_size(&ev);
    uint8_t stackbuf[2048], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return;
    pregon__event__pack(&ev, buf);
    zmq_send(b->pub, type, strlen(type), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(b->pub, buf, len, ZMQ_DONTWAIT);
    if (buf != stackbuf)
        free(buf);
}

/* --- frontend: submit -------------------------------------------------------------------- */

typedef struct {
    zmq_msg_t frames[16];
    int n;
} s_multipart_t;

static int s_recv_multipart(void *sock, s_multipart_t *m) {
    m->n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, sock, m->n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&tmp);
            return m->n == 0 ? -1 : m->n;
        }
        more = zmq_msg_more(&tmp);
        if (m->n < 16) {
            m->frames[m->n++] = tmp;
        } else { /* too many envelope frames: keep the identity and the last frame */
            zmq_msg_close(&m->frames[15]);
            m->frames[15] = tmp;
        }
    }
    return m->n;
}

static void s_close_multipart(s_multipart_t *m) {
    for (int i = 0; i < m->n; i++)
        zmq_msg_close(&m->frames[i]);
    m->n = 0;
}

/* Sends the envelope of m (every frame but the last) then `reply`. */
static void s_reply(s_broker_t *b, s_multipart_t *m, const Pregon__SubmitReply *reply) {
    size_t len = pregon__submit_reply__get_packed_size(reply);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    pregon__submit_reply__pack(reply, buf);
    for (int i = 0; i < m->n - 1; i++)
        zmq_send(b->front, zmq_msg_data(&m->frames[i]), zmq_msg_size(&m->frames[i]),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(b->front, buf, len, ZMQ_DONTWAIT);
    free(buf);
}

static void s_reply_error(s_broker_t *b, s_multipart_t *m, const char *batch_id, const char *error,
                          const char *detail) {
    Pregon__SubmitReply reply = PREGON__SUBMIT_REPLY__INIT;
    reply.batch_id = (char *)(batch_id ? batch_id : "");
    reply.error = (char *)error;
    reply.error_detail = (char *)detail;
    s_reply(b, m, &reply);
}

/* Admits `n` requests (readmit: deferred jobs coming due) and fills verdicts (may be NULL). */
static void s_admit(s_broker_t *b, Pregon__SendRequest **reqs, const void *const *payloads,
                    const size_t *payload_lens, size_t n, int readmit,
                    rl_admit_verdict_t *verdicts) {
    rl_admit_job_t *jobs = calloc(n, sizeof *jobs);
    if (!jobs) {
        for (size_t i = 0; i < n; i++) {
            verdicts[i].code = RL_V_BUSY;
            snprintf(verdicts[i].reason, sizeof verdicts[i].reason, "no-memory");
        }
        return;
    }
    const int64_t now_ms = s_now_ms(b);
    long long qlen[RL_CH_COUNT];
    for (int c = 0; c < RL_CH_COUNT; c++)
        qlen[c] = -2;
    int any_busy = 0;
    for (size_t i = 0; i < n; i++) {
        /* lower score first: higher priority, then arrival */
        double score = (double)now_ms - (double)reqs[i]->priority * 1e11;
        brk_submit_prepare(b->policies, b->templates, reqs[i], payloads[i], payload_lens[i], score,
                           readmit, &jobs[i]);
        int ch = (int)reqs[i]->channel;
        if (!readmit && !jobs[i].reject_reason && ch > 0 && ch < RL_CH_COUNT) {
            if (qlen[ch] == -2)
                qlen[ch] = brk_store_queue_len(b->store, (rl_channel_t)ch);
            if (qlen[ch] >= b->cfg.max_queue)
                any_busy = 1;
        }
    }
    if (any_busy) { /* G6: refuse what would go past the queue limit, admit the rest */
        size_t m = 0;
        rl_admit_job_t *keep = calloc(n, sizeof *keep);
        size_t *where = calloc(n, sizeof *where);
        rl_admit_verdict_t *sub = calloc(n, sizeof *sub);
        if (!keep || !where || !sub) {
            free(keep), free(where), free(sub);
            for (size_t i = 0; i < n; i++)
                verdicts[i].code = RL_V_BUSY;
            free(jobs);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            int ch = (int)reqs[i]->channel;
            if (!jobs[i].reject_reason && ch > 0 && ch < RL_CH_COUNT &&
                qlen[ch] >= b->cfg.max_queue) {
                memset(&verdicts[i], 0, sizeof verdicts[i]);
                verdicts[i].code = RL_V_BUSY;
                snprintf(verdicts[i].reason, sizeof verdicts[i].reason, "queue-full");
            } else {
                keep[m] = jobs[i];
                where[m++] = i;
            }
        }
        if (m && rl_admit_batch(b->admit, keep, m, now_ms / 1000, sub) < 0)
            s_redis_drop(b, rl_admit_strerror(b->admit));
        for (size_t k = 0; k < m; k++)
            verdicts[where[k]] = sub[k];
        free(keep), free(where), free(sub);
    } else if (rl_admit_batch(b->admit, jobs, n, now_ms / 1000, verdicts) < 0) {
        s_redis_drop(b, rl_admit_strerror(b->admit));
    }
    free(jobs);
}

/* Handles one submit message; returns false when none was waiting. */
static bool s_handle_submit(s_broker_t *b) {
    s_multipart_t m;
    if (s_recv_multipart(b->front, &m) < 0)
        return false;
    if (m.n < 2) { /* a ROUTER always prefixes the identity; nothing to answer without a body */
        b->n.bad_frames++;
        s_close_multipart(&m);
        return true;
    }
    zmq_msg_t *body = &m.frames[m.n - 1];
    if (zmq_msg_size(body) > (size_t)b->cfg.max_frame_bytes) {
        b->n.too_large++;
        char detail[96];
        snprintf(detail, sizeof detail, "frame of %zu bytes; the limit is %d", zmq_msg_size(body),
                 b->cfg.max_frame_bytes);
        s_reply_error(b, &m, NULL, "too-large", detail);
        s_close_multipart(&m);
        return true;
    }
    Pregon__SubmitBatch *batch =
        pregon__submit_batch__unpack(NULL, zmq_msg_size(body), zmq_msg_data(body));
    if (!batch) {
        b->n.bad_frames++;
        s_reply_error(b, &m, NULL, "bad-frame", "not a serialized pregon.SubmitBatch");
        s_close_multipart(&m);
        return true;
    }
    if (batch->n_jobs > (size_t)b->cfg.max_batch) {
        b->n.too_large++;
        char detail[96];
        snprintf(detail, sizeof detail, "%zu jobs; the limit is %d", batch->n_jobs,
                 b->cfg.max_batch);
        s_reply_error(b, &m, batch->batch_id, "too-large", detail);
        pregon__submit_batch__free_unpacked(batch, NULL);
        s_close_multipart(&m);
        return true;
    }
    size_t n = batch->n_jobs;
    rl_admit_verdict_t *verdicts = calloc(n ? n : 1, sizeof *verdicts);
    void **payloads = calloc(n ? n : 1, sizeof *payloads);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    Pregon__Verdict *pv = calloc(n ? n : 1, sizeof *pv);
    Pregon__Verdict **pvp = calloc(n ? n : 1, sizeof *pvp);
    int ok = verdicts && payloads && lens && pv && pvp;
    for (size_t i = 0; ok && i < n; i++) {
        lens[i] = pregon__send_request__get_packed_size(batch->jobs[i]);
        payloads[i] = malloc(lens[i] ? lens[i] : 1);
        if (!payloads[i])
            ok = 0;
        else
            pregon__send_request__pack(batch->jobs[i], payloads[i]);
    }
    if (ok && n) {
        if (s_redis_ok(b)) {
            s_admit(b, batch->jobs, (const void *const *)payloads, lens, n, 0, verdicts);
        } else {
            for (size_t i = 0; i < n; i++) {
                verdicts[i].code = RL_V_BUSY;
                snprintf(verdicts[i].reason, sizeof verdicts[i].reason, "redis-unavailable");
            }
        }
    }
    Pregon__SubmitReply reply = PREGON__SUBMIT_REPLY__INIT;
    reply.batch_id = batch->batch_id;
    if (ok) {
        for (size_t i = 0; i < n; i++) {
            pregon__verdict__init(&pv[i]);
            pv[i].job_id = batch->jobs[i]->job_id;
            pv[i].code = (Pregon__Verdict__Code)verdicts[i].code;
            pv[i].until = verdicts[i].until;
            pv[i].reason = verdicts[i].reason;
            pv[i].rule = verdicts[i].rule;
            pv[i].first = (Pregon__Verdict__Code)verdicts[i].first;
            pvp[i] = &pv[i];
            if (verdicts[i].code >= 1 && verdicts[i].code <= 6)
                b->n.verdicts[verdicts[i].code]++;
            s_event(b, "verdict", batch->jobs[i]->tenant, batch->jobs[i]->job_id,
                    batch->jobs[i]->channel, &pv[i], NULL);
        }
        reply.verdicts = pvp;
        reply.n_verdicts = n;
        s_reply(b, &m, &reply);
    } else {
        s_reply_error(b, &m, batch->batch_id, "busy", "out of memory");
    }
    for (size_t i = 0; payloads && i < n; i++)
        free(payloads[i]);
    free(verdicts), free(payloads), free(lens), free(pv), free(pvp);
    pregon__submit_batch__free_unpacked(batch, NULL);
    s_close_multipart(&m);
    return true;
}

/* --- backend: workers -------------------------------------------------------------------- */

static s_worker_t *s_worker(s_broker_t *b, const void *id, size_t len, int create) {
    for (size_t i = 0; i < b->n_workers; i++)
        if (b->workers[i].id_len == len && memcmp(b->workers[i].id, id, len) == 0)
            return &b->workers[i];
    if (!create || b->n_workers == MAX_WORKERS || len > MAX_ID)
        return NULL;
    s_worker_t *w = &b->workers[b->n_workers++];
    memset(w, 0, sizeof *w);
    memcpy(w->id, id, len);
    w->id_len = len;
    return w;
}

static void s_send_worker(s_broker_t *b, s_worker_t *w, const Pregon__BrokerToWorker *msg) {
    size_t len = pregon__broker_to_worker__get_packed_size(msg);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return;
    pregon__broker_to_worker__pack(msg, buf);
    zmq_send(b->back, w->id, w->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(b->back, buf, len, ZMQ_DONTWAIT);
    w->last_sent_ms = s_now_ms(b);
    if (buf != stackbuf)
        free(buf);
}

/* Splits a job key "P:{T:D}:j:JOB" into tenant, debtor and job id (in buf). */
static int s_split_job_key(const char *key, char *buf, size_t len, const char **tenant,
                           const char **debtor, const char **job_id) {
    snprintf(buf, len, "%s", key);
    char *open = strchr(buf, '{');
    char *close = open ? strchr(open, '}') : NULL;
    char *colon = open ? strchr(open, ':') : NULL;
    if (!open || !close || !colon || colon > close || strncmp(close, "}:j:", 4) != 0)
        return -1;
    *colon = '\0';
    *close = '\0';
    *tenant = open + 1;
    *debtor = colon + 1;
    *job_id = close + 4;
    return 0;
}

/* Lease id sent to a worker: "ATTEMPT/JOBKEY" — self-describing, so reports survive a restart. */
static int s_parse_lease(const char *lease, unsigned *attempt, const char **job_key) {
    char *slash = strchr(lease, '/');
    if (!slash)
        return -1;
    *attempt = (unsigned)strtoul(lease, NULL, 10);
    *job_key = slash + 1;
    return *attempt ? 0 : -1;
}

static const char *s_outcome_name(int o) {
    /* report.lua's names; HANDBACK: returned untried, not an attempt */
    static const char *const names[] = {"?",       "SENT",         "DELIVERED", "FAILED",  "RETRY",
                                        "UNKNOWN", "CONFIG_ERROR", "SKIPPED",   "HANDBACK"};
    return (o >= 1 && o <= 8) ? names[o] : NULL;
}

static void s_apply_report(s_broker_t *b, const char *job_key, unsigned attempt,
                           const char *outcome, int channel, const char *provider_id,
                           const char *provider_code, const char *detail, int64_t retry_at) {
    char buf[512], state[32];
    const char *tenant, *debtor, *job_id;
    if (!b->store)
        return; /* Redis went away: the lease expires and the job is handled then */
    if (s_split_job_key(job_key, buf, sizeof buf, &tenant, &debtor, &job_id) < 0) {
        b->n.stale_reports++;
        return;
    }
    brk_report_t r = {outcome,     attempt,       job_id, tenant,  debtor, (rl_channel_t)channel,
                      provider_id, provider_code, detail, retry_at};
    if (brk_store_report(b->store, &r, s_now_ms(b) / 1000, state, sizeof state) < 0) {
        s_log("report for %s not applied: %s", job_key, brk_store_strerror(b->store));
        if (b->redis && b->redis->err)
            s_redis_drop(b, b->redis->errstr);
        return;
    }
    if (strcmp(state, "stale") == 0)
        b->n.stale_reports++;
    s_event(b, "report", tenant, job_id, channel, NULL, outcome);
}

/* Applies every pending report in one pipelined round trip. */
static void s_flush_reports(s_broker_t *b) {
    if (b->n_pending == 0)
        return;
    if (!s_redis_ok(b)) { /* their leases expire and the jobs are handled then: never lost */
        b->n_pending = 0;
        return;
    }
    static brk_report_t reps[MAX_PENDING];
    static char bufs[MAX_PENDING][512], states[MAX_PENDING][32];
    size_t m = 0;
    for (size_t i = 0; i < b->n_pending; i++) {
        s_pending_report_t *p = &b->pending[i];
        const char *tenant, *debtor, *job_id;
        if (s_split_job_key(p->job_key, bufs[m], sizeof bufs[m], &tenant, &debtor, &job_id) < 0) {
            b->n.stale_reports++;
            continue;
        }
        reps[m++] = (brk_report_t){p->outcome,     p->attempt,       job_id,
                                   tenant,         debtor,           (rl_channel_t)p->channel,
                                   p->provider_id, p->provider_code, p->detail,
                                   p->retry_at};
    }
    b->n_pending = 0;
    if (brk_store_report_many(b->store, reps, m, s_now_ms(b) / 1000, states) < 0) {
        s_log("reports not applied: %s", brk_store_strerror(b->store));
        if (b->redis && b->redis->err)
            s_redis_drop(b, b->redis->errstr);
        return;
    }
    for (size_t i = 0; i < m; i++) {
        if (strcmp(states[i], "stale") == 0)
            b->n.stale_reports++;
        s_event(b, "report", reps[i].tenant, reps[i].job_id, reps[i].channel, NULL,
                reps[i].outcome);
    }
}

/* Queues a report for the end of the loop turn (flushing first when the queue is full). */
static void s_queue_report(s_broker_t *b, const char *job_key, unsigned attempt,
                           const char *outcome, int channel, const char *provider_id,
                           const char *provider_code, const char *detail, int64_t retry_at) {
    if (b->n_pending == MAX_PENDING)
        s_flush_reports(b);
    s_pending_report_t *p = &b->pending[b->n_pending++];
    snprintf(p->job_key, sizeof p->job_key, "%s", job_key);
    snprintf(p->outcome, sizeof p->outcome, "%s", outcome);
    p->attempt = attempt;
    p->channel = channel;
    snprintf(p->provider_id, sizeof p->provider_id, "%s", provider_id);
    snprintf(p->provider_code, sizeof p->provider_code, "%s", provider_code);
    snprintf(p->detail, sizeof p->detail, "%s", detail);
    p->retry_at = retry_at;
}

/* Handles one worker message; returns false when none was waiting. */
static bool s_handle_worker(s_broker_t *b) {
    s_multipart_t m;
    if (s_recv_multipart(b->back, &m) < 0)
        return false;
    if (m.n != 2) {
        b->n.bad_frames++;
        s_close_multipart(&m);
        return true;
    }
    Pregon__WorkerToBroker *msg = pregon__worker_to_broker__unpack(NULL, zmq_msg_size(&m.frames[1]),
                                                                   zmq_msg_data(&m.frames[1]));
    const void *id = zmq_msg_data(&m.frames[0]);
    size_t id_len = zmq_msg_size(&m.frames[0]);
    if (!msg) {
        b->n.bad_frames++;
        s_close_multipart(&m);
        return true;
    }
    int64_t now = s_now_ms(b);
    s_worker_t *w = s_worker(b, id, id_len, msg->msg_case == PREGON__WORKER_TO_BROKER__MSG_READY);
    if (w)
        w->last_seen_ms = now;
    switch (msg->msg_case) {
        case PREGON__WORKER_TO_BROKER__MSG_READY: {
            Pregon__WorkerReady *r = msg->ready;
            if (!w || r->channel <= 0 || r->channel >= RL_CH_COUNT) {
                b->n.bad_frames++;
                break;
            }
            w->channel = (rl_channel_t)r->channel;
            w->credit = r->credit;
            w->halted = 0;
            snprintf(w->name, sizeof w->name, "%s", r->worker_id);
            if (b->channel_halted[w->channel]) {
                s_log("channel %s resumed: worker %s is ready again", rl_channel_name(w->channel),
                      w->name);
                b->channel_halted[w->channel] = 0;
            }
            s_log("worker %s ready on %s with credit %u", w->name, rl_channel_name(w->channel),
                  w->credit);
            break;
        }
        case PREGON__WORKER_TO_BROKER__MSG_CREDIT:
            if (w)
                w->credit += msg->credit->credit;
            break;
        case PREGON__WORKER_TO_BROKER__MSG_HEARTBEAT:
            break;
        case PREGON__WORKER_TO_BROKER__MSG_REPORT: {
            Pregon__DeliveryReport *r = msg->report;
            const char *outcome = s_outcome_name(r->outcome);
            unsigned attempt;
            const char *job_key;
            b->n.reports++;
            if (!outcome || s_parse_lease(r->lease_id, &attempt, &job_key) < 0) {
                b->n.bad_frames++;
                break;
            }
            s_queue_report(b, job_key, attempt, outcome, r->channel, r->provider_id,
                           r->provider_code, r->detail,
                           r->retry_at_ms ? r->retry_at_ms / 1000 : now / 1000 + 1);
            if (r->outcome == PREGON__DELIVERY_REPORT__OUTCOME__CONFIG_ERROR && w &&
                w->channel > 0 && !b->channel_halted[w->channel]) {
                b->channel_halted[w->channel] = 1;
                s_log("channel %s halted: worker %s reports a configuration error: %s",
                      rl_channel_name(w->channel), w->name, r->detail);
                s_event(b, "halt", NULL, r->job_id, w->channel, NULL, r->detail);
            }
            break;
        }
        default:
            b->n.bad_frames++;
            break;
    }
    pregon__worker_to_broker__free_unpacked(msg, NULL);
    s_close_multipart(&m);
    return true;
}

/* Renders and sends one leased job to worker w. */
static void s_dispatch_one(s_broker_t *b, s_worker_t *w, const brk_leased_t *job,
                           int64_t lease_until_ms) {
    Pregon__SendRequest *req = pregon__send_request__unpack(NULL, job->payload_len, job->payload);
    char lease[600];
    snprintf(lease, sizeof lease, "%u/%s", job->attempt, job->job_key);
    if (!req) { /* cannot happen for what admission stored; fail the job rather than loop */
        s_apply_report(b, job->job_key, job->attempt, "FAILED", w->channel, "", "",
                       "stored payload unreadable", 0);
        return;
    }
    const char *keys[64], *values[64];
    size_t nv = req->n_variables < 64 ? req->n_variables : 64;
    for (size_t i = 0; i < nv; i++) {
        keys[i] = req->variables[i]->key;
        values[i] = req->variables[i]->value;
    }
    char *body = NULL;
    const char *why = NULL;
    if (brk_tpl_render(brk_tpl_get(b->templates, req->template_id), keys, values, nv, &body, &why) <
        0) {
        s_apply_report(b, job->job_key, job->attempt, "FAILED", w->channel, "", "",
                       why ? why : "template", 0);
        pregon__send_request__free_unpacked(req, NULL);
        return;
    }
    Pregon__Dispatch d = PREGON__DISPATCH__INIT;
    d.job = req;
    d.lease_id = lease;
    d.lease_expires_ms = lease_until_ms;
    d.attempt = job->attempt;
    d.rendered_body = body;
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_DISPATCH;
    msg.dispatch = &d;
    s_send_worker(b, w, &msg);
    w->credit--;
    b->n.dispatched++;
    free(body);
    pregon__send_request__free_unpacked(req, NULL);
}

/* Leases ready jobs to every worker with credit. Returns how many were dispatched. */
static size_t s_dispatch(s_broker_t *b) {
    size_t total = 0;
    if (b->n_workers == 0 || !s_redis_ok(b))
        return 0;
    for (size_t k = 0; k < b->n_workers; k++) {
        s_worker_t *w = &b->workers[(b->rr + k) % b->n_workers];
        if (!w->credit || w->channel <= 0 || w->halted || b->channel_halted[w->channel])
            continue;
        /* lease until the worker's credit is spent or the queue is empty: a worker left
         * idle while admission runs is throughput lost for good */
        for (int round = 0; w->credit && round < 16; round++) {
            int want = w->credit < LEASE_CHUNK ? (int)w->credit : LEASE_CHUNK;
            int64_t until = s_now_ms(b) + b->cfg.lease_ms;
            brk_leased_t *jobs;
            size_t n;
            if (brk_store_lease(b->store, w->channel, want, until, s_now_ms(b) / 1000, &jobs, &n) <
                0) {
                s_redis_drop(b, brk_store_strerror(b->store));
                return total;
            }
            for (size_t i = 0; i < n; i++)
                s_dispatch_one(b, w, &jobs[i], until);
            total += n;
            brk_store_leased_free(jobs, n);
            if (n < (size_t)want)
                break;
        }
    }
    b->rr++;
    return total;
}

/* --- timers ------------------------------------------------------------------------------ */

static void s_release_deferred(s_broker_t *b, int64_t now_s) {
    brk_leased_t *due;
    size_t n;
    if (brk_store_due_deferred(b->store, now_s, DUE_CHUNK, &due, &n) < 0) {
        s_redis_drop(b, brk_store_strerror(b->store));
        return;
    }
    b->deferred_backlog = n == DUE_CHUNK;
    if (n == 0) {
        brk_store_leased_free(due, n);
        return;
    }
    Pregon__SendRequest **reqs = calloc(n, sizeof *reqs);
    const void **payloads = calloc(n, sizeof *payloads);
    size_t *lens = calloc(n, sizeof *lens);
    rl_admit_verdict_t *v = calloc(n, sizeof *v);
    size_t m = 0;
    for (size_t i = 0; reqs && payloads && lens && v && i < n; i++) {
        Pregon__SendRequest *r =
            pregon__send_request__unpack(NULL, due[i].payload_len, due[i].payload);
        if (!r)
            continue;
        reqs[m] = r;
        payloads[m] = due[i].payload;
        lens[m++] = due[i].payload_len;
    }
    if (m) {
        s_admit(b, reqs, payloads, lens, m, 1, v);
        for (size_t i = 0; i < m; i++)
            if (v[i].code == RL_V_ACCEPTED)
                b->n.released_deferred++;
    }
    for (size_t i = 0; i < m; i++)
        pregon__send_request__free_unpacked(reqs[i], NULL);
    free(reqs), free(payloads), free(lens), free(v);
    brk_store_leased_free(due, n);
}

/* Leases past their expiry become UNKNOWN reports, applied together (one log line per batch:
 * each job's own record is in the audit stream). */
static void s_expire_leases(s_broker_t *b, int64_t now_ms) {
    brk_leased_t *exp;
    size_t n;
    if (brk_store_expired_leases(b->store, now_ms, DUE_CHUNK, &exp, &n) < 0) {
        s_redis_drop(b, brk_store_strerror(b->store));
        return;
    }
    b->lease_backlog = n == DUE_CHUNK;
    for (size_t i = 0; i < n; i++) {
        Pregon__SendRequest *r =
            pregon__send_request__unpack(NULL, exp[i].payload_len, exp[i].payload);
        int ch = r ? (int)r->channel : 0;
        if (r)
            pregon__send_request__free_unpacked(r, NULL);
        b->n.expired_leases++;
        s_queue_report(b, exp[i].job_key, exp[i].attempt, "UNKNOWN", ch, "", "",
                       "lease expired without a report", now_ms / 1000 + 1);
    }
    if (n)
        s_log("%zu lease(s) expired without a report, outcome unknown (first: %s, attempt %u)", n,
              exp[0].job_key, exp[0].attempt);
    s_flush_reports(b);
    brk_store_leased_free(exp, n);
}

static void s_heartbeats(s_broker_t *b, int64_t now) {
    for (size_t i = 0; i < b->n_workers;) {
        s_worker_t *w = &b->workers[i];
        if (now - w->last_seen_ms > 3LL * b->cfg.heartbeat_ms) {
            s_log("worker %s on %s is gone (no heartbeat for %lld ms); its leases will expire",
                  w->name, rl_channel_name(w->channel), (long long)(now - w->last_seen_ms));
            *w = b->workers[--b->n_workers];
            continue;
        }
        if (now - w->last_sent_ms >= b->cfg.heartbeat_ms) {
            Pregon__Heartbeat hb = PREGON__HEARTBEAT__INIT;
            hb.at_ms = now;
            Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
            msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_HEARTBEAT;
            msg.heartbeat = &hb;
            s_send_worker(b, w, &msg);
        }
        i++;
    }
}

static void s_timers(s_broker_t *b) {
    int64_t now = s_now_ms(b);
    if (now < b->next_timer_ms)
        return;
    b->next_timer_ms = now + TIMER_MS;
    s_heartbeats(b, now);
    if (!s_redis_ok(b))
        return;
    int released = brk_store_release_retries(b->store, now / 1000, DUE_CHUNK);
    if (released < 0) {
        s_redis_drop(b, brk_store_strerror(b->store));
        return;
    }
    b->retry_backlog = released == DUE_CHUNK;
    s_release_deferred(b, now / 1000);
    if (b->redis)
        s_expire_leases(b, now);
}

/* Ready jobs waiting in the queues of channels that have a worker taking jobs. */
static long long s_ready_for_workers(s_broker_t *b) {
    int seen[RL_CH_COUNT] = {0};
    long long total = 0;
    for (size_t k = 0; k < b->n_workers; k++) {
        s_worker_t *w = &b->workers[k];
        if (w->channel <= 0 || w->halted || b->channel_halted[w->channel] || seen[w->channel]++)
            continue;
        long long n = brk_store_queue_len(b->store, w->channel);
        total += n > 0 ? n : 0;
    }
    return total;
}

/* The timer releases one chunk of due retries and deferrals per tick (2,500/s). When a
 * campaign's deferrals all fall due at once (everything submitted at 03:00 for 07:00), the rest
 * is released a chunk per loop turn, between dispatches, as long as the workers' queues stay
 * short: the backlog goes out at the rate the workers take it. */
static void s_release_backlog(s_broker_t *b) {
    if (b->lease_backlog && s_redis_ok(b)) /* after a crash: thousands of leases at once */
        s_expire_leases(b, s_now_ms(b));
    if ((!b->deferred_backlog && !b->retry_backlog) || b->n_workers == 0 || !s_redis_ok(b) ||
        s_ready_for_workers(b) >= RELEASE_LOW_WATER)
        return;
    int64_t now = s_now_ms(b);
    if (b->retry_backlog) {
        int released = brk_store_release_retries(b->store, now / 1000, DUE_CHUNK);
        if (released < 0) {
            s_redis_drop(b, brk_store_strerror(b->store));
            return;
        }
        b->retry_backlog = released == DUE_CHUNK;
    }
    if (b->deferred_backlog)
        s_release_deferred(b, now / 1000);
}

/* --- setup ------------------------------------------------------------------------------- */

static void *s_bind(s_broker_t *b, int type, const char *endpoint, const char *what) {
    void *s = zmq_socket(b->zctx, type);
    int linger = 0, hwm = 100000;
    int64_t maxmsg = (int64_t)b->cfg.max_frame_bytes * 2; /* past this, libzmq drops the peer */
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (type == ZMQ_ROUTER) {
        int handover = 1; /* a worker reconnecting under its routing id takes its place over */
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &handover, sizeof handover);
    }
    if (zmq_bind(s, endpoint) != 0) {
        s_log("cannot bind the %s socket to %s: %s", what, endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* The endpoint a socket is bound to, with a wildcard port ("tcp://127.0.0.1:*") resolved. */
static const char *s_bound(void *s, char *buf, size_t len) {
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len) != 0)
        snprintf(buf, len, "?");
    return buf;
}

static void s_usage(FILE *to) {
    fprintf(to, "usage: pregond [--config FILE]\n"
                "  The broker. Configuration: deploy/pregon.yaml documents every setting.\n");
}

int main(int argc, char **argv) {
    /* Keep freed memory in the heap instead of returning it to the kernel and faulting it in
     * again: a batch's command buffer is hundreds of KiB, rebuilt for every batch. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else {
            s_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    static s_broker_t broker;
    static s_pending_report_t pending[MAX_PENDING];
    s_broker_t *b = &broker;
    b->pending = pending;
    char err[4096];
    if (brk_config_load(&b->cfg, config, err, sizeof err) < 0) {
        s_log("%s", err);
        return 78;
    }
    b->policies = rl_policyset_load(b->cfg.policies, err, sizeof err);
    if (!b->policies) {
        s_log("%s", err);
        return 78;
    }
    b->templates = brk_tpl_load(b->cfg.templates, err, sizeof err);
    if (!b->templates) {
        s_log("%s", err);
        rl_policyset_destroy(&b->policies);
        return 78;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead Redis or peer is an error to handle, not a death */
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);

    b->zctx = zmq_ctx_new();
    b->front = s_bind(b, ZMQ_ROUTER, b->cfg.frontend, "frontend");
    b->back = s_bind(b, ZMQ_ROUTER, b->cfg.backend, "backend");
    if (b->cfg.events[0])
        b->pub = s_bind(b, ZMQ_PUB, b->cfg.events, "events");
    int rc = 0;
    if (!b->front || !b->back || (b->cfg.events[0] && !b->pub)) {
        rc = 1;
        goto done;
    }
    s_redis_connect(b);
    char bound[3][256];
    s_log("serving: frontend %s, backend %s, events %s, %zu policies, %zu templates%s",
          s_bound(b->front, bound[0], sizeof bound[0]), s_bound(b->back, bound[1], sizeof bound[1]),
          b->pub ? s_bound(b->pub, bound[2], sizeof bound[2]) : "(none)",
          rl_policyset_count(b->policies), brk_tpl_count(b->templates),
          b->redis_down ? ", redis DOWN (failing closed)" : "");

    while (!s_stop) {
        zmq_pollitem_t items[] = {{b->front, 0, ZMQ_POLLIN, 0}, {b->back, 0, ZMQ_POLLIN, 0}};
        int64_t wait = b->next_timer_ms - s_now_ms(b);
        if ((b->deferred_backlog || b->retry_backlog || b->lease_backlog) && wait > 5)
            wait = 5; /* a backlog is due: look again soon, but never spin */
        if (wait < 0)
            wait = 0;
        if (zmq_poll(items, 2, (long)wait) < 0) {
            if (errno == EINTR)
                continue;
            s_log("zmq_poll: %s", zmq_strerror(errno));
            rc = 1;
            break;
        }
        /* workers first: their reports and credit free capacity for what comes next */
        for (int k = 0; k < 4096 && (items[1].revents & ZMQ_POLLIN); k++)
            if (!s_handle_worker(b)) /* received until none waits: no ZMQ_EVENTS round */
                break;
        s_flush_reports(b);
        int64_t front_until = s_now_ms(b) + FRONT_BUDGET_MS;
        for (int k = 0;
             k < MAX_FRONT_PER_RUN && (items[0].revents & ZMQ_POLLIN) && s_now_ms(b) < front_until;
             k++)
            if (!s_handle_submit(b))
                break;
        s_dispatch(b);
        s_timers(b);
        s_release_backlog(b);
    }
    s_log("stopping: %" PRIu64 " accepted, %" PRIu64 " deferred, %" PRIu64 " rejected, %" PRIu64
          " dispatched, %" PRIu64 " reports",
          b->n.verdicts[RL_V_ACCEPTED], b->n.verdicts[RL_V_DEFERRED], b->n.verdicts[RL_V_REJECTED],
          b->n.dispatched, b->n.reports);
done:
    if (b->front)
        zmq_close(b->front);
    if (b->back)
        zmq_close(b->back);
    if (b->pub)
        zmq_close(b->pub);
    zmq_ctx_term(b->zctx);
    rl_admit_destroy(&b->admit);
    brk_store_destroy(&b->store);
    if (b->redis)
        redisFree(b->redis);
    rl_policyset_destroy(&b->policies);
    brk_tpl_destroy(&b->templates);
    return rc;
}

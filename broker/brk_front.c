/* brk_front.c — the submit path (see brk_front.h). */
#include "brk_front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "brk_admission.h"
#include "brk_tenancy.h"
#include "brk_validate.h"
#include "pg_log.h"
#include "pregon.pb-c.h"

#define MAX_FRAMES       16
#define FORBIDDEN_LOG_MS 10000 /* at most one line about tenant-forbidden jobs per interval */

struct brk_front {
    void *sock;       /* borrowed */
    brk_auth_t *auth; /* borrowed: who a peer is */
    const brk_config_t *cfg;
    brk_redis_t *redis;
    const brk_rules_t *rules;
    brk_events_t *events;
    brk_counters_t *n;
    brk_reports_t *reports;      /* borrowed; NULL: no contact maps for window refusals */
    int64_t forbidden_logged_ms; /* when the last line about tenant-forbidden jobs was written */
    uint64_t forbidden_folded;   /* such jobs since that line */
};

typedef struct {
    zmq_msg_t frames[MAX_FRAMES];
    int n;
} s_multipart_t;

brk_front_t *brk_front_new(void *sock, brk_auth_t *auth, const brk_config_t *cfg,
                           brk_redis_t *redis, const brk_rules_t *rules, brk_events_t *events,
                           brk_counters_t *n) {
    brk_front_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (brk_front_t){sock, auth, cfg, redis, rules, events, n, NULL, INT64_MIN / 2, 0};
    return self;
}

void brk_front_destroy(brk_front_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* Receives one multipart message without waiting; -1 when none is there. Past MAX_FRAMES the
 * envelope is cut, keeping the identity and the last frame. */
static int s_recv(void *sock, s_multipart_t *m) {
    m->n = 0;
    for (int more = 1; more;) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, sock, m->n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&tmp);
            return m->n == 0 ? -1 : m->n;
        }
        more = zmq_msg_more(&tmp);
        if (m->n < MAX_FRAMES) {
            m->frames[m->n++] = tmp;
        } else {
            zmq_msg_close(&m->frames[MAX_FRAMES - 1]);
            m->frames[MAX_FRAMES - 1] = tmp;
        }
    }
    return m->n;
}

static void s_close(s_multipart_t *m) {
    for (int i = 0; i < m->n; i++)
        zmq_msg_close(&m->frames[i]);
    m->n = 0;
}

/* An id for a verdict or a reply: itself when valid, else "" (never echo what a strict
 * protobuf parser would refuse). */
static char *s_echo(const char *id) {
    return (char *)(id && !brk_val_job_id(id) ? id : "");
}

/* Sends the envelope of m (every frame but the last) then `reply`. */
static void s_reply(brk_front_t *self, s_multipart_t *m, const Pregon__SubmitReply *reply) {
    size_t len = pregon__submit_reply__get_packed_size(reply);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    pregon__submit_reply__pack(reply, buf);
    for (int i = 0; i < m->n - 1; i++)
        zmq_send(self->sock, zmq_msg_data(&m->frames[i]), zmq_msg_size(&m->frames[i]),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
}

static void s_reply_error(brk_front_t *self, s_multipart_t *m, const char *batch_id,
                          const char *error, const char *detail) {
    Pregon__SubmitReply reply = PREGON__SUBMIT_REPLY__INIT;
    reply.batch_id = s_echo(batch_id);
    reply.error = (char *)error;
    reply.error_detail = (char *)detail;
    s_reply(self, m, &reply);
}

/* Logs a batch's jobs refused tenant-forbidden: at most one line per FORBIDDEN_LOG_MS, the
 * others folded into the next line's count. */
static void s_log_forbidden(brk_front_t *self, const brk_identity_t *id, const char *tenant,
                            size_t n, int64_t now_ms) {
    if (now_ms - self->forbidden_logged_ms < FORBIDDEN_LOG_MS) {
        self->forbidden_folded += n;
        return;
    }
    pg_log("frontend: %s submitted %zu job(s) for tenant %.64s, which it may not submit for: "
           "REJECTED tenant-forbidden (%llu more in the last %d s)",
           id ? id->name : "a key no longer known", n, tenant,
           (unsigned long long)self->forbidden_folded, FORBIDDEN_LOG_MS / 1000);
    self->forbidden_logged_ms = now_ms;
    self->forbidden_folded = 0;
}

/* A job refused because its 24-hour service window is closed still names the contact point
 * the tenant wants to reach for that debtor: its contact map is written (as a dispatch writes
 * it), so that the debtor's next message (or one that came before, kept early) is attributed to
 * that debtor and opens the window (brk_inbound); the campaign system, told by the events feed,
 * submits again. Without it a Messenger conversation could never start: every Messenger job
 * needs the window, and only a contacted point's messages are attributed to a debtor. */
static void s_window_refused(brk_front_t *self, const Pregon__SendRequest *req,
                             const rl_admit_verdict_t *v, int64_t now_ms) {
    if (self->reports && v->code == RL_V_REJECTED && !strcmp(v->reason, "window-closed"))
        brk_reports_contact(self->reports, now_ms, (int)req->channel, req->contact, req->tenant,
                            req->debtor_id, req->job_id, req->sender);
}

void brk_front_set_reports(brk_front_t *self, brk_reports_t *reports) {
    self->reports = reports;
}

/* Admits the jobs of the batch that identity id may submit (brk_tenancy_split: the others are
 * REJECTED tenant-forbidden here, before admission, so nothing is stored, counted or audited
 * under a tenant the key is not bound to) and answers one verdict per job. */
static void s_admit_batch(brk_front_t *self, s_multipart_t *m, Pregon__SubmitBatch *batch,
                          const brk_identity_t *id, int64_t now_ms) {
    size_t n = batch->n_jobs, k = n ? n : 1, a = 0;
    rl_admit_verdict_t *verdicts = calloc(k, sizeof *verdicts);
    rl_admit_verdict_t *admitted = calloc(k, sizeof *admitted);
    size_t *allowed = calloc(k, sizeof *allowed);
    Pregon__SendRequest **reqs = calloc(k, sizeof *reqs);
    void **payloads = calloc(k, sizeof *payloads);
    size_t *lens = calloc(k, sizeof *lens);
    Pregon__Verdict *pv = calloc(k, sizeof *pv);
    Pregon__Verdict **pvp = calloc(k, sizeof *pvp);
    int ok = verdicts && admitted && allowed && reqs && payloads && lens && pv && pvp;
    if (ok)
        a = brk_tenancy_split(id, batch->jobs, n, allowed, verdicts);
    for (size_t j = 0; ok && j < a; j++) {
        reqs[j] = batch->jobs[allowed[j]];
        lens[j] = pregon__send_request__get_packed_size(reqs[j]);
        payloads[j] = malloc(lens[j] ? lens[j] : 1);
        if (!payloads[j])
            ok = 0;
        else
            pregon__send_request__pack(reqs[j], payloads[j]);
    }
    if (ok && a)
        brk_admission_run(self->cfg, self->redis, self->rules, reqs, (const void *const *)payloads,
                          lens, a, 0, now_ms, admitted);
    for (size_t j = 0; ok && j < a; j++) {
        verdicts[allowed[j]] = admitted[j];
        s_window_refused(self, reqs[j], &admitted[j], now_ms);
    }
    if (ok) {
        Pregon__SubmitReply reply = PREGON__SUBMIT_REPLY__INIT;
        reply.batch_id = s_echo(batch->batch_id);
        const char *first_forbidden = NULL; /* the tenant of the first job refused */
        for (size_t i = 0, j = 0; i < n; i++) {
            bool forbidden = !(j < a && allowed[j] == i);
            j += !forbidden;
            pregon__verdict__init(&pv[i]);
            pv[i].job_id = s_echo(batch->jobs[i]->job_id);
            pv[i].code = (Pregon__Verdict__Code)verdicts[i].code;
            pv[i].until = verdicts[i].until;
            pv[i].reason = verdicts[i].reason;
            pv[i].rule = verdicts[i].rule;
            pv[i].first = (Pregon__Verdict__Code)verdicts[i].first;
            pvp[i] = &pv[i];
            if (verdicts[i].code >= 1 && verdicts[i].code <= 6)
                self->n->verdicts[verdicts[i].code]++;
            if (forbidden) { /* no event: it would reach the subscribers of the named tenant */
                if (!first_forbidden)
                    first_forbidden = batch->jobs[i]->tenant ? batch->jobs[i]->tenant : "";
                self->n->tenant_forbidden++;
                continue;
            }
            /* the topic names the tenant only when it is a valid one (an invalid one, which
             * only a '*' key can submit, goes to the tenant-less topic) */
            const char *tenant = batch->jobs[i]->tenant;
            brk_events_publish(self->events, "verdict", brk_val_tenant(tenant) ? "" : tenant,
                               pv[i].job_id, batch->jobs[i]->channel, &pv[i], NULL);
        }
        if (first_forbidden)
            s_log_forbidden(self, id, first_forbidden, n - a, now_ms);
        reply.verdicts = pvp;
        reply.n_verdicts = n;
        s_reply(self, m, &reply);
    } else {
        s_reply_error(self, m, batch->batch_id, "busy", "out of memory");
    }
    for (size_t j = 0; payloads && j < a; j++)
        free(payloads[j]);
    free(verdicts), free(admitted), free(allowed), free(reqs), free(payloads), free(lens);
    free(pv), free(pvp);
}

bool brk_front_handle(brk_front_t *self, int64_t now_ms) {
    s_multipart_t m;
    if (s_recv(self->sock, &m) < 0)
        return false;
    if (m.n < 2) { /* a ROUTER always prefixes the identity; nothing to answer without a body */
        self->n->bad_frames++;
        s_close(&m);
        return true;
    }
    zmq_msg_t *body = &m.frames[m.n - 1];
    char detail[96];
    if (zmq_msg_size(body) > (size_t)self->cfg->max_frame_bytes) {
        self->n->too_large++;
        snprintf(detail, sizeof detail, "frame of %zu bytes; the limit is %d", zmq_msg_size(body),
                 self->cfg->max_frame_bytes);
        s_reply_error(self, &m, NULL, "too-large", detail);
        s_close(&m);
        return true;
    }
    Pregon__SubmitBatch *batch =
        pregon__submit_batch__unpack(NULL, zmq_msg_size(body), zmq_msg_data(body));
    if (!batch) {
        self->n->bad_frames++;
        s_reply_error(self, &m, NULL, "bad-frame", "not a serialized pregon.SubmitBatch");
    } else if (batch->n_jobs > (size_t)self->cfg->max_batch) {
        self->n->too_large++;
        snprintf(detail, sizeof detail, "%zu jobs; the limit is %d", batch->n_jobs,
                 self->cfg->max_batch);
        s_reply_error(self, &m, batch->batch_id, "too-large", detail);
    } else {
        /* who sent it: the identity of the key (NULL: removed since it connected, may nothing:
         * every job is tenant-forbidden) */
        const brk_identity_t *id = brk_auth_peer(self->auth, body);
        if (!id || !(id->roles & BRK_ROLE_CLIENT))
            self->n->auth_revoked++;
        s_admit_batch(self, &m, batch, id, now_ms);
    }
    if (batch)
        pregon__submit_batch__free_unpacked(batch, NULL);
    s_close(&m);
    return true;
}

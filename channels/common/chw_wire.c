/* chw_wire.c — the worker's side of the broker socket (part of chw_worker, chw_worker_int.h).
 *
 * Frames to the broker are packed once and queued: reports of one loop turn go to zmq together
 * (chw__flush_unsent), frames zmq refused wait in `unsent`, and reports handed to zmq shortly
 * before the broker last spoke stay in `recent` to be sent again after a reconnection (the
 * broker matches them by lease_id). Also here: opening the DEALER, WorkerReady with the held
 * leases, Leaving, DeliveryReport, and every message from the broker. */
#include "chw_worker_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

/* --- frame queues --- */

static int s_fifo_push(chw__fifo_t *fifo, chw__frame_t frame) {
    if (fifo->count == fifo->cap) {
        size_t cap = fifo->cap ? fifo->cap * 2 : 64;
        chw__frame_t *items = malloc(cap * sizeof *items);
        if (!items)
            return -1;
        for (size_t i = 0; i < fifo->count; i++)
            items[i] = fifo->items[(fifo->head + i) % fifo->cap];
        free(fifo->items);
        fifo->items = items;
        fifo->head = 0;
        fifo->cap = cap;
    }
    fifo->items[(fifo->head + fifo->count) % fifo->cap] = frame;
    fifo->count++;
    return 0;
}

static chw__frame_t *s_fifo_front(chw__fifo_t *fifo) {
    return fifo->count ? &fifo->items[fifo->head] : NULL;
}

static chw__frame_t s_fifo_pop(chw__fifo_t *fifo) {
    chw__frame_t frame = fifo->items[fifo->head];
    fifo->head = (fifo->head + 1) % fifo->cap;
    fifo->count--;
    return frame;
}

void chw__fifo_clear(chw__fifo_t *fifo) {
    while (fifo->count) {
        chw__frame_t frame = s_fifo_pop(fifo);
        free(frame.data);
    }
    free(fifo->items);
    memset(fifo, 0, sizeof *fifo);
}

/* Hands a frame to zmq, or queues it if zmq would block (or earlier frames are queued). Takes
 * ownership of frame.data. Returns CHW_OK, or CHW_ERR_ZMQ / CHW_ERR_NOMEM. */
static int s_send_frame(chw_worker_t *self, chw__frame_t frame, int64_t now) {
    if (self->unsent.count == 0) {
        self->zmq_used = true;
        int rc = zmq_send(self->sock, frame.data, frame.len, ZMQ_DONTWAIT);
        if (rc >= 0) {
            self->last_send_ms = now;
            if (!frame.is_report) {
                free(frame.data);
                return CHW_OK;
            }
            frame.sent_ms = now;
            if (s_fifo_push(&self->recent, frame) != 0) {
                free(frame.data); /* keeping it for a resend is best effort */
                return CHW_ERR_NOMEM;
            }
            return CHW_OK;
        }
        if (errno != EAGAIN && errno != EINTR) {
            free(frame.data);
            return CHW_ERR_ZMQ;
        }
    }
    if (s_fifo_push(&self->unsent, frame) != 0) {
        free(frame.data);
        return CHW_ERR_NOMEM;
    }
    return CHW_OK;
}

/* Packs and sends `msg`. A report only joins `unsent`: the turn's reports go to zmq together at
 * its end (chw__flush_unsent), so zmq's I/O thread wakes once for them, not once per report. */
int chw__send_msg(chw_worker_t *self, const Pregon__WorkerToBroker *msg, int64_t now) {
    size_t len = pregon__worker_to_broker__get_packed_size(msg);
    uint8_t *data = malloc(len ? len : 1);
    if (!data)
        return CHW_ERR_NOMEM;
    pregon__worker_to_broker__pack(msg, data);
    chw__frame_t frame = {.data = data,
                          .len = len,
                          .is_report = msg->msg_case == PREGON__WORKER_TO_BROKER__MSG_REPORT};
    if (frame.is_report) {
        if (s_fifo_push(&self->unsent, frame) != 0) {
            free(data);
            return CHW_ERR_NOMEM;
        }
        return CHW_OK;
    }
    return s_send_frame(self, frame, now);
}

/* Hands zmq the frames waiting in `unsent`, in order, until it would block. */
int chw__flush_unsent(chw_worker_t *self, int64_t now) {
    while (self->unsent.count) {
        self->zmq_used = true;
        chw__frame_t *frame = s_fifo_front(&self->unsent);
        if (zmq_send(self->sock, frame->data, frame->len, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return CHW_OK;
            return CHW_ERR_ZMQ;
        }
        self->last_send_ms = now;
        chw__frame_t sent = s_fifo_pop(&self->unsent);
        if (sent.is_report) {
            sent.sent_ms = now;
            if (s_fifo_push(&self->recent, sent) != 0)
                free(sent.data);
        } else {
            free(sent.data);
        }
    }
    return CHW_OK;
}

/* Forgets kept reports sent well before the broker's last message. */
void chw__prune_recent(chw_worker_t *self) {
    int64_t cutoff = self->last_recv_ms - (int64_t)self->cfg.heartbeat_ms;
    while (self->recent.count && s_fifo_front(&self->recent)->sent_ms < cutoff) {
        chw__frame_t frame = s_fifo_pop(&self->recent);
        free(frame.data);
    }
}

static uint32_t s_free_credit(const chw_worker_t *self) {
    return (self->halted || self->stopping) ? 0 : self->free_count;
}

/* --- broker socket --- */

int chw__open_socket(chw_worker_t *self) {
    if (self->zmq_fd >= 0) {
        epoll_ctl(self->epfd, EPOLL_CTL_DEL, self->zmq_fd, NULL);
        self->zmq_fd = -1;
    }
    if (self->sock) {
        zmq_close(self->sock);
        self->sock = NULL;
    }
    void *sock = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!sock)
        return CHW_ERR_ZMQ;
    int linger = 0, hwm = CHW__HWM;
    int64_t maxmsg = CHW_MAX_FRAME_BYTES; /* larger: libzmq drops the broker */
    if (zmq_setsockopt(sock, ZMQ_ROUTING_ID, self->worker_id, strlen(self->worker_id)) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        pg_curve_apply(self->cfg.curve, sock, NULL, 0) != 0 ||
        zmq_connect(sock, self->endpoint) != 0) {
        zmq_close(sock);
        return CHW_ERR_ZMQ;
    }
    int fd = -1;
    size_t fd_len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &fd_len) != 0) {
        zmq_close(sock);
        return CHW_ERR_ZMQ;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        zmq_close(sock);
        return CHW_ERR_SYS;
    }
    if ((size_t)fd < self->fd_state_cap)
        self->fd_state[fd] = 0; /* not curl's, whatever it was */
    self->sock = sock;
    self->zmq_fd = fd;
    self->zmq_used = true;
    return CHW_OK;
}

/* True when the broker socket has messages to read. Call before sleeping: ZMQ_FD only becomes
 * readable on new activity, and a zmq call (a send processes zmq's commands too) may have
 * consumed that signal while messages still wait. Cheap when zmq was not used since the last
 * look. Returns -1 on a ZeroMQ failure. */
int chw__zmq_pending(chw_worker_t *self) {
    if (!self->zmq_used)
        return 0;
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &len) != 0)
        return -1;
    self->zmq_used = false;
    return (events & ZMQ_POLLIN) ? 1 : 0;
}

/* Sends Leaving{reason, done}: done = false when the stop begins (and again on a new socket),
 * done = true once nothing is held and every report went before it. */
int chw__send_leaving(chw_worker_t *self, bool done, int64_t now) {
    Pregon__Leaving leaving = PREGON__LEAVING__INIT;
    leaving.reason = (char *)CHW__STOP_REASON;
    leaving.done = done;
    Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
    msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_LEAVING;
    msg.leaving = &leaving;
    return chw__send_msg(self, &msg, now);
}

/* Points ready->held_leases at a new array (the caller frees *list_p; the strings stay the
 * slots' and the lease set's) of the leases held now: every job in a slot, queued or running,
 * then the reported leases not yet expired, as many as CHW_READY_HELD_MAX bytes allow. Sets
 * *listed / *total and returns true when the list names every lease the worker holds. */
/* Adds one lease to the ready's list while the list stays within CHW_READY_HELD_MAX bytes;
 * false when it does not fit. */
static bool s_list_one(char **list, size_t *n, size_t *bytes, const char *lease) {
    size_t b = chw_leaseset_entry_bytes(lease);
    if (*bytes + b > CHW_READY_HELD_MAX)
        return false;
    list[(*n)++] = (char *)lease;
    *bytes += b;
    return true;
}

static bool s_list_held(chw_worker_t *self, Pregon__WorkerReady *ready, char ***list_p,
                        size_t *listed, size_t *total) {
    int64_t wall = chw__wall_ms();
    chw_leaseset_prune(self->reported, wall);
    size_t n_reported = chw_leaseset_count(self->reported);
    size_t cap = (self->cfg.concurrency - self->free_count) + n_reported;
    bool complete = !chw_leaseset_incomplete(self->reported, wall);
    *list_p = NULL;
    *listed = 0;
    *total = cap;
    if (cap == 0)
        return complete;
    char **list = malloc(cap * sizeof *list);
    if (!list)
        return false; /* a ready without leases and without the incarnation is still safe */
    size_t n = 0, bytes = 0;
    for (uint32_t i = 0; i < self->cfg.concurrency; i++)
        if (self->slots[i].msg)
            complete &= s_list_one(list, &n, &bytes, self->slots[i].dispatch->lease_id);
    for (size_t i = 0; i < n_reported; i++)
        complete &= s_list_one(list, &n, &bytes, chw_leaseset_get(self->reported, i, NULL));
    ready->held_leases = list;
    ready->n_held_leases = n;
    *list_p = list;
    *listed = n;
    return complete;
}

/* Sends ready on the current socket (credit, incarnation, held leases), Leaving if stopping,
 * then the reports that may have been lost with the old socket (those handed to zmq since one
 * heartbeat before the broker last spoke) and the reports zmq had refused, then Leaving{done}
 * if it had been sent already. Queued credit and heartbeats are dropped: ready carries the
 * credit. */
int chw__announce(chw_worker_t *self, int64_t now) {
    chw__fifo_t resend = self->recent, unsent = self->unsent;
    memset(&self->recent, 0, sizeof self->recent);
    memset(&self->unsent, 0, sizeof self->unsent);
    int64_t cutoff = self->last_recv_ms - (int64_t)self->cfg.heartbeat_ms;
    self->pending_credit = 0;

    Pregon__WorkerReady ready = PREGON__WORKER_READY__INIT;
    ready.channel = (Pregon__Channel)self->cfg.channel;
    ready.worker_id = self->worker_id;
    ready.credit = s_free_credit(self);
    ready.heartbeat_ms = self->cfg.heartbeat_ms;
    char **held = NULL;
    size_t listed = 0, total = 0;
    bool complete = s_list_held(self, &ready, &held, &listed, &total);
    ready.incarnation = complete ? self->incarnation : (char *)"";
    ready.previous_incarnation = complete ? self->prev_incarnation : (char *)"";
    Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
    msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_READY;
    msg.ready = &ready;
    int rc = chw__send_msg(self, &msg, now);
    free(held);
    if (!complete) {
        char over[64] = "";
        if (listed < total)
            snprintf(over, sizeof over, "; %zu more did not fit", total - listed);
        chw__event(self, CHW_EV_HELD_PARTIAL, NULL, NULL,
                   "ready lists %zu held lease(s) in its %d-byte budget%s%s: sent without the "
                   "incarnation, so the broker cannot take an unlisted lease for lost",
                   listed, CHW_READY_HELD_MAX, over,
                   chw_leaseset_incomplete(self->reported, chw__wall_ms())
                       ? "; older reported leases were forgotten before their expiry"
                       : "");
    }
    if (self->stopping && !self->left) {
        int frc = chw__send_leaving(self, false, now);
        if (rc == CHW_OK)
            rc = frc;
    }

    chw__fifo_t *queues[2] = {&resend, &unsent};
    for (int q = 0; q < 2; q++) {
        while (queues[q]->count) {
            chw__frame_t frame = s_fifo_pop(queues[q]);
            if (!frame.is_report || (q == 0 && frame.sent_ms < cutoff)) {
                free(frame.data);
                continue;
            }
            int frc = s_send_frame(self, frame, now);
            if (rc == CHW_OK)
                rc = frc;
        }
        chw__fifo_clear(queues[q]);
    }
    if (self->left) {
        int frc = chw__send_leaving(self, true, now);
        if (rc == CHW_OK)
            rc = frc;
    }
    self->last_recv_ms = now;
    return rc;
}

/* --- reports and slots --- */

static void s_journal_report(chw_worker_t *self, const Pregon__Dispatch *d,
                             const Pregon__DeliveryReport *rep, bool handed_back, int64_t now);

/* Sends one DeliveryReport for `dispatch` and counts it by outcome. Jobs holding a slot go
 * through chw__finish(); dispatches that never got one (handed back at once) call this directly.
 * A report other than a hand-back keeps its lease in `reported` until the lease expires (plus a
 * heartbeat for the clocks' skew): should this report die with the broker, the next WorkerReady
 * still vouches for the lease. A hand-back is not kept: unlisted, a lost hand-back is handed
 * back by the broker, which is what it said; listed, it would wait for its expiry as UNKNOWN. */
int chw__report(chw_worker_t *self, const Pregon__Dispatch *dispatch, const chw_result_t *r,
                int64_t retry_at_ms, bool handed_back, int64_t now) {
    const Pregon__SendRequest *job = dispatch->job;
    Pregon__DeliveryReport rep = PREGON__DELIVERY_REPORT__INIT;
    rep.job_id = job ? job->job_id : (char *)"";
    rep.tenant = job ? job->tenant : (char *)"";
    rep.lease_id = dispatch->lease_id;
    rep.channel = (Pregon__Channel)self->cfg.channel;
    rep.outcome = handed_back ? PREGON__DELIVERY_REPORT__OUTCOME__HANDED_BACK
                              : (Pregon__DeliveryReport__Outcome)r->outcome;
    rep.provider_id = (char *)r->provider_id;
    rep.provider_code = (char *)r->provider_code;
    rep.fallback_eligible = (r->flags & CHW_RESULT_FALLBACK) != 0;
    rep.suppress_contact = (r->flags & CHW_RESULT_SUPPRESS) != 0;
    rep.detail = (char *)r->detail;
    rep.retry_at_ms = retry_at_ms;
    rep.at_ms = chw__wall_ms();
    rep.seq = ++self->report_seq;
    Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
    msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_REPORT;
    msg.report = &rep;

    chw_counters_t *c = &self->counters;
    switch (r->outcome) {
        case CHW_SENT:
            c->sent++;
            break;
        case CHW_FAILED:
            c->failed++;
            break;
        case CHW_RETRY:
            if (handed_back)
                c->handed_back++;
            else
                c->retried++;
            break;
        case CHW_UNKNOWN:
            c->unknown++;
            break;
        case CHW_CONFIG_ERROR:
            c->config_errors++;
            break;
        case CHW_SKIPPED:
            c->skipped++;
            break;
        default:
            break;
    }
    if (handed_back && self->stopping)
        self->stop_handed_back++;
    if (!handed_back && dispatch->lease_expires_ms > 0 && dispatch->lease_id[0])
        chw_leaseset_add_seq(self->reported, dispatch->lease_id,
                             dispatch->lease_expires_ms + (int64_t)self->cfg.heartbeat_ms, rep.seq);
    if (self->journal && dispatch->lease_id[0])
        s_journal_report(self, dispatch, &rep, handed_back, now);
    return chw__send_msg(self, &msg, now);
}

/* --- the journal's reports --- */

/* True for the outcomes that keep the attempt they are about (pregon.lua's report): those may be
 * re-sent. HANDBACK, SKIPPED and CONFIG_ERROR give the attempt number back, so a late copy
 * could match the job's next dispatch: never re-sent. */
static bool s_resendable(Pregon__DeliveryReport__Outcome o) {
    return o == PREGON__DELIVERY_REPORT__OUTCOME__SENT ||
           o == PREGON__DELIVERY_REPORT__OUTCOME__DELIVERED ||
           o == PREGON__DELIVERY_REPORT__OUTCOME__FAILED ||
           o == PREGON__DELIVERY_REPORT__OUTCOME__RETRY ||
           o == PREGON__DELIVERY_REPORT__OUTCOME__UNKNOWN;
}

/* Records a report in the journal: "done" with the packed report when it may be re-sent, else
 * "forget" (the lease leaves the journal; unlisted, the broker hands it back if the report is
 * lost). A journal that cannot take it costs only the re-sending of this one report. */
static void s_journal_report(chw_worker_t *self, const Pregon__Dispatch *d,
                             const Pregon__DeliveryReport *rep, bool handed_back, int64_t now) {
    if (handed_back || !s_resendable(rep->outcome)) {
        chw_journal_forget(self->journal, d->lease_id);
        return;
    }
    size_t len = pregon__delivery_report__get_packed_size(rep);
    uint8_t stackbuf[2048], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return;
    pregon__delivery_report__pack(rep, buf);
    const Pregon__SendRequest *job = d->job;
    if (!chw_journal_find(self->journal, d->lease_id))
        chw_journal_start(self->journal, d->lease_id, job ? job->job_id : "",
                          job ? job->tenant : "", d->lease_expires_ms);
    if (chw_journal_done(self->journal, d->lease_id, buf, len) == CHW_J_OK) {
        chw_journal_entry_t *e = chw_journal_find(self->journal, d->lease_id);
        if (e) {
            e->seq = rep->seq;
            e->sent_ms = now;
        }
    }
    if (buf != stackbuf)
        free(buf);
}

/* Sends again the journal's reports the broker has not acknowledged: all of them (after the
 * first ready) or those sent at least 3 heartbeats ago. Each goes with a new seq; the broker
 * applies a copy of a report it applied already as a refused transition, and acknowledges it.
 * Nothing is re-sent while zmq refuses frames (they would only pile up). */
int chw__resend_unacked(chw_worker_t *self, bool all, int64_t now) {
    int rc = CHW_OK;
    int64_t cutoff = now - 3 * (int64_t)self->cfg.heartbeat_ms, wall = chw__wall_ms();
    for (size_t i = 0; i < chw_journal_count(self->journal) && self->unsent.count < 1024; i++) {
        chw_journal_entry_t *e = chw_journal_get(self->journal, i);
        if (e->state != CHW_J_DONE || (!all && e->seq && e->sent_ms > cutoff))
            continue;
        if (e->expires_ms > 0 && wall > e->expires_ms + CHW__JOURNAL_GIVE_UP_MS) {
            /* Long past its lease: the broker has reported the job itself (UNKNOWN at expiry)
             * and refuses this report; sending it for ever would only cost. */
            chw_journal_forget(self->journal, e->lease_id);
            i--; /* the last entry took this place */
            continue;
        }
        Pregon__DeliveryReport *rep =
            pregon__delivery_report__unpack(NULL, e->report_len, e->report);
        if (!rep)
            continue; /* cannot happen: the journal checked its bytes */
        rep->seq = ++self->report_seq;
        Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
        msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_REPORT;
        msg.report = rep;
        int frc = chw__send_msg(self, &msg, now);
        if (frc == CHW_OK) {
            e->seq = rep->seq;
            e->sent_ms = now;
            if (!all || !e->replayed)
                self->counters.resent++;
        } else if (rc == CHW_OK) {
            rc = frc;
        }
        pregon__delivery_report__free_unpacked(rep, NULL);
    }
    return chw__flush_unsent(self, now) == CHW_OK ? rc : CHW_ERR_ZMQ;
}

/* Turns what a previous process left in the journal into reports, before the first ready: a
 * job started and never done becomes UNKNOWN (its request may have gone out), recorded "done"
 * so that it is re-sent until acknowledged; every replayed lease joins `reported` so that the
 * ready vouches for it (the broker then hands back only the previous process's other leases). */
int chw__replay(chw_worker_t *self, int64_t now) {
    size_t unknown = 0, again = 0;
    self->replay_due = false;
    for (size_t i = 0; i < chw_journal_count(self->journal); i++) {
        chw_journal_entry_t *e = chw_journal_get(self->journal, i);
        if (!e->replayed)
            continue;
        int64_t expires = e->expires_ms > 0 ? e->expires_ms : chw__wall_ms() + 60000;
        if (e->state == CHW_J_STARTED) {
            Pregon__DeliveryReport rep = PREGON__DELIVERY_REPORT__INIT;
            rep.job_id = (char *)e->job_id;
            rep.tenant = (char *)e->tenant;
            rep.lease_id = (char *)e->lease_id;
            rep.channel = (Pregon__Channel)self->cfg.channel;
            rep.outcome = PREGON__DELIVERY_REPORT__OUTCOME__UNKNOWN;
            rep.detail = (char *)"worker restarted: the request may have gone out";
            rep.at_ms = chw__wall_ms();
            size_t len = pregon__delivery_report__get_packed_size(&rep);
            uint8_t *buf = malloc(len ? len : 1);
            if (!buf)
                return CHW_ERR_NOMEM;
            pregon__delivery_report__pack(&rep, buf);
            char lease[CHW_J_ID_MAX + 1];
            snprintf(lease, sizeof lease, "%s", e->lease_id);
            int jrc = chw_journal_done(self->journal, lease, buf, len);
            free(buf);
            if (jrc != CHW_J_OK)
                return jrc == CHW_J_ERR_NOMEM ? CHW_ERR_NOMEM : CHW_ERR_JOURNAL;
            e = chw_journal_find(self->journal, lease);
            self->counters.unknown++;
            unknown++;
        } else {
            again++;
        }
        if (e)
            chw_leaseset_add(self->reported, e->lease_id,
                             expires + (int64_t)self->cfg.heartbeat_ms);
    }
    if (chw_journal_dirty(self->journal) && chw_journal_commit(self->journal, NULL) != CHW_J_OK)
        return CHW_ERR_JOURNAL;
    chw__event(self, CHW_EV_REPLAYED, NULL, NULL,
               "previous process %s: %zu job(s) started and never done reported UNKNOWN, %zu "
               "report(s) not acknowledged sent again; the broker hands back its other leases",
               self->prev_incarnation[0] ? self->prev_incarnation : "(unknown)", unknown, again);
    (void)now;
    return CHW_OK;
}

/* --- broker messages --- */

static int s_on_dispatch(chw_worker_t *self, Pregon__BrokerToWorker *msg, int64_t now) {
    const Pregon__Dispatch *d = msg->dispatch;
    chw_result_t r;
    int rc = CHW_OK;
    self->counters.received++;
    if (!d->job || !d->job->job_id[0]) {
        self->counters.bad_frames++;
        chw__event(self, CHW_EV_BAD_FRAME, NULL, NULL, "dispatch without a job (lease %s)",
                   d->lease_id);
        self->pending_credit++; /* it used one credit at the broker */
    } else if (d->worker_incarnation && d->worker_incarnation[0] &&
               strcmp(d->worker_incarnation, self->incarnation) != 0) {
        /* Leased to the process that ran before this one under our worker id: the broker had
         * not read our ready yet. Neither started nor reported (a hand-back of ours could
         * match the job's next dispatch): the broker hands it back when it reads the ready,
         * which does not list it. It did not use our credit (the ready resets it). */
        self->counters.foreign++;
    } else if (self->halted || self->stopping) {
        chw_result_set(&r, CHW_RETRY, "%s", self->stopping ? CHW__STOP_REASON : "halted");
        rc = chw__report(self, d, &r, chw__wall_ms(), true, now);
    } else if (self->free_count == 0) {
        chw_result_set(&r, CHW_RETRY, "over-credit");
        rc = chw__report(self, d, &r, chw__wall_ms(), true, now);
    } else {
        int item = self->free_stack[--self->free_count];
        chw__slot_t *slot = &self->slots[item];
        slot->msg = msg;
        slot->dispatch = d;
        int64_t retry_in = 0;
        char buf[CHW_SHAPE_KEY_MAX];
        const char *key = self->driver.shape_key(self->driver.ctx, d, buf, sizeof buf);
        char gbuf[CHW_SHAPE_KEY_MAX];
        const char *group = self->driver.shape_group
                                ? self->driver.shape_group(self->driver.ctx, d, gbuf, sizeof gbuf)
                                : NULL;
        if (chw_shaper_push_in(self->shaper, key ? key : "", group, item, now, &retry_in) != 0) {
            chw_result_set(&r, CHW_RETRY, "sender-queue-full");
            return chw__finish(self, slot, &r, chw__wall_ms() + retry_in, true, now);
        }
        return CHW_OK; /* the slot owns msg now */
    }
    pregon__broker_to_worker__free_unpacked(msg, NULL);
    return rc;
}

static int s_on_message(chw_worker_t *self, const void *data, size_t len, int64_t now) {
    Pregon__BrokerToWorker *msg = pregon__broker_to_worker__unpack(NULL, len, data);
    if (!msg) {
        self->counters.bad_frames++;
        chw__event(self, CHW_EV_BAD_FRAME, NULL, NULL, "undecodable frame of %zu bytes", len);
        return CHW_OK;
    }
    switch (msg->msg_case) {
        case PREGON__BROKER_TO_WORKER__MSG_DISPATCH:
            return s_on_dispatch(self, msg, now);
        case PREGON__BROKER_TO_WORKER__MSG_HEARTBEAT:
            break;
        case PREGON__BROKER_TO_WORKER__MSG_REPORT_ACK:
            /* applied by the broker: those leases need no vouching any more */
            for (size_t i = 0; i < msg->report_ack->n_seqs; i++) {
                chw_leaseset_ack(self->reported, msg->report_ack->seqs[i]);
                if (self->journal)
                    chw_journal_ack(self->journal, msg->report_ack->seqs[i]);
            }
            break;
        case PREGON__BROKER_TO_WORKER__MSG_RELEASE_LINE:
            chw__release_line(self, msg->release_line->lease_id);
            break;
        case PREGON__BROKER_TO_WORKER__MSG_LEAVE_ACK:
            /* Outside a stop (a late answer to an earlier process's Leaving?) it means nothing. */
            if (self->stopping && !self->leave_acked) {
                self->leave_acked = true;
                chw__event(self, CHW_EV_LEAVE_ACKED, NULL, NULL, "after %lld ms",
                           (long long)(now - self->leave_sent_ms));
            }
            break;
        case PREGON__BROKER_TO_WORKER__MSG_HALT:
            if (!self->halted) {
                chw__event(self, CHW_EV_BROKER_HALT, NULL, NULL, "%s", msg->halt->reason);
                char reason[CHW_DETAIL_MAX];
                snprintf(reason, sizeof reason, "broker: %s", msg->halt->reason);
                pregon__broker_to_worker__free_unpacked(msg, NULL);
                return chw__halt(self, reason, now);
            }
            break;
        default:
            self->counters.bad_frames++;
            chw__event(self, CHW_EV_BAD_FRAME, NULL, NULL, "message without a known body");
            break;
    }
    pregon__broker_to_worker__free_unpacked(msg, NULL);
    return CHW_OK;
}

/* Reads every message waiting on the broker socket. */
int chw__recv_all(chw_worker_t *self, int64_t now) {
    int rc = CHW_OK;
    self->zmq_used = true;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            if (errno == EAGAIN || errno == EINTR)
                return rc;
            return CHW_ERR_ZMQ;
        }
        self->last_recv_ms = now;
        if (zmq_msg_more(&part)) {
            /* The protocol is one frame per message: skip the whole multipart message. */
            int more = 1;
            while (more) {
                zmq_msg_close(&part);
                zmq_msg_init(&part);
                if (zmq_msg_recv(&part, self->sock, ZMQ_DONTWAIT) < 0)
                    break;
                more = zmq_msg_more(&part);
            }
            zmq_msg_close(&part);
            self->counters.bad_frames++;
            chw__event(self, CHW_EV_BAD_FRAME, NULL, NULL, "multipart message from the broker");
            continue;
        }
        int frc = s_on_message(self, zmq_msg_data(&part), zmq_msg_size(&part), now);
        zmq_msg_close(&part);
        if (frc != CHW_OK && rc == CHW_OK)
            rc = frc;
    }
}

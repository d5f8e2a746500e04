/* chw_worker.c — the channel-worker event loop (see chw_worker.h for the contract).
 *
 * One epoll_wait per turn over the broker socket's ZMQ_FD and the sockets libcurl asks for
 * (CURLMOPT_SOCKETFUNCTION adds, changes and removes them), with a timeout that is the nearest of
 * curl's timer (CURLMOPT_TIMERFUNCTION), the heartbeat and the rate shaper's next token; only the
 * sockets that are ready cost anything. ZMQ_FD is edge-like: it only says "look at ZMQ_EVENTS",
 * and any zmq call may swallow that signal, so ZMQ_EVENTS is read again before the loop sleeps
 * whenever zmq was used (s_zmq_pending). A job lives in a slot
 * from its Dispatch to its DeliveryReport: queued under its shaping key (the driver's), then
 * running in curl. Every report goes through s_finish(), the one place that counts, reports,
 * releases the driver's per-job state and frees credit.
 * Reports sent while the broker may have been gone are kept briefly and re-sent after a
 * reconnect; the broker matches them by lease_id, so a duplicate is harmless. Every report but
 * a hand-back also leaves its lease in `reported` (chw_leaseset) until the lease expires, for the
 * held_leases of the next WorkerReady. Stopping is a small state machine in chw_worker_run and
 * s_stop_step: Leaving sent -> (LeaveAck or 3 heartbeats) and nothing held -> Leaving{done}. */
#include "chw_worker.h"

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

#include "chw_leaseset.h"
#include "chw_limits.h"
#include "chw_shaper.h"

#define S_HWM             100000
#define S_FINAL_LINGER_MS 1000
#define S_STOP_REASON     "worker-stopping" /* Leaving.reason and the hand-backs' detail */

/* One job from Dispatch to report. */
typedef struct {
    Pregon__BrokerToWorker *msg; /* owned; NULL when the slot is free */
    const Pregon__Dispatch *dispatch;
    CURL *easy;
    void *job_state; /* the driver's (chw_driver_t.prepare), released in s_finish */
    bool running;
    char *body;
    size_t body_len, body_cap;
    char errbuf[CURL_ERROR_SIZE];
} s_slot_t;

/* A packed WorkerToBroker frame waiting to be sent, or sent and kept for a possible resend. */
typedef struct {
    uint8_t *data;
    size_t len;
    int64_t sent_ms;
    bool is_report;
} s_frame_t;

typedef struct {
    s_frame_t *items;
    size_t head, count, cap;
} s_fifo_t;

struct chw_worker {
    chw_config_t cfg;
    char *endpoint, *worker_id, *policy_dir;
    chw_driver_t driver;

    void *zctx;
    void *sock;
    CURLM *multi;

    s_slot_t *slots;
    int *free_stack;
    uint32_t free_count;
    chw_shaper_t *shaper;

    int epfd;          /* epoll over curl's sockets and zmq_fd */
    int zmq_fd;        /* the broker socket's ZMQ_FD while registered in epfd; -1 = none */
    bool zmq_used;     /* zmq was called since ZMQ_EVENTS last showed nothing to read */
    bool zmq_readable; /* ZMQ_EVENTS showed messages to read before the last sleep */
    uint8_t *fd_state; /* fd -> S_FD_* bits of curl's sockets */
    size_t fd_state_cap;
    struct epoll_event *events;
    int events_cap;
    int64_t curl_timer_at; /* monotonic ms; -1 = none */
    bool nomem;            /* an allocation failed inside a curl callback */
    bool epoll_failed;     /* epoll_ctl failed inside a curl callback */

    int64_t last_send_ms, last_recv_ms;
    uint32_t pending_credit;
    bool halted, stopping;
    int64_t drain_deadline;
    char halt_reason[CHW_DETAIL_MAX + 32];

    /* Stopping (all monotonic ms): Leaving{done=false} went out at leave_sent_ms; LeaveAck is
     * awaited until ack_deadline; `left` once Leaving{done=true} is handed to the socket. */
    int64_t leave_sent_ms, ack_deadline;
    bool leave_acked, left;
    uint64_t stop_handed_back; /* hand-backs since stopping, for CHW_EV_LEFT */
    uint64_t report_seq;       /* the last report's number (DeliveryReport.seq) */

    char incarnation[17];     /* 16 hex digits, drawn once in chw_worker_new */
    chw_leaseset_t *reported; /* reported leases (not hand-backs) until their expiry */
    int64_t next_prune_ms;    /* monotonic: when `reported` is pruned next */

    s_fifo_t unsent; /* reports of this turn and frames zmq refused (HWM), in order */
    s_fifo_t recent; /* reports handed to zmq since shortly before the last broker message */
    uint64_t rng;
    chw_counters_t counters;
};

const char *chw_strerror(int err) {
    switch (err) {
        case CHW_OK:
            return "success";
        case CHW_ERR_CONFIG:
            return "invalid worker configuration";
        case CHW_ERR_NOMEM:
            return "out of memory";
        case CHW_ERR_ZMQ:
            return "ZeroMQ error";
        case CHW_ERR_CURL:
            return "libcurl error";
        case CHW_ERR_SYS:
            return "epoll error";
        default:
            return "unknown error";
    }
}

bool chw_recheck_allow(void *ctx, const Pregon__Dispatch *dispatch, int64_t now_ms, char *rule,
                       size_t rule_len) {
    (void)ctx, (void)dispatch, (void)now_ms, (void)rule, (void)rule_len;
    return true;
}

static int64_t s_clock_ms(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_mono_ms(void) {
    return s_clock_ms(CLOCK_MONOTONIC);
}

static int64_t s_wall_ms(void) {
    return s_clock_ms(CLOCK_REALTIME);
}

static void s_event(chw_worker_t *self, chw_event_kind_t kind, const chw_result_t *result,
                    const Pregon__Dispatch *job, const char *fmt, ...) {
    if (!self->cfg.on_event)
        return;
    char detail[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    chw_event_t event = {.kind = kind, .detail = detail, .result = result, .job = job};
    self->cfg.on_event(self->cfg.event_ctx, &event);
}

/* --- frame queues --- */

static int s_fifo_push(s_fifo_t *fifo, s_frame_t frame) {
    if (fifo->count == fifo->cap) {
        size_t cap = fifo->cap ? fifo->cap * 2 : 64;
        s_frame_t *items = malloc(cap * sizeof *items);
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

static s_frame_t *s_fifo_front(s_fifo_t *fifo) {
    return fifo->count ? &fifo->items[fifo->head] : NULL;
}

static s_frame_t s_fifo_pop(s_fifo_t *fifo) {
    s_frame_t frame = fifo->items[fifo->head];
    fifo->head = (fifo->head + 1) % fifo->cap;
    fifo->count--;
    return frame;
}

static void s_fifo_clear(s_fifo_t *fifo) {
    while (fifo->count) {
        s_frame_t frame = s_fifo_pop(fifo);
        free(frame.data);
    }
    free(fifo->items);
    memset(fifo, 0, sizeof *fifo);
}

/* Hands a frame to zmq, or queues it if zmq would block (or earlier frames are queued). Takes
 * ownership of frame.data. Returns CHW_OK, or CHW_ERR_ZMQ / CHW_ERR_NOMEM. */
static int s_send_frame(chw_worker_t *self, s_frame_t frame, int64_t now) {
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
 * its end (s_flush_unsent), so zmq's I/O thread wakes once for them, not once per report. */
static int s_send_msg(chw_worker_t *self, const Pregon__WorkerToBroker *msg, int64_t now) {
    size_t len = pregon__worker_to_broker__get_packed_size(msg);
    uint8_t *data = malloc(len ? len : 1);
    if (!data)
        return CHW_ERR_NOMEM;
    pregon__worker_to_broker__pack(msg, data);
    s_frame_t frame = {.data = data,
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
static int s_flush_unsent(chw_worker_t *self, int64_t now) {
    while (self->unsent.count) {
        self->zmq_used = true;
        s_frame_t *frame = s_fifo_front(&self->unsent);
        if (zmq_send(self->sock, frame->data, frame->len, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return CHW_OK;
            return CHW_ERR_ZMQ;
        }
        self->last_send_ms = now;
        s_frame_t sent = s_fifo_pop(&self->unsent);
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
static void s_prune_recent(chw_worker_t *self) {
    int64_t cutoff = self->last_recv_ms - (int64_t)self->cfg.heartbeat_ms;
    while (self->recent.count && s_fifo_front(&self->recent)->sent_ms < cutoff) {
        s_frame_t frame = s_fifo_pop(&self->recent);
        free(frame.data);
    }
}

static uint32_t s_free_credit(const chw_worker_t *self) {
    return (self->halted || self->stopping) ? 0 : self->free_count;
}

/* --- broker socket --- */

static int s_open_socket(chw_worker_t *self) {
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
    int linger = 0, hwm = S_HWM;
    int64_t maxmsg = CHW_MAX_FRAME_BYTES; /* larger: libzmq drops the broker */
    if (zmq_setsockopt(sock, ZMQ_ROUTING_ID, self->worker_id, strlen(self->worker_id)) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
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
static int s_zmq_pending(chw_worker_t *self) {
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
static int s_send_leaving(chw_worker_t *self, bool done, int64_t now) {
    Pregon__Leaving leaving = PREGON__LEAVING__INIT;
    leaving.reason = (char *)S_STOP_REASON;
    leaving.done = done;
    Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
    msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_LEAVING;
    msg.leaving = &leaving;
    return s_send_msg(self, &msg, now);
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
    int64_t wall = s_wall_ms();
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
static int s_announce(chw_worker_t *self, int64_t now) {
    s_fifo_t resend = self->recent, unsent = self->unsent;
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
    Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
    msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_READY;
    msg.ready = &ready;
    int rc = s_send_msg(self, &msg, now);
    free(held);
    if (!complete) {
        char over[64] = "";
        if (listed < total)
            snprintf(over, sizeof over, "; %zu more did not fit", total - listed);
        s_event(self, CHW_EV_HELD_PARTIAL, NULL, NULL,
                "ready lists %zu held lease(s) in its %d-byte budget%s%s: sent without the "
                "incarnation, so the broker cannot take an unlisted lease for lost",
                listed, CHW_READY_HELD_MAX, over,
                chw_leaseset_incomplete(self->reported, s_wall_ms())
                    ? "; older reported leases were forgotten before their expiry"
                    : "");
    }
    if (self->stopping && !self->left) {
        int frc = s_send_leaving(self, false, now);
        if (rc == CHW_OK)
            rc = frc;
    }

    s_fifo_t *queues[2] = {&resend, &unsent};
    for (int q = 0; q < 2; q++) {
        while (queues[q]->count) {
            s_frame_t frame = s_fifo_pop(queues[q]);
            if (!frame.is_report || (q == 0 && frame.sent_ms < cutoff)) {
                free(frame.data);
                continue;
            }
            int frc = s_send_frame(self, frame, now);
            if (rc == CHW_OK)
                rc = frc;
        }
        s_fifo_clear(queues[q]);
    }
    if (self->left) {
        int frc = s_send_leaving(self, true, now);
        if (rc == CHW_OK)
            rc = frc;
    }
    self->last_recv_ms = now;
    return rc;
}

/* --- reports and slots --- */

/* Sends one DeliveryReport for `dispatch` and counts it by outcome. Jobs holding a slot go
 * through s_finish(); dispatches that never got one (handed back at once) call this directly.
 * A report other than a hand-back keeps its lease in `reported` until the lease expires (plus a
 * heartbeat for the clocks' skew): should this report die with the broker, the next WorkerReady
 * still vouches for the lease. A hand-back is not kept: unlisted, a lost hand-back is handed
 * back by the broker, which is what it said; listed, it would wait for its expiry as UNKNOWN. */
static int s_report(chw_worker_t *self, const Pregon__Dispatch *dispatch, const chw_result_t *r,
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
    rep.detail = (char *)r->detail;
    rep.retry_at_ms = retry_at_ms;
    rep.at_ms = s_wall_ms();
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
    return s_send_msg(self, &msg, now);
}

/* Lets the driver free what it kept for the slot's job (once: the slot forgets it). */
static void s_release(chw_worker_t *self, s_slot_t *slot, const chw_result_t *r) {
    if (self->driver.release)
        self->driver.release(self->driver.ctx, slot->job_state, slot->dispatch, r);
    slot->job_state = NULL;
}

/* The one exit of a job holding a slot: reports it, releases the driver's state for it, frees
 * the slot and queues its credit. */
static int s_finish(chw_worker_t *self, s_slot_t *slot, const chw_result_t *r, int64_t retry_at_ms,
                    bool handed_back, int64_t now) {
    int rc = s_report(self, slot->dispatch, r, retry_at_ms, handed_back, now);
    s_release(self, slot, r);
    pregon__broker_to_worker__free_unpacked(slot->msg, NULL);
    slot->msg = NULL;
    slot->dispatch = NULL;
    slot->body_len = 0;
    self->free_stack[self->free_count++] = (int)(slot - self->slots);
    self->pending_credit++;
    return rc;
}

/* Hands every job still waiting for a token back to the broker, untried. */
static int s_hand_back_queued(chw_worker_t *self, const char *why, int64_t now) {
    int rc = CHW_OK, item;
    chw_result_t r;
    while ((item = chw_shaper_pop_any(self->shaper)) >= 0) {
        chw_result_set(&r, CHW_RETRY, "%s", why);
        int frc = s_finish(self, &self->slots[item], &r, s_wall_ms(), true, now);
        if (rc == CHW_OK)
            rc = frc;
    }
    return rc;
}

static int s_halt(chw_worker_t *self, const char *reason, int64_t now) {
    if (self->halted)
        return CHW_OK;
    self->halted = true;
    snprintf(self->halt_reason, sizeof self->halt_reason, "%s", reason);
    return s_hand_back_queued(self, "halted", now);
}

/* --- curl plumbing --- */

static size_t s_write_cb(char *data, size_t size, size_t nmemb, void *userp) {
    s_slot_t *slot = userp;
    size_t len = size * nmemb;
    size_t room = CHW_BODY_MAX - slot->body_len;
    size_t take = len < room ? len : room;
    if (take && slot->body_len + take + 1 > slot->body_cap) {
        size_t cap = slot->body_cap ? slot->body_cap : 1024;
        while (cap < slot->body_len + take + 1)
            cap *= 2;
        char *body = realloc(slot->body, cap);
        if (!body)
            return 0; /* aborts the transfer: CURLE_WRITE_ERROR -> UNKNOWN */
        slot->body = body;
        slot->body_cap = cap;
    }
    if (take) {
        memcpy(slot->body + slot->body_len, data, take);
        slot->body_len += take;
        slot->body[slot->body_len] = '\0';
    }
    return len;
}

/* Where curl's sockets stand in epfd (chw_worker.fd_state). curl drops a connection's socket
 * (CURL_POLL_REMOVE) after every transfer and asks for it again with the next one; deleting and
 * re-adding it would cost two epoll_ctl per message. So a socket the runtime opened and will see
 * closed (s_open_cb, s_close_cb) stays in epfd, "parked", with its last events: asking for them
 * again costs nothing, and an event on a parked socket (the server closed an idle connection)
 * takes it out. Other sockets (a resolver's socketpair, closed behind our back) are deleted on
 * CURL_POLL_REMOVE. */
#define S_FD_IN     0x01u /* registered for EPOLLIN */
#define S_FD_OUT    0x02u /* registered for EPOLLOUT */
#define S_FD_ADDED  0x04u /* in epfd */
#define S_FD_PARKED 0x08u /* in epfd, but curl does not watch it */
#define S_FD_OWNED  0x10u /* opened by s_open_cb: s_close_cb will see it closed */

/* The state byte of `fd`, growing the table; NULL (and nomem) if it cannot grow. */
static uint8_t *s_fd_state(chw_worker_t *self, int fd) {
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= self->fd_state_cap) {
        size_t cap = self->fd_state_cap ? self->fd_state_cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        uint8_t *state = realloc(self->fd_state, cap);
        if (!state) {
            self->nomem = true;
            return NULL;
        }
        memset(state + self->fd_state_cap, 0, cap - self->fd_state_cap);
        self->fd_state = state;
        self->fd_state_cap = cap;
    }
    return &self->fd_state[fd];
}

/* Takes `fd` out of epfd (it may be closed already: then it left by itself). */
static void s_fd_forget(chw_worker_t *self, uint8_t *state, int fd) {
    if (*state & S_FD_ADDED)
        epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
    *state &= S_FD_OWNED;
}

static int s_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy, (void)socketp;
    chw_worker_t *self = userp;
    uint8_t *state = s_fd_state(self, fd);
    if (!state)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if ((*state & (S_FD_OWNED | S_FD_ADDED)) == (S_FD_OWNED | S_FD_ADDED))
            *state |= S_FD_PARKED;
        else
            s_fd_forget(self, state, fd);
        return 0;
    }
    uint8_t want = (uint8_t)(((what & CURL_POLL_IN) ? S_FD_IN : 0u) |
                             ((what & CURL_POLL_OUT) ? S_FD_OUT : 0u));
    if ((*state & S_FD_OWNED) && (*state & S_FD_ADDED) && (*state & (S_FD_IN | S_FD_OUT)) == want) {
        *state &= (uint8_t)~S_FD_PARKED;
        return 0;
    }
    struct epoll_event ev = {.events = ((want & S_FD_IN) ? (uint32_t)EPOLLIN : 0u) |
                                       ((want & S_FD_OUT) ? (uint32_t)EPOLLOUT : 0u),
                             .data.fd = fd};
    int op = (*state & S_FD_ADDED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(self->epfd, op, fd, &ev);
    /* Not knowing of a close (a socket that is not ours) shows here: retry the other way. */
    if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
        rc = epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev);
    else if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
        rc = epoll_ctl(self->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc != 0) {
        if (errno == ENOMEM)
            self->nomem = true;
        else
            self->epoll_failed = true;
        *state &= S_FD_OWNED;
        return 0;
    }
    *state = (uint8_t)((*state & S_FD_OWNED) | S_FD_ADDED | want);
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: what curl does by default, noting the socket as ours. A new
 * descriptor is in no epoll set, whatever its number was used for before. */
static curl_socket_t s_open_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr) {
    (void)purpose;
    chw_worker_t *self = clientp;
    int fd = socket(addr->family, addr->socktype, addr->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    uint8_t *state = s_fd_state(self, fd);
    if (!state) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    *state = S_FD_OWNED;
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: closing the descriptor also takes it out of epfd. */
static int s_close_cb(void *clientp, curl_socket_t fd) {
    chw_worker_t *self = clientp;
    if (fd >= 0 && (size_t)fd < self->fd_state_cap)
        self->fd_state[fd] = 0;
    return close(fd);
}

static int s_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    chw_worker_t *self = userp;
    self->curl_timer_at = timeout_ms < 0 ? -1 : s_mono_ms() + timeout_ms;
    return 0;
}

/* Finishes a transfer curl reported done. */
static int s_complete(chw_worker_t *self, s_slot_t *slot, CURLcode code, int64_t now) {
    CURL *easy = slot->easy;
    curl_multi_remove_handle(self->multi, easy);
    slot->running = false;

    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    chw_result_t r;
    curl_off_t retry_after = 0;
    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
    if (status > 0) {
        /* The status line is the provider's decision even if the body was cut short. */
        self->counters.http_status[status < 600 ? status : 0]++;
        chw_response_t response = {.status = status,
                                   .body = slot->body ? slot->body : "",
                                   .body_len = slot->body_len,
                                   .retry_after_s = retry_after > 0 ? (int64_t)retry_after : -1};
        memset(&r, 0, sizeof r);
        self->driver.classify(self->driver.ctx, slot->job_state, slot->dispatch, &response, &r);
    } else {
        self->counters.http_status[0]++;
        long request_size = 0;
        curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
        chw_transport_classify((int)code, request_size > 0, slot->errbuf, &r);
    }

    int64_t retry_at = 0;
    if (r.outcome == CHW_RETRY) {
        int64_t floor_ms = retry_after > 0 ? (int64_t)retry_after * 1000 : 0;
        if (r.min_retry_ms > floor_ms)
            floor_ms = r.min_retry_ms;
        retry_at = s_wall_ms() + chw_backoff_ms(slot->dispatch->attempt, self->cfg.backoff_base_ms,
                                                self->cfg.backoff_cap_ms, floor_ms,
                                                chw_rand_next(&self->rng));
    }
    int rc = CHW_OK;
    if (r.outcome == CHW_CONFIG_ERROR && !self->halted) {
        s_event(self, CHW_EV_HALTED, &r, slot->dispatch, "%s", r.detail);
        rc = s_halt(self, r.detail, now);
    }
    int frc = s_finish(self, slot, &r, retry_at, false, now);
    return rc != CHW_OK ? rc : frc;
}

static int s_collect(chw_worker_t *self, int64_t now) {
    int rc = CHW_OK, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(self->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        CURLcode code = m->data.result; /* m is invalid after remove_handle */
        int frc = s_complete(self, (s_slot_t *)(void *)priv, code, now);
        if (rc == CHW_OK)
            rc = frc;
    }
    return rc;
}

/* Re-checks a job whose sender has a token and starts its transfer, or reports it. */
static int s_start(chw_worker_t *self, s_slot_t *slot, int64_t now) {
    const Pregon__Dispatch *d = slot->dispatch;
    const Pregon__SendRequest *job = d->job;
    int64_t wall = s_wall_ms();
    chw_result_t r;
    char rule[128] = "";
    if (job->expires_at > 0 && wall / 1000 >= job->expires_at)
        return s_finish(self, slot, chw_result_set(&r, CHW_SKIPPED, "expired"), 0, false, now);
    if (d->lease_expires_ms > 0 && wall >= d->lease_expires_ms)
        return s_finish(self, slot, chw_result_set(&r, CHW_RETRY, "lease-expired"), wall, true,
                        now);
    chw_recheck_fn recheck = self->cfg.recheck ? self->cfg.recheck : chw_recheck_allow;
    if (!recheck(self->cfg.recheck_ctx, d, wall, rule, sizeof rule)) {
        rule[sizeof rule - 1] = '\0';
        return s_finish(self, slot, chw_result_set(&r, CHW_SKIPPED, "%s", rule), 0, false, now);
    }

    CURL *easy = slot->easy;
    curl_easy_reset(easy);
    slot->body_len = 0;
    slot->errbuf[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)slot);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, slot);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, slot->errbuf);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, self->cfg.request_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, self->cfg.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, s_open_cb);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, self);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, s_close_cb);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, self);
    memset(&r, 0, sizeof r);
    if (self->driver.prepare(self->driver.ctx, easy, d, &slot->job_state, &r) != 0) {
        if (r.outcome == CHW_OUTCOME_NONE)
            chw_result_set(&r, CHW_FAILED, "request could not be built");
        int rc = CHW_OK;
        if (r.outcome == CHW_CONFIG_ERROR && !self->halted) {
            s_event(self, CHW_EV_HALTED, &r, d, "%s", r.detail);
            rc = s_halt(self, r.detail, now);
        }
        int frc = s_finish(self, slot, &r, 0, false, now);
        return rc != CHW_OK ? rc : frc;
    }
    if (curl_multi_add_handle(self->multi, easy) != CURLM_OK) {
        chw_result_set(&r, CHW_RETRY, "curl_multi_add_handle failed");
        return s_finish(self, slot, &r, wall + 1000, true, now);
    }
    slot->running = true;
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
        s_event(self, CHW_EV_BAD_FRAME, NULL, NULL, "dispatch without a job (lease %s)",
                d->lease_id);
        self->pending_credit++; /* it used one credit at the broker */
    } else if (self->halted || self->stopping) {
        chw_result_set(&r, CHW_RETRY, "%s", self->stopping ? S_STOP_REASON : "halted");
        rc = s_report(self, d, &r, s_wall_ms(), true, now);
    } else if (self->free_count == 0) {
        chw_result_set(&r, CHW_RETRY, "over-credit");
        rc = s_report(self, d, &r, s_wall_ms(), true, now);
    } else {
        int item = self->free_stack[--self->free_count];
        s_slot_t *slot = &self->slots[item];
        slot->msg = msg;
        slot->dispatch = d;
        int64_t retry_in = 0;
        char buf[CHW_SHAPE_KEY_MAX];
        const char *key = self->driver.shape_key(self->driver.ctx, d, buf, sizeof buf);
        if (chw_shaper_push(self->shaper, key ? key : "", item, now, &retry_in) != 0) {
            chw_result_set(&r, CHW_RETRY, "sender-queue-full");
            return s_finish(self, slot, &r, s_wall_ms() + retry_in, true, now);
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
        s_event(self, CHW_EV_BAD_FRAME, NULL, NULL, "undecodable frame of %zu bytes", len);
        return CHW_OK;
    }
    switch (msg->msg_case) {
        case PREGON__BROKER_TO_WORKER__MSG_DISPATCH:
            return s_on_dispatch(self, msg, now);
        case PREGON__BROKER_TO_WORKER__MSG_HEARTBEAT:
            break;
        case PREGON__BROKER_TO_WORKER__MSG_REPORT_ACK:
            /* applied by the broker: those leases need no vouching any more */
            for (size_t i = 0; i < msg->report_ack->n_seqs; i++)
                chw_leaseset_ack(self->reported, msg->report_ack->seqs[i]);
            break;
        case PREGON__BROKER_TO_WORKER__MSG_LEAVE_ACK:
            /* Outside a stop (a late answer to an earlier process's Leaving?) it means nothing. */
            if (self->stopping && !self->leave_acked) {
                self->leave_acked = true;
                s_event(self, CHW_EV_LEAVE_ACKED, NULL, NULL, "after %lld ms",
                        (long long)(now - self->leave_sent_ms));
            }
            break;
        case PREGON__BROKER_TO_WORKER__MSG_HALT:
            if (!self->halted) {
                s_event(self, CHW_EV_BROKER_HALT, NULL, NULL, "%s", msg->halt->reason);
                char reason[CHW_DETAIL_MAX];
                snprintf(reason, sizeof reason, "broker: %s", msg->halt->reason);
                pregon__broker_to_worker__free_unpacked(msg, NULL);
                return s_halt(self, reason, now);
            }
            break;
        default:
            self->counters.bad_frames++;
            s_event(self, CHW_EV_BAD_FRAME, NULL, NULL, "message without a known body");
            break;
    }
    pregon__broker_to_worker__free_unpacked(msg, NULL);
    return CHW_OK;
}

/* Reads every message waiting on the broker socket. */
static int s_recv_all(chw_worker_t *self, int64_t now) {
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
            s_event(self, CHW_EV_BAD_FRAME, NULL, NULL, "multipart message from the broker");
            continue;
        }
        int frc = s_on_message(self, zmq_msg_data(&part), zmq_msg_size(&part), now);
        zmq_msg_close(&part);
        if (frc != CHW_OK && rc == CHW_OK)
            rc = frc;
    }
}

/* --- lifecycle --- */

static char *s_strdup(const char *s) {
    if (!s)
        return NULL;
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

/* Fills in the defaults chw_config_t documents for the fields left 0. */
static void s_config_defaults(chw_config_t *c) {
    if (!c->concurrency)
        c->concurrency = 64;
    if (!c->heartbeat_ms)
        c->heartbeat_ms = 1000;
    if (c->burst <= 0)
        c->burst = c->rate_per_sender > 1 ? c->rate_per_sender : 1;
    if (!c->sender_queue_max) {
        double q = 2 * c->burst;
        c->sender_queue_max = q < 4 ? 4 : (q > c->concurrency ? c->concurrency : (uint32_t)q);
    }
    if (c->rate_per_sender <= 0) /* unlimited: a sender can hold every slot */
        c->sender_queue_max = c->concurrency;
    if (c->max_host_connections <= 0)
        c->max_host_connections = (long)c->concurrency;
    if (c->request_timeout_ms <= 0)
        c->request_timeout_ms = 30000;
    if (c->connect_timeout_ms <= 0)
        c->connect_timeout_ms = 5000;
    if (!c->drain_timeout_ms)
        c->drain_timeout_ms = 10000;
    if (c->backoff_base_ms <= 0)
        c->backoff_base_ms = 1000;
    if (c->backoff_cap_ms <= 0)
        c->backoff_cap_ms = 300000;
}

chw_worker_t *chw_worker_new(const chw_config_t *config, const chw_driver_t *driver, int *err) {
    int dummy;
    if (!err)
        err = &dummy;
    *err = CHW_ERR_CONFIG;
    if (!config || !driver || !driver->prepare || !driver->classify || !config->endpoint ||
        !config->worker_id || !*config->worker_id || strlen(config->worker_id) > 255)
        return NULL;
    *err = CHW_ERR_NOMEM;
    chw_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *config;
    self->driver = *driver;
    if (!self->driver.shape_key)
        self->driver.shape_key = chw_shape_key_sender;
    chw_config_t *c = &self->cfg;
    s_config_defaults(c);
    self->endpoint = s_strdup(config->endpoint);
    self->worker_id = s_strdup(config->worker_id);
    self->policy_dir = s_strdup(config->policy_dir);
    c->endpoint = self->endpoint;
    c->worker_id = self->worker_id;
    c->policy_dir = self->policy_dir;
    self->rng = (uint64_t)s_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)self;
    self->curl_timer_at = -1;
    self->zmq_fd = -1;
    self->epfd = -1;
    uint8_t random[8]; /* the incarnation: the kernel's CSPRNG, as /dev/urandom */
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        *err = CHW_ERR_SYS;
        goto fail;
    }
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(self->incarnation + 2 * i, 3, "%02x", random[i]);

    self->slots = calloc(c->concurrency, sizeof *self->slots);
    self->free_stack = calloc(c->concurrency, sizeof *self->free_stack);
    self->shaper = chw_shaper_new(c->rate_per_sender, c->burst, c->sender_queue_max);
    self->reported = chw_leaseset_new(CHW_READY_HELD_MAX);
    self->multi = curl_multi_init();
    /* Ready events per turn: every transfer's socket and the broker's; more wait a turn. */
    self->events_cap = c->concurrency < 1024 ? (int)c->concurrency + 1 : 1024;
    self->events = calloc((size_t)self->events_cap, sizeof *self->events);
    if (!self->endpoint || !self->worker_id || (config->policy_dir && !self->policy_dir) ||
        !self->slots || !self->free_stack || !self->shaper || !self->reported || !self->multi ||
        !self->events)
        goto fail;
    for (uint32_t i = 0; i < c->concurrency; i++) {
        self->slots[i].easy = curl_easy_init();
        if (!self->slots[i].easy)
            goto fail;
        self->free_stack[i] = (int)(c->concurrency - 1 - i);
    }
    self->free_count = c->concurrency;

    *err = CHW_ERR_CURL;
    if (curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, s_socket_cb) != CURLM_OK ||
        curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self) != CURLM_OK ||
        curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, s_timer_cb) != CURLM_OK ||
        curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self) != CURLM_OK ||
        curl_multi_setopt(self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->max_host_connections) !=
            CURLM_OK ||
        curl_multi_setopt(self->multi, CURLMOPT_MAXCONNECTS,
                          c->max_host_connections > (long)c->concurrency
                              ? c->max_host_connections
                              : (long)c->concurrency) != CURLM_OK)
        goto fail;

    *err = CHW_ERR_SYS;
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epfd < 0)
        goto fail;
    *err = CHW_ERR_ZMQ;
    self->zctx = zmq_ctx_new();
    if (!self->zctx)
        goto fail;
    *err = s_open_socket(self);
    if (*err != CHW_OK)
        goto fail;
    return self;
fail:
    chw_worker_destroy(&self);
    return NULL;
}

void chw_worker_destroy(chw_worker_t **self_p) {
    if (!self_p || !*self_p)
        return;
    chw_worker_t *self = *self_p;
    for (uint32_t i = 0; self->slots && i < self->cfg.concurrency; i++) {
        s_slot_t *slot = &self->slots[i];
        if (slot->running)
            curl_multi_remove_handle(self->multi, slot->easy);
        if (slot->easy)
            curl_easy_cleanup(slot->easy);
        if (slot->msg) {
            chw_result_t r;
            s_release(self, slot, chw_result_set(&r, CHW_OUTCOME_NONE, "worker destroyed"));
            pregon__broker_to_worker__free_unpacked(slot->msg, NULL);
        }
        free(slot->body);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi); /* after the handles: it may call s_socket_cb */
    if (self->sock)
        zmq_close(self->sock);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    if (self->epfd >= 0)
        close(self->epfd);
    chw_shaper_destroy(&self->shaper);
    chw_leaseset_destroy(&self->reported);
    s_fifo_clear(&self->unsent);
    s_fifo_clear(&self->recent);
    free(self->slots);
    free(self->free_stack);
    free(self->fd_state);
    free(self->events);
    free(self->endpoint);
    free(self->worker_id);
    free(self->policy_dir);
    free(self);
    *self_p = NULL;
}

void chw_worker_counters(const chw_worker_t *self, chw_counters_t *out) {
    *out = self->counters;
    out->in_flight = self->cfg.concurrency - self->free_count;
    out->queued = chw_shaper_queued(self->shaper);
}

const char *chw_worker_incarnation(const chw_worker_t *self) {
    return self->incarnation;
}

const char *chw_worker_halt_reason(const chw_worker_t *self) {
    return self->halt_reason;
}

/* Cuts the transfers still running when the drain timeout hits. */
static int s_abort_running(chw_worker_t *self, int64_t now) {
    int rc = CHW_OK, cut = 0;
    for (uint32_t i = 0; i < self->cfg.concurrency; i++) {
        s_slot_t *slot = &self->slots[i];
        if (!slot->running)
            continue;
        long request_size = 0;
        curl_easy_getinfo(slot->easy, CURLINFO_REQUEST_SIZE, &request_size);
        curl_multi_remove_handle(self->multi, slot->easy);
        slot->running = false;
        chw_result_t r;
        if (request_size > 0)
            chw_result_set(&r, CHW_UNKNOWN, "cut by the drain timeout after sending");
        else
            chw_result_set(&r, CHW_RETRY, "cut by the drain timeout before sending");
        int frc = s_finish(self, slot, &r, s_wall_ms(), request_size == 0, now);
        if (rc == CHW_OK)
            rc = frc;
        cut++;
    }
    s_event(self, CHW_EV_DRAIN_TIMEOUT, NULL, NULL, "%d transfer(s) cut", cut);
    return rc;
}

/* Begins a stop: Leaving{done=false} goes out first, then every job still waiting for its
 * sender's token is handed back; running requests go on, and no credit is offered again. */
static int s_begin_stop(chw_worker_t *self, int64_t now) {
    self->stopping = true;
    self->drain_deadline = now + self->cfg.drain_timeout_ms;
    self->leave_sent_ms = now;
    self->ack_deadline = now + 3 * (int64_t)self->cfg.heartbeat_ms;
    uint32_t held = self->cfg.concurrency - self->free_count;
    size_t queued = chw_shaper_queued(self->shaper);
    int rc = s_send_leaving(self, false, now);
    int frc = s_hand_back_queued(self, S_STOP_REASON, now);
    if (rc == CHW_OK)
        rc = frc;
    frc = s_flush_unsent(self, now);
    if (rc == CHW_OK)
        rc = frc;
    s_event(self, CHW_EV_DRAINING, NULL, NULL,
            "Leaving sent; %zu queued job(s) handed back, %zu request(s) in progress "
            "(drain timeout %u ms)",
            queued, (size_t)held - queued, self->cfg.drain_timeout_ms);
    return rc;
}

/* The latest a stop lasts when the broker does not take the last frames. */
static int64_t s_stop_deadline(const chw_worker_t *self) {
    return self->drain_deadline > self->ack_deadline ? self->drain_deadline : self->ack_deadline;
}

/* One step of a stop, once per loop turn: cuts the requests still running at the drain
 * timeout; once nothing is held and LeaveAck came (or 3 heartbeats passed), sends
 * Leaving{done=true} behind every report. Sets *done when chw_worker_run may return. */
static int s_stop_step(chw_worker_t *self, int64_t now, bool *done) {
    int rc = CHW_OK;
#define S_KEEP(expr)                                                                               \
    do {                                                                                           \
        int s_rc_ = (expr);                                                                        \
        if (s_rc_ != CHW_OK && rc == CHW_OK)                                                       \
            rc = s_rc_;                                                                            \
    } while (0)
    *done = false;
    if (self->free_count != self->cfg.concurrency && now >= self->drain_deadline) {
        S_KEEP(s_abort_running(self, now));
        S_KEEP(s_hand_back_queued(self, S_STOP_REASON, now)); /* none expected: belt and braces */
        S_KEEP(s_flush_unsent(self, now));
    }
    bool held = self->free_count != self->cfg.concurrency;
    if (!held && !self->left && (self->leave_acked || now >= self->ack_deadline)) {
        if (!self->leave_acked)
            s_event(self, CHW_EV_LEAVE_UNACKED, NULL, NULL,
                    "no LeaveAck %lld ms after Leaving: leaving without it",
                    (long long)(now - self->leave_sent_ms));
        S_KEEP(s_send_leaving(self, true, now)); /* queued behind any report still unsent */
        self->left = true;
        S_KEEP(s_flush_unsent(self, now));
        s_event(self, CHW_EV_LEFT, NULL, NULL,
                "Leaving{done} sent %lld ms after Leaving; %llu job(s) handed back while stopping",
                (long long)(now - self->leave_sent_ms), (unsigned long long)self->stop_handed_back);
    }
    if (self->left && (self->unsent.count == 0 || now >= s_stop_deadline(self)))
        *done = true;
#undef S_KEEP
    return rc;
}

static int64_t s_min_wait(int64_t a, int64_t b) {
    return (a < 0 || (b >= 0 && b < a)) ? b : a;
}

/* Milliseconds epoll_wait may sleep. */
static int s_poll_timeout(chw_worker_t *self, int64_t now) {
    int64_t hb = self->cfg.heartbeat_ms;
    int64_t wait = self->last_send_ms + hb - now;
    wait = s_min_wait(wait, self->last_recv_ms + 3 * hb - now);
    if (self->curl_timer_at >= 0)
        wait = s_min_wait(wait, self->curl_timer_at - now);
    if (!self->halted && !self->stopping)
        wait = s_min_wait(wait, chw_shaper_wake_ms(self->shaper, now));
    if (self->stopping) {
        /* Each deadline counts only while it can still change something (no busy loop). */
        if (self->free_count != self->cfg.concurrency)
            wait = s_min_wait(wait, self->drain_deadline - now);
        if (!self->left && !self->leave_acked && self->ack_deadline > now)
            wait = s_min_wait(wait, self->ack_deadline - now);
        if (self->left)
            wait = s_min_wait(wait, s_stop_deadline(self) - now);
    }
    if (self->unsent.count)
        wait = s_min_wait(wait, 10);
    return wait < 0 ? 0 : (wait > INT_MAX ? INT_MAX : (int)wait);
}

static int s_curl_timeout(chw_worker_t *self) {
    int running;
    self->curl_timer_at = -1;
    return curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running) == CURLM_OK
               ? CHW_OK
               : CHW_ERR_CURL;
}

/* One turn after epoll_wait reported `nready` events: broker messages, curl sockets and timer,
 * new transfers, credit, heartbeat, reconnect. */
static int s_turn(chw_worker_t *self, int nready) {
    int64_t now = s_mono_ms();
    int rc = CHW_OK;
#define S_KEEP(expr)                                                                               \
    do {                                                                                           \
        int s_rc_ = (expr);                                                                        \
        if (s_rc_ != CHW_OK && rc == CHW_OK)                                                       \
            rc = s_rc_;                                                                            \
    } while (0)

    bool broker = self->zmq_readable;
    self->zmq_readable = false;
    for (int i = 0; i < nready; i++)
        if (self->events[i].data.fd == self->zmq_fd)
            broker = true;
    if (broker)
        S_KEEP(s_recv_all(self, now));
    for (int i = 0; i < nready; i++) {
        int fd = self->events[i].data.fd;
        uint32_t rev = self->events[i].events;
        if (fd == self->zmq_fd)
            continue;
        if (fd >= 0 && (size_t)fd < self->fd_state_cap && (self->fd_state[fd] & S_FD_PARKED)) {
            /* An idle pooled connection woke (closed by the server, or writable): stop watching
             * it. curl checks a connection before reusing it and drops a dead one. */
            s_fd_forget(self, &self->fd_state[fd], fd);
            continue;
        }
        int mask = 0, running;
        if (rev & EPOLLIN)
            mask |= CURL_CSELECT_IN;
        if (rev & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (rev & (EPOLLERR | EPOLLHUP))
            mask |= CURL_CSELECT_ERR;
        /* A socket curl dropped earlier in this turn answers CURLM_BAD_SOCKET: harmless. */
        CURLMcode mc = curl_multi_socket_action(self->multi, fd, mask, &running);
        if (mc != CURLM_OK && mc != CURLM_BAD_SOCKET)
            S_KEEP(CHW_ERR_CURL);
    }
    if (self->curl_timer_at >= 0 && self->curl_timer_at <= now)
        S_KEEP(s_curl_timeout(self));
    S_KEEP(s_collect(self, now));

    if (!self->halted && !self->stopping) {
        int item;
        bool started = false;
        while ((item = chw_shaper_pop(self->shaper, now)) >= 0) {
            S_KEEP(s_start(self, &self->slots[item], now));
            started = true;
        }
        /* New handles set a 0 ms timer: kick them now rather than one poll later. */
        if (started && self->curl_timer_at >= 0 && self->curl_timer_at <= s_mono_ms()) {
            S_KEEP(s_curl_timeout(self));
            S_KEEP(s_collect(self, now));
        }
    }

    S_KEEP(s_flush_unsent(self, now));
    if (self->pending_credit && !self->halted && !self->stopping) {
        Pregon__Credit credit = PREGON__CREDIT__INIT;
        credit.credit = self->pending_credit;
        Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
        msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_CREDIT;
        msg.credit = &credit;
        S_KEEP(s_send_msg(self, &msg, now));
    }
    self->pending_credit = 0;

    int64_t hb = self->cfg.heartbeat_ms;
    if (now - self->last_recv_ms >= 3 * hb) {
        self->counters.reconnects++;
        S_KEEP(s_open_socket(self));
        if (rc == CHW_OK) {
            S_KEEP(s_announce(self, now));
            s_event(self, CHW_EV_RECONNECTED, NULL, NULL, "%s", self->endpoint);
        }
    } else if (now - self->last_send_ms >= hb) {
        Pregon__Heartbeat beat = PREGON__HEARTBEAT__INIT;
        beat.at_ms = s_wall_ms();
        Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
        msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_HEARTBEAT;
        msg.heartbeat = &beat;
        S_KEEP(s_send_msg(self, &msg, now));
    }
    s_prune_recent(self);
    if (now >= self->next_prune_ms) {
        chw_leaseset_prune(self->reported, s_wall_ms());
        self->next_prune_ms = now + hb;
    }
    if (self->nomem)
        S_KEEP(CHW_ERR_NOMEM);
    if (self->epoll_failed)
        S_KEEP(CHW_ERR_SYS);
#undef S_KEEP
    return rc;
}

int chw_worker_run(chw_worker_t *self) {
    int64_t now = s_mono_ms();
    self->last_recv_ms = now;
    int rc = s_announce(self, now);
    if (rc != CHW_OK)
        return rc;
    s_event(self, CHW_EV_CONNECTED, NULL, NULL, "%s", self->endpoint);

    for (;;) {
        now = s_mono_ms();
        if (self->cfg.stop_flag && *self->cfg.stop_flag && !self->stopping) {
            rc = s_begin_stop(self, now);
            if (rc != CHW_OK)
                break;
        }
        if (self->stopping) {
            bool done;
            rc = s_stop_step(self, now, &done);
            if (rc != CHW_OK || done)
                break;
        }

        int timeout = s_poll_timeout(self, now);
        int pending = s_zmq_pending(self);
        if (pending < 0) {
            rc = CHW_ERR_ZMQ;
            break;
        }
        if (pending) {
            self->zmq_readable = true;
            timeout = 0;
        }
        int nready = epoll_wait(self->epfd, self->events, self->events_cap, timeout);
        if (nready < 0) {
            if (errno == EINTR)
                continue;
            rc = CHW_ERR_SYS;
            break;
        }
        rc = s_turn(self, nready);
        if (rc != CHW_OK)
            break;
    }
    /* Give the last reports a moment to leave (the socket otherwise has ZMQ_LINGER 0). */
    int linger = S_FINAL_LINGER_MS;
    if (self->sock)
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    return rc;
}

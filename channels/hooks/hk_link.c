/* hk_link.c — holds, the submit queue, and the DEALER loop to pregond (see hk_link.h).
 *
 * Every event sent gets the next seq and an entry in `pending`, a ring indexed by
 * seq - base_seq: seqs are consecutive and deadlines grow with them (holds are stamped under
 * the queue lock, in queue order), so the oldest entry is always the next to expire, an ack
 * finds its entry in O(1), and finished entries leave from the front. The ring grows as
 * needed; max_in_flight bounds it, since an entry counts in flight until it is resolved
 * (acked, expired, or failed with everything when pregond goes or we stop). */
#include "hk_link.h"

#include "pregon.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_FRAME (1 << 20) /* an ack is tiny: anything larger is not from pregond */
#define S_HWM       10000

struct hk_hold {
    _Atomic int refs;
    _Atomic int state; /* hk_hold_state_t, stored (release) after why */
    int why;
    int route;
    hk_event_t *events;
    size_t n_events;
    pg_http_waker_t *waker;
    int64_t deadline;                                /* monotonic ms, set by submit */
    char *script_tenant, *script_job, *script_lease; /* a ScriptRequest hold: all set */
    uint8_t *script_reply; /* the packed ScriptReply, written before the hold is decided */
    size_t script_reply_len;
    hk_hold_t *next; /* in the submit queue */
    /* link thread only */
    size_t unresolved; /* events not yet acked, expired or failed */
};

typedef struct {
    hk_hold_t *hold; /* NULL once resolved */
} s_entry_t;

struct hk_link {
    hk_link_config_t cfg;
    char *endpoint;
    void *zctx;
    void *sock;
    int efd;

    pthread_mutex_t lock; /* guards the queue, stopping and in_flight */
    hk_hold_t *head, *tail;
    bool stopping;
    int64_t in_flight;
    _Atomic bool up;

    /* main thread */
    s_entry_t *ring;
    size_t ring_cap;             /* power of two */
    uint64_t base_seq, next_seq; /* entries base_seq .. next_seq-1 */
    int64_t last_send, last_recv, last_open;
};

static int64_t s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_report(hk_link_t *self, const char *fmt, ...) {
    if (!self->cfg.report)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    self->cfg.report(self->cfg.report_ctx, msg);
}

/* --- holds ---------------------------------------------------------------------------- */

hk_hold_t *hk_hold_new(hk_result_t *res, int route, pg_http_waker_t **waker) {
    hk_hold_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    atomic_init(&h->refs, 1);
    atomic_init(&h->state, HK_HOLD_WAITING);
    h->route = route;
    h->events = res->events;
    h->n_events = res->n_events;
    res->events = NULL;
    res->n_events = res->cap_events = 0;
    h->waker = *waker;
    *waker = NULL;
    return h;
}

hk_hold_t *hk_hold_new_script(hk_result_t *res, int route, pg_http_waker_t **waker) {
    hk_hold_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    atomic_init(&h->refs, 1);
    atomic_init(&h->state, HK_HOLD_WAITING);
    h->route = route;
    h->n_events = 1; /* the request, in flight until its reply */
    h->script_tenant = res->script_tenant;
    h->script_job = res->script_job;
    h->script_lease = res->script_lease;
    res->script_tenant = res->script_job = res->script_lease = NULL;
    h->waker = *waker;
    *waker = NULL;
    return h;
}

const uint8_t *hk_hold_script(const hk_hold_t *hold, size_t *len) {
    if (hk_hold_state(hold, NULL) != HK_HOLD_ACKED || !hold->script_reply)
        return NULL;
    *len = hold->script_reply_len;
    return hold->script_reply;
}

hk_hold_state_t hk_hold_state(const hk_hold_t *hold, hk_unavail_kind_t *why) {
    int st = atomic_load_explicit(&((hk_hold_t *)hold)->state, memory_order_acquire);
    if (st == HK_HOLD_FAILED && why)
        *why = (hk_unavail_kind_t)hold->why;
    return (hk_hold_state_t)st;
}

void hk_hold_release(hk_hold_t **hold_p) {
    if (!hold_p || !*hold_p)
        return;
    hk_hold_t *h = *hold_p;
    *hold_p = NULL;
    if (atomic_fetch_sub(&h->refs, 1) != 1)
        return;
    for (size_t i = 0; h->events && i < h->n_events; i++)
        hk_event_release(&h->events[i]);
    free(h->events);
    free(h->script_tenant);
    free(h->script_job);
    free(h->script_lease);
    free(h->script_reply);
    pg_http_waker_release(&h->waker);
    free(h);
}

void hk_hold_free(void *hold) {
    hk_hold_t *h = hold;
    hk_hold_release(&h);
}

/* Decides the hold (first decision wins) and wakes its request. Link thread. */
static void s_decide(hk_hold_t *h, hk_hold_state_t st, hk_unavail_kind_t why) {
    if (atomic_load_explicit(&h->state, memory_order_relaxed) != HK_HOLD_WAITING)
        return;
    h->why = (int)why;
    atomic_store_explicit(&h->state, st, memory_order_release);
    if (h->waker) {
        pg_http_waker_wake(h->waker);
        pg_http_waker_release(&h->waker);
    }
}

/* One of h's events is resolved (acked, expired, failed); drops the link's reference once
 * every one is, deciding the hold acked unless a failure decided it before. */
static void s_one_done(hk_link_t *self, hk_hold_t *h) {
    pthread_mutex_lock(&self->lock);
    int64_t n = --self->in_flight;
    pthread_mutex_unlock(&self->lock);
    hk_metrics_set_in_flight(self->cfg.metrics, n, self->cfg.max_in_flight);
    if (--h->unresolved == 0) {
        s_decide(h, HK_HOLD_ACKED, 0);
        hk_hold_release(&h);
    }
}

/* One of h's events failed: the first failure decides the hold (one 503 counted). */
static void s_fail(hk_link_t *self, hk_hold_t *h, hk_unavail_kind_t why) {
    if (atomic_load_explicit(&h->state, memory_order_relaxed) == HK_HOLD_WAITING) {
        s_decide(h, HK_HOLD_FAILED, why);
        hk_metrics_unavailable(self->cfg.metrics, why);
    }
    s_one_done(self, h);
}

/* --- the ring of pending events ---------------------------------------------------------- */

static s_entry_t *s_entry(hk_link_t *self, uint64_t seq) {
    return &self->ring[seq & (self->ring_cap - 1)];
}

static int s_ring_push(hk_link_t *self, hk_hold_t *h) {
    size_t used = (size_t)(self->next_seq - self->base_seq);
    if (used == self->ring_cap) {
        size_t cap = self->ring_cap ? 2 * self->ring_cap : 64;
        s_entry_t *grown = malloc(cap * sizeof *grown);
        if (!grown)
            return -1;
        for (uint64_t s = self->base_seq; s < self->next_seq; s++)
            grown[s & (cap - 1)] = *s_entry(self, s);
        free(self->ring);
        self->ring = grown;
        self->ring_cap = cap;
    }
    s_entry(self, self->next_seq++)->hold = h;
    return 0;
}

static void s_ring_trim(hk_link_t *self) {
    while (self->base_seq < self->next_seq && !s_entry(self, self->base_seq)->hold)
        self->base_seq++;
}

/* Fails every pending event (pregond gone, or stopping). */
static size_t s_fail_pending(hk_link_t *self, hk_unavail_kind_t why) {
    size_t n = 0;
    for (uint64_t s = self->base_seq; s < self->next_seq; s++) {
        s_entry_t *e = s_entry(self, s);
        if (e->hold) {
            hk_hold_t *h = e->hold;
            e->hold = NULL;
            s_fail(self, h, why);
            n++;
        }
    }
    s_ring_trim(self);
    return n;
}

/* --- the socket ----------------------------------------------------------------------------- */

static int s_open(hk_link_t *self) {
    if (self->sock)
        zmq_close(self->sock);
    self->sock = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!self->sock)
        return -1;
    int linger = 0, hwm = S_HWM, immediate = 1;
    int64_t maxmsg = S_MAX_FRAME;
    if (zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        pg_curve_apply(self->cfg.curve, self->sock, NULL, 0) != 0 ||
        zmq_connect(self->sock, self->endpoint) != 0)
        return -1;
    self->last_open = s_now();
    return 0;
}

/* Sends msg without blocking. Returns 0, 1 when zmq would block (no pregond connected, or its
 * queue full), -1 on another failure. */
static int s_send(hk_link_t *self, const Pregon__HooksToBroker *msg, int64_t now) {
    size_t len = pregon__hooks_to_broker__get_packed_size(msg);
    uint8_t stack[4096];
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (!buf)
        return 1;
    pregon__hooks_to_broker__pack(msg, buf);
    int rc = zmq_send(self->sock, buf, len, ZMQ_DONTWAIT);
    if (buf != stack)
        free(buf);
    if (rc < 0)
        return errno == EAGAIN || errno == EINTR || errno == EHOSTUNREACH ? 1 : -1;
    self->last_send = now;
    return 0;
}

static int s_heartbeat(hk_link_t *self, int64_t now) {
    Pregon__Heartbeat hb = PREGON__HEARTBEAT__INIT;
    hb.at_ms = s_wall();
    Pregon__HooksToBroker msg = PREGON__HOOKS_TO_BROKER__INIT;
    msg.msg_case = PREGON__HOOKS_TO_BROKER__MSG_HEARTBEAT;
    msg.heartbeat = &hb;
    self->last_send = now; /* tried: a heartbeat zmq refuses is not retried before the next */
    return s_send(self, &msg, now) < 0 ? -1 : 0;
}

static char *s_str(char *s) {
    return s ? s : (char *)"";
}

/* Sends one event as seq. */
static int s_send_event(hk_link_t *self, const hk_event_t *ev, uint64_t seq, int64_t now) {
    Pregon__InboundEvent e = PREGON__INBOUND_EVENT__INIT;
    e.kind = (Pregon__InboundEvent__Kind)ev->kind;
    e.channel = (Pregon__Channel)ev->channel;
    e.tenant = s_str(ev->tenant);
    e.debtor_id = s_str(ev->debtor_id);
    e.job_id = s_str(ev->job_id);
    e.contact = s_str(ev->contact);
    e.provider_id = s_str(ev->provider_id);
    e.status = s_str(ev->status);
    e.text = s_str(ev->text);
    e.digits = s_str(ev->digits);
    e.at = ev->at;
    e.event_id = s_str(ev->event_id);
    e.provider = s_str(ev->provider);
    e.error_code = s_str(ev->error_code);
    e.sender = s_str(ev->sender);
    e.keyword = s_str(ev->keyword);
    e.campaign = s_str(ev->campaign);
    e.template_id = s_str(ev->template_id);
    e.fallback_eligible = ev->fallback_eligible != 0;
    e.seq = seq;
    Pregon__HooksToBroker msg = PREGON__HOOKS_TO_BROKER__INIT;
    msg.msg_case = PREGON__HOOKS_TO_BROKER__MSG_EVENT;
    msg.event = &e;
    return s_send(self, &msg, now);
}

/* Sends h's ScriptRequest as seq. */
static int s_send_script(hk_link_t *self, const hk_hold_t *h, uint64_t seq, int64_t now) {
    Pregon__ScriptRequest rq = PREGON__SCRIPT_REQUEST__INIT;
    rq.seq = seq;
    rq.tenant = h->script_tenant;
    rq.job_id = h->script_job;
    rq.lease_id = h->script_lease;
    Pregon__HooksToBroker msg = PREGON__HOOKS_TO_BROKER__INIT;
    msg.msg_case = PREGON__HOOKS_TO_BROKER__MSG_SCRIPT_REQUEST;
    msg.script_request = &rq;
    return s_send(self, &msg, now);
}

/* --- the loop ------------------------------------------------------------------------------ */

hk_link_t *hk_link_new(void *zctx, const hk_link_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->endpoint || !*cfg->endpoint || cfg->heartbeat_ms < 10 || !cfg->ack_timeout_ms ||
        !cfg->max_in_flight || !cfg->metrics) {
        snprintf(err, errlen,
                 "an endpoint, heartbeat >= 10 ms, ack timeout >= 1 ms and "
                 "max in flight >= 1 are required");
        return NULL;
    }
    hk_link_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->zctx = zctx;
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->endpoint = strdup(cfg->endpoint);
    pthread_mutex_init(&self->lock, NULL);
    self->base_seq = self->next_seq = 1;
    if (self->efd < 0 || !self->endpoint || s_open(self) < 0) {
        snprintf(err, errlen, "cannot open the broker socket %s: %s", cfg->endpoint,
                 self->efd < 0 ? strerror(errno) : zmq_strerror(zmq_errno()));
        hk_link_destroy(&self);
        return NULL;
    }
    hk_metrics_set_in_flight(cfg->metrics, 0, cfg->max_in_flight);
    s_heartbeat(self, s_now());
    return self;
}

void hk_link_destroy(hk_link_t **self_p) {
    if (!self_p || !*self_p)
        return;
    hk_link_t *self = *self_p;
    hk_link_stop(self);
    if (self->sock)
        zmq_close(self->sock);
    if (self->efd >= 0)
        close(self->efd);
    pthread_mutex_destroy(&self->lock);
    free(self->ring);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

int hk_link_submit(hk_link_t *self, hk_hold_t *hold, hk_unavail_kind_t *why) {
    pthread_mutex_lock(&self->lock);
    int rc = -1;
    if (self->stopping)
        *why = HK_UNAVAIL_STOPPING;
    else if (!atomic_load(&self->up))
        *why = HK_UNAVAIL_BROKER_DOWN;
    else if (self->in_flight + (int64_t)hold->n_events > (int64_t)self->cfg.max_in_flight)
        *why = HK_UNAVAIL_FULL;
    else {
        bool was_empty = !self->head;
        atomic_fetch_add(&hold->refs, 1);
        hold->unresolved = hold->n_events;
        hold->deadline = s_now() + self->cfg.ack_timeout_ms;
        hold->next = NULL;
        if (self->tail)
            self->tail->next = hold;
        else
            self->head = hold;
        self->tail = hold;
        self->in_flight += (int64_t)hold->n_events;
        rc = 0;
        if (was_empty) {
            uint64_t one = 1;
            ssize_t w = write(self->efd, &one, sizeof one);
            (void)w; /* EAGAIN: the counter is already non-zero, the link will look */
        }
    }
    pthread_mutex_unlock(&self->lock);
    if (rc < 0)
        hk_metrics_unavailable(self->cfg.metrics, *why);
    return rc;
}

bool hk_link_up(const hk_link_t *self) {
    return atomic_load(&((hk_link_t *)self)->up);
}

static hk_hold_t *s_take_queue(hk_link_t *self) {
    uint64_t count;
    ssize_t r = read(self->efd, &count, sizeof count);
    (void)r;
    pthread_mutex_lock(&self->lock);
    hk_hold_t *list = self->head;
    self->head = self->tail = NULL;
    pthread_mutex_unlock(&self->lock);
    return list;
}

/* Sends the events of every queued hold. Resolving a hold's last event drops the link's
 * reference and may free it: the count is read once, and h is not touched after its last event
 * (tests/chaos caught the loop condition reading a freed hold when pregond was killed). */
static int s_send_queued(hk_link_t *self, int64_t now) {
    hk_hold_t *h = s_take_queue(self);
    while (h) {
        hk_hold_t *next = h->next;
        const size_t n_events = h->n_events;
        for (size_t i = 0; i < n_events; i++) {
            if (hk_hold_state(h, NULL) != HK_HOLD_WAITING || !atomic_load(&self->up)) {
                s_fail(self, h, HK_UNAVAIL_BROKER_DOWN);
                continue;
            }
            uint64_t seq = self->next_seq;
            if (s_ring_push(self, h) < 0) {
                s_fail(self, h, HK_UNAVAIL_SEND_FAILED);
                continue;
            }
            int rc = h->script_tenant ? s_send_script(self, h, seq, now)
                                      : s_send_event(self, &h->events[i], seq, now);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                hk_metrics_forwarded(self->cfg.metrics, h->route, 1);
            } else {
                s_entry(self, seq)->hold = NULL;
                s_fail(self, h, HK_UNAVAIL_SEND_FAILED);
            }
        }
        h = next;
    }
    s_ring_trim(self);
    return 0;
}

static void s_on_ack(hk_link_t *self, const Pregon__InboundAck *ack) {
    hk_ack_kind_t kind = hk_metrics_ack_of(ack->result);
    if (ack->seq < self->base_seq || ack->seq >= self->next_seq || !s_entry(self, ack->seq)->hold) {
        hk_metrics_ack(self->cfg.metrics, HK_ACK_LATE);
        return;
    }
    hk_metrics_ack(self->cfg.metrics, kind);
    s_entry_t *e = s_entry(self, ack->seq);
    hk_hold_t *h = e->hold;
    hk_metrics_route_ack(self->cfg.metrics, h->route, kind);
    e->hold = NULL;
    if (kind == HK_ACK_ERROR)
        s_fail(self, h, HK_UNAVAIL_ACK_ERROR);
    else
        s_one_done(self, h);
    s_ring_trim(self);
}

/* A ScriptReply: kept packed in its hold, which is then acked (the request reads it). */
static void s_on_script(hk_link_t *self, const Pregon__ScriptReply *reply) {
    if (reply->seq < self->base_seq || reply->seq >= self->next_seq ||
        !s_entry(self, reply->seq)->hold || !s_entry(self, reply->seq)->hold->script_tenant) {
        hk_metrics_ack(self->cfg.metrics, HK_ACK_LATE);
        return;
    }
    s_entry_t *e = s_entry(self, reply->seq);
    hk_hold_t *h = e->hold;
    e->hold = NULL;
    size_t len = pregon__script_reply__get_packed_size(reply);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        s_fail(self, h, HK_UNAVAIL_SEND_FAILED);
    } else {
        pregon__script_reply__pack(reply, buf);
        h->script_reply = buf;
        h->script_reply_len = len;
        s_one_done(self, h);
    }
    s_ring_trim(self);
}

static int s_recv_all(hk_link_t *self, int64_t now) {
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }
        bool more = zmq_msg_more(&frame);
        if (!atomic_load(&self->up)) {
            atomic_store(&self->up, true);
            hk_metrics_set_broker_up(self->cfg.metrics, 1);
            s_report(self, "broker %s is answering", self->endpoint);
        }
        self->last_recv = now;
        if (more) { /* only the last frame is the message */
            zmq_msg_close(&frame);
            continue;
        }
        Pregon__BrokerToHooks *msg = pregon__broker_to_hooks__unpack(
            NULL, zmq_msg_size(&frame), (const uint8_t *)zmq_msg_data(&frame));
        zmq_msg_close(&frame);
        if (!msg) {
            s_report(self, "a frame from the broker does not parse as BrokerToHooks: ignored");
            continue;
        }
        if (msg->msg_case == PREGON__BROKER_TO_HOOKS__MSG_ACK && msg->ack)
            s_on_ack(self, msg->ack);
        else if (msg->msg_case == PREGON__BROKER_TO_HOOKS__MSG_SCRIPT && msg->script)
            s_on_script(self, msg->script);
        pregon__broker_to_hooks__free_unpacked(msg, NULL);
    }
}

/* Fails events whose ack is overdue: the oldest first, since deadlines grow with seq. */
static void s_expire(hk_link_t *self, int64_t now) {
    while (self->base_seq < self->next_seq) {
        s_entry_t *e = s_entry(self, self->base_seq);
        if (e->hold) {
            if (e->hold->deadline > now)
                break;
            hk_hold_t *h = e->hold;
            e->hold = NULL;
            s_fail(self, h, HK_UNAVAIL_ACK_TIMEOUT);
        }
        self->base_seq++;
    }
}

/* Milliseconds until the next timer: a heartbeat, pregond's silence, the oldest deadline. */
/* While pregond has not answered, heartbeats go every PROBE_MS at most: with ZMQ_IMMEDIATE a
 * message sent before the connection is up is dropped, and a webhook arriving meanwhile gets
 * 503, so the link must find out within milliseconds, not a heartbeat interval, that it is up. */
#define PROBE_MS 20
static int64_t s_heartbeat_interval(const hk_link_t *self) {
    int64_t hb = self->cfg.heartbeat_ms;
    return !atomic_load(&((hk_link_t *)self)->up) && hb > PROBE_MS ? PROBE_MS : hb;
}

static long s_timeout(hk_link_t *self, int64_t now) {
    int64_t hb = self->cfg.heartbeat_ms;
    int64_t due = self->last_send + s_heartbeat_interval(self);
    int64_t silent = (atomic_load(&self->up) ? self->last_recv : self->last_open) + 3 * hb;
    if (silent < due)
        due = silent;
    if (self->base_seq < self->next_seq) {
        s_entry_t *e = s_entry(self, self->base_seq);
        if (e->hold && e->hold->deadline < due)
            due = e->hold->deadline;
    }
    int64_t wait = due - now;
    return wait < 0 ? 0 : (wait > INT_MAX ? INT_MAX : (long)wait);
}

static int s_timers(hk_link_t *self, int64_t now) {
    int64_t hb = self->cfg.heartbeat_ms;
    s_expire(self, now);
    if (atomic_load(&self->up) && now - self->last_recv >= 3 * hb) {
        atomic_store(&self->up, false);
        hk_metrics_set_broker_up(self->cfg.metrics, 0);
        size_t n = s_fail_pending(self, HK_UNAVAIL_BROKER_DOWN);
        s_report(self,
                 "broker %s is silent (no message for %lld ms): %zu events answered 503, "
                 "reconnecting",
                 self->endpoint, (long long)(now - self->last_recv), n);
    }
    if (!atomic_load(&self->up) && now - self->last_open >= 3 * hb) {
        hk_metrics_reconnect(self->cfg.metrics);
        if (s_open(self) < 0)
            return -1;
        return s_heartbeat(self, now);
    }
    if (now - self->last_send >= s_heartbeat_interval(self))
        return s_heartbeat(self, now);
    return 0;
}

int hk_link_step(hk_link_t *self, int extra_fd, bool *extra_ready) {
    zmq_pollitem_t items[3] = {{self->sock, 0, ZMQ_POLLIN, 0},
                               {NULL, self->efd, ZMQ_POLLIN, 0},
                               {NULL, extra_fd, ZMQ_POLLIN, 0}};
    int n_items = extra_fd >= 0 ? 3 : 2;
    if (extra_ready)
        *extra_ready = false;
    int64_t now = s_now();
    if (zmq_poll(items, n_items, s_timeout(self, now)) < 0 && zmq_errno() != EINTR)
        return -1;
    now = s_now();
    if ((items[0].revents & ZMQ_POLLIN) && s_recv_all(self, now) < 0)
        return -1;
    if (extra_ready && n_items == 3)
        *extra_ready = items[2].revents & ZMQ_POLLIN;
    if (s_send_queued(self, now) < 0)
        return -1;
    /* a send may have consumed the socket's readiness signal: look again */
    if (s_recv_all(self, now) < 0)
        return -1;
    return s_timers(self, now);
}

void hk_link_stop(hk_link_t *self) {
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_mutex_unlock(&self->lock);
    hk_hold_t *h = s_take_queue(self);
    while (h) {
        hk_hold_t *next = h->next;
        for (size_t i = 0; i < h->n_events; i++)
            s_fail(self, h, HK_UNAVAIL_STOPPING);
        h = next;
    }
    s_fail_pending(self, HK_UNAVAIL_STOPPING);
}

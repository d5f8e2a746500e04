/* chw_worker.c — the channel-worker event loop (see chw_worker.h for the contract).
 * Its parts: this file (lifecycle, the loop, stopping), chw_wire.c, chw_jobs.c (chw_worker_int.h).
 *
 * One epoll_wait per turn over the broker socket's ZMQ_FD and the sockets libcurl asks for
 * (CURLMOPT_SOCKETFUNCTION adds, changes and removes them), with a timeout that is the nearest of
 * curl's timer (CURLMOPT_TIMERFUNCTION), the heartbeat and the rate shaper's next token; only the
 * sockets that are ready cost anything. ZMQ_FD is edge-like: it only says "look at ZMQ_EVENTS",
 * and any zmq call may swallow that signal, so ZMQ_EVENTS is read again before the loop sleeps
 * whenever zmq was used (chw__zmq_pending). A job lives in a slot
 * from its Dispatch to its DeliveryReport: queued under its shaping key (the driver's), then
 * running in curl. Every report goes through chw__finish(), the one place that counts, reports,
 * releases the driver's per-job state and frees credit.
 * Reports sent while the broker may have been gone are kept briefly and re-sent after a
 * reconnect; the broker matches them by lease_id, so a duplicate is harmless. Every report but
 * a hand-back also leaves its lease in `reported` (chw_leaseset) until the lease expires, for the
 * held_leases of the next WorkerReady. Stopping is a small state machine in chw_worker_run and
 * s_stop_step: Leaving sent -> (LeaveAck or 3 heartbeats) and nothing held -> Leaving{done}. */
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
        case CHW_ERR_JOURNAL:
            return "journal write failed";
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

int64_t chw__mono_ms(void) {
    return s_clock_ms(CLOCK_MONOTONIC);
}

int64_t chw__wall_ms(void) {
    return s_clock_ms(CLOCK_REALTIME);
}

void chw__event(chw_worker_t *self, chw_event_kind_t kind, const chw_result_t *result,
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
    /* Report numbers start at the start time in µs: a ReportAck of the previous process under
     * this worker id (it died, the broker answers the routing id) names a number below ours,
     * so it can never make this process forget a report the broker did not apply. */
    self->report_seq = (uint64_t)chw__wall_ms() * 1000;
    self->rng = (uint64_t)chw__wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)self;
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
    if (self->shaper && self->driver.shape_group && self->driver.group_rate > 0)
        chw_shaper_set_group_rate(self->shaper, self->driver.group_rate, self->driver.group_burst);
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
    self->next_held_end = -1;

    *err = CHW_ERR_CURL;
    if (curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, chw__socket_cb) != CURLM_OK ||
        curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self) != CURLM_OK ||
        curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, chw__timer_cb) != CURLM_OK ||
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
    *err = CHW_ERR_SYS;
    if (c->on_tick && c->tick_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = c->tick_fd};
        if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, c->tick_fd, &ev) != 0)
            goto fail;
    }
    pg_prom_hist_init(&self->counters.request_seconds, pg_prom_latency_bounds, pg_prom_latency_n);
    *err = chw__open_socket(self);
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
        chw__slot_t *slot = &self->slots[i];
        if (slot->running)
            curl_multi_remove_handle(self->multi, slot->easy);
        if (slot->easy)
            curl_easy_cleanup(slot->easy);
        if (slot->msg) {
            chw_result_t r;
            chw__release(self, slot, chw_result_set(&r, CHW_OUTCOME_NONE, "worker destroyed"));
            pregon__broker_to_worker__free_unpacked(slot->msg, NULL);
        }
        free(slot->body);
        free(slot->held_lease);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi); /* after the handles: it may call chw__socket_cb */
    if (self->sock)
        zmq_close(self->sock);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    if (self->epfd >= 0)
        close(self->epfd);
    chw_shaper_destroy(&self->shaper);
    chw_leaseset_destroy(&self->reported);
    chw__fifo_clear(&self->unsent);
    chw__fifo_clear(&self->recent);
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
    out->in_flight = chw__jobs_held(self);
    out->held = self->held_count;
    out->queued = chw_shaper_queued(self->shaper);
}

const char *chw_worker_incarnation(const chw_worker_t *self) {
    return self->incarnation;
}

int chw_worker_attach_journal(chw_worker_t *self, chw_journal_t *journal,
                              const char *prev_incarnation) {
    if (self->journal || !journal || self->last_recv_ms)
        return CHW_ERR_CONFIG;
    self->journal = journal;
    snprintf(self->prev_incarnation, sizeof self->prev_incarnation, "%s",
             prev_incarnation ? prev_incarnation : "");
    self->replay_due = true;
    return CHW_OK;
}

bool chw_worker_broker_up(const chw_worker_t *self) {
    return self && self->last_recv_ms &&
           chw__mono_ms() - self->last_recv_ms < 3 * (int64_t)self->cfg.heartbeat_ms;
}

const char *chw_worker_halt_reason(const chw_worker_t *self) {
    return self->halt_reason;
}

/* Begins a stop: Leaving{done=false} goes out first, then every job still waiting for its
 * sender's token is handed back; running requests go on, and no credit is offered again. */
static int s_begin_stop(chw_worker_t *self, int64_t now) {
    self->stopping = true;
    self->drain_deadline = now + self->cfg.drain_timeout_ms;
    self->leave_sent_ms = now;
    self->ack_deadline = now + 3 * (int64_t)self->cfg.heartbeat_ms;
    uint32_t held = chw__jobs_held(self);
    size_t queued = chw_shaper_queued(self->shaper);
    int rc = chw__send_leaving(self, false, now);
    int frc = chw__hand_back_queued(self, CHW__STOP_REASON, now);
    if (rc == CHW_OK)
        rc = frc;
    frc = chw__flush_unsent(self, now);
    if (rc == CHW_OK)
        rc = frc;
    chw__event(self, CHW_EV_DRAINING, NULL, NULL,
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
    if (chw__jobs_held(self) && now >= self->drain_deadline) {
        S_KEEP(chw__abort_running(self, now));
        S_KEEP(chw__hand_back_queued(self, CHW__STOP_REASON,
                                     now)); /* none expected: belt and braces */
        S_KEEP(chw__flush_unsent(self, now));
    }
    bool held = chw__jobs_held(self) != 0;
    if (!held && !self->left && (self->leave_acked || now >= self->ack_deadline)) {
        if (!self->leave_acked)
            chw__event(self, CHW_EV_LEAVE_UNACKED, NULL, NULL,
                       "no LeaveAck %lld ms after Leaving: leaving without it",
                       (long long)(now - self->leave_sent_ms));
        S_KEEP(chw__send_leaving(self, true, now)); /* queued behind any report still unsent */
        self->left = true;
        S_KEEP(chw__flush_unsent(self, now));
        chw__event(
            self, CHW_EV_LEFT, NULL, NULL,
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
    if (self->held_count && self->next_held_end >= 0)
        wait = s_min_wait(wait, self->next_held_end - now);
    if (self->stopping) {
        /* Each deadline counts only while it can still change something (no busy loop). */
        if (chw__jobs_held(self))
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
    int64_t now = chw__mono_ms();
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
        S_KEEP(chw__recv_all(self, now));
    for (int i = 0; i < nready; i++) {
        int fd = self->events[i].data.fd;
        uint32_t rev = self->events[i].events;
        if (fd == self->zmq_fd || (self->cfg.on_tick && fd == self->cfg.tick_fd))
            continue; /* the broker's was read above; the tick's is on_tick's */
        if (fd >= 0 && (size_t)fd < self->fd_state_cap && (self->fd_state[fd] & CHW__FD_PARKED)) {
            /* An idle pooled connection woke (closed by the server, or writable): stop watching
             * it. curl checks a connection before reusing it and drops a dead one. */
            chw__fd_forget(self, &self->fd_state[fd], fd);
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
    S_KEEP(chw__collect(self, now));
    chw__free_held(self, now);

    bool started = false;
    if (!self->halted && !self->stopping) {
        int item;
        while ((item = chw_shaper_pop(self->shaper, now)) >= 0) {
            S_KEEP(chw__start(self, &self->slots[item], now));
            started = true;
        }
    }
    /* The turn's group commit: the "started" records of the transfers just added (curl sends
     * nothing before the next socket action, below) and the "done" records of the reports
     * flushed below. A journal that cannot be written stops the worker before any of them. */
    if (self->journal && chw_journal_dirty(self->journal) &&
        chw_journal_commit(self->journal, NULL) != CHW_J_OK)
        return CHW_ERR_JOURNAL;
    if (started) {
        /* New handles set a 0 ms timer: kick them now rather than one poll later. */
        if (started && self->curl_timer_at >= 0 && self->curl_timer_at <= chw__mono_ms()) {
            S_KEEP(s_curl_timeout(self));
            S_KEEP(chw__collect(self, now));
        }
    }

    S_KEEP(chw__flush_unsent(self, now));
    if (self->pending_credit && !self->halted && !self->stopping) {
        Pregon__Credit credit = PREGON__CREDIT__INIT;
        credit.credit = self->pending_credit;
        Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
        msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_CREDIT;
        msg.credit = &credit;
        S_KEEP(chw__send_msg(self, &msg, now));
    }
    self->pending_credit = 0;

    int64_t hb = self->cfg.heartbeat_ms;
    if (now - self->last_recv_ms >= 3 * hb) {
        self->counters.reconnects++;
        S_KEEP(chw__open_socket(self));
        if (rc == CHW_OK) {
            S_KEEP(chw__announce(self, now));
            chw__event(self, CHW_EV_RECONNECTED, NULL, NULL, "%s", self->endpoint);
        }
    } else if (now - self->last_send_ms >= hb) {
        Pregon__Heartbeat beat = PREGON__HEARTBEAT__INIT;
        beat.at_ms = chw__wall_ms();
        Pregon__WorkerToBroker msg = PREGON__WORKER_TO_BROKER__INIT;
        msg.msg_case = PREGON__WORKER_TO_BROKER__MSG_HEARTBEAT;
        msg.heartbeat = &beat;
        S_KEEP(chw__send_msg(self, &msg, now));
    }
    chw__prune_recent(self);
    if (now >= self->next_prune_ms) {
        chw_leaseset_prune(self->reported, chw__wall_ms());
        self->next_prune_ms = now + hb;
    }
    if (self->journal && now >= self->next_resend_ms) {
        S_KEEP(chw__resend_unacked(self, false, now));
        self->next_resend_ms = now + hb;
    }
    if (self->nomem)
        S_KEEP(CHW_ERR_NOMEM);
    if (self->epoll_failed)
        S_KEEP(CHW_ERR_SYS);
#undef S_KEEP
    return rc;
}

int chw_worker_run(chw_worker_t *self) {
    int64_t now = chw__mono_ms();
    self->last_recv_ms = now;
    int rc = self->journal && self->replay_due ? chw__replay(self, now) : CHW_OK;
    if (rc != CHW_OK)
        return rc;
    rc = chw__announce(self, now);
    if (rc == CHW_OK && self->journal)
        rc = chw__resend_unacked(self, true, now); /* the replayed reports, behind the ready */
    if (rc != CHW_OK)
        return rc;
    chw__event(self, CHW_EV_CONNECTED, NULL, NULL, "%s", self->endpoint);

    for (;;) {
        now = chw__mono_ms();
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
        int pending = chw__zmq_pending(self);
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
        bool tick_ready = false;
        for (int i = 0; self->cfg.on_tick && i < nready; i++)
            tick_ready |= self->events[i].data.fd == self->cfg.tick_fd;
        rc = s_turn(self, nready);
        if (rc != CHW_OK)
            break;
        if (self->cfg.on_tick)
            self->cfg.on_tick(self->cfg.tick_ctx, self, tick_ready);
    }
    /* The last turns' records (hand-backs, acknowledgements, cut transfers): a restart then
     * finds the journal as this process left it. A failure here changes nothing (a started
     * job reads as UNKNOWN, an acknowledged report is sent again and refused). */
    if (self->journal)
        chw_journal_commit(self->journal, NULL);
    /* Give the last reports a moment to leave (the socket otherwise has ZMQ_LINGER 0). */
    int linger = CHW__FINAL_LINGER_MS;
    if (self->sock)
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    return rc;
}

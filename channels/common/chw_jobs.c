/* chw_jobs.c — a job's slot from its start to its one exit, and libcurl's sockets (part of
 * chw_worker, chw_worker_int.h).
 *
 * A slot's job is started once its shaping key has a token and the re-check passed (chw__start:
 * the driver's prepare), completes when curl says so (s_complete: the driver's classify, or the
 * transport classes), and leaves through chw__finish: report, the driver's release, credit. curl's
 * sockets are kept in the worker's epoll set as chw__socket_cb, s_open_cb and s_close_cb say. */
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

/* Lets the driver free what it kept for the slot's job (once: the slot forgets it). */
void chw__release(chw_worker_t *self, chw__slot_t *slot, const chw_result_t *r) {
    if (self->driver.release)
        self->driver.release(self->driver.ctx, slot->job_state, slot->dispatch, r);
    slot->job_state = NULL;
}

/* The one exit of a job holding a slot: reports it, releases the driver's state for it, frees
 * the slot and queues its credit. */
int chw__finish(chw_worker_t *self, chw__slot_t *slot, const chw_result_t *r, int64_t retry_at_ms,
                bool handed_back, int64_t now) {
    int rc = chw__report(self, slot->dispatch, r, retry_at_ms, handed_back, now);
    int64_t hold = !handed_back && self->driver.hold_ms && slot->dispatch
                       ? self->driver.hold_ms(self->driver.ctx, slot->job_state, slot->dispatch, r)
                       : 0;
    chw__release(self, slot, r);
    if (hold > 0) /* no copy (out of memory): the line is freed at the bound only */
        slot->held_lease = strdup(slot->dispatch->lease_id);
    pregon__broker_to_worker__free_unpacked(slot->msg, NULL);
    slot->msg = NULL;
    slot->dispatch = NULL;
    slot->body_len = 0;
    if (hold > 0) {
        slot->held_until = now + hold;
        self->held_count++;
        if (self->next_held_end < 0 || slot->held_until < self->next_held_end)
            self->next_held_end = slot->held_until;
        return rc;
    }
    self->free_stack[self->free_count++] = (int)(slot - self->slots);
    self->pending_credit++;
    return rc;
}

/* A held slot free again: credit. */
static void s_unhold(chw_worker_t *self, uint32_t i) {
    chw__slot_t *slot = &self->slots[i];
    slot->held_until = 0;
    free(slot->held_lease);
    slot->held_lease = NULL;
    self->held_count--;
    self->free_stack[self->free_count++] = (int)i;
    self->pending_credit++;
}

/* Frees the held slots whose time is up (credit again); once per loop turn. A linear scan,
 * only when the earliest end has come: holds last seconds to minutes, turns are far more. */
void chw__free_held(chw_worker_t *self, int64_t now) {
    if (!self->held_count || self->next_held_end < 0 || now < self->next_held_end)
        return;
    int64_t next = -1;
    for (uint32_t i = 0; i < self->cfg.concurrency; i++) {
        chw__slot_t *slot = &self->slots[i];
        if (!slot->held_until)
            continue;
        if (slot->held_until <= now) {
            s_unhold(self, i);
        } else if (next < 0 || slot->held_until < next) {
            next = slot->held_until;
        }
    }
    self->next_held_end = next;
}

void chw__release_line(chw_worker_t *self, const char *lease_id) {
    /* a linear scan: one message per call that ends, slots are lines (tens to hundreds); the
     * earliest end (next_held_end) may now be a freed slot's: chw__free_held rescans then */
    for (uint32_t i = 0; self->held_count && lease_id && lease_id[0] && i < self->cfg.concurrency;
         i++) {
        chw__slot_t *slot = &self->slots[i];
        if (slot->held_until && slot->held_lease && strcmp(slot->held_lease, lease_id) == 0) {
            s_unhold(self, i);
            self->counters.lines_released++;
            return;
        }
    }
}

uint32_t chw__jobs_held(const chw_worker_t *self) {
    return self->cfg.concurrency - self->free_count - self->held_count;
}

/* Hands every job still waiting for a token back to the broker, untried. */
int chw__hand_back_queued(chw_worker_t *self, const char *why, int64_t now) {
    int rc = CHW_OK, item;
    chw_result_t r;
    while ((item = chw_shaper_pop_any(self->shaper)) >= 0) {
        chw_result_set(&r, CHW_RETRY, "%s", why);
        int frc = chw__finish(self, &self->slots[item], &r, chw__wall_ms(), true, now);
        if (rc == CHW_OK)
            rc = frc;
    }
    return rc;
}

int chw__halt(chw_worker_t *self, const char *reason, int64_t now) {
    if (self->halted)
        return CHW_OK;
    self->halted = true;
    snprintf(self->halt_reason, sizeof self->halt_reason, "%s", reason);
    return chw__hand_back_queued(self, "halted", now);
}

/* --- curl plumbing --- */

static size_t s_write_cb(char *data, size_t size, size_t nmemb, void *userp) {
    chw__slot_t *slot = userp;
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
void chw__fd_forget(chw_worker_t *self, uint8_t *state, int fd) {
    if (*state & CHW__FD_ADDED)
        epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
    *state &= CHW__FD_OWNED;
}

int chw__socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy, (void)socketp;
    chw_worker_t *self = userp;
    uint8_t *state = s_fd_state(self, fd);
    if (!state)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if ((*state & (CHW__FD_OWNED | CHW__FD_ADDED)) == (CHW__FD_OWNED | CHW__FD_ADDED))
            *state |= CHW__FD_PARKED;
        else
            chw__fd_forget(self, state, fd);
        return 0;
    }
    uint8_t want = (uint8_t)(((what & CURL_POLL_IN) ? CHW__FD_IN : 0u) |
                             ((what & CURL_POLL_OUT) ? CHW__FD_OUT : 0u));
    if ((*state & CHW__FD_OWNED) && (*state & CHW__FD_ADDED) &&
        (*state & (CHW__FD_IN | CHW__FD_OUT)) == want) {
        *state &= (uint8_t)~CHW__FD_PARKED;
        return 0;
    }
    struct epoll_event ev = {.events = ((want & CHW__FD_IN) ? (uint32_t)EPOLLIN : 0u) |
                                       ((want & CHW__FD_OUT) ? (uint32_t)EPOLLOUT : 0u),
                             .data.fd = fd};
    int op = (*state & CHW__FD_ADDED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
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
        *state &= CHW__FD_OWNED;
        return 0;
    }
    *state = (uint8_t)((*state & CHW__FD_OWNED) | CHW__FD_ADDED | want);
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
    *state = CHW__FD_OWNED;
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: closing the descriptor also takes it out of epfd. */
static int s_close_cb(void *clientp, curl_socket_t fd) {
    chw_worker_t *self = clientp;
    if (fd >= 0 && (size_t)fd < self->fd_state_cap)
        self->fd_state[fd] = 0;
    return close(fd);
}

int chw__timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    chw_worker_t *self = userp;
    self->curl_timer_at = timeout_ms < 0 ? -1 : chw__mono_ms() + timeout_ms;
    return 0;
}

/* Finishes a transfer curl reported done. */
static int s_complete(chw_worker_t *self, chw__slot_t *slot, CURLcode code, int64_t now) {
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
        curl_off_t total_us = 0;
        if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK)
            pg_prom_hist_observe(&self->counters.request_seconds, (double)total_us / 1e6);
        chw_response_t response = {.status = status,
                                   .body = slot->body ? slot->body : "",
                                   .body_len = slot->body_len,
                                   .retry_after_s = retry_after > 0 ? (int64_t)retry_after : -1,
                                   .curl_code = (int)code,
                                   .errmsg = slot->errbuf};
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
        retry_at = chw__wall_ms() +
                   chw_backoff_ms(slot->dispatch->attempt, self->cfg.backoff_base_ms,
                                  self->cfg.backoff_cap_ms, floor_ms, chw_rand_next(&self->rng));
    }
    int rc = CHW_OK;
    if (r.outcome == CHW_CONFIG_ERROR && !self->halted) {
        chw__event(self, CHW_EV_HALTED, &r, slot->dispatch, "%s", r.detail);
        rc = chw__halt(self, r.detail, now);
    }
    int frc = chw__finish(self, slot, &r, retry_at, false, now);
    return rc != CHW_OK ? rc : frc;
}

int chw__collect(chw_worker_t *self, int64_t now) {
    int rc = CHW_OK, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(self->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        CURLcode code = m->data.result; /* m is invalid after remove_handle */
        int frc = s_complete(self, (chw__slot_t *)(void *)priv, code, now);
        if (rc == CHW_OK)
            rc = frc;
    }
    return rc;
}

/* Re-checks a job whose sender has a token and starts its transfer, or reports it. */
int chw__start(chw_worker_t *self, chw__slot_t *slot, int64_t now) {
    const Pregon__Dispatch *d = slot->dispatch;
    const Pregon__SendRequest *job = d->job;
    int64_t wall = chw__wall_ms();
    chw_result_t r;
    char rule[128] = "";
    if (job->expires_at > 0 && wall / 1000 >= job->expires_at)
        return chw__finish(self, slot, chw_result_set(&r, CHW_SKIPPED, "expired"), 0, false, now);
    if (d->lease_expires_ms > 0 && wall >= d->lease_expires_ms)
        return chw__finish(self, slot, chw_result_set(&r, CHW_RETRY, "lease-expired"), wall, true,
                           now);
    chw_recheck_fn recheck = self->cfg.recheck ? self->cfg.recheck : chw_recheck_allow;
    if (!recheck(self->cfg.recheck_ctx, d, wall, rule, sizeof rule)) {
        rule[sizeof rule - 1] = '\0';
        return chw__finish(self, slot, chw_result_set(&r, CHW_SKIPPED, "%s", rule), 0, false, now);
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
            chw__event(self, CHW_EV_HALTED, &r, d, "%s", r.detail);
            rc = chw__halt(self, r.detail, now);
        }
        bool hand_back = r.outcome == CHW_RETRY && (r.flags & CHW_RESULT_HAND_BACK);
        int64_t retry_at = hand_back ? wall + (r.min_retry_ms > 0 ? r.min_retry_ms : 0) : 0;
        r.flags &= ~CHW_RESULT_HAND_BACK;
        int frc = chw__finish(self, slot, &r, retry_at, hand_back, now);
        return rc != CHW_OK ? rc : frc;
    }
    /* Journaled before the transfer exists: committed this turn, before curl may send. */
    if (self->journal && chw_journal_start(self->journal, d->lease_id, job->job_id, job->tenant,
                                           d->lease_expires_ms) != CHW_J_OK) {
        chw_result_set(&r, CHW_RETRY, "journal full or out of memory");
        return chw__finish(self, slot, &r, wall + 1000, true, now);
    }
    if (curl_multi_add_handle(self->multi, easy) != CURLM_OK) {
        chw_result_set(&r, CHW_RETRY, "curl_multi_add_handle failed");
        return chw__finish(self, slot, &r, wall + 1000, true, now);
    }
    slot->running = true;
    return CHW_OK;
}

/* Cuts the transfers still running when the drain timeout hits. */
int chw__abort_running(chw_worker_t *self, int64_t now) {
    int rc = CHW_OK, cut = 0;
    for (uint32_t i = 0; i < self->cfg.concurrency; i++) {
        chw__slot_t *slot = &self->slots[i];
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
        int frc = chw__finish(self, slot, &r, chw__wall_ms(), request_size == 0, now);
        if (rc == CHW_OK)
            rc = frc;
        cut++;
    }
    chw__event(self, CHW_EV_DRAIN_TIMEOUT, NULL, NULL, "%d transfer(s) cut", cut);
    return rc;
}

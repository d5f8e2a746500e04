/* chw_worker_int.h — the insides of the channel-worker runtime, shared by its three files and
 * by nothing else: chw_worker.c (lifecycle, the loop, stopping), chw_wire.c (the broker socket:
 * frame queues, ready, reports, broker messages) and chw_jobs.c (a job's slot from its start to
 * its one exit, chw__finish, and libcurl's sockets in the epoll set). The public contract is
 * chw_worker.h; names here are chw__ (libuv's uv__: internal, not for drivers or programs). */
#ifndef CHW_WORKER_INT_H
#define CHW_WORKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include <curl/curl.h>

#include "chw_journal.h"
#include "chw_leaseset.h"
#include "chw_limits.h"
#include "chw_shaper.h"
#include "chw_worker.h"

#define CHW__HWM             100000
#define CHW__FINAL_LINGER_MS 1000
#define CHW__STOP_REASON     "worker-stopping" /* Leaving.reason and the hand-backs' detail */
/* An unacknowledged report is re-sent until its lease expired this long ago (then forgotten). */
#define CHW__JOURNAL_GIVE_UP_MS (10 * 60 * 1000)

/* One job from Dispatch to report. */
typedef struct {
    Pregon__BrokerToWorker *msg; /* owned; NULL when the slot is free */
    const Pregon__Dispatch *dispatch;
    CURL *easy;
    void *job_state; /* the driver's (chw_driver_t.prepare), released in chw__finish */
    bool running;
    int64_t held_until; /* monotonic ms: after its report the slot stays taken (driver.hold_ms)
                           until then; 0 = not held */
    char *held_lease;   /* owned while held: the lease it carried, for ReleaseLine */
    char *body;
    size_t body_len, body_cap;
    char errbuf[CURL_ERROR_SIZE];
} chw__slot_t;

/* A packed WorkerToBroker frame waiting to be sent, or sent and kept for a possible resend. */
typedef struct {
    uint8_t *data;
    size_t len;
    int64_t sent_ms;
    bool is_report;
} chw__frame_t;

typedef struct {
    chw__frame_t *items;
    size_t head, count, cap;
} chw__fifo_t;

struct chw_worker {
    chw_config_t cfg;
    char *endpoint, *worker_id, *policy_dir;
    chw_driver_t driver;

    void *zctx;
    void *sock;
    CURLM *multi;

    chw__slot_t *slots;
    int *free_stack;
    uint32_t free_count;
    uint32_t held_count;   /* slots taken by driver.hold_ms after their job's report */
    int64_t next_held_end; /* monotonic ms: the earliest held_until; -1 = none */
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

    chw_journal_t *journal;    /* borrowed (chw_worker_attach_journal); NULL = none */
    char prev_incarnation[64]; /* the journal's previous process, for WorkerReady */
    bool replay_due;           /* the journal's replayed entries are still to be reported */
    int64_t next_resend_ms;    /* monotonic: when unacknowledged reports are looked at */

    chw__fifo_t unsent; /* reports of this turn and frames zmq refused (HWM), in order */
    chw__fifo_t recent; /* reports handed to zmq since shortly before the last broker message */
    uint64_t rng;
    chw_counters_t counters;
};

/* Where curl's sockets stand in epfd (chw_worker.fd_state). curl drops a connection's socket
 * (CURL_POLL_REMOVE) after every transfer and asks for it again with the next one; deleting and
 * re-adding it would cost two epoll_ctl per message. So a socket the runtime opened and will see
 * closed (s_open_cb, s_close_cb) stays in epfd, "parked", with its last events: asking for them
 * again costs nothing, and an event on a parked socket (the server closed an idle connection)
 * takes it out. Other sockets (a resolver's socketpair, closed behind our back) are deleted on
 * CURL_POLL_REMOVE. */
#define CHW__FD_IN     0x01u /* registered for EPOLLIN */
#define CHW__FD_OUT    0x02u /* registered for EPOLLOUT */
#define CHW__FD_ADDED  0x04u /* in epfd */
#define CHW__FD_PARKED 0x08u /* in epfd, but curl does not watch it */
#define CHW__FD_OWNED  0x10u /* opened by s_open_cb: s_close_cb will see it closed */

/* --- chw_worker.c --- */
/* Reports an event to config.on_event (printf-style detail; fmt may be NULL). */
void chw__event(chw_worker_t *self, chw_event_kind_t kind, const chw_result_t *result,
                const Pregon__Dispatch *job, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Monotonic and wall-clock (Unix) time in ms. */
int64_t chw__mono_ms(void);
int64_t chw__wall_ms(void);

/* --- chw_wire.c: the broker socket (each function's contract is atop its definition) --- */
int chw__announce(chw_worker_t *self, int64_t now);
void chw__fifo_clear(chw__fifo_t *fifo);
int chw__flush_unsent(chw_worker_t *self, int64_t now);
int chw__open_socket(chw_worker_t *self);
void chw__prune_recent(chw_worker_t *self);
int chw__recv_all(chw_worker_t *self, int64_t now);
int chw__report(chw_worker_t *self, const Pregon__Dispatch *dispatch, const chw_result_t *r,
                int64_t retry_at_ms, bool handed_back, int64_t now);
int chw__send_leaving(chw_worker_t *self, bool done, int64_t now);
int chw__send_msg(chw_worker_t *self, const Pregon__WorkerToBroker *msg, int64_t now);
int chw__zmq_pending(chw_worker_t *self);
int chw__replay(chw_worker_t *self, int64_t now);
int chw__resend_unacked(chw_worker_t *self, bool all, int64_t now);

/* --- chw_jobs.c: slots, transfers and curl's sockets (contracts atop the definitions) --- */
int chw__abort_running(chw_worker_t *self, int64_t now);
int chw__collect(chw_worker_t *self, int64_t now);
void chw__fd_forget(chw_worker_t *self, uint8_t *state, int fd);
int chw__finish(chw_worker_t *self, chw__slot_t *slot, const chw_result_t *r, int64_t retry_at_ms,
                bool handed_back, int64_t now);
void chw__free_held(chw_worker_t *self, int64_t now);
/* ReleaseLine: frees the held slot that carried lease_id (its call ended), if any. */
void chw__release_line(chw_worker_t *self, const char *lease_id);
/* Jobs held (queued or running), without the slots driver.hold_ms keeps after a report. */
uint32_t chw__jobs_held(const chw_worker_t *self);
int chw__halt(chw_worker_t *self, const char *reason, int64_t now);
int chw__hand_back_queued(chw_worker_t *self, const char *why, int64_t now);
void chw__release(chw_worker_t *self, chw__slot_t *slot, const chw_result_t *r);
int chw__socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp);
int chw__start(chw_worker_t *self, chw__slot_t *slot, int64_t now);
int chw__timer_cb(CURLM *multi, long timeout_ms, void *userp);

#endif

/* chw_worker.h — the channel-worker runtime: one event loop between pregond and a provider API.
 *
 * A worker holds a ZMQ_DEALER on the broker's backend ROUTER (protocol: WorkerReady, Credit,
 * Heartbeat, DeliveryReport, Leaving up; Dispatch, Heartbeat, Halt, LeaveAck down; one protobuf
 * frame per message) and a libcurl multi handle whose sockets it polls with the ZeroMQ socket in
 * one epoll set. A channel (sms, whatsapp, ...) plugs in a driver (chw_driver.h) that builds the
 * HTTP request for a Dispatch, classifies the answer, frees its per-job state and names each
 * job's shaping key; the runtime does credit, heartbeats, reconnection (every WorkerReady lists
 * the leases the process still holds, with its incarnation), rate shaping per key, the re-check
 * before sending, backoff, timeouts, the stop handshake (Leaving, LeaveAck, hand-backs, drain,
 * Leaving done), the journal (chw_journal.h, chw_worker_attach_journal: what a process
 * restarted after kill -9 reports) and counters. The runtime never logs: it reports notable events
 * through a callback the process's main owns. */
#ifndef CHW_WORKER_H
#define CHW_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "pregon.pb-c.h"
#include "chw_driver.h"
#include "chw_journal.h"
#include "chw_retry.h"
#include "pg_curve.h"
#include "pg_prom.h"

typedef struct chw_worker chw_worker_t;

/* Error codes of this module (negative; 0 is success). */
typedef enum {
    CHW_OK = 0,
    CHW_ERR_CONFIG = -1, /* invalid configuration */
    CHW_ERR_NOMEM = -2,
    CHW_ERR_ZMQ = -3,     /* ZeroMQ call failed (bad endpoint, ...) */
    CHW_ERR_CURL = -4,    /* libcurl multi failed */
    CHW_ERR_SYS = -5,     /* epoll failed */
    CHW_ERR_JOURNAL = -6, /* the journal could not be written: no request may go out unrecorded */
} chw_err_t;

/* Static text for a chw_err_t. */
const char *chw_strerror(int err);

/* Re-check just before sending (after rate shaping). Returns true to send; false to report the
 * job SKIPPED with `rule` (NUL-terminated, at most rule_len bytes) as detail. `now_ms` is Unix
 * time in ms. The runtime checks job.expires_at itself before calling it. */
typedef bool (*chw_recheck_fn)(void *ctx, const Pregon__Dispatch *dispatch, int64_t now_ms,
                               char *rule, size_t rule_len);

/* The default re-check: allows everything. */
bool chw_recheck_allow(void *ctx, const Pregon__Dispatch *dispatch, int64_t now_ms, char *rule,
                       size_t rule_len);

typedef enum {
    CHW_EV_CONNECTED,     /* ready sent on a new socket; detail = endpoint */
    CHW_EV_RECONNECTED,   /* broker silent for 3 heartbeats: socket reopened; detail = endpoint */
    CHW_EV_HALTED,        /* a CONFIG_ERROR halted the channel; result says why */
    CHW_EV_BROKER_HALT,   /* the broker sent Halt; detail = its reason */
    CHW_EV_DRAINING,      /* stop requested: Leaving sent, no more credit, queued jobs handed
                             back, waiting for in-flight jobs; detail says how many */
    CHW_EV_LEAVE_ACKED,   /* the broker answered Leaving with LeaveAck; detail = after how long */
    CHW_EV_LEAVE_UNACKED, /* no LeaveAck within 3 heartbeats: leaving without it */
    CHW_EV_DRAIN_TIMEOUT, /* drain timeout hit; detail says how many jobs were cut */
    CHW_EV_LEFT,          /* nothing held any more: Leaving{done} sent; detail sums up the stop */
    CHW_EV_HELD_PARTIAL,  /* a WorkerReady could not list every held lease (over its byte budget
                             or a reported lease dropped early): sent without the incarnation */
    CHW_EV_BAD_FRAME,     /* undecodable frame from the broker; detail says what */
    CHW_EV_REPLAYED,      /* the journal of a previous process was read: detail says how many
                             jobs are reported UNKNOWN (started, never done) and how many
                             reports are sent again (done, never acknowledged) */
} chw_event_kind_t;

typedef struct {
    chw_event_kind_t kind;
    const char *detail;          /* never NULL */
    const chw_result_t *result;  /* CHW_EV_HALTED: the classification; else NULL */
    const Pregon__Dispatch *job; /* CHW_EV_HALTED: the job that triggered it; else NULL */
} chw_event_t;

/* Called from inside chw_worker_run for notable events; the only place a process logs them. */
typedef void (*chw_event_fn)(void *ctx, const chw_event_t *event);

typedef struct {
    int channel;               /* pregon.proto Channel (PREGON__CHANNEL__SMS, ...) */
    const char *endpoint;      /* broker backend, e.g. "tcp://127.0.0.1:5556" */
    const char *worker_id;     /* routing id; 1..255 bytes */
    uint32_t concurrency;      /* jobs held at once (credit); 0 = 64 */
    uint32_t heartbeat_ms;     /* 0 = 1000 */
    double rate_per_sender;    /* messages/s per shaping key (driver.shape_key: the sender
                                  unless the driver says otherwise); 0 = unlimited */
    double burst;              /* bucket size; 0 = max(1, rate_per_sender) */
    uint32_t sender_queue_max; /* FIFO per shaping key; 0 = max(4, 2 * burst) capped at
                                  concurrency */
    long max_host_connections; /* CURLMOPT_MAX_HOST_CONNECTIONS; 0 = concurrency */
    long request_timeout_ms;   /* whole request; 0 = 30000 */
    long connect_timeout_ms;   /* 0 = 5000 */
    uint32_t drain_timeout_ms; /* on stop: in-flight requests may finish this long; 0 = 10000 */
    int64_t backoff_base_ms;   /* 0 = 1000 */
    int64_t backoff_cap_ms;    /* 0 = 300000 */
    const char *policy_dir;    /* for the re-check hook; may be NULL */
    chw_recheck_fn recheck;    /* NULL = chw_recheck_allow */
    void *recheck_ctx;
    chw_event_fn on_event; /* may be NULL */
    void *event_ctx;
    volatile sig_atomic_t *stop_flag; /* set by a signal handler: leave and return; may be NULL */
    const pg_curve_t *curve; /* borrowed, outlives the worker: CURVE keys for the broker socket
                              * (every reconnection); NULL = plaintext */
    /* Called at the end of every loop turn (the ops endpoint renders /metrics there: chw_ops.h);
     * NULL = none. tick_fd (>= 0; -1 = none) is watched too when on_tick is set: readable, it
     * ends the wait, and on_tick is told (tick_ready) so that it reads it. */
    void (*on_tick)(void *ctx, const struct chw_worker *worker, bool tick_ready);
    void *tick_ctx;
    int tick_fd;
} chw_config_t;

/* Room for WorkerReady.held_leases, in protobuf bytes (the rest of the message is < 300 bytes):
 * half of pregond's default limits.max_frame_bytes (4 MiB). That is 3,477 leases of 600 bytes,
 * or about 20,000 of a typical 100. */
#define CHW_READY_HELD_MAX (2 * 1024 * 1024)

/* Counters since start, for /metrics. */
typedef struct {
    uint64_t received;                                               /* dispatches received */
    uint64_t sent, failed, retried, unknown, config_errors, skipped; /* reports by outcome */
    uint64_t handed_back; /* HANDED_BACK (untried): halted, stopping, sender FIFO full, ... */
    uint64_t foreign;     /* dispatches leased to a previous process of this worker id: ignored */
    uint64_t resent;      /* reports sent again from the journal (not acknowledged in time) */
    uint64_t bad_frames;
    uint64_t reconnects;
    uint64_t in_flight;             /* gauge: jobs held (queued + running) */
    uint64_t held;                  /* gauge: slots kept after their report (driver.hold_ms: a
                                     * voice call's line) */
    uint64_t lines_released;        /* held slots freed by the broker's ReleaseLine (the call
                                     * ended before the bound) */
    uint64_t queued;                /* gauge: jobs waiting for their sender's token */
    uint64_t http_status[600];      /* answers by HTTP status; [0] = no HTTP answer */
    pg_prom_hist_t request_seconds; /* provider requests answered (any status), whole duration */
} chw_counters_t;

/* Creates a worker and connects its socket (the ready message goes out in chw_worker_run).
 * The process must have called curl_global_init() first (libcurl's rule, main's job).
 * Copies what it needs from `config` and `driver` (the driver's ctx stays the caller's).
 * Returns NULL on failure with *err (if not NULL) set to a chw_err_t. */
chw_worker_t *chw_worker_new(const chw_config_t *config, const chw_driver_t *driver, int *err);

/* Destroys the worker; accepts NULL; nulls the caller's pointer. Jobs it still holds (after a
 * fatal error of chw_worker_run) are released (driver.release) without a report. */
void chw_worker_destroy(chw_worker_t **self_p);

/* Makes the worker keep `journal` (borrowed: the caller closes it after chw_worker_destroy),
 * opened with this worker's incarnation (chw_worker_incarnation) and the previous process's
 * `prev_incarnation` it read ("" = none). Call before chw_worker_run. From then on:
 * - a job's "started" record is committed (written and fdatasync'd, once per loop turn for
 *   every job started in it) before its request can go out;
 * - every report that consumes an attempt (SENT, DELIVERED, FAILED, RETRY, UNKNOWN) is recorded
 *   "done" with the report and sent again every 3 heartbeats until the broker acknowledges it
 *   (ReportAck): a report dropped by a broker without Redis, or lost with a broker, arrives;
 *   hand-backs and SKIPPED, which give the attempt back, are never re-sent (a late copy could
 *   match the job's next dispatch): the broker hands such a lease back by itself;
 * - chw_worker_run first reports what the previous process left: started and never done ->
 *   UNKNOWN ("worker restarted: the request may have gone out"), done and not acknowledged ->
 *   the report again; its WorkerReady lists those leases and names prev_incarnation, so that
 *   the broker hands back every other lease of the previous process (never started).
 * Returns CHW_OK, or CHW_ERR_CONFIG when called twice or after chw_worker_run began. */
int chw_worker_attach_journal(chw_worker_t *self, chw_journal_t *journal,
                              const char *prev_incarnation);

/* Runs the event loop until *config.stop_flag is set and the worker has left. Returns CHW_OK,
 * or a chw_err_t on a fatal ZeroMQ or libcurl error.
 *
 * Connecting (and reconnecting after 3 silent heartbeats) sends WorkerReady with the free
 * credit, the incarnation and held_leases: the lease of every job the worker holds (queued or
 * running) and of every job it reported, other than HANDED_BACK, whose Dispatch's
 * lease_expires_ms (plus one heartbeat for clock skew) has not passed. If that list would not
 * fit in CHW_READY_HELD_MAX bytes, or a reported lease had to be forgotten early, the ready
 * lists what fits and leaves the incarnation empty ("unknown": the broker then cannot take an
 * unlisted lease for lost) and CHW_EV_HELD_PARTIAL says so.
 *
 * Stopping, once *stop_flag is seen: Leaving{reason "worker-stopping", done=false} goes out first;
 * no credit is offered any more; every job still waiting for its sender's token is reported
 * HANDED_BACK ("worker-stopping", retry_at_ms = now), and so is every Dispatch that arrives from
 * then on. Requests in progress finish and are reported as usual; when drain_timeout_ms passes
 * first they are cut: UNKNOWN if the request went out, HANDED_BACK if not. The worker waits for
 * LeaveAck at most 3 heartbeats after Leaving (re-sending Leaving after a reconnection); once it
 * holds nothing and has the LeaveAck (or waited 3 heartbeats), it sends Leaving{done=true} after
 * every report and returns. If the broker cannot take the frames, it returns at the later of the
 * drain timeout and the LeaveAck wait. */
int chw_worker_run(chw_worker_t *self);

/* Copies the counters into *out. */
void chw_worker_counters(const chw_worker_t *self, chw_counters_t *out);

/* This worker's incarnation: 16 hex digits drawn at chw_worker_new, sent in every WorkerReady
 * of this object's life (a new worker object, like a new process, is a new incarnation). */
const char *chw_worker_incarnation(const chw_worker_t *self);

/* True while the broker has been heard within three heartbeats. */
bool chw_worker_broker_up(const chw_worker_t *self);

/* Why the worker stopped taking work ("" if it did not). */
const char *chw_worker_halt_reason(const chw_worker_t *self);

#endif

/* brk_workers.h — the backend: channel workers, their credit, and dispatch to them.
 *
 * A worker announces itself (WorkerReady: channel, credit, the leases it still holds, its
 * process incarnation) and the broker never sends it more jobs than its credit. Reports go to
 * brk_reports. A worker that reports a configuration error is halted (sent Halt, given nothing)
 * until it is ready again; a worker that is stopping says Leaving, is answered LeaveAck and is
 * given nothing more; a worker silent for three heartbeats is gone. On a worker's (re)connection,
 * leases a previous incarnation of this broker gave that same worker process and that it no
 * longer holds were lost in transit: they are handed back, not left to expire UNKNOWN.
 * A lease call whose answer was lost (Redis killed or the connection cut after it ran) is
 * remembered (brk_lost.h); brk_workers_recover_lost hands its leases back once Redis answers.
 * A channel enabled in the configuration that has had no worker for limits.no_worker_warn_s is
 * logged once.
 *
 * Trust (issue 9). Every message is attributed to the key it came with (brk_auth_peer). A worker
 * key serves only its channels (a Ready for another is refused with Halt). A worker's leases are
 * recorded as held by "key/worker_id#incarnation"; its reports go to brk_reports with
 * "key/worker_id#", and pg_report applies them only to the current lease (its nonce) held by that
 * key and worker id: forged, guessed or another worker's reports are acknowledged, counted,
 * logged once per peer and ignored, and a CONFIG_ERROR halts only once applied (the result comes
 * back through brk_reports_set_result). A worker is given at most dispatch.max_credit jobs at
 * once (credit asked beyond is clamped; leases it holds count until reported or expired). The
 * table's 256 entries are shared by pools: a key's worker_slots, and dispatch.anonymous_workers
 * for peers without a key; a full pool refuses a newcomer (counted, not answered: it asks again
 * later), unless the newcomer asks for jobs and an entry of that pool asks for none and was never
 * given one: that entry makes room. */
#ifndef BRK_WORKERS_H
#define BRK_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_auth.h"
#include "brk_config.h"
#include "brk_counters.h"
#include "brk_events.h"
#include "brk_redis.h"
#include "brk_reports.h"
#include "brk_rules.h"

typedef struct brk_workers brk_workers_t;

/* Serves the borrowed ROUTER socket `sock`; everything else borrowed. Registers itself as
 * reports' result callback (brk_reports_set_result). */
brk_workers_t *brk_workers_new(void *sock, brk_auth_t *auth, const brk_config_t *cfg,
                               brk_redis_t *redis, const brk_rules_t *rules, brk_reports_t *reports,
                               brk_events_t *events, brk_counters_t *n, int64_t now_ms);
void brk_workers_destroy(brk_workers_t **self_p);

/* Handles one waiting message; false when none was waiting. */
bool brk_workers_handle(brk_workers_t *self, int64_t now_ms);

/* Leases ready jobs to every worker with credit; returns how many were dispatched. */
size_t brk_workers_dispatch(brk_workers_t *self, int64_t now_ms);

/* Hands back the leases of the pg_lease calls whose answer was lost (brk_lost.h): leased in
 * Redis, never dispatched (HANDBACK, detail "lease answer lost: never dispatched"; counted in
 * handed_back_unanswered, one log line per call that had some), then applies the queued reports.
 * Returns 0 when no such call is left to look at, -1 when some are and Redis cannot be asked
 * now: lease expiry must wait then, or it would turn those leases UNKNOWN. Called by dispatch
 * before it leases and by the timers before the lease-expiry sweep. */
int brk_workers_recover_lost(brk_workers_t *self, int64_t now_ms);

/* Heartbeats both ways, workers gone silent, channels without workers. */
void brk_workers_tick(brk_workers_t *self, int64_t now_ms);

/* brk_reports_ack_fn: sends a ReportAck with those report numbers to the worker `peer`. */
void brk_workers_ack(void *self, const void *peer, size_t peer_len, const uint64_t *seqs, size_t n);

/* A voice call has ended: sends ReleaseLine{lease_id} to the worker process whose lease tag
 * ("key/worker_id#incarnation", as the job's lease records it) is `tag`, when it is connected
 * here. Returns true when sent (fire and forget: the line's bound frees it anyway). */
bool brk_workers_release_line(brk_workers_t *self, const char *tag, const char *lease_id,
                              int64_t now_ms);

/* True when some worker takes jobs now. */
bool brk_workers_any(const brk_workers_t *self);

/* What the workers of one channel look like now (for /metrics): workers connected and taking
 * jobs, credit they asked for and were not given, leases they hold, and whether the channel is
 * halted (a provider's CONFIG_ERROR, or its last worker gone). */
typedef struct {
    unsigned workers;
    uint64_t credit, held;
    bool halted;
} brk_workers_channel_t;
void brk_workers_channel(const brk_workers_t *self, int channel, brk_workers_channel_t *out);

/* Ready jobs waiting in the queues of channels that have a worker taking jobs; -1 on error. */
long long brk_workers_ready_jobs(brk_workers_t *self, int64_t now_ms);

#endif

/* brk_store.h — the broker's side of the job state machine after admission: leasing ready jobs
 * to workers, applying reports, releasing retries, finding due deferrals and expired leases.
 *
 * Every state change is one call of the Function library (store/pregon.lua) on one shard;
 * batches are split by shard and the calls pipelined, and shards are visited round-robin so
 * that no shard's jobs wait behind another's. Lease ids are built and read by store/st_keys:
 * here and in workers they are opaque strings. Reads (due deferrals, expired leases, queue
 * lengths) are plain single-key commands. Uses a borrowed synchronous hiredis context, key
 * layout and function caller; errors are returned, with brk_store_strerror. */
#ifndef BRK_STORE_H
#define BRK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "brk_lost.h"
#include "rl_policy.h"
#include "st_fn.h"
#include "st_keys.h"

typedef struct brk_store brk_store_t;

/* A leased job, a due deferral or an expired lease. Owned by the array. */
typedef struct {
    char *lease_id; /* leases and expired leases: the lease id; deferrals: NULL */
    void *payload;  /* the serialized SendRequest */
    size_t payload_len;
    unsigned attempt;
    int64_t window_until_ms; /* leases: when the job's service window closes (ms); 0: none */
} brk_leased_t;

/* Longest holder ("key/worker_id#", escaped) a report or a lease names, NUL included. */
#define BRK_HOLDER_MAX 640

/* A report to apply; strings borrowed. */
typedef struct {
    const char *lease_id;
    const char *outcome; /* SENT DELIVERED FAILED RETRY UNKNOWN CONFIG_ERROR SKIPPED HANDBACK */
    const char *provider_id, *provider_code, *detail; /* may be NULL */
    int64_t retry_at;                                 /* seconds */
    const char *holder; /* the reporting worker as its leases record it ("key/name#", see
                         * brk_workers), NULL: the broker's own report (lease expiry, hand-back
                         * of a lost lease, a webhook). A worker's report applies only to a lease
                         * whose nonce its lease id names and that this holder holds. */
} brk_report_t;

/* What the store needs to know; strings copied. */
typedef struct {
    int64_t finished_ttl_s;  /* how long finished jobs answer DUPLICATE */
    int max_attempts;        /* retryable failures before FAILED */
    uint32_t resend_unknown; /* RL_CH_BIT mask of channels whose UNKNOWN outcomes are resent */
    const char *broker_tag;  /* "instance#incarnation": recorded with every lease */
    /* The random source of lease nonces: fills len bytes, returns 0 or -1. NULL: getrandom(2).
     * Injected for tests; called with ctx. */
    int (*random)(void *ctx, void *buf, size_t len);
    void *random_ctx;
} brk_store_opts_t;

brk_store_t *brk_store_new(redisContext *redis, const st_keys_t *keys, st_fn_t *fn,
                           const brk_store_opts_t *opts);
void brk_store_destroy(brk_store_t **self_p);
const char *brk_store_strerror(const brk_store_t *self);

/* Leases up to n ready jobs of channel ch to the worker `worker_tag` ("key/name#incarnation")
 * until lease_until_ms, visiting shards round-robin. Each lease gets a fresh nonce of
 * ST_NONCE_BYTES random bytes (opts.random), part of its lease id and kept with the lease. Returns
 * 0 with an array (*out, *n_out) the caller frees with brk_store_leased_free, or -1 with none
 * (nothing to dispatch). On -1, every pg_lease call of it that may have leased jobs (its answer
 * lost with the connection, or read but not handed out) is remembered in `lost` (may be NULL),
 * for brk_store_recover_lost; a call answered with a Redis error leased nothing. */
int brk_store_lease(brk_store_t *self, rl_channel_t ch, int n, int64_t lease_until_ms,
                    int64_t now_ms, const char *worker_tag, brk_lost_t *lost, brk_leased_t **out,
                    size_t *n_out);

/* Finds the leases of the calls remembered in `lost`, oldest first: in the call's shard, the
 * leases expiring at the call's until_ms exactly (ZRANGEBYSCORE, then HMGET att l s of each),
 * still `dispatched`, whose nonce is one the call drew. Their lease ids and attempts go to *out
 * (payload NULL; free with brk_store_leased_free); each call looked at is forgotten. Returns 0,
 * or -1 when Redis failed (the calls not yet looked at stay remembered; *out holds what was
 * found before). One shard per command. */
int brk_store_recover_lost(brk_store_t *self, brk_lost_t *lost, brk_leased_t **out, size_t *n_out);
void brk_store_leased_free(brk_leased_t *arr, size_t n);

/* Result of a report: the state the job is left in ("sent", "retry"...), or "stale" (about
 * another attempt), "gone" (no such job), "bad-lease" (not a lease id), "refused: ..." (a
 * transition the state machine does not allow), "wrong-lease" (its nonce is not the current
 * lease's: forged, guessed or a previous lease; a worker's report without a nonce),
 * "not-holder" (from a worker that does not hold the lease), "error" (its call failed: not
 * applied). Only a job's state is a report applied. */
#define BRK_STATE_LEN 48

/* Applies n reports: one pg_report call per shard (and per 256 reports), pipelined.
 * states[i] receives the result for reps[i]. Returns 0, or -1 if Redis failed (then some reports
 * may not have been applied: their leases expire and say so). */
int brk_store_report_many(brk_store_t *self, const brk_report_t *reps, size_t n, int64_t now_ms,
                          char (*states)[BRK_STATE_LEN]);

/* Moves due retries back to their ready queues, up to `limit` per shard. Returns how many, or
 * -1; *full is set when some shard had more due than the limit. */
int brk_store_release_retries(brk_store_t *self, int64_t now_ms, int limit, int *full);

/* Deferred jobs due at now_s, at most `limit` in all, taken from the shards round-robin: their
 * payloads in *out (lease_id NULL, attempt 0). Entries whose job is gone are dropped. */
int brk_store_due_deferred(brk_store_t *self, int64_t now_s, int limit, brk_leased_t **out,
                           size_t *n_out);

/* Leases that expired before now_ms, at most `limit`, round-robin over shards: lease ids and
 * attempts in *out (payload NULL). Entries whose job is gone are dropped. */
int brk_store_expired_leases(brk_store_t *self, int64_t now_ms, int limit, brk_leased_t **out,
                             size_t *n_out);

/* Leases held by `worker_tag` that a broker other than this one (same instance name, another
 * incarnation) handed out and that have not expired: lease ids in *out. */
int brk_store_leases_of(brk_store_t *self, const char *worker_tag, int64_t now_ms,
                        brk_leased_t **out, size_t *n_out);

/* Leases held by `worker_tag` that any incarnation of this broker instance (this one included)
 * handed out and that have not expired: lease ids in *out. For a worker process that restarted
 * (worker_tag names its previous incarnation). */
int brk_store_leases_held_by(brk_store_t *self, const char *worker_tag, int64_t now_ms,
                             brk_leased_t **out, size_t *n_out);

/* Ready jobs of a channel over all shards, or -1. */
long long brk_store_queue_len(brk_store_t *self, rl_channel_t ch);

#endif

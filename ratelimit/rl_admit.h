/* rl_admit.h — admission of a batch of jobs against Redis: decide in C, commit atomically.
 *
 * For each debtor in the batch: read its history and version (one pipelined round trip), decide
 * every job of that debtor with rl_decide (in batch order, each accepted job added to the history
 * the next one sees), then run the embedded admit.lua once for the batch, which re-checks
 * idempotency and suppression and commits accepted jobs only if the history version is unchanged.
 * Jobs whose debtor changed meanwhile are decided again, a bounded number of times.
 *
 * Every key comes from store/st_keys.h and every write is one call of the job state machine
 * (store/pregon.lua's pg_admit), made once per shard present in the batch, pipelined: a call
 * touches one shard's keys, so admission runs unchanged on Redis Cluster.
 * Uses a borrowed synchronous hiredis context; not thread-safe (one per thread). */
#ifndef RL_ADMIT_H
#define RL_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "rl_decide.h"
#include "st_fn.h"
#include "st_keys.h"

/* Verdict codes, numbered as pregon.proto's Verdict.Code. */
typedef enum {
    RL_V_ACCEPTED = 1,
    RL_V_DEFERRED = 2,
    RL_V_REJECTED = 3,
    RL_V_DUPLICATE = 4,
    RL_V_BUSY = 5,
    RL_V_EXPIRED = 6,
} rl_vcode_t;

/* Name of a verdict code ("ACCEPTED", ...); "UNKNOWN" out of range. */
const char *rl_vcode_name(int code);
/* Code of a verdict name; 0 if unknown. */
int rl_vcode_parse(const char *name);

/* One job to admit. All pointers are borrowed for the duration of the call. */
typedef struct {
    const char *tenant;
    const char *debtor;
    const char *job_id;
    const char *contact;
    const char *debt_id;                    /* for the audit record; may be NULL */
    const char *campaign;                   /* for the audit record; may be NULL */
    const char *template_id, *jurisdiction; /* for the audit record (schema v2); may be NULL */
    rl_job_t decide;     /* policy, channel, zones...; ignored when reject_reason is set */
    const void *payload; /* the job as it will be dispatched (serialized SendRequest) */
    size_t payload_len;
    double queue_score;      /* ready-queue order: lower first */
    int readmit;             /* 1: a deferred job coming due (not a duplicate of itself) */
    const char *reject_rule; /* set by the caller for invalid input: audited, never stored */
    const char *reject_reason;
    /* Set by the caller (budgets with on_exceed: defer): not before this instant (s; 0 =
     * none). A job the policy would allow, or defer to an earlier instant, is DEFERRED to it
     * with defer_rule / defer_reason instead (EXPIRED when its expiry comes first); one the
     * policy refuses, or defers later, keeps the policy's verdict. */
    int64_t defer_until;
    const char *defer_rule, *defer_reason;
    /* 1: a job allowed only inside the debtor's 24-hour service window on its channel (every
     * Messenger job, a free-form WhatsApp message): the script refuses it, REJECTED rule
     * "CHANNEL.window" reason "window-closed", unless the window (st_key_window of tenant,
     * debtor, channel name, contact) is open at now; pg_lease re-checks it. */
    int window;
    /* A job pregond submits as the fallback of another (brk_fallback): its audit link,
     * "ORIGINAL_JOB NUL ORIGINAL_CHANNEL NUL ORIGINAL_STATE NUL ATTEMPT NUL WHY" (pregon.lua's
     * pg_admit), NULL for any other job. link_len its length. */
    const char *link;
    size_t link_len;
    /* 1: the job may fall back to another channel: its payload is kept once it is sent or has
     * failed (pg_report), for brk_fallback to build the next job from. */
    int keep_payload;
} rl_admit_job_t;

typedef struct {
    rl_vcode_t code;
    rl_vcode_t first; /* RL_V_DUPLICATE: the first verdict */
    int64_t until;    /* RL_V_DEFERRED and RL_V_EXPIRED */
    char rule[64];
    char reason[32];
    int stale; /* readmit found the job no longer deferred: nothing was done */
} rl_admit_verdict_t;

typedef struct rl_admit rl_admit_t;

/* Creates an admitter on a borrowed connection, key layout and function caller (all three must
 * outlive it). Returns NULL on allocation failure. */
rl_admit_t *rl_admit_new(redisContext *redis, const st_keys_t *keys, st_fn_t *fn);
void rl_admit_destroy(rl_admit_t **self_p);

/* Dry run (on != 0): rl_admit_batch answers what it would answer now, idempotency and
 * suppressions included, and writes nothing (store/pregon.lua pg_peek). */
void rl_admit_set_dry_run(rl_admit_t *self, int on);
int rl_admit_dry_run(const rl_admit_t *self);

/* Sets the idempotency TTL of finished jobs (default 35 days). */
void rl_admit_set_idem_ttl(rl_admit_t *self, int64_t seconds);

/* Admits jobs[0..n) at instant `now`, writing one verdict per job into out[0..n).
 * Returns 0, or -1 if Redis failed (then every verdict not yet final is RL_V_BUSY with reason
 * "redis-unavailable": fail closed) — rl_admit_strerror says why. */
int rl_admit_batch(rl_admit_t *self, const rl_admit_job_t *jobs, size_t n, int64_t now,
                   rl_admit_verdict_t *out);

/* The last Redis error, or "" if none. Valid until the next call. */
const char *rl_admit_strerror(const rl_admit_t *self);

/* Statistics since creation: decision retries caused by concurrent writers. */
uint64_t rl_admit_retries(const rl_admit_t *self);

#endif

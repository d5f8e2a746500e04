/* brk_store.h — the broker's Redis operations after admission: leasing ready jobs to workers,
 * applying reports, releasing retries and finding due deferrals and expired leases.
 *
 * Each state change of a dispatched job is one embedded Lua script (in broker/scripts/), so a
 * job's state, its debtor's history flags, the lease set and the audit stream change together.
 * Uses a borrowed synchronous hiredis context; errors are returned, with brk_store_strerror. */
#ifndef BRK_STORE_H
#define BRK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "rl_policy.h"

typedef struct brk_store brk_store_t;

/* A leased job: its key, serialized SendRequest and attempt number. Owned by the array. */
typedef struct {
    char *job_key;
    void *payload;
    size_t payload_len;
    unsigned attempt;
} brk_leased_t;

/* A report to apply (strings borrowed). */
typedef struct {
    const char *outcome; /* SENT DELIVERED FAILED RETRY UNKNOWN CONFIG_ERROR SKIPPED HANDBACK */
    unsigned attempt;
    const char *job_id, *tenant, *debtor;
    rl_channel_t channel;
    const char *provider_id, *provider_code, *detail;
    int64_t retry_at; /* seconds */
} brk_report_t;

brk_store_t *brk_store_new(redisContext *redis, const char *prefix, int64_t finished_ttl_s,
                           int max_attempts, uint32_t resend_unknown);
void brk_store_destroy(brk_store_t **self_p);
const char *brk_store_strerror(const brk_store_t *self);

/* Leases up to n ready jobs of channel ch until lease_until_ms. On success returns 0 and an
 * array (*out, *n_out) the caller frees with brk_store_leased_free. */
int brk_store_lease(brk_store_t *self, rl_channel_t ch, int n, int64_t lease_until_ms, int64_t now,
                    brk_leased_t **out, size_t *n_out);
void brk_store_leased_free(brk_leased_t *arr, size_t n);

/* Applies a report; writes the resulting state ("sent", "retry", ..., "stale") into state. */
int brk_store_report(brk_store_t *self, const brk_report_t *r, int64_t now, char *state,
                     size_t state_len);

/* Applies n reports in one pipelined round trip (script calls of up to 256 reports each);
 * states[i] receives the resulting state of reps[i]. Returns 0, or -1 if Redis failed (then
 * some reports may not have been applied: their leases expire and say so). */
int brk_store_report_many(brk_store_t *self, const brk_report_t *reps, size_t n, int64_t now,
                          char (*states)[32]);

/* Moves due retries back to their ready queues; returns how many, or -1. */
int brk_store_release_retries(brk_store_t *self, int64_t now, int limit);

/* Keys of deferred jobs due at `now` (at most limit) with their payloads, in *out as in lease
 * (attempt is 0). */
int brk_store_due_deferred(brk_store_t *self, int64_t now, int limit, brk_leased_t **out,
                           size_t *n_out);

/* Jobs whose lease expired before now_ms (at most limit), with payloads and attempts. */
int brk_store_expired_leases(brk_store_t *self, int64_t now_ms, int limit, brk_leased_t **out,
                             size_t *n_out);

/* Ready jobs of a channel, or -1. */
long long brk_store_queue_len(brk_store_t *self, rl_channel_t ch);

#endif

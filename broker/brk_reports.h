/* brk_reports.h — reports waiting for the end of the loop turn, applied all at once.
 *
 * Worker reports, expired leases and hand-backs are collected for up to BRK_REPORTS_DELAY_MS
 * (or until enough have gathered) and applied in one brk_store_report_many (one pipelined round
 * trip, a call per shard), so Redis's per-call cost stays off the per-message path. If Redis is
 * down, or pregond dies, waiting reports are lost: their leases expire and the jobs are recorded
 * UNKNOWN then (never sent twice, G2). FAILED jobs and retries are logged, folded into a
 * summary line per interval when there are many. */
#ifndef BRK_REPORTS_H
#define BRK_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "brk_counters.h"
#include "brk_events.h"
#include "brk_index.h"
#include "brk_redis.h"
#include "st_keys.h"

typedef struct brk_reports brk_reports_t;

/* Borrows everything. */
brk_reports_t *brk_reports_new(brk_redis_t *redis, const st_keys_t *keys, brk_events_t *events,
                               brk_counters_t *n);
void brk_reports_destroy(brk_reports_t **self_p);

/* Queues one report (strings copied, bounded); flushes first when the buffer is full. `channel`
 * (pregon.proto numbering) is for events and log lines only. `peer` (a worker's routing id, or
 * NULL for the broker's own reports) and `seq` (its DeliveryReport.seq, 0: none) say whom to
 * acknowledge it to once applied. `holder` is who reports it as leases record their worker
 * ("key/name#", brk_store_report_t.holder): a worker's report applies only to a lease that
 * worker holds; NULL for the broker's own reports. */
int brk_reports_add(brk_reports_t *self, int64_t now_ms, const char *lease_id, const char *outcome,
                    int channel, const char *provider_id, const char *provider_code,
                    const char *detail, int64_t retry_at_s, const void *peer, size_t peer_len,
                    uint64_t seq, const char *holder);
/* (brk_reports_add returns 0 when the report was queued, -1 when it was dropped.) */

/* What a FAILED report asks besides the transition (DeliveryReport.fallback_eligible,
 * suppress_contact): marks the report brk_reports_add queued last. */
#define BRK_REPORT_FALLBACK 1u
#define BRK_REPORT_SUPPRESS 2u
void brk_reports_flag_last(brk_reports_t *self, unsigned flags);

/* Called during a flush, before the reports are acknowledged, for each report with flags that
 * left its job FAILED or found it FAILED already (the same report sent again: a fallback lost
 * with a pregond that died is submitted then; brk_fallback is idempotent). Returning -1 (Redis
 * failed) leaves that report unacknowledged: the worker sends it again. */
typedef int (*brk_reports_failed_fn)(void *ctx, const char *lease_id, unsigned flags,
                                     const char *provider_code, const char *detail, int64_t now_ms);
void brk_reports_set_failed(brk_reports_t *self, brk_reports_failed_fn fn, void *ctx);

/* Called after a flush for each report of a worker (peer given) whose call got an answer, with
 * its lease id, outcome, the store's state for it (brk_store.h: "retry", "not-holder", ...) and
 * detail. brk_workers learns from it which reports were its workers' own (credit, halting, foreign
 * reports). */
typedef void (*brk_reports_result_fn)(void *ctx, int64_t now_ms, const void *peer, size_t peer_len,
                                      const char *lease_id, const char *outcome, const char *state,
                                      const char *detail);
void brk_reports_set_result(brk_reports_t *self, brk_reports_result_fn fn, void *ctx);

/* Called after a flush for each worker whose reports were applied, with their numbers. */
typedef void (*brk_reports_ack_fn)(void *ctx, const void *peer, size_t peer_len,
                                   const uint64_t *seqs, size_t n);
void brk_reports_set_ack(brk_reports_t *self, brk_reports_ack_fn fn, void *ctx);

/* Webhook maps (brk_index): SENT reports write their provider id's map when applied, and
 * brk_reports_contact's entries are written with the reports (or after BRK_REPORTS_DELAY_MS).
 * index is borrowed; NULL (the default) writes none. */
void brk_reports_set_index(brk_reports_t *self, brk_index_t *index);
void brk_reports_contact(brk_reports_t *self, int64_t now_ms, int channel, const char *contact,
                         const char *tenant, const char *debtor, const char *job_id,
                         const char *sender);

/* Applies every queued report. */
void brk_reports_flush(brk_reports_t *self, int64_t now_ms);

/* Applies the queued reports once enough have gathered (a call per shard pays a fixed cost:
 * with 16 shards, a loop turn's few reports would cost a call each) or the oldest has waited
 * BRK_REPORTS_DELAY_MS. The loop calls it every turn and wakes up by brk_reports_wait_ms. */
#define BRK_REPORTS_DELAY_MS 20
void brk_reports_maybe_flush(brk_reports_t *self, int64_t now_ms);

/* How long the loop may sleep before queued reports are due (ms); -1 if none is queued. */
long brk_reports_wait_ms(const brk_reports_t *self, int64_t now_ms);

/* Logs the summary of FAILED jobs and retries when its interval is over. */
void brk_reports_tick(brk_reports_t *self, int64_t now_ms);

#endif

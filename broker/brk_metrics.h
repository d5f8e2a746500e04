/* brk_metrics.h — pregond's /metrics, /healthz and /readyz (ops.listen, a loopback port).
 *
 * Three sources, one render:
 *   - the counters every module increments (brk_counters_t), including the labelled tallies
 *     of verdicts {code, reason, rule, jurisdiction} and reports {channel, outcome,
 *     provider_code}, and the admission latency histogram;
 *   - the workers table (brk_workers_channel): workers, credit, held leases, halts per channel;
 *   - Redis, read every ops.gauges_ms (and before a scrape when older than that): per shard,
 *     the ready queue of every enabled channel, the deferred and retry sets, the leases, the
 *     audit stream's length, and the sunrise wave (deferred jobs coming due in each of the
 *     next 24 hours), one pipelined round trip per shard whose duration feeds the Redis
 *     round-trip histogram. Every call touches one slot (each shard's own keys).
 * Readiness: Redis reachable on the right dataset, a worker taking jobs for every enabled
 * channel, and the audit backlog under ops.max_audit_backlog when set; /readyz names the first
 * that fails. Metric names, units and labels: README "Operations" (and the render in
 * brk_metrics.c). Label values are bounded: channels, codes, rules and jurisdictions of the
 * loaded policies (any other jurisdiction is "unknown"), provider codes up to the tally's
 * bound (then "other"); never a tenant, debtor or job id.
 *
 * Owned by pregond's main; every call from the loop's thread. */
#ifndef BRK_METRICS_H
#define BRK_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_counters.h"
#include "brk_redis.h"
#include "brk_rules.h"
#include "brk_workers.h"
#include "st_keys.h"

typedef struct brk_metrics brk_metrics_t;

/* Sets up n's tallies and histograms (before any module counts). Returns 0, or -1 when out
 * of memory. brk_metrics_counters_release frees them; both accept what they were given. */
int brk_metrics_counters_init(brk_counters_t *n);
void brk_metrics_counters_release(brk_counters_t *n);

/* Counts one verdict with its labels (what brk_front and the release timer call). `rules`
 * decides whether the jurisdiction is a known one (else "unknown"). */
void brk_metrics_count_verdict(brk_counters_t *n, const brk_rules_t *rules, int code,
                               const char *reason, const char *rule, const char *jurisdiction);

/* Counts one worker report. */
void brk_metrics_count_report(brk_counters_t *n, int channel, const char *outcome,
                              const char *provider_code);

/* Serves cfg->ops_listen. Everything is borrowed and must outlive it. Returns NULL with a
 * reason in err when the port cannot be served (the caller exits 78). */
brk_metrics_t *brk_metrics_new(const brk_config_t *cfg, brk_redis_t *redis, const st_keys_t *keys,
                               brk_workers_t *workers, const brk_rules_t *rules, brk_counters_t *n,
                               char *err, size_t errlen);

/* Stops serving and frees; accepts NULL and nulls the caller's pointer. */
void brk_metrics_destroy(brk_metrics_t **self_p);

/* The descriptor to poll (readable when a scrape waits), and the bound port. */
int brk_metrics_fd(const brk_metrics_t *self);
uint16_t brk_metrics_port(const brk_metrics_t *self);

/* One loop turn: liveness, the gauges when due, a render when a scrape waits (fd_ready: the
 * descriptor polled readable this turn), readiness. */
void brk_metrics_turn(brk_metrics_t *self, int64_t now_ms, bool fd_ready);

#endif

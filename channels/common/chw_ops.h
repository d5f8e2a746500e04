/* chw_ops.h — a channel worker's /metrics, /healthz and /readyz (--ops-listen ADDR, a loopback
 * port): what chw_main serves for every worker program, so no driver writes its own.
 *
 *   pregon_worker_dispatches_total          Dispatches received
 *   pregon_worker_reports_total{outcome}    reports sent, by outcome (sent, failed, retry,
 *                                           unknown, config_error, skipped, handed_back)
 *   pregon_worker_provider_responses_total{status}  provider answers by HTTP status ("none":
 *                                           no HTTP answer: refused, timed out, cut)
 *   pregon_worker_provider_request_seconds  histogram of answered provider requests
 *   pregon_worker_in_flight, pregon_worker_queued, pregon_worker_concurrency   gauges
 *   pregon_worker_halted, pregon_worker_broker_connected                       0/1
 *   pregon_worker_reconnects_total, pregon_worker_bad_frames_total,
 *   pregon_worker_reports_resent_total, pregon_worker_foreign_dispatches_total
 * Every sample carries the constant labels channel and worker_id (one process: one series per
 * name and label set). /readyz: 503 "halted: REASON" or "broker not heard" until it is.
 *
 * chw_main creates it before the worker and gives chw_ops_tick to the worker's on_tick with
 * chw_ops_fd as tick_fd; everything runs on the worker's loop thread except the HTTP server's
 * own threads (pg_ops.h). */
#ifndef CHW_OPS_H
#define CHW_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "chw_worker.h"

typedef struct chw_ops chw_ops_t;

/* Serves listen for the worker of `channel` called worker_id (both copied). NULL with a
 * reason in err: a non-loopback or bad address, a port in use, out of memory. */
chw_ops_t *chw_ops_new(const char *listen, int channel, const char *worker_id, uint32_t concurrency,
                       char *err, size_t errlen);

/* Stops serving and frees; accepts NULL and nulls the caller's pointer. */
void chw_ops_destroy(chw_ops_t **self_p);

/* The descriptor for chw_config_t.tick_fd, and the bound port. */
int chw_ops_fd(const chw_ops_t *self);
unsigned chw_ops_port(const chw_ops_t *self);

/* chw_config_t.on_tick: liveness, readiness and, when a scrape waits, the render. */
void chw_ops_tick(void *ctx, const chw_worker_t *worker, bool tick_ready);

#endif

/* brk_timers.h — what happens by the clock: due retries back to their queues, due deferrals
 * through admission again, expired leases recorded UNKNOWN, heartbeats.
 *
 * A tick every TIMER_MS handles one chunk of each. When a tick finds a full chunk due (a
 * campaign submitted at 03:00 for 07:00, thousands of leases after a crash), the rest is handled
 * a chunk per loop turn between dispatches, while the workers' ready queues stay short: a backlog
 * goes out at the rate the workers take it. The lease-expiry sweep waits until the leases of
 * lease calls whose answer was lost are handed back (brk_workers_recover_lost). */
#ifndef BRK_TIMERS_H
#define BRK_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_counters.h"
#include "brk_redis.h"
#include "brk_reports.h"
#include "brk_rules.h"
#include "brk_workers.h"

typedef struct brk_timers brk_timers_t;

brk_timers_t *brk_timers_new(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                             brk_workers_t *workers, brk_reports_t *reports, brk_counters_t *n);
void brk_timers_destroy(brk_timers_t **self_p);

/* Runs the tick when it is due, then one chunk of any backlog. */
void brk_timers_run(brk_timers_t *self, int64_t now_ms);

/* How long the loop may wait for sockets before calling brk_timers_run again (ms). */
long brk_timers_wait_ms(const brk_timers_t *self, int64_t now_ms);

#endif

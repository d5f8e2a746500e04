/* brk_front.h — the frontend: SubmitBatch in, SubmitReply out, one verdict per job.
 *
 * A reply is sent only once every job of the batch has its verdict in Redis. Whole-batch errors
 * (a frame that is not a SubmitBatch, a frame over limits.max_frame_bytes, more than
 * limits.max_batch jobs) are answered with SubmitReply.error and counted; nothing is silently
 * dropped. Ids are echoed in verdicts only when they are valid (strict protobuf clients must be
 * able to parse every reply).
 *
 * Each job's tenant must be one the submitting key may submit for (brk_auth_peer of the frame,
 * then brk_tenancy_split): any other job is answered REJECTED, rule auth.tenant, reason
 * tenant-forbidden, before admission (no idempotency record, no contact counted, no audit
 * record, no event), counted (brk_counters_t.tenant_forbidden) and logged at most once per
 * 10 s. So a job id another key submitted first for a tenant it is not bound to is still new
 * to that tenant. The frontend takes only SubmitBatch: no other request names a tenant. */
#ifndef BRK_FRONT_H
#define BRK_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_auth.h"
#include "brk_config.h"
#include "brk_counters.h"
#include "brk_events.h"
#include "brk_redis.h"
#include "brk_reports.h"
#include "brk_rules.h"

typedef struct brk_front brk_front_t;

/* Serves the borrowed ROUTER socket `sock`; everything else is borrowed too. */
brk_front_t *brk_front_new(void *sock, brk_auth_t *auth, const brk_config_t *cfg,
                           brk_redis_t *redis, const brk_rules_t *rules, brk_events_t *events,
                           brk_counters_t *n);
void brk_front_destroy(brk_front_t **self_p);

/* A job REJECTED window-closed (outside its 24-hour service window) has its contact map written
 * through `reports` (borrowed; NULL, the default: none), so the debtor's message is attributed
 * to it and opens the window (brk_front.c, s_window_refused). */
void brk_front_set_reports(brk_front_t *self, brk_reports_t *reports);

/* Handles one waiting message; false when none was waiting. */
bool brk_front_handle(brk_front_t *self, int64_t now_ms);

#endif

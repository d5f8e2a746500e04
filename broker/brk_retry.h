/* brk_retry.h — the campaign's retry rule for calls nobody answered.
 *
 * A call that ends busy, no-answer, failed or canceled is FAILED ("undelivered") by its status
 * callback: the attempt happened and counted. Whether to call again is the voice template's
 * rule (retries: N, retry_gap_s: H; deploy/templates.yaml): at most N more calls, each at least
 * H seconds after the failure. Each retry is a NEW job through admission, job id
 * "<job>~r<k>" (k = 1..N), not_before = failure + H: so every cap of the debtor's
 * jurisdiction (Reg F 7 calls in 7 days per debt, Chile 1 call a week, quiet hours, a
 * conversation's cooldown, an opt-out since) decides it like any other call: the rule only
 * proposes, admission disposes. The id makes the retry idempotent (a webhook applied twice
 * proposes the same job: DUPLICATE) and bounds the chain without any extra state. */
#ifndef BRK_RETRY_H
#define BRK_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_redis.h"
#include "brk_rules.h"

/* The id of the next retry of job_id under a rule of `retries`: "<base>~r<k+1>" when job_id is
 * "<base>~r<k>" (or k = 0 without the suffix) and k < retries. Returns 1 with out filled, 0
 * when no retry is due (or the id would pass max_len bytes), -1 when out is too small. */
int brk_retry_next_id(const char *job_id, unsigned retries, size_t max_len, char *out,
                      size_t out_len);

/* Proposes the retry of the failed call whose stored payload (a packed SendRequest) is
 * payload[0..len), at now_ms: 1 when a retry job was submitted (detail: its id and verdict),
 * 0 when the template has no retry due, -1 when it could not be built. */
int brk_retry_call(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                   const void *payload, size_t len, int64_t now_ms, char *detail, size_t dl);

#endif

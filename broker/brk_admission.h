/* brk_admission.h — admission of a set of SendRequests: the one path new submissions and
 * deferred jobs coming due both take.
 *
 * Prepares each job (brk_submit: validation, policy and zone resolution, templates), refuses
 * jobs for channels this broker does not serve (REJECTED broker.channels / channel-disabled: never
 * stored, never counted) and, past limits.max_queue ready jobs on a channel, answers BUSY
 * queue-full (G6); then admits the rest in one rl_admit_batch. Redis unreachable or on the wrong
 * dataset: every job is BUSY with the reason (fail closed). */
#ifndef BRK_ADMISSION_H
#define BRK_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_redis.h"
#include "brk_rules.h"
#include "pregon.pb-c.h"
#include "rl_admit.h"

/* Admits reqs[0..n) (payloads: their serialized form, stored with each job; readmit: deferred
 * jobs coming due) at now_ms, writing one verdict per job. Everything is borrowed. */
void brk_admission_run(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                       Pregon__SendRequest *const *reqs, const void *const *payloads,
                       const size_t *payload_lens, size_t n, int readmit, int64_t now_ms,
                       rl_admit_verdict_t *verdicts);

#endif

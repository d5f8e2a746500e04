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

/* Admits reqs[0..n) (payloads: their serialized form, stored with each job; readmit:
 * BRK_SUBMIT_NEW for submissions, BRK_SUBMIT_READMIT for deferred jobs coming due) at now_ms,
 * writing one verdict per job. Everything is borrowed. */
void brk_admission_run(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                       Pregon__SendRequest *const *reqs, const void *const *payloads,
                       const size_t *payload_lens, size_t n, int readmit, int64_t now_ms,
                       rl_admit_verdict_t *verdicts);

/* Admits one job pregond submits as the fallback of another (brk_fallback): through the same
 * admission as any job (its channel's policy, caps, quiet hours, suppressions, window), never
 * refused BUSY queue-full, fallback_of accepted, and its decision audited with `link`
 * (rl_admit_job_t.link: "ORIGINAL NUL CHANNEL NUL STATE NUL ATTEMPT NUL WHY"). */
void brk_admission_fallback(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                            Pregon__SendRequest *req, const void *payload, size_t payload_len,
                            const char *link, size_t link_len, int64_t now_ms,
                            rl_admit_verdict_t *verdict);

#endif

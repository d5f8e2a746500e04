/* brk_budget_redis.h — spending budgets in Redis around admission (brk_budget.h explains the
 * model): reserve before the decision, give back what was not ACCEPTED after it. One FCALL of
 * pg_budget per tenant of the batch, each on the tenant's budget hash (one slot). */
#ifndef BRK_BUDGET_REDIS_H
#define BRK_BUDGET_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "brk_budget.h"
#include "rl_admit.h"
#include "st_fn.h"
#include "st_keys.h"

#define BRK_BUDGET_RULE_MAX 32

/* Reserves each job's cost (dry != 0: only checks, nothing written) at now_s (UTC day and
 * month): a job that does not fit gets reject_rule = rules[i] (filled with the budget's rule)
 * and reject_reason "budget", or, when its tenant's on_exceed is defer and the budget has a
 * next period, defer_until = that period's start with defer_rule / defer_reason the same;
 * cost[i] is what was reserved for job i (0: nothing). Jobs
 * already rejected, or not budgeted, are left alone. Returns 0, or -1 after a Redis error
 * (then nothing that failed was reserved; the caller fails the batch closed). */
int brk_budget_reserve(const brk_budgets_t *b, redisContext *c, st_fn_t *fn, const st_keys_t *keys,
                       rl_admit_job_t *jobs, size_t n, int64_t now_s, int dry, int64_t *cost,
                       char (*rules)[BRK_BUDGET_RULE_MAX]);

/* Gives back cost[i] of every job whose verdict is not ACCEPTED. Returns 0, or -1 after a Redis
 * error (the reservations stay spent: the safe side). */
int brk_budget_refund(const brk_budgets_t *b, redisContext *c, st_fn_t *fn, const st_keys_t *keys,
                      const rl_admit_job_t *jobs, size_t n, int64_t now_s, const int64_t *cost,
                      const rl_admit_verdict_t *verdicts);

#endif

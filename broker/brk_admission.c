/* brk_admission.c — preparing and admitting a set of jobs (see brk_admission.h). */
#include "brk_admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_budget_redis.h"
#include "brk_submit.h"

#define S_DISABLED_WAIT_S 3600 /* a deferred job of a disabled channel waits this much more */

static void s_busy(rl_admit_verdict_t *v, size_t n, const char *reason) {
    for (size_t i = 0; i < n; i++) {
        memset(&v[i], 0, sizeof v[i]);
        v[i].code = RL_V_BUSY;
        snprintf(v[i].reason, sizeof v[i].reason, "%s", reason);
    }
}

/* brk_admission_run, with each job's audit link (links NULL: none; see rl_admit_job_t). */
static void s_run(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                  Pregon__SendRequest *const *reqs, const void *const *payloads,
                  const size_t *payload_lens, size_t n, int readmit, const char *const *links,
                  const size_t *link_lens, int64_t now_ms, rl_admit_verdict_t *verdicts) {
    rl_admit_t *admit = brk_redis_ok(redis, now_ms) ? brk_redis_admit(redis) : NULL;
    brk_store_t *store = brk_redis_store(redis);
    if (!admit || !store) {
        s_busy(verdicts, n, brk_redis_busy_reason(redis));
        return;
    }
    rl_admit_job_t *jobs = calloc(n, sizeof *jobs);
    size_t *where = calloc(n, sizeof *where);
    rl_admit_verdict_t *sub = calloc(n, sizeof *sub);
    if (!jobs || !where || !sub) {
        free(jobs), free(where), free(sub);
        s_busy(verdicts, n, "no-memory");
        return;
    }
    long long qlen[RL_CH_COUNT];
    for (int c = 0; c < RL_CH_COUNT; c++)
        qlen[c] = -2; /* not asked yet */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        /* lower score first: higher priority, then arrival */
        double score = (double)now_ms - (double)reqs[i]->priority * 1e11;
        rl_admit_job_t *job = &jobs[m];
        brk_submit_prepare(rules->policies, rules->templates, reqs[i], payloads[i], payload_lens[i],
                           score, readmit, job);
        job->debt_id = reqs[i]->debt_id;
        job->campaign = reqs[i]->campaign;
        if (links) {
            job->link = links[i];
            job->link_len = link_lens[i];
        }
        job->template_id = reqs[i]->template_id; /* the audit record's (schema v2) */
        job->jurisdiction = reqs[i]->jurisdiction;
        int ch = (int)reqs[i]->channel;
        if (readmit == BRK_SUBMIT_READMIT && ch > 0 && ch < RL_CH_COUNT &&
            !(cfg->channels & RL_CH_BIT(ch))) {
            /* a deferred job of a channel this broker does not serve (any more, or another
             * broker's): it waits an hour more, audited, never lost; left due it would come
             * back every sweep, one REJECTED record each time, in front of the others */
            job->defer_until = now_ms / 1000 + S_DISABLED_WAIT_S;
            job->defer_rule = "broker.channels";
            job->defer_reason = "channel-disabled";
        } else if (ch <= 0 || ch >= RL_CH_COUNT || !(cfg->channels & RL_CH_BIT(ch))) {
            /* first of all reasons: nothing about this job can be served here */
            job->reject_rule = "broker.channels";
            job->reject_reason = "channel-disabled";
        }
        if (readmit == BRK_SUBMIT_NEW && !job->reject_reason) { /* a fallback is not refused */
            if (qlen[ch] == -2)
                qlen[ch] = brk_store_queue_len(store, (rl_channel_t)ch);
            if (qlen[ch] >= cfg->max_queue) { /* G6: refuse what would go past the limit */
                s_busy(&verdicts[i], 1, "queue-full");
                continue;
            }
        }
        where[m++] = i;
    }
    /* budgets: each job's cost reserved before the decision, given back after it unless the
     * job was ACCEPTED (brk_budget.h) */
    const brk_budgets_t *bud = rules->budgets;
    int64_t *cost = NULL;
    char(*brule)[BRK_BUDGET_RULE_MAX] = NULL;
    if (m && bud && brk_budgets_tenants(bud)) {
        cost = calloc(m, sizeof *cost);
        brule = calloc(m, sizeof *brule);
        if (!cost || !brule ||
            brk_budget_reserve(bud, brk_redis_context(redis), brk_redis_fn(redis),
                               brk_redis_keys(redis), jobs, m, now_ms / 1000,
                               rl_admit_dry_run(admit), cost, brule) < 0) {
            for (size_t k = 0; k < m; k++)
                s_busy(&verdicts[where[k]], 1, cost && brule ? "redis-unavailable" : "no-memory");
            if (cost && brule)
                brk_redis_drop(redis, "reserving budgets");
            free(cost), free(brule), free(jobs), free(where), free(sub);
            return;
        }
    }
    if (m && rl_admit_batch(admit, jobs, m, now_ms / 1000, sub) < 0)
        brk_redis_drop(redis, rl_admit_strerror(admit));
    else if (cost &&
             brk_budget_refund(bud, brk_redis_context(redis), brk_redis_fn(redis),
                               brk_redis_keys(redis), jobs, m, now_ms / 1000, cost, sub) < 0)
        brk_redis_drop(redis,
                       "giving budgets back"); /* what stays reserved errs on the safe side */
    for (size_t k = 0; k < m; k++)
        verdicts[where[k]] = sub[k];
    free(cost), free(brule), free(jobs), free(where), free(sub);
}

void brk_admission_run(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                       Pregon__SendRequest *const *reqs, const void *const *payloads,
                       const size_t *payload_lens, size_t n, int readmit, int64_t now_ms,
                       rl_admit_verdict_t *verdicts) {
    s_run(cfg, redis, rules, reqs, payloads, payload_lens, n, readmit, NULL, NULL, now_ms,
          verdicts);
}

void brk_admission_fallback(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                            Pregon__SendRequest *req, const void *payload, size_t payload_len,
                            const char *link, size_t link_len, int64_t now_ms,
                            rl_admit_verdict_t *verdict) {
    s_run(cfg, redis, rules, &req, &payload, &payload_len, 1, BRK_SUBMIT_FALLBACK, &link, &link_len,
          now_ms, verdict);
}

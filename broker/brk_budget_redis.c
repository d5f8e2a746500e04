/* brk_budget_redis.c — reserve and refund calls of pg_budget (see brk_budget_redis.h). */
#include "brk_budget_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_TTL_S "34560000" /* 400 days: a month's counters outlive the month */

static void s_period(int64_t now_s, char *day, size_t dl, char *month, size_t ml) {
    time_t t = (time_t)now_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, dl, "%Y%m%d", &tm);
    strftime(month, ml, "%Y%m", &tm);
}

/* One pg_budget call over the jobs idx[0..m) of one tenant. rules may be NULL (refund).
 * Returns 0 or -1. */
static int s_call(redisContext *c, st_fn_t *fn, const st_keys_t *keys, const char *op,
                  const brk_budgets_t *b, const rl_admit_job_t *jobs, const size_t *idx, size_t m,
                  const int64_t *cost, int64_t now_s, char (*rules)[BRK_BUDGET_RULE_MAX]) {
    (void)c;
    const char *tenant = jobs[idx[0]].tenant;
    char bk[ST_KEY_MAX], day[16], month[16], td[24], tm[24];
    if (st_key_budget(keys, tenant, bk, sizeof bk) < 0)
        return -1;
    s_period(now_s, day, sizeof day, month, sizeof month);
    brk_budget_limits_t lim;
    brk_budget_limits(b, tenant, NULL, &lim);
    snprintf(td, sizeof td, "%lld", (long long)lim.tenant_daily);
    snprintf(tm, sizeof tm, "%lld", (long long)lim.tenant_monthly);
    size_t argc = 3 + 1 + 6 + 5 * m;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *argl = calloc(argc, sizeof *argl);
    char(*num)[4][24] = calloc(m, sizeof *num);
    if (!argv || !argl || !num) {
        free(argv), free(argl), free(num);
        return -1;
    }
    size_t a = 2;
    argv[a++] = "1";
    argv[a++] = bk;
    argv[a++] = op;
    argv[a++] = day;
    argv[a++] = month;
    argv[a++] = td;
    argv[a++] = tm;
    argv[a++] = S_TTL_S;
    for (size_t k = 0; k < m; k++) {
        const rl_admit_job_t *j = &jobs[idx[k]];
        brk_budget_limits_t l;
        brk_budget_limits(b, tenant, j->campaign, &l);
        snprintf(num[k][0], 24, "%lld", (long long)cost[idx[k]]);
        snprintf(num[k][1], 24, "%lld", (long long)l.campaign_daily);
        snprintf(num[k][2], 24, "%lld", (long long)l.campaign_monthly);
        snprintf(num[k][3], 24, "%lld", (long long)l.campaign_total);
        argv[a++] = j->campaign ? j->campaign : "";
        for (int q = 0; q < 4; q++)
            argv[a++] = num[k][q];
    }
    for (size_t i = 0; i < argc; i++)
        argl[i] = (size_t)-1;
    redisReply *r = st_fn_call(fn, "pg_budget", (int)argc, argv, argl);
    free(argv), free(argl), free(num);
    int rc = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != m) {
        rc = -1;
    } else if (rules) {
        for (size_t k = 0; k < m; k++)
            snprintf(rules[idx[k]], BRK_BUDGET_RULE_MAX, "%s",
                     r->element[k]->str ? r->element[k]->str : "");
    }
    freeReplyObject(r);
    return rc;
}

/* Calls pg_budget once per tenant over the jobs `want` selects (cost[i] > 0 there). */
static int s_by_tenant(redisContext *c, st_fn_t *fn, const st_keys_t *keys, const char *op,
                       const brk_budgets_t *b, const rl_admit_job_t *jobs, size_t n,
                       const int64_t *cost, const char *want, int64_t now_s,
                       char (*rules)[BRK_BUDGET_RULE_MAX]) {
    char *done = calloc(n ? n : 1, 1);
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    int rc = done && idx ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (done[i] || !want[i])
            continue;
        size_t m = 0;
        for (size_t k = i; k < n; k++)
            if (!done[k] && want[k] && strcmp(jobs[k].tenant, jobs[i].tenant) == 0) {
                idx[m++] = k;
                done[k] = 1;
            }
        rc = s_call(c, fn, keys, op, b, jobs, idx, m, cost, now_s, rules);
    }
    free(done), free(idx);
    return rc;
}

/* The amount of the budget `rule` names for job j (0: none). */
static int64_t s_limit_of(const brk_budgets_t *b, const rl_admit_job_t *j, const char *rule) {
    brk_budget_limits_t l;
    brk_budget_limits(b, j->tenant, j->campaign, &l);
    return !strcmp(rule, "budget.tenant.daily")       ? l.tenant_daily
           : !strcmp(rule, "budget.tenant.monthly")   ? l.tenant_monthly
           : !strcmp(rule, "budget.campaign.daily")   ? l.campaign_daily
           : !strcmp(rule, "budget.campaign.monthly") ? l.campaign_monthly
                                                      : l.campaign_total;
}

int brk_budget_reserve(const brk_budgets_t *b, redisContext *c, st_fn_t *fn, const st_keys_t *keys,
                       rl_admit_job_t *jobs, size_t n, int64_t now_s, int dry, int64_t *cost,
                       char (*rules)[BRK_BUDGET_RULE_MAX]) {
    char *want = calloc(n ? n : 1, 1);
    if (!want)
        return -1;
    size_t any = 0;
    for (size_t i = 0; i < n; i++) {
        cost[i] = 0;
        rules[i][0] = '\0';
        if (jobs[i].reject_reason || jobs[i].defer_until || !jobs[i].tenant)
            continue; /* refused or deferred already (a disabled channel): nothing to spend */
        int64_t k = brk_budget_cost(b, jobs[i].tenant, (int)jobs[i].decide.channel);
        if (k < 0)
            continue;
        cost[i] = k;
        want[i] = 1;
        any++;
    }
    /* a job id seen before answers DUPLICATE, whatever the budget: it reserves nothing (one
     * EXISTS per budgeted new job, pipelined) */
    int rc = 0;
    size_t asked = 0;
    for (size_t i = 0; any && i < n; i++) {
        char jk[ST_KEY_MAX];
        if (!want[i] || jobs[i].readmit ||
            st_key_job(keys, jobs[i].tenant, jobs[i].debtor, jobs[i].job_id, jk, sizeof jk) < 0)
            continue;
        redisAppendCommand(c, "EXISTS %s", jk);
        asked++;
    }
    for (size_t i = 0, got = 0; got < asked && i < n; i++) {
        char jk[ST_KEY_MAX];
        if (!want[i] || jobs[i].readmit ||
            st_key_job(keys, jobs[i].tenant, jobs[i].debtor, jobs[i].job_id, jk, sizeof jk) < 0)
            continue;
        redisReply *r = NULL;
        got++;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            want[i] = 0, cost[i] = 0;
        freeReplyObject(r);
    }
    if (rc == 0 && any)
        rc = s_by_tenant(c, fn, keys, dry ? "check" : "reserve", b, jobs, n, cost, want, now_s,
                         rules);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && want[i] && rules[i][0]) {
            int64_t next = brk_budget_on_exceed(b, jobs[i].tenant) == BRK_BUDGET_DEFER &&
                                   cost[i] <= s_limit_of(b, &jobs[i], rules[i])
                               ? brk_budget_next_period(rules[i], now_s)
                               : 0; /* a job dearer than the budget itself never fits: refused */
            if (next > 0) {         /* on_exceed: defer, to the budget's next period */
                jobs[i].defer_until = next;
                jobs[i].defer_rule = rules[i];
                jobs[i].defer_reason = "budget";
            } else {
                jobs[i].reject_rule = rules[i];
                jobs[i].reject_reason = "budget";
            }
            cost[i] = 0; /* nothing reserved for it */
        }
        if (rc != 0 || dry)
            cost[i] = 0;
    }
    free(want);
    return rc;
}

int brk_budget_refund(const brk_budgets_t *b, redisContext *c, st_fn_t *fn, const st_keys_t *keys,
                      const rl_admit_job_t *jobs, size_t n, int64_t now_s, const int64_t *cost,
                      const rl_admit_verdict_t *verdicts) {
    char *want = calloc(n ? n : 1, 1);
    if (!want)
        return -1;
    size_t any = 0;
    for (size_t i = 0; i < n; i++)
        if (cost[i] > 0 && verdicts[i].code != RL_V_ACCEPTED)
            want[i] = 1, any++;
    int rc = any ? s_by_tenant(c, fn, keys, "refund", b, jobs, n, cost, want, now_s, NULL) : 0;
    free(want);
    return rc;
}

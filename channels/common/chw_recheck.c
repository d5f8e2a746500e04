/* chw_recheck.c — quiet-hours re-check before sending (see chw_recheck.h). */
#include "chw_recheck.h"

#include <stdio.h>

#include "rl_decide.h"

bool chw_recheck_policy(void *ctx, const Pregon__Dispatch *dispatch, int64_t now_ms, char *rule,
                        size_t rule_len) {
    const rl_policyset_t *set = ctx;
    const Pregon__SendRequest *req = dispatch->job;
    if (!set || !req)
        return true;
    const char *alt[RL_MAX_ZONES];
    size_t n_alt =
        req->n_alt_time_zones < RL_MAX_ZONES - 1 ? req->n_alt_time_zones : RL_MAX_ZONES - 1;
    for (size_t i = 0; i < n_alt; i++)
        alt[i] = req->alt_time_zones[i];
    rl_job_fields_t f = {.jurisdiction = req->jurisdiction,
                         .time_zone = req->time_zone,
                         .alt_zones = alt,
                         .n_alt_zones = n_alt,
                         .channel_num = (int)req->channel,
                         .role_num = (int)req->role,
                         .debt_id = req->debt_id,
                         .preferred_window = req->preferred_window};
    rl_job_t job;
    const char *reason, *detail, *why = NULL;
    if (rl_job_resolve(set, &f, &job, &reason, &detail) < 0) {
        snprintf(rule, rule_len, "%s", reason);
        return false;
    }
    if (!rl_window_allows(&job, now_ms / 1000, &why)) {
        snprintf(rule, rule_len, "%s", why ? why : "window");
        return false;
    }
    return true;
}

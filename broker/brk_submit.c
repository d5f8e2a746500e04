/* brk_submit.c — SendRequest to admission job: validation, resolution, template check. */
#include "brk_submit.h"

#include <stdlib.h>
#include <string.h>

#include "brk_validate.h"

#define MAX_VARS 64

static void s_reject(rl_admit_job_t *out, const char *rule, const char *reason) {
    out->reject_rule = rule;
    out->reject_reason = reason;
}

void brk_submit_prepare(const rl_policyset_t *policies, const brk_tpl_catalog_t *templates,
                        const Pregon__SendRequest *req, const void *payload, size_t payload_len,
                        double queue_score, int readmit, rl_admit_job_t *out) {
    memset(out, 0, sizeof *out);
    out->tenant = req->tenant;
    out->debtor = req->debtor_id;
    out->job_id = req->job_id;
    out->contact = req->contact;
    out->payload = payload;
    out->payload_len = payload_len;
    out->queue_score = queue_score;
    out->readmit = readmit;
    out->decide.channel = (rl_channel_t)req->channel;

    const char *why;
    /* identity first: these name the Redis keys; ':' in a tenant would make keys ambiguous */
    if ((why = brk_val_job_id(req->job_id)) || (why = brk_val_tenant(req->tenant)) ||
        (why = brk_val_debtor(req->debtor_id))) {
        /* keys cannot be built from invalid identities: use a harmless placeholder identity */
        out->tenant = "invalid";
        out->debtor = "invalid";
        out->job_id = "invalid";
        s_reject(out, "job.fields", why);
        return;
    }
    if (strchr(req->tenant, ':')) {
        s_reject(out, "job.fields", "bad-tenant");
        return;
    }
    if ((why = brk_val_debt(req->debt_id)) ||
        (why = brk_val_contact((int)req->channel, req->contact))) {
        s_reject(out, "job.fields", why);
        return;
    }
    if (req->n_variables > MAX_VARS) {
        s_reject(out, "job.fields", "bad-variables");
        return;
    }
    const char *keys[MAX_VARS], *values[MAX_VARS];
    for (size_t i = 0; i < req->n_variables; i++) {
        keys[i] = req->variables[i]->key;
        values[i] = req->variables[i]->value;
    }
    if ((why = brk_val_variables(req->n_variables, keys, values))) {
        s_reject(out, "job.fields", why);
        return;
    }
    const char *alt[RL_MAX_ZONES];
    if (req->n_alt_time_zones >= RL_MAX_ZONES) {
        s_reject(out, "job.fields", "bad-timezone");
        return;
    }
    for (size_t i = 0; i < req->n_alt_time_zones; i++)
        alt[i] = req->alt_time_zones[i];
    rl_job_fields_t f = {
        .jurisdiction = req->jurisdiction,
        .time_zone = req->time_zone,
        .alt_zones = alt,
        .n_alt_zones = req->n_alt_time_zones,
        .channel_num = (int)req->channel,
        .role_num = (int)req->role,
        .debt_id = req->debt_id,
        .preferred_window = req->preferred_window,
        .not_before = req->not_before,
        .expires_at = req->expires_at,
    };
    const char *detail;
    if (rl_job_resolve(policies, &f, &out->decide, &why, &detail) < 0) {
        s_reject(out, "job.fields", why);
        return;
    }
    const brk_tpl_t *tpl = brk_tpl_get(templates, req->template_id);
    int rc = brk_tpl_check(tpl, (int)req->channel, keys, req->n_variables, NULL);
    if (rc != BRK_TPL_OK) {
        s_reject(out, "job.template", brk_tpl_reason(rc));
        return;
    }
    char *body = NULL;
    if (brk_tpl_render(tpl, keys, values, req->n_variables, &body, &why) < 0) {
        s_reject(out, "job.template", why);
        return;
    }
    free(body);
}

/* brk_fallback.c — submitting a job's fallback, suppressing a dead contact point (see
 * brk_fallback.h). The original job is read with one HMGET (its own key: one slot); the new job
 * is admitted like any other; the suppression goes through st_suppress. */
#include "brk_fallback.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_admission.h"
#include "brk_fbplan.h"
#include "brk_reports.h"
#include "pg_log.h"
#include "rl_policy.h"
#include "st_suppress.h"

#define LINK_MAX (BRK_FB_ID_MAX + 96)

struct brk_fallback {
    const brk_config_t *cfg;
    brk_redis_t *redis;
    const st_keys_t *keys;
    const brk_rules_t *rules;
    brk_events_t *events;
    brk_counters_t *n;
    brk_reports_t *reports; /* borrowed; NULL: no contact map for a window refusal */
};

void brk_fallback_set_reports(brk_fallback_t *self, brk_reports_t *reports) {
    self->reports = reports;
}

brk_fallback_t *brk_fallback_new(const brk_config_t *cfg, brk_redis_t *redis, const st_keys_t *keys,
                                 const brk_rules_t *rules, brk_events_t *events,
                                 brk_counters_t *n) {
    brk_fallback_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (brk_fallback_t){cfg, redis, keys, rules, events, n, NULL};
    return self;
}

void brk_fallback_destroy(brk_fallback_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* HMGET of the job's fields; NULL (Redis failed: the connection dropped) or the reply. */
static redisReply *s_read(brk_fallback_t *self, const char *job_key, const char *fields) {
    redisContext *c = brk_redis_context(self->redis);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "HMGET %%s %s", fields);
    redisReply *r = c ? redisCommand(c, cmd, job_key) : NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (c && c->err)
            brk_redis_drop(self->redis, "fallback");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static const char *s_str(const redisReply *r, size_t i) {
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
}

/* Admits the candidate at index idx; 1 when the next one should be tried (REJECTED), 0 when
 * this one decided, -1 when Redis failed. */
static int s_try(brk_fallback_t *self, const Pregon__SendRequest *orig, size_t idx,
                 const char *contact, const char *link, size_t link_len, int64_t now_ms,
                 char *detail, size_t dl) {
    char id[BRK_FB_ID_MAX];
    int ch = (int)orig->fallback_channels[idx];
    if (brk_fb_job_id(orig->job_id, ch, id, sizeof id) < 0)
        return 1;
    Pregon__SendRequest req;
    brk_fb_build(orig, idx, contact, id, &req);
    size_t len = pregon__send_request__get_packed_size(&req);
    uint8_t *payload = malloc(len ? len : 1);
    if (!payload)
        return -1;
    pregon__send_request__pack(&req, payload);
    rl_admit_verdict_t v;
    memset(&v, 0, sizeof v);
    brk_admission_fallback(self->cfg, self->redis, self->rules, &req, payload, len, link, link_len,
                           now_ms, &v);
    free(payload);
    if (v.code == RL_V_BUSY) {
        snprintf(detail, dl, "fallback %s not admitted: %s", id, v.reason);
        return -1;
    }
    if (v.code >= 1 && v.code <= 6)
        self->n->fallbacks[v.code]++;
    if (self->reports && v.code == RL_V_REJECTED && !strcmp(v.reason, "window-closed"))
        brk_reports_contact(self->reports, now_ms, ch, contact, req.tenant, req.debtor_id, id,
                            req.sender); /* as brk_front does: the debtor's next message opens it */
    Pregon__Verdict pv = PREGON__VERDICT__INIT;
    pv.job_id = id;
    pv.code = (Pregon__Verdict__Code)v.code;
    pv.until = v.until;
    pv.reason = v.reason;
    pv.rule = v.rule;
    pv.first = (Pregon__Verdict__Code)v.first;
    char what[BRK_FB_ID_MAX + 16];
    snprintf(what, sizeof what, "fallback-of:%s", orig->job_id);
    brk_events_publish(self->events, "verdict", orig->tenant, id, ch, &pv, what);
    snprintf(detail, dl, "fallback %s on %s: %s%s%s", id, rl_channel_name((rl_channel_t)ch),
             rl_vcode_name(v.code), v.rule[0] ? " " : "", v.rule);
    bool rejected = v.code == RL_V_REJECTED ||
                    (v.code == RL_V_DUPLICATE && !v.stale && v.first == RL_V_REJECTED);
    return rejected ? 1 : 0;
}

int brk_fallback_job(brk_fallback_t *self, const char *job_key, brk_fb_why_t why, int64_t now_ms,
                     char *detail, size_t dl) {
    detail[0] = '\0';
    redisReply *r = s_read(self, job_key, "p s att ch");
    if (!r)
        return -1;
    const redisReply *p = r->element[0];
    if (p->type != REDIS_REPLY_STRING) {
        snprintf(detail, dl, "no payload kept: nothing to fall back to");
        freeReplyObject(r);
        return 0;
    }
    Pregon__SendRequest *orig = pregon__send_request__unpack(NULL, p->len, (uint8_t *)p->str);
    if (!orig) {
        snprintf(detail, dl, "stored payload unreadable");
        freeReplyObject(r);
        return 0;
    }
    const bool wrong = why == BRK_FB_WRONG_NUMBER;
    char link[LINK_MAX];
    int ll = snprintf(link, sizeof link, "%s%c%s%c%s%c%s%c%s", orig->job_id, 0, s_str(r, 3), 0,
                      s_str(r, 1), 0, s_str(r, 2), 0, wrong ? "wrong-number" : "fallback-eligible");
    freeReplyObject(r);
    int rc = 0;
    if (wrong && !orig->fallback_on_wrong_number) {
        snprintf(detail, dl, "no fallback asked for a wrong number");
    } else if (ll < 0 || (size_t)ll >= sizeof link) {
        snprintf(detail, dl, "job id too long for a fallback link");
    } else {
        const char *contact = NULL;
        int idx = brk_fb_next(orig, 0, wrong, &contact);
        if (idx < 0)
            snprintf(detail, dl, "no fallback channel with a contact point");
        while (idx >= 0) {
            rc = s_try(self, orig, (size_t)idx, contact, link, (size_t)ll, now_ms, detail, dl);
            if (rc != 1)
                break;
            rc = 0;
            idx = brk_fb_next(orig, (size_t)idx + 1, wrong, &contact);
        }
    }
    pregon__send_request__free_unpacked(orig, NULL);
    return rc;
}

int brk_fallback_suppress(brk_fallback_t *self, const char *job_key, const char *why,
                          int64_t now_ms) {
    redisReply *r = s_read(self, job_key, "tn ch x");
    if (!r)
        return -1;
    char tenant[ST_SUP_TENANT_MAX + 1], channel[ST_SUP_CHANNEL_MAX + 1];
    char contact[ST_SUP_VALUE_MAX + 1], who[ST_SUP_WHO_MAX + 1];
    snprintf(tenant, sizeof tenant, "%s", s_str(r, 0));
    snprintf(channel, sizeof channel, "%s", s_str(r, 1));
    /* x: debt NUL campaign NUL contact NUL zone NUL offset (pregon.lua) */
    const redisReply *x = r->element[2];
    const char *cp = "";
    if (x->type == REDIS_REPLY_STRING) {
        const char *a = memchr(x->str, '\0', x->len);
        const char *b = a ? memchr(a + 1, '\0', x->len - (size_t)(a + 1 - x->str)) : NULL;
        cp = b ? b + 1 : "";
    }
    int ok = st_sup_contact_normalize(cp, contact, sizeof contact) >= 0 && contact[0] &&
             tenant[0] && channel[0];
    freeReplyObject(r);
    if (!ok)
        return 0; /* nothing to suppress (the job has gone, or no contact point) */
    snprintf(who, sizeof who, "worker:%s", channel);
    st_suppress_t *sup =
        st_suppress_new(brk_redis_context(self->redis), self->keys, brk_redis_fn(self->redis));
    if (!sup)
        return -1;
    st_sup_t s = {tenant, ST_SUP_CONTACT, contact, channel, "undeliverable", who, why};
    st_sup_result_t res;
    int rc = st_suppress_add(sup, &s, false, now_ms, &res);
    if (rc == 0 && (res.outcome == ST_SUP_ADDED || res.outcome == ST_SUP_CHANGED))
        self->n->dead_contacts++;
    if (rc < 0 && res.outcome == ST_SUP_INVALID) {
        rc = 0;
    } else if (rc < 0) {
        pg_log("suppressing a dead %s contact point of %s: %s", channel, tenant,
               st_suppress_strerror(sup));
        brk_redis_drop(self->redis, "suppression");
    }
    st_suppress_destroy(&sup);
    return rc;
}

int brk_fallback_on_failed(void *ctx, const char *lease_id, unsigned flags,
                           const char *provider_code, const char *detail, int64_t now_ms) {
    brk_fallback_t *self = ctx;
    char jk[ST_KEY_MAX], out[256];
    unsigned attempt = 0;
    if (st_lease_parse(self->keys, lease_id, jk, sizeof jk, &attempt, NULL) < 0)
        return 0;
    if (flags & BRK_REPORT_SUPPRESS) {
        char why[ST_SUP_WHY_MAX + 1];
        snprintf(why, sizeof why, "provider code %.16s: %.160s", provider_code ? provider_code : "",
                 detail ? detail : "");
        if (brk_fallback_suppress(self, jk, why, now_ms) < 0)
            return -1;
    }
    if ((flags & BRK_REPORT_FALLBACK) &&
        brk_fallback_job(self, jk, BRK_FB_ELIGIBLE, now_ms, out, sizeof out) < 0) {
        pg_log("fallback of %s not submitted (Redis failed): %s; the worker's report, sent "
               "again, submits it",
               lease_id, out);
        return -1;
    }
    return 0;
}

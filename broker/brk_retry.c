/* brk_retry.c — retries of unanswered calls as new jobs through admission (see brk_retry.h). */
#include "brk_retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_admission.h"
#include "brk_limits.h"
#include "brk_template.h"
#include "pregon.pb-c.h"

int brk_retry_next_id(const char *job_id, unsigned retries, size_t max_len, char *out,
                      size_t out_len) {
    size_t len = strlen(job_id), base = len;
    unsigned k = 0;
    const char *tag = NULL;
    for (const char *p = strstr(job_id, "~r"); p; p = strstr(p + 1, "~r"))
        tag = p;
    if (tag && tag[2] && strspn(tag + 2, "0123456789") == strlen(tag + 2) && tag[2] != '0' &&
        strlen(tag + 2) <= 3) {
        k = (unsigned)strtoul(tag + 2, NULL, 10);
        base = (size_t)(tag - job_id);
    }
    if (k >= retries)
        return 0;
    int n = snprintf(out, out_len, "%.*s~r%u", (int)base, job_id, k + 1);
    if (n < 0 || (size_t)n >= out_len)
        return -1;
    return (size_t)n <= max_len ? 1 : 0;
}

int brk_retry_call(const brk_config_t *cfg, brk_redis_t *redis, const brk_rules_t *rules,
                   const void *payload, size_t len, int64_t now_ms, char *detail, size_t dl) {
    Pregon__SendRequest *req = pregon__send_request__unpack(NULL, len, payload);
    if (!req)
        return -1;
    const brk_tpl_t *tpl = brk_tpl_get(rules->templates, req->template_id);
    char id[BRK_LIM_JOB_ID + 16];
    int rc =
        tpl ? brk_retry_next_id(req->job_id, brk_tpl_retries(tpl), BRK_LIM_JOB_ID, id, sizeof id)
            : 0;
    if (rc != 1) {
        pregon__send_request__free_unpacked(req, NULL);
        return rc < 0 ? -1 : 0;
    }
    char *old_id = req->job_id;
    int64_t old_nb = req->not_before;
    req->job_id = id;
    int64_t due = now_ms / 1000 + (int64_t)brk_tpl_retry_gap_s(tpl);
    req->not_before = due > old_nb ? due : old_nb;
    size_t plen = pregon__send_request__get_packed_size(req);
    uint8_t *packed = malloc(plen ? plen : 1);
    rc = -1;
    if (packed) {
        pregon__send_request__pack(req, packed);
        Pregon__SendRequest *reqs[1] = {req};
        const void *payloads[1] = {packed};
        rl_admit_verdict_t v[1];
        memset(v, 0, sizeof v);
        brk_admission_run(cfg, redis, rules, reqs, payloads, &plen, 1, 0, now_ms, v);
        snprintf(detail, dl, "retry %s: %s %s", id, rl_vcode_name(v[0].code),
                 v[0].reason[0] ? v[0].reason : "");
        rc = 1;
    }
    free(packed);
    req->job_id = old_id;
    req->not_before = old_nb;
    pregon__send_request__free_unpacked(req, NULL);
    return rc;
}

/* fuzz_frontend.c — what pregond's frontend does with a frame before Redis sees it: protobuf-c
 * unpack of a SubmitBatch (brk_front), then each job through brk_submit_prepare (field
 * validation, policy and zone resolution, template check and render) against the shipped
 * policies and templates (deploy/).
 *
 * Properties beyond "no crash": a verdict's job id and batch id are echoed only when UTF-8
 * (brk_validate.h); a rejected job has a reason of at most BRK_LIM_REASON bytes under rule
 * "job.fields" or "job.template"; an admissible job's identifiers and contact pass their
 * validators, and its payload (what pregond stores) unpacks, as dispatch will unpack it. Redis
 * (rl_admit) is not reached: it only stores what passed here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_submit.h"
#include "brk_template.h"
#include "brk_validate.h"
#include "fz_lib.h"
#include "rl_policyset.h"

#define S_MAX_JOBS 64 /* the shipped max_batch is larger; 64 keeps a run fast */

static rl_policyset_t *s_policies;
static brk_tpl_catalog_t *s_templates;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[4096];
    s_policies = rl_policyset_load(fz_source_path("deploy/policies"), err, sizeof err);
    if (!s_policies)
        fz_fail(err);
    s_templates = brk_tpl_load(fz_source_path("deploy/templates.yaml"), err, sizeof err);
    if (!s_templates)
        fz_fail(err);
    return 0;
}

static void s_job(const Pregon__SendRequest *req) {
    size_t len = pregon__send_request__get_packed_size(req);
    void *payload = malloc(len ? len : 1);
    if (!payload)
        abort();
    pregon__send_request__pack(req, payload);
    rl_admit_job_t out;
    memset(&out, 0, sizeof out);
    brk_submit_prepare(s_policies, s_templates, req, payload, len, 0.0, 0, &out);
    if (getenv("FZ_VERBOSE")) /* when replaying an input: what admission said */
        fprintf(stderr, "job %s: %s\n", req->job_id, out.reject_reason ? out.reject_reason : "ok");
    if (out.reject_reason) {
        if (strlen(out.reject_reason) > BRK_LIM_REASON)
            fz_fail("reason past BRK_LIM_REASON");
        if (!out.reject_rule ||
            (strcmp(out.reject_rule, "job.fields") && strcmp(out.reject_rule, "job.template")))
            fz_fail("rejected without its rule");
    } else {
        if (brk_val_job_id(req->job_id) || brk_val_tenant(req->tenant) ||
            brk_val_debtor(req->debtor_id) || brk_val_contact(req->channel, req->contact))
            fz_fail("admissible job with a bad identifier or contact");
        Pregon__SendRequest *back = pregon__send_request__unpack(NULL, len, payload);
        if (!back)
            fz_fail("an admissible job whose stored payload does not unpack");
        pregon__send_request__free_unpacked(back, NULL);
    }
    /* what brk_front echoes */
    if (!brk_val_job_id(req->job_id) && !brk_val_utf8(req->job_id, strlen(req->job_id)))
        fz_fail("a valid job id that is not UTF-8");
    free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Pregon__SubmitBatch *batch = pregon__submit_batch__unpack(NULL, size, data);
    if (!batch)
        return 0;
    (void)brk_val_utf8(batch->batch_id, strlen(batch->batch_id));
    for (size_t i = 0; i < batch->n_jobs && i < S_MAX_JOBS; i++)
        s_job(batch->jobs[i]);
    pregon__submit_batch__free_unpacked(batch, NULL);
    return 0;
}

/* brk_submit.h — turns a SendRequest into an admission job: field validation, policy and zone
 * resolution, template check. Invalid jobs become admission jobs with reject_rule/reason set, so
 * they are audited and answered REJECTED like any other decision, never stored. */
#ifndef BRK_SUBMIT_H
#define BRK_SUBMIT_H

#include <stddef.h>

#include "brk_template.h"
#include "pregon.pb-c.h"
#include "rl_admit.h"
#include "rl_policyset.h"

/* Fills *out from req (whose strings it borrows: req must outlive the admission). `payload` /
 * `payload_len` are the serialized request stored with the job (borrowed too). Always succeeds;
 * an invalid job comes back with out->reject_rule = "job.fields" or "job.template" and
 * out->reject_reason set to a stable reason code. */
void brk_submit_prepare(const rl_policyset_t *policies, const brk_tpl_catalog_t *templates,
                        const Pregon__SendRequest *req, const void *payload, size_t payload_len,
                        double queue_score, int readmit, rl_admit_job_t *out);

#endif

/* brk_submit.h — turns a SendRequest into an admission job: field validation, policy and zone
 * resolution, template check. Invalid jobs become admission jobs with reject_rule/reason set, so
 * they are audited and answered REJECTED like any other decision, never stored. */
#ifndef BRK_SUBMIT_H
#define BRK_SUBMIT_H

#include <stddef.h>

#include "brk_limits.h"
#include "brk_template.h"
#include "pregon.pb-c.h"
#include "rl_admit.h"
#include "rl_policyset.h"

/* Fills *out from req (whose strings it borrows: req must outlive the admission). `payload` /
 * `payload_len` are the serialized request stored with the job (borrowed too); payload_len must
 * be its packed size, unknown fields included, as pregon__send_request__get_packed_size says.
 * Always succeeds; an invalid job comes back with out->reject_rule = "job.fields" or
 * "job.template" and out->reject_reason set to a stable reason code (at most BRK_LIM_REASON
 * bytes). The first failing check decides, in this order:
 *
 *   identity, keys are built from it (brk_validate.h)     bad-job-id, bad-tenant, bad-debtor
 *   fallback_of given by a submitter (pregond's own)      fallback-of-given
 *   every limit of brk_limits.h, in field-number order:
 *     campaign                                           campaign-too-long, campaign-not-utf8
 *     template_id                                        template-id-too-long,
 *                                                        template-id-not-utf8
 *     variables (entries, then each key and value:      variables-too-many,
 *       brk_val_variables, which also checks their      variables-key-too-long,
 *       form)                                            variables-value-too-long,
 *                                                        variables-not-utf8, bad-variables
 *     jurisdiction                                       jurisdiction-too-long,
 *                                                        jurisdiction-not-utf8
 *     time_zone                                          time-zone-too-long, time-zone-not-utf8
 *     alt_time_zones (entries, then each one)            alt-zones-too-many, alt-zones-too-long,
 *                                                        alt-zones-not-utf8
 *     fallback_channels (entries, then each one is a     fallback-too-many, bad-fallback
 *       channel of pregon.proto)
 *     fallback_contacts (entries; each key a channel's   fallback-contacts-too-many,
 *       name, its value a contact point of that channel)  bad-fallback-contact
 *     fallback_templates (entries; each key a channel's  fallback-templates-too-many,
 *       name, its value at most BRK_LIM_TEMPLATE_ID)      bad-fallback-template
 *     segment.currency, .debtor_type, .product           segment-currency-too-long,
 *                                                        segment-currency-not-utf8,
 *                                                        segment-debtor-type-too-long,
 *                                                        segment-debtor-type-not-utf8,
 *                                                        segment-product-too-long,
 *                                                        segment-product-not-utf8
 *     preferred_window                                   preferred-window-too-long,
 *                                                        preferred-window-not-utf8
 *     sender                                             sender-too-long, sender-not-utf8
 *   debt id and contact point (brk_validate.h)           bad-debt, bad-phone, bad-email,
 *                                                        bad-psid, bad-channel
 *   the whole job past BRK_LIM_JOB_BYTES (only unknown
 *     fields can take it there once every field fits)    job-too-large
 *   an unknown field numbered 0 or past 2^29 - 1, in the
 *     job or a sub-message (brk_val_repackable)           bad-field-number
 *   policy, zones, channel, role, window (rl_policyset)  unknown-policy, bad-timezone,
 *                                                        bad-channel, bad-role, bad-window
 *   template (rule "job.template", brk_template.h)       template-unknown, template-channel,
 *     checked, then rendered for the job's channel       template-variables, template-too-long,
 *     (brk_tpl_render_content lists every reason)        template-subject-too-long,
 *                                                        template-param-invalid, ...
 *   then (not a check of the job's fields: of the debtor's service window, in the script)
 *     a windowed job (brk_submit_windowed) outside it     window-closed (rule whatsapp.window,
 *                                                        messenger.window)
 * All of these have rule "job.fields" except the last two groups. Every string a job carries is
 * then within its limit and well-formed UTF-8 (identifiers and contact points are ASCII), and its
 * Dispatch fits the worker's frame limit (brk_limits.h). */
/* Where a job comes from (brk_submit_prepare's `readmit`): a submitter (NEW: fallback_of is
 * refused), a deferred job coming due (READMIT), or pregond's own fallback (FALLBACK: new to
 * admission, fallback_of set by brk_fallback). */
enum { BRK_SUBMIT_NEW = 0, BRK_SUBMIT_READMIT = 1, BRK_SUBMIT_FALLBACK = 2 };
void brk_submit_prepare(const rl_policyset_t *policies, const brk_tpl_catalog_t *templates,
                        const Pregon__SendRequest *req, const void *payload, size_t payload_len,
                        double queue_score, int readmit, rl_admit_job_t *out);

/* 1 when a job of template tpl on `channel` (pregon.proto numbering) may be sent only inside the
 * debtor's 24-hour service window: every Messenger job, and a WhatsApp job whose template names
 * no approved WhatsApp template (brk_tpl_whatsapp_name NULL: the content is free-form text).
 * Such a job is REJECTED rule "whatsapp.window" / "messenger.window", reason "window-closed", at
 * admission unless a message from the debtor opened the window (brk_inbound), and re-checked at
 * dispatch (pg_lease; Dispatch.window_until_ms tells the worker when it closes). 0 otherwise. */
int brk_submit_windowed(const brk_tpl_t *tpl, int channel);

#endif

/* wa_cloud.h — the WhatsApp Cloud API driver of pregon-whatsapp.
 *
 * Builds POST {base_url}/{version}/{phone-number-id}/messages (Bearer token, JSON) for a
 * Dispatch: a template message from WhatsAppTemplate content (name, language, header, body and
 * URL-button parameters, biz_opaque_callback_data carrying the job reference
 * wa_cloud_job_ref), or a free-form text message from TextContent, or from WhatsAppTemplate.text
 * when pregond dispatched the job inside the debtor's 24-hour window (Dispatch.window_until_ms
 * set); a job whose window closed before sending is SKIPPED "window-closed". It classifies the
 * Graph API's answer into a worker outcome (the error classes of shared/PROVIDERS.md; see
 * wa_cloud_classify), keeps the templates Meta called misconfigured (132000/132001: later jobs
 * of that template FAILED "template-halted" without a request, the channel keeps going) and
 * counts quality stops per template (131049, 131048). Jobs are shaped per business number and
 * recipient (chw_shape_key_pair, the pair rate) within a group per business number (its
 * throughput). Single-threaded like the worker's loop; never logs, never exposes the token. */
#ifndef WA_CLOUD_H
#define WA_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chw_worker.h"

typedef struct wa_cloud wa_cloud_t;

/* Wall clock in ms since the epoch (injected for tests; NULL = CLOCK_REALTIME). */
typedef int64_t (*wa_clock_fn)(void *ctx);

typedef struct {
    const char *base_url;        /* e.g. "https://graph.facebook.com" (no trailing path) */
    const char *api_version;     /* e.g. "v21.0" */
    const char *phone_number_id; /* the default business number (job.sender wins) */
    const char *token;           /* secret: copied, wiped on destroy */
    double throughput;           /* messages/s per business number; 0 = unlimited */
    int64_t pair_interval_ms;    /* a 131056 (pair rate) is retried after this */
    wa_clock_fn clock;           /* NULL = CLOCK_REALTIME */
    void *clock_ctx;
} wa_cloud_config_t;

/* New driver state; NULL on allocation failure or a missing base URL, version, phone number id
 * or token. */
wa_cloud_t *wa_cloud_new(const wa_cloud_config_t *config);
/* Frees it (wiping the token); accepts NULL; nulls the caller's pointer. */
void wa_cloud_destroy(wa_cloud_t **self_p);
/* The default phone number id `self` sends as (borrowed). */
const char *wa_cloud_phone_number_id(const wa_cloud_t *self);
/* The runtime driver backed by `self` (which must outlive the worker). */
chw_driver_t wa_cloud_driver(wa_cloud_t *self);

/* Room for a job reference: "pg1 " + tenant, debtor id and job id separated by spaces. */
#define WA_JOB_REF_MAX 512

/* Writes the job reference given to Meta as biz_opaque_callback_data (and echoed in its status
 * webhooks): "pg1 TENANT DEBTOR JOB" (identifiers never hold a space). Returns 0, or -1 when it
 * does not fit in out_len bytes. */
int wa_cloud_job_ref(const char *tenant, const char *debtor, const char *job, char *out,
                     size_t out_len);

/* Reads a job reference back into the three buffers (each of len bytes). Returns 0, or -1 when
 * ref is not one. */
int wa_cloud_job_ref_parse(const char *ref, char *tenant, char *debtor, char *job, size_t len);

/* The JSON body for dispatch `d` at now_ms, malloc'd (the caller frees), and in *template_name
 * (when not NULL) the template it sends ("" for free-form text; borrowed from d). Returns NULL
 * with `err` filled (FAILED "content-not-whatsapp", "no contact", "no template name",
 * SKIPPED "window-closed", RETRY out of memory) when the job cannot be sent. */
char *wa_cloud_request_json(const Pregon__Dispatch *d, int64_t now_ms, const char **template_name,
                            chw_result_t *err);

/* Classifies the Graph API's answer for a job of `template_name` ("" = free-form):
 *   2xx -> SENT (provider_id = messages[0].id);
 *   130429 throughput, 80007 and 4 app/account rate, 131000, 131016, 1, 2, 429, 5xx -> RETRY
 *     (the Retry-After honoured);
 *   131056 pair rate -> RETRY no earlier than the pair interval;
 *   131047 re-engagement (outside the 24-hour window) -> FAILED "needs-template";
 *   131026 undeliverable -> FAILED, CHW_RESULT_FALLBACK;
 *   131049 per-user marketing limit, 131048 spam rate limit -> FAILED, counted for the template
 *     (the detail says how many so far);
 *   132000 parameter count, 132001 template missing -> FAILED "template-misconfigured" and the
 *     template halted (wa_cloud_template_halted);
 *   190 token, 10 permission, 368 policy block, HTTP 401 -> CONFIG_ERROR (the channel halts);
 *   any other 4xx -> FAILED; anything else -> UNKNOWN.
 * provider_code is Meta's error code when the body has one. */
void wa_cloud_classify(wa_cloud_t *self, const char *template_name, long status, const char *body,
                       size_t body_len, int64_t retry_after_s, chw_result_t *out);

/* True when jobs of template `name` are refused without a request (a 132000/132001). */
bool wa_cloud_template_halted(const wa_cloud_t *self, const char *name);

/* How many 131049 (marketing limit) and 131048 (spam rate) answers template `name` had. */
void wa_cloud_template_quality(const wa_cloud_t *self, const char *name, uint64_t *n_131049,
                               uint64_t *n_131048);

/* What an operator should do about a CONFIG_ERROR that halted the channel: one static sentence
 * ending in "and restart". */
const char *wa_cloud_halt_hint(const chw_result_t *result);

/* The phone number id masked for logs: "…1234". */
void wa_cloud_mask_id(const char *id, char *out, size_t out_len);

#endif

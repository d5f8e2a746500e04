/* chw_driver.h — what a channel's provider code gives the worker runtime: the driver.
 *
 * A driver turns one Dispatch into one HTTP request (prepare), reads the provider's answer into
 * an outcome (classify), frees what it kept for the job (release) and names the bucket the job
 * is rate-shaped in (shape_key). Everything else (credit, heartbeats, the re-check, retries,
 * timeouts, the stop handshake) is the runtime's (chw_worker.h); flags, credentials, signals
 * and logs are chw_main's (chw_main.h). No code here beyond the two stock shaping keys. */
#ifndef CHW_DRIVER_H
#define CHW_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "pregon.pb-c.h"
#include "chw_retry.h"

/* What the provider said about one finished transfer; borrowed for the classify call only. */
typedef struct {
    long status;      /* HTTP status code */
    const char *body; /* NUL-terminated; truncated past CHW_BODY_MAX bytes */
    size_t body_len;
    int64_t retry_after_s; /* Retry-After header in seconds (CURLINFO_RETRY_AFTER); -1 if none */
    /* The transfer's CURLcode (CURLE_OK for a complete answer) and curl's error text ("" if
     * none): a protocol whose status is the last reply of a dialogue (SMTP: CURLINFO_RESPONSE_CODE
     * is the last reply code, which may be an intermediate 250 or 354 when the transfer failed
     * later) needs both to tell an answer from a cut dialogue. */
    int curl_code;
    const char *errmsg;
} chw_response_t;

#define CHW_BODY_MAX (64 * 1024)

/* Room a shape_key function gets for its key, NUL included. */
#define CHW_SHAPE_KEY_MAX 512

/* A channel's driver. `ctx` is the driver's own state (shared by every job, read-only or the
 * driver's to guard), passed back to every call. A job's life as the driver sees it:
 *
 *   shape_key (when the Dispatch arrives) -> prepare (when its bucket gives it a token and the
 *   re-check passed) -> classify (when an HTTP answer came) -> release (always, once).
 *
 * Per-job state: prepare may set *job_state to memory of its own (a request body handed to
 * curl with CURLOPT_POSTFIELDS, an upload cursor for CURLOPT_READFUNCTION, ...); classify gets
 * it back. release is called exactly once for every job that took a slot in the worker, at
 * the job's one exit (its report: SENT, FAILED, RETRY, UNKNOWN, SKIPPED, CONFIG_ERROR or
 * HANDED_BACK, whether after an answer, a transport error, a timeout, a cut at the drain
 * timeout, a halt or a stop), or when the worker is destroyed while it still holds the job.
 * *job_state is NULL when prepare never ran (a job handed back from its queue, an expired one)
 * or did not set it. After release the transfer is over: curl no longer reads that memory. */
typedef struct {
    /* Configures `easy` for `dispatch` (URL, method, body, auth). `easy` has been reset and
     * given the runtime's options (private pointer, write callback, timeouts, error buffer,
     * open/close socket callbacks: leave those alone). Memory given to curl must live until
     * release: CURLOPT_COPYPOSTFIELDS, the driver's ctx, or *job_state. Returns 0, or -1 after
     * filling `err` (FAILED, RETRY or CONFIG_ERROR) when the job cannot be sent; release still
     * follows, with whatever *job_state was set to. A Dispatch whose content is not of the
     * driver's type is FAILED "content-not-<type>" here. A RETRY with CHW_RESULT_HAND_BACK in
     * err->flags is a job the driver will not try now (a daily volume spent, a receiving
     * domain backing off): it is handed back, not an attempt, due err->min_retry_ms from now. */
    int (*prepare)(void *ctx, CURL *easy, const Pregon__Dispatch *dispatch, void **job_state,
                   chw_result_t *err);
    /* Classifies an HTTP answer into `out` (cleared). Called only when the transfer completed;
     * transport failures are classified by the runtime (chw_transport_classify). */
    void (*classify)(void *ctx, void *job_state, const Pregon__Dispatch *dispatch,
                     const chw_response_t *response, chw_result_t *out);
    /* Frees job_state (may be NULL). `result` is the job's final outcome, as reported (outcome
     * CHW_OUTCOME_NONE when the worker is destroyed holding the job). NULL = nothing to free. */
    void (*release)(void *ctx, void *job_state, const Pregon__Dispatch *dispatch,
                    const chw_result_t *result);
    /* Writes the key of the token bucket `dispatch` is shaped in into buf (len is
     * CHW_SHAPE_KEY_MAX) and returns it (or another string that lives until the call returns).
     * Jobs with one key share the worker's rate and burst; different keys never wait for each
     * other. NULL = chw_shape_key_sender. */
    const char *(*shape_key)(void *ctx, const Pregon__Dispatch *dispatch, char *buf, size_t len);
    /* Called once at the job's exit, before release, with its final result (never for a
     * hand-back): how many ms the job's slot stays taken after its report (a voice call holds
     * a line until it ends, long after Calls.json answered). While held, the slot is neither
     * offered as credit nor counted as a job in flight (a stop does not wait for it). 0 = free
     * at once. NULL = never hold. */
    int64_t (*hold_ms)(void *ctx, void *job_state, const Pregon__Dispatch *dispatch,
                       const chw_result_t *result);
    void *ctx;
    /* Optional second level of shaping: the group `dispatch`'s shaping key belongs to, written
     * as shape_key writes its key (WhatsApp: the business phone number, whose throughput is
     * limited across all its pairs). A job starts only when its key's bucket and its group's
     * have a token; every group gets group_rate msg/s and group_burst (0 = max(1, rate)).
     * NULL, or group_rate <= 0 = no groups. */
    const char *(*shape_group)(void *ctx, const Pregon__Dispatch *dispatch, char *buf, size_t len);
    double group_rate, group_burst;
} chw_driver_t;

/* Shaping key: the job's sender (job.sender; "" is the worker's default sender). SMS: a long
 * code or a messaging service has its own throughput. */
const char *chw_shape_key_sender(void *ctx, const Pregon__Dispatch *dispatch, char *buf,
                                 size_t len);

/* Shaping key: the job's sender and recipient together, unambiguously ("<len>:<sender>/<to>"),
 * for providers that limit a pair (WhatsApp Cloud: about one message per 6 s from one business
 * number to one user). A pair too long for buf is cut: two such pairs may share a bucket
 * (shaping gets stricter, never looser). */
const char *chw_shape_key_pair(void *ctx, const Pregon__Dispatch *dispatch, char *buf, size_t len);

#endif

/* msg_send.h — the Messenger Send API driver of pregon-messenger.
 *
 * Builds POST {base_url}/{version}/{page}/messages (page = the job's sender, else --page-id,
 * else "me": the page of the token) with the page access token in an Authorization: Bearer
 * header (never in the URL: URLs reach proxies' logs) and the JSON body
 *     {"recipient":{"id":PSID},"messaging_type":"RESPONSE","message":{"text":TEXT}}
 * for a Dispatch whose content is text (anything else is FAILED "content-not-text"), and
 * classifies the Graph API's answer (shared/PROVIDERS.md, Messenger) into a worker outcome.
 * Automated collection reminders may go out only inside the 24-hour standard messaging window
 * (the ACCOUNT_UPDATE tag excludes "bill is due"), so every message is a RESPONSE and, just
 * before the request, a Dispatch whose window_until_ms has passed is SKIPPED "window-closed"
 * without a request (pregond then admits it again, and its admission refuses it
 * messenger.window). The pure parts (body, classification) are public for the unit tests; the
 * runtime sees only the driver. The clock is injected. Never logs, never exposes the token. */
#ifndef MSG_SEND_H
#define MSG_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "chw_worker.h"

typedef struct msg_send msg_send_t;

/* Wall clock in ms since the epoch; ctx is the config's clock_ctx. */
typedef int64_t (*msg_clock_fn)(void *ctx);

typedef struct {
    const char *base_url;    /* "https://graph.facebook.com" (no trailing path) */
    const char *version;     /* Graph API version, "v19.0" */
    const char *page_id;     /* default page for jobs without a sender; NULL/"" = "me" */
    const char *page_token;  /* secret: copied, wiped on destroy */
    int64_t rate_backoff_ms; /* least delay before retrying after 4/613 (rate limited) when the
                                answer has no Retry-After; 0 = 60000 */
    msg_clock_fn clock;      /* NULL = CLOCK_REALTIME */
    void *clock_ctx;
} msg_send_config_t;

/* New driver state; NULL on allocation failure or missing base_url/version/page_token. */
msg_send_t *msg_send_new(const msg_send_config_t *config);
/* Frees it (wiping the token); accepts NULL; nulls the caller's pointer. */
void msg_send_destroy(msg_send_t **self_p);
/* The default page `self` sends as ("me" when none was given; borrowed from it). */
const char *msg_send_page(const msg_send_t *self);
/* The runtime driver backed by `self` (which must outlive the worker). Shaping key: the job's
 * sender (its page: the Send API's limit is per page). */
chw_driver_t msg_send_driver(msg_send_t *self);

/* The JSON request body for psid and text: a malloc'd string the caller frees, NULL when out
 * of memory or when text is not UTF-8. */
char *msg_send_body(const char *psid, const char *text);

/* Classifies the Graph API's answer (the error body is {"error":{"message","type","code",
 * "error_subcode","fbtrace_id"}}):
 *   2xx with "message_id" -> SENT (provider_id = message_id; none: SENT with a detail);
 *   190 (token invalid or expired) -> CONFIG_ERROR: halts the channel;
 *   10 (2018278 and the other window subcodes: outside the 24 h window) -> FAILED;
 *   551 (1545041: the person is unavailable) -> FAILED, CHW_RESULT_FALLBACK;
 *   100/2018001 (no matching user) and any other 100 -> FAILED;
 *   1200, 2, 1 (temporary) -> RETRY;
 *   4, 613, 32, 17 (rate limited) -> RETRY, min_retry_ms = Retry-After, else rate_backoff_ms;
 *   HTTP 429 or 5xx without a known code -> RETRY; other 4xx -> FAILED;
 *   anything else (1xx, 3xx) -> UNKNOWN.
 * provider_code is "CODE" or "CODE/SUBCODE". rate_backoff_ms 0 = 60000. */
void msg_send_classify(long status, const char *body, size_t body_len, int64_t retry_after_s,
                       int64_t rate_backoff_ms, chw_result_t *out);

/* What an operator should do about a CONFIG_ERROR that halted the channel: one static
 * sentence ending in "and restart". */
const char *msg_send_halt_hint(const chw_result_t *result);

#endif

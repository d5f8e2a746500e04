/* chw_retry.h — outcomes of one send attempt and when to try again.
 *
 * Pure logic shared by every channel worker: the result a driver fills in, the exponential
 * backoff with full jitter that honours the provider's Retry-After, and the classification of
 * transport failures (no HTTP answer) into RETRY or UNKNOWN. No I/O, no allocation, no clock:
 * callers pass the time and the random numbers, so the unit tests can pin them. */
#ifndef CHW_RETRY_H
#define CHW_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcomes, numbered as pregon.proto's DeliveryReport.Outcome. */
typedef enum {
    CHW_OUTCOME_NONE = 0,
    CHW_SENT = 1,
    CHW_FAILED = 3,
    CHW_RETRY = 4,
    CHW_UNKNOWN = 5,
    CHW_CONFIG_ERROR = 6,
    CHW_SKIPPED = 7,
} chw_outcome_t;

/* "SENT", "FAILED", ...; "NONE" for anything else. */
const char *chw_outcome_name(chw_outcome_t outcome);

#define CHW_PROVIDER_ID_MAX   72
#define CHW_PROVIDER_CODE_MAX 24
#define CHW_DETAIL_MAX        256

/* What a driver (or the runtime) concluded about one attempt. */
typedef struct {
    chw_outcome_t outcome;
    char provider_id[CHW_PROVIDER_ID_MAX];     /* e.g. Twilio "SM..." sid; "" if none */
    char provider_code[CHW_PROVIDER_CODE_MAX]; /* e.g. "21211"; "" if none */
    char detail[CHW_DETAIL_MAX];               /* short human text, never a credential */
    int64_t min_retry_ms; /* RETRY: earliest delay the provider asked for (0 = none) */
    unsigned flags;       /* CHW_RESULT_* bits: FALLBACK, SUPPRESS with FAILED; HAND_BACK
                             with RETRY from a driver's prepare */
} chw_result_t;

/* FAILED: the contact point cannot take this channel (WhatsApp 131026, Messenger 551, SMS
 * landline, e-mail hard bounce): the job's fallback channels may take over
 * (DeliveryReport.fallback_eligible). */
#define CHW_RESULT_FALLBACK 0x1u
/* FAILED: the contact point is dead for this channel (hard bounce, invalid number): pregond
 * suppresses it for the tenant (DeliveryReport.suppress_contact). */
#define CHW_RESULT_SUPPRESS 0x2u
/* RETRY from a driver's prepare: the job was not tried (the driver holds it back: a daily
 * volume spent, a receiving domain backing off): report HANDED_BACK (not an attempt) with
 * retry_at = now + min_retry_ms. */
#define CHW_RESULT_HAND_BACK 0x4u

/* Clears `out` and sets its outcome and detail (printf-style). Returns `out`. */
chw_result_t *chw_result_set(chw_result_t *out, chw_outcome_t outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Backoff before attempt `attempt + 1`, in ms, with full jitter:
 *   ceiling = min(cap_ms, base_ms * 2^(attempt - 1)); delay = rnd mod (ceiling + 1)
 * and never less than `retry_after_ms` (the provider's Retry-After; 0 = none), even past the
 * cap. attempt 0 is read as 1. `rnd` is a uniformly random 64-bit number (chw_rand_next). */
int64_t chw_backoff_ms(uint32_t attempt, int64_t base_ms, int64_t cap_ms, int64_t retry_after_ms,
                       uint64_t rnd);

/* xorshift64*: next pseudo-random number of the generator whose state is *state (never 0). */
uint64_t chw_rand_next(uint64_t *state);

/* Classifies a transfer that ended without an HTTP answer. `curl_code` is the CURLcode (an int
 * here so this stays free of curl.h), `request_sent` whether any byte of the request went out
 * (CURLINFO_REQUEST_SIZE > 0), `errmsg` curl's error buffer (may be NULL or "").
 *   nothing sent (refused, DNS, connect timeout, TLS handshake) -> RETRY
 *   request sent but no complete answer (timeout, reset, empty reply) -> UNKNOWN
 *   malformed URL / unsupported protocol -> CONFIG_ERROR (the base URL is wrong) */
void chw_transport_classify(int curl_code, bool request_sent, const char *errmsg,
                            chw_result_t *out);

#endif

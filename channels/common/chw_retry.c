/* chw_retry.c — outcome names, backoff with full jitter, transport-failure classes.
 *
 * See chw_retry.h. Kept free of the clock and of global state so it can be unit-tested. */
#include "chw_retry.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *chw_outcome_name(chw_outcome_t outcome) {
    switch (outcome) {
        case CHW_SENT:
            return "SENT";
        case CHW_FAILED:
            return "FAILED";
        case CHW_RETRY:
            return "RETRY";
        case CHW_UNKNOWN:
            return "UNKNOWN";
        case CHW_CONFIG_ERROR:
            return "CONFIG_ERROR";
        case CHW_SKIPPED:
            return "SKIPPED";
        default:
            return "NONE";
    }
}

chw_result_t *chw_result_set(chw_result_t *out, chw_outcome_t outcome, const char *fmt, ...) {
    memset(out, 0, sizeof *out);
    out->outcome = outcome;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->detail, sizeof out->detail, fmt, ap);
        va_end(ap);
    }
    return out;
}

int64_t chw_backoff_ms(uint32_t attempt, int64_t base_ms, int64_t cap_ms, int64_t retry_after_ms,
                       uint64_t rnd) {
    if (attempt == 0)
        attempt = 1;
    if (base_ms < 1)
        base_ms = 1;
    if (cap_ms < base_ms)
        cap_ms = base_ms;
    int64_t ceiling = base_ms;
    for (uint32_t i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    int64_t delay = (int64_t)(rnd % (uint64_t)(ceiling + 1));
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    return delay;
}

uint64_t chw_rand_next(uint64_t *state) {
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void chw_transport_classify(int curl_code, bool request_sent, const char *errmsg,
                            chw_result_t *out) {
    const char *why = (errmsg && *errmsg) ? errmsg : curl_easy_strerror((CURLcode)curl_code);
    switch (curl_code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            chw_result_set(out, CHW_CONFIG_ERROR, "bad provider URL: %s", why);
            return;
        default:
            break;
    }
    if (!request_sent)
        chw_result_set(out, CHW_RETRY, "not sent: %s", why);
    else
        chw_result_set(out, CHW_UNKNOWN, "no answer after sending: %s", why);
}

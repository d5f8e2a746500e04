/* msg_main.c — pregon-messenger: the Messenger channel worker, declared as its Send API driver.
 *
 * Everything a worker process does beyond the Send API (flags common to every worker,
 * credentials, signals, the quiet-hours re-check before sending, logs, exit codes) is
 * chw_main's (channels/common). This file only declares what pregon-messenger adds: its
 * options, how they become a Send API driver, how it names its page in a log line and what to
 * fix when the Graph API halts the channel. The page access token comes from
 * --page-token-file or MESSENGER_PAGE_TOKEN, never from a flag, and is never logged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "chw_main.h"
#include "msg_send.h"

static const chw_option_t s_options[] = {
    {"base-url", "URL", "Graph API base", NULL, "https://graph.facebook.com", 0},
    {"graph-version", "VERSION", "Graph API version in the path", "MESSENGER_GRAPH_VERSION",
     "v19.0", 0},
    {"page-id", "ID", "default page for jobs without a sender (else \"me\": the token's page)",
     "MESSENGER_PAGE_ID", NULL, 0},
    {"page-token", NULL, "Messenger page access token", "MESSENGER_PAGE_TOKEN", NULL,
     CHW_OPT_REQUIRED | CHW_OPT_SECRET},
    {"rate-limit-backoff-ms", "MS",
     "least wait before retrying a job the Graph API rate-limited (4, 613) without Retry-After",
     NULL, "60000", 0},
    {"test-clock-offset-s", "S",
     "tests only: the window re-check reads a clock S seconds ahead (pregond's "
     "test.clock_offset_s, on the worker's side)",
     NULL, "0", 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

static int64_t s_clock_offset_ms;

/* The window re-check's clock: the wall clock, shifted by --test-clock-offset-s. */
static int64_t s_clock(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + s_clock_offset_ms;
}

static int s_open(const chw_opts_t *opts, chw_driver_t *driver, char *err, size_t err_len) {
    const char *backoff = chw_opts_get(opts, "rate-limit-backoff-ms");
    char *end = NULL;
    long long ms = backoff ? strtoll(backoff, &end, 10) : 0;
    if (backoff && (!*backoff || *end || ms < 1 || ms > 86400000)) {
        snprintf(err, err_len, "--rate-limit-backoff-ms wants 1..86400000");
        return -1;
    }
    const char *offset = chw_opts_get(opts, "test-clock-offset-s");
    long long off = offset ? strtoll(offset, &end, 10) : 0;
    if (offset && (!*offset || *end || off < -31622400 || off > 31622400)) {
        snprintf(err, err_len, "--test-clock-offset-s wants -31622400..31622400");
        return -1;
    }
    s_clock_offset_ms = off * 1000;
    msg_send_config_t c = {.base_url = chw_opts_get(opts, "base-url"),
                           .version = chw_opts_get(opts, "graph-version"),
                           .page_id = chw_opts_get(opts, "page-id"),
                           .page_token = chw_opts_get(opts, "page-token"),
                           .rate_backoff_ms = ms,
                           .clock = s_clock};
    msg_send_t *send = msg_send_new(&c);
    if (!send) {
        snprintf(err, err_len,
                 "cannot set up the Send API driver (base URL %.200s, version %.32s, page %.64s)",
                 c.base_url ? c.base_url : "", c.version ? c.version : "",
                 c.page_id ? c.page_id : "me");
        return -1;
    }
    *driver = msg_send_driver(send);
    return 0;
}

static void s_close(void *ctx) {
    msg_send_t *send = ctx;
    msg_send_destroy(&send);
}

static void s_identity(void *ctx, char *buf, size_t len) {
    snprintf(buf, len, "page %s", msg_send_page(ctx));
}

static const char *s_halt_hint(void *ctx, const chw_result_t *result) {
    (void)ctx;
    return msg_send_halt_hint(result);
}

static const chw_program_t messenger_program = {
    .program = "pregon-messenger",
    .id_prefix = "messenger",
    .channel = PREGON__CHANNEL__MESSENGER,
    .summary = "The Messenger channel worker: the Send API inside the 24-hour window, shaped per "
               "page.",
    .options = s_options,
    .rate = 300, /* the Send API's limit for text: 300 calls/s per page */
    .open = s_open,
    .close = s_close,
    .identity = s_identity,
    .halt_hint = s_halt_hint,
};

int main(int argc, char **argv) {
    return chw_main(argc, argv, &messenger_program);
}

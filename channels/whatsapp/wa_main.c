/* wa_main.c — pregon-whatsapp: the WhatsApp channel worker, declared as its Cloud API driver.
 *
 * Everything a worker process does beyond the Graph API (flags common to every worker,
 * credentials, signals, the re-check before sending, logs, exit codes) is chw_main's
 * (channels/common). This file declares what pregon-whatsapp adds: its options, how they become
 * a wa_cloud driver, how it names its number in a log line and what to fix when Meta halts the
 * channel. The access token comes from --token-file or WHATSAPP_TOKEN, never from a flag, and is
 * never logged. The shaping key is the pair (business number, recipient): --rate is per pair
 * (default 1/6 msg/s, Meta's ~1 message per 6 s to one user); --throughput limits each business
 * number across its pairs. */
#include <stdio.h>
#include <stdlib.h>

#include "chw_main.h"
#include "wa_cloud.h"

static const chw_option_t s_options[] = {
    {"base-url", "URL", "Graph API base", NULL, "https://graph.facebook.com", 0},
    {"api-version", "VERSION", "Graph API version", NULL, "v21.0", 0},
    {"phone-number-id", "ID", "business phone number id for jobs without a sender",
     "WHATSAPP_PHONE_NUMBER_ID", NULL, CHW_OPT_REQUIRED},
    {"token", NULL, "WhatsApp Cloud API access token", "WHATSAPP_TOKEN", NULL,
     CHW_OPT_REQUIRED | CHW_OPT_SECRET},
    {"throughput", "N", "messages/s per business phone number (Meta's default tier: 80)", NULL,
     "80", 0},
    {"pair-interval-ms", "MS", "a pair-rate refusal (131056) is retried after this", NULL, "6000",
     0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

static int s_open(const chw_opts_t *opts, chw_driver_t *driver, char *err, size_t err_len) {
    char *end;
    const char *tp = chw_opts_get(opts, "throughput");
    double throughput = strtod(tp, &end);
    if (end == tp || *end || !(throughput >= 0) || throughput > 1e6) {
        snprintf(err, err_len, "--throughput wants a number of messages/s in 0..1000000");
        return -1;
    }
    const char *pi = chw_opts_get(opts, "pair-interval-ms");
    long long pair_ms = strtoll(pi, &end, 10);
    if (end == pi || *end || pair_ms < 1 || pair_ms > 3600000) {
        snprintf(err, err_len, "--pair-interval-ms wants 1..3600000");
        return -1;
    }
    wa_cloud_config_t c = {.base_url = chw_opts_get(opts, "base-url"),
                           .api_version = chw_opts_get(opts, "api-version"),
                           .phone_number_id = chw_opts_get(opts, "phone-number-id"),
                           .token = chw_opts_get(opts, "token"),
                           .throughput = throughput,
                           .pair_interval_ms = pair_ms};
    wa_cloud_t *cloud = wa_cloud_new(&c);
    if (!cloud) {
        snprintf(err, err_len, "cannot set up the WhatsApp Cloud API driver (base URL %.200s)",
                 c.base_url ? c.base_url : "");
        return -1;
    }
    *driver = wa_cloud_driver(cloud);
    return 0;
}

static void s_close(void *ctx) {
    wa_cloud_t *cloud = ctx;
    wa_cloud_destroy(&cloud);
}

static void s_identity(void *ctx, char *buf, size_t len) {
    char masked[64];
    wa_cloud_mask_id(wa_cloud_phone_number_id(ctx), masked, sizeof masked);
    snprintf(buf, len, "phone number id %s", masked);
}

static const char *s_halt_hint(void *ctx, const chw_result_t *result) {
    (void)ctx;
    return wa_cloud_halt_hint(result);
}

static const chw_program_t wa_program = {
    .program = "pregon-whatsapp",
    .id_prefix = "whatsapp",
    .channel = PREGON__CHANNEL__WHATSAPP,
    .summary = "The WhatsApp channel worker: the WhatsApp Cloud API, shaped per pair (business "
               "number, recipient) and per business number.",
    .options = s_options,
    .rate = 1.0 / 6.0,
    .burst = 1,
    .open = s_open,
    .close = s_close,
    .identity = s_identity,
    .halt_hint = s_halt_hint,
};

int main(int argc, char **argv) {
    return chw_main(argc, argv, &wa_program);
}

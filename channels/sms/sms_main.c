/* sms_main.c — pregon-sms: the SMS channel worker, declared as its Twilio driver.
 *
 * Everything a worker process does beyond Twilio (flags common to every worker, credentials,
 * signals, the re-check before sending, logs, exit codes) is chw_main's (channels/common). This
 * file only declares what pregon-sms adds: its options, how they become a Twilio driver, how it
 * names its account in a log line and what to fix when Twilio halts the channel. The auth token
 * comes from --auth-token-file or TWILIO_AUTH_TOKEN, never from a flag, and is never logged. */
#include <stdio.h>

#include "chw_main.h"
#include "sms_twilio.h"

static const chw_option_t s_options[] = {
    {"base-url", "URL", "Twilio API base", NULL, "https://api.twilio.com", 0},
    {"account-sid", "SID", "Twilio account sid", "TWILIO_ACCOUNT_SID", NULL, CHW_OPT_REQUIRED},
    {"auth-token", NULL, "Twilio auth token", "TWILIO_AUTH_TOKEN", NULL,
     CHW_OPT_REQUIRED | CHW_OPT_SECRET},
    {"from", "NUMBER", "default From for jobs without a sender", NULL, NULL, 0},
    {"messaging-service-sid", "SID", "default MessagingServiceSid (wins over --from)", NULL, NULL,
     0},
    {"status-callback", "URL",
     "StatusCallback given to Twilio with every message (pregon-hooks: "
     "http://HOST:PORT/twilio/sms/status)",
     NULL, NULL, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

static int s_open(const chw_opts_t *opts, chw_driver_t *driver, char *err, size_t err_len) {
    sms_twilio_config_t tw = {.base_url = chw_opts_get(opts, "base-url"),
                              .account_sid = chw_opts_get(opts, "account-sid"),
                              .auth_token = chw_opts_get(opts, "auth-token"),
                              .from = chw_opts_get(opts, "from"),
                              .messaging_service_sid = chw_opts_get(opts, "messaging-service-sid"),
                              .status_callback = chw_opts_get(opts, "status-callback")};
    sms_twilio_t *twilio = sms_twilio_new(&tw);
    if (!twilio) {
        snprintf(err, err_len, "cannot set up the Twilio driver (base URL %.200s)",
                 tw.base_url ? tw.base_url : "");
        return -1;
    }
    *driver = sms_twilio_driver(twilio);
    return 0;
}

static void s_close(void *ctx) {
    sms_twilio_t *twilio = ctx;
    sms_twilio_destroy(&twilio);
}

static void s_identity(void *ctx, char *buf, size_t len) {
    char masked[64];
    sms_twilio_mask_sid(sms_twilio_account_sid(ctx), masked, sizeof masked);
    snprintf(buf, len, "account %s", masked);
}

static const char *s_halt_hint(void *ctx, const chw_result_t *result) {
    (void)ctx;
    return sms_twilio_halt_hint(result);
}

static const chw_program_t sms_program = {
    .program = "pregon-sms",
    .id_prefix = "sms",
    .channel = PREGON__CHANNEL__SMS,
    .summary = "The SMS channel worker: the Twilio Programmable Messaging API, shaped per sender.",
    .options = s_options,
    .open = s_open,
    .close = s_close,
    .identity = s_identity,
    .halt_hint = s_halt_hint,
};

int main(int argc, char **argv) {
    return chw_main(argc, argv, &sms_program);
}

/* vc_main.c — pregon-voice: the voice channel worker (automated calls with an IVR), declared as
 * its Twilio Calls driver.
 *
 * Everything a worker process does beyond Twilio is chw_main's (channels/common): flags common
 * to every worker, credentials, signals, the re-check before sending, logs, exit codes. Two of
 * the common flags are the channel's capacity limits: --concurrency N is the number of lines
 * (calls alive at once: a call keeps its slot until Twilio must have ended it, vc_twilio.h)
 * and --rate N is the account's calls per second (one shaping bucket for the whole worker).
 * The auth token and the URL key shared with pregon-hooks come from files or the environment,
 * never from a flag, and are never logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chw_main.h"
#include "sms_twilio.h"
#include "vc_twilio.h"

static const chw_option_t s_options[] = {
    {"base-url", "URL", "Twilio API base", NULL, "https://api.twilio.com", 0},
    {"account-sid", "SID", "Twilio account sid", "TWILIO_ACCOUNT_SID", NULL, CHW_OPT_REQUIRED},
    {"auth-token", NULL, "Twilio auth token", "TWILIO_AUTH_TOKEN", NULL,
     CHW_OPT_REQUIRED | CHW_OPT_SECRET},
    {"hooks-url", "URL",
     "pregon-hooks' public base URL (the TwiML, Gather and status routes are under "
     "/twilio/voice/)",
     "PREGON_HOOKS_URL", NULL, CHW_OPT_REQUIRED},
    {"url-key", NULL, "key signing the call URLs, shared with pregon-hooks (voice.url_key_file)",
     "PREGON_VOICE_URL_KEY", NULL, CHW_OPT_REQUIRED | CHW_OPT_SECRET},
    {"pools", "FILE", "caller-id pools (YAML); reloaded when it changes", NULL, NULL, 0},
    {"retired", "FILE",
     "retired caller ids (pregonctl voice numbers retire); default POOLS.retired; reloaded when "
     "it changes",
     NULL, NULL, 0},
    {"counts-state", "FILE",
     "calls per caller id today, kept across restarts (default $STATE_DIRECTORY/"
     "voice-counts.json with --pools, else in memory)",
     NULL, NULL, 0},
    {"from", "NUMBER", "caller id of jobs no pool covers and without a sender", NULL, NULL, 0},
    {"machine-detection", "MODE",
     "answering-machine detection when the pool says nothing: off, Enable, DetectMessageEnd", NULL,
     "DetectMessageEnd", 0},
    {"ring-timeout-s", "S", "seconds a call may ring (Calls.json Timeout)", NULL, "30", 0},
    {"max-call-s", "S", "longest call, transfers included (Calls.json TimeLimit)", NULL, "900", 0},
    {"line-slack-s", "S", "added to a line's hold (Twilio's queueing, clocks)", NULL, "15", 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

static unsigned s_uint(const char *s) {
    char *end;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    return s && *s && !*end && v < 100000 ? (unsigned)v : 0;
}

static int s_open(const chw_opts_t *opts, chw_driver_t *driver, char *err, size_t err_len) {
    vc_twilio_config_t c = {.base_url = chw_opts_get(opts, "base-url"),
                            .account_sid = chw_opts_get(opts, "account-sid"),
                            .auth_token = chw_opts_get(opts, "auth-token"),
                            .hooks_url = chw_opts_get(opts, "hooks-url"),
                            .url_key = chw_opts_get(opts, "url-key"),
                            .from = chw_opts_get(opts, "from"),
                            .pools = chw_opts_get(opts, "pools"),
                            .retired = chw_opts_get(opts, "retired"),
                            .machine_detection = chw_opts_get(opts, "machine-detection"),
                            .ring_timeout_s = s_uint(chw_opts_get(opts, "ring-timeout-s")),
                            .max_call_s = s_uint(chw_opts_get(opts, "max-call-s")),
                            .line_slack_s = s_uint(chw_opts_get(opts, "line-slack-s")),
                            .counts_state = chw_opts_get(opts, "counts-state")};
    char state[4096];
    const char *dir = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
    if (!c.counts_state && dir && *dir && c.pools) {
        snprintf(state, sizeof state, "%s/voice-counts.json", dir);
        c.counts_state = state;
    }
    vc_twilio_t *tw = vc_twilio_new(&c, err, err_len);
    if (!tw)
        return -1;
    *driver = vc_twilio_driver(tw);
    return 0;
}

static void s_close(void *ctx) {
    vc_twilio_t *tw = ctx;
    vc_twilio_destroy(&tw);
}

static void s_identity(void *ctx, char *buf, size_t len) {
    char masked[64];
    sms_twilio_mask_sid(vc_twilio_account_sid(ctx), masked, sizeof masked);
    snprintf(buf, len, "account %s, lines held %lld s each", masked,
             (long long)(vc_twilio_hold_ms(ctx) / 1000));
}

static const char *s_halt_hint(void *ctx, const chw_result_t *result) {
    (void)ctx;
    if (result && strstr(result->detail, "caller id"))
        return "fix the caller ids of the pool (or --from) and restart";
    return sms_twilio_halt_hint(result);
}

static const chw_program_t voice_program = {
    .program = "pregon-voice",
    .id_prefix = "voice",
    .channel = PREGON__CHANNEL__VOICE,
    .summary = "The voice channel worker: Twilio Calls with a TwiML IVR served by pregon-hooks; "
               "--concurrency is the lines, --rate the calls per second.",
    .options = s_options,
    .rate = 1,     /* Twilio's default account CPS */
    .burst = 1,    /* never two calls at once: a burst would pass the account's CPS */
    .queue_s = 10, /* jobs wait for the account's CPS in the worker up to ~10 s (leases: 30) */
    .open = s_open,
    .close = s_close,
    .identity = s_identity,
    .halt_hint = s_halt_hint,
};

int main(int argc, char **argv) {
    return chw_main(argc, argv, &voice_program);
}

/* email_main.c — pregon-email: the e-mail channel worker, declared as its SMTP driver.
 *
 * Everything a worker process does beyond SMTP (flags common to every worker, credentials,
 * signals, the re-check before sending, logs, exit codes) is chw_main's (channels/common). This
 * file only declares pregon-email's options and how they become an em_smtp driver. The SMTP
 * password and the unsubscribe key come from --NAME-file or the environment, never a flag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chw_main.h"
#include "em_smtp.h"

static const chw_option_t s_options[] = {
    {"smtp-url", "URL", "relay: smtp://HOST:587 (STARTTLS) or smtps://HOST:465", "PREGON_SMTP_URL",
     NULL, CHW_OPT_REQUIRED},
    {"tls", "MODE", "STARTTLS on smtp://: required (default), try, none", NULL, "required", 0},
    {"ca-file", "FILE", "CA certificates the relay's certificate is checked against", NULL, NULL,
     0},
    {"smtp-user", "USER", "AUTH user (no AUTH without one)", "SMTP_USER", NULL, 0},
    {"smtp-password", NULL, "AUTH password", "SMTP_PASSWORD", NULL, CHW_OPT_SECRET},
    {"from", "ADDRESS", "From address of jobs whose sender is no address", NULL, NULL, 0},
    {"from-name", "NAME", "display name of From (UTF-8)", NULL, NULL, 0},
    {"reply-to", "ADDRESS", "Reply-To", NULL, NULL, 0},
    {"bounce", "ADDRESS", "envelope sender (MAIL FROM; default: the From address)", NULL, NULL, 0},
    {"dkim", "DOMAIN=SEL:FILE,...", "DKIM keys (PEM, mode 0600) per From domain", NULL, NULL, 0},
    {"unsubscribe-url", "URL",
     "one-click unsubscribe base (pregon-hooks: https://HOST/u/); the token is appended", NULL,
     NULL, 0},
    {"unsubscribe-mailto", "ADDRESS", "the List-Unsubscribe mailto: address", NULL, NULL, 0},
    {"unsubscribe-key", NULL, "HMAC key of unsubscribe tokens (shared with pregon-hooks)",
     "PREGON_UNSUBSCRIBE_KEY", NULL, CHW_OPT_SECRET},
    {"warmup", "DOMAIN:YYYY-MM-DD,...", "sending domains warmed up from their start date", NULL,
     NULL, 0},
    {"warmup-initial", "N", "warm-up: messages on day 1 (doubling every day)", NULL, "200", 0},
    {"warmup-ceiling", "N", "warm-up: the daily ceiling (0 = none)", NULL, "100000", 0},
    {"warmup-state", "FILE",
     "warm-up counts (default $STATE_DIRECTORY/email-warmup.json, else in memory)", NULL, NULL, 0},
    {"domain-limits", "DOMAIN=PER_MIN/CONC,...",
     "per receiving domain: messages per minute and concurrency (\"*\" = any other)", NULL, NULL,
     0},
    {"domain-backoff-ms", "MS", "backoff of a receiving domain after its 421/451", NULL, "60000",
     0},
    {"domain-backoff-cap-ms", "MS", "the longest such backoff", NULL, "3600000", 0},
    {"clock-offset-s", "S", "tests: the driver's clock runs S seconds ahead", NULL, "0", 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

static int s_int(const chw_opts_t *opts, const char *name, int64_t *out, char *err,
                 size_t err_len) {
    const char *v = chw_opts_get(opts, name);
    char *end = NULL;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (v && (!*v || *end)) {
        snprintf(err, err_len, "--%s: \"%.40s\" is not a number", name, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int s_open(const chw_opts_t *opts, chw_driver_t *driver, char *err, size_t err_len) {
    em_smtp_config_t c = {.url = chw_opts_get(opts, "smtp-url"),
                          .tls = chw_opts_get(opts, "tls"),
                          .ca_file = chw_opts_get(opts, "ca-file"),
                          .user = chw_opts_get(opts, "smtp-user"),
                          .password = chw_opts_get(opts, "smtp-password"),
                          .from = chw_opts_get(opts, "from"),
                          .from_name = chw_opts_get(opts, "from-name"),
                          .reply_to = chw_opts_get(opts, "reply-to"),
                          .bounce = chw_opts_get(opts, "bounce"),
                          .dkim = chw_opts_get(opts, "dkim"),
                          .unsub_url = chw_opts_get(opts, "unsubscribe-url"),
                          .unsub_mailto = chw_opts_get(opts, "unsubscribe-mailto"),
                          .unsub_key = chw_opts_get(opts, "unsubscribe-key"),
                          .warmup = chw_opts_get(opts, "warmup"),
                          .domain_limits = chw_opts_get(opts, "domain-limits"),
                          .state_path = chw_opts_get(opts, "warmup-state")};
    if (s_int(opts, "warmup-initial", &c.warmup_initial, err, err_len) != 0 ||
        s_int(opts, "warmup-ceiling", &c.warmup_ceiling, err, err_len) != 0 ||
        s_int(opts, "domain-backoff-ms", &c.domain_backoff_ms, err, err_len) != 0 ||
        s_int(opts, "domain-backoff-cap-ms", &c.domain_backoff_cap_ms, err, err_len) != 0 ||
        s_int(opts, "clock-offset-s", &c.clock_offset_s, err, err_len) != 0)
        return -1;
    char state[4096];
    const char *dir = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
    if (!c.state_path && dir && *dir && c.warmup) {
        snprintf(state, sizeof state, "%s/email-warmup.json", dir);
        c.state_path = state;
    }
    em_smtp_t *smtp = em_smtp_new(&c, err, err_len);
    if (!smtp)
        return -1;
    *driver = em_smtp_driver(smtp);
    return 0;
}

static void s_close(void *ctx) {
    em_smtp_t *smtp = ctx;
    em_smtp_destroy(&smtp);
}

static void s_identity(void *ctx, char *buf, size_t len) {
    em_smtp_identity(ctx, buf, len);
}

static const char *s_halt_hint(void *ctx, const chw_result_t *result) {
    (void)ctx;
    return em_smtp_halt_hint(result);
}

static const chw_program_t email_program = {
    .program = "pregon-email",
    .id_prefix = "email",
    .channel = PREGON__CHANNEL__EMAIL,
    .summary = "The e-mail channel worker: SMTP submission to a relay, DKIM-signed, with one-click "
               "unsubscribe, warm-up and per-domain shaping.",
    .options = s_options,
    .open = s_open,
    .close = s_close,
    .identity = s_identity,
    .halt_hint = s_halt_hint,
};

int main(int argc, char **argv) {
    return chw_main(argc, argv, &email_program);
}

/* sms_main.c — pregon-sms: the SMS channel worker (Twilio Messages API).
 *
 * Reads flags and environment, builds the Twilio driver and the chw_ worker runtime, installs
 * signal handlers that only set a flag, and runs the loop. This is the only file of the worker
 * that logs: one pg_log line per event (stderr, timestamped, escaped, masked); what the broker
 * or the provider said is quoted with pg_log_quoted, a contact with pg_log_mask, and bad frames,
 * which a broken peer can send by the thousand, are folded by pg_logsum. The auth token comes
 * only from TWILIO_AUTH_TOKEN or --auth-token-file, never from a flag (it would show in ps), and
 * is never printed. */
#include <malloc.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "chw_recheck.h"
#include "chw_worker.h"
#include "pg_log.h"
#include "pg_logsum.h"
#include "sms_twilio.h"

#define S_EX_USAGE  64
#define S_EX_CONFIG 78
/* Bytes of a peer's or a provider's text shown in a line (a detail, an endpoint, a flag). */
#define S_SHOWN 256
/* Worker ids, job ids, provider codes shown. */
#define S_ID_SHOWN 64

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int sig) {
    (void)sig;
    s_stop = 1;
}

typedef struct {
    char masked_sid[64];
    pg_logsum_t *folded; /* events that can come by the thousand */
} s_log_ctx_t;

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: pregon-sms [options]\n"
            "  --broker URL                 broker backend endpoint (default tcp://127.0.0.1:5556;"
            " env PREGON_BROKER)\n"
            "  --base-url URL               Twilio API base (default https://api.twilio.com)\n"
            "  --account-sid SID            or env TWILIO_ACCOUNT_SID\n"
            "  --auth-token-file FILE       else env TWILIO_AUTH_TOKEN (never a flag)\n"
            "  --from NUMBER                default From for jobs without a sender\n"
            "  --messaging-service-sid SID  default MessagingServiceSid (wins over --from)\n"
            "  --status-callback URL        StatusCallback sent with every message\n"
            "  --concurrency N              jobs in flight (default 64)\n"
            "  --max-host-connections N     HTTP connections to the provider (default = N)\n"
            "  --rate-per-sender N          messages/s per sender (default 0 = unlimited)\n"
            "  --burst N                    per-sender burst (default max(1, rate))\n"
            "  --heartbeat-ms MS            (default 1000)\n"
            "  --worker-id ID               ZeroMQ routing id (default sms-<host>-<pid>)\n"
            "  --request-timeout-ms MS      whole provider request (default 30000)\n"
            "  --connect-timeout-ms MS      (default 5000)\n"
            "  --drain-timeout-ms MS        on SIGTERM: how long requests in progress may\n"
            "                               finish (default 10000)\n"
            "  --policy-dir DIR             policies for the re-check before sending\n");
}

static void s_on_event(void *ctx, const chw_event_t *ev) {
    s_log_ctx_t *log = ctx;
    pg_logsum_tick(log->folded); /* the runtime has no tick hook: events drive the summaries */
    pg_log_quoted_t quoted = pg_log_quoted(ev->detail, S_SHOWN);
    const char *detail = quoted.s;
    switch (ev->kind) {
        case CHW_EV_CONNECTED:
            pg_log("ready sent to %s", detail);
            break;
        case CHW_EV_RECONNECTED:
            pg_log("broker silent for 3 heartbeats: reconnected to %s", detail);
            break;
        case CHW_EV_HALTED: {
            const char *code = ev->result ? ev->result->provider_code : "";
            const char *hint = "fix the Twilio configuration and restart";
            if (strcmp(code, "20003") == 0 || strstr(ev->detail, "credentials"))
                hint = "fix TWILIO_AUTH_TOKEN (or --auth-token-file) and restart";
            else if (strcmp(code, "21606") == 0)
                hint = "the From number cannot send from this account: fix --from and restart";
            else if (strcmp(code, "21608") == 0)
                hint = "trial account and unverified To number: upgrade the account and restart";
            else if (strcmp(code, "21408") == 0)
                hint = "SMS to that region is not enabled (Geo Permissions): enable it and restart";
            else if (strstr(ev->detail, "provider URL"))
                hint = "fix --base-url and restart";
            const Pregon__SendRequest *job = ev->job ? ev->job->job : NULL;
            char to[PG_LOG_MASK_LEN];
            if (job)
                pg_log("channel halted: %s for account %s; %s (job %s to %s)", detail,
                       log->masked_sid, hint, pg_log_quoted(job->job_id, S_ID_SHOWN).s,
                       pg_log_mask(to, sizeof to, job->contact));
            else
                pg_log("channel halted: %s for account %s; %s", detail, log->masked_sid, hint);
            break;
        }
        case CHW_EV_BROKER_HALT:
            pg_log("broker halted the channel: %s", detail);
            break;
        case CHW_EV_DRAINING:
            pg_log("stopping: %s", detail);
            break;
        case CHW_EV_LEAVE_ACKED:
            pg_log("the broker acknowledged Leaving %s", detail);
            break;
        case CHW_EV_LEAVE_UNACKED:
            pg_log("%s", detail);
            break;
        case CHW_EV_DRAIN_TIMEOUT:
            pg_log("drain timeout: %s", detail);
            break;
        case CHW_EV_LEFT:
            pg_log("left the broker: %s", detail);
            break;
        case CHW_EV_HELD_PARTIAL:
            pg_log("%s", detail);
            break;
        case CHW_EV_BAD_FRAME:
            if (log->folded)
                pg_logsum_event(log->folded, "bad frames from the broker",
                                "bad frame from the broker: %s", detail);
            else
                pg_log("bad frame from the broker: %s", detail);
            break;
    }
}

/* Reads the first line of `path` into a malloc'd string, trailing whitespace removed. */
static char *s_read_secret(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[512];
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!line)
        return NULL;
    size_t len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                   buf[len - 1] == '\t'))
        buf[--len] = '\0';
    char *secret = len ? strdup(buf) : NULL;
    memset(buf, 0, sizeof buf);
    return secret;
}

static int s_parse_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    /* Keep freed memory in the heap instead of returning it to the kernel and faulting it in
     * again: a batch's command buffer is hundreds of KiB, rebuilt for every batch. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    pg_log_init("pregon-sms");
    enum {
        O_BROKER = 256,
        O_BASE_URL,
        O_SID,
        O_TOKEN_FILE,
        O_FROM,
        O_MSS,
        O_CALLBACK,
        O_CONCURRENCY,
        O_MAX_HOST,
        O_RATE,
        O_BURST,
        O_HEARTBEAT,
        O_WORKER_ID,
        O_REQ_TIMEOUT,
        O_CONN_TIMEOUT,
        O_DRAIN,
        O_POLICY_DIR,
        O_HELP,
    };
    static const struct option options[] = {
        {"broker", required_argument, NULL, O_BROKER},
        {"base-url", required_argument, NULL, O_BASE_URL},
        {"account-sid", required_argument, NULL, O_SID},
        {"auth-token-file", required_argument, NULL, O_TOKEN_FILE},
        {"from", required_argument, NULL, O_FROM},
        {"messaging-service-sid", required_argument, NULL, O_MSS},
        {"status-callback", required_argument, NULL, O_CALLBACK},
        {"concurrency", required_argument, NULL, O_CONCURRENCY},
        {"max-host-connections", required_argument, NULL, O_MAX_HOST},
        {"rate-per-sender", required_argument, NULL, O_RATE},
        {"burst", required_argument, NULL, O_BURST},
        {"heartbeat-ms", required_argument, NULL, O_HEARTBEAT},
        {"worker-id", required_argument, NULL, O_WORKER_ID},
        {"request-timeout-ms", required_argument, NULL, O_REQ_TIMEOUT},
        {"connect-timeout-ms", required_argument, NULL, O_CONN_TIMEOUT},
        {"drain-timeout-ms", required_argument, NULL, O_DRAIN},
        {"policy-dir", required_argument, NULL, O_POLICY_DIR},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };

    const char *env_broker = getenv("PREGON_BROKER");
    chw_config_t cfg = {
        .channel = PREGON__CHANNEL__SMS,
        .endpoint = env_broker && *env_broker ? env_broker : "tcp://127.0.0.1:5556",
        .concurrency = 64,
        .heartbeat_ms = 1000,
        .stop_flag = &s_stop,
    };
    sms_twilio_config_t tw = {.base_url = "https://api.twilio.com",
                              .account_sid = getenv("TWILIO_ACCOUNT_SID")};
    const char *token_file = NULL;
    char default_id[128];

    int opt;
    long v;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
            case O_BROKER:
                cfg.endpoint = optarg;
                break;
            case O_BASE_URL:
                tw.base_url = optarg;
                break;
            case O_SID:
                tw.account_sid = optarg;
                break;
            case O_TOKEN_FILE:
                token_file = optarg;
                break;
            case O_FROM:
                tw.from = optarg;
                break;
            case O_MSS:
                tw.messaging_service_sid = optarg;
                break;
            case O_CALLBACK:
                tw.status_callback = optarg;
                break;
            case O_CONCURRENCY:
                bad = s_parse_long(optarg, 1, 100000, &v);
                cfg.concurrency = (uint32_t)v;
                break;
            case O_MAX_HOST:
                bad = s_parse_long(optarg, 1, 100000, &v);
                cfg.max_host_connections = v;
                break;
            case O_RATE:
            case O_BURST: {
                char *end;
                double d = strtod(optarg, &end);
                if (end != optarg && strcmp(end, "/s") == 0)
                    end += 2;
                bad = end == optarg || *end || d < 0;
                if (opt == O_RATE)
                    cfg.rate_per_sender = d;
                else
                    cfg.burst = d;
                break;
            }
            case O_HEARTBEAT:
                bad = s_parse_long(optarg, 10, 3600000, &v);
                cfg.heartbeat_ms = (uint32_t)v;
                break;
            case O_WORKER_ID:
                cfg.worker_id = optarg;
                break;
            case O_REQ_TIMEOUT:
                bad = s_parse_long(optarg, 1, 3600000, &v);
                cfg.request_timeout_ms = v;
                break;
            case O_CONN_TIMEOUT:
                bad = s_parse_long(optarg, 1, 3600000, &v);
                cfg.connect_timeout_ms = v;
                break;
            case O_DRAIN:
                bad = s_parse_long(optarg, 1, 3600000, &v);
                cfg.drain_timeout_ms = (uint32_t)v;
                break;
            case O_POLICY_DIR:
                cfg.policy_dir = optarg;
                break;
            case O_HELP:
                s_usage(stdout);
                return 0;
            default: /* opterr = 0: getopt would echo the argument unescaped */
                pg_log("unknown or incomplete option %s (see --help)",
                       pg_log_quoted(argv[optind - 1], S_SHOWN).s);
                return S_EX_USAGE;
        }
        if (bad) {
            pg_log("invalid value for --%s: %s", options[opt - 256].name,
                   pg_log_quoted(optarg, S_SHOWN).s);
            return S_EX_USAGE;
        }
    }
    if (optind < argc) {
        pg_log("unexpected argument: %s", pg_log_quoted(argv[optind], S_SHOWN).s);
        return S_EX_USAGE;
    }

    char *token = NULL;
    if (token_file) {
        token = s_read_secret(token_file);
        if (!token) {
            pg_log("cannot read an auth token from --auth-token-file %s",
                   pg_log_quoted(token_file, S_SHOWN).s);
            return S_EX_CONFIG;
        }
    } else if (getenv("TWILIO_AUTH_TOKEN") && *getenv("TWILIO_AUTH_TOKEN")) {
        token = strdup(getenv("TWILIO_AUTH_TOKEN"));
    }
    if (!tw.account_sid || !*tw.account_sid || !token) {
        pg_log("missing Twilio credentials: set TWILIO_ACCOUNT_SID (or --account-sid) and "
               "TWILIO_AUTH_TOKEN (or --auth-token-file)");
        free(token);
        return S_EX_CONFIG;
    }
    tw.auth_token = token;
    if (!cfg.worker_id) {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(default_id, sizeof default_id, "sms-%s-%ld", host, (long)getpid());
        cfg.worker_id = default_id;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pg_log("curl_global_init failed");
        return 1;
    }
    s_log_ctx_t log = {.folded = pg_logsum_new(NULL)}; /* NULL (no memory): nothing folded */
    sms_twilio_mask_sid(tw.account_sid, log.masked_sid, sizeof log.masked_sid);
    cfg.on_event = s_on_event;
    cfg.event_ctx = &log;

    sms_twilio_t *twilio = sms_twilio_new(&tw);
    memset(token, 0, strlen(token));
    free(token);
    if (!twilio) {
        pg_log("cannot set up the Twilio driver (base URL %s)",
               pg_log_quoted(tw.base_url, S_SHOWN).s);
        pg_logsum_destroy(&log.folded);
        curl_global_cleanup();
        return S_EX_CONFIG;
    }
    rl_policyset_t *policies = NULL;
    if (cfg.policy_dir) { /* the quiet-hours re-check just before sending */
        char perr[1024];
        policies = rl_policyset_load(cfg.policy_dir, perr, sizeof perr);
        if (!policies) {
            pg_log("%s", perr);
            pg_logsum_destroy(&log.folded);
            sms_twilio_destroy(&twilio);
            curl_global_cleanup();
            return S_EX_CONFIG;
        }
        cfg.recheck = chw_recheck_policy;
        cfg.recheck_ctx = policies;
    }
    chw_driver_t driver = sms_twilio_driver(twilio);
    int err = CHW_OK;
    chw_worker_t *worker = chw_worker_new(&cfg, &driver, &err);
    if (!worker) {
        pg_log("cannot start the worker (broker %s): %s", pg_log_quoted(cfg.endpoint, S_SHOWN).s,
               chw_strerror(err));
        pg_logsum_destroy(&log.folded);
        rl_policyset_destroy(&policies);
        sms_twilio_destroy(&twilio);
        curl_global_cleanup();
        return err == CHW_ERR_CONFIG || err == CHW_ERR_ZMQ ? S_EX_CONFIG : 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pg_log("worker %s (incarnation %s), account %s, concurrency %u, broker %s",
           pg_log_quoted(cfg.worker_id, S_ID_SHOWN).s, chw_worker_incarnation(worker),
           log.masked_sid, cfg.concurrency, pg_log_quoted(cfg.endpoint, S_SHOWN).s);
    int rc = chw_worker_run(worker);
    chw_counters_t c;
    chw_worker_counters(worker, &c);
    pg_logsum_destroy(&log.folded); /* pending summaries first */
    pg_log("%s: received %llu, sent %llu, failed %llu, retry %llu, unknown %llu, config %llu, "
           "skipped %llu, handed back %llu, reconnects %llu",
           rc == CHW_OK ? "stopped" : chw_strerror(rc), (unsigned long long)c.received,
           (unsigned long long)c.sent, (unsigned long long)c.failed, (unsigned long long)c.retried,
           (unsigned long long)c.unknown, (unsigned long long)c.config_errors,
           (unsigned long long)c.skipped, (unsigned long long)c.handed_back,
           (unsigned long long)c.reconnects);
    chw_worker_destroy(&worker);
    rl_policyset_destroy(&policies);
    sms_twilio_destroy(&twilio);
    curl_global_cleanup();
    return rc == CHW_OK ? 0 : 1;
}

/* main.c — pregon-sandbox: flags, wiring, signals. The process's top level and the only place
 * that prints: pg_log lines on stderr; libmicrohttpd's messages arrive through sb_server's log
 * callback from its threads and are folded by pg_logsum under a lock, ticked from the main
 * thread's signal wait, so a flood of one complaint costs a few lines per 10 s.
 *
 * Builds the store, fault plan, webhook sender and Twilio tables from the flags, registers the
 * provider modules and the control API on the server, starts it, writes --port-file, prints one
 * startup line, then waits for SIGINT/SIGTERM with sigwait() (no handlers: signals are blocked
 * in every thread) and shuts down cleanly, exiting 0. Bad flags exit 2, start-up failures 1. */
#include "sb_control.h"
#include "sb_faults.h"
#include "sb_server.h"
#include "sb_store.h"
#include "sb_twilio.h"
#include "sb_twilio_sms.h"
#include "sb_webhook.h"

#include "pg_log.h"
#include "pg_logsum.h"

#include <malloc.h>
#include <pthread.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_REPEAT      64
#define S_DEFAULT_ACCOUNT "AC00000000000000000000000000000000:sandbox-token"
/* Bytes of a flag or a library message shown in a line. */
#define S_SHOWN 256

typedef struct {
    const char *listen;
    const char *port_file;
    const char *accounts[S_MAX_REPEAT];
    size_t n_accounts;
    const char *to_errors[S_MAX_REPEAT];
    size_t n_to_errors;
    const char *dlrs[S_MAX_REPEAT];
    size_t n_dlrs;
    unsigned long threads;
    unsigned long max_connections;
    unsigned long max_body;
    unsigned long max_records;
    unsigned long idle_timeout_s;
    bool callbacks;
    unsigned long callback_delay_ms;
    unsigned long callback_queue;
    sb_fault_rates_t rates;
    bool seed_given;
    unsigned long long seed;
} s_options_t;

static void s_usage(FILE *out) {
    fprintf(
        out,
        "usage: pregon-sandbox [options]\n"
        "Local simulator of provider APIs (Twilio Messages) with fault injection.\n\n"
        "  --listen HOST:PORT        serve here (default 127.0.0.1:8090; port 0 = any)\n"
        "  --port-file PATH          write the bound port here once listening\n"
        "  --account SID:TOKEN       Twilio account, repeatable (default AC000...0:"
        "sandbox-token)\n"
        "  --threads N               MHD worker threads (default: number of CPUs)\n"
        "  --max-connections N       concurrent connections (default 4096)\n"
        "  --max-body BYTES          larger request bodies get 413 (default 65536)\n"
        "  --max-records N           records kept, oldest dropped (default 1000000)\n"
        "  --idle-timeout-s N        close idle keep-alive connections (120; 0 never)\n"
        "  --callbacks               post signed StatusCallback webhooks\n"
        "  --callback-delay-ms N     'sent' after N ms, final status after 2N (1000)\n"
        "  --callback-queue N        callbacks waiting at most, extra dropped (100000)\n"
        "  --to-error +PREFIX:CODE   400 with CODE for matching recipients (repeatable)\n"
        "  --dlr +PREFIX:STATUS:CODE final callback undelivered|failed + ErrorCode\n"
        "  --latency-ms N            delay every provider answer by N ms\n"
        "  --jitter-ms N             plus uniform 0..N ms\n"
        "  --p429 P                  probability of 429 (code 20429, Retry-After: 1)\n"
        "  --p5xx P                  probability of 500/503 (code 20500)\n"
        "  --ptimeout P              probability of holding a request unanswered\n"
        "  --timeout-hold-ms N       hold that long, then close (default 30000)\n"
        "  --seed N                  seed of the fault and jitter draws (default random)\n"
        "  --help                    this text\n"
        "Control API on the same port: /healthz, /_sandbox/{requests,stats,wait,faults,script}\n");
}

static bool s_parse_ulong(const char *s, unsigned long max, unsigned long *out) {
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > max)
        return false;
    *out = (unsigned long)v;
    return true;
}

static bool s_parse_prob(const char *s, double *out) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

enum {
    O_LISTEN = 256,
    O_PORT_FILE,
    O_ACCOUNT,
    O_THREADS,
    O_MAX_CONN,
    O_MAX_BODY,
    O_MAX_RECORDS,
    O_IDLE,
    O_CALLBACKS,
    O_CB_DELAY,
    O_CB_QUEUE,
    O_TO_ERROR,
    O_DLR,
    O_LATENCY,
    O_JITTER,
    O_P429,
    O_P5XX,
    O_PTIMEOUT,
    O_HOLD,
    O_SEED,
    O_HELP
};

/* Returns 0, 1 for --help, -1 (message printed) on a bad flag. */
static int s_parse_args(int argc, char **argv, s_options_t *o) {
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"port-file", required_argument, NULL, O_PORT_FILE},
        {"account", required_argument, NULL, O_ACCOUNT},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-connections", required_argument, NULL, O_MAX_CONN},
        {"max-body", required_argument, NULL, O_MAX_BODY},
        {"max-records", required_argument, NULL, O_MAX_RECORDS},
        {"idle-timeout-s", required_argument, NULL, O_IDLE},
        {"callbacks", no_argument, NULL, O_CALLBACKS},
        {"callback-delay-ms", required_argument, NULL, O_CB_DELAY},
        {"callback-queue", required_argument, NULL, O_CB_QUEUE},
        {"to-error", required_argument, NULL, O_TO_ERROR},
        {"dlr", required_argument, NULL, O_DLR},
        {"latency-ms", required_argument, NULL, O_LATENCY},
        {"jitter-ms", required_argument, NULL, O_JITTER},
        {"p429", required_argument, NULL, O_P429},
        {"p5xx", required_argument, NULL, O_P5XX},
        {"ptimeout", required_argument, NULL, O_PTIMEOUT},
        {"timeout-hold-ms", required_argument, NULL, O_HOLD},
        {"seed", required_argument, NULL, O_SEED},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    unsigned long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
            case O_LISTEN:
                o->listen = optarg;
                break;
            case O_PORT_FILE:
                o->port_file = optarg;
                break;
            case O_ACCOUNT:
            case O_TO_ERROR:
            case O_DLR: {
                const char **arr = c == O_ACCOUNT    ? o->accounts
                                   : c == O_TO_ERROR ? o->to_errors
                                                     : o->dlrs;
                size_t *n = c == O_ACCOUNT    ? &o->n_accounts
                            : c == O_TO_ERROR ? &o->n_to_errors
                                              : &o->n_dlrs;
                if (*n == S_MAX_REPEAT)
                    bad = "repeated too many times (64 at most)";
                else
                    arr[(*n)++] = optarg;
                break;
            }
            case O_THREADS:
                if (!s_parse_ulong(optarg, 256, &o->threads) || o->threads == 0)
                    bad = "wants 1..256";
                break;
            case O_MAX_CONN:
                if (!s_parse_ulong(optarg, 1000000, &o->max_connections) || !o->max_connections)
                    bad = "wants 1..1000000";
                break;
            case O_MAX_BODY:
                if (!s_parse_ulong(optarg, 64ul << 20, &o->max_body) || !o->max_body)
                    bad = "wants 1..67108864";
                break;
            case O_MAX_RECORDS:
                if (!s_parse_ulong(optarg, 100000000, &o->max_records) || !o->max_records)
                    bad = "wants 1..100000000";
                break;
            case O_IDLE:
                if (!s_parse_ulong(optarg, 86400, &o->idle_timeout_s))
                    bad = "wants 0..86400";
                break;
            case O_CALLBACKS:
                o->callbacks = true;
                break;
            case O_CB_DELAY:
                if (!s_parse_ulong(optarg, 3600000, &o->callback_delay_ms))
                    bad = "wants 0..3600000";
                break;
            case O_CB_QUEUE:
                if (!s_parse_ulong(optarg, 10000000, &o->callback_queue) || !o->callback_queue)
                    bad = "wants 1..10000000";
                break;
            case O_LATENCY:
            case O_JITTER:
            case O_HOLD:
                if (!s_parse_ulong(optarg, 3600000, &v))
                    bad = "wants 0..3600000";
                else if (c == O_LATENCY)
                    o->rates.latency_ms = (unsigned)v;
                else if (c == O_JITTER)
                    o->rates.jitter_ms = (unsigned)v;
                else
                    o->rates.timeout_hold_ms = (unsigned)v;
                break;
            case O_P429:
                if (!s_parse_prob(optarg, &o->rates.p429))
                    bad = "wants a probability 0..1";
                break;
            case O_P5XX:
                if (!s_parse_prob(optarg, &o->rates.p5xx))
                    bad = "wants a probability 0..1";
                break;
            case O_PTIMEOUT:
                if (!s_parse_prob(optarg, &o->rates.ptimeout))
                    bad = "wants a probability 0..1";
                break;
            case O_SEED: {
                char *end;
                errno = 0;
                o->seed = strtoull(optarg, &end, 10);
                o->seed_given = true;
                if (!*optarg || *end || errno || *optarg == '-')
                    bad = "wants an unsigned integer";
                break;
            }
            case O_HELP:
                return 1;
            default:
                pg_log("unknown or incomplete option '%s' (see --help)",
                       pg_log_quoted(argv[optind - 1], S_SHOWN).s);
                return -1;
        }
        if (bad) {
            const char *flag = argv[optind - 1 - (optarg != NULL && argv[optind - 1] == optarg)];
            pg_log("%s %s", pg_log_quoted(flag, S_SHOWN).s, bad);
            return -1;
        }
    }
    if (optind < argc) {
        pg_log("unexpected argument '%s' (see --help)", pg_log_quoted(argv[optind], S_SHOWN).s);
        return -1;
    }
    const char *why = sb_fault_rates_check(&o->rates);
    if (why) {
        pg_log("%s", why);
        return -1;
    }
    return 0;
}

typedef struct {
    pthread_mutex_t lock;
    pg_logsum_t *folded; /* NULL (no memory): every message logged */
} s_log_t;

/* sb_server's logger: libmicrohttpd's messages, from its threads. One line each, folded per
 * message format past a few per window; the message's own trailing newline is dropped. */
static void s_log(void *ctx, const char *fmt, va_list ap) {
    s_log_t *log = ctx;
    char msg[1024], key[PG_LOGSUM_KEY_MAX + 1];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    n = strcspn(fmt, "\r\n");
    snprintf(key, sizeof key, "\"%.*s\"", (int)(n < sizeof key - 3 ? n : sizeof key - 3), fmt);
    pthread_mutex_lock(&log->lock);
    if (log->folded)
        pg_logsum_event(log->folded, key, "%s", msg);
    else
        pg_log("%s", msg);
    pthread_mutex_unlock(&log->lock);
}

/* Raises the open-file limit towards max_connections; returns the connection count that fits. */
static unsigned long s_fit_fd_limit(unsigned long max_connections) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return max_connections;
    rlim_t want = (rlim_t)max_connections + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        return rl.rlim_cur > 512 ? (unsigned long)rl.rlim_cur - 256 : 256;
    return max_connections;
}

static int s_write_port_file(const char *path, unsigned port, char *err, size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "--port-file path too long");
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write --port-file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    /* Keep freed memory in the heap instead of returning it to the kernel and faulting it in
     * again: a batch's command buffer is hundreds of KiB, rebuilt for every batch. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    pg_log_init("pregon-sandbox");
    s_options_t opt = {
        .listen = "127.0.0.1:8090",
        .max_connections = 4096,
        .max_body = 65536,
        .max_records = 1000000,
        .idle_timeout_s = 120,
        .callback_delay_ms = 1000,
        .callback_queue = 100000,
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = cpus > 0 ? (unsigned long)cpus : 1;
    sb_fault_rates_default(&opt.rates);
    int rc = s_parse_args(argc, argv, &opt);
    if (rc != 0) {
        if (rc > 0)
            s_usage(stdout);
        return rc > 0 ? 0 : 2;
    }
    if (!opt.seed_given)
        opt.seed = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid();

    /* Block the shutdown signals before any thread exists, so only sigwait() sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pg_log("libcurl initialisation failed");
        return 1;
    }
    unsigned long max_conn = s_fit_fd_limit(opt.max_connections);

    char err[512] = "out of memory";
    int status = 1;
    s_log_t log = {.lock = PTHREAD_MUTEX_INITIALIZER, .folded = pg_logsum_new(NULL)};
    sb_twilio_t *twilio = sb_twilio_new();
    sb_store_t *store = sb_store_new(opt.max_records);
    sb_faults_t *faults = sb_faults_new(&opt.rates, opt.seed);
    sb_webhook_t *hooks = NULL;
    sb_server_t *server = NULL;
    sb_twilio_sms_t *sms = NULL;
    sb_control_t *control = NULL;
    if (!twilio || !store || !faults)
        goto done;
    if (opt.n_accounts == 0)
        opt.accounts[opt.n_accounts++] = S_DEFAULT_ACCOUNT;
    for (size_t i = 0; i < opt.n_accounts; i++) {
        if (sb_twilio_add_account(twilio, opt.accounts[i], err, sizeof err) != 0)
            goto bad_flag;
    }
    for (size_t i = 0; i < opt.n_to_errors; i++) {
        if (sb_twilio_add_to_error(twilio, opt.to_errors[i], err, sizeof err) != 0)
            goto bad_flag;
    }
    for (size_t i = 0; i < opt.n_dlrs; i++) {
        if (sb_twilio_add_dlr(twilio, opt.dlrs[i], err, sizeof err) != 0)
            goto bad_flag;
    }
    if (opt.callbacks) {
        sb_webhook_config_t wc = {(unsigned)opt.callback_queue, 64, 10000};
        if (!(hooks = sb_webhook_new(&wc))) {
            snprintf(err, sizeof err, "cannot start the callback sender");
            goto done;
        }
    }
    sb_server_config_t sc = {
        .http =
            {
                .listen = opt.listen,
                .threads = (unsigned)opt.threads,
                .max_connections = (unsigned)max_conn,
                .idle_timeout_s = (unsigned)opt.idle_timeout_s,
                .max_body = opt.max_body,
                .log = s_log,
                .log_ctx = &log,
            },
        .store = store,
        .faults = faults,
    };
    if (!(server = sb_server_new(&sc, err, sizeof err)))
        goto bad_flag;
    sb_twilio_sms_config_t smc = {opt.callbacks, (unsigned)opt.callback_delay_ms};
    sms = sb_twilio_sms_new(&smc, twilio, hooks);
    control = sb_control_new(store, faults, hooks, server);
    if (!sms || !control || sb_twilio_sms_register(sms, server) != 0 ||
        sb_control_register(control, server) != 0) {
        snprintf(err, sizeof err, "cannot register routes");
        goto done;
    }
    if (sb_server_start(server, err, sizeof err) != 0)
        goto done;
    unsigned port = sb_server_port(server);
    if (opt.port_file && s_write_port_file(opt.port_file, port, err, sizeof err) != 0)
        goto done;
    const char *colon = strrchr(opt.listen, ':');
    pg_log("listening on %.*s:%u threads=%lu max-connections=%lu accounts=%zu callbacks=%s "
           "latency=%u+%ums p429=%g p5xx=%g ptimeout=%g seed=%llu",
           (int)(colon - opt.listen), opt.listen, port, opt.threads, max_conn,
           sb_twilio_account_count(twilio), opt.callbacks ? "on" : "off", opt.rates.latency_ms,
           opt.rates.jitter_ms, opt.rates.p429, opt.rates.p5xx, opt.rates.ptimeout, opt.seed);

    int sig;
    const struct timespec second = {1, 0}; /* how often folded messages are summarised */
    while ((sig = sigtimedwait(&stop_signals, NULL, &second)) != SIGINT && sig != SIGTERM) {
        pthread_mutex_lock(&log.lock);
        pg_logsum_tick(log.folded);
        pthread_mutex_unlock(&log.lock);
    }
    pg_log("%s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sb_server_stop(server);
    if (opt.port_file)
        (void)unlink(opt.port_file);
    status = 0;
    goto done;

bad_flag:
    pg_log("%s", err);
    status = 2;
    goto cleanup;
done:
    if (status != 0)
        pg_log("%s", err);
cleanup:
    sb_server_destroy(&server);     /* stops first: no handler runs after this */
    pg_logsum_destroy(&log.folded); /* the summaries still pending */
    sb_control_destroy(&control);
    sb_twilio_sms_destroy(&sms);
    sb_webhook_destroy(&hooks);
    sb_faults_destroy(&faults);
    sb_store_destroy(&store);
    sb_twilio_destroy(&twilio);
    curl_global_cleanup();
    return status;
}

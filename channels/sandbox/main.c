/* main.c — pregon-sandbox: flags, the table of provider modules, wiring, signals. The process's
 * top level and the only place that prints: pg_log lines on stderr; libmicrohttpd's messages
 * arrive through pg_http's log callback from its threads and are folded by pg_logsum under a
 * lock, ticked from the main thread's signal wait, so a flood of one complaint costs a few lines
 * per 10 s.
 *
 * Each simulated provider is a module (sb_module.h) listed in s_modules: main gives every module
 * its flags, then starts them in order on one server (its provider routes get faults, latency
 * and recording from sb_server), adds the control API, starts listening, writes --port-file,
 * prints one startup line, then waits for SIGINT/SIGTERM with sigwait() (no handlers: signals
 * are blocked in every thread) and shuts down cleanly, exiting 0. Bad flags exit 2, start-up
 * failures 1. */
#include "sb_control.h"
#include "sb_faults.h"
#include "sb_messenger.h"
#include "sb_module.h"
#include "sb_server.h"
#include "sb_store.h"
#include "sb_twilio.h"
#include "sb_twilio_calls.h"
#include "sb_twilio_sms.h"
#include "sb_webhook.h"
#include "sb_whatsapp.h"

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

/* Bytes of a flag or a library message shown in a line. */
#define S_SHOWN 256

/* The simulated providers, in start order (a module may use those before it). Next: WhatsApp
 * Cloud, Messenger, Twilio Calls (after "twilio"), an SMTP sink. */
static const sb_module_t *const s_modules[] = {
    &sb_twilio_module,   &sb_twilio_sms_module, &sb_twilio_calls_module,
    &sb_whatsapp_module, &sb_messenger_module,
};
#define S_N_MODULES (sizeof s_modules / sizeof s_modules[0])

/* getopt ids: the sandbox's own flags from 256, module m's flag i at S_MODULE_ID(m, i). */
#define S_MODULE_BASE     1024
#define S_MODULE_ID(m, i) (S_MODULE_BASE + 64 * (int)(m) + (int)(i))
#define S_MAX_FLAGS       64

typedef struct {
    const char *listen;
    const char *port_file;
    unsigned long threads;
    unsigned long max_connections;
    unsigned long max_body;
    unsigned long max_records;
    unsigned long idle_timeout_s;
    unsigned long callback_queue;
    sb_fault_rates_t rates;
    bool seed_given;
    unsigned long long seed;
} s_options_t;

static void s_usage(FILE *out) {
    fprintf(out, "usage: pregon-sandbox [options]\n"
                 "Local simulator of provider APIs with fault injection and signed callbacks.\n\n"
                 "  --listen HOST:PORT        serve here (default 127.0.0.1:8090; port 0 = any)\n"
                 "  --port-file PATH          write the bound port here once listening\n"
                 "  --threads N               MHD worker threads (default: number of CPUs)\n"
                 "  --max-connections N       concurrent connections (default 4096)\n"
                 "  --max-body BYTES          larger request bodies get 413 (default 65536)\n"
                 "  --max-records N           records kept, oldest dropped (default 1000000)\n"
                 "  --idle-timeout-s N        close idle keep-alive connections (120; 0 never)\n"
                 "  --callback-queue N        callbacks waiting at most, extra dropped (100000)\n"
                 "  --latency-ms N            delay every provider answer by N ms\n"
                 "  --jitter-ms N             plus uniform 0..N ms\n"
                 "  --p429 P                  probability of 429 (Retry-After: 1)\n"
                 "  --p5xx P                  probability of 500/503\n"
                 "  --ptimeout P              probability of holding a request unanswered\n"
                 "  --timeout-hold-ms N       hold that long, then close (default 30000)\n"
                 "  --seed N                  seed of the fault and jitter draws (default random)\n"
                 "  --help                    this text\n");
    for (size_t m = 0; m < S_N_MODULES; m++) {
        fprintf(out, "\nmodule %s: %s\n", s_modules[m]->name, s_modules[m]->describe);
        for (size_t i = 0; i < s_modules[m]->n_flags; i++) {
            const sb_flag_t *f = &s_modules[m]->flags[i];
            char left[64];
            snprintf(left, sizeof left, "--%s%s%s", f->name, f->arg ? " " : "",
                     f->arg ? f->arg : "");
            fprintf(out, "  %-25s %s\n", left, f->help);
        }
    }
    fprintf(out, "\nControl API on the same port: /healthz, /_sandbox/{requests,stats,wait,faults,"
                 "script}, and each module's /_sandbox/<module>/...\n");
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
    O_THREADS,
    O_MAX_CONN,
    O_MAX_BODY,
    O_MAX_RECORDS,
    O_IDLE,
    O_CB_QUEUE,
    O_LATENCY,
    O_JITTER,
    O_P429,
    O_P5XX,
    O_PTIMEOUT,
    O_HOLD,
    O_SEED,
    O_HELP
};

/* One of the sandbox's own flags; returns NULL or what is wrong with its argument. */
static const char *s_own_flag(int c, const char *arg, s_options_t *o) {
    unsigned long v;
    switch (c) {
        case O_LISTEN:
            o->listen = arg;
            return NULL;
        case O_PORT_FILE:
            o->port_file = arg;
            return NULL;
        case O_THREADS:
            return s_parse_ulong(arg, 256, &o->threads) && o->threads ? NULL : "wants 1..256";
        case O_MAX_CONN:
            return s_parse_ulong(arg, 1000000, &o->max_connections) && o->max_connections
                       ? NULL
                       : "wants 1..1000000";
        case O_MAX_BODY:
            return s_parse_ulong(arg, 64ul << 20, &o->max_body) && o->max_body
                       ? NULL
                       : "wants 1..67108864";
        case O_MAX_RECORDS:
            return s_parse_ulong(arg, 100000000, &o->max_records) && o->max_records
                       ? NULL
                       : "wants 1..100000000";
        case O_IDLE:
            return s_parse_ulong(arg, 86400, &o->idle_timeout_s) ? NULL : "wants 0..86400";
        case O_CB_QUEUE:
            return s_parse_ulong(arg, 10000000, &o->callback_queue) && o->callback_queue
                       ? NULL
                       : "wants 1..10000000";
        case O_LATENCY:
        case O_JITTER:
        case O_HOLD:
            if (!s_parse_ulong(arg, 3600000, &v))
                return "wants 0..3600000";
            if (c == O_LATENCY)
                o->rates.latency_ms = (unsigned)v;
            else if (c == O_JITTER)
                o->rates.jitter_ms = (unsigned)v;
            else
                o->rates.timeout_hold_ms = (unsigned)v;
            return NULL;
        case O_P429:
            return s_parse_prob(arg, &o->rates.p429) ? NULL : "wants a probability 0..1";
        case O_P5XX:
            return s_parse_prob(arg, &o->rates.p5xx) ? NULL : "wants a probability 0..1";
        case O_PTIMEOUT:
            return s_parse_prob(arg, &o->rates.ptimeout) ? NULL : "wants a probability 0..1";
        default: { /* O_SEED */
            char *end;
            errno = 0;
            o->seed = strtoull(arg, &end, 10);
            o->seed_given = true;
            return !*arg || *end || errno || *arg == '-' ? "wants an unsigned integer" : NULL;
        }
    }
}

/* The getopt table: the sandbox's flags, then every module's. Returns its length. */
static size_t s_longopts(struct option *out, size_t max) {
    static const struct option own[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"port-file", required_argument, NULL, O_PORT_FILE},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-connections", required_argument, NULL, O_MAX_CONN},
        {"max-body", required_argument, NULL, O_MAX_BODY},
        {"max-records", required_argument, NULL, O_MAX_RECORDS},
        {"idle-timeout-s", required_argument, NULL, O_IDLE},
        {"callback-queue", required_argument, NULL, O_CB_QUEUE},
        {"latency-ms", required_argument, NULL, O_LATENCY},
        {"jitter-ms", required_argument, NULL, O_JITTER},
        {"p429", required_argument, NULL, O_P429},
        {"p5xx", required_argument, NULL, O_P5XX},
        {"ptimeout", required_argument, NULL, O_PTIMEOUT},
        {"timeout-hold-ms", required_argument, NULL, O_HOLD},
        {"seed", required_argument, NULL, O_SEED},
        {"help", no_argument, NULL, O_HELP},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0] && n + 1 < max; i++)
        out[n++] = own[i];
    for (size_t m = 0; m < S_N_MODULES; m++) {
        for (size_t i = 0; i < s_modules[m]->n_flags && i < 64 && n + 1 < max; i++) {
            const sb_flag_t *f = &s_modules[m]->flags[i];
            out[n++] = (struct option){f->name, f->arg ? required_argument : no_argument, NULL,
                                       S_MODULE_ID(m, i)};
        }
    }
    out[n] = (struct option){NULL, 0, NULL, 0};
    return n;
}

/* Reads the command line into o and the modules' states. Returns 0, 1 for --help, -1 (message
 * logged) on a bad flag. */
static int s_parse_args(int argc, char **argv, s_options_t *o, void *const *states) {
    struct option longopts[S_MAX_FLAGS];
    s_longopts(longopts, S_MAX_FLAGS);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *flag = argv[optind - 1 - (optarg != NULL && argv[optind - 1] == optarg)];
        if (c == O_HELP)
            return 1;
        if (c >= S_MODULE_BASE) {
            size_t m = (size_t)(c - S_MODULE_BASE) / 64, i = (size_t)(c - S_MODULE_BASE) % 64;
            char err[512];
            if (s_modules[m]->flag(states[m], i, optarg, err, sizeof err) != 0) {
                pg_log("%s", err);
                return -1;
            }
            continue;
        }
        if (c < O_LISTEN || c > O_HELP) {
            pg_log("unknown or incomplete option '%s' (see --help)",
                   pg_log_quoted(argv[optind - 1], S_SHOWN).s);
            return -1;
        }
        const char *bad = s_own_flag(c, optarg, o);
        if (bad) {
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

/* What main builds, torn down in reverse by s_teardown. */
typedef struct {
    s_log_t log;
    void *states[S_N_MODULES];
    sb_store_t *store;
    sb_faults_t *faults;
    sb_webhook_t *hooks;
    sb_server_t *server;
    sb_control_t *control;
    sb_env_t env;
    size_t n_started; /* modules started */
    unsigned long max_conn;
} s_process_t;

/* Builds the store, fault plan, callback sender and server, starts every module and the control
 * API, then starts listening. Returns 0, or -1 with a reason in err. */
static int s_start(s_process_t *p, const s_options_t *opt, char *err, size_t errlen) {
    unsigned long max_conn = p->max_conn = s_fit_fd_limit(opt->max_connections);
    sb_webhook_config_t wc = {(unsigned)opt->callback_queue, 64, 10000};
    p->store = sb_store_new(opt->max_records);
    p->faults = sb_faults_new(&opt->rates, opt->seed);
    p->hooks = sb_webhook_new(&wc);
    if (!p->store || !p->faults || !p->hooks) {
        snprintf(err, errlen, "out of memory, or the callback sender cannot start");
        return -1;
    }
    sb_server_config_t sc = {
        .http =
            {
                .listen = opt->listen,
                .threads = (unsigned)opt->threads,
                .max_connections = (unsigned)max_conn,
                .idle_timeout_s = (unsigned)opt->idle_timeout_s,
                .max_body = opt->max_body,
                .log = s_log,
                .log_ctx = &p->log,
            },
        .store = p->store,
        .faults = p->faults,
    };
    if (!(p->server = sb_server_new(&sc, err, errlen)))
        return -1;
    p->env = (sb_env_t){p->server, p->store, p->faults, p->hooks, s_modules, p->states, 0};
    for (size_t m = 0; m < S_N_MODULES; m++) {
        p->env.n_modules = m; /* a module sees those before it */
        if (s_modules[m]->start(p->states[m], &p->env, err, errlen) != 0)
            return -1;
        p->n_started = m + 1;
    }
    p->env.n_modules = S_N_MODULES;
    if (!(p->control = sb_control_new(&p->env)) ||
        sb_control_register(p->control, p->server) != 0) {
        snprintf(err, errlen, "cannot register the control routes");
        return -1;
    }
    return sb_server_start(p->server, err, errlen);
}

static void s_teardown(s_process_t *p) {
    sb_server_destroy(&p->server);     /* stops first: no handler runs after this */
    pg_logsum_destroy(&p->log.folded); /* the summaries still pending */
    sb_control_destroy(&p->control);
    for (size_t m = S_N_MODULES; m-- > 0;) {
        if (m < p->n_started && s_modules[m]->stop)
            s_modules[m]->stop(p->states[m]);
        s_modules[m]->destroy(&p->states[m]);
    }
    sb_webhook_destroy(&p->hooks);
    sb_faults_destroy(&p->faults);
    sb_store_destroy(&p->store);
}

/* Waits for SIGINT or SIGTERM, ticking the folded log every second. */
static int s_wait_signal(const sigset_t *stop_signals, s_log_t *log) {
    int sig;
    const struct timespec second = {1, 0};
    while ((sig = sigtimedwait(stop_signals, NULL, &second)) != SIGINT && sig != SIGTERM) {
        pthread_mutex_lock(&log->lock);
        pg_logsum_tick(log->folded);
        pthread_mutex_unlock(&log->lock);
    }
    return sig;
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
        .callback_queue = 100000,
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = cpus > 0 ? (unsigned long)cpus : 1;
    sb_fault_rates_default(&opt.rates);
    s_process_t p = {.log = {.lock = PTHREAD_MUTEX_INITIALIZER}};
    int status = 1;
    for (size_t m = 0; m < S_N_MODULES; m++) {
        if (!(p.states[m] = s_modules[m]->new ())) {
            pg_log("out of memory");
            goto cleanup;
        }
    }
    int rc = s_parse_args(argc, argv, &opt, p.states);
    if (rc != 0) {
        if (rc > 0)
            s_usage(stdout);
        status = rc > 0 ? 0 : 2;
        goto cleanup;
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
        goto cleanup;
    }
    p.log.folded = pg_logsum_new(NULL);
    char err[512] = "out of memory";
    unsigned port = 0;
    if (s_start(&p, &opt, err, sizeof err) != 0 ||
        (opt.port_file &&
         s_write_port_file(opt.port_file, port = sb_server_port(p.server), err, sizeof err) != 0)) {
        pg_log("%s", err);
        goto cleanup_curl;
    }
    port = sb_server_port(p.server);
    const char *colon = strrchr(opt.listen, ':');
    pg_log("listening on %.*s:%u threads=%lu max-connections=%lu modules=%zu latency=%u+%ums "
           "p429=%g p5xx=%g ptimeout=%g seed=%llu",
           (int)(colon - opt.listen), opt.listen, port, opt.threads, p.max_conn, S_N_MODULES,
           opt.rates.latency_ms, opt.rates.jitter_ms, opt.rates.p429, opt.rates.p5xx,
           opt.rates.ptimeout, opt.seed);
    int sig = s_wait_signal(&stop_signals, &p.log);
    pg_log("%s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sb_server_stop(p.server);
    if (opt.port_file)
        (void)unlink(opt.port_file);
    status = 0;
cleanup_curl:
    s_teardown(&p);
    curl_global_cleanup();
    return status;
cleanup:
    s_teardown(&p);
    return status;
}

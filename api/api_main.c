/* api_main.c — pregon-api: an HTTP/JSON gateway in front of pregond, for campaign systems that
 * do not speak ZeroMQ. Flags, wiring, signals; the routes are api_routes.c's.
 *
 * It is a campaign system to pregond (a DEALER on its frontend with its own CURVE key, like
 * pregonctl submit: pregond binds that key to tenants, so give it '*' or every tenant its
 * tokens name) and a subscriber of its events feed; it reads Redis (job records, the audit
 * stream, histories, suppressions) through the store modules as pregonctl does, with
 * pregonctl's Redis user. It decides nothing itself: verdicts are pregond's. Prints one
 * startup line, then waits for SIGINT/SIGTERM with sigwait(). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_events.h"
#include "api_front.h"
#include "api_routes.h"
#include "api_tokens.h"
#include "brk_config.h"
#include "pc_redis.h"
#include "pg_http.h"
#include "pg_log.h"
#include "rl_policyset.h"
#include "st_keys.h"

typedef struct {
    const char *listen, *tokens, *policies, *frontend, *events, *key_file, *broker_key_file;
    unsigned threads, wait_ms;
    size_t max_body, max_jobs, batch;
    double rate;
    int timeout_ms;
} s_opts_t;

static void s_usage(FILE *to) {
    fprintf(to,
            "usage: pregon-api --tokens FILE [--listen HOST:PORT] [--config pregon.yaml]\n"
            "                  [--frontend URL] [--events URL] [--key-file F --broker-key-file F]\n"
            "                  [--policies DIR] [--redis HOST:PORT | --redis-socket PATH]\n"
            "                  [--prefix P] [--shards S] [--threads N] [--max-body BYTES]\n"
            "                  [--max-jobs N] [--rate R] [--batch N] [--timeout-ms MS]\n"
            "       pregon-api --hash-token < TOKEN      (prints the line's hash for --tokens)\n"
            "  An HTTP/JSON gateway in front of pregond: POST /v1/jobs, GET /v1/jobs/{id},\n"
            "  GET /v1/debtors/{id}/contacts, POST /v1/suppressions, GET /v1/events (SSE).\n"
            "  --listen 127.0.0.1:8070; --frontend and --events default to the config's\n"
            "  sockets; --max-body 16777216, --max-jobs 10000 per request, --rate 50 requests/s\n"
            "  per token (burst 2x; 0 = unlimited), --batch 500 jobs per SubmitBatch,\n"
            "  --timeout-ms 30000 for pregond's answer, --threads 8.\n" PC_REDIS_CREDENTIAL_USAGE);
}

static int s_hash_token(void) {
    char line[1024];
    if (!fgets(line, sizeof line, stdin))
        return 2;
    line[strcspn(line, "\r\n")] = '\0';
    char hex[65];
    api_tokens_hash(line, hex);
    printf("%s\n", hex);
    return 0;
}

/* Parses the flags into o and cfg; returns -1 to exit 0, -2 usage, 0 to run. */
static int s_options(int argc, char **argv, s_opts_t *o, brk_config_t *cfg) {
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"tokens", required_argument, NULL, 'T'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"policies", required_argument, NULL, 'P'},
                                         {"frontend", required_argument, NULL, 'f'},
                                         {"events", required_argument, NULL, 'E'},
                                         {"key-file", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'K'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"max-body", required_argument, NULL, 'B'},
                                         {"max-jobs", required_argument, NULL, 'J'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"timeout-ms", required_argument, NULL, 'w'},
                                         {"redis", required_argument, NULL, 'R'},
                                         {"redis-socket", required_argument, NULL, 'S'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"shards", required_argument, NULL, 'N'},
                                         {"hash-token", no_argument, NULL, 'H'},
                                         PC_REDIS_CREDENTIAL_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
            case 'l':
                o->listen = optarg;
                break;
            case 'T':
                o->tokens = optarg;
                break;
            case 'c':
                if (pc_redis_config(cfg, optarg) < 0)
                    return -2;
                o->policies = o->policies ? o->policies : cfg->policies;
                o->frontend = o->frontend ? o->frontend : cfg->frontend;
                o->events = o->events ? o->events : cfg->events;
                break;
            case 'P':
                o->policies = optarg;
                break;
            case 'f':
                o->frontend = optarg;
                break;
            case 'E':
                o->events = optarg;
                break;
            case 'k':
                o->key_file = optarg;
                break;
            case 'K':
                o->broker_key_file = optarg;
                break;
            case 't':
                o->threads = (unsigned)strtoul(optarg, NULL, 10);
                break;
            case 'B':
                o->max_body = strtoul(optarg, NULL, 10);
                break;
            case 'J':
                o->max_jobs = strtoul(optarg, NULL, 10);
                break;
            case 'r':
                o->rate = strtod(optarg, NULL);
                break;
            case 'b':
                o->batch = strtoul(optarg, NULL, 10);
                break;
            case 'w':
                o->timeout_ms = (int)strtol(optarg, NULL, 10);
                break;
            case 'H':
                return s_hash_token() == 0 ? -1 : -2;
            case 'R':
            case 'S':
            case 'p':
            case 'N':
            case PC_REDIS_OPT_USER:
            case PC_REDIS_OPT_PASSFILE:
                pc_redis_option(cfg, c, optarg);
                break;
            case 'h':
                s_usage(stdout);
                return -1;
            default:
                s_usage(stderr);
                return -2;
        }
    }
    if (optind != argc || !o->tokens || o->threads < 1 || o->max_jobs < 1 || o->batch < 1 ||
        o->timeout_ms < 100 || o->max_body < 1024) {
        s_usage(stderr);
        return -2;
    }
    return 0;
}

static void s_http_log(void *ctx, const char *fmt, va_list ap) {
    (void)ctx;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    pg_log("http: %s", line);
}

/* Runs the server until SIGINT/SIGTERM; the exit code. */
static int s_serve(const s_opts_t *o, api_ctx_t *ctx) {
    char err[1024] = "routes";
    pg_http_config_t hc = {o->listen, o->threads, 1024, 120, o->max_body, s_http_log, NULL};
    pg_http_t *http = pg_http_new(&hc, err, sizeof err);
    if (!http || api_routes_add(http, ctx) < 0 || pg_http_start(http, err, sizeof err) < 0) {
        pg_log("cannot serve on %s: %s", o->listen, err);
        pg_http_destroy(&http);
        return 1;
    }
    pg_log("serving http://%s (port %u), pregond %s, events %s", o->listen,
           (unsigned)pg_http_port(http), o->frontend, o->events && *o->events ? o->events : "-");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    pg_log("stopping (signal %d)", sig);
    pg_http_stop(http);
    pg_http_destroy(&http);
    api_routes_done();
    return 0;
}

int main(int argc, char **argv) {
    pg_log_init("pregon-api");
    static brk_config_t cfg;
    char err[2048];
    brk_config_load(&cfg, NULL, err, sizeof err); /* defaults */
    s_opts_t o = {.listen = "127.0.0.1:8070",
                  .threads = 8,
                  .wait_ms = 25000,
                  .max_body = 16u << 20,
                  .max_jobs = 10000,
                  .batch = 500,
                  .rate = 50.0,
                  .timeout_ms = 30000};
    int rc = s_options(argc, argv, &o, &cfg);
    if (rc < 0)
        return rc == -1 ? 0 : 2;
    o.policies = o.policies ? o.policies : "deploy/policies";
    o.frontend = o.frontend ? o.frontend : cfg.frontend;
    o.key_file = o.key_file ? o.key_file : getenv("PREGON_KEY_FILE");
    o.broker_key_file = o.broker_key_file ? o.broker_key_file : getenv("PREGON_BROKER_KEY_FILE");
    if (strchr(o.frontend, '*') || (o.events && strchr(o.events, '*'))) {
        pg_log("pregond's config binds %s on a port of the system's choosing: give --frontend "
               "and --events the endpoints pregond's startup line names",
               strchr(o.frontend, '*') ? o.frontend : o.events);
        return 2;
    }
    sigset_t set; /* every thread made from here on blocks them: sigwait takes them */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    api_tokens_t *tokens = api_tokens_load(o.tokens, o.rate, err, sizeof err);
    rl_policyset_t *policies = tokens ? rl_policyset_load(o.policies, err, sizeof err) : NULL;
    st_keys_t *keys = st_keys_new(cfg.redis_prefix, cfg.shards);
    api_front_config_t fc = {o.frontend,   o.key_file, o.broker_key_file,
                             o.timeout_ms, o.batch,    4u << 20};
    api_front_t *front = policies ? api_front_new(&fc, err, sizeof err) : NULL;
    api_events_config_t ec = {o.events, o.key_file, o.broker_key_file, 65536};
    api_events_t *events = front ? api_events_new(&ec, err, sizeof err) : NULL;
    if (!events || !keys) {
        pg_log("%s", keys ? err : "--prefix 1..31 bytes, --shards 1..16384");
        rc = 78;
    } else {
        api_ctx_t ctx = {tokens, front, events, &cfg, keys, policies, o.max_jobs, o.wait_ms};
        rc = s_serve(&o, &ctx);
    }
    api_events_destroy(&events);
    api_front_destroy(&front);
    st_keys_destroy(&keys);
    rl_policyset_destroy(&policies);
    api_tokens_destroy(&tokens);
    return rc;
}

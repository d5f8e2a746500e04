/* hk_main.c — pregon-hooks: settings, secrets, the provider modules, the HTTP server and the
 * link to pregond, one loop, a clean stop.
 *
 * Threads: the HTTP server's pool runs the handlers; this thread owns the broker socket and
 * runs hk_link_step() until SIGTERM/SIGINT, read from a signalfd the loop watches (both are
 * blocked in every thread before any starts). With ops.listen the loop also answers the ops
 * endpoint (hk_ops.h): the signalfd and the ops descriptor are joined in one epoll descriptor,
 * the one hk_link_step watches. Stop: refuse new events, answer every held
 * request (the acked ones their answer, the rest 503), stop the server, exit 0.
 * Exit codes: 0 stopped by a signal, 1 a failure while running, 2 bad flags or settings. */
#include "hk_config.h"
#include "hk_link.h"
#include "hk_messenger.h"
#include "hk_metrics.h"
#include "hk_ops.h"
#include "hk_secrets.h"
#include "hk_server.h"
#include "hk_twilio_sms.h"
#include "hk_kwtable.h"
#include "hk_whatsapp.h"
#include "hk_twilio_voice.h"
#include "hk_unsubscribe.h"
#include "pg_secret.h"
#include "pg_log.h"
#include "pg_secret.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: pregon-hooks [options]\n"
            "  --config FILE              YAML settings (deploy/pregon-hooks.yaml)\n"
            "  --listen HOST:PORT         http.listen (port 0: any free port)\n"
            "  --public-url URL           http.public_url: the base URL providers call\n"
            "  --broker ENDPOINT          broker.endpoint, pregond's hooks ROUTER\n"
            "  --twilio-tokens FILE       twilio.auth_tokens_file: lines \"AccountSid token\"\n"
            "                             (else env TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN)\n"
            "  --max-body BYTES           http.max_body_bytes\n"
            "  --threads N                http.threads\n"
            "  --ack-timeout-ms MS        broker.ack_timeout_ms\n"
            "  --heartbeat-ms MS          broker.heartbeat_ms\n"
            "  --max-in-flight N          broker.max_in_flight\n"
            "  --key-file FILE            broker.key_file: this process's CURVE key (NAME.key)\n"
            "  --broker-key-file FILE     broker.broker_key_file: pregond's public key (.pub)\n"
            "  --voice-url-key-file FILE  voice.url_key_file: pregon-voice's call URL key (the\n"
            "                             voice module /twilio/voice/ is on with it)\n"
            "  --ops-listen HOST:PORT     ops.listen: /metrics, /healthz, /readyz on a loopback\n"
            "                             port of their own (0: any; logged)\n"
            "  --ops-allow-public         ops.allow_public: let --ops-listen be non-loopback\n"
            "  --help\n");
}

static const struct option s_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"listen", required_argument, NULL, 'l'},
    {"public-url", required_argument, NULL, 'u'},
    {"broker", required_argument, NULL, 'b'},
    {"twilio-tokens", required_argument, NULL, 't'},
    {"max-body", required_argument, NULL, 'm'},
    {"threads", required_argument, NULL, 'n'},
    {"ack-timeout-ms", required_argument, NULL, 'a'},
    {"heartbeat-ms", required_argument, NULL, 'h'},
    {"max-in-flight", required_argument, NULL, 'f'},
    {"key-file", required_argument, NULL, 'k'},
    {"broker-key-file", required_argument, NULL, 'K'},
    {"voice-url-key-file", required_argument, NULL, 'V'},
    {"ops-listen", required_argument, NULL, 'O'},
    {"ops-allow-public", no_argument, NULL, 'A'},
    {"help", no_argument, NULL, 'H'},
    {NULL, 0, NULL, 0},
};

static const char *s_key_of(int opt) {
    switch (opt) {
        case 'l':
            return "http.listen";
        case 'u':
            return "http.public_url";
        case 'b':
            return "broker.endpoint";
        case 't':
            return "twilio.auth_tokens_file";
        case 'm':
            return "http.max_body_bytes";
        case 'n':
            return "http.threads";
        case 'a':
            return "broker.ack_timeout_ms";
        case 'h':
            return "broker.heartbeat_ms";
        case 'f':
            return "broker.max_in_flight";
        case 'k':
            return "broker.key_file";
        case 'K':
            return "broker.broker_key_file";
        case 'V':
            return "voice.url_key_file";
        case 'O':
            return "ops.listen";
        case 'A':
            return "ops.allow_public";
        default:
            return NULL;
    }
}

static const char *s_flag_name(int opt) {
    for (const struct option *o = s_options; o->name; o++)
        if (o->val == opt)
            return o->name;
    return "?";
}

/* Defaults, then --config, then the other flags (in that order whatever their order). */
static int s_settings(int argc, char **argv, hk_config_t *cfg) {
    char err[768];
    hk_config_defaults(cfg);
    const char *path = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", s_options, NULL)) != -1) {
        if (opt == 'H') {
            s_usage(stdout);
            return 1;
        }
        if (opt == '?') { /* getopt said which */
            s_usage(stderr);
            return -1;
        }
        if (opt == 'c')
            path = optarg;
    }
    if (optind < argc) {
        pg_log("unexpected argument %s", pg_log_quoted(argv[optind], 64).s);
        return -1;
    }
    if (path && hk_config_load(cfg, path, err, sizeof err) < 0) {
        pg_log("%s", err);
        return -1;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", s_options, NULL)) != -1) {
        const char *key = s_key_of(opt);
        if (key && hk_config_set(cfg, key, optarg ? optarg : "1", err, sizeof err) < 0) {
            pg_log("--%s: %s", s_flag_name(opt), err);
            return -1;
        }
    }
    if (hk_config_check(cfg, err, sizeof err) < 0) {
        pg_log("%s", err);
        return -1;
    }
    return 0;
}

static hk_secrets_t *s_twilio_tokens(const hk_config_t *cfg) {
    hk_secrets_t *tokens = hk_secrets_new();
    if (!tokens)
        return NULL;
    char err[768];
    if (cfg->twilio_tokens[0]) {
        if (hk_secrets_load_file(tokens, cfg->twilio_tokens, err, sizeof err) < 0) {
            pg_log("twilio.auth_tokens_file: %s", err);
            hk_secrets_destroy(&tokens);
        }
        return tokens;
    }
    const char *sid = getenv("TWILIO_ACCOUNT_SID"), *token = getenv("TWILIO_AUTH_TOKEN");
    if (sid && *sid && token && *token && hk_secrets_add(tokens, sid, token) < 0)
        hk_secrets_destroy(&tokens);
    return tokens;
}

/* A Meta app's secret (WhatsApp, Messenger): the file's content (mode 0600), else the environment
 * variable, else "" into buf. Returns 0, or -1 (logged, never the secret) when the file cannot be
 * read. */
static int s_meta_secret(const char *file, const char *key, const char *env, char *buf,
                         size_t len) {
    char err[768];
    buf[0] = '\0';
    if (file[0]) {
        if (pg_secret_read(file, buf, len, err, sizeof err) < 0) {
            pg_log("%s: %s", key, err);
            return -1;
        }
        return 0;
    }
    const char *v = getenv(env);
    if (v && strlen(v) < len)
        snprintf(buf, len, "%s", v);
    return 0;
}

/* The WhatsApp module from its app secret and verify token. Returns 0, or the exit code. */
static int s_whatsapp(const hk_config_t *cfg, hk_module_t *out) {
    char secret[1024], verify[1024];
    int rc = 0;
    if (s_meta_secret(cfg->whatsapp_secret, "whatsapp.app_secret_file", "WHATSAPP_APP_SECRET",
                      secret, sizeof secret) < 0 ||
        s_meta_secret(cfg->whatsapp_verify, "whatsapp.verify_token_file", "WHATSAPP_VERIFY_TOKEN",
                      verify, sizeof verify) < 0)
        rc = 2;
    else if (hk_whatsapp_init(out, secret, verify) < 0)
        rc = 1;
    else if (!secret[0])
        pg_log("no WhatsApp app secret (whatsapp.app_secret_file, or WHATSAPP_APP_SECRET): "
               "every WhatsApp webhook will be refused");
    explicit_bzero(secret, sizeof secret);
    explicit_bzero(verify, sizeof verify);
    return rc;
}

/* The Messenger module from its two secrets. Returns 0, or the exit code. */
static int s_messenger(const hk_config_t *cfg, hk_module_t *out) {
    char secret[1024], verify[1024];
    int rc = 0;
    if (s_meta_secret(cfg->messenger_secret, "messenger.app_secret_file", "MESSENGER_APP_SECRET",
                      secret, sizeof secret) < 0 ||
        s_meta_secret(cfg->messenger_verify, "messenger.verify_token_file",
                      "MESSENGER_VERIFY_TOKEN", verify, sizeof verify) < 0)
        rc = 2;
    else if (hk_messenger_init(out, secret, verify) < 0)
        rc = 1;
    else if (!secret[0])
        pg_log("no Messenger app secret (messenger.app_secret_file, or MESSENGER_APP_SECRET): "
               "every Messenger webhook will be refused");
    explicit_bzero(secret, sizeof secret);
    explicit_bzero(verify, sizeof verify);
    return rc;
}

/* The catalog's keyword table (keywords.file), or none. Returns 0, or the exit code. */
static int s_keywords(const hk_config_t *cfg, hk_kwtable_t **out) {
    *out = NULL;
    if (!cfg->keywords_file[0])
        return 0;
    pg_kw_entry_t *kw = malloc(PG_KW_MAX * sizeof *kw);
    char err[768];
    int n = kw ? pg_kwtable_load(cfg->keywords_file, kw, PG_KW_MAX, err, sizeof err) : -1;
    if (n < 0) {
        pg_log("keywords.file: %s", kw ? err : "out of memory");
        free(kw);
        return 2;
    }
    *out = hk_kwtable_new(kw, (size_t)n);
    free(kw);
    if (!*out) {
        pg_log("keywords.file %s: out of memory, or a word of nothing but punctuation",
               cfg->keywords_file);
        return 2;
    }
    pg_log("keywords.file %s: %d keyword(s) matched before the built-in ones", cfg->keywords_file,
           n);
    return 0;
}

static void s_link_report(void *ctx, const char *msg) {
    (void)ctx;
    pg_log("%s", msg);
}

static void s_http_log(void *ctx, const char *fmt, va_list ap) {
    (void)ctx;
    pg_logv(fmt, ap);
}

typedef struct {
    hk_config_t cfg;
    hk_secrets_t *tokens;
    hk_metrics_t *metrics;
    void *zctx;
    hk_link_t *link;
    pg_curve_t *curve; /* CURVE keys of the broker socket; NULL = plaintext */
    hk_module_t twilio_sms;
    hk_module_t whatsapp;
    hk_module_t messenger;
    hk_module_t twilio_voice; /* ctx NULL: off (no voice.url_key_file) */
    hk_kwtable_t *keywords;   /* keywords.file's table; NULL = none */
    hk_module_t unsubscribe;  /* .routes NULL: no unsubscribe key, no /u/ routes */
    hk_server_t *server;
    size_t modules; /* added to the server */
    hk_ops_t *ops;  /* NULL: no ops.listen */
    int sigfd;
    int waitfd; /* epoll of sigfd and the ops descriptor (-1: sigfd alone) */
} s_proc_t;

static void s_teardown(s_proc_t *p) {
    if (p->link)
        hk_link_stop(p->link);
    hk_ops_destroy(&p->ops);
    hk_server_destroy(&p->server);
    if (p->whatsapp.destroy)
        p->whatsapp.destroy(p->whatsapp.ctx);
    if (p->messenger.destroy)
        p->messenger.destroy(p->messenger.ctx);
    if (p->twilio_voice.destroy)
        p->twilio_voice.destroy(p->twilio_voice.ctx);
    hk_kwtable_destroy(&p->keywords);
    if (p->unsubscribe.destroy)
        p->unsubscribe.destroy(p->unsubscribe.ctx);
    hk_link_destroy(&p->link);
    pg_curve_destroy(&p->curve); /* after the link: it reopens its socket with the keys */
    if (p->zctx)
        zmq_ctx_term(p->zctx);
    hk_metrics_destroy(&p->metrics);
    hk_secrets_destroy(&p->tokens);
    if (p->sigfd >= 0)
        close(p->sigfd);
    if (p->waitfd >= 0)
        close(p->waitfd);
}

/* The ops endpoint, when ops.listen is set, and the descriptor the loop waits on. 0, or the
 * exit code after logging why. */
static int s_ops(s_proc_t *p) {
    if (!p->cfg.ops_listen[0])
        return 0;
    char err[512];
    hk_ops_config_t oc = {.listen = p->cfg.ops_listen,
                          .allow_public = p->cfg.ops_allow_public != 0,
                          .metrics = p->metrics,
                          .link = p->link,
                          .modules = p->modules,
                          /* the loop sleeps until a heartbeat is due: never a stall */
                          .stall_ms = 15000u + 3u * (unsigned)p->cfg.heartbeat_ms};
    if (!(p->ops = hk_ops_new(&oc, err, sizeof err))) {
        pg_log("ops.listen %s: %s", p->cfg.ops_listen, err);
        return 2;
    }
    struct epoll_event sig = {.events = EPOLLIN, .data.fd = p->sigfd};
    struct epoll_event ops = {.events = EPOLLIN, .data.fd = hk_ops_fd(p->ops)};
    if ((p->waitfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(p->waitfd, EPOLL_CTL_ADD, p->sigfd, &sig) < 0 ||
        epoll_ctl(p->waitfd, EPOLL_CTL_ADD, hk_ops_fd(p->ops), &ops) < 0) {
        pg_log("cannot set up the ops endpoint's descriptor");
        return 1;
    }
    pg_log("ops: /metrics, /healthz and /readyz on port %u", (unsigned)hk_ops_port(p->ops));
    return 0;
}

/* The e-mail one-click unsubscribe module, when a key is configured (email.unsubscribe_key_file,
 * else env PREGON_UNSUBSCRIBE_KEY). Returns 0, or -1 after logging why. */
static int s_unsubscribe(s_proc_t *p) {
    char key[4096], err[512];
    long len = -1;
    const char *env = getenv("PREGON_UNSUBSCRIBE_KEY");
    if (p->cfg.unsub_key_file[0]) {
        if ((len = pg_secret_read(p->cfg.unsub_key_file, key, sizeof key, err, sizeof err)) < 0) {
            pg_log("email.unsubscribe_key_file: %s", err);
            return -1;
        }
    } else if (env && *env) {
        len = (long)snprintf(key, sizeof key, "%s", env);
    } else {
        return 0;
    }
    int rc = hk_unsubscribe_init(&p->unsubscribe, key, (size_t)len);
    explicit_bzero(key, sizeof key);
    if (rc != 0)
        pg_log("cannot set up the unsubscribe module: out of memory or an empty key");
    return rc;
}

/* Everything up to serving. Returns 0, or the exit code. */
static int s_start(s_proc_t *p) {
    char err[768];
    int rc;
    if (!(p->tokens = s_twilio_tokens(&p->cfg)))
        return 2;
    if (hk_secrets_count(p->tokens) == 0)
        pg_log("no Twilio auth token (twilio.auth_tokens_file, or TWILIO_ACCOUNT_SID and "
               "TWILIO_AUTH_TOKEN): every Twilio webhook will be refused");
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
        (p->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        pg_log("cannot set up signals");
        return 1;
    }
    p->metrics = hk_metrics_new();
    p->zctx = zmq_ctx_new();
    if (!p->metrics || !p->zctx) {
        pg_log("cannot start: out of memory");
        return 1;
    }
    p->curve = pg_curve_load(p->cfg.curve_key, p->cfg.broker_pub, err, sizeof err);
    if (!p->curve && err[0]) {
        pg_log("broker.key_file: %s", err);
        return 2;
    }
    hk_link_config_t lc = {.endpoint = p->cfg.broker,
                           .curve = p->curve,
                           .heartbeat_ms = (unsigned)p->cfg.heartbeat_ms,
                           .ack_timeout_ms = (unsigned)p->cfg.ack_timeout_ms,
                           .max_in_flight = (unsigned)p->cfg.max_in_flight,
                           .metrics = p->metrics,
                           .report = s_link_report};
    if (!(p->link = hk_link_new(p->zctx, &lc, err, sizeof err))) {
        pg_log("broker.endpoint: %s", err);
        return 2;
    }
    hk_twilio_sms_init(&p->twilio_sms, p->tokens);
    int wa_rc = s_whatsapp(&p->cfg, &p->whatsapp);
    if (wa_rc != 0)
        return wa_rc;
    if ((rc = s_messenger(&p->cfg, &p->messenger)) != 0)
        return rc;
    if (p->cfg.voice_url_key[0]) {
        char key[512];
        if (pg_secret_read(p->cfg.voice_url_key, key, sizeof key, err, sizeof err) < 0 ||
            hk_twilio_voice_init(&p->twilio_voice, p->tokens, key) < 0) {
            pg_log("voice.url_key_file: %s", err[0] ? err : "out of memory");
            return 2;
        }
        volatile char *k = key;
        while (*k)
            *k++ = 0;
    }
    if ((wa_rc = s_keywords(&p->cfg, &p->keywords)) != 0)
        return wa_rc;
    hk_whatsapp_set_keywords(&p->whatsapp, p->keywords);
    if (s_unsubscribe(p) != 0)
        return 2;
    hk_server_config_t sc = {.listen = p->cfg.listen,
                             .public_url = p->cfg.public_url,
                             .threads = (unsigned)p->cfg.threads,
                             .max_connections = (unsigned)p->cfg.max_connections,
                             .idle_timeout_s = (unsigned)p->cfg.idle_timeout_s,
                             .max_body = (size_t)p->cfg.max_body_bytes,
                             .ack_timeout_ms = (unsigned)p->cfg.ack_timeout_ms,
                             .link = p->link,
                             .metrics = p->metrics,
                             .log = s_http_log};
    if (!(p->server = hk_server_new(&sc, err, sizeof err)) ||
        hk_server_add_module(p->server, &p->twilio_sms, err, sizeof err) < 0 ||
        hk_server_add_module(p->server, &p->whatsapp, err, sizeof err) < 0 ||
        hk_server_add_module(p->server, &p->messenger, err, sizeof err) < 0 ||
        (p->twilio_voice.ctx &&
         hk_server_add_module(p->server, &p->twilio_voice, err, sizeof err) < 0) ||
        (p->unsubscribe.routes &&
         hk_server_add_module(p->server, &p->unsubscribe, err, sizeof err) < 0) ||
        hk_server_start(p->server, err, sizeof err) < 0) {
        pg_log("cannot serve on %s: %s", p->cfg.listen, err);
        return 2;
    }
    p->modules = 3 + (p->twilio_voice.ctx != NULL) + (p->unsubscribe.routes != NULL);
    return s_ops(p);
}

int main(int argc, char **argv) {
    pg_log_init("pregon-hooks");
    s_proc_t p = {.sigfd = -1, .waitfd = -1};
    int rc = s_settings(argc, argv, &p.cfg);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if ((rc = s_start(&p)) != 0) {
        s_teardown(&p);
        return rc;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", p.cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    pg_log("serving: http http://%s:%u, public %s, broker %s, %zu Twilio accounts, body limit "
           "%d bytes, ack timeout %d ms",
           host, (unsigned)hk_server_port(p.server), hk_server_public_url(p.server), p.cfg.broker,
           hk_secrets_count(p.tokens), p.cfg.max_body_bytes, p.cfg.ack_timeout_ms);
    rc = 0;
    for (;;) {
        bool sig = false;
        hk_ops_turn(p.ops);
        if (hk_link_step(p.link, p.waitfd >= 0 ? p.waitfd : p.sigfd, &sig) < 0) {
            pg_log("broker socket failed: %s", zmq_strerror(zmq_errno()));
            rc = 1;
            break;
        }
        if (sig && p.waitfd >= 0) { /* the epoll says one of them: a scrape is hk_ops_turn's */
            struct epoll_event ev[2];
            int n = epoll_wait(p.waitfd, ev, 2, 0);
            sig = false;
            for (int i = 0; i < n; i++)
                sig = sig || ev[i].data.fd == p.sigfd;
        }
        if (sig) {
            struct signalfd_siginfo si;
            if (read(p.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                pg_log("%s: stopping", strsignal((int)si.ssi_signo));
                break;
            }
        }
    }
    hk_link_stop(p.link);
    hk_server_stop(p.server);
    pg_log("stopped");
    s_teardown(&p);
    return rc;
}

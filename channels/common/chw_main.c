/* chw_main.c — a channel worker's process: flags, credentials, signals, logs (see chw_main.h).
 *
 * The only file of a worker that logs: one pg_log line per runtime event (stderr, timestamped,
 * escaped, masked); what the broker or the provider said is quoted with pg_log_quoted, a contact
 * with pg_log_mask, and bad frames, which a broken peer can send by the thousand, are folded by
 * pg_logsum. Flags are parsed with getopt_long over one table built from the common flags and
 * the driver's; a secret is read from its file or the environment, handed to the driver's
 * open() and wiped. Signal handlers only set the flag the runtime's loop watches. */
#include "chw_main.h"
#include "chw_ops.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "chw_recheck.h"
#include "chw_worker.h"
#include "pg_curve.h"
#include "pg_log.h"
#include "pg_logsum.h"

#ifndef PG_VERSION
#define PG_VERSION "0.1.0"
#endif

#define S_SHOWN       256 /* bytes of a peer's or a provider's text shown in a line */
#define S_ID_SHOWN    64  /* worker ids, job ids shown */
#define S_MAX_OPTIONS 48  /* driver options */
#define S_NAME_MAX    64  /* a driver option's name, "-file" included */
#define S_SECRET_MAX  4096

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int sig) {
    (void)sig;
    s_stop = 1;
}

/* --- the flags every worker has --- */

enum {
    O_BROKER,
    O_WORKER_ID,
    O_CONCURRENCY,
    O_MAX_HOST,
    O_RATE,
    O_RATE_ALIAS,
    O_BURST,
    O_HEARTBEAT,
    O_REQ_TIMEOUT,
    O_CONN_TIMEOUT,
    O_DRAIN,
    O_POLICY_DIR,
    O_LOG_LEVEL,
    O_EXIT_ON_HALT,
    O_JOURNAL,
    O_NO_JOURNAL,
    O_KEY_FILE,
    O_BROKER_KEY_FILE,
    O_OPS_LISTEN,
    O_HELP,
    O_VERSION,
    O_COUNT
};

static const struct {
    const char *name, *arg, *help; /* arg NULL: no value */
} s_common[O_COUNT] = {
    [O_BROKER] = {"broker", "URL",
                  "broker backend (default tcp://127.0.0.1:5556; env PREGON_BROKER)"},
    [O_WORKER_ID] = {"worker-id", "ID", "ZeroMQ routing id (default <channel>-<host>-<pid>)"},
    [O_CONCURRENCY] = {"concurrency", "N", "jobs held at once: the credit (default 64)"},
    [O_MAX_HOST] = {"max-host-connections", "N", "HTTP connections to the provider (default = N)"},
    [O_RATE] = {"rate", "N[/s]", "messages/s per shaping key (default: the driver's)"},
    [O_RATE_ALIAS] = {"rate-per-sender", "N[/s]", "the same as --rate"},
    [O_BURST] = {"burst", "N", "bucket size per shaping key (default max(1, rate))"},
    [O_HEARTBEAT] = {"heartbeat-ms", "MS", "heartbeat interval (default 1000)"},
    [O_REQ_TIMEOUT] = {"request-timeout-ms", "MS", "whole provider request (default 30000)"},
    [O_CONN_TIMEOUT] = {"connect-timeout-ms", "MS", "connection to the provider (default 5000)"},
    [O_DRAIN] = {"drain-timeout-ms", "MS",
                 "on SIGTERM: how long requests in progress may finish (default 10000)"},
    [O_POLICY_DIR] = {"policy-dir", "DIR", "policies for the re-check before sending"},
    [O_LOG_LEVEL] = {"log-level", "LEVEL", "error, warn or info (default info)"},
    [O_EXIT_ON_HALT] = {"exit-on-halt", NULL,
                        "leave and exit 69 when the channel halts (default: stay, hand back)"},
    [O_JOURNAL] = {"journal", "FILE",
                   "the worker's journal (default $STATE_DIRECTORY/<worker-id>.journal, else "
                   "/var/lib/pregon/<worker-id>.journal)"},
    [O_NO_JOURNAL] = {"no-journal", NULL,
                      "run without a journal: after kill -9 the jobs it held become UNKNOWN"},
    [O_KEY_FILE] = {"key-file", "FILE",
                    "this worker's CURVE key, NAME.key, mode 0600 (env PREGON_KEY_FILE)"},
    [O_BROKER_KEY_FILE] = {"broker-key-file", "FILE",
                           "pregond's public key, its .pub (env PREGON_BROKER_KEY_FILE); "
                           "without both: plaintext"},
    [O_OPS_LISTEN] = {"ops-listen", "ADDR",
                      "serve /metrics, /healthz, /readyz on this loopback address, e.g. "
                      "127.0.0.1:9471 (env PREGON_OPS_LISTEN; default: none)"},
    [O_HELP] = {"help", NULL, "this text"},
    [O_VERSION] = {"version", NULL, "the program's version"},
};

enum { S_LOG_ERROR, S_LOG_WARN, S_LOG_INFO };

struct chw_opts {
    const chw_option_t *defs;
    size_t n;
    char names[S_MAX_OPTIONS][S_NAME_MAX]; /* the flags' names ("auth-token-file") */
    const char *given[S_MAX_OPTIONS];      /* from argv (a secret: its file) */
    const char *value[S_MAX_OPTIONS];      /* resolved */
    char *secret[S_MAX_OPTIONS];           /* secrets read, malloc'd, wiped on free */
};

typedef struct {
    chw_config_t cfg;
    const char *key_file, *broker_key_file; /* CURVE: flags, else the environment */
    int log_level;
    bool exit_on_halt;
    const char *journal;    /* --journal */
    const char *ops_listen; /* --ops-listen, else PREGON_OPS_LISTEN */
    bool no_journal;
    char default_id[128];
    chw_opts_t opts;
} s_settings_t;

const char *chw_opts_get(const chw_opts_t *opts, const char *name) {
    for (size_t i = 0; opts && name && i < opts->n; i++)
        if (strcmp(opts->defs[i].name, name) == 0)
            return opts->value[i];
    return NULL;
}

static void s_usage(const chw_program_t *p, const chw_opts_t *opts, FILE *out) {
    fprintf(out, "usage: %s [options]\n%s%s", p->program, p->summary ? p->summary : "",
            p->summary ? "\n" : "");
    fprintf(out, "worker options:\n");
    for (int i = 0; i < O_COUNT; i++) {
        char flag[96];
        snprintf(flag, sizeof flag, "--%s%s%s", s_common[i].name, s_common[i].arg ? " " : "",
                 s_common[i].arg ? s_common[i].arg : "");
        fprintf(out, "  %-32s %s\n", flag, s_common[i].help);
    }
    if (opts->n)
        fprintf(out, "%s options:\n", p->program);
    for (size_t i = 0; i < opts->n; i++) {
        const chw_option_t *o = &opts->defs[i];
        const char *arg = (o->kind & CHW_OPT_SECRET)   ? "FILE"
                          : (o->kind & CHW_OPT_SWITCH) ? ""
                                                       : (o->arg ? o->arg : "VALUE");
        char flag[96], extra[160] = "";
        snprintf(flag, sizeof flag, "--%s%s%s", opts->names[i], *arg ? " " : "", arg);
        size_t len = 0;
        if (o->env)
            len += (size_t)snprintf(extra + len, sizeof extra - len, "%s env %s",
                                    (o->kind & CHW_OPT_SECRET) ? "; else" : "; or", o->env);
        if (o->fallback && len < sizeof extra)
            len += (size_t)snprintf(extra + len, sizeof extra - len, "; default %s", o->fallback);
        if ((o->kind & CHW_OPT_REQUIRED) && len < sizeof extra)
            snprintf(extra + len, sizeof extra - len, "; required");
        fprintf(out, "  %-32s %s%s\n", flag, o->help ? o->help : "", extra);
    }
    fprintf(out, "exit codes: 0 stopped, 1 runtime failure, 64 usage, 69 halted (--exit-on-halt),"
                 " 78 configuration\n");
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

/* "N" or "N/s", N >= 0. */
static int s_parse_rate(const char *s, double *out) {
    char *end;
    double d = strtod(s, &end);
    if (end != s && strcmp(end, "/s") == 0)
        end += 2;
    if (end == s || *end || !(d >= 0) || d > 1e9)
        return -1;
    *out = d;
    return 0;
}

/* Applies one common flag. Returns 0, or -1 when its value is invalid. */
static int s_set_common(s_settings_t *s, int id, const char *arg) {
    chw_config_t *c = &s->cfg;
    long v = 0;
    int bad = 0;
    switch (id) {
        case O_BROKER:
            c->endpoint = arg;
            break;
        case O_JOURNAL:
            s->journal = arg;
            bad = !*arg;
            break;
        case O_NO_JOURNAL:
            s->no_journal = true;
            break;
        case O_WORKER_ID:
            c->worker_id = arg;
            bad = !*arg || strlen(arg) > 255;
            break;
        case O_CONCURRENCY:
            bad = s_parse_long(arg, 1, 100000, &v);
            c->concurrency = (uint32_t)v;
            break;
        case O_MAX_HOST:
            bad = s_parse_long(arg, 1, 100000, &v);
            c->max_host_connections = v;
            break;
        case O_RATE:
        case O_RATE_ALIAS:
            bad = s_parse_rate(arg, &c->rate_per_sender);
            break;
        case O_BURST:
            bad = s_parse_rate(arg, &c->burst);
            break;
        case O_HEARTBEAT:
            bad = s_parse_long(arg, 10, 3600000, &v);
            c->heartbeat_ms = (uint32_t)v;
            break;
        case O_REQ_TIMEOUT:
        case O_CONN_TIMEOUT:
        case O_DRAIN:
            bad = s_parse_long(arg, 1, 3600000, &v);
            if (id == O_REQ_TIMEOUT)
                c->request_timeout_ms = v;
            else if (id == O_CONN_TIMEOUT)
                c->connect_timeout_ms = v;
            else
                c->drain_timeout_ms = (uint32_t)v;
            break;
        case O_POLICY_DIR:
            c->policy_dir = arg;
            break;
        case O_LOG_LEVEL:
            s->log_level = strcmp(arg, "error") == 0  ? S_LOG_ERROR
                           : strcmp(arg, "warn") == 0 ? S_LOG_WARN
                           : strcmp(arg, "info") == 0 ? S_LOG_INFO
                                                      : -1;
            bad = s->log_level < 0;
            break;
        case O_EXIT_ON_HALT:
            s->exit_on_halt = true;
            break;
        case O_KEY_FILE:
            s->key_file = arg;
            break;
        case O_BROKER_KEY_FILE:
            s->broker_key_file = arg;
            break;
        case O_OPS_LISTEN:
            s->ops_listen = arg;
            bad = !*arg;
            break;
        default:
            break;
    }
    return bad ? -1 : 0;
}

/* Fills `longopts` (room for O_COUNT + opts->n + 1) from the common flags and the driver's:
 * val is 256 + i for common flag i, 1024 + j for driver option j. */
static void s_build_longopts(const chw_opts_t *opts, struct option *longopts) {
    size_t k = 0;
    for (int i = 0; i < O_COUNT; i++)
        longopts[k++] = (struct option){
            s_common[i].name, s_common[i].arg ? required_argument : no_argument, NULL, 256 + i};
    for (size_t j = 0; j < opts->n; j++)
        longopts[k++] = (struct option){
            opts->names[j], (opts->defs[j].kind & CHW_OPT_SWITCH) ? no_argument : required_argument,
            NULL, 1024 + (int)j};
    longopts[k] = (struct option){NULL, 0, NULL, 0};
}

/* Checks the driver's table and names its flags. Returns 0, or -1 (logged) for a table that
 * cannot work: too long, a name too long or one that a common flag already has. */
static int s_init_opts(const chw_program_t *p, chw_opts_t *opts) {
    memset(opts, 0, sizeof *opts);
    opts->defs = p->options;
    while (p->options && p->options[opts->n].name) {
        const chw_option_t *o = &p->options[opts->n];
        if (opts->n == S_MAX_OPTIONS) {
            pg_log("the driver declares more than %d options", S_MAX_OPTIONS);
            return -1;
        }
        int len = snprintf(opts->names[opts->n], S_NAME_MAX, "%s%s", o->name,
                           (o->kind & CHW_OPT_SECRET) ? "-file" : "");
        bool clash = len <= 0 || len >= S_NAME_MAX;
        for (int i = 0; i < O_COUNT && !clash; i++)
            clash = strcmp(s_common[i].name, opts->names[opts->n]) == 0;
        for (size_t j = 0; j < opts->n && !clash; j++)
            clash = strcmp(opts->names[j], opts->names[opts->n]) == 0;
        if (clash) {
            pg_log("driver option --%s: its name is taken or too long", opts->names[opts->n]);
            return -1;
        }
        opts->n++;
    }
    return 0;
}

/* Logs "MESSAGE --NAME" with only the flag's name of `arg` ("--auth-token=..." shows as
 * "--auth-token"): what follows '=' may be a secret typed where it does not belong. */
static void s_log_flag(const char *message, const char *arg) {
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    pg_log("%s %s (see --help)", message, pg_log_quoted(name, S_SHOWN).s);
}

/* Refuses a long flag that is not spelled out in full: getopt_long would take "--auth-token X"
 * for "--auth-token-file X" (an abbreviation) and then report the secret as a file it cannot
 * read. Returns 0, or CHW_EXIT_USAGE (logged). */
static int s_check_names(int argc, char **argv, const struct option *longopts) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--", 2) != 0)
            continue;
        size_t len = strcspn(a + 2, "=");
        const struct option *o = longopts;
        while (o->name && !(strlen(o->name) == len && strncmp(o->name, a + 2, len) == 0))
            o++;
        if (!o->name) {
            s_log_flag("unknown or incomplete option", a);
            return CHW_EXIT_USAGE;
        }
        if (o->has_arg == required_argument && !a[2 + len])
            i++; /* its value, whatever it looks like */
    }
    return 0;
}

/* Parses argv into *s. Returns -1 to go on, or the exit code (--help, --version, bad usage). */
static int s_parse_args(int argc, char **argv, const chw_program_t *p, s_settings_t *s) {
    struct option longopts[O_COUNT + S_MAX_OPTIONS + 1];
    s_build_longopts(&s->opts, longopts);
    if (s_check_names(argc, argv, longopts) != 0)
        return CHW_EXIT_USAGE;
    int opt;
    opterr = 0; /* getopt would echo the argument unescaped */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 256 + O_HELP) {
            s_usage(p, &s->opts, stdout);
            return CHW_EXIT_OK;
        }
        if (opt == 256 + O_VERSION) {
            printf("%s %s\n", p->program, PG_VERSION);
            return CHW_EXIT_OK;
        }
        if (opt >= 1024 && opt < 1024 + (int)s->opts.n) {
            s->opts.given[opt - 1024] =
                (s->opts.defs[opt - 1024].kind & CHW_OPT_SWITCH) ? "1" : optarg;
            continue;
        }
        if (opt < 256 || opt >= 256 + O_COUNT) {
            s_log_flag("unknown or incomplete option", argv[optind - 1]);
            return CHW_EXIT_USAGE;
        }
        if (s_set_common(s, opt - 256, optarg) != 0) {
            pg_log("invalid value for --%s: %s", s_common[opt - 256].name,
                   pg_log_quoted(optarg, S_SHOWN).s);
            return CHW_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        pg_log("unexpected argument: %s", pg_log_quoted(argv[optind], S_SHOWN).s);
        return CHW_EXIT_USAGE;
    }
    return -1;
}

/* Reads the first line of `path` into a malloc'd string, surrounding blanks removed; NULL if
 * the file cannot be read or the line is empty. The stack copy is wiped. */
static char *s_read_secret(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[S_SECRET_MAX];
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    char *secret = NULL;
    if (line) {
        size_t len = strlen(buf), start = 0;
        while (len && strchr("\n\r \t", buf[len - 1]))
            buf[--len] = '\0';
        while (start < len && (buf[start] == ' ' || buf[start] == '\t'))
            start++;
        secret = start < len ? strdup(buf + start) : NULL;
    }
    explicit_bzero(buf, sizeof buf);
    return secret;
}

/* Wipes and frees the secrets read. */
static void s_opts_wipe(chw_opts_t *opts) {
    for (size_t i = 0; i < opts->n; i++) {
        if (opts->secret[i]) {
            explicit_bzero(opts->secret[i], strlen(opts->secret[i]));
            free(opts->secret[i]);
            opts->secret[i] = NULL;
        }
        opts->value[i] = NULL;
    }
}

/* Resolves every driver option: flag, else environment, else fallback; a secret's flag names
 * its file. Logs each missing required value and unreadable secret file (never a secret).
 * Returns 0, or CHW_EXIT_CONFIG. */
static int s_resolve_opts(chw_opts_t *opts) {
    int rc = 0;
    for (size_t i = 0; i < opts->n; i++) {
        const chw_option_t *o = &opts->defs[i];
        const char *env = o->env ? getenv(o->env) : NULL;
        const char *what = o->help ? o->help : o->name;
        if (env && !*env)
            env = NULL;
        if ((o->kind & CHW_OPT_SECRET) && opts->given[i]) {
            opts->secret[i] = s_read_secret(opts->given[i]);
            opts->value[i] = opts->secret[i];
            if (!opts->value[i]) {
                pg_log("cannot read %s from --%s %s (missing, unreadable or empty)", what,
                       opts->names[i], pg_log_quoted(opts->given[i], S_SHOWN).s);
                rc = CHW_EXIT_CONFIG;
                continue;
            }
        } else {
            opts->value[i] = opts->given[i] ? opts->given[i] : env ? env : o->fallback;
        }
        if ((o->kind & CHW_OPT_REQUIRED) && (!opts->value[i] || !*opts->value[i])) {
            char env_part[96] = "";
            if (o->env)
                snprintf(env_part, sizeof env_part, "%s or ", o->env);
            pg_log("missing %s: set %s--%s%s", what, env_part, opts->names[i],
                   (o->kind & CHW_OPT_SECRET) ? " FILE" : "");
            rc = CHW_EXIT_CONFIG;
        }
    }
    return rc;
}

/* --- runtime events as log lines --- */

typedef struct {
    const chw_program_t *program;
    void *driver_ctx;
    char identity[128]; /* "account AC…1234", or "" */
    int level;
    bool exit_on_halt, halted;
    pg_logsum_t *folded; /* events that can come by the thousand */
} s_log_ctx_t;

static int s_event_level(chw_event_kind_t kind) {
    switch (kind) {
        case CHW_EV_HALTED:
            return S_LOG_ERROR;
        case CHW_EV_RECONNECTED:
        case CHW_EV_BROKER_HALT:
        case CHW_EV_LEAVE_UNACKED:
        case CHW_EV_DRAIN_TIMEOUT:
        case CHW_EV_HELD_PARTIAL:
        case CHW_EV_BAD_FRAME:
            return S_LOG_WARN;
        default:
            return S_LOG_INFO;
    }
}

static void s_log_halt(s_log_ctx_t *log, const chw_event_t *ev, const char *detail) {
    const char *hint = NULL;
    if (log->program->halt_hint && ev->result)
        hint = log->program->halt_hint(log->driver_ctx, ev->result);
    if (!hint)
        hint = "fix the configuration and restart";
    const char *sep = log->identity[0] ? " for " : "";
    const Pregon__SendRequest *job = ev->job ? ev->job->job : NULL;
    char to[PG_LOG_MASK_LEN];
    if (job)
        pg_log("channel halted: %s%s%s; %s (job %s to %s)", detail, sep, log->identity, hint,
               pg_log_quoted(job->job_id, S_ID_SHOWN).s, pg_log_mask(to, sizeof to, job->contact));
    else
        pg_log("channel halted: %s%s%s; %s", detail, sep, log->identity, hint);
}

static void s_on_event(void *ctx, const chw_event_t *ev) {
    s_log_ctx_t *log = ctx;
    pg_logsum_tick(log->folded); /* the runtime has no tick hook: events drive the summaries */
    if ((ev->kind == CHW_EV_HALTED || ev->kind == CHW_EV_BROKER_HALT) && log->exit_on_halt) {
        log->halted = true;
        s_stop = 1; /* the loop sees it next turn and begins the stop handshake */
    }
    if (s_event_level(ev->kind) > log->level)
        return;
    pg_log_quoted_t quoted = pg_log_quoted(ev->detail, S_SHOWN);
    const char *detail = quoted.s;
    switch (ev->kind) {
        case CHW_EV_CONNECTED:
            pg_log("ready sent to %s", detail);
            break;
        case CHW_EV_RECONNECTED:
            pg_log("broker silent for 3 heartbeats: reconnected to %s", detail);
            break;
        case CHW_EV_HALTED:
            s_log_halt(log, ev, detail);
            break;
        case CHW_EV_BROKER_HALT:
            pg_log("broker halted the channel: %s", detail);
            break;
        case CHW_EV_DRAINING:
            pg_log("stopping: %s", detail);
            break;
        case CHW_EV_LEAVE_ACKED:
            pg_log("the broker acknowledged Leaving %s", detail);
            break;
        case CHW_EV_DRAIN_TIMEOUT:
            pg_log("drain timeout: %s", detail);
            break;
        case CHW_EV_LEFT:
            pg_log("left the broker: %s", detail);
            break;
        case CHW_EV_BAD_FRAME:
            if (log->folded)
                pg_logsum_event(log->folded, "bad frames from the broker",
                                "bad frame from the broker: %s", detail);
            else
                pg_log("bad frame from the broker: %s", detail);
            break;
        default: /* CHW_EV_LEAVE_UNACKED, CHW_EV_HELD_PARTIAL: the detail says it all */
            pg_log("%s", detail);
            break;
    }
}

/* --- the run --- */

static void s_log_summary(const chw_worker_t *worker, int rc) {
    chw_counters_t c;
    chw_worker_counters(worker, &c);
    pg_log("%s: received %llu, sent %llu, failed %llu, retry %llu, unknown %llu, config %llu, "
           "skipped %llu, handed back %llu, reconnects %llu",
           rc == CHW_OK ? "stopped" : chw_strerror(rc), (unsigned long long)c.received,
           (unsigned long long)c.sent, (unsigned long long)c.failed, (unsigned long long)c.retried,
           (unsigned long long)c.unknown, (unsigned long long)c.config_errors,
           (unsigned long long)c.skipped, (unsigned long long)c.handed_back,
           (unsigned long long)c.reconnects);
}

/* Opens the journal (--journal, else the default path) with the worker's incarnation and
 * attaches it. Returns 0, or the exit code after logging why. */
static int s_open_journal(s_settings_t *s, chw_worker_t *worker, chw_journal_t **out) {
    char path[4096];
    const char *state = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
    if (s->journal)
        snprintf(path, sizeof path, "%s", s->journal);
    else if (state && *state && !strchr(state, ':'))
        snprintf(path, sizeof path, "%s/%s.journal", state, s->cfg.worker_id);
    else
        snprintf(path, sizeof path, "/var/lib/pregon/%s.journal", s->cfg.worker_id);
    if (!s->journal && strchr(s->cfg.worker_id, '/')) {
        pg_log("worker id %s contains '/': give --journal FILE",
               pg_log_quoted(s->cfg.worker_id, S_ID_SHOWN).s);
        return CHW_EXIT_CONFIG;
    }
    if (!s->journal && s->cfg.worker_id == s->default_id)
        pg_log("no --worker-id: the default id changes with every process, so a restarted "
               "process does not find this journal; give a stable --worker-id");
    char prev[64] = "";
    bool torn = false;
    int err = 0, sys = 0;
    *out = chw_journal_open(path, chw_worker_incarnation(worker), NULL, 0, prev, sizeof prev, &torn,
                            &err, &sys);
    if (!*out) {
        pg_log("cannot open the journal %s: %s%s%s (give --journal FILE, or --no-journal to run "
               "without one)",
               pg_log_quoted(path, S_SHOWN).s, chw_journal_strerror(err), sys ? ": " : "",
               sys ? strerror(sys) : "");
        return err == CHW_J_ERR_LOCKED ? CHW_EXIT_CONFIG : CHW_EXIT_FAILURE;
    }
    if (torn)
        pg_log("journal %s: a torn last record (cut by a crash) was ignored",
               pg_log_quoted(path, S_SHOWN).s);
    if (s->log_level >= S_LOG_INFO)
        pg_log("journal %s: %zu entr%s left by the previous process%s%s",
               pg_log_quoted(path, S_SHOWN).s, chw_journal_count(*out),
               chw_journal_count(*out) == 1 ? "y" : "ies", prev[0] ? " " : "", prev);
    chw_worker_attach_journal(worker, *out, prev);
    return 0;
}

/* Loads the policies, builds the worker for `driver`, runs it until a stop and logs the
 * summary. Returns the exit code. */
static int s_run(const chw_program_t *p, s_settings_t *s, const chw_driver_t *driver) {
    chw_config_t *cfg = &s->cfg;
    rl_policyset_t *policies = NULL;
    if (cfg->policy_dir) { /* the quiet-hours re-check just before sending */
        char perr[1024];
        policies = rl_policyset_load(cfg->policy_dir, perr, sizeof perr);
        if (!policies) {
            pg_log("%s", perr);
            return CHW_EXIT_CONFIG;
        }
        cfg->recheck = chw_recheck_policy;
        cfg->recheck_ctx = policies;
    }
    s_log_ctx_t log = {.program = p,
                       .driver_ctx = driver->ctx,
                       .level = s->log_level,
                       .exit_on_halt = s->exit_on_halt,
                       .folded = pg_logsum_new(NULL)}; /* NULL (no memory): nothing folded */
    if (p->identity)
        p->identity(driver->ctx, log.identity, sizeof log.identity);
    cfg->on_event = s_on_event;
    cfg->event_ctx = &log;
    cfg->stop_flag = &s_stop;
    int err = CHW_OK, rc_open;
    char kerr[1024];
    pg_curve_t *curve = pg_curve_load(s->key_file, s->broker_key_file, kerr, sizeof kerr);
    if (!curve && kerr[0]) {
        pg_log("%s", kerr);
        pg_logsum_destroy(&log.folded);
        rl_policyset_destroy(&policies);
        return CHW_EXIT_CONFIG;
    }
    cfg->curve = curve;
    chw_ops_t *ops = NULL;
    if (s->ops_listen && s->ops_listen[0]) {
        ops = chw_ops_new(s->ops_listen, p->channel, cfg->worker_id, cfg->concurrency, kerr,
                          sizeof kerr);
        if (!ops) {
            pg_log("--ops-listen %s: %s", pg_log_quoted(s->ops_listen, S_SHOWN).s, kerr);
            pg_curve_destroy(&curve);
            pg_logsum_destroy(&log.folded);
            rl_policyset_destroy(&policies);
            return CHW_EXIT_CONFIG;
        }
        cfg->on_tick = chw_ops_tick;
        cfg->tick_ctx = ops;
        cfg->tick_fd = chw_ops_fd(ops);
        if (s->log_level >= S_LOG_INFO)
            pg_log("ops: /metrics, /healthz and /readyz on port %u", chw_ops_port(ops));
    }
    if (p->queue_s > 0 && cfg->rate_per_sender > 0) {
        double q = p->queue_s * cfg->rate_per_sender;
        uint32_t conc = cfg->concurrency ? cfg->concurrency : 64;
        cfg->sender_queue_max = q < 4 ? 4 : (q > conc ? conc : (uint32_t)q);
    }
    chw_worker_t *worker = chw_worker_new(cfg, driver, &err);
    if (!worker) {
        chw_ops_destroy(&ops);
        pg_curve_destroy(&curve);
        pg_log("cannot start the worker (broker %s): %s", pg_log_quoted(cfg->endpoint, S_SHOWN).s,
               chw_strerror(err));
        pg_logsum_destroy(&log.folded);
        rl_policyset_destroy(&policies);
        return err == CHW_ERR_CONFIG || err == CHW_ERR_ZMQ ? CHW_EXIT_CONFIG : CHW_EXIT_FAILURE;
    }
    chw_journal_t *journal = NULL;
    if (!s->no_journal) {
        rc_open = s_open_journal(s, worker, &journal);
        if (rc_open != 0) {
            chw_worker_destroy(&worker);
            chw_ops_destroy(&ops);
            pg_curve_destroy(&curve);
            pg_logsum_destroy(&log.folded);
            rl_policyset_destroy(&policies);
            return rc_open;
        }
    } else if (s->log_level >= S_LOG_WARN) {
        pg_log("running without a journal (--no-journal): after kill -9 every job this process "
               "held becomes UNKNOWN when its lease expires");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (s->log_level >= S_LOG_INFO)
        pg_log("worker %s (incarnation %s)%s%s, concurrency %u, broker %s, %s%s",
               pg_log_quoted(cfg->worker_id, S_ID_SHOWN).s, chw_worker_incarnation(worker),
               log.identity[0] ? ", " : "", log.identity, cfg->concurrency,
               pg_log_quoted(cfg->endpoint, S_SHOWN).s, curve ? "CURVE key " : "plaintext",
               curve ? pg_curve_name(curve) : "");
    int rc = chw_worker_run(worker);
    pg_logsum_destroy(&log.folded); /* pending summaries first */
    s_log_summary(worker, rc);
    chw_worker_destroy(&worker);
    chw_ops_destroy(&ops); /* after the worker: its loop ticked it */
    chw_journal_close(&journal);
    pg_curve_destroy(&curve); /* after the worker: it reopens its socket with the keys */
    rl_policyset_destroy(&policies);
    if (rc != CHW_OK)
        return CHW_EXIT_FAILURE;
    return log.halted ? CHW_EXIT_HALTED : CHW_EXIT_OK;
}

int chw_main(int argc, char **argv, const chw_program_t *p) {
    /* Keep freed memory in the heap instead of returning it to the kernel and faulting it in
     * again: every job's frames and bodies come and go at thousands a second. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    pg_log_init(p->program);
    static s_settings_t s; /* large (the option names); one per process */
    memset(&s, 0, sizeof s);
    const char *env_broker = getenv("PREGON_BROKER");
    s.key_file = getenv("PREGON_KEY_FILE");
    s.broker_key_file = getenv("PREGON_BROKER_KEY_FILE");
    s.ops_listen = getenv("PREGON_OPS_LISTEN");
    s.cfg = (chw_config_t){
        .channel = p->channel,
        .endpoint = env_broker && *env_broker ? env_broker : "tcp://127.0.0.1:5556",
        .concurrency = 64,
        .heartbeat_ms = 1000,
        .rate_per_sender = p->rate,
        .burst = p->burst,
    };
    s.log_level = S_LOG_INFO;
    if (s_init_opts(p, &s.opts) != 0)
        return CHW_EXIT_CONFIG;
    int rc = s_parse_args(argc, argv, p, &s);
    if (rc >= 0)
        return rc;
    if (s_resolve_opts(&s.opts) != 0) {
        s_opts_wipe(&s.opts);
        return CHW_EXIT_CONFIG;
    }
    if (!s.cfg.worker_id) {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(s.default_id, sizeof s.default_id, "%s-%s-%ld", p->id_prefix, host,
                 (long)getpid());
        s.cfg.worker_id = s.default_id;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        s_opts_wipe(&s.opts);
        pg_log("curl_global_init failed");
        return CHW_EXIT_FAILURE;
    }
    chw_driver_t driver = {0};
    char err[512] = "";
    rc = p->open(&s.opts, &driver, err, sizeof err);
    s_opts_wipe(&s.opts); /* the driver copied what it keeps */
    if (rc != 0) {
        pg_log("%s", err[0] ? err : "the driver refused its options");
        curl_global_cleanup();
        return CHW_EXIT_CONFIG;
    }
    rc = s_run(p, &s, &driver);
    if (p->close)
        p->close(driver.ctx);
    curl_global_cleanup();
    return rc;
}

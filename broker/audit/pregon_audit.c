/* pregon_audit.c — pregon-audit: the durable, tamper-evident archive of the audit streams.
 *
 *   drain    every shard's audit stream into DIR's segments (au_drain.h), until SIGTERM/SIGINT
 *            (--once: until the streams are empty); reconnects to Redis after a failure. With
 *            --ops-listen (or audit.ops_listen) it serves /metrics, /healthz and /readyz (au_ops.h)
 *            from this loop: idle waits poll the ops descriptor, the backlog (records pending,
 *            audit lag) is read from Redis every second and before each scrape
 *   reindex  rebuilds DIR's SQLite index from the segments
 *   keygen   makes the Ed25519 key pair that signs seals, checkpoints and removals
 * Only this file's main loop logs; the library reports through callbacks. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "au_chain.h"
#include "au_drain.h"
#include "au_index.h"
#include "au_ops.h"
#include "brk_config.h"
#include "brk_rauth.h"
#include "pg_log.h"
#include "st_keys.h"

static volatile sig_atomic_t s_stop;
static void s_on_signal(int sig) {
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *to) {
    fprintf(
        to,
        "usage: pregon-audit drain --dir DIR --key FILE [--config pregon.yaml]\n"
        "                    [--redis HOST:PORT | --redis-socket PATH] [--prefix pg] [--shards "
        "16]\n"
        "                    [--redis-user pregon-audit --redis-password-file FILE]\n"
        "                    [--index FILE | --no-index] [--batch 1000] [--idle-ms 100] [--once]\n"
        "                    [--retain-days 730] [--retain JURISDICTION=DAYS]...\n"
        "                    [--ops-listen HOST:PORT [--ops-allow-public]] [--max-lag-s S]\n"
        "       pregon-audit reindex --dir DIR [--index FILE]\n"
        "       pregon-audit keygen --key FILE --pub FILE\n"
        "  DIR/sN/YYYY-MM-DD.jsonl  one segment per shard and day; DIR/index.sqlite the index;\n"
        "  DIR/content/  the bodies sent, once per distinct content. --key: the Ed25519\n"
        "  private key (PEM, mode 0600); pregonctl audit verify checks with the public one.\n"
        "  --ops-listen (audit.ops_listen): /metrics, /healthz, /readyz on a loopback port (0:\n"
        "  any, logged); --max-lag-s (audit.max_lag_s): /readyz fails past this audit lag.\n");
}

static void s_note(void *ctx, const char *line) {
    (void)ctx;
    pg_log("%s", line);
}

typedef struct {
    brk_config_t cfg;
    const char *dir, *key, *pub, *index;
    int no_index, batch, idle_ms, once;
    au_retention_t keep;
} s_args_t;

static int s_parse(int argc, char **argv, s_args_t *a) {
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"redis", required_argument, NULL, 'R'},
                                         {"redis-socket", required_argument, NULL, 'S'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"shards", required_argument, NULL, 'N'},
                                         {"redis-user", required_argument, NULL, 'u'},
                                         {"redis-password-file", required_argument, NULL, 'P'},
                                         {"dir", required_argument, NULL, 'd'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"pub", required_argument, NULL, 'K'},
                                         {"index", required_argument, NULL, 'i'},
                                         {"no-index", no_argument, NULL, 'I'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"idle-ms", required_argument, NULL, 'l'},
                                         {"once", no_argument, NULL, 'o'},
                                         {"retain-days", required_argument, NULL, 'r'},
                                         {"retain", required_argument, NULL, 'j'},
                                         {"ops-listen", required_argument, NULL, 'O'},
                                         {"ops-allow-public", no_argument, NULL, 'A'},
                                         {"max-lag-s", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    char err[1024];
    brk_config_load(&a->cfg, NULL, err, sizeof err); /* defaults */
    a->batch = 1000;
    a->idle_ms = 100;
    a->keep.default_days = AU_RETENTION_FLOOR_DAYS;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
            case 'c':
                if (brk_config_load(&a->cfg, optarg, err, sizeof err) < 0) {
                    fprintf(stderr, "pregon-audit: %s\n", pg_log_quoted(err, 512).s);
                    return 2;
                }
                break;
            case 'R': {
                const char *colon = strrchr(optarg, ':');
                snprintf(a->cfg.redis_host, sizeof a->cfg.redis_host, "%.*s",
                         colon ? (int)(colon - optarg) : (int)strlen(optarg), optarg);
                if (colon)
                    a->cfg.redis_port = atoi(colon + 1);
                a->cfg.redis_socket[0] = '\0';
                break;
            }
            case 'S':
                snprintf(a->cfg.redis_socket, sizeof a->cfg.redis_socket, "%s", optarg);
                break;
            case 'p':
                snprintf(a->cfg.redis_prefix, sizeof a->cfg.redis_prefix, "%s", optarg);
                break;
            case 'N':
                a->cfg.shards = atoi(optarg);
                break;
            case 'u':
                snprintf(a->cfg.redis_user, sizeof a->cfg.redis_user, "%s", optarg);
                break;
            case 'P':
                snprintf(a->cfg.redis_password_file, sizeof a->cfg.redis_password_file, "%s",
                         optarg);
                a->cfg.redis_password[0] = '\0';
                break;
            case 'd':
                a->dir = optarg;
                break;
            case 'k':
                a->key = optarg;
                break;
            case 'K':
                a->pub = optarg;
                break;
            case 'i':
                a->index = optarg;
                break;
            case 'I':
                a->no_index = 1;
                break;
            case 'b':
                a->batch = atoi(optarg);
                break;
            case 'l':
                a->idle_ms = atoi(optarg);
                break;
            case 'o':
                a->once = 1;
                break;
            case 'r':
                a->keep.default_days = atoi(optarg);
                if (a->keep.default_days < AU_RETENTION_FLOOR_DAYS) {
                    fprintf(stderr, "pregon-audit: --retain-days: at least %d (2 years)\n",
                            AU_RETENTION_FLOOR_DAYS);
                    return 2;
                }
                break;
            case 'j':
                if (au_retention_parse(&a->keep, optarg, err, sizeof err) < 0) {
                    fprintf(stderr, "pregon-audit: %s\n", pg_log_quoted(err, 512).s);
                    return 2;
                }
                break;
            case 'O':
                snprintf(a->cfg.audit_ops_listen, sizeof a->cfg.audit_ops_listen, "%s", optarg);
                break;
            case 'A':
                a->cfg.audit_ops_allow_public = 1;
                break;
            case 'L':
                a->cfg.audit_max_lag_s = atoll(optarg);
                if (a->cfg.audit_max_lag_s < 0) {
                    fprintf(stderr, "pregon-audit: --max-lag-s: seconds, 0 or more\n");
                    return 2;
                }
                break;
            case 'h':
                s_usage(stdout);
                exit(0);
            default:
                s_usage(stderr);
                return 2;
        }
    }
    return 0;
}

static int64_t s_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The drain loop's view for its ops endpoint (ops NULL: not served). */
typedef struct {
    au_ops_t *ops;
    au_ops_state_t st;
    au_drain_t *d;
    redisContext **c;
    int64_t backlog_at; /* monotonic ms of the last backlog read */
} s_watch_t;

/* Reads the backlog from Redis (when connected). A failure marks Redis down; the drain round
 * that follows finds out too and reconnects. */
static void s_backlog(s_watch_t *w) {
    if (!w->ops)
        return;
    w->backlog_at = s_mono_ms();
    if (!*w->c)
        return;
    uint64_t pending = 0;
    int64_t oldest = -1, now = 0;
    if (au_drain_backlog(w->d, &pending, &oldest, &now) < 0) {
        if ((*w->c)->err) /* the connection is gone: so is readiness */
            w->st.redis_up = false;
        w->st.backlog_known = false; /* an error reply (ACL?): named by /readyz */
        snprintf(w->st.redis_err, sizeof w->st.redis_err, "%.*s", (int)sizeof w->st.redis_err - 1,
                 au_drain_strerror(w->d));
        return;
    }
    w->st.backlog_known = true;
    w->st.redis_err[0] = '\0';
    w->st.pending = pending;
    w->st.lag_ms = oldest >= 0 && now > oldest ? now - oldest : 0;
}

/* One turn of the ops endpoint: liveness and readiness, the backlog every second, and a fresh
 * text when a scrape waits. */
static void s_watch_turn(s_watch_t *w) {
    if (!w->ops)
        return;
    if (s_mono_ms() - w->backlog_at >= 1000)
        s_backlog(w);
    if (au_ops_wanted(w->ops)) {
        s_backlog(w);
        au_drain_stats_t ds;
        au_drain_stats(w->d, &ds);
        au_ops_publish(w->ops, &w->st, &ds);
    }
    au_ops_turn(w->ops, &w->st);
}

/* Waits ms (or until a signal), answering scrapes meanwhile. */
static void s_wait_ms(s_watch_t *w, int ms) {
    int64_t until = s_mono_ms() + ms;
    for (int64_t left = ms; left > 0 && !s_stop; left = until - s_mono_ms()) {
        struct pollfd pfd = {.fd = w->ops ? au_ops_fd(w->ops) : -1, .events = POLLIN};
        poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        s_watch_turn(w);
    }
}

static void s_redis_down(s_watch_t *w, const char *why) {
    w->st.redis_up = false;
    w->st.backlog_known = false;
    snprintf(w->st.redis_err, sizeof w->st.redis_err, "%.*s", (int)sizeof w->st.redis_err - 1, why);
}

/* The drain loop (its length is the loop's states: connect, attach, rounds, retention). */
static int s_drain(s_args_t *a) {
    if (!a->dir || !a->key) {
        s_usage(stderr);
        return 2;
    }
    char err[1536], index_path[600];
    au_key_t *key = au_key_load_private(a->key, err, sizeof err);
    if (!key) {
        pg_log("%s", err);
        return 2;
    }
    st_keys_t *keys = st_keys_new(a->cfg.redis_prefix, a->cfg.shards);
    au_index_t *index = NULL;
    snprintf(index_path, sizeof index_path, "%s/index.sqlite", a->dir);
    au_drain_opts_t o = {.dir = a->dir,
                         .keys = keys,
                         .key = key,
                         .batch = a->batch,
                         .keep = &a->keep,
                         .note = s_note};
    /* tests only (tests/integration/audit/drain.sh): die between a batch's fsync and its XACK */
    const char *kill_after = getenv("PREGON_AUDIT_TEST_KILL_AFTER");
    o.kill_after = kill_after ? atoi(kill_after) : 0;
    au_drain_t *d = NULL;
    int rc = 1, lock = -1;
    if (!keys) {
        pg_log("prefix must be 1..31 bytes without '{', shards 1..16384");
        goto out;
    }
    /* one drainer per archive: two would interleave their chains */
    char lock_path[600];
    snprintf(lock_path, sizeof lock_path, "%s/lock", a->dir);
    mkdir(a->dir, 0750);
    lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
        pg_log("%s: %s", lock_path,
               lock >= 0 && errno == EWOULDBLOCK ? "another pregon-audit drains this archive"
                                                 : strerror(errno));
        goto out;
    }
    if (!a->no_index) {
        index = au_index_open(a->index ? a->index : index_path, 1, err, sizeof err);
        if (!index) {
            pg_log("index: %s", err);
            goto out;
        }
        o.index = index;
    }
    d = au_drain_new(&o, err, sizeof err);
    if (!d) {
        pg_log("%s", err);
        goto out;
    }
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* Redis gone mid-pipeline: an error to reconnect on, not a death */
    redisContext *c = NULL;
    s_watch_t w = {.d = d, .c = &c, .st = {.shards = st_keys_shards(keys)}};
    s_redis_down(&w, "not connected yet");
    if (a->cfg.audit_ops_listen[0]) {
        au_ops_config_t oc = {.listen = a->cfg.audit_ops_listen,
                              .allow_public = a->cfg.audit_ops_allow_public != 0,
                              .max_lag_ms = a->cfg.audit_max_lag_s * 1000};
        if (!(w.ops = au_ops_new(&oc, err, sizeof err))) {
            pg_log("ops listen %s: %s", a->cfg.audit_ops_listen, err);
            rc = 2;
            goto out;
        }
        pg_log("ops: /metrics, /healthz and /readyz on port %u", au_ops_port(w.ops));
    }
    pg_log("draining %d shards into %s", st_keys_shards(keys), a->dir);
    int64_t next_retention = 0;
    rc = 0;
    while (!s_stop) {
        s_watch_turn(&w);
        if (!c) {
            if (brk_rauth_connect(&a->cfg, NULL, &c, err, sizeof err) != BRK_RAUTH_OK ||
                au_drain_attach(d, c) < 0) {
                pg_log("redis: %s", c ? au_drain_strerror(d) : err);
                s_redis_down(&w, c ? au_drain_strerror(d) : err);
                w.st.connect_failures++;
                if (c)
                    redisFree(c), c = NULL;
                if (a->once) {
                    rc = 3;
                    break;
                }
                s_wait_ms(&w, 1000);
                continue;
            }
            w.st.redis_up = true;
            s_backlog(&w);
        }
        uint64_t drained = 0;
        if (au_drain_round(d, &drained) < 0) {
            pg_log("%s", au_drain_strerror(d));
            w.st.drain_errors++;
            if (c->err) { /* Redis went away: connect again; anything else is fatal */
                s_redis_down(&w, c->errstr);
                redisFree(c), c = NULL;
                continue;
            }
            rc = 1;
            break;
        }
        w.st.redis_up = true;
        int64_t now = s_wall_ms();
        if (now >= next_retention) {
            int removed = 0;
            if (au_drain_retention(d, now, &removed) < 0)
                pg_log("retention: %s", au_drain_strerror(d));
            w.st.removed += (uint64_t)removed;
            next_retention = now + 3600 * 1000;
        }
        if (drained == 0) {
            if (a->once)
                break;
            s_wait_ms(&w, a->idle_ms);
        }
    }
    au_drain_stats_t st;
    au_drain_stats(d, &st);
    pg_log("stopped: %" PRIu64 " records written, %" PRIu64 " duplicates skipped, %" PRIu64
           " acknowledged, %" PRIu64 " segments closed",
           st.written, st.duplicates, st.acked, st.closed);
    if (c)
        redisFree(c);
    au_ops_destroy(&w.ops);
out:
    if (lock >= 0)
        close(lock);
    au_drain_destroy(&d);
    au_index_destroy(&index);
    st_keys_destroy(&keys);
    au_key_destroy(&key);
    return rc;
}

static int s_reindex(s_args_t *a) {
    if (!a->dir) {
        s_usage(stderr);
        return 2;
    }
    char err[1024], path[600];
    snprintf(path, sizeof path, "%s/index.sqlite", a->dir);
    au_index_t *index = au_index_open(a->index ? a->index : path, 1, err, sizeof err);
    if (!index) {
        pg_log("index: %s", err);
        return 1;
    }
    uint64_t added = 0;
    int rc = au_index_rebuild(index, a->dir, &added);
    if (rc < 0)
        pg_log("reindex: %s", au_index_strerror(index));
    else
        pg_log("reindexed %" PRIu64 " records from %s", added, a->dir);
    au_index_destroy(&index);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    pg_log_init("pregon-audit");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static s_args_t a;
    int rc = s_parse(argc - 1, argv + 1, &a);
    if (rc)
        return rc;
    if (strcmp(argv[1], "drain") == 0)
        return s_drain(&a);
    if (strcmp(argv[1], "reindex") == 0)
        return s_reindex(&a);
    if (strcmp(argv[1], "keygen") == 0) {
        char err[1024];
        if (!a.key || !a.pub) {
            s_usage(stderr);
            return 2;
        }
        if (au_key_generate(a.key, a.pub, err, sizeof err) < 0) {
            fprintf(stderr, "pregon-audit: %s\n", err);
            return 1;
        }
        return 0;
    }
    s_usage(stderr);
    return 2;
}

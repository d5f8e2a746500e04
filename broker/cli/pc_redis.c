/* pc_redis.c — `pregonctl redis`: the operator's view of pregon's Redis dataset.
 *
 *   adopt    accept the dataset Redis holds now (after a restore or a loss that was dealt with):
 *            writes a fresh "adopted-" stamp into every shard; pregond admits again
 *   stats    jobs per structure (ready per channel, deferred, retry, leased) and audit records,
 *            summed over every shard
 *   key      the key of a job, a debtor's history or suppressions (for scripts and redis-cli)
 *   audit    every shard's audit records, merged in time order, one JSON object a line
 * Reads the layout (prefix, shards) and the connection from pregon.yaml (--config), or flags. */
#include "pc_redis.h"
#include "pg_log.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "brk_config.h"
#include "brk_rauth.h"
#include "rl_policy.h"
#include "st_keys.h"

typedef pc_conn_t s_conn_t;

static void s_usage(FILE *to) {
    fprintf(to,
            "usage: pregonctl redis adopt|stats|key|audit [--config pregon.yaml]\n"
            "                 [--redis HOST:PORT | --redis-socket PATH] [--prefix pg] [--shards "
            "16]\n" PC_REDIS_CREDENTIAL_USAGE
            "  adopt                 accept the dataset Redis holds now: pregond admits again\n"
            "  stats [--json]        jobs per structure and audit records over every shard\n"
            "  key job TENANT DEBTOR JOB | key history|suppress|events TENANT DEBTOR\n"
            "  key window TENANT DEBTOR CHANNEL CONTACT\n"
            "  key contact CHANNEL CONTACT | key provider CHANNEL PROVIDER_ID | key budget TENANT\n"
            "  audit [--count N]     audit records of every shard, oldest first, as JSON lines\n");
}

/* Connects as the flags say; returns 0, 2 (usage) or 3 (Redis unreachable). */
static int s_open(int argc, char **argv, s_conn_t *out, int *first_arg, int *json, long *count) {
    static const struct option opts[] = {{"config", required_argument, NULL, PC_REDIS_OPT_CONFIG},
                                         {"redis", required_argument, NULL, 'R'},
                                         {"redis-socket", required_argument, NULL, 'S'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"shards", required_argument, NULL, 'N'},
                                         PC_REDIS_CREDENTIAL_OPTIONS,
                                         {"json", no_argument, NULL, 'J'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static brk_config_t cfg;
    if (pc_redis_defaults(&cfg) < 0)
        return 2;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int taken = pc_redis_take(&cfg, c, optarg); /* --config, --redis... */
        if (taken < 0)
            return 2;
        if (taken)
            continue;
        switch (c) {
            case 'J':
                *json = 1;
                break;
            case 'n':
                *count = atol(optarg);
                break;
            case 'h':
                s_usage(stdout);
                exit(0);
            default:
                s_usage(stderr);
                return 2;
        }
    }
    *first_arg = optind;
    return pc_conn_open(&cfg, out);
}

int pc_conn_open(const brk_config_t *cfg, pc_conn_t *out) {
    memset(out, 0, sizeof *out);
    out->keys = st_keys_new(cfg->redis_prefix, cfg->shards);
    if (!out->keys) {
        fprintf(stderr, "pregonctl: prefix must be 1..31 bytes without '{', shards 1..16384\n");
        return 2;
    }
    int rc = pc_redis_connect(cfg, &out->c);
    if (rc == 0 && !(out->fn = st_fn_new(out->c))) {
        fprintf(stderr, "pregonctl: out of memory\n");
        rc = 3;
    }
    if (rc)
        pc_conn_close(out);
    return rc;
}

void pc_conn_close(pc_conn_t *c) {
    st_fn_destroy(&c->fn);
    if (c->c)
        redisFree(c->c);
    c->c = NULL;
    st_keys_destroy(&c->keys);
}

static void s_close(s_conn_t *c) {
    pc_conn_close(c);
}

/* Sum over shards of `cmd KEY` (an integer reply) for the per-shard structure `what`. */
static long long s_sum(s_conn_t *c, const char *cmd, const char *what) {
    const int shards = st_keys_shards(c->keys);
    for (int s = 0; s < shards; s++) {
        char k[ST_KEY_MAX];
        st_key_shared(c->keys, s, what, k, sizeof k);
        redisAppendCommand(c->c, "%s %s", cmd, k);
    }
    long long sum = 0;
    for (int s = 0; s < shards; s++) {
        redisReply *r = NULL;
        if (redisGetReply(c->c, (void **)&r) != REDIS_OK)
            return -1;
        sum += r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        freeReplyObject(r);
    }
    return sum;
}

static int s_stats(s_conn_t *c, int json) {
    json_t *o = json_object();
    for (int ch = RL_CH_SMS; ch <= RL_CH_MESSENGER; ch++) {
        char what[32], name[40];
        snprintf(what, sizeof what, "q:%s", rl_channel_name((rl_channel_t)ch));
        snprintf(name, sizeof name, "ready.%s", rl_channel_name((rl_channel_t)ch));
        json_object_set_new(o, name, json_integer(s_sum(c, "ZCARD", what)));
    }
    json_object_set_new(o, "deferred", json_integer(s_sum(c, "ZCARD", "deferred")));
    json_object_set_new(o, "retry", json_integer(s_sum(c, "ZCARD", "retry")));
    json_object_set_new(o, "leased", json_integer(s_sum(c, "ZCARD", "leases")));
    json_object_set_new(o, "audit", json_integer(s_sum(c, "XLEN", "audit")));
    if (json) {
        char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
        puts(text);
        free(text);
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) printf("%-20s %lld\n", k, (long long)json_integer_value(v));
    }
    json_decref(o);
    return 0;
}

static int s_adopt(s_conn_t *c) {
    unsigned char raw[8] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) {
        if (f)
            fclose(f);
        fprintf(stderr, "pregonctl: cannot read /dev/urandom\n");
        return 1;
    }
    fclose(f);
    char id[48];
    snprintf(id, sizeof id, "adopted-%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2],
             raw[3], raw[4], raw[5], raw[6], raw[7]);
    for (int s = 0; s < st_keys_shards(c->keys); s++) {
        char k[ST_KEY_MAX];
        st_key_shared(c->keys, s, "dataset", k, sizeof k);
        redisReply *r = redisCommand(c->c, "SET %s %s", k, id);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "pregonctl: SET %s: %s\n", k, r ? r->str : c->c->errstr);
            freeReplyObject(r);
            return 1;
        }
        freeReplyObject(r);
    }
    printf("dataset adopted as %s on %d shards: pregond admits again within a second\n", id,
           st_keys_shards(c->keys));
    return 0;
}

int pc_redis_defaults(brk_config_t *cfg) {
    const char *path = getenv("PREGON_CONFIG");
    if (!path || !*path)
        path = access(PC_DEFAULT_CONFIG, R_OK) == 0 ? PC_DEFAULT_CONFIG : NULL;
    if (path)
        return pc_redis_config(cfg, path);
    char err[1024];
    brk_config_load(cfg, NULL, err, sizeof err); /* the built-in defaults */
    return 0;
}

int pc_redis_config(brk_config_t *cfg, const char *path) {
    char err[1024];
    if (brk_config_load(cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(err, PG_LOG_QUOTED_MAX).s);
        return -1;
    }
    if (cfg->redis_password_loose_mode)
        fprintf(stderr,
                "pregonctl: warning: %s holds redis.password and its mode %04o lets others read "
                "it: use redis.password_file (mode 0600) or %s\n",
                pg_log_quoted(path, PG_LOG_QUOTED_MAX).s, cfg->redis_password_loose_mode,
                BRK_RAUTH_ENV);
    return 0;
}

int pc_redis_connect(const brk_config_t *cfg, redisContext **out) {
    char err[1536];
    brk_rauth_result_t r = brk_rauth_connect(cfg, NULL, out, err, sizeof err);
    if (r == BRK_RAUTH_OK)
        return 0;
    fprintf(stderr, "pregonctl: %s\n", pg_log_quoted(err, PG_LOG_QUOTED_MAX).s);
    return r == BRK_RAUTH_SECRET ? 2 : 3;
}

int pc_redis_take(brk_config_t *cfg, int option, const char *arg) {
    switch (option) {
        case PC_REDIS_OPT_CONFIG:
            return pc_redis_config(cfg, arg) < 0 ? -1 : 1;
        case 'R':
        case 'S':
        case 'p':
        case 'N':
        case PC_REDIS_OPT_USER:
        case PC_REDIS_OPT_PASSFILE:
            pc_redis_option(cfg, option, arg);
            return 1;
        default:
            return 0;
    }
}

void pc_redis_option(brk_config_t *cfg, int option, const char *arg) {
    switch (option) {
        case 'R': {
            snprintf(cfg->redis_host, sizeof cfg->redis_host, "%s", arg);
            char *colon = strrchr(cfg->redis_host, ':');
            if (colon) {
                *colon = '\0';
                cfg->redis_port = atoi(colon + 1);
            }
            cfg->redis_socket[0] = '\0';
            break;
        }
        case 'S':
            snprintf(cfg->redis_socket, sizeof cfg->redis_socket, "%s", arg);
            break;
        case 'p':
            snprintf(cfg->redis_prefix, sizeof cfg->redis_prefix, "%s", arg);
            break;
        case 'N':
            cfg->shards = atoi(arg);
            break;
        case PC_REDIS_OPT_USER:
            snprintf(cfg->redis_user, sizeof cfg->redis_user, "%s", arg);
            break;
        case PC_REDIS_OPT_PASSFILE: /* a file given here wins over an inline redis.password */
            snprintf(cfg->redis_password_file, sizeof cfg->redis_password_file, "%s", arg);
            cfg->redis_password[0] = '\0';
            break;
    }
}

static int s_key(s_conn_t *c, int argc, char **argv) {
    char k[ST_KEY_MAX];
    int n = -1;
    if (argc == 4 && strcmp(argv[0], "job") == 0)
        n = st_key_job(c->keys, argv[1], argv[2], argv[3], k, sizeof k);
    else if (argc == 3 && strcmp(argv[0], "history") == 0)
        n = st_key_history(c->keys, argv[1], argv[2], k, sizeof k);
    else if (argc == 3 && strcmp(argv[0], "suppress") == 0) /* the debtor's shard's hash */
        n = st_key_suppress(c->keys, st_keys_shard(c->keys, argv[1], argv[2]), argv[1], k,
                            sizeof k);
    else if (argc == 3 && strcmp(argv[0], "events") == 0)
        n = st_key_events(c->keys, argv[1], argv[2], k, sizeof k);
    else if (argc == 3 && strcmp(argv[0], "contact") == 0)
        n = st_key_contact(c->keys, argv[1], argv[2], k, sizeof k);
    else if (argc == 3 && strcmp(argv[0], "provider") == 0)
        n = st_key_provider(c->keys, argv[1], argv[2], k, sizeof k);
    else if (argc == 5 && strcmp(argv[0], "window") == 0)
        n = st_key_window(c->keys, argv[1], argv[2], argv[3], argv[4], k, sizeof k);
    else if (argc == 2 && strcmp(argv[0], "budget") == 0)
        n = st_key_budget(c->keys, argv[1], k, sizeof k);
    if (n < 0) {
        s_usage(stderr);
        return 2;
    }
    puts(k);
    return 0;
}

/* Stream ids "ms-seq" compare as two numbers. */
static int s_id_cmp(const char *a, const char *b) {
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    if (am != bm)
        return am < bm ? -1 : 1;
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0,
                       bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
    return (as > bs) - (as < bs);
}

static int s_audit(s_conn_t *c, long count) {
    const int shards = st_keys_shards(c->keys);
    redisReply **r = calloc((size_t)shards, sizeof *r);
    size_t *at = calloc((size_t)shards, sizeof *at);
    if (!r || !at)
        return 1;
    for (int s = 0; s < shards; s++) {
        char k[ST_KEY_MAX];
        st_key_shared(c->keys, s, "audit", k, sizeof k);
        r[s] = count > 0 ? redisCommand(c->c, "XRANGE %s - + COUNT %ld", k, count)
                         : redisCommand(c->c, "XRANGE %s - +", k);
    }
    for (long printed = 0; count <= 0 || printed < count; printed++) {
        int best = -1;
        for (int s = 0; s < shards; s++)
            if (r[s] && r[s]->type == REDIS_REPLY_ARRAY && at[s] < r[s]->elements &&
                (best < 0 || s_id_cmp(r[s]->element[at[s]]->element[0]->str,
                                      r[best]->element[at[best]]->element[0]->str) < 0))
                best = s;
        if (best < 0)
            break;
        const redisReply *e = r[best]->element[at[best]++];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(e->element[0]->str));
        json_object_set_new(o, "shard", json_integer(best));
        const redisReply *f = e->element[1];
        for (size_t i = 0; i + 1 < f->elements; i += 2)
            json_object_set_new(o, f->element[i]->str,
                                json_stringn(f->element[i + 1]->str, f->element[i + 1]->len));
        char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
        if (text)
            puts(text);
        free(text);
        json_decref(o);
    }
    for (int s = 0; s < shards; s++)
        freeReplyObject(r[s]);
    free(r);
    free(at);
    return 0;
}

int pc_redis_main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *what = argv[1];
    s_conn_t c = {0};
    int first = 0, json = 0;
    long count = 0;
    int rc = s_open(argc - 1, argv + 1, &c, &first, &json, &count);
    if (rc == 0) {
        int rest = argc - 1 - first;
        char **rargv = argv + 1 + first;
        if (strcmp(what, "adopt") == 0)
            rc = s_adopt(&c);
        else if (strcmp(what, "stats") == 0)
            rc = s_stats(&c, json);
        else if (strcmp(what, "key") == 0)
            rc = s_key(&c, rest, rargv);
        else if (strcmp(what, "audit") == 0)
            rc = s_audit(&c, count);
        else {
            s_usage(stderr);
            rc = 2;
        }
    }
    s_close(&c);
    return rc;
}

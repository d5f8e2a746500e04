/* brk_config.c — reads pregond's YAML configuration (see brk_config.h) with libyaml events. */
#include "brk_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "rl_policy.h"

/* T_PATH: a string naming a file or folder; relative, it is resolved against the folder of the
 * configuration file (s_set), so one config works from any working directory. */
typedef enum { T_STR, T_PATH, T_INT, T_I64, T_CHANNELS } s_type_t;

typedef struct {
    const char *key; /* dotted path */
    s_type_t type;
    size_t off;
    size_t size;
} s_field_t;

#define F(k, t, m)                                                                                 \
    { k, t, offsetof(brk_config_t, m), sizeof(((brk_config_t *)0)->m) }
static const s_field_t s_fields[] = {
    F("redis.host", T_STR, redis_host),
    F("redis.port", T_INT, redis_port),
    F("redis.socket", T_STR, redis_socket),
    F("redis.prefix", T_STR, redis_prefix),
    F("redis.user", T_STR, redis_user),
    F("redis.password_file", T_PATH, redis_password_file),
    F("redis.password", T_STR, redis_password),
    F("redis.shards", T_INT, shards),
    F("broker.instance", T_STR, instance),
    F("channels", T_CHANNELS, channels),
    F("limits.no_worker_warn_s", T_INT, no_worker_warn_s),
    F("sockets.frontend", T_STR, frontend),
    F("sockets.backend", T_STR, backend),
    F("sockets.events", T_STR, events),
    F("sockets.hooks", T_STR, hooks),
    F("hooks.id_ttl_s", T_I64, hooks_id_ttl_s),
    F("hooks.contact_ttl_s", T_I64, hooks_contact_ttl_s),
    F("hooks.early_ttl_s", T_I64, hooks_early_ttl_s),
    F("hooks.seen_ttl_s", T_I64, hooks_seen_ttl_s),
    F("hooks.opt_out_every_channel", T_INT, hooks_opt_out_every_channel),
    F("policies", T_PATH, policies),
    F("templates", T_PATH, templates),
    F("budgets", T_PATH, budgets),
    F("limits.max_batch", T_INT, max_batch),
    F("limits.max_frame_bytes", T_INT, max_frame_bytes),
    F("limits.max_queue", T_I64, max_queue),
    F("dispatch.lease_ms", T_INT, lease_ms),
    F("dispatch.heartbeat_ms", T_INT, heartbeat_ms),
    F("dispatch.max_attempts", T_INT, max_attempts),
    F("dispatch.max_credit", T_INT, max_credit),
    F("dispatch.anonymous_workers", T_INT, anonymous_workers),
    F("dispatch.resend_unknown", T_CHANNELS, resend_unknown),
    F("test.clock_offset_s", T_I64, clock_offset_s),
    F("security.curve", T_INT, curve),
    F("security.secret_key_file", T_PATH, secret_key_file),
    F("security.keys", T_PATH, keys),
    F("log.format", T_STR, log_format),
    F("ops.listen", T_STR, ops_listen),
    F("ops.allow_public", T_INT, ops_allow_public),
    F("ops.gauges_ms", T_INT, ops_gauges_ms),
    F("ops.max_audit_backlog", T_I64, ops_max_audit_backlog),
    F("audit.ops_listen", T_STR, audit_ops_listen),
    F("audit.ops_allow_public", T_INT, audit_ops_allow_public),
    F("audit.max_lag_s", T_I64, audit_max_lag_s),
};
#undef F

static void s_defaults(brk_config_t *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->redis_host, sizeof c->redis_host, "127.0.0.1");
    c->redis_port = 6379;
    snprintf(c->redis_prefix, sizeof c->redis_prefix, "pg");
    c->shards = 16;
    snprintf(c->instance, sizeof c->instance, "pregond");
    c->channels = RL_CH_BIT(RL_CH_SMS);
    c->no_worker_warn_s = 60;
    snprintf(c->frontend, sizeof c->frontend, "tcp://127.0.0.1:5555");
    snprintf(c->backend, sizeof c->backend, "tcp://127.0.0.1:5556");
    snprintf(c->events, sizeof c->events, "tcp://127.0.0.1:5557");
    snprintf(c->hooks, sizeof c->hooks, "tcp://127.0.0.1:5558");
    c->hooks_id_ttl_s = 7 * 86400;
    c->hooks_contact_ttl_s = 400 * 86400;
    c->hooks_early_ttl_s = 600;
    c->hooks_seen_ttl_s = 7 * 86400;
    snprintf(c->policies, sizeof c->policies, "deploy/policies");
    snprintf(c->templates, sizeof c->templates, "deploy/templates.yaml");
    c->max_batch = 1000;
    c->max_frame_bytes = 4 << 20;
    c->max_queue = 1000000;
    c->lease_ms = 30000;
    c->heartbeat_ms = 1000;
    c->max_attempts = 5;
    c->max_credit = 1024;      /* 16 times pregon-sms's default concurrency (64) */
    c->anonymous_workers = 64; /* of the 256 entries: the rest is the keys' reserved room */
    c->resend_unknown = 0;     /* strict: an unknown outcome is never resent (G2) */
    c->curve = 1;              /* plaintext only when asked for (loopback development) */
    c->ops_gauges_ms = 5000;
}

/* Sets field f from the file's value v. dir: the configuration file's folder, with its trailing
 * '/' ("" when the file was named without one: the working directory), prefixed to a relative
 * T_PATH. */
static int s_set(brk_config_t *c, const s_field_t *f, const char *v, const char *dir, char *why,
                 size_t wl) {
    char *base = (char *)c + f->off, *end;
    if (f->type == T_PATH && v[0] && v[0] != '/' && dir[0]) {
        int n = snprintf(base, f->size, "%s%s", dir, v);
        if (n < 0 || (size_t)n >= f->size) {
            snprintf(why, wl, "%s is longer than %zu bytes once resolved against %s", f->key,
                     f->size - 1, dir);
            return -1;
        }
        return 0;
    }
    switch (f->type) {
        case T_STR:
        case T_PATH: /* absolute, empty, or named without a folder: kept as given */
            if (strlen(v) >= f->size) {
                snprintf(why, wl, "value of %s is longer than %zu bytes", f->key, f->size - 1);
                return -1;
            }
            memcpy(base, v, strlen(v) + 1);
            return 0;
        case T_INT:
        case T_I64: {
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || end == v || *end || n < 0 || (f->type == T_INT && n > 1000000000)) {
                snprintf(why, wl, "%s must be a non-negative integer, not \"%s\"", f->key, v);
                return -1;
            }
            if (f->type == T_INT)
                *(int *)base = (int)n;
            else
                *(int64_t *)base = n;
            return 0;
        }
        case T_CHANNELS: { /* "sms,email" or "" */
            uint32_t bits = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
                 tok = strtok_r(NULL, ", ", &save)) {
                rl_channel_t ch = rl_channel_parse(tok);
                if (ch == RL_CH_NONE) {
                    snprintf(why, wl, "unknown channel \"%s\" in %s", tok, f->key);
                    return -1;
                }
                bits |= RL_CH_BIT(ch);
            }
            *(uint32_t *)base = bits;
            return 0;
        }
    }
    return -1;
}

/* The redis section's secret: one source at most; an inline password is noted when the file
 * (fp, still open: the file that was read) lets its group or others read it. */
static int s_check_redis_secret(brk_config_t *c, const char *path, FILE *fp, char *err,
                                size_t err_len) {
    if (c->redis_password[0] && c->redis_password_file[0]) {
        snprintf(err, err_len,
                 "%s: redis.password and redis.password_file are both set: keep one "
                 "(the file)",
                 path);
        return -1;
    }
    struct stat st;
    if (c->redis_password[0] && fstat(fileno(fp), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        c->redis_password_loose_mode = (unsigned)(st.st_mode & 07777);
    return 0;
}

int brk_config_load(brk_config_t *cfg, const char *path, char *err, size_t err_len) {
    s_defaults(cfg);
    if (!path)
        return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    /* relative paths in the file are relative to the file's folder: "etc/pregon.yaml" -> "etc/" */
    char dir[512] = "";
    const char *slash = strrchr(path, '/');
    if (slash) {
        if ((size_t)(slash - path) + 1 >= sizeof dir) {
            snprintf(err, err_len, "%s: the folder name is too long", path);
            fclose(fp);
            return -1;
        }
        memcpy(dir, path, (size_t)(slash - path) + 1);
        dir[slash - path + 1] = '\0';
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    char stack[8][64]; /* mapping keys from the root down */
    int depth = 0, expect_key[8] = {0}, rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, err_len, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
            rc = -1;
            break;
        }
        const yaml_mark_t *m = &ev.start_mark;
        switch (ev.type) {
            case YAML_STREAM_END_EVENT:
                done = 1;
                break;
            case YAML_MAPPING_START_EVENT:
                if (depth >= 7) {
                    snprintf(err, err_len, "%s:%zu:%zu: nested too deeply", path, m->line + 1,
                             m->column + 1);
                    rc = -1;
                } else {
                    expect_key[++depth] = 1;
                }
                break;
            case YAML_MAPPING_END_EVENT:
                depth--;
                if (depth > 0)
                    expect_key[depth] = 1;
                break;
            case YAML_SEQUENCE_START_EVENT:
            case YAML_ALIAS_EVENT:
                snprintf(err, err_len, "%s:%zu:%zu: lists and aliases are not used here", path,
                         m->line + 1, m->column + 1);
                rc = -1;
                break;
            case YAML_SCALAR_EVENT: {
                const char *v = (const char *)ev.data.scalar.value;
                if (depth == 0) {
                    snprintf(err, err_len, "%s:%zu:%zu: the file must be a mapping", path,
                             m->line + 1, m->column + 1);
                    rc = -1;
                } else if (expect_key[depth]) {
                    snprintf(stack[depth], sizeof stack[depth], "%s", v);
                    expect_key[depth] = 0;
                } else {
                    char key[512] = "";
                    for (int i = 1; i <= depth; i++)
                        snprintf(key + strlen(key), sizeof key - strlen(key), "%s%s",
                                 i > 1 ? "." : "", stack[i]);
                    const s_field_t *f = NULL;
                    for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++)
                        if (strcmp(s_fields[i].key, key) == 0)
                            f = &s_fields[i];
                    char why[256];
                    if (!f) {
                        snprintf(err, err_len, "%s:%zu:%zu: unknown setting \"%s\"", path,
                                 m->line + 1, m->column + 1, key);
                        rc = -1;
                    } else if (s_set(cfg, f, v, dir, why, sizeof why) < 0) {
                        snprintf(err, err_len, "%s:%zu:%zu: %s", path, m->line + 1, m->column + 1,
                                 why);
                        rc = -1;
                    }
                    expect_key[depth] = 1;
                }
                break;
            }
            default:
                break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc == 0 && (cfg->max_batch < 1 || cfg->heartbeat_ms < 10 || cfg->lease_ms < 100 ||
                    cfg->max_attempts < 1 || cfg->max_frame_bytes < 1024 || cfg->shards < 1 ||
                    cfg->shards > 16384 || !cfg->instance[0] || cfg->max_credit < 1 ||
                    cfg->max_credit > 100000 || cfg->anonymous_workers < 0 ||
                    cfg->anonymous_workers > 256 || cfg->curve > 1)) {
        snprintf(err, err_len,
                 "%s: limits.max_batch >= 1, dispatch.heartbeat_ms >= 10, dispatch.lease_ms >= "
                 "100, dispatch.max_attempts >= 1, dispatch.max_credit in 1..100000, "
                 "dispatch.anonymous_workers in 0..256, limits.max_frame_bytes >= 1024, "
                 "redis.shards in 1..16384, a broker.instance and security.curve 0 or 1 are "
                 "required",
                 path);
        rc = -1;
    }
    if (rc == 0)
        rc = s_check_redis_secret(cfg, path, fp, err, err_len);
    fclose(fp);
    return rc;
}

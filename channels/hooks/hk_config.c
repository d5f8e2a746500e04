/* hk_config.c — settings table, file reader (libyaml events, as pregond's brk_config) and
 * range checks (see hk_config.h). */
#include "hk_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef enum { T_STR, T_PATH, T_INT } s_type_t;

typedef struct {
    const char *key;
    s_type_t type;
    size_t off;
    size_t size;
    int min, max; /* T_INT */
} s_field_t;

#define F(k, t, m, lo, hi)                                                                         \
    { k, t, offsetof(hk_config_t, m), sizeof(((hk_config_t *)0)->m), lo, hi }
static const s_field_t s_fields[] = {
    F("http.listen", T_STR, listen, 0, 0),
    F("http.public_url", T_STR, public_url, 0, 0),
    F("http.threads", T_INT, threads, 1, 256),
    F("http.max_connections", T_INT, max_connections, 1, 1000000),
    F("http.idle_timeout_s", T_INT, idle_timeout_s, 0, 86400),
    F("http.max_body_bytes", T_INT, max_body_bytes, 256, 1 << 20), /* pregond takes 2 MiB events */
    F("broker.endpoint", T_STR, broker, 0, 0),
    F("broker.heartbeat_ms", T_INT, heartbeat_ms, 10, 600000),
    F("broker.ack_timeout_ms", T_INT, ack_timeout_ms, 1, 600000),
    F("broker.max_in_flight", T_INT, max_in_flight, 1, 10000000),
    F("broker.key_file", T_PATH, curve_key, 0, 0),
    F("broker.broker_key_file", T_PATH, broker_pub, 0, 0),
    F("twilio.auth_tokens_file", T_PATH, twilio_tokens, 0, 0),
    F("whatsapp.app_secret_file", T_PATH, whatsapp_secret, 0, 0),
    F("whatsapp.verify_token_file", T_PATH, whatsapp_verify, 0, 0),
    F("messenger.app_secret_file", T_PATH, messenger_secret, 0, 0),
    F("messenger.verify_token_file", T_PATH, messenger_verify, 0, 0),
    F("voice.url_key_file", T_PATH, voice_url_key, 0, 0),
    F("keywords.file", T_PATH, keywords_file, 0, 0),
    F("email.unsubscribe_key_file", T_PATH, unsub_key_file, 0, 0),
    F("ops.listen", T_STR, ops_listen, 0, 0),
    F("ops.allow_public", T_INT, ops_allow_public, 0, 1),
};
#undef F

void hk_config_defaults(hk_config_t *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8095");
    c->threads = 4;
    c->max_connections = 1024;
    c->idle_timeout_s = 60;
    c->max_body_bytes = 64 << 10;
    snprintf(c->broker, sizeof c->broker, "tcp://127.0.0.1:5558");
    c->heartbeat_ms = 1000;
    c->ack_timeout_ms = 5000;
    c->max_in_flight = 1024;
}

static const s_field_t *s_find(const char *key) {
    for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++)
        if (strcmp(s_fields[i].key, key) == 0)
            return &s_fields[i];
    return NULL;
}

/* Sets f from v; dir (with its trailing '/', or "") prefixes a relative T_PATH. */
static int s_set(hk_config_t *c, const s_field_t *f, const char *v, const char *dir, char *err,
                 size_t errlen) {
    char *base = (char *)c + f->off;
    if (f->type == T_INT) {
        errno = 0;
        char *end;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < f->min || n > f->max) {
            snprintf(err, errlen, "%s must be an integer in %d..%d, not \"%.64s\"", f->key, f->min,
                     f->max, v);
            return -1;
        }
        *(int *)base = (int)n;
        return 0;
    }
    const char *prefix = f->type == T_PATH && v[0] && v[0] != '/' ? dir : "";
    int n = snprintf(base, f->size, "%s%s", prefix, v);
    if (n < 0 || (size_t)n >= f->size) {
        snprintf(err, errlen, "%s is longer than %zu bytes", f->key, f->size - 1);
        base[0] = '\0';
        return -1;
    }
    return 0;
}

int hk_config_set(hk_config_t *cfg, const char *key, const char *value, char *err, size_t errlen) {
    const s_field_t *f = s_find(key);
    if (!f) {
        snprintf(err, errlen, "unknown setting \"%s\"", key);
        return -1;
    }
    return s_set(cfg, f, value, "", err, errlen);
}

/* One scalar event of the file, with the stack of keys above it. */
static int s_scalar(hk_config_t *cfg, char stack[][64], int depth, int *expect_key, const char *v,
                    const char *dir, char *why, size_t wl) {
    if (depth == 0) {
        snprintf(why, wl, "the file must be a mapping");
        return -1;
    }
    if (expect_key[depth]) {
        snprintf(stack[depth], 64, "%s", v);
        expect_key[depth] = 0;
        return 0;
    }
    expect_key[depth] = 1;
    char key[256] = "";
    for (int i = 1; i <= depth; i++)
        snprintf(key + strlen(key), sizeof key - strlen(key), "%s%s", i > 1 ? "." : "", stack[i]);
    const s_field_t *f = s_find(key);
    if (!f) {
        snprintf(why, wl, "unknown setting \"%s\"", key);
        return -1;
    }
    return s_set(cfg, f, v, dir, why, wl);
}

int hk_config_load(hk_config_t *cfg, const char *path, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char dir[512] = "";
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) + 1 < sizeof dir)
        memcpy(dir, path, (size_t)(slash - path) + 1);
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    char stack[4][64];
    int depth = 0, expect_key[4] = {0}, rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
            rc = -1;
            break;
        }
        char why[256] = "";
        switch (ev.type) {
            case YAML_STREAM_END_EVENT:
                done = 1;
                break;
            case YAML_MAPPING_START_EVENT:
                if (depth >= 3 || (depth > 0 && expect_key[depth])) {
                    snprintf(why, sizeof why,
                             depth >= 3 ? "nested too deeply" : "a mapping cannot be a key");
                    rc = -1;
                } else {
                    if (depth > 0)
                        expect_key[depth] = 1; /* the value of the key above is this map */
                    expect_key[++depth] = 1;
                }
                break;
            case YAML_MAPPING_END_EVENT:
                depth--;
                break;
            case YAML_SEQUENCE_START_EVENT:
            case YAML_ALIAS_EVENT:
                snprintf(why, sizeof why, "lists and aliases are not used here");
                rc = -1;
                break;
            case YAML_SCALAR_EVENT:
                rc = s_scalar(cfg, stack, depth, expect_key, (const char *)ev.data.scalar.value,
                              dir, why, sizeof why);
                break;
            default:
                break;
        }
        if (rc < 0 && why[0])
            snprintf(err, errlen, "%s:%zu:%zu: %s", path, ev.start_mark.line + 1,
                     ev.start_mark.column + 1, why);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}

int hk_config_check(const hk_config_t *c, char *err, size_t errlen) {
    if (!c->listen[0] || !c->broker[0]) {
        snprintf(err, errlen, "http.listen and broker.endpoint are required");
        return -1;
    }
    if (c->public_url[0] && strncmp(c->public_url, "http://", 7) != 0 &&
        strncmp(c->public_url, "https://", 8) != 0) {
        snprintf(err, errlen, "http.public_url must start with http:// or https://");
        return -1;
    }
    if (c->ack_timeout_ms < 1 || c->heartbeat_ms < 10 || c->max_in_flight < 1 || c->threads < 1 ||
        c->max_connections < 1 || c->max_body_bytes < 256) {
        snprintf(err, errlen, "out-of-range setting");
        return -1;
    }
    return 0;
}

/* sb_control.c — handlers of the control API (see sb_control.h).
 *
 * JSON in and out through jansson; query arguments through MHD (pg_http_request_query). Every
 * malformed input gets a 400 naming the problem; nothing here can fail a provider request. */
#include "sb_control.h"

#include "sb_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DEFAULT_LIMIT 10000
#define S_MAX_LIMIT     1000000

struct sb_control {
    const sb_env_t *env;
    sb_store_t *store;
    sb_faults_t *faults;
    sb_webhook_t *hooks;
    sb_server_t *server;
};

static void s_bad(pg_http_request_t *req, const char *why) {
    sb_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 400, "error", why));
}

static void s_oom(pg_http_request_t *req) {
    sb_reply_json(req, 500, NULL);
}

/* Strict unsigned parse of a query argument; false when present and malformed. */
static bool s_query_u64(pg_http_request_t *req, const char *name, uint64_t *out) {
    const char *v = pg_http_request_query(req, name);
    if (!v)
        return true;
    if (!*v || *v == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || errno)
        return false;
    *out = n;
    return true;
}

static void s_healthz(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    pg_http_reply_text(req, 200, "ok");
}

static void s_requests_get(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    uint64_t since = 0, limit = S_DEFAULT_LIMIT;
    if (!s_query_u64(req, "since", &since)) {
        s_bad(req, "since must be a sequence number");
        return;
    }
    if (!s_query_u64(req, "limit", &limit) || limit == 0 || limit > S_MAX_LIMIT) {
        s_bad(req, "limit must be between 1 and 1000000");
        return;
    }
    const char *provider = pg_http_request_query(req, "provider");
    json_t *arr =
        sb_store_query(self->store, provider && *provider ? provider : NULL, since, (size_t)limit);
    if (!arr) {
        s_oom(req);
        return;
    }
    sb_reply_json(req, 200, arr);
}

static void s_requests_delete(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    sb_store_reset(self->store);
    sb_reply_json(req, 200, json_pack("{s:b}", "reset", 1));
}

static json_t *s_counts_json(uint64_t queued, uint64_t sent, uint64_t failed, uint64_t dropped) {
    return json_pack("{s:I, s:I, s:I, s:I}", "queued", (json_int_t)queued, "sent", (json_int_t)sent,
                     "failed", (json_int_t)failed, "dropped", (json_int_t)dropped);
}

/* {"queued","sent","failed","dropped","pending","by_kind":{kind:{queued,sent,failed,dropped}}} */
static json_t *s_callbacks_json(sb_webhook_t *hooks) {
    sb_webhook_stats_t w;
    sb_webhook_stats(hooks, &w);
    json_t *o = s_counts_json(w.queued, w.sent, w.failed, w.dropped);
    sb_webhook_kind_stats_t kinds[SB_WEBHOOK_MAX_KINDS];
    size_t n = sb_webhook_kind_stats(hooks, kinds, SB_WEBHOOK_MAX_KINDS);
    json_t *by = json_object();
    for (size_t i = 0; by && i < n && i < SB_WEBHOOK_MAX_KINDS; i++)
        json_object_set_new(
            by, kinds[i].kind,
            s_counts_json(kinds[i].queued, kinds[i].sent, kinds[i].failed, kinds[i].dropped));
    if (o) {
        json_object_set_new(o, "pending", json_integer((json_int_t)w.pending));
        json_object_set_new(o, "by_kind", by ? by : json_object());
    } else {
        json_decref(by);
    }
    return o;
}

static void s_stats(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    json_t *o = sb_store_stats(self->store);
    if (!o) {
        s_oom(req);
        return;
    }
    if (self->hooks)
        json_object_set_new(o, "callbacks", s_callbacks_json(self->hooks));
    json_t *modules = json_object();
    for (size_t i = 0; modules && i < self->env->n_modules; i++) {
        const sb_module_t *m = self->env->modules[i];
        json_t *section = m->stats ? m->stats(self->env->states[i]) : NULL;
        if (section)
            json_object_set_new(modules, m->name, section);
    }
    json_object_set_new(o, "modules", modules);
    json_object_set_new(o, "waiting", json_integer(sb_server_waiting(self->server)));
    sb_reply_json(req, 200, o);
}

/* GET /_sandbox/wait?total=N[&provider=P][&timeout_ms=T]: a long poll that answers once the
 * sandbox has received N requests (of provider P), or when T ms (default 30000) have passed:
 * {"total": n, "reached": bool}. Lets a test or a benchmark await a count without polling. */
#define S_WAIT_STEP_MS 10
static void s_wait(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    uint64_t want = 0, timeout_ms = 30000;
    if (!pg_http_request_query(req, "total") || !s_query_u64(req, "total", &want)) {
        s_bad(req, "total must be a count of requests");
        return;
    }
    if (!s_query_u64(req, "timeout_ms", &timeout_ms) || timeout_ms > 3600000) {
        s_bad(req, "timeout_ms must be between 0 and 3600000");
        return;
    }
    const char *provider = pg_http_request_query(req, "provider");
    uint64_t have = sb_store_count(self->store, provider && *provider ? provider : NULL);
    bool reached = have >= want;
    if (!reached && pg_http_request_age_ms(req) < (int64_t)timeout_ms &&
        !pg_http_request_stopping(req)) {
        pg_http_call_again(req, S_WAIT_STEP_MS);
        return;
    }
    sb_reply_json(req, 200, json_pack("{s:I, s:b}", "total", (json_int_t)have, "reached", reached));
}

static json_t *s_rule_json(const sb_fault_rule_t *r) {
    json_t *o = json_pack("{s:i, s:b}", "count", (int)r->count, "timeout", r->timeout);
    if (!o)
        return NULL;
    if (r->to[0])
        json_object_set_new(o, "to", json_string(r->to));
    if (r->provider[0])
        json_object_set_new(o, "provider", json_string(r->provider));
    if (!r->timeout)
        json_object_set_new(o, "status", json_integer(r->status));
    if (r->error_code)
        json_object_set_new(o, "error_code", json_integer(r->error_code));
    if (r->retry_after >= 0)
        json_object_set_new(o, "retry_after", json_integer(r->retry_after));
    return o;
}

static void s_faults_get(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    sb_fault_rates_t r;
    sb_faults_get_rates(self->faults, &r);
    sb_fault_rule_t rules[64];
    size_t total = sb_faults_script_list(self->faults, rules, 64);
    json_t *script = json_array();
    for (size_t i = 0; script && i < total && i < 64; i++)
        json_array_append_new(script, s_rule_json(&rules[i]));
    json_t *o = json_pack("{s:f, s:f, s:f, s:i, s:i, s:i, s:o, s:i}", "p429", r.p429, "p5xx",
                          r.p5xx, "ptimeout", r.ptimeout, "latency_ms", (int)r.latency_ms,
                          "jitter_ms", (int)r.jitter_ms, "timeout_hold_ms", (int)r.timeout_hold_ms,
                          "script", script, "script_pending", (int)total);
    if (!o) {
        s_oom(req);
        return;
    }
    sb_reply_json(req, 200, o);
}

/* Reads a non-negative integer field; *ok false when present but not one. */
static unsigned s_uint_field(json_t *o, const char *key, unsigned current, bool *ok) {
    json_t *v = json_object_get(o, key);
    if (!v)
        return current;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3600000) {
        *ok = false;
        return current;
    }
    return (unsigned)json_integer_value(v);
}

static double s_prob_field(json_t *o, const char *key, double current, bool *ok) {
    json_t *v = json_object_get(o, key);
    if (!v)
        return current;
    if (!json_is_number(v)) {
        *ok = false;
        return current;
    }
    return json_number_value(v);
}

static void s_faults_post(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    if (!json_is_object(j)) {
        json_decref(j);
        s_bad(req, "expected a JSON object");
        return;
    }
    static const char *const known[] = {
        "p429", "p5xx", "ptimeout", "latency_ms", "jitter_ms", "timeout_hold_ms", "seed"};
    const char *key;
    json_t *value;
    json_object_foreach(j, key, value) {
        bool found = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            found = found || strcmp(key, known[i]) == 0;
        if (!found) {
            char why[128];
            snprintf(why, sizeof why, "unknown field '%.60s'", key);
            json_decref(j);
            s_bad(req, why);
            return;
        }
    }
    sb_fault_rates_t r;
    sb_faults_get_rates(self->faults, &r);
    bool ok = true;
    r.p429 = s_prob_field(j, "p429", r.p429, &ok);
    r.p5xx = s_prob_field(j, "p5xx", r.p5xx, &ok);
    r.ptimeout = s_prob_field(j, "ptimeout", r.ptimeout, &ok);
    r.latency_ms = s_uint_field(j, "latency_ms", r.latency_ms, &ok);
    r.jitter_ms = s_uint_field(j, "jitter_ms", r.jitter_ms, &ok);
    r.timeout_hold_ms = s_uint_field(j, "timeout_hold_ms", r.timeout_hold_ms, &ok);
    json_t *seed = json_object_get(j, "seed");
    if (seed && (!json_is_integer(seed) || json_integer_value(seed) < 0))
        ok = false;
    if (!ok) {
        json_decref(j);
        s_bad(req, "probabilities must be numbers, delays integers in 0..3600000 ms, "
                   "seed a non-negative integer");
        return;
    }
    const char *why = sb_faults_set_rates(self->faults, &r);
    if (why) {
        json_decref(j);
        s_bad(req, why);
        return;
    }
    if (seed)
        sb_faults_reseed(self->faults, (uint64_t)json_integer_value(seed));
    json_decref(j);
    s_faults_get(req, ctx);
}

/* Fills *rule from a JSON object; returns NULL or why it is invalid. */
static const char *s_rule_from_json(json_t *o, sb_fault_rule_t *rule) {
    *rule = (sb_fault_rule_t){.count = 1, .retry_after = -1};
    if (!json_is_object(o))
        return "each rule must be a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "count") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > 1000000000)
                return "count must be an integer between 1 and 1000000000";
            rule->count = (unsigned)json_integer_value(v);
        } else if (strcmp(key, "to") == 0 || strcmp(key, "provider") == 0) {
            char *dst = key[0] == 't' ? rule->to : rule->provider;
            size_t cap = key[0] == 't' ? sizeof rule->to : sizeof rule->provider;
            if (!json_is_string(v) || json_string_length(v) >= cap)
                return "to and provider must be short strings";
            memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        } else if (strcmp(key, "status") == 0 || strcmp(key, "error_code") == 0 ||
                   strcmp(key, "retry_after") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 99999999)
                return "status, error_code and retry_after must be non-negative integers";
            int n = (int)json_integer_value(v);
            if (key[0] == 's')
                rule->status = n;
            else if (key[0] == 'e')
                rule->error_code = n;
            else
                rule->retry_after = n;
        } else if (strcmp(key, "timeout") == 0) {
            if (!json_is_boolean(v))
                return "timeout must be true or false";
            rule->timeout = json_is_true(v);
        } else {
            return "unknown field in rule (count, to, provider, status, error_code, "
                   "retry_after, timeout)";
        }
    }
    return sb_fault_rule_check(rule);
}

static void s_script_post(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    json_t *list = json_is_array(j) ? j : json_pack("[O]", j);
    if (!list) {
        json_decref(j);
        s_oom(req);
        return;
    }
    /* Validate every rule before adding any, so a bad batch changes nothing. */
    size_t n = json_array_size(list);
    sb_fault_rule_t *rules = calloc(n ? n : 1, sizeof(*rules));
    const char *why = rules ? NULL : "out of memory";
    if (!why && n == 0)
        why = "no rules given";
    for (size_t i = 0; !why && i < n; i++)
        why = s_rule_from_json(json_array_get(list, i), &rules[i]);
    for (size_t i = 0; !why && i < n; i++)
        why = sb_faults_script_add(self->faults, &rules[i]);
    free(rules);
    if (list != j)
        json_decref(list);
    json_decref(j);
    if (why) {
        s_bad(req, why);
        return;
    }
    s_faults_get(req, ctx);
}

static void s_script_delete(pg_http_request_t *req, void *ctx) {
    sb_control_t *self = ctx;
    sb_faults_script_clear(self->faults);
    s_faults_get(req, ctx);
}

sb_control_t *sb_control_new(const sb_env_t *env) {
    sb_control_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    *self = (sb_control_t){env, env->store, env->faults, env->hooks, env->server};
    return self;
}

void sb_control_destroy(sb_control_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int sb_control_register(sb_control_t *self, sb_server_t *server) {
    static const sb_control_route_t routes[] = {
        {"GET", "/healthz", PG_HTTP_BODY_NONE, s_healthz},
        {"GET", "/_sandbox/requests", PG_HTTP_BODY_NONE, s_requests_get},
        {"DELETE", "/_sandbox/requests", PG_HTTP_BODY_NONE, s_requests_delete},
        {"GET", "/_sandbox/stats", PG_HTTP_BODY_NONE, s_stats},
        {"GET", "/_sandbox/wait", PG_HTTP_BODY_NONE, s_wait},
        {"GET", "/_sandbox/faults", PG_HTTP_BODY_NONE, s_faults_get},
        {"POST", "/_sandbox/faults", PG_HTTP_BODY_RAW, s_faults_post},
        {"GET", "/_sandbox/script", PG_HTTP_BODY_NONE, s_faults_get},
        {"POST", "/_sandbox/script", PG_HTTP_BODY_RAW, s_script_post},
        {"DELETE", "/_sandbox/script", PG_HTTP_BODY_NONE, s_script_delete},
    };
    return sb_server_control_routes(server, routes, sizeof routes / sizeof routes[0], self);
}

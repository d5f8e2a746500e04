/* api_routes.c — the handlers of pregon-api's routes (see api_routes.h and api/openapi.yaml).
 *
 * POST /v1/jobs turns the body (one job, a JSON array, or NDJSON) into SendRequests with the
 * same mapping as pregonctl submit (pc_job.h) and answers one verdict per job, in order, as
 * pregond answered them; jobs that cannot be sent (not a job, another tenant's, too large) get a
 * verdict made here with the protocol's rules. The read routes go to Redis through the store
 * modules (job hash, audit stream, history, suppressions): pregond is never asked to read. */
#include "api_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "pc_explain.h"
#include "pc_job.h"
#include "pc_redis.h"
#include "pc_time.h"
#include "st_fn.h"
#include "st_suppress.h"

#include <pthread.h>

#define MAX_CONNS 256

static __thread redisContext *tl_redis;
static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static redisContext *s_conns[MAX_CONNS]; /* every thread's, freed by api_routes_done */
static size_t s_n_conns;

void api_routes_done(void) {
    pthread_mutex_lock(&s_mu);
    for (size_t i = 0; i < s_n_conns; i++)
        if (s_conns[i])
            redisFree(s_conns[i]);
    s_n_conns = 0;
    pthread_mutex_unlock(&s_mu);
}

/* Keeps (or, old non-NULL, replaces) this thread's connection in the list. */
static void s_track(redisContext *old, redisContext *c) {
    pthread_mutex_lock(&s_mu);
    size_t i = 0;
    while (i < s_n_conns && s_conns[i] != old)
        i++;
    if (i < s_n_conns || (s_n_conns < MAX_CONNS && (i = s_n_conns++, 1)))
        s_conns[i] = c;
    pthread_mutex_unlock(&s_mu);
}

/* --- answers --- */

static void s_json(pg_http_request_t *req, int status, json_t *o) {
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    pg_http_reply(req, status, "application/json", text, text ? strlen(text) : 0);
}

static void s_error(pg_http_request_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_error(pg_http_request_t *req, int status, const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_json(req, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* The server's own errors (body too large, ...) in the same form. */
static void s_on_error(pg_http_request_t *req, int status, const char *message, void *ctx) {
    (void)ctx;
    const char *code = status == 413   ? "body-too-large"
                       : status == 400 ? "bad-request"
                       : status == 415 ? "unsupported-media-type"
                       : status == 503 ? "stopping"
                                       : "internal";
    s_error(req, status, code, "%s", message ? message : "error");
}

/* The request's token grant, or NULL after answering 401 / 429. */
static const api_token_t *s_auth(pg_http_request_t *req, api_ctx_t *ctx) {
    const char *h = pg_http_request_header(req, "Authorization");
    const api_token_t *t = NULL;
    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        t = api_tokens_find(ctx->tokens, h + 7 + strspn(h + 7, " "));
    if (!t) {
        pg_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"pregon\"");
        s_error(req, 401, "unauthorized", "%s",
                h ? "the bearer token is not known" : "Authorization: Bearer TOKEN required");
        return NULL;
    }
    int retry = 1;
    if (!api_tokens_take(ctx->tokens, t, pg_http_request_arrival_ms(req), &retry)) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        pg_http_add_header(req, "Retry-After", ra);
        s_error(req, 429, "rate-limited", "too many requests for this token: retry in %d s", retry);
        return NULL;
    }
    return t;
}

/* The tenant a read names (?tenant=, or the token's only one), or NULL after answering. */
static const char *s_tenant(pg_http_request_t *req, const api_token_t *t) {
    const char *tenant = pg_http_request_query(req, "tenant");
    if (!tenant || !*tenant) {
        if (api_token_n_tenants(t) == 1 && strcmp(api_token_tenant(t, 0), "*") != 0)
            return api_token_tenant(t, 0);
        s_error(req, 400, "tenant-required", "?tenant= is required: this token has several");
        return NULL;
    }
    if (!api_token_allows(t, tenant)) {
        s_error(req, 403, "forbidden-tenant", "this token may not read tenant %.64s", tenant);
        return NULL;
    }
    return tenant;
}

static redisContext *s_redis(pg_http_request_t *req, api_ctx_t *ctx) {
    if (tl_redis && tl_redis->err) {
        redisContext *dead = tl_redis;
        s_track(dead, NULL);
        redisFree(dead);
        tl_redis = NULL;
    }
    if (!tl_redis) {
        redisContext *c = NULL;
        if (pc_redis_connect(ctx->redis_cfg, &c) != 0) {
            s_error(req, 503, "redis-unavailable", "Redis is unreachable");
            return NULL;
        }
        s_track(NULL, c);
        tl_redis = c;
    }
    return tl_redis;
}

/* --- POST /v1/jobs --- */

/* The body's jobs as a JSON array (one object, an array, or NDJSON: one line each, a line that
 * is not JSON kept as a string holding the parser's message); NULL when the body is none. */
static json_t *s_body_jobs(const char *body, size_t len, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *all = json_loadb(body, len, 0, &jerr);
    if (json_is_array(all))
        return all;
    if (json_is_object(all)) {
        json_t *one = json_array();
        json_array_append_new(one, all);
        return one;
    }
    json_decref(all);
    if (!memchr(body, '\n', len)) {
        snprintf(err, errlen, "not JSON: %s", jerr.text);
        return NULL;
    }
    json_t *list = json_array();
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *q = p + strspn(p, " \t\r");
        if (q < p + n && *q != '#') {
            json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
            json_array_append_new(list, o ? o : json_string(jerr.text));
        }
        p += n + 1;
    }
    return list;
}

static json_t *s_local(const char *job_id, const char *rule, const char *reason,
                       const char *detail) {
    json_t *v = pc_job_local_verdict(job_id, rule, reason);
    if (detail)
        json_object_set_new(v, "detail", json_string(detail));
    return v;
}

/* Builds the jobs to send; out[i] is the verdict slot of job i (NULL: sent). */
static size_t s_prepare(json_t *list, const api_token_t *t, Pregon__SendRequest **send,
                        json_t **out) {
    size_t i, n = 0;
    json_t *o;
    char err[256];
    json_array_foreach(list, i, o) {
        out[i] = NULL;
        if (json_is_string(o)) {
            out[i] = s_local("", "job.json", "bad-json", json_string_value(o));
            continue;
        }
        if (json_is_object(o) && !json_object_get(o, "tenant") && api_token_n_tenants(t) == 1 &&
            strcmp(api_token_tenant(t, 0), "*") != 0)
            json_object_set_new(o, "tenant", json_string(api_token_tenant(t, 0)));
        Pregon__SendRequest *r = pc_job_from_json(o, err, sizeof err);
        json_t *id = json_object_get(o, "job_id");
        const char *jid = json_is_string(id) ? json_string_value(id) : "";
        if (!r) {
            out[i] = s_local(jid, "job.json", "bad-field", err);
            continue;
        }
        if (!api_token_allows(t, r->tenant)) { /* as pregond answers a key's foreign tenant */
            out[i] = s_local(r->job_id, "auth.tenant", "tenant-forbidden", NULL);
            pregon__send_request__free_unpacked(r, NULL);
            continue;
        }
        send[n++] = r;
    }
    return n;
}

static void s_post_jobs(pg_http_request_t *req, void *arg) {
    api_ctx_t *ctx = arg;
    const api_token_t *t = s_auth(req, ctx);
    if (!t)
        return;
    size_t len = 0;
    const char *body = pg_http_request_body(req, &len);
    char err[256];
    json_t *list = body ? s_body_jobs(body, len, err, sizeof err) : NULL;
    if (!list) {
        s_error(req, 400, "bad-json", "%s", body ? err : "the body holds no job");
        return;
    }
    size_t n = json_array_size(list);
    if (n == 0 || n > ctx->max_jobs) {
        json_decref(list);
        s_error(req, n ? 413 : 400, n ? "too-many-jobs" : "no-jobs",
                "a request holds 1..%zu jobs, this one %zu", ctx->max_jobs, n);
        return;
    }
    Pregon__SendRequest **send = calloc(n, sizeof *send);
    json_t **local = calloc(n, sizeof *local), *answered = json_array();
    size_t ns = s_prepare(list, t, send, local);
    int rc = ns ? api_front_submit(ctx->front, send, ns, answered, err, sizeof err) : 0;
    json_t *verdicts = json_array(), *counts = json_object();
    for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
        json_t *v = local[i] ? local[i] : json_incref(json_array_get(answered, k++));
        const char *code = json_string_value(json_object_get(v, "verdict"));
        json_int_t c = json_integer_value(json_object_get(counts, code));
        json_object_set_new(counts, code, json_integer(c + 1));
        json_array_append_new(verdicts, v);
        local[i] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        json_decref(local[i]);
    for (size_t i = 0; i < ns; i++)
        pregon__send_request__free_unpacked(send[i], NULL);
    free(send);
    free(local);
    json_decref(answered);
    json_decref(list);
    if (rc != 0) {
        json_decref(verdicts);
        json_decref(counts);
        s_error(req, 503, "pregond-unavailable",
                "%s: nothing is known of these jobs' fate; "
                "submit them again (idempotent)",
                err);
        return;
    }
    s_json(req, 200, json_pack("{s:o, s:o}", "verdicts", verdicts, "counts", counts));
}

/* --- GET /v1/jobs/{id} --- */

static const char *const s_job_fields[] = {"s", "v", "r", "u", "att", "at", "ch", "pid", "pcode"};
#define N_JOB_FIELDS (sizeof s_job_fields / sizeof *s_job_fields)

/* The audit records of one job in its shard's stream, from about its admission on (a bounded
 * scan: 20 pages of 1,000 records). */
static json_t *s_transitions(redisContext *rc, const char *stream, long long from_ms,
                             const char *tenant, const char *debtor, const char *job) {
    json_t *list = json_array();
    char start[48];
    snprintf(start, sizeof start, "%lld", from_ms > 60000 ? from_ms - 60000 : 0);
    for (int page = 0; page < 20; page++) {
        redisReply *r = redisCommand(rc, "XRANGE %s %s + COUNT 1000", stream, start);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            if (r)
                freeReplyObject(r);
            break;
        }
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i], *kv = e->element[1];
            json_t *rec = json_object();
            for (size_t k = 0; k + 1 < kv->elements; k += 2)
                json_object_set_new(rec, kv->element[k]->str,
                                    json_stringn(kv->element[k + 1]->str, kv->element[k + 1]->len));
            const char *j = json_string_value(json_object_get(rec, "job")),
                       *tn = json_string_value(json_object_get(rec, "tenant")),
                       *db = json_string_value(json_object_get(rec, "debtor"));
            const char *to = json_string_value(json_object_get(rec, "to"));
            /* CONTENT records are evidence of what was said (pregon-audit keeps them), not
             * transitions, and may hold the rendered body: not answered here */
            if (j && tn && db && !strcmp(j, job) && !strcmp(tn, tenant) && !strcmp(db, debtor) &&
                !(to && !strcmp(to, "CONTENT")))
                json_array_append_new(list, rec);
            else
                json_decref(rec);
        }
        snprintf(start, sizeof start, "(%s", r->element[r->elements - 1]->element[0]->str);
        size_t got = r->elements;
        freeReplyObject(r);
        if (got < 1000)
            break;
    }
    return list;
}

static void s_get_job(pg_http_request_t *req, void *arg) {
    api_ctx_t *ctx = arg;
    const api_token_t *t = s_auth(req, ctx);
    const char *tenant = t ? s_tenant(req, t) : NULL, *job = pg_http_request_capture(req, 0),
               *debtor = pg_http_request_query(req, "debtor");
    if (!tenant)
        return;
    if (!debtor || !*debtor) {
        s_error(req, 400, "debtor-required",
                "?debtor= is required: a job's key lives with its debtor");
        return;
    }
    redisContext *rc = s_redis(req, ctx);
    if (!rc)
        return;
    char key[ST_KEY_MAX], stream[ST_KEY_MAX];
    st_key_job(ctx->keys, tenant, debtor, job, key, sizeof key);
    st_key_shared(ctx->keys, st_keys_shard(ctx->keys, tenant, debtor), "audit", stream,
                  sizeof stream);
    redisReply *r = redisCommand(rc, "HMGET %s s v r u att at ch pid pcode", key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != N_JOB_FIELDS) {
        if (r)
            freeReplyObject(r);
        s_error(req, 503, "redis-unavailable", "Redis: %s", rc->errstr);
        return;
    }
    if (r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        s_error(req, 404, "job-not-found", "no job %.128s of debtor %.128s", job, debtor);
        return;
    }
    static const char *const names[] = {"state",   "first_verdict", "rule",
                                        "until",   "attempts",      "admitted_at_ms",
                                        "channel", "provider_id",   "provider_code"};
    json_t *o = json_pack("{s:s, s:s, s:s}", "job_id", job, "tenant", tenant, "debtor_id", debtor);
    for (size_t i = 0; i < N_JOB_FIELDS; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i]->len)
            json_object_set_new(o, names[i], json_stringn(r->element[i]->str, r->element[i]->len));
    long long at = r->element[5]->type == REDIS_REPLY_STRING ? atoll(r->element[5]->str) : 0;
    freeReplyObject(r);
    json_object_set_new(o, "transitions", s_transitions(rc, stream, at, tenant, debtor, job));
    s_json(req, 200, o);
}

/* --- GET /v1/debtors/{id}/contacts --- */

static void s_get_contacts(pg_http_request_t *req, void *arg) {
    api_ctx_t *ctx = arg;
    const api_token_t *t = s_auth(req, ctx);
    const char *tenant = t ? s_tenant(req, t) : NULL;
    if (!tenant)
        return;
    pc_explain_query_t q = {tenant,
                            pg_http_request_capture(req, 0),
                            pg_http_request_query(req, "channel"),
                            pg_http_request_query(req, "jurisdiction"),
                            pg_http_request_query(req, "time_zone"),
                            pg_http_request_query(req, "debt_id"),
                            pg_http_request_query(req, "contact"),
                            pg_http_request_query(req, "role"),
                            time(NULL)};
    const char *at = pg_http_request_query(req, "at");
    if (!q.channel || !q.jurisdiction || !q.tz) {
        s_error(req, 400, "bad-query", "channel, jurisdiction and time_zone are required");
        return;
    }
    if (at && pc_time_parse(at, &q.at) < 0) {
        s_error(req, 400, "bad-query", "at must be RFC 3339 with an offset");
        return;
    }
    redisContext *rc = s_redis(req, ctx);
    if (!rc)
        return;
    json_t *o = NULL;
    char err[512];
    int got = pc_explain_decide(rc, ctx->keys, ctx->policies, &q, &o, err, sizeof err);
    if (got == 2)
        s_error(req, 400, "bad-query", "%s", err);
    else if (got != 0)
        s_error(req, 503, "redis-unavailable", "%s", err);
    else {
        json_object_set_new(o, "tenant", json_string(tenant));
        json_object_set_new(o, "debtor_id", json_string(q.debtor));
        json_object_set_new(o, "channel", json_string(q.channel));
        s_json(req, 200, o);
    }
}

/* --- POST /v1/suppressions --- */

static void s_post_suppression(pg_http_request_t *req, void *arg) {
    api_ctx_t *ctx = arg;
    const api_token_t *t = s_auth(req, ctx);
    if (!t)
        return;
    size_t len = 0;
    const char *body = pg_http_request_body(req, &len);
    json_error_t jerr;
    json_t *o = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    const char *tenant = json_string_value(json_object_get(o, "tenant"));
    if (!tenant && api_token_n_tenants(t) == 1 && strcmp(api_token_tenant(t, 0), "*") != 0)
        tenant = api_token_tenant(t, 0);
    if (!json_is_object(o)) {
        json_decref(o);
        s_error(req, 400, "bad-json", "want a JSON object: %s", body ? jerr.text : "no body");
        return;
    }
    if (!tenant || !api_token_allows(t, tenant)) {
        json_decref(o);
        s_error(req, tenant ? 403 : 400, tenant ? "forbidden-tenant" : "tenant-required",
                "this token may not change that tenant's suppressions");
        return;
    }
    char who[96];
    snprintf(who, sizeof who, "api:%s", api_token_name(t));
    st_sup_t s = {tenant,
                  st_sup_scope_parse(json_string_value(json_object_get(o, "scope"))),
                  json_string_value(json_object_get(o, "value")),
                  json_string_value(json_object_get(o, "channel")),
                  json_string_value(json_object_get(o, "rule")),
                  who,
                  json_string_value(json_object_get(o, "why"))};
    const char *why = NULL;
    if (!s.scope || !s.value || st_sup_validate(&s, true, &why) < 0) {
        s_error(req, 400, "bad-suppression", "%s",
                why ? why : "scope (contact, debtor, debt) and value are required");
        json_decref(o);
        return;
    }
    redisContext *rc = s_redis(req, ctx);
    st_fn_t *fn = rc ? st_fn_new(rc) : NULL;
    st_suppress_t *sup = fn ? st_suppress_new(rc, ctx->keys, fn) : NULL;
    st_sup_result_t res;
    int got = sup ? st_suppress_add(sup, &s, json_is_true(json_object_get(o, "replace")),
                                    pg_http_request_arrival_ms(req), &res)
                  : -1;
    if (got == 0)
        s_json(req, 200,
               json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "outcome",
                         st_sup_outcome_name(res.outcome), "rule", res.rule, "tenant", tenant,
                         "scope", st_sup_scope_name(s.scope), "value", s.value, "channel",
                         s.channel ? s.channel : "*"));
    else if (rc)
        s_error(req, 503, "redis-unavailable", "%s", sup ? st_suppress_strerror(sup) : "no memory");
    st_suppress_destroy(&sup);
    st_fn_destroy(&fn);
    json_decref(o);
}

/* --- GET /v1/events --- */

typedef struct {
    uint64_t since;
    int64_t deadline_ms;
    const api_token_t *token;
    const char *only; /* ?tenant= */
} s_wait_t;

static bool s_allow(const char *tenant, void *arg) {
    const s_wait_t *w = arg;
    return api_token_allows(w->token, tenant) && (!w->only || strcmp(w->only, tenant) == 0);
}

/* The events as SSE: "id: SEQ\nevent: TYPE\ndata: JSON\n\n" each. */
static void s_sse(pg_http_request_t *req, json_t *list, uint64_t next, uint64_t lost) {
    size_t cap = 256, len = 0, i;
    json_t *e;
    json_array_foreach(list, i, e) {
        cap += json_string_length(e) + 96;
    }
    char *buf = malloc(cap);
    len += (size_t)snprintf(buf + len, cap - len, "retry: 100\n");
    if (lost)
        len += (size_t)snprintf(buf + len, cap - len, ": %llu events lost\n",
                                (unsigned long long)lost);
    json_array_foreach(list, i, e) {
        json_t *o = json_loads(json_string_value(e), 0, NULL);
        len +=
            (size_t)snprintf(buf + len, cap - len, "id: %lld\nevent: %s\ndata: %s\n\n",
                             (long long)json_integer_value(json_object_get(o, "seq")),
                             json_string_value(json_object_get(o, "type")), json_string_value(e));
        json_decref(o);
    }
    if (json_array_size(list) == 0) /* the id a reconnecting EventSource sends back */
        len += (size_t)snprintf(buf + len, cap - len, "id: %llu\n: no events\n\n",
                                (unsigned long long)next);
    pg_http_add_header(req, "Cache-Control", "no-store");
    pg_http_reply(req, 200, "text/event-stream", buf, len);
}

static void s_get_events(pg_http_request_t *req, void *arg) {
    api_ctx_t *ctx = arg;
    s_wait_t *w = pg_http_request_data(req);
    if (!w) {
        const api_token_t *t = s_auth(req, ctx);
        if (!t)
            return;
        const char *only = pg_http_request_query(req, "tenant");
        if (only && !api_token_allows(t, only)) {
            s_error(req, 403, "forbidden-tenant", "this token may not read tenant %.64s", only);
            return;
        }
        const char *since = pg_http_request_header(req, "Last-Event-ID");
        if (!since)
            since = pg_http_request_query(req, "since");
        const char *wait = pg_http_request_query(req, "wait_ms");
        long wait_ms = wait ? strtol(wait, NULL, 10) : (long)ctx->wait_ms;
        if (wait_ms < 0 || wait_ms > 60000)
            wait_ms = ctx->wait_ms;
        w = calloc(1, sizeof *w);
        w->since = since ? strtoull(since, NULL, 10) : api_events_head(ctx->events);
        w->deadline_ms = pg_http_request_arrival_ms(req) + wait_ms;
        w->token = t;
        w->only = only;
        pg_http_request_set_data(req, w, free);
    }
    json_t *list = json_array();
    uint64_t next = w->since, lost = 0;
    api_events_read(ctx->events, w->since, 1000, s_allow, w, list, &next, &lost);
    int64_t now = pg_http_request_arrival_ms(req) + pg_http_request_age_ms(req);
    if (json_array_size(list) || lost || now >= w->deadline_ms || pg_http_request_stopping(req))
        s_sse(req, list, next, lost);
    else {
        w->since = next; /* what this token may not see is not looked at again */
        pg_http_call_again(req, 50);
    }
    json_decref(list);
}

static void s_healthz(pg_http_request_t *req, void *arg) {
    (void)arg;
    s_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

int api_routes_add(pg_http_t *http, api_ctx_t *ctx) {
    const pg_http_route_t routes[] = {
        {"POST", "/v1/jobs", PG_HTTP_BODY_RAW, s_post_jobs, s_on_error, ctx},
        {"GET", "/v1/jobs/{id}", PG_HTTP_BODY_NONE, s_get_job, s_on_error, ctx},
        {"GET", "/v1/debtors/{id}/contacts", PG_HTTP_BODY_NONE, s_get_contacts, s_on_error, ctx},
        {"POST", "/v1/suppressions", PG_HTTP_BODY_RAW, s_post_suppression, s_on_error, ctx},
        {"GET", "/v1/events", PG_HTTP_BODY_NONE, s_get_events, s_on_error, ctx},
        {"GET", "/healthz", PG_HTTP_BODY_NONE, s_healthz, s_on_error, ctx},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (pg_http_route(http, &routes[i]) < 0)
            return -1;
    return 0;
}

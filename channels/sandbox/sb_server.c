/* sb_server.c — fault plan, recording and latency around provider handlers (see sb_server.h).
 *
 * Each provider route is registered on pg_http with a wrapper handler and error callback whose
 * context names the provider and the module's handler. The wrapper keeps a small per-request
 * state (the summary and the outcome) as the request's data, records the request once it has
 * an answer, then asks pg_http to send that answer after the drawn latency, or to close the
 * connection unanswered after the hold time when the plan says "timeout". */
#include "sb_server.h"

#include "sb_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_ROUTES 64

typedef struct {
    sb_server_t *server;
    const sb_provider_t *provider;
    pg_http_handler_fn fn;
    void *ctx;
} s_route_t;

struct sb_server {
    pg_http_t *http;
    sb_store_t *store;
    sb_faults_t *faults;
    s_route_t routes[S_MAX_ROUTES];
    size_t n_routes;
};

/* Per provider request. */
typedef struct {
    sb_summary_t summary;
    int error_code;
    char sid[64];
    bool held;
    bool recorded;
} s_state_t;

sb_server_t *sb_server_new(const sb_server_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->store || !cfg->faults) {
        snprintf(err, errlen, "invalid server configuration");
        return NULL;
    }
    sb_server_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->store = cfg->store;
    self->faults = cfg->faults;
    if (!(self->http = pg_http_new(&cfg->http, err, errlen))) {
        free(self);
        return NULL;
    }
    return self;
}

void sb_server_destroy(sb_server_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_http_destroy(&(*self_p)->http);
    free(*self_p);
    *self_p = NULL;
}

/* The request's state, created on first use; NULL when out of memory. */
static s_state_t *s_state(pg_http_request_t *req) {
    s_state_t *st = pg_http_request_data(req);
    if (!st && (st = calloc(1, sizeof(*st))))
        pg_http_request_set_data(req, st, free);
    return st;
}

void sb_request_set_outcome(pg_http_request_t *req, int error_code, const char *sid) {
    s_state_t *st = pg_http_request_data(req);
    if (!st)
        return;
    st->error_code = error_code;
    snprintf(st->sid, sizeof st->sid, "%s", sid ? sid : "");
}

static char *s_params_json(pg_http_request_t *req) {
    json_t *j = NULL;
    size_t len = 0;
    const char *raw = pg_http_request_body(req, &len);
    if (pg_http_request_form(req))
        j = sb_json_form(pg_http_request_form(req));
    else if (raw)
        j = json_loadb(raw, len, 0, NULL);
    if (!j)
        return NULL;
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* Stores the request once. */
static void s_record(const s_route_t *r, pg_http_request_t *req, s_state_t *st) {
    if (!st || st->recorded)
        return;
    st->recorded = true;
    char *params = s_params_json(req);
    sb_record_t rec = {
        .provider = r->provider->name,
        .method = pg_http_request_method(req),
        .path = pg_http_request_path(req),
        .account = st->summary.account,
        .to = st->summary.to,
        .from = st->summary.from,
        .body = st->summary.body,
        .sid = st->sid[0] ? st->sid : NULL,
        .params_json = params,
        .status = st->held ? 0 : pg_http_request_status(req),
        .error_code = st->error_code,
        .arrival_ms = pg_http_request_arrival_ms(req),
    };
    sb_store_add(r->server->store, &rec);
    free(params);
}

static void s_render(const s_route_t *r, pg_http_request_t *req, int status, int code,
                     const char *message) {
    const sb_provider_t *p = r->provider;
    if (p->render_error)
        p->render_error(req, status, code, message, p->ctx);
    else
        pg_http_reply_error(req, status, message);
}

/* The wrapper around every provider handler. */
static void s_provider_call(pg_http_request_t *req, void *ctx) {
    const s_route_t *r = ctx;
    sb_faults_t *faults = r->server->faults;
    s_state_t *st = s_state(req);
    if (!st) {
        s_render(r, req, 500, 0, "out of memory");
        return;
    }
    if (r->provider->summarize)
        r->provider->summarize(req, &st->summary, r->provider->ctx);
    sb_fault_t f = sb_faults_decide(faults, r->provider->name, st->summary.to);
    if (f.kind == SB_FAULT_TIMEOUT) {
        st->held = true;
        s_record(r, req, st);
        pg_http_close_after(req, sb_faults_hold_ms(faults));
        return;
    }
    if (f.kind == SB_FAULT_STATUS) {
        s_render(r, req, f.status, f.error_code, NULL);
        if (f.retry_after >= 0) {
            char secs[16];
            snprintf(secs, sizeof secs, "%d", f.retry_after);
            pg_http_add_header(req, "Retry-After", secs);
        }
    } else {
        r->fn(req, r->ctx);
    }
    if (!pg_http_request_status(req))
        s_render(r, req, 500, 0, "handler produced no response");
    s_record(r, req, st);
    pg_http_reply_after(req, sb_faults_delay_ms(faults));
}

/* Errors pg_http found (body too large, malformed form): in the provider's format, recorded,
 * and as slow as any other answer. */
static void s_provider_error(pg_http_request_t *req, int status, const char *message, void *ctx) {
    const s_route_t *r = ctx;
    s_state_t *st = s_state(req);
    s_render(r, req, status, 0, message);
    s_record(r, req, st);
    pg_http_reply_after(req, sb_faults_delay_ms(r->server->faults));
}

int sb_server_provider_route(sb_server_t *self, const sb_provider_t *provider, const char *method,
                             const char *pattern, pg_http_body_t body, pg_http_handler_fn fn,
                             void *ctx) {
    if (self->n_routes == S_MAX_ROUTES || !provider || !fn)
        return -1;
    s_route_t *r = &self->routes[self->n_routes];
    *r = (s_route_t){self, provider, fn, ctx};
    pg_http_route_t route = {method, pattern, body, s_provider_call, s_provider_error, r};
    if (pg_http_route(self->http, &route) != 0)
        return -1;
    self->n_routes++;
    return 0;
}

int sb_server_control_route(sb_server_t *self, const char *method, const char *pattern,
                            pg_http_body_t body, pg_http_handler_fn fn, void *ctx) {
    pg_http_route_t route = {method, pattern, body, fn, NULL, ctx};
    return pg_http_route(self->http, &route);
}

int sb_server_control_routes(sb_server_t *self, const sb_control_route_t *routes, size_t n,
                             void *ctx) {
    for (size_t i = 0; i < n; i++) {
        if (sb_server_control_route(self, routes[i].method, routes[i].pattern, routes[i].body,
                                    routes[i].fn, ctx) != 0)
            return -1;
    }
    return 0;
}

int sb_server_start(sb_server_t *self, char *err, size_t errlen) {
    return pg_http_start(self->http, err, errlen);
}

uint16_t sb_server_port(const sb_server_t *self) {
    return pg_http_port(self->http);
}

void sb_server_stop(sb_server_t *self) {
    pg_http_stop(self->http);
}

unsigned sb_server_waiting(const sb_server_t *self) {
    return pg_http_waiting(self->http);
}

/* hk_server.c — routes of the modules on pg_http, and the life of a webhook request (see
 * hk_server.h):
 *   first call   module handler -> 403/400/500 at once, or no events -> its answer at once,
 *                or events -> a hold submitted to the link (refused: 503 at once), the
 *                request waits (pg_http_call_again) with its answer kept in an s_wait_t;
 *   called again (the link woke it, or the wait ran out, or the server is stopping)
 *                acked -> the module's answer; failed -> 503; still waiting -> wait again,
 *                unless stopping or far past the ack timeout (503);
 *   a script     a handler that says HK_SCRIPT gets a script hold first (a ScriptRequest to
 *                pregond); once it is acked the route's with_script runs with the reply, and
 *                its verdict goes the way of a first call's (its events held in turn). */
#include "hk_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_ROUTES 64
#define S_TEXT       "text/plain; charset=utf-8"

typedef struct {
    hk_server_t *server;
    const hk_module_t *module;
    const hk_route_t *route;
    int id; /* metrics route id */
} s_route_t;

struct hk_server {
    hk_server_config_t cfg;
    char *public_url;
    pg_http_t *http;
    s_route_t routes[S_MAX_ROUTES];
    size_t n_routes;
};

/* A held request's state: the hold and the answer to give once it is acked. */
typedef struct {
    hk_hold_t *hold;
    bool script; /* hold is a script hold: with_script is still to run */
    int status;
    const char *content_type;
    char *body;
    size_t body_len;
} s_wait_t;

static void s_wait_free(void *p) {
    s_wait_t *w = p;
    hk_hold_release(&w->hold);
    free(w->body);
    free(w);
}

static void s_reply(s_route_t *r, pg_http_request_t *req, int status, const char *type, char *body,
                    size_t len) {
    hk_metrics_request(r->server->cfg.metrics, r->id, hk_metrics_result_of(status));
    pg_http_reply(req, status, type, body, len);
}

static void s_reply_text(s_route_t *r, pg_http_request_t *req, int status, const char *text) {
    hk_metrics_request(r->server->cfg.metrics, r->id, hk_metrics_result_of(status));
    pg_http_reply_text(req, status, text);
}

static void s_unavailable(s_route_t *r, pg_http_request_t *req) {
    pg_http_add_header(req, "Retry-After", "5");
    s_reply_text(r, req, 503, "pregond did not take the event; retry\n");
}

static void s_after_script(s_route_t *r, pg_http_request_t *req, s_wait_t *w);

static void s_called_again(s_route_t *r, pg_http_request_t *req, s_wait_t *w) {
    hk_unavail_kind_t why;
    switch (hk_hold_state(w->hold, &why)) {
        case HK_HOLD_ACKED: {
            if (w->script) {
                s_after_script(r, req, w);
                return;
            }
            char *body = w->body;
            w->body = NULL;
            s_reply(r, req, w->status ? w->status : 200, w->content_type, body, w->body_len);
            return;
        }
        case HK_HOLD_FAILED:
            s_unavailable(r, req);
            return;
        case HK_HOLD_WAITING:
            break;
    }
    int64_t limit = 2 * (int64_t)r->server->cfg.ack_timeout_ms + 1000;
    if (pg_http_request_stopping(req) || pg_http_request_age_ms(req) > limit) {
        /* the link decides every hold before the server stops; this is a safety net */
        hk_metrics_unavailable(r->server->cfg.metrics, pg_http_request_stopping(req)
                                                           ? HK_UNAVAIL_STOPPING
                                                           : HK_UNAVAIL_ACK_TIMEOUT);
        s_unavailable(r, req);
        return;
    }
    pg_http_call_again(req, 1000);
}

/* The public URL of this request: base + the target as received. NULL when out of memory. */
static char *s_url(const hk_server_t *self, pg_http_request_t *req) {
    const char *target = pg_http_request_target(req);
    size_t n = strlen(self->public_url) + strlen(target ? target : "") + 1;
    char *url = malloc(n);
    if (url)
        snprintf(url, n, "%s%s", self->public_url, target ? target : "");
    return url;
}

/* Forwards res's events (or its script request, script = true): holds the request, or answers
 * 503/500 at once. */
static void s_forward(s_route_t *r, pg_http_request_t *req, hk_result_t *res, bool script) {
    s_wait_t *w = calloc(1, sizeof *w);
    pg_http_waker_t *waker = w ? pg_http_request_waker(req) : NULL;
    hk_hold_t *hold = !waker   ? NULL
                      : script ? hk_hold_new_script(res, r->id, &waker)
                               : hk_hold_new(res, r->id, &waker);
    if (!hold) {
        pg_http_waker_release(&waker);
        free(w);
        s_reply_text(r, req, 500, "out of memory\n");
        return;
    }
    *w = (s_wait_t){.hold = hold,
                    .script = script,
                    .status = res->status,
                    .content_type = res->content_type,
                    .body = res->body,
                    .body_len = res->body_len};
    res->body = NULL;
    pg_http_request_set_data(req, w, s_wait_free); /* frees a previous wait (a script's) */
    hk_unavail_kind_t why;
    if (hk_link_submit(r->server->cfg.link, hold, &why) < 0) {
        s_unavailable(r, req);
        return;
    }
    pg_http_call_again(req, r->server->cfg.ack_timeout_ms + 1000);
}

/* What a handler (or with_script, final = true) decided. */
static void s_verdict(s_route_t *r, pg_http_request_t *req, hk_verdict_t v, hk_result_t *res,
                      bool final) {
    if (v == HK_SCRIPT && (final || !r->route->with_script))
        v = HK_NOMEM;
    switch (v) {
        case HK_SCRIPT:
            s_forward(r, req, res, true);
            return;
        case HK_REFUSE:
            hk_metrics_refused(r->server->cfg.metrics, r->id, res->reason);
            s_reply_text(r, req, 403, "forbidden\n");
            break;
        case HK_INVALID:
            hk_metrics_invalid(r->server->cfg.metrics, r->id, res->reason);
            s_reply_text(r, req, 400, res->reason ? res->reason : "invalid");
            break;
        case HK_NOMEM:
            s_reply_text(r, req, 500, "out of memory\n");
            break;
        case HK_ANSWER:
            if (res->n_events) {
                s_forward(r, req, res, false);
            } else {
                char *body = res->body;
                res->body = NULL;
                s_reply(r, req, res->status ? res->status : 200, res->content_type, body,
                        res->body_len);
            }
            break;
    }
}

/* A script hold was acked: with_script goes on with the reply. */
static void s_after_script(s_route_t *r, pg_http_request_t *req, s_wait_t *w) {
    size_t len = 0;
    const uint8_t *packed = hk_hold_script(w->hold, &len);
    Pregon__ScriptReply *reply = packed ? pregon__script_reply__unpack(NULL, len, packed) : NULL;
    char *url = reply ? s_url(r->server, req) : NULL;
    if (!url) {
        if (reply)
            pregon__script_reply__free_unpacked(reply, NULL);
        s_unavailable(r, req);
        return;
    }
    hk_request_t hreq = {.http = req, .url = url};
    hk_result_t res = {0};
    hk_verdict_t v = r->route->with_script(r->module->ctx, &hreq, reply, &res);
    free(url);
    pregon__script_reply__free_unpacked(reply, NULL);
    s_verdict(r, req, v, &res, true);
    hk_result_release(&res);
}

static void s_handle(pg_http_request_t *req, void *ctx) {
    s_route_t *r = ctx;
    s_wait_t *w = pg_http_request_data(req);
    if (w) {
        s_called_again(r, req, w);
        return;
    }
    char *url = s_url(r->server, req);
    if (!url) {
        s_reply_text(r, req, 500, "out of memory\n");
        return;
    }
    hk_request_t hreq = {.http = req, .url = url};
    hk_result_t res = {0};
    hk_verdict_t v = r->route->handle(r->module->ctx, &hreq, &res);
    free(url);
    s_verdict(r, req, v, &res, false);
    hk_result_release(&res);
}

static void s_on_error(pg_http_request_t *req, int status, const char *message, void *ctx) {
    s_route_t *r = ctx;
    hk_metrics_request(r->server->cfg.metrics, r->id, hk_metrics_result_of(status));
    pg_http_reply_error(req, status, message);
}

static void s_healthz(pg_http_request_t *req, void *ctx) {
    hk_server_t *self = ctx;
    bool up = hk_link_up(self->cfg.link);
    pg_http_reply_text(req, up ? 200 : 503, up ? "ok: broker up\n" : "broker down\n");
}

hk_server_t *hk_server_new(const hk_server_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->listen || !cfg->link || !cfg->metrics) {
        snprintf(err, errlen, "a listen address, a link and metrics are required");
        return NULL;
    }
    hk_server_t *self = calloc(1, sizeof *self);
    if (!self || !(self->public_url = strdup(cfg->public_url ? cfg->public_url : ""))) {
        free(self);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t n = strlen(self->public_url);
    while (n && self->public_url[n - 1] == '/')
        self->public_url[--n] = '\0';
    self->cfg = *cfg;
    pg_http_config_t hc = {.listen = cfg->listen,
                           .threads = cfg->threads,
                           .max_connections = cfg->max_connections,
                           .idle_timeout_s = cfg->idle_timeout_s,
                           .max_body = cfg->max_body,
                           .log = cfg->log,
                           .log_ctx = cfg->log_ctx};
    self->http = pg_http_new(&hc, err, errlen);
    pg_http_route_t health = {
        .method = "GET", .pattern = "/healthz", .handler = s_healthz, .ctx = self};
    /* no /metrics here: the ops port serves it (hk_ops.h); this listener faces the internet */
    if (!self->http || pg_http_route(self->http, &health) < 0) {
        if (self->http)
            snprintf(err, errlen, "cannot add the /healthz route");
        hk_server_destroy(&self);
        return NULL;
    }
    return self;
}

void hk_server_destroy(hk_server_t **self_p) {
    if (!self_p || !*self_p)
        return;
    hk_server_t *self = *self_p;
    pg_http_destroy(&self->http);
    free(self->public_url);
    free(self);
    *self_p = NULL;
}

int hk_server_add_module(hk_server_t *self, const hk_module_t *module, char *err, size_t errlen) {
    for (size_t i = 0; i < module->n_routes; i++) {
        const hk_route_t *route = &module->routes[i];
        if (self->n_routes == S_MAX_ROUTES) {
            snprintf(err, errlen, "more than %d routes", S_MAX_ROUTES);
            return -1;
        }
        s_route_t *r = &self->routes[self->n_routes];
        *r = (s_route_t){.server = self, .module = module, .route = route};
        r->id = hk_metrics_add_route(self->cfg.metrics, module->name, route->name);
        pg_http_route_t pr = {.method = route->method,
                              .pattern = route->path,
                              .body = route->body,
                              .handler = s_handle,
                              .on_error = s_on_error,
                              .ctx = r};
        if (r->id < 0 || pg_http_route(self->http, &pr) < 0) {
            snprintf(err, errlen, "cannot add route %s %s of %s", route->method, route->path,
                     module->name);
            return -1;
        }
        self->n_routes++;
    }
    return 0;
}

int hk_server_start(hk_server_t *self, char *err, size_t errlen) {
    if (pg_http_start(self->http, err, errlen) < 0)
        return -1;
    if (self->public_url[0])
        return 0;
    /* no public URL: the address bound, "http://HOST:PORT" */
    char host[256];
    snprintf(host, sizeof host, "%s", self->cfg.listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    char url[300];
    snprintf(url, sizeof url, "http://%s:%u", host[0] ? host : "127.0.0.1",
             (unsigned)pg_http_port(self->http));
    char *copy = strdup(url);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(self->public_url);
    self->public_url = copy;
    return 0;
}

const char *hk_server_public_url(const hk_server_t *self) {
    return self->public_url;
}

uint16_t hk_server_port(const hk_server_t *self) {
    return pg_http_port(self->http);
}

void hk_server_stop(hk_server_t *self) {
    pg_http_stop(self->http);
}

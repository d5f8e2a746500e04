/* sb_server.c — MHD daemon, routing, bodies, faults, latency and recording (see sb_server.h).
 *
 * Request life on one MHD thread: headers (route match, Content-Length check, post processor
 * set-up) -> body chunks (decoded or buffered, size-capped) -> complete (fault decision, handler,
 * record, then queue the reply or suspend the connection). A suspended connection is resumed by
 * the sb_delay thread when its latency or timeout hold has elapsed; MHD then calls us again and
 * we queue the prepared reply, or return MHD_NO to close a "timed out" request unanswered.
 * The epoll thread pool plus suspend/resume keeps latency from tying up threads. */
#include "sb_server.h"

#include "sb_delay.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_ROUTES   64
#define S_MAX_SEGMENTS 12
#define S_MAX_CAPTURES 4
#define S_MAX_HEADERS  8
#define S_PP_BUFFER    1024

typedef struct {
    char *literal; /* whole segment, or the suffix after "}" for a capture */
    bool capture;
} s_segment_t;

typedef struct {
    char method[16];
    s_segment_t segments[S_MAX_SEGMENTS];
    size_t n_segments;
    sb_body_mode_t mode;
    const sb_provider_t *provider;
    sb_handler_fn fn;
    void *ctx;
} s_route_t;

struct sb_server {
    sb_server_config_t cfg;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    s_route_t routes[S_MAX_ROUTES];
    size_t n_routes;
    struct MHD_Daemon *daemon;
    sb_delay_t *delay;
    uint16_t port;
    bool started;
    bool stopped;
};

typedef enum {
    S_PHASE_RECEIVING, /* headers seen, body arriving */
    S_PHASE_SUSPENDED, /* reply ready (or held), waiting for the delay thread */
    S_PHASE_RESUMED,   /* delay over: queue the reply or close */
} s_phase_t;

typedef struct {
    char *name;
    char *value;
} s_header_t;

struct sb_request {
    sb_server_t *server;
    struct MHD_Connection *conn;
    const s_route_t *route;
    char method[16];
    char *path;
    char *captures[S_MAX_CAPTURES];
    size_t n_captures;
    int64_t arrival_ms;
    s_phase_t phase;

    /* body */
    sb_form_t *form;
    struct MHD_PostProcessor *pp;
    bool pp_failed; /* unsupported Content-Type for a form route */
    char *raw;
    size_t raw_len;
    size_t raw_cap;
    size_t body_bytes;
    int body_error; /* HTTP status to answer instead of calling the handler, 0 = none */

    /* auth, fetched lazily */
    bool auth_fetched;
    char *auth_user;
    char *auth_pass;

    /* reply */
    unsigned again_ms; /* handler asked to be called again after this long (long poll) */
    bool cancelled;    /* resumed because the server is stopping */
    bool replied;
    bool held; /* simulated timeout: never answer */
    bool recorded;
    int status;
    char content_type[64];
    char *reply_body;
    size_t reply_len;
    s_header_t headers[S_MAX_HEADERS];
    size_t n_headers;
    int error_code;
    char sid[64];
    sb_summary_t summary;
};

/* ------------------------------------------------------------------------------------------ */
/* logging */

/* Set when the access handler returns MHD_NO on purpose (a simulated timeout closing its
 * connection): MHD then logs "Application reported internal error" from the same thread right
 * away, which is not an error here. Cleared on every handler entry. */
static _Thread_local bool s_quiet_close;

static void s_mhd_log(void *cls, const char *fmt, va_list ap) {
    sb_server_t *self = cls;
    if (s_quiet_close) {
        s_quiet_close = false;
        return;
    }
    if (self->cfg.log)
        self->cfg.log(self->cfg.log_ctx, fmt, ap);
}

/* Closes a held ("timed out") request's connection without an answer. */
static enum MHD_Result s_close_silently(void) {
    s_quiet_close = true;
    return MHD_NO;
}

/* ------------------------------------------------------------------------------------------ */
/* construction */

static int s_parse_listen(sb_server_t *self, const char *listen, char *err, size_t errlen) {
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "--listen wants HOST:PORT, got '%s'", listen);
        return -1;
    }
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    const char *port = colon + 1;
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || p > 65535) {
        snprintf(err, errlen, "bad port in --listen '%s'", listen);
        return -1;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&self->addr, res->ai_addr, res->ai_addrlen);
    self->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

sb_server_t *sb_server_new(const sb_server_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->listen || !cfg->store || !cfg->faults || cfg->threads == 0 ||
        cfg->max_connections == 0 || cfg->max_body == 0) {
        snprintf(err, errlen, "invalid server configuration");
        return NULL;
    }
    sb_server_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    if (s_parse_listen(self, cfg->listen, err, errlen) != 0) {
        free(self);
        return NULL;
    }
    self->cfg.listen = NULL; /* borrowed string, not needed after parsing */
    return self;
}

void sb_server_destroy(sb_server_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_server_t *self = *self_p;
    sb_server_stop(self);
    for (size_t i = 0; i < self->n_routes; i++) {
        for (size_t k = 0; k < self->routes[i].n_segments; k++)
            free(self->routes[i].segments[k].literal);
    }
    free(self);
    *self_p = NULL;
}

int sb_server_route(sb_server_t *self, const char *method, const char *pattern, sb_body_mode_t mode,
                    const sb_provider_t *provider, sb_handler_fn fn, void *ctx) {
    if (self->started || self->n_routes == S_MAX_ROUTES || !fn || pattern[0] != '/' ||
        strlen(method) >= sizeof(((s_route_t *)0)->method))
        return -1;
    s_route_t *r = &self->routes[self->n_routes];
    *r = (s_route_t){.mode = mode, .provider = provider, .fn = fn, .ctx = ctx};
    strcpy(r->method, method);
    size_t captures = 0;
    const char *p = pattern + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (r->n_segments == S_MAX_SEGMENTS)
            goto fail;
        s_segment_t *seg = &r->segments[r->n_segments];
        if (len > 0 && p[0] == '{') {
            const char *close = memchr(p, '}', len);
            if (!close || ++captures > S_MAX_CAPTURES)
                goto fail;
            seg->capture = true;
            seg->literal = strndup(close + 1, len - (size_t)(close + 1 - p));
        } else {
            seg->literal = strndup(p, len);
        }
        if (!seg->literal)
            goto fail;
        r->n_segments++;
        if (!slash)
            break;
        p = slash + 1;
    }
    self->n_routes++;
    return 0;
fail:
    for (size_t k = 0; k < r->n_segments; k++)
        free(r->segments[k].literal);
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* routing */

/* Matches path against route r, filling req->captures on success. */
static bool s_route_matches(const s_route_t *r, const char *path, sb_request_t *req) {
    if (path[0] != '/')
        return false;
    const char *p = path + 1;
    size_t n_caps = 0;
    char *caps[S_MAX_CAPTURES] = {0};
    for (size_t i = 0; i < r->n_segments; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        bool last = i + 1 == r->n_segments;
        if (last != (slash == NULL))
            goto no;
        const s_segment_t *seg = &r->segments[i];
        size_t lit = strlen(seg->literal);
        if (seg->capture) {
            if (len <= lit || memcmp(p + len - lit, seg->literal, lit) != 0)
                goto no;
            if (req && !(caps[n_caps++] = strndup(p, len - lit)))
                goto no;
        } else if (len != lit || memcmp(p, seg->literal, len) != 0) {
            goto no;
        }
        p = slash ? slash + 1 : p + len;
    }
    if (req) {
        memcpy(req->captures, caps, sizeof caps);
        req->n_captures = n_caps;
    }
    return true;
no:
    for (size_t k = 0; k < n_caps; k++)
        free(caps[k]);
    return false;
}

/* Finds the route for (method, path). *path_known tells 405 from 404 when NULL is returned. */
static const s_route_t *s_route_find(sb_server_t *self, sb_request_t *req, bool *path_known) {
    *path_known = false;
    for (size_t i = 0; i < self->n_routes; i++) {
        const s_route_t *r = &self->routes[i];
        if (strcmp(r->method, req->method) != 0) {
            if (!*path_known && s_route_matches(r, req->path, NULL))
                *path_known = true;
            continue;
        }
        if (s_route_matches(r, req->path, req))
            return r;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* request objects */

static int64_t s_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sb_request_t *s_request_new(sb_server_t *server, struct MHD_Connection *conn,
                                   const char *url, const char *method) {
    sb_request_t *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->server = server;
    req->conn = conn;
    req->arrival_ms = s_wall_ms();
    snprintf(req->method, sizeof req->method, "%s", method);
    req->path = strdup(url);
    if (!req->path) {
        free(req);
        return NULL;
    }
    return req;
}

static void s_request_free(sb_request_t *req) {
    if (!req)
        return;
    if (req->pp)
        MHD_destroy_post_processor(req->pp);
    sb_form_destroy(&req->form);
    for (size_t i = 0; i < req->n_captures; i++)
        free(req->captures[i]);
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    if (req->auth_user)
        MHD_free(req->auth_user);
    if (req->auth_pass)
        MHD_free(req->auth_pass);
    free(req->raw);
    free(req->reply_body);
    free(req->path);
    free(req);
}

/* ------------------------------------------------------------------------------------------ */
/* public request API */

const char *sb_request_method(const sb_request_t *req) {
    return req->method;
}

const char *sb_request_path(const sb_request_t *req) {
    return req->path;
}

const char *sb_request_capture(const sb_request_t *req, size_t i) {
    return i < req->n_captures ? req->captures[i] : NULL;
}

const char *sb_request_query(const sb_request_t *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *sb_request_header(const sb_request_t *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const sb_form_t *sb_request_form(const sb_request_t *req) {
    return req->form;
}

const char *sb_request_body(const sb_request_t *req, size_t *len) {
    if (len)
        *len = req->raw_len;
    return req->raw_len ? req->raw : NULL;
}

bool sb_request_basic_auth(sb_request_t *req, const char **user, const char **pass) {
    if (!req->auth_fetched) {
        req->auth_fetched = true;
        req->auth_user = MHD_basic_auth_get_username_password(req->conn, &req->auth_pass);
    }
    if (!req->auth_user || !req->auth_pass)
        return false;
    *user = req->auth_user;
    *pass = req->auth_pass;
    return true;
}

int64_t sb_request_arrival_ms(const sb_request_t *req) {
    return req->arrival_ms;
}

int64_t sb_request_age_ms(const sb_request_t *req) {
    return s_wall_ms() - req->arrival_ms;
}

void sb_request_reply(sb_request_t *req, int status, const char *content_type, char *body,
                      size_t len) {
    free(req->reply_body);
    req->replied = true;
    req->status = status;
    snprintf(req->content_type, sizeof req->content_type, "%s", content_type);
    req->reply_body = body;
    req->reply_len = body ? len : 0;
}

/* Serializes into one right-sized allocation (json_dumps grows a buffer step by step). */
static char *s_dump_json(const json_t *body, size_t *len) {
    size_t cap = 1024;
    char *text = malloc(cap);
    size_t n = text ? json_dumpb(body, text, cap - 1, JSON_COMPACT) : 0;
    if (text && n >= cap) {
        char *grown = realloc(text, n + 1);
        if (grown && json_dumpb(body, grown, n, JSON_COMPACT) == n) {
            text = grown;
        } else {
            free(grown ? grown : text);
            text = NULL;
        }
    }
    if (!text || n == 0) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

void sb_request_reply_json(sb_request_t *req, int status, json_t *body) {
    size_t len = 2;
    char *text = body ? s_dump_json(body, &len) : strdup("{}");
    json_decref(body);
    if (!text) {
        /* Out of memory: a bodiless 500 is the best we can still say. */
        sb_request_reply(req, 500, "application/json", NULL, 0);
        return;
    }
    sb_request_reply(req, status, "application/json", text, len);
}

void sb_request_reply_text(sb_request_t *req, int status, const char *text) {
    char *copy = strdup(text);
    sb_request_reply(req, copy ? status : 500, "text/plain; charset=utf-8", copy,
                     copy ? strlen(copy) : 0);
}

void sb_request_add_header(sb_request_t *req, const char *name, const char *value) {
    if (req->n_headers == S_MAX_HEADERS)
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    req->headers[req->n_headers++] = (s_header_t){n, v};
}

void sb_request_call_again(sb_request_t *req, unsigned delay_ms) {
    req->again_ms = delay_ms ? delay_ms : 1;
}

bool sb_request_stopping(const sb_request_t *req) {
    return req->cancelled || req->server->stopped;
}

void sb_request_set_outcome(sb_request_t *req, int error_code, const char *sid) {
    req->error_code = error_code;
    snprintf(req->sid, sizeof req->sid, "%s", sid ? sid : "");
}

/* ------------------------------------------------------------------------------------------ */
/* replies, records, delays */

static const char *s_status_text(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 413:
            return "Payload Too Large";
        case 415:
            return "Unsupported Media Type";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Error";
    }
}

/* Replies with an error in the provider's format when the route has one, else as
 * {"status":N,"error":"..."}. */
static void s_reply_error(sb_request_t *req, int status, int code, const char *message) {
    const sb_provider_t *prov = req->route ? req->route->provider : NULL;
    if (prov && prov->render_error) {
        prov->render_error(req, status, code, message, prov->ctx);
        return;
    }
    sb_request_reply_json(req, status,
                          json_pack("{s:i, s:s}", "status", status, "error",
                                    message ? message : s_status_text(status)));
}

static enum MHD_Result s_queue(sb_request_t *req) {
    const char *body = req->reply_body ? req->reply_body : "";
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        req->reply_len, (void *)body,
        req->reply_body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    req->reply_body = NULL; /* MHD frees it with the response */
    if (req->content_type[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    for (size_t i = 0; i < req->n_headers; i++)
        MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static char *s_params_json(const sb_request_t *req) {
    /* A rejected body (too large, malformed) is partial or garbage: not worth keeping. */
    if (req->body_error)
        return NULL;
    json_t *j = NULL;
    if (req->form)
        j = sb_form_to_json(req->form);
    else if (req->raw_len)
        j = json_loadb(req->raw, req->raw_len, 0, NULL);
    if (!j)
        return NULL;
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* Stores the request once, for provider routes only. */
static void s_record(sb_request_t *req) {
    if (req->recorded || !req->route || !req->route->provider)
        return;
    req->recorded = true;
    char *params = s_params_json(req);
    sb_record_t rec = {
        .provider = req->route->provider->name,
        .method = req->method,
        .path = req->path,
        .account = req->summary.account,
        .to = req->summary.to,
        .from = req->summary.from,
        .body = req->summary.body,
        .sid = req->sid[0] ? req->sid : NULL,
        .params_json = params,
        .status = req->held ? 0 : req->status,
        .error_code = req->error_code,
        .arrival_ms = req->arrival_ms,
    };
    sb_store_add(req->server->cfg.store, &rec);
    free(params);
}

/* sb_delay callback, on the delay thread: hand the connection back to MHD. At shutdown
 * (cancelled) the reply still goes out; held requests are closed either way. */
static void s_on_timer(void *arg, bool cancelled) {
    sb_request_t *req = arg;
    req->cancelled = cancelled;
    req->phase = S_PHASE_RESUMED;
    MHD_resume_connection(req->conn);
}

/* Sends the reply now, or suspends the connection for delay_ms. */
static enum MHD_Result s_answer(sb_request_t *req, unsigned delay_ms) {
    if (delay_ms == 0)
        return req->held ? s_close_silently() : s_queue(req);
    req->phase = S_PHASE_SUSPENDED;
    MHD_suspend_connection(req->conn);
    if (sb_delay_schedule(req->server->delay, delay_ms, s_on_timer, req) != 0) {
        /* Stopping (or out of memory): answer at once. */
        req->phase = S_PHASE_RESUMED;
        req->cancelled = true;
        MHD_resume_connection(req->conn);
    }
    return MHD_YES;
}

/* ------------------------------------------------------------------------------------------ */
/* MHD callbacks */

static enum MHD_Result s_post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *filename, const char *content_type,
                                   const char *transfer_encoding, const char *data, uint64_t off,
                                   size_t size) {
    (void)kind;
    (void)filename;
    (void)content_type;
    (void)transfer_encoding;
    sb_request_t *req = cls;
    if (!key)
        return MHD_NO;
    return sb_form_add_chunk(req->form, key, data ? data : "", data ? size : 0, off) == 0 ? MHD_YES
                                                                                          : MHD_NO;
}

static enum MHD_Result s_on_headers(sb_request_t *req) {
    sb_server_t *self = req->server;
    bool path_known;
    req->route = s_route_find(self, req, &path_known);
    if (!req->route) {
        s_reply_error(req, path_known ? 405 : 404, 0, NULL);
        return s_queue(req);
    }
    if (req->route->mode == SB_BODY_FORM && !(req->form = sb_form_new()))
        return MHD_NO;
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end == '\0' && n > self->cfg.max_body) {
            /* Answer before reading the body; MHD then closes the connection. */
            s_reply_error(req, 413, 0, "Request body too large");
            s_record(req);
            return s_queue(req);
        }
    }
    if (req->route->mode == SB_BODY_FORM) {
        req->pp = MHD_create_post_processor(req->conn, S_PP_BUFFER, s_post_iter, req);
        req->pp_failed = req->pp == NULL;
    }
    return MHD_YES;
}

static void s_on_upload(sb_request_t *req, const char *data, size_t size) {
    req->body_bytes += size;
    if (req->body_error)
        return;
    if (req->body_bytes > req->server->cfg.max_body) {
        req->body_error = 413;
        return;
    }
    switch (req->route->mode) {
        case SB_BODY_FORM:
            if (req->pp_failed)
                req->body_error = 415;
            else if (MHD_post_process(req->pp, data, size) != MHD_YES)
                req->body_error = 400;
            break;
        case SB_BODY_RAW:
            if (req->raw_len + size + 1 > req->raw_cap) {
                size_t cap = req->raw_cap ? req->raw_cap : 1024;
                while (cap < req->raw_len + size + 1)
                    cap *= 2;
                char *grown = realloc(req->raw, cap);
                if (!grown) {
                    req->body_error = 500;
                    return;
                }
                req->raw = grown;
                req->raw_cap = cap;
            }
            memcpy(req->raw + req->raw_len, data, size);
            req->raw_len += size;
            req->raw[req->raw_len] = '\0';
            break;
        case SB_BODY_NONE:
            break;
    }
}

static const char *s_body_error_text(int status) {
    switch (status) {
        case 413:
            return "Request body too large";
        case 415:
            return "Unsupported Content-Type: expected application/x-www-form-urlencoded";
        case 400:
            return "Malformed form body";
        default:
            return "Out of memory while reading the body";
    }
}

static enum MHD_Result s_on_complete(sb_request_t *req) {
    sb_server_t *self = req->server;
    const s_route_t *route = req->route;
    const sb_provider_t *prov = route->provider;
    if (req->pp) {
        /* The post processor delivers the last field only when destroyed. */
        enum MHD_Result ok = MHD_destroy_post_processor(req->pp);
        req->pp = NULL;
        if (ok != MHD_YES && !req->body_error)
            req->body_error = 400;
    }
    if (prov && prov->summarize && !req->body_error)
        prov->summarize(req, &req->summary, prov->ctx);

    if (req->body_error) {
        s_reply_error(req, req->body_error, 0, s_body_error_text(req->body_error));
    } else if (prov) {
        sb_fault_t f = sb_faults_decide(self->cfg.faults, prov->name, req->summary.to);
        if (f.kind == SB_FAULT_TIMEOUT) {
            req->held = true;
        } else if (f.kind == SB_FAULT_STATUS) {
            s_reply_error(req, f.status, f.error_code, NULL);
            if (f.retry_after >= 0) {
                char secs[16];
                snprintf(secs, sizeof secs, "%d", f.retry_after);
                sb_request_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, secs);
            }
        } else {
            route->fn(req, route->ctx);
        }
    } else {
        route->fn(req, route->ctx);
    }
    if (req->again_ms && !req->replied && !req->held)
        return s_answer(req, req->again_ms);
    if (!req->replied && !req->held)
        s_reply_error(req, 500, 0, "handler produced no response");
    s_record(req);
    unsigned delay = 0;
    if (req->held)
        delay = sb_faults_hold_ms(self->cfg.faults);
    else if (prov)
        delay = sb_faults_delay_ms(self->cfg.faults);
    return s_answer(req, delay);
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls) {
    (void)version;
    s_quiet_close = false;
    sb_request_t *req = *con_cls;
    if (!req) {
        req = s_request_new(cls, conn, url, method);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return s_on_headers(req);
    }
    if (req->phase == S_PHASE_RESUMED && req->again_ms) {
        /* a long poll's turn: the handler looks again, then replies or waits once more */
        req->again_ms = 0;
        req->route->fn(req, req->route->ctx);
        if (req->again_ms && !req->replied && !req->cancelled)
            return s_answer(req, req->again_ms);
        if (!req->replied)
            s_reply_error(req, 503, 0, "server stopping");
        return s_queue(req);
    }
    if (req->phase == S_PHASE_RESUMED)
        return req->held ? s_close_silently() : s_queue(req);
    if (*upload_data_size) {
        s_on_upload(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->phase != S_PHASE_RECEIVING)
        return MHD_YES; /* spurious call while suspended */
    return s_on_complete(req);
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    s_request_free(*con_cls);
    *con_cls = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* lifecycle */

int sb_server_start(sb_server_t *self, char *err, size_t errlen) {
    if (self->started) {
        snprintf(err, errlen, "server already started");
        return -1;
    }
    self->delay = sb_delay_new();
    if (!self->delay) {
        snprintf(err, errlen, "cannot start the delay thread");
        return -1;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO;
    if (self->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned pool = self->cfg.threads > 1 ? self->cfg.threads : 0;
    /* The logger goes first so MHD routes even option-parsing messages through it. */
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_access, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&self->addr, MHD_OPTION_THREAD_POOL_SIZE,
        pool, MHD_OPTION_CONNECTION_LIMIT, self->cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        self->cfg.idle_timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot listen (address in use, or not permitted?)");
        sb_delay_destroy(&self->delay);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    self->started = true;
    return 0;
}

uint16_t sb_server_port(const sb_server_t *self) {
    return self->port;
}

unsigned sb_server_waiting(sb_server_t *self) {
    return self->delay ? sb_delay_pending(self->delay) : 0;
}

void sb_server_stop(sb_server_t *self) {
    if (!self->started || self->stopped)
        return;
    self->stopped = true;
    /* Resume every suspended connection first: MHD forbids stopping with suspended ones. */
    /* Stop accepting (quiesce hands the listen socket to us), then resume every suspended
     * connection: MHD forbids stopping with suspended ones. Requests that arrive on open
     * connections meanwhile find the delay thread stopped and are answered at once. */
    MHD_socket lsock = MHD_quiesce_daemon(self->daemon);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    sb_delay_stop(self->delay);
    MHD_stop_daemon(self->daemon);
    self->daemon = NULL;
    sb_delay_destroy(&self->delay);
}

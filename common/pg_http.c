/* pg_http.c — MHD daemon, routing, bodies, replies and waiting requests (see pg_http.h).
 *
 * Request life on one MHD thread: URI callback (the request object, with the raw target) ->
 * headers (route match, Content-Length check, post processor set-up) -> body chunks (decoded or
 * buffered, size-capped) -> complete (handler) -> queue the reply, or suspend the connection.
 * A suspended connection is resumed by the pg_delay thread when its delay has elapsed, or by
 * pg_http_waker_wake() from any thread; MHD then calls us again and we call the handler again,
 * queue the prepared reply, or return MHD_NO to close a dropped request unanswered.
 *
 * Waking safely: a request's waker (created when first needed) is shared, refcounted, by the
 * request, each timer entry and each outside holder. Under its lock it says whether the request
 * is still alive and suspended, and which suspension (a generation number, so a timer entry left
 * from an earlier wait cannot cut a later one short). Only a suspended request is resumed, and a
 * suspended request cannot end meanwhile, so MHD_resume_connection never sees a dead
 * connection. A wake that comes while the handler runs is remembered and honoured as soon as the
 * handler asks to wait. */
#include "pg_http.h"

#include "pg_http_impl.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* logging */

/* Set when the access handler returns MHD_NO on purpose (a dropped request closing its
 * connection): MHD then logs "Application reported internal error" from the same thread right
 * away, which is not an error here. Cleared on every handler entry. */
static _Thread_local bool s_quiet_close;

static void s_mhd_log(void *cls, const char *fmt, va_list ap) {
    pg_http_t *self = cls;
    if (s_quiet_close) {
        s_quiet_close = false;
        return;
    }
    if (self->cfg.log)
        self->cfg.log(self->cfg.log_ctx, fmt, ap);
}

/* Closes a dropped request's connection without an answer. */
static enum MHD_Result s_close_silently(void) {
    s_quiet_close = true;
    return MHD_NO;
}

/* ------------------------------------------------------------------------------------------ */
/* construction */

static int s_parse_listen(pg_http_t *self, const char *listen, char *err, size_t errlen) {
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

pg_http_t *pg_http_new(const pg_http_config_t *cfg, char *err, size_t errlen) {
    if (!cfg->listen || cfg->threads == 0 || cfg->max_connections == 0 || cfg->max_body == 0) {
        snprintf(err, errlen, "invalid server configuration");
        return NULL;
    }
    pg_http_t *self = calloc(1, sizeof(*self));
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
    atomic_init(&self->stopped, false);
    atomic_init(&self->waiting, 0);
    atomic_init(&self->live, 0);
    if (pthread_mutex_init(&self->drain_lock, NULL) != 0) {
        free(self);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pthread_cond_init(&self->drained, NULL) != 0) {
        pthread_mutex_destroy(&self->drain_lock);
        free(self);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return self;
}

void pg_http_destroy(pg_http_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_http_t *self = *self_p;
    pg_http_stop(self);
    pg_http_table_release(&self->table);
    pthread_cond_destroy(&self->drained);
    pthread_mutex_destroy(&self->drain_lock);
    free(self);
    *self_p = NULL;
}

int pg_http_route(pg_http_t *self, const pg_http_route_t *route) {
    return self->started ? -1 : pg_http_table_add(&self->table, route);
}

/* ------------------------------------------------------------------------------------------ */
/* request objects and wakers */

int64_t pg_http__wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_waker_unref(pg_http_waker_t *w) {
    pthread_mutex_lock(&w->lock);
    unsigned left = --w->refs;
    pthread_mutex_unlock(&w->lock);
    if (left == 0) {
        pthread_mutex_destroy(&w->lock);
        free(w);
    }
}

/* The request's waker, created on first use (on the request's thread). NULL when out of
 * memory. */
static pg_http_waker_t *s_waker(pg_http_request_t *req) {
    if (req->waker)
        return req->waker;
    pg_http_waker_t *w = calloc(1, sizeof(*w));
    if (!w || pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        return NULL;
    }
    w->refs = 1; /* the request's */
    w->req = req;
    req->waker = w;
    return w;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first we hear of a request, with its raw target. */
static void *s_uri_log(void *cls, const char *uri, struct MHD_Connection *conn) {
    pg_http_request_t *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->server = cls;
    req->conn = conn;
    req->arrival_ms = pg_http__wall_ms();
    req->target = strdup(uri ? uri : "");
    if (!req->target) {
        free(req);
        return NULL;
    }
    char *q = strchr(req->target, '?');
    req->query_string = q ? q + 1 : NULL;
    atomic_fetch_add(&req->server->live, 1);
    return req;
}

static void s_request_free(pg_http_request_t *req) {
    if (!req)
        return;
    if (req->waker) {
        pthread_mutex_lock(&req->waker->lock);
        req->waker->req = NULL;
        req->waker->armed = false;
        pthread_mutex_unlock(&req->waker->lock);
        s_waker_unref(req->waker);
    }
    if (req->data_free && req->data)
        req->data_free(req->data);
    if (req->pp)
        MHD_destroy_post_processor(req->pp);
    pg_form_destroy(&req->form);
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
    free(req->target);
    free(req);
}

/* ------------------------------------------------------------------------------------------ */
/* wakers */

pg_http_waker_t *pg_http_request_waker(pg_http_request_t *req) {
    pg_http_waker_t *w = s_waker(req);
    if (!w)
        return NULL;
    pthread_mutex_lock(&w->lock);
    w->refs++;
    pthread_mutex_unlock(&w->lock);
    return w;
}

/* Resumes w's suspended request; w->lock held, w->armed true. */
static void s_resume_locked(pg_http_waker_t *w, bool cancelled) {
    pg_http_request_t *req = w->req;
    w->armed = false;
    w->again = false;
    req->cancelled = req->cancelled || cancelled;
    req->phase = PG_HTTP__PHASE_RESUMED;
    atomic_fetch_sub(&req->server->waiting, 1);
    MHD_resume_connection(req->conn);
}

void pg_http_waker_wake(pg_http_waker_t *w) {
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->req && w->armed && w->again)
        s_resume_locked(w, false);
    else if (w->req)
        w->woken = true;
    pthread_mutex_unlock(&w->lock);
}

void pg_http_waker_release(pg_http_waker_t **w_p) {
    if (!w_p || !*w_p)
        return;
    s_waker_unref(*w_p);
    *w_p = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* answering and waiting */

/* Has the route's error callback (or the default) answer status. */
static void s_error(pg_http_request_t *req, int status, const char *message) {
    req->close = false;
    req->again_ms = 0;
    if (req->route && req->route->on_error)
        req->route->on_error(req, status, message, req->route->ctx);
    if (!req->replied)
        pg_http_reply_error(req, status, message);
}

static enum MHD_Result s_queue(pg_http_request_t *req) {
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

/* pg_delay callback, on the delay thread: hand the connection back to MHD if the suspension the
 * entry was made for is still the current one. */
static void s_on_timer(void *arg, bool cancelled) {
    pg_http__timer_t *t = arg;
    pg_http_waker_t *w = t->w;
    pthread_mutex_lock(&w->lock);
    if (w->req && w->armed && w->gen == t->gen)
        s_resume_locked(w, cancelled);
    pthread_mutex_unlock(&w->lock);
    s_waker_unref(w);
    free(t);
}

/* Suspends the connection for delay_ms, then does `then`. Resumed at once when a wake is
 * pending (PG_HTTP__THEN_AGAIN), the server stops, or memory runs out. */
static enum MHD_Result s_suspend(pg_http_request_t *req, pg_http__then_t then, unsigned delay_ms) {
    pg_http_waker_t *w = s_waker(req);
    pg_http__timer_t *t = w ? malloc(sizeof(*t)) : NULL;
    if (!t) {
        /* Out of memory: no waiting; answer or close now. */
        if (then == PG_HTTP__THEN_CLOSE)
            return s_close_silently();
        if (then == PG_HTTP__THEN_AGAIN)
            s_error(req, 500, "out of memory");
        return s_queue(req);
    }
    req->then = then;
    req->phase = PG_HTTP__PHASE_SUSPENDED;
    MHD_suspend_connection(req->conn);
    atomic_fetch_add(&req->server->waiting, 1);
    pthread_mutex_lock(&w->lock);
    w->gen++;
    w->armed = true;
    w->again = then == PG_HTTP__THEN_AGAIN;
    *t = (pg_http__timer_t){w, w->gen};
    w->refs++; /* the timer entry's */
    if (w->again && w->woken)
        s_resume_locked(w, false);
    pthread_mutex_unlock(&w->lock);
    if (pg_delay_schedule(req->server->delay, delay_ms, s_on_timer, t) != 0) {
        /* Stopping (or out of memory): the wait ends now. */
        s_on_timer(t, true);
    }
    return MHD_YES;
}

/* Calls the handler (again). */
static void s_call(pg_http_request_t *req) {
    if (req->waker) {
        pthread_mutex_lock(&req->waker->lock);
        req->waker->woken = false;
        pthread_mutex_unlock(&req->waker->lock);
    }
    req->again_ms = 0;
    req->route->handler(req, req->route->ctx);
}

/* After the handler (or an error callback) ran: wait, answer, or close. */
static enum MHD_Result s_finish(pg_http_request_t *req) {
    if (req->close)
        return req->after_ms ? s_suspend(req, PG_HTTP__THEN_CLOSE, req->after_ms)
                             : s_close_silently();
    if (!req->replied && req->again_ms) {
        if (!req->cancelled)
            return s_suspend(req, PG_HTTP__THEN_AGAIN, req->again_ms);
        s_error(req, 503, "server stopping");
    } else if (!req->replied) {
        s_error(req, 500, "handler produced no response");
    }
    if (req->close) /* an error callback may drop the request too */
        return s_close_silently();
    if (req->after_ms && !req->cancelled) {
        unsigned ms = req->after_ms;
        req->after_ms = 0;
        return s_suspend(req, PG_HTTP__THEN_REPLY, ms);
    }
    return s_queue(req);
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
    pg_http_request_t *req = cls;
    if (!key)
        return MHD_NO;
    return pg_form_add_chunk(req->form, key, data ? data : "", data ? size : 0, off) == 0 ? MHD_YES
                                                                                          : MHD_NO;
}

static enum MHD_Result s_on_headers(pg_http_request_t *req, const char *url, const char *method) {
    pg_http_t *self = req->server;
    req->phase = PG_HTTP__PHASE_RECEIVING;
    snprintf(req->method, sizeof req->method, "%s", method);
    if (!(req->path = strdup(url)))
        return MHD_NO;
    bool path_known;
    req->route = pg_http_table_find(&self->table, req->method, req->path, req->captures,
                                    &req->n_captures, &path_known);
    if (!req->route) {
        pg_http_reply_error(req, path_known ? 405 : 404, NULL);
        return s_queue(req);
    }
    if (req->route->body == PG_HTTP_BODY_FORM && !(req->form = pg_form_new()))
        return MHD_NO;
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end == '\0' && n > self->cfg.max_body) {
            /* Answer before reading the body; MHD then closes the connection. */
            pg_form_destroy(&req->form);
            s_error(req, 413, "Request body too large");
            return s_queue(req);
        }
    }
    if (req->route->body == PG_HTTP_BODY_FORM) {
        req->pp = MHD_create_post_processor(req->conn, PG_HTTP__PP_BUFFER, s_post_iter, req);
        req->pp_failed = req->pp == NULL;
    }
    return MHD_YES;
}

static void s_on_upload(pg_http_request_t *req, const char *data, size_t size) {
    req->body_bytes += size;
    if (req->body_error)
        return;
    if (req->body_bytes > req->server->cfg.max_body) {
        req->body_error = 413;
        return;
    }
    switch (req->route->body) {
        case PG_HTTP_BODY_FORM:
            if (req->pp_failed)
                req->body_error = 415;
            else if (MHD_post_process(req->pp, data, size) != MHD_YES)
                req->body_error = 400;
            break;
        case PG_HTTP_BODY_RAW:
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
        case PG_HTTP_BODY_NONE:
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

static enum MHD_Result s_on_complete(pg_http_request_t *req) {
    if (req->pp) {
        /* The post processor delivers the last field only when destroyed. */
        enum MHD_Result ok = MHD_destroy_post_processor(req->pp);
        req->pp = NULL;
        if (ok != MHD_YES && !req->body_error)
            req->body_error = 400;
    }
    if (req->body_error) {
        /* A rejected body is partial or garbage: the error callback does not see it. */
        pg_form_destroy(&req->form);
        req->raw_len = 0;
        s_error(req, req->body_error, s_body_error_text(req->body_error));
    } else {
        s_call(req);
    }
    return s_finish(req);
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls) {
    (void)cls;
    (void)conn;
    (void)version;
    s_quiet_close = false;
    pg_http_request_t *req = *con_cls;
    if (!req)
        return MHD_NO; /* the URI callback ran out of memory */
    if (req->phase == PG_HTTP__PHASE_NEW)
        return s_on_headers(req, url, method);
    if (req->phase == PG_HTTP__PHASE_RESUMED) {
        req->phase = PG_HTTP__PHASE_RECEIVING;
        switch (req->then) {
            case PG_HTTP__THEN_AGAIN:
                s_call(req);
                return s_finish(req);
            case PG_HTTP__THEN_REPLY:
                return s_queue(req);
            case PG_HTTP__THEN_CLOSE:
                return s_close_silently();
        }
    }
    if (*upload_data_size) {
        s_on_upload(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->phase != PG_HTTP__PHASE_RECEIVING)
        return MHD_YES; /* spurious call while suspended */
    return s_on_complete(req);
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe) {
    (void)conn;
    (void)toe;
    pg_http_t *self = cls;
    if (!*con_cls)
        return;
    s_request_free(*con_cls);
    *con_cls = NULL;
    if (atomic_fetch_sub(&self->live, 1) == 1 && atomic_load(&self->stopped)) {
        pthread_mutex_lock(&self->drain_lock);
        pthread_cond_signal(&self->drained);
        pthread_mutex_unlock(&self->drain_lock);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* lifecycle */

int pg_http_start(pg_http_t *self, char *err, size_t errlen) {
    if (self->started) {
        snprintf(err, errlen, "server already started");
        return -1;
    }
    self->delay = pg_delay_new();
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
        MHD_OPTION_URI_LOG_CALLBACK, s_uri_log, self, MHD_OPTION_NOTIFY_COMPLETED, s_completed,
        self, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot listen (address in use, or not permitted?)");
        pg_delay_destroy(&self->delay);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    self->started = true;
    return 0;
}

uint16_t pg_http_port(const pg_http_t *self) {
    return self->port;
}

unsigned pg_http_waiting(const pg_http_t *self) {
    return atomic_load(&((pg_http_t *)self)->waiting);
}

void pg_http_stop(pg_http_t *self) {
    if (!self->started || atomic_load(&self->stopped))
        return;
    atomic_store(&self->stopped, true);
    /* Stop accepting (quiesce hands the listen socket to us), then resume every suspended
     * connection: MHD forbids stopping with suspended ones. Requests that arrive on open
     * connections meanwhile find the delay thread stopped and are answered at once. */
    MHD_socket lsock = MHD_quiesce_daemon(self->daemon);
    /* The listen socket is closed only after MHD_stop_daemon: the pool threads take it out of
     * their epoll sets asynchronously after quiesce, and one that finds it closed already
     * aborts the process ("Failed to remove listen FD from epoll set", seen under load in CI). */
    pg_delay_stop(self->delay);
    /* The released requests still have their answers to send: give them a moment, since
     * MHD_stop_daemon closes every connection at once. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PG_HTTP__DRAIN_MS / 1000;
    pthread_mutex_lock(&self->drain_lock);
    while (atomic_load(&self->live) > 0 &&
           pthread_cond_timedwait(&self->drained, &self->drain_lock, &until) == 0) {
    }
    pthread_mutex_unlock(&self->drain_lock);
    MHD_stop_daemon(self->daemon);
    self->daemon = NULL;
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    pg_delay_destroy(&self->delay);
}

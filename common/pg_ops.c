/* pg_ops.c — the operations endpoint (pg_ops.h) on pg_http.
 *
 * A scrape takes a ticket (requested + 1), makes the eventfd readable and waits, re-polled
 * every few milliseconds by pg_http's timer (suspended, no thread held), until the published
 * generation reaches its ticket or max_wait_ms passed. The loop reads the eventfd
 * (pg_ops_wanted), renders, and publishes the text with the generation it saw requested before
 * rendering, so a scrape that arrived during the render waits for the next one: every answer
 * is at least as new as the request. Polling instead of waking keeps the handoff to one
 * mutex and two atomics; 5 ms is nothing next to a scrape interval. */
#include "pg_ops.h"

#include "pg_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define S_POLL_MS 5

struct pg_ops {
    pg_http_t *http;
    int efd;
    unsigned max_wait_ms, stall_ms;
    _Atomic uint64_t requested, published;
    uint64_t seen; /* the loop's: `requested` when it last found a wish (pg_ops_wanted) */
    _Atomic int64_t alive_ms;
    _Atomic uint64_t scrapes, stale;
    pthread_mutex_t lock; /* guards text, ready, why */
    char *text;
    size_t text_len;
    bool ready;
    char why[160];
};

typedef struct {
    uint64_t ticket;
} s_wait_t;

int64_t pg_ops_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pg_ops_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 1 when the host part of listen ("H:P", "[H]:P") is a loopback name or address. */
static int s_loopback(const char *listen) {
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    char host[128];
    if (n >= sizeof host)
        return 0;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "localhost") == 0)
        return 1;
    return strncmp(host, "127.", 4) == 0;
}

static void s_reply_text(pg_ops_t *self, pg_http_request_t *req, bool fresh) {
    pthread_mutex_lock(&self->lock);
    char *copy = self->text ? malloc(self->text_len + 1) : NULL;
    size_t len = copy ? self->text_len : 0;
    if (copy)
        memcpy(copy, self->text, len + 1);
    pthread_mutex_unlock(&self->lock);
    atomic_fetch_add(&self->scrapes, 1);
    if (!copy) {
        pg_http_reply_text(req, 503, "no metrics yet: the loop has not answered\n");
        return;
    }
    if (!fresh) {
        atomic_fetch_add(&self->stale, 1);
        pg_http_add_header(req, "X-Pregon-Stale", "1");
    }
    pg_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", copy, len);
}

static void s_on_metrics(pg_http_request_t *req, void *ctx) {
    pg_ops_t *self = ctx;
    s_wait_t *w = pg_http_request_data(req);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) {
            pg_http_reply_error(req, 500, "out of memory");
            return;
        }
        w->ticket = atomic_fetch_add(&self->requested, 1) + 1;
        pg_http_request_set_data(req, w, free);
        uint64_t one = 1;
        ssize_t r = write(self->efd, &one, sizeof one);
        (void)r; /* EAGAIN: it is readable already */
    }
    bool fresh = atomic_load(&self->published) >= w->ticket;
    if (fresh || pg_http_request_stopping(req) ||
        pg_http_request_age_ms(req) >= (int64_t)self->max_wait_ms) {
        s_reply_text(self, req, fresh);
        return;
    }
    pg_http_call_again(req, S_POLL_MS);
}

static void s_on_healthz(pg_http_request_t *req, void *ctx) {
    pg_ops_t *self = ctx;
    int64_t idle = pg_ops_mono_ms() - atomic_load(&self->alive_ms);
    if (idle > (int64_t)self->stall_ms) {
        char msg[96];
        snprintf(msg, sizeof msg, "loop stalled: no turn for %lld ms\n", (long long)idle);
        pg_http_reply_text(req, 503, msg);
        return;
    }
    pg_http_reply_text(req, 200, "ok\n");
}

static void s_on_readyz(pg_http_request_t *req, void *ctx) {
    pg_ops_t *self = ctx;
    char msg[200];
    pthread_mutex_lock(&self->lock);
    bool ready = self->ready;
    snprintf(msg, sizeof msg, "%s\n", ready ? "ready" : self->why);
    pthread_mutex_unlock(&self->lock);
    pg_http_reply_text(req, ready ? 200 : 503, msg);
}

pg_ops_t *pg_ops_new(const pg_ops_config_t *cfg, char *err, size_t errlen) {
    if (!cfg || !cfg->listen || !cfg->listen[0]) {
        snprintf(err, errlen, "no listen address");
        return NULL;
    }
    if (!cfg->allow_public && !s_loopback(cfg->listen)) {
        snprintf(err, errlen,
                 "%s is not a loopback address (the ops port answers anyone who reaches it: set "
                 "ops.allow_public: 1 to serve it beyond this machine)",
                 cfg->listen);
        return NULL;
    }
    pg_ops_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    self->max_wait_ms = cfg->max_wait_ms ? cfg->max_wait_ms : 2000;
    self->stall_ms = cfg->stall_ms ? cfg->stall_ms : 15000;
    atomic_store(&self->alive_ms, pg_ops_mono_ms());
    snprintf(self->why, sizeof self->why, "starting");
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        pg_ops_destroy(&self);
        return NULL;
    }
    pg_http_config_t hc = {.listen = cfg->listen,
                           .threads = 1,
                           .max_connections = 32,
                           .idle_timeout_s = 30,
                           .max_body = 4096};
    self->http = pg_http_new(&hc, err, errlen);
    const pg_http_route_t routes[] = {
        {"GET", "/metrics", PG_HTTP_BODY_NONE, s_on_metrics, NULL, self},
        {"GET", "/healthz", PG_HTTP_BODY_NONE, s_on_healthz, NULL, self},
        {"GET", "/readyz", PG_HTTP_BODY_NONE, s_on_readyz, NULL, self},
    };
    for (size_t i = 0; self->http && i < sizeof routes / sizeof routes[0]; i++)
        if (pg_http_route(self->http, &routes[i]) != 0) {
            snprintf(err, errlen, "cannot add the route %s", routes[i].pattern);
            pg_ops_destroy(&self);
            return NULL;
        }
    if (!self->http || pg_http_start(self->http, err, errlen) != 0) {
        pg_ops_destroy(&self);
        return NULL;
    }
    return self;
}

void pg_ops_destroy(pg_ops_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_ops_t *self = *self_p;
    pg_http_destroy(&self->http);
    if (self->efd >= 0)
        close(self->efd);
    free(self->text);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

uint16_t pg_ops_port(const pg_ops_t *self) {
    return self ? pg_http_port(self->http) : 0;
}

int pg_ops_fd(const pg_ops_t *self) {
    return self ? self->efd : -1;
}

bool pg_ops_wanted(pg_ops_t *self) {
    if (!self)
        return false;
    uint64_t v;
    while (read(self->efd, &v, sizeof v) > 0)
        ;
    self->seen = atomic_load(&self->requested);
    return self->seen > atomic_load(&self->published);
}

void pg_ops_publish(pg_ops_t *self, char *text, size_t len) {
    if (!self) {
        free(text);
        return;
    }
    /* only the tickets pg_ops_wanted saw are answered by this text: a scrape that came during
     * the render made the eventfd readable again and waits for the next one */
    uint64_t gen = self->seen;
    if (text) {
        pthread_mutex_lock(&self->lock);
        free(self->text);
        self->text = text;
        self->text_len = len;
        pthread_mutex_unlock(&self->lock);
    }
    atomic_store(&self->published, gen);
}

void pg_ops_alive(pg_ops_t *self, int64_t mono_ms) {
    if (self)
        atomic_store(&self->alive_ms, mono_ms);
}

void pg_ops_set_ready(pg_ops_t *self, bool ready, const char *why) {
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->ready = ready;
    snprintf(self->why, sizeof self->why, "%s", why ? why : "");
    pthread_mutex_unlock(&self->lock);
}

uint64_t pg_ops_scrapes(const pg_ops_t *self) {
    return self ? atomic_load(&self->scrapes) : 0;
}

uint64_t pg_ops_stale(const pg_ops_t *self) {
    return self ? atomic_load(&self->stale) : 0;
}

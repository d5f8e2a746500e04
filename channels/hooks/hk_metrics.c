/* hk_metrics.c — atomic counters and their rendering (see hk_metrics.h). Reason labels of
 * refusals are a small table filled on first use under a mutex (modules name a handful). */
#include "hk_metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_ROUTES  64
#define S_MAX_REASONS 64

typedef struct {
    const char *provider;
    const char *route;
    _Atomic uint64_t results[HK_RESULT_COUNT];
    _Atomic uint64_t forwarded;
    _Atomic uint64_t acked[HK_ACK_COUNT]; /* this route's events answered, by result */
} s_route_t;

typedef struct {
    const char *provider;
    const char *reason;
    bool invalid; /* 400 rather than 403 */
    _Atomic uint64_t count;
} s_reason_t;

struct hk_metrics {
    s_route_t routes[S_MAX_ROUTES];
    size_t n_routes;
    pthread_mutex_t lock; /* guards adding to reasons */
    s_reason_t reasons[S_MAX_REASONS];
    _Atomic size_t n_reasons;
    _Atomic uint64_t reasons_dropped;
    _Atomic uint64_t acks[HK_ACK_COUNT];
    _Atomic uint64_t unavailable[HK_UNAVAIL_COUNT];
    _Atomic uint64_t reconnects;
    _Atomic int64_t in_flight;
    _Atomic int64_t in_flight_limit;
    _Atomic int broker_up;
};

static const char *const s_result_names[HK_RESULT_COUNT] = {"ok",        "refused",     "invalid",
                                                            "too_large", "unavailable", "error"};
static const char *const s_ack_names[HK_ACK_COUNT] = {
    "applied", "duplicate", "ignored", "unknown", "refused", "invalid", "error", "other", "late"};
static const char *const s_unavail_names[HK_UNAVAIL_COUNT] = {
    "broker_down", "full", "ack_error", "ack_timeout", "send_failed", "stopping"};

hk_metrics_t *hk_metrics_new(void) {
    hk_metrics_t *self = calloc(1, sizeof *self);
    if (self)
        pthread_mutex_init(&self->lock, NULL);
    return self;
}

void hk_metrics_destroy(hk_metrics_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    free(*self_p);
    *self_p = NULL;
}

int hk_metrics_add_route(hk_metrics_t *self, const char *provider, const char *route) {
    if (self->n_routes == S_MAX_ROUTES)
        return -1;
    s_route_t *r = &self->routes[self->n_routes];
    r->provider = provider;
    r->route = route;
    return (int)self->n_routes++;
}

hk_result_kind_t hk_metrics_result_of(int status) {
    if (status >= 200 && status < 300)
        return HK_RESULT_OK;
    switch (status) {
        case 403:
            return HK_RESULT_REFUSED;
        case 400:
        case 415:
            return HK_RESULT_INVALID;
        case 413:
            return HK_RESULT_TOO_LARGE;
        case 503:
            return HK_RESULT_UNAVAILABLE;
        default:
            return HK_RESULT_ERROR;
    }
}

static s_route_t *s_route(hk_metrics_t *self, int route) {
    return route >= 0 && (size_t)route < self->n_routes ? &self->routes[route] : NULL;
}

void hk_metrics_request(hk_metrics_t *self, int route, hk_result_kind_t result) {
    s_route_t *r = s_route(self, route);
    if (r && result < HK_RESULT_COUNT)
        atomic_fetch_add(&r->results[result], 1);
}

static void s_reason(hk_metrics_t *self, int route, const char *reason, bool invalid) {
    s_route_t *r = s_route(self, route);
    if (!r || !reason)
        return;
    size_t n = atomic_load(&self->n_reasons);
    for (size_t i = 0; i < n; i++) {
        s_reason_t *e = &self->reasons[i];
        if (e->invalid == invalid && e->provider == r->provider && strcmp(e->reason, reason) == 0) {
            atomic_fetch_add(&e->count, 1);
            return;
        }
    }
    pthread_mutex_lock(&self->lock);
    n = atomic_load(&self->n_reasons);
    s_reason_t *e = NULL;
    for (size_t i = 0; i < n && !e; i++)
        if (self->reasons[i].invalid == invalid && self->reasons[i].provider == r->provider &&
            strcmp(self->reasons[i].reason, reason) == 0)
            e = &self->reasons[i];
    if (!e && n < S_MAX_REASONS) {
        e = &self->reasons[n];
        e->provider = r->provider;
        e->reason = reason;
        e->invalid = invalid;
        atomic_store(&self->n_reasons, n + 1); /* published after the entry is written */
    }
    if (e)
        atomic_fetch_add(&e->count, 1);
    else
        atomic_fetch_add(&self->reasons_dropped, 1);
    pthread_mutex_unlock(&self->lock);
}

void hk_metrics_refused(hk_metrics_t *self, int route, const char *reason) {
    s_reason(self, route, reason, false);
}

void hk_metrics_invalid(hk_metrics_t *self, int route, const char *reason) {
    s_reason(self, route, reason, true);
}

void hk_metrics_forwarded(hk_metrics_t *self, int route, uint64_t n) {
    s_route_t *r = s_route(self, route);
    if (r)
        atomic_fetch_add(&r->forwarded, n);
}

void hk_metrics_route_ack(hk_metrics_t *self, int route, hk_ack_kind_t kind) {
    s_route_t *r = s_route(self, route);
    if (r && kind < HK_ACK_COUNT)
        atomic_fetch_add(&r->acked[kind], 1);
}

void hk_metrics_ack(hk_metrics_t *self, hk_ack_kind_t kind) {
    if (kind < HK_ACK_COUNT)
        atomic_fetch_add(&self->acks[kind], 1);
}

void hk_metrics_unavailable(hk_metrics_t *self, hk_unavail_kind_t why) {
    if (why < HK_UNAVAIL_COUNT)
        atomic_fetch_add(&self->unavailable[why], 1);
}

void hk_metrics_reconnect(hk_metrics_t *self) {
    atomic_fetch_add(&self->reconnects, 1);
}

void hk_metrics_set_in_flight(hk_metrics_t *self, int64_t n, int64_t limit) {
    atomic_store(&self->in_flight, n);
    atomic_store(&self->in_flight_limit, limit);
}

void hk_metrics_set_broker_up(hk_metrics_t *self, int up) {
    atomic_store(&self->broker_up, up);
}

hk_ack_kind_t hk_metrics_ack_of(const char *result) {
    for (int i = 0; i < HK_ACK_OTHER; i++)
        if (result && strcmp(result, s_ack_names[i]) == 0)
            return (hk_ack_kind_t)i;
    return HK_ACK_OTHER;
}

static void s_head(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_render_reasons(hk_metrics_t *self, FILE *f, bool invalid) {
    const char *name = invalid ? "pregon_hooks_invalid_total" : "pregon_hooks_refused_total";
    s_head(f, name, "counter",
           invalid ? "Signed webhook requests a provider module could not use (400), by reason."
                   : "Unsigned or forged webhook requests refused with 403, by reason.");
    size_t n = atomic_load(&self->n_reasons);
    for (size_t i = 0; i < n; i++) {
        s_reason_t *e = &self->reasons[i];
        if (e->invalid == invalid)
            fprintf(f, "%s{provider=\"%s\",reason=\"%s\"} %llu\n", name, e->provider, e->reason,
                    (unsigned long long)atomic_load(&e->count));
    }
}

char *hk_metrics_render(hk_metrics_t *self, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    s_head(f, "pregon_hooks_requests_total", "counter",
           "Webhook requests by provider, route and result.");
    for (size_t i = 0; i < self->n_routes; i++)
        for (int k = 0; k < HK_RESULT_COUNT; k++)
            fprintf(
                f, "pregon_hooks_requests_total{provider=\"%s\",route=\"%s\",result=\"%s\"} %llu\n",
                self->routes[i].provider, self->routes[i].route, s_result_names[k],
                (unsigned long long)atomic_load(&self->routes[i].results[k]));
    s_render_reasons(self, f, false);
    s_render_reasons(self, f, true);
    s_head(f, "pregon_hooks_events_forwarded_total", "counter",
           "Inbound events sent to pregond, by provider and route.");
    for (size_t i = 0; i < self->n_routes; i++)
        fprintf(f, "pregon_hooks_events_forwarded_total{provider=\"%s\",route=\"%s\"} %llu\n",
                self->routes[i].provider, self->routes[i].route,
                (unsigned long long)atomic_load(&self->routes[i].forwarded));
    s_head(f, "pregon_hooks_events_acked_total", "counter",
           "Inbound events answered by pregond, by provider, route and result (applied: the "
           "event changed the job or the debtor).");
    for (size_t i = 0; i < self->n_routes; i++)
        for (int k = 0; k < HK_ACK_LATE; k++) /* a late answer has no route: acks_total */
            fprintf(f,
                    "pregon_hooks_events_acked_total{provider=\"%s\",route=\"%s\",result=\"%s\"} "
                    "%llu\n",
                    self->routes[i].provider, self->routes[i].route, s_ack_names[k],
                    (unsigned long long)atomic_load(&self->routes[i].acked[k]));
    s_head(f, "pregon_hooks_acks_total", "counter",
           "InboundAcks received from pregond, by result.");
    for (int k = 0; k < HK_ACK_COUNT; k++)
        fprintf(f, "pregon_hooks_acks_total{result=\"%s\"} %llu\n", s_ack_names[k],
                (unsigned long long)atomic_load(&self->acks[k]));
    s_head(f, "pregon_hooks_unavailable_total", "counter",
           "Webhook requests answered 503 (the provider retries), by reason.");
    for (int k = 0; k < HK_UNAVAIL_COUNT; k++)
        fprintf(f, "pregon_hooks_unavailable_total{reason=\"%s\"} %llu\n", s_unavail_names[k],
                (unsigned long long)atomic_load(&self->unavailable[k]));
    s_head(f, "pregon_hooks_in_flight", "gauge", "Events forwarded and not yet answered.");
    fprintf(f, "pregon_hooks_in_flight %lld\n", (long long)atomic_load(&self->in_flight));
    s_head(f, "pregon_hooks_in_flight_limit", "gauge",
           "Events in flight beyond which requests get 503.");
    fprintf(f, "pregon_hooks_in_flight_limit %lld\n",
            (long long)atomic_load(&self->in_flight_limit));
    s_head(f, "pregon_hooks_broker_up", "gauge", "1 while pregond answers heartbeats.");
    fprintf(f, "pregon_hooks_broker_up %d\n", atomic_load(&self->broker_up));
    s_head(f, "pregon_hooks_broker_reconnects_total", "counter",
           "Times the broker socket was opened again after pregond went silent.");
    fprintf(f, "pregon_hooks_broker_reconnects_total %llu\n",
            (unsigned long long)atomic_load(&self->reconnects));
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* test_http.c — pg_http over real loopback HTTP (libcurl as the client): routing with captures,
 * the raw request target and query string, 404/405, form bodies, the 413 limit and a route's
 * error callback, per-request data, deferred replies, dropped requests, long polls woken from
 * another thread (while waiting, and while the handler still runs), wakes after the request is
 * over, and stop while a request waits. Ends with "N passed, M failed". */
#include "../it_check.h"
#include "pg_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint16_t s_port;

typedef struct {
    long status;
    CURLcode rc;
    char body[4096];
    size_t len;
    double ms;
} s_resp_t;

static size_t s_write(char *p, size_t size, size_t n, void *ud) {
    s_resp_t *r = ud;
    size_t k = size * n;
    if (r->len + k < sizeof r->body) {
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = '\0';
    }
    return k;
}

static double s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One request; post may be NULL (GET unless method says otherwise). */
static s_resp_t s_request(const char *method, const char *target, const char *post) {
    s_resp_t r = {0};
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)s_port, target);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    double t0 = s_now_ms();
    r.rc = curl_easy_perform(c);
    r.ms = s_now_ms() - t0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    return r;
}

/* ---- handlers ---- */

static void h_echo(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    char out[1024];
    const char *qs = pg_http_request_query_string(req);
    const char *q = pg_http_request_query(req, "q");
    snprintf(out, sizeof out, "%s|%s|%s|%s|%s|%s|%s", pg_http_request_method(req),
             pg_http_request_path(req), pg_http_request_target(req), qs ? qs : "(none)",
             pg_http_request_capture(req, 0), pg_http_request_capture(req, 1), q ? q : "(none)");
    pg_http_reply_text(req, 200, out);
    pg_http_add_header(req, "X-Test", "yes");
}

static void h_form(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    const pg_form_t *f = pg_http_request_form(req);
    char out[1024] = "";
    size_t pos = 0;
    for (size_t i = 0; f && i < pg_form_count(f); i++)
        pos += (size_t)snprintf(out + pos, sizeof out - pos, "%s=%s;", pg_form_name(f, i),
                                pg_form_value(f, i));
    pg_http_reply_text(req, 200, out);
}

static void h_custom_error(pg_http_request_t *req, int status, const char *message, void *ctx) {
    (void)ctx;
    char out[256];
    snprintf(out, sizeof out, "custom %d %s", status, message);
    pg_http_reply_text(req, status, out);
}

static void h_raw(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    size_t len = 0;
    const char *b = pg_http_request_body(req, &len);
    char out[256];
    snprintf(out, sizeof out, "%zu:%s", len, b ? b : "");
    pg_http_reply_text(req, 201, out);
}

static void h_nothing(pg_http_request_t *req, void *ctx) {
    (void)req;
    (void)ctx;
}

static void h_slow(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    pg_http_reply_text(req, 200, "slow");
    pg_http_reply_after(req, 300);
}

static void h_drop(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    pg_http_reply_text(req, 200, "never seen");
    pg_http_close_after(req, 50);
}

/* Long polls: the handler publishes its waker, waits; another thread sets s_ready and wakes. */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_cond = PTHREAD_COND_INITIALIZER;
static pg_http_waker_t *s_waker;
static atomic_bool s_ready;
static atomic_int s_calls;
static atomic_int s_freed;

static void s_count_free(void *p) {
    free(p);
    atomic_fetch_add(&s_freed, 1);
}

static void h_poll(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    atomic_fetch_add(&s_calls, 1);
    if (!pg_http_request_data(req)) {
        int *n = malloc(sizeof *n);
        *n = 0;
        pg_http_request_set_data(req, n, s_count_free);
    }
    int *n = pg_http_request_data(req);
    (*n)++;
    if (atomic_load(&s_ready) || pg_http_request_stopping(req)) {
        char out[64];
        snprintf(out, sizeof out, "%s after %d calls",
                 pg_http_request_stopping(req) ? "stopping" : "ready", *n);
        pg_http_reply_text(req, 200, out);
        return;
    }
    if (*n == 1) {
        pthread_mutex_lock(&s_lock);
        s_waker = pg_http_request_waker(req);
        pthread_cond_broadcast(&s_cond);
        pthread_mutex_unlock(&s_lock);
    }
    pg_http_call_again(req, 15000);
}

/* Wakes itself while still running: the wake must not be lost. */
static void h_self_wake(pg_http_request_t *req, void *ctx) {
    (void)ctx;
    if (pg_http_request_data(req)) {
        pg_http_reply_text(req, 200, "woken");
        return;
    }
    pg_http_request_set_data(req, strdup("x"), free);
    pg_http_waker_t *w = pg_http_request_waker(req);
    pg_http_waker_wake(w);
    pg_http_waker_release(&w);
    CHECK(w == NULL, "release nulls the pointer");
    pg_http_call_again(req, 15000);
}

static void *s_client(void *arg) {
    s_resp_t *r = arg;
    *r = s_request(NULL, "/poll", NULL);
    return NULL;
}

static pg_http_waker_t *s_take_waker(void) {
    pthread_mutex_lock(&s_lock);
    while (!s_waker)
        pthread_cond_wait(&s_cond, &s_lock);
    pg_http_waker_t *w = s_waker;
    s_waker = NULL;
    pthread_mutex_unlock(&s_lock);
    return w;
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[256];
    pg_http_config_t cfg = {.listen = "127.0.0.1:0",
                            .threads = 2,
                            .max_connections = 64,
                            .idle_timeout_s = 10,
                            .max_body = 100};
    pg_http_t *http = pg_http_new(&cfg, err, sizeof err);
    CHECK(http != NULL, "pg_http_new: %s", err);
    pg_http_config_t bad = cfg;
    bad.listen = "nocolon";
    CHECK(pg_http_new(&bad, err, sizeof err) == NULL, "a listen address without a port");
    const pg_http_route_t routes[] = {
        {"GET", "/echo/{a}/{b}.json", PG_HTTP_BODY_NONE, h_echo, NULL, NULL},
        {"POST", "/form", PG_HTTP_BODY_FORM, h_form, h_custom_error, NULL},
        {"POST", "/raw", PG_HTTP_BODY_RAW, h_raw, NULL, NULL},
        {"GET", "/nothing", PG_HTTP_BODY_NONE, h_nothing, NULL, NULL},
        {"GET", "/slow", PG_HTTP_BODY_NONE, h_slow, NULL, NULL},
        {"GET", "/drop", PG_HTTP_BODY_NONE, h_drop, NULL, NULL},
        {"GET", "/poll", PG_HTTP_BODY_NONE, h_poll, NULL, NULL},
        {"GET", "/self", PG_HTTP_BODY_NONE, h_self_wake, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        CHECK(pg_http_route(http, &routes[i]) == 0, "route %zu", i);
    pg_http_route_t broken = {"GET", "no-slash", PG_HTTP_BODY_NONE, h_echo, NULL, NULL};
    CHECK(pg_http_route(http, &broken) == -1, "a pattern must start with /");
    CHECK(pg_http_start(http, err, sizeof err) == 0, "start: %s", err);
    s_port = pg_http_port(http);
    CHECK(s_port != 0, "bound port");
    CHECK(pg_http_route(http, &routes[0]) == -1, "no route after start");

    /* routing, target, query */
    s_resp_t r = s_request(NULL, "/echo/h%C3%A9/id.json?q=a%20b&r=1", NULL);
    CHECK(r.status == 200 && strcmp(r.body, "GET|/echo/hé/id.json|/echo/h%C3%A9/id.json?q=a%20b"
                                            "&r=1|q=a%20b&r=1|hé|id|a b") == 0,
          "echo: %ld %s", r.status, r.body);
    r = s_request(NULL, "/echo/a/b.json", NULL);
    CHECK(r.status == 200 && strstr(r.body, "|(none)|a|b|(none)"), "no query: %s", r.body);
    r = s_request(NULL, "/echo/a/b.xml", NULL);
    CHECK(r.status == 404 && strcmp(r.body, "{\"status\":404,\"error\":\"Not Found\"}") == 0,
          "capture suffix must match: %ld %s", r.status, r.body);
    r = s_request(NULL, "/echo/a/b.json/more", NULL);
    CHECK(r.status == 404, "extra segment: %ld", r.status);
    r = s_request("DELETE", "/form", NULL);
    CHECK(r.status == 405, "405: %ld", r.status);

    /* bodies */
    r = s_request(NULL, "/form", "To=%2B573001234567&Body=S%C3%AD&Body=2");
    CHECK(r.status == 200 && strcmp(r.body, "To=+573001234567;Body=Sí;Body=2;") == 0, "form: %s",
          r.body);
    char big[256];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "x=", 2);
    r = s_request(NULL, "/form", big);
    CHECK(r.status == 413 && strcmp(r.body, "custom 413 Request body too large") == 0,
          "413 through on_error: %ld %s", r.status, r.body);
    r = s_request(NULL, "/raw", big);
    CHECK(r.status == 413 && strstr(r.body, "\"status\":413"), "413 default: %ld %s", r.status,
          r.body);
    r = s_request(NULL, "/raw", "{\"a\":1}");
    CHECK(r.status == 201 && strcmp(r.body, "7:{\"a\":1}") == 0, "raw: %s", r.body);
    r = s_request(NULL, "/nothing", NULL);
    CHECK(r.status == 500 && strstr(r.body, "handler produced no response"), "no answer: %ld %s",
          r.status, r.body);

    /* deferred and dropped */
    r = s_request(NULL, "/slow", NULL);
    CHECK(r.status == 200 && r.ms >= 290, "deferred reply after %.0f ms", r.ms);
    r = s_request(NULL, "/drop", NULL);
    CHECK(r.rc == CURLE_GOT_NOTHING && r.status == 0, "dropped: rc %d status %ld", r.rc, r.status);

    /* a long poll woken from another thread */
    s_resp_t pr;
    pthread_t t;
    pthread_create(&t, NULL, s_client, &pr);
    pg_http_waker_t *w = s_take_waker();
    while (pg_http_waiting(http) == 0) /* until it is suspended, to test that path */
        sched_yield();
    double t0 = s_now_ms();
    atomic_store(&s_ready, true);
    pg_http_waker_wake(w);
    pthread_join(t, NULL);
    double woke_ms = s_now_ms() - t0;
    CHECK(pr.status == 200 && strcmp(pr.body, "ready after 2 calls") == 0, "woken poll: %s",
          pr.body);
    CHECK(woke_ms < 1000, "answered %.1f ms after the wake", woke_ms);
    printf("test_http: a woken long poll answered %.3f ms after the wake\n", woke_ms);
    pg_http_waker_wake(w); /* the request is over: nothing happens */
    pg_http_waker_release(&w);
    CHECK(atomic_load(&s_freed) == 1, "request data freed once");

    r = s_request(NULL, "/self", NULL);
    CHECK(r.status == 200 && strcmp(r.body, "woken") == 0 && r.ms < 1000,
          "wake during the handler: %ld %s %.0f ms", r.status, r.body, r.ms);

    /* stop while a request waits: its handler answers at once */
    atomic_store(&s_ready, false);
    atomic_store(&s_calls, 0);
    pthread_create(&t, NULL, s_client, &pr);
    w = s_take_waker();
    while (pg_http_waiting(http) == 0)
        sched_yield();
    CHECK(pg_http_waiting(http) == 1, "one waiting");
    pg_http_stop(http);
    pthread_join(t, NULL);
    CHECK(pr.status == 200 && strcmp(pr.body, "stopping after 2 calls") == 0, "at stop: %ld %s",
          pr.status, pr.body);
    pg_http_waker_wake(w);
    pg_http_waker_release(&w);
    pg_http_stop(http); /* idempotent */
    pg_http_destroy(&http);
    CHECK(http == NULL, "destroy nulls the pointer");
    curl_global_cleanup();
    printf("test_http: %d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}

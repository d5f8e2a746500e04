/* test_audit_ops.c — cmocka tests of pregon-audit's operations endpoint (broker/audit/au_ops):
 * the readiness rule (Redis down, backlog not read, lag over and under the bound, no bound),
 * a non-loopback address refused, and over real HTTP: /metrics answers the loop's render (the
 * drained counter, the lag in seconds, the histograms), /readyz 503 with the reason the state
 * gives, 200 once ready. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "au_ops.h"

static au_ops_state_t s_ready_state(void) {
    au_ops_state_t st = {.redis_up = true, .backlog_known = true, .pending = 3, .lag_ms = 1500};
    return st;
}

static void test_readiness(void **state) {
    (void)state;
    char why[200];
    au_ops_state_t st = s_ready_state();
    assert_true(au_ops_readiness(&st, 0, why, sizeof why));
    assert_string_equal(why, "");
    assert_true(au_ops_readiness(&st, 2000, why, sizeof why)); /* 1.5 s under a 2 s bound */
    st.lag_ms = 75000;
    assert_false(au_ops_readiness(&st, 60000, why, sizeof why));
    assert_string_equal(why, "audit lag 75 s over the bound of 60 s (3 records pending)");
    assert_true(au_ops_readiness(&st, 0, why, sizeof why)); /* no bound: any lag */
    st.lag_ms = 60000;
    assert_true(au_ops_readiness(&st, 60000, why, sizeof why)); /* at the bound: still ready */
    st.backlog_known = false;
    assert_false(au_ops_readiness(&st, 0, why, sizeof why));
    assert_string_equal(why, "audit backlog not read yet");
    snprintf(st.redis_err, sizeof st.redis_err, "NOPERM xlen");
    assert_false(au_ops_readiness(&st, 0, why, sizeof why));
    assert_string_equal(why, "audit backlog not read: NOPERM xlen");
    st.redis_up = false;
    snprintf(st.redis_err, sizeof st.redis_err, "Connection refused");
    assert_false(au_ops_readiness(&st, 0, why, sizeof why));
    assert_string_equal(why, "redis: Connection refused");
    st.redis_err[0] = '\0';
    assert_false(au_ops_readiness(&st, 0, why, sizeof why));
    assert_string_equal(why, "redis: not connected");
}

typedef struct {
    char url[128];
    char body[16384];
    size_t len;
    long status;
} s_get_t;

static size_t s_write(char *data, size_t size, size_t n, void *ctx) {
    s_get_t *g = ctx;
    size_t k = size * n;
    if (g->len + k >= sizeof g->body)
        k = sizeof g->body - 1 - g->len;
    memcpy(g->body + g->len, data, k);
    g->len += k;
    g->body[g->len] = '\0';
    return size * n;
}

static void *s_get(void *arg) {
    s_get_t *g = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, g->url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    curl_easy_cleanup(c);
    return NULL;
}

static void s_fetch(au_ops_t *ops, const char *path, s_get_t *g, const au_ops_state_t *st,
                    const au_drain_stats_t *ds) {
    memset(g, 0, sizeof *g);
    snprintf(g->url, sizeof g->url, "http://127.0.0.1:%u%s", au_ops_port(ops), path);
    au_ops_turn(ops, st); /* readiness is the state's before the request is sent */
    pthread_t th;
    pthread_create(&th, NULL, s_get, g);
    for (int i = 0; i < 500 && g->status == 0; i++) { /* the loop: render when a scrape waits */
        struct pollfd pfd = {.fd = au_ops_fd(ops), .events = POLLIN};
        poll(&pfd, 1, 10);
        au_ops_turn(ops, st);
        if (au_ops_wanted(ops))
            au_ops_publish(ops, st, ds);
    }
    pthread_join(th, NULL);
}

static void test_endpoint(void **state) {
    (void)state;
    char err[256];
    au_ops_config_t bad = {.listen = "10.1.2.3:0"};
    assert_null(au_ops_new(&bad, err, sizeof err));
    au_ops_config_t cfg = {.listen = "127.0.0.1:0", .max_lag_ms = 60000};
    au_ops_t *ops = au_ops_new(&cfg, err, sizeof err);
    assert_non_null(ops);
    au_drain_stats_t ds = {.written = 7, .closed = 2, .verified = 2};
    pg_prom_hist_init(&ds.redis_seconds, pg_prom_latency_bounds, pg_prom_latency_n);
    pg_prom_hist_init(&ds.index_seconds, pg_prom_latency_bounds, pg_prom_latency_n);
    pg_prom_hist_observe(&ds.redis_seconds, 0.0003);
    au_ops_state_t st = s_ready_state();
    st.lag_ms = 90000;
    st.shards = 16;
    s_get_t g;
    s_fetch(ops, "/metrics", &g, &st, &ds);
    assert_int_equal(g.status, 200);
    assert_non_null(strstr(g.body, "\npregon_audit_records_drained_total 7\n"));
    assert_non_null(strstr(g.body, "\npregon_audit_segments_closed_total 2\n"));
    assert_non_null(strstr(g.body, "\npregon_audit_lag_seconds 90\n"));
    assert_non_null(strstr(g.body, "\npregon_audit_pending_records 3\n"));
    assert_non_null(strstr(g.body, "\npregon_audit_redis_roundtrip_seconds_count 1\n"));
    assert_non_null(strstr(g.body, "# TYPE pregon_audit_index_write_seconds histogram\n"));
    s_fetch(ops, "/readyz", &g, &st, &ds);
    assert_int_equal(g.status, 503);
    assert_non_null(strstr(g.body, "audit lag 90 s over the bound of 60 s"));
    st.lag_ms = 500;
    s_fetch(ops, "/readyz", &g, &st, &ds);
    assert_int_equal(g.status, 200);
    s_fetch(ops, "/healthz", &g, &st, &ds);
    assert_int_equal(g.status, 200);
    au_ops_destroy(&ops);
    assert_null(ops);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readiness),
        cmocka_unit_test(test_endpoint),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

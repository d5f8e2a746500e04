/* test_prom.c — cmocka tests of the Prometheus writer (pg_prom), its histogram and the bounded
 * labelled counters (pg_tally): exact text of families, samples and escaping; cumulative
 * buckets with +Inf, _sum and _count; integers printed as integers; the tally's rows, its
 * overflow row once full, values cut at their bound; and the ops endpoint (pg_ops) over real
 * HTTP: a scrape waits for the loop's render and gets it, a busy loop's last text is served
 * stale, /healthz fails when the loop stalls, /readyz says why. When promtool is on PATH the
 * rendered text is also checked with `promtool check metrics`. */
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
#include <unistd.h>

#include "pg_ops.h"
#include "pg_prom.h"
#include "pg_tally.h"

static void test_family_and_samples(void **state) {
    (void)state;
    pg_prom_t *p = pg_prom_new();
    pg_prom_family(p, "pregon_x_total", "counter", "Things.\nAnd a \\ slash.");
    pg_prom_samplef(p, "pregon_x_total", 42, "code", "ACCEPTED", "rule", "a\"b\\c\nd", NULL);
    pg_prom_sample(p, "pregon_x_total", NULL, 0.5);
    size_t len = 0;
    char *text = pg_prom_take(p, &len);
    assert_non_null(text);
    assert_string_equal(text, "# HELP pregon_x_total Things.\\nAnd a \\\\ slash.\n"
                              "# TYPE pregon_x_total counter\n"
                              "pregon_x_total{code=\"ACCEPTED\",rule=\"a\\\"b\\\\c\\nd\"} 42\n"
                              "pregon_x_total 0.5\n");
    assert_int_equal(len, strlen(text));
    free(text);
    text = pg_prom_take(p, &len); /* emptied by take */
    assert_string_equal(text, "");
    free(text);
    pg_prom_destroy(&p);
    assert_null(p);
}

static void test_histogram(void **state) {
    (void)state;
    pg_prom_hist_t h;
    const double b[] = {0.1, 1, 10};
    pg_prom_hist_init(&h, b, 3);
    pg_prom_hist_observe(&h, 0.05);
    pg_prom_hist_observe(&h, 0.1); /* le is inclusive */
    pg_prom_hist_observe(&h, 5);
    pg_prom_hist_observe(&h, 50);
    pg_prom_t *p = pg_prom_new();
    const char *labels[] = {"channel", "sms", NULL};
    pg_prom_histogram(p, "lat_seconds", labels, &h);
    char *text = pg_prom_take(p, NULL);
    assert_string_equal(text, "lat_seconds_bucket{channel=\"sms\",le=\"0.10000000000000001\"} 2\n"
                              "lat_seconds_bucket{channel=\"sms\",le=\"1\"} 2\n"
                              "lat_seconds_bucket{channel=\"sms\",le=\"10\"} 3\n"
                              "lat_seconds_bucket{channel=\"sms\",le=\"+Inf\"} 4\n"
                              "lat_seconds_sum{channel=\"sms\"} 55.149999999999999\n"
                              "lat_seconds_count{channel=\"sms\"} 4\n");
    free(text);
    pg_prom_destroy(&p);
}

static void test_tally(void **state) {
    (void)state;
    const char *names[] = {"code", "rule"};
    pg_tally_t *t = pg_tally_new(names, 2, 3);
    assert_non_null(t);
    const char *a[] = {"ACCEPTED", ""}, *d[] = {"DEFERRED", "co.hours"},
               *r[] = {"REJECTED", "opt-out"}, *x[] = {"REJECTED", "flood-1"},
               *y[] = {"REJECTED", "flood-2"};
    pg_tally_add(t, a, 5);
    pg_tally_add(t, d, 1);
    pg_tally_add(t, a, 2);
    pg_tally_add(t, r, 1);
    pg_tally_add(t, x, 1); /* full: the overflow row */
    pg_tally_add(t, y, 3);
    pg_tally_add(t, d, 1); /* known rows still count */
    assert_int_equal(pg_tally_rows(t), 3);
    assert_int_equal(pg_tally_get(t, a), 7);
    assert_int_equal(pg_tally_get(t, d), 2);
    assert_int_equal(pg_tally_get(t, x), 0);
    assert_int_equal(pg_tally_overflowed(t), 4);
    pg_prom_t *p = pg_prom_new();
    pg_tally_render(t, p, "v_total");
    char *text = pg_prom_take(p, NULL);
    assert_string_equal(text, "v_total{code=\"ACCEPTED\",rule=\"\"} 7\n"
                              "v_total{code=\"DEFERRED\",rule=\"co.hours\"} 2\n"
                              "v_total{code=\"REJECTED\",rule=\"opt-out\"} 1\n"
                              "v_total{code=\"other\",rule=\"other\"} 4\n");
    free(text);
    pg_prom_destroy(&p);
    pg_tally_destroy(&t);
    assert_null(t);
    assert_null(pg_tally_new(names, 0, 3));
    assert_null(pg_tally_new(names, 2, 0));
}

static void test_tally_cut_values(void **state) {
    (void)state;
    const char *names[] = {"v"};
    pg_tally_t *t = pg_tally_new(names, 1, 4);
    char long1[200], long2[200];
    memset(long1, 'a', 199);
    long1[199] = '\0';
    memcpy(long2, long1, 200);
    long2[150] = 'b'; /* differs past the bound: the same row */
    const char *v1[] = {long1}, *v2[] = {long2};
    pg_tally_add(t, v1, 1);
    pg_tally_add(t, v2, 1);
    assert_int_equal(pg_tally_rows(t), 1);
    assert_int_equal(pg_tally_get(t, v1), 2);
    pg_tally_destroy(&t);
}

/* promtool check metrics on a realistic render, when promtool exists. */
static void test_promtool(void **state) {
    (void)state;
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        skip();
    pg_prom_t *p = pg_prom_new();
    pg_prom_family(p, "pregon_verdicts_total", "counter", "Verdicts by code.");
    pg_prom_samplef(p, "pregon_verdicts_total", 3, "code", "accepted", NULL);
    pg_prom_family(p, "pregon_admission_seconds", "histogram", "Admission latency.");
    pg_prom_hist_t h;
    pg_prom_hist_init(&h, pg_prom_latency_bounds, pg_prom_latency_n);
    pg_prom_hist_observe(&h, 0.003);
    pg_prom_histogram(p, "pregon_admission_seconds", NULL, &h);
    pg_prom_family(p, "pregon_ready_jobs", "gauge", "Ready jobs.");
    pg_prom_samplef(p, "pregon_ready_jobs", 12, "channel", "sms", "shard", "3", NULL);
    char *text = pg_prom_take(p, NULL);
    char path[] = "/tmp/pg-prom-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics <%s", path);
    int rc = system(cmd);
    unlink(path);
    free(text);
    pg_prom_destroy(&p);
    assert_int_equal(rc, 0);
}

/* --- pg_ops over real HTTP --- */

typedef struct {
    char url[128];
    char body[4096];
    size_t len;
    long status;
    int stale;
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

static size_t s_header(char *data, size_t size, size_t n, void *ctx) {
    s_get_t *g = ctx;
    if (strncasecmp(data, "X-Pregon-Stale:", 15) == 0)
        g->stale = 1;
    return size * n;
}

static void *s_get(void *arg) {
    s_get_t *g = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, g->url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    curl_easy_cleanup(c);
    return NULL;
}

static void test_ops_endpoint(void **state) {
    (void)state;
    char err[256];
    pg_ops_config_t bad = {.listen = "10.1.2.3:0"};
    assert_null(pg_ops_new(&bad, err, sizeof err));
    assert_non_null(strstr(err, "not a loopback"));
    pg_ops_config_t cfg = {.listen = "127.0.0.1:0", .max_wait_ms = 300, .stall_ms = 200};
    pg_ops_t *ops = pg_ops_new(&cfg, err, sizeof err);
    assert_non_null(ops);
    uint16_t port = pg_ops_port(ops);
    assert_true(port > 0);

    /* a scrape waits until the loop renders, and gets that render */
    s_get_t g = {0};
    snprintf(g.url, sizeof g.url, "http://127.0.0.1:%u/metrics", port);
    pthread_t th;
    pthread_create(&th, NULL, s_get, &g);
    struct pollfd pfd = {pg_ops_fd(ops), POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 5000), 1); /* the loop is woken by the scrape */
    assert_true(pg_ops_wanted(ops));
    pg_ops_publish(ops, strdup("m_total 1\n"), 10);
    pthread_join(th, NULL);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "m_total 1\n");
    assert_int_equal(g.stale, 0);
    assert_false(pg_ops_wanted(ops)); /* answered: nothing waits */

    /* a loop that does not answer: the last text, marked stale, after max_wait_ms */
    s_get_t g2 = {0};
    snprintf(g2.url, sizeof g2.url, "http://127.0.0.1:%u/metrics", port);
    s_get(&g2);
    assert_int_equal(g2.status, 200);
    assert_string_equal(g2.body, "m_total 1\n");
    assert_int_equal(g2.stale, 1);
    assert_int_equal(pg_ops_stale(ops), 1);

    /* liveness and readiness */
    s_get_t h = {0};
    snprintf(h.url, sizeof h.url, "http://127.0.0.1:%u/healthz", port);
    pg_ops_alive(ops, pg_ops_mono_ms());
    s_get(&h);
    assert_int_equal(h.status, 200);
    pg_ops_alive(ops, pg_ops_mono_ms() - 1000); /* stalled past stall_ms */
    memset(h.body, 0, sizeof h.body);
    h.len = 0;
    s_get(&h);
    assert_int_equal(h.status, 503);
    assert_non_null(strstr(h.body, "loop stalled"));
    s_get_t r = {0};
    snprintf(r.url, sizeof r.url, "http://127.0.0.1:%u/readyz", port);
    pg_ops_set_ready(ops, false, "redis unreachable");
    s_get(&r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "redis unreachable\n");
    pg_ops_set_ready(ops, true, NULL);
    r.len = 0;
    s_get(&r);
    assert_int_equal(r.status, 200);
    pg_ops_destroy(&ops);
    assert_null(ops);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_tally),
        cmocka_unit_test(test_tally_cut_values),
        cmocka_unit_test(test_promtool),
        cmocka_unit_test(test_ops_endpoint),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

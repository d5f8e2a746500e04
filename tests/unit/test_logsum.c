/* test_logsum.c — cmocka tests of pg_logsum with an injected clock: the burst logged one by
 * one, the rest folded into one summary per key per window, windows closed by tick, by the
 * next event or by flush/destroy, keys kept apart, the "other events" slot when the table is
 * full, tick's timeout, number and duration formatting, and hostile text in the summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_log.h"
#include "pg_logsum.h"

#define S_T0 INT64_C(1796245445123) /* 2026-12-02T21:04:05.123Z */

static FILE *s_file;
static off_t s_read_at;
static int64_t s_now;

static int64_t s_clock(void *ctx) {
    (void)ctx;
    return s_now;
}

static int s_setup(void **state) {
    (void)state;
    s_file = tmpfile();
    s_read_at = 0;
    s_now = S_T0;
    pg_log_init("pregon-sms");
    pg_log_set_output(s_file);
    pg_log_set_clock(s_clock, NULL);
    return s_file ? 0 : -1;
}

static int s_teardown(void **state) {
    pg_logsum_t *sum = *state;
    pg_logsum_destroy(&sum);
    pg_log_set_output(NULL);
    pg_log_set_clock(NULL, NULL);
    fclose(s_file);
    return 0;
}

/* The messages written since the last call, timestamps and program removed, '\n'-separated. */
static const char *s_take(void) {
    static char raw[1 << 16], out[1 << 16];
    ssize_t n = pread(fileno(s_file), raw, sizeof raw - 1, s_read_at);
    assert_true(n >= 0);
    raw[n] = '\0';
    s_read_at += n;
    size_t w = 0;
    for (char *line = raw; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        const char *msg = strstr(line, " pregon-sms: ");
        assert_non_null(msg);
        msg += strlen(" pregon-sms: ");
        memcpy(out + w, msg, (size_t)(nl + 1 - msg));
        w += (size_t)(nl + 1 - msg);
        line = nl + 1;
    }
    out[w] = '\0';
    return out;
}

static pg_logsum_t *s_new(void **state, int64_t interval_ms, unsigned burst, unsigned max_keys) {
    pg_logsum_config_t cfg = {
        .interval_ms = interval_ms, .burst = burst, .max_keys = max_keys, .now_ms = s_clock};
    pg_logsum_t *sum = pg_logsum_new(&cfg);
    assert_non_null(sum);
    *state = sum;
    return sum;
}

/* ------------------------------------------------------------------------------------------ */

static void test_burst_then_fold_then_summary(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 3, 0);
    for (int i = 0; i < 1207; i++) {
        bool logged = pg_logsum_event(sum, "jobs FAILED", "job j%d FAILED: 21211 invalid To", i);
        assert_int_equal(logged, i < 3);
        s_now += 5; /* 1,207 events over 6 s */
    }
    assert_string_equal(s_take(), "job j0 FAILED: 21211 invalid To\n"
                                  "job j1 FAILED: 21211 invalid To\n"
                                  "job j2 FAILED: 21211 invalid To\n");
    s_now = S_T0 + 9999;
    assert_int_equal(pg_logsum_tick(sum), 1); /* not over yet */
    assert_string_equal(s_take(), "");
    s_now = S_T0 + 10000;
    assert_int_equal(pg_logsum_tick(sum), -1);
    assert_string_equal(s_take(),
                        "1,204 more jobs FAILED in the last 10 s; last: job j1206 FAILED: 21211 "
                        "invalid To\n");
    assert_int_equal(pg_logsum_tick(sum), -1); /* once */
    assert_string_equal(s_take(), "");
}

/* A steady flood gives burst lines plus one summary per window, window after window. */
static void test_flood_across_windows(void **state) {
    pg_logsum_t *sum = s_new(state, 1000, 2, 0);
    int logged = 0, summaries = 0;
    for (int i = 0; i < 5000; i++) { /* 5 s at one event per ms, ticking every 100 ms */
        logged += pg_logsum_event(sum, "retries", "job r%d RETRY", i);
        s_now++;
        if (i % 100 == 99)
            pg_logsum_tick(sum);
    }
    pg_logsum_flush(sum);
    const char *out = s_take();
    for (const char *p = out; (p = strstr(p, " more retries in the last ")); p++)
        summaries++;
    assert_int_equal(logged, 5 * 2);
    assert_int_equal(summaries, 5);
    assert_non_null(strstr(out, "job r0 RETRY\njob r1 RETRY\n998 more retries in the last 1.0 s; "
                                "last: job r999 RETRY\njob r1000 RETRY\njob r1001 RETRY\n"));
}

static void test_event_closes_its_window(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 1, 0);
    pg_logsum_event(sum, "bad frames", "bad frame %d", 1);
    pg_logsum_event(sum, "bad frames", "bad frame %d", 2);
    pg_logsum_event(sum, "bad frames", "bad frame %d", 3);
    s_now += 12000; /* no tick in between: the next event closes the window first */
    assert_true(pg_logsum_event(sum, "bad frames", "bad frame %d", 4));
    assert_string_equal(s_take(), "bad frame 1\n"
                                  "2 more bad frames in the last 12 s; last: bad frame 3\n"
                                  "bad frame 4\n");
}

static void test_no_summary_without_folding(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 3, 0);
    assert_int_equal(pg_logsum_tick(sum), -1);
    pg_logsum_event(sum, "k", "one");
    pg_logsum_event(sum, "k", "two");
    s_now += 4000;
    assert_int_equal(pg_logsum_tick(sum), 6000);
    s_now += 6000;
    assert_int_equal(pg_logsum_tick(sum), -1);
    pg_logsum_flush(sum);
    assert_string_equal(s_take(), "one\ntwo\n");
}

static void test_keys_are_independent(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 1, 0);
    pg_logsum_event(sum, "jobs FAILED", "f1");
    pg_logsum_event(sum, "jobs FAILED", "f2");
    s_now += 3000;
    pg_logsum_event(sum, "retries", "r1");
    pg_logsum_event(sum, "retries", "r2");
    pg_logsum_event(sum, "retries", "r3");
    s_now += 7000; /* the first window is over, the second is not */
    assert_int_equal(pg_logsum_tick(sum), 3000);
    assert_string_equal(s_take(), "f1\nr1\n1 more jobs FAILED in the last 10 s; last: f2\n");
    s_now += 3000;
    assert_int_equal(pg_logsum_tick(sum), -1);
    assert_string_equal(s_take(), "2 more retries in the last 10 s; last: r3\n");
}

static void test_flush_and_destroy_log_pending(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 1, 0);
    pg_logsum_event(sum, "retries", "r1");
    pg_logsum_event(sum, "retries", "r2");
    s_now += 2500;
    pg_logsum_flush(sum);
    assert_string_equal(s_take(), "r1\n1 more retries in the last 2.5 s; last: r2\n");
    pg_logsum_event(sum, "retries", "r3");
    pg_logsum_event(sum, "retries", "r4");
    pg_logsum_destroy(&sum);
    assert_null(sum);
    *state = NULL;
    assert_string_equal(s_take(), "r3\n1 more retries in the last 0.0 s; last: r4\n");
    pg_logsum_destroy(&sum); /* NULL is fine */
    pg_logsum_destroy(NULL);
}

static void test_full_table_shares_other_slot(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 1, 2);
    pg_logsum_event(sum, "a", "a1");
    pg_logsum_event(sum, "b", "b1");
    pg_logsum_event(sum, "c", "c1"); /* no free slot: "other events" */
    pg_logsum_event(sum, "d", "d1");
    pg_logsum_event(sum, "d", "d2");
    s_now += 10000;
    pg_logsum_tick(sum);
    assert_string_equal(s_take(), "a1\nb1\nc1\n2 more other events in the last 10 s; last: d2\n");
    /* windows that are over free their slots for new keys, even without a tick */
    pg_logsum_event(sum, "e", "e1");
    pg_logsum_event(sum, "f", "f1");
    s_now += 10000;
    pg_logsum_event(sum, "g", "g1");
    pg_logsum_event(sum, "g", "g2");
    s_now += 10000;
    pg_logsum_flush(sum);
    assert_string_equal(s_take(), "e1\nf1\ng1\n1 more g in the last 10 s; last: g2\n");
}

static void test_numbers_and_durations(void **state) {
    pg_logsum_t *sum = s_new(state, 3600000, 1, 0);
    static const struct {
        int folded;
        int64_t took_ms;
        const char *want;
    } cases[] = {
        {1, 0, "1 more k in the last 0.0 s; last: e\n"},
        {999, 9949, "999 more k in the last 9.9 s; last: e\n"},
        {1000, 9951, "1,000 more k in the last 10 s; last: e\n"},
        {123456, 10499, "123,456 more k in the last 10 s; last: e\n"},
        {1000000, 61500, "1,000,000 more k in the last 62 s; last: e\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int k = 0; k <= cases[i].folded; k++)
            pg_logsum_event(sum, "k", "e");
        s_now += cases[i].took_ms;
        s_take();
        pg_logsum_flush(sum);
        assert_string_equal(s_take(), cases[i].want);
    }
}

static void test_summary_is_escaped_and_masked(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 1, 0);
    pg_logsum_event(sum, "jobs FAILED", "first");
    pg_logsum_event(sum, "jobs FAILED", "to +573001234567: \x1b[2Jbad\nline");
    s_now += 10000;
    pg_logsum_tick(sum);
    assert_string_equal(s_take(), "first\n1 more jobs FAILED in the last 10 s; last: to "
                                  "+57******4567: \\x1b[2Jbad\\nline\n");
}

static void test_clock_backwards_closes_window(void **state) {
    pg_logsum_t *sum = s_new(state, 10000, 1, 0);
    pg_logsum_event(sum, "k", "k1");
    pg_logsum_event(sum, "k", "k2");
    s_now -= 60000;
    assert_int_equal(pg_logsum_tick(sum), -1);
    assert_string_equal(s_take(), "k1\n1 more k in the last 0.0 s; last: k2\n");
}

static void test_config(void **state) {
    (void)state;
    pg_logsum_config_t bad = {.interval_ms = -1};
    assert_null(pg_logsum_new(&bad));
    pg_logsum_t *sum = pg_logsum_new(NULL); /* defaults: 10 s, burst 3, pg_log's clock */
    assert_non_null(sum);
    for (int i = 0; i < 5; i++)
        pg_logsum_event(sum, "k", "e%d", i);
    assert_int_equal(pg_logsum_tick(sum), 10000);
    s_now += 10000;
    pg_logsum_tick(sum);
    assert_string_equal(s_take(), "e0\ne1\ne2\n2 more k in the last 10 s; last: e4\n");
    pg_logsum_destroy(&sum);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_then_fold_then_summary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_flood_across_windows, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_event_closes_its_window, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_summary_without_folding, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_keys_are_independent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_flush_and_destroy_log_pending, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_full_table_shares_other_slot, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_numbers_and_durations, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_summary_is_escaped_and_masked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_clock_backwards_closes_window, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_config, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

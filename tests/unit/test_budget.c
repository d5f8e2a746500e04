/* test_budget.c — brk_budget: the budgets file (amounts, on_exceed and its errors) and the
 * start of a budget's next period (what on_exceed: defer defers to). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brk_budget.h"

/* Writes text to a temp file; returns its path (static buffer). */
static const char *s_file(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/pregon-test-budget.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static brk_budgets_t *s_load(const char *text, char *err, size_t len) {
    const char *p = s_file(text);
    brk_budgets_t *b = brk_budgets_load(p, err, len);
    unlink(p);
    return b;
}

static void test_on_exceed(void **state) {
    (void)state;
    char err[256] = "";
    brk_budgets_t *b = s_load("costs: {sms: 0.05}\n"
                              "on_exceed: defer\n"
                              "tenants:\n"
                              "  acme: {daily: 5}\n"
                              "  beta: {daily: 5, on_exceed: reject}\n",
                              err, sizeof err);
    assert_non_null(b);
    assert_int_equal(brk_budget_on_exceed(b, "acme"), BRK_BUDGET_DEFER);  /* the file's */
    assert_int_equal(brk_budget_on_exceed(b, "beta"), BRK_BUDGET_REJECT); /* its own */
    assert_int_equal(brk_budget_cost(b, "acme", 1), 50000);
    brk_budgets_destroy(&b);
    assert_null(b);
    b = s_load("tenants:\n  acme: {daily: 5}\n", err, sizeof err);
    assert_non_null(b);
    assert_int_equal(brk_budget_on_exceed(b, "acme"), BRK_BUDGET_REJECT); /* the default */
    brk_budgets_destroy(&b);
}

static void test_on_exceed_errors(void **state) {
    (void)state;
    char err[256] = "";
    assert_null(s_load("on_exceed: later\n", err, sizeof err));
    assert_non_null(strstr(err, ":1:"));
    assert_non_null(strstr(err, "on_exceed must be reject or defer, not \"later\""));
    assert_null(s_load("tenants:\n  acme:\n    on_exceed: [defer]\n", err, sizeof err));
    assert_non_null(strstr(err, ":3:"));
}

static void test_next_period(void **state) {
    (void)state;
    /* 2026-12-31 23:59:59 UTC: the next day is next year's, the next month too */
    int64_t eve = 1798761599;
    assert_int_equal(brk_budget_next_period("budget.campaign.daily", eve), 1798761600);
    assert_int_equal(brk_budget_next_period("budget.tenant.monthly", eve), 1798761600);
    /* 2027-02-28 12:00 UTC (not a leap year): March 1st for both */
    int64_t feb = 1803816000;
    assert_int_equal(brk_budget_next_period("budget.tenant.daily", feb), 1803859200);
    assert_int_equal(brk_budget_next_period("budget.campaign.monthly", feb), 1803859200);
    /* 2028-02-28 12:00 UTC (a leap year): the 29th, then March 1st */
    int64_t leap = 1835352000;
    assert_int_equal(brk_budget_next_period("budget.tenant.daily", leap), 1835395200);
    assert_int_equal(brk_budget_next_period("budget.tenant.monthly", leap), 1835481600);
    /* no next period */
    assert_int_equal(brk_budget_next_period("budget.campaign.total", eve), 0);
    assert_int_equal(brk_budget_next_period("daily", eve), 0);
    assert_int_equal(brk_budget_next_period(NULL, eve), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_exceed),
        cmocka_unit_test(test_on_exceed_errors),
        cmocka_unit_test(test_next_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

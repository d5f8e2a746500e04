/* test_vc_pool.c — caller-id pools: local presence, stickiness, retirement, daily caps, reload,
 * and the day counts kept across a restart (vc_counts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vc_counts.h"
#include "vc_pool.h"

#define DAY (86400000LL)

static char s_dir[64], s_pools[128], s_retired[128];

static void s_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *POOLS = "pools:\n"
                           "  - tenant: acme\n"
                           "    daily_cap: 3\n"
                           "    numbers:\n"
                           "      - {number: \"+5716010001\", area: \"+571\"}\n"
                           "      - {number: \"+5716010002\", area: \"+571\"}\n"
                           "      - {number: \"+5746010003\", area: \"+574\"}\n"
                           "      - {number: \"+18005550100\"}\n"
                           "  - tenant: acme\n"
                           "    campaign: vip\n"
                           "    machine_detection: Enable\n"
                           "    numbers:\n"
                           "      - {number: \"+5716019999\", area: \"+57\"}\n";

static int s_setup(void **state) {
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/test_vc_pool.XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    snprintf(s_pools, sizeof s_pools, "%s/pools.yaml", s_dir);
    snprintf(s_retired, sizeof s_retired, "%s/pools.yaml.retired", s_dir);
    s_write(s_pools, POOLS);
    unlink(s_retired);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    unlink(s_pools);
    unlink(s_retired);
    rmdir(s_dir);
    return 0;
}

static void test_local_and_sticky(void **state) {
    (void)state;
    char err[256];
    vc_pool_t *p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_non_null(p);
    vc_choice_t c1, c2;
    /* Bogotá (+571) debtors get a 601 number, Medellín (+574) the 604 one */
    assert_int_equal(vc_pool_peek(p, "acme", "c", "d1", "+5713001234", 0, &c1), 0);
    assert_true(!strncmp(c1.number, "+571601", 7));
    assert_int_equal(vc_pool_peek(p, "acme", "c", "d1", "+5743001234", 0, &c2), 0);
    assert_string_equal(c2.number, "+5746010003");
    /* the same debtor, the same number, call after call; debtors spread over both */
    int seen[2] = {0, 0};
    for (int d = 0; d < 200; d++) {
        char debtor[16];
        snprintf(debtor, sizeof debtor, "d%d", d);
        assert_int_equal(vc_pool_peek(p, "acme", "c", debtor, "+5713001234", 0, &c1), 0);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(vc_pool_peek(p, "acme", "c", debtor, "+5713001234", 0, &c2), 0);
            assert_string_equal(c1.number, c2.number);
        }
        seen[!strcmp(c1.number, "+5716010002")]++;
    }
    assert_true(seen[0] > 60 && seen[1] > 60);
    /* no area matches: the debtor's country (a CO mobile, +573, gets a CO number; a US one the
     * US number); a campaign's own pool wins, with its AMD */
    for (int d = 0; d < 50; d++) {
        char debtor[16];
        snprintf(debtor, sizeof debtor, "m%d", d);
        assert_int_equal(vc_pool_peek(p, "acme", "c", debtor, "+573001234567", 0, &c1), 0);
        assert_true(!strncmp(c1.number, "+57", 3));
    }
    assert_int_equal(vc_pool_peek(p, "acme", "c", "d1", "+12125550000", 0, &c1), 0);
    assert_string_equal(c1.number, "+18005550100");
    assert_int_equal(vc_pool_peek(p, "acme", "c", "d1", "+34911234567", 0, &c1), 0);
    assert_int_equal(vc_pool_peek(p, "acme", "vip", "d1", "+5713001234", 0, &c2), 0);
    assert_string_equal(c2.number, "+5716019999");
    assert_int_equal(c2.amd, VC_AMD_ENABLE);
    assert_int_equal(vc_pool_peek(p, "other", "c", "d1", "+5713001234", 0, &c1), 1);
    vc_pool_destroy(&p);
    assert_null(p);
}

static void test_retired_and_reload(void **state) {
    (void)state;
    char err[256];
    vc_pool_t *p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_non_null(p);
    /* find a debtor of each Bogotá number */
    vc_choice_t c;
    char a_debtor[16] = "", b_debtor[16] = "";
    for (int d = 0; d < 100 && (!a_debtor[0] || !b_debtor[0]); d++) {
        char debtor[16];
        snprintf(debtor, sizeof debtor, "d%d", d);
        vc_pool_peek(p, "acme", "c", debtor, "+5713001234", 0, &c);
        snprintf(!strcmp(c.number, "+5716010001") ? a_debtor : b_debtor, 16, "%s", debtor);
    }
    assert_int_equal(
        vc_pool_retire_file(s_retired, "+5716010001", true, "flagged", 1, err, sizeof err), 0);
    assert_int_equal(vc_pool_retire_file(s_retired, "+5716010001", true, "x", 1, err, sizeof err),
                     1);
    assert_int_equal(vc_pool_refresh(p, 5000, err, sizeof err), 1);
    assert_true(vc_pool_is_retired(p, "+5716010001"));
    /* a's debtor moves to the other local number; b's debtor keeps his */
    vc_pool_peek(p, "acme", "c", a_debtor, "+5713001234", 5000, &c);
    assert_string_equal(c.number, "+5716010002");
    vc_pool_peek(p, "acme", "c", b_debtor, "+5713001234", 5000, &c);
    assert_string_equal(c.number, "+5716010002");
    /* both Bogotá numbers retired: the next shorter match, then the whole pool */
    assert_int_equal(
        vc_pool_retire_file(s_retired, "+5716010002", true, "blocked", 1, err, sizeof err), 0);
    assert_int_equal(vc_pool_refresh(p, 5000, err, sizeof err), 0); /* within the second */
    assert_int_equal(vc_pool_refresh(p, 6100, err, sizeof err), 1);
    vc_pool_peek(p, "acme", "c", a_debtor, "+5713001234", 6100, &c);
    assert_true(strcmp(c.number, "+5716010001") && strcmp(c.number, "+5716010002"));
    /* restored */
    assert_int_equal(vc_pool_retire_file(s_retired, "+5716010001", false, NULL, 0, err, sizeof err),
                     0);
    assert_int_equal(vc_pool_refresh(p, 7200, err, sizeof err), 1);
    vc_pool_peek(p, "acme", "c", a_debtor, "+5713001234", 7200, &c);
    assert_string_equal(c.number, "+5716010001");
    /* a pool file that no longer loads keeps the old pools */
    s_write(s_pools, "pools: [{tenant: acme}]\n");
    assert_int_equal(vc_pool_refresh(p, 8300, err, sizeof err), -1);
    assert_non_null(strstr(err, "numbers"));
    assert_int_equal(vc_pool_peek(p, "acme", "c", a_debtor, "+5713001234", 8300, &c), 0);
    s_write(s_pools, POOLS);
    vc_pool_destroy(&p);
}

static void test_daily_cap(void **state) {
    (void)state;
    char err[256];
    vc_pool_t *p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_non_null(p);
    vc_choice_t c, first;
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", DAY, &first), 0);
    assert_string_equal(first.number, "+5746010003");
    assert_int_equal(first.calls_today, 1);
    for (int i = 2; i <= 3; i++) {
        assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", DAY + i, &c), 0);
        assert_string_equal(c.number, first.number);
        assert_int_equal(c.calls_today, (uint32_t)i);
    }
    /* at its cap: the next best number for that debtor (stable), never rotating per call */
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", DAY + 9, &c), 0);
    assert_string_not_equal(c.number, first.number);
    /* the next UTC day the cap starts again */
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", 2 * DAY, &c), 0);
    assert_string_equal(c.number, first.number);
    vc_pool_destroy(&p);
}

/* A worker restarted the same day starts from the counts it had; another day's file does not
 * count; a file that does not read refuses the start. */
static void test_counts_across_restart(void **state) {
    (void)state;
    char err[256], counts[160];
    snprintf(counts, sizeof counts, "%s/voice-counts.json", s_dir);
    unlink(counts);
    vc_pool_t *p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(vc_counts_load(p, counts, DAY, err, sizeof err), 0); /* first start */
    vc_choice_t c, first;
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", DAY, &first), 0);
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", DAY + 1, &c), 0);
    assert_int_equal(vc_counts_save(p, counts, DAY + 1, err, sizeof err), 0);
    vc_pool_destroy(&p);
    /* the same day: the third call is the number's last under its cap of 3 */
    p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_int_equal(vc_counts_load(p, counts, DAY + 2, err, sizeof err), 0);
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", DAY + 2, &c), 0);
    assert_string_equal(c.number, first.number);
    assert_int_equal(c.calls_today, 3);
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", DAY + 3, &c), 0);
    assert_string_not_equal(c.number, first.number);
    vc_pool_destroy(&p);
    /* the next day: the file's counts are yesterday's */
    p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_int_equal(vc_counts_load(p, counts, 2 * DAY, err, sizeof err), 0);
    assert_int_equal(vc_pool_choose(p, "acme", "c", "dx", "+5743001234", 2 * DAY, &c), 0);
    assert_int_equal(c.calls_today, 1);
    /* a damaged file */
    s_write(counts, "{\"day\": ");
    assert_int_equal(vc_counts_load(p, counts, 2 * DAY, err, sizeof err), -1);
    assert_non_null(strstr(err, "counts state"));
    /* a file far larger than any counts file is refused, not loaded */
    FILE *big = fopen(counts, "w");
    assert_non_null(big);
    assert_int_equal(fseek(big, 17 << 20, SEEK_SET), 0);
    fputc('}', big);
    fclose(big);
    assert_int_equal(vc_counts_load(p, counts, 2 * DAY, err, sizeof err), -1);
    assert_non_null(strstr(err, "bytes, over"));
    vc_pool_destroy(&p);
    unlink(counts);
}

/* A number two tenants share has a count, and a cap, in each pool: kept so across a restart. */
static void test_counts_per_pool(void **state) {
    (void)state;
    char err[256], counts[160];
    snprintf(counts, sizeof counts, "%s/voice-counts.json", s_dir);
    s_write(s_pools, "pools:\n"
                     "  - tenant: acme\n"
                     "    numbers: [{number: \"+5716010001\"}]\n"
                     "  - tenant: beta\n"
                     "    daily_cap: 3\n"
                     "    numbers: [{number: \"+5716010001\"}]\n");
    vc_pool_t *p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_non_null(p);
    vc_choice_t c;
    for (int i = 0; i < 5; i++)
        assert_int_equal(vc_pool_choose(p, "acme", "x", "d1", "+5713001234", DAY + i, &c), 0);
    assert_int_equal(vc_pool_choose(p, "beta", "x", "d1", "+5713001234", DAY + 9, &c), 0);
    char beta_number[VC_NUMBER_MAX];
    snprintf(beta_number, sizeof beta_number, "%s", c.number);
    assert_int_equal(vc_counts_save(p, counts, DAY + 9, err, sizeof err), 0);
    vc_pool_destroy(&p);
    p = vc_pool_new(s_pools, s_retired, err, sizeof err);
    assert_int_equal(vc_counts_load(p, counts, DAY + 10, err, sizeof err), 0);
    /* beta made one call from the shared number: its next is its second, under its cap of 3,
     * whatever acme made from it (5: a count kept per number would exhaust beta's pool) */
    assert_int_equal(vc_pool_choose(p, "beta", "x", "d1", "+5713001234", DAY + 10, &c), 0);
    assert_string_equal(c.number, beta_number);
    assert_int_equal(c.calls_today, 2);
    assert_int_equal(vc_pool_choose(p, "acme", "x", "d1", "+5713001234", DAY + 11, &c), 0);
    assert_int_equal(c.calls_today, 6);
    vc_pool_destroy(&p);
    unlink(counts);
    s_write(s_pools, POOLS);
}

static void test_bad_files(void **state) {
    (void)state;
    char err[256];
    s_write(s_pools, "pools:\n  - tenant: acme\n    numbers: [{number: \"5716010001\"}]\n");
    assert_null(vc_pool_new(s_pools, s_retired, err, sizeof err));
    assert_non_null(strstr(err, "E.164"));
    s_write(s_pools, "pools:\n  - tenant: acme\n    color: red\n    numbers: [{number: \"+1\"}]\n");
    assert_null(vc_pool_new(s_pools, s_retired, err, sizeof err));
    s_write(s_pools, POOLS);
    s_write(s_retired, "not-a-number\n");
    assert_null(vc_pool_new(s_pools, s_retired, err, sizeof err));
    unlink(s_retired);
}

static void test_weight(void **state) {
    (void)state;
    assert_true(vc_pool_weight("ab", "c", "n") != vc_pool_weight("a", "bc", "n"));
    assert_true(vc_pool_weight("t", "d", "+1") == vc_pool_weight("t", "d", "+1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_and_sticky, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retired_and_reload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_daily_cap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_counts_across_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_counts_per_pool, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, s_setup, s_teardown),
        cmocka_unit_test(test_weight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

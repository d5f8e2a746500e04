/* test_lost.c — brk_lost: the bounded memory of pg_lease calls whose answer was lost (order,
 * eviction of the oldest when full, nonce lookup, counts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "brk_lost.h"
#include "st_keys.h"

static void s_nonces(char *buf, int first, int n) {
    for (int i = 0; i < n; i++)
        snprintf(buf + i * ST_NONCE_HEX, ST_NONCE_HEX + 1, "%0*x", ST_NONCE_HEX, first + i);
}

static void test_order_and_nonces(void **state) {
    (void)state;
    brk_lost_t *l = brk_lost_new();
    assert_non_null(l);
    assert_null(brk_lost_oldest(l));
    char n1[3 * ST_NONCE_HEX + 1], n2[ST_NONCE_HEX + 1];
    s_nonces(n1, 100, 3);
    s_nonces(n2, 200, 1);
    assert_int_equal(brk_lost_add(l, 4, 1, 5000, n1, 3), 0);
    assert_int_equal(brk_lost_add(l, 7, 1, 6000, n2, 1), 0);
    assert_int_equal(brk_lost_count(l), 2);
    const brk_lost_call_t *c = brk_lost_oldest(l);
    assert_int_equal(c->shard, 4);
    assert_int_equal(c->until_ms, 5000);
    char probe[ST_NONCE_HEX + 1];
    s_nonces(probe, 101, 1);
    assert_true(brk_lost_has_nonce(c, probe));
    s_nonces(probe, 200, 1); /* the other call's */
    assert_false(brk_lost_has_nonce(c, probe));
    s_nonces(probe, 103, 1); /* one past the call's three */
    assert_false(brk_lost_has_nonce(c, probe));
    brk_lost_forget_oldest(l);
    assert_int_equal(brk_lost_oldest(l)->shard, 7);
    brk_lost_forget_oldest(l);
    assert_int_equal(brk_lost_count(l), 0);
    assert_null(brk_lost_oldest(l));
    brk_lost_destroy(&l);
    assert_null(l);
}

static void test_full_forgets_oldest(void **state) {
    (void)state;
    brk_lost_t *l = brk_lost_new();
    char n[ST_NONCE_HEX + 1];
    for (int i = 0; i < BRK_LOST_MAX; i++) {
        s_nonces(n, i, 1);
        assert_int_equal(brk_lost_add(l, i % 16, 1, 1000 + i, n, 1), 0);
    }
    s_nonces(n, 999, 1);
    assert_int_equal(brk_lost_add(l, 0, 1, 9999, n, 1), 1); /* the oldest made room */
    assert_int_equal(brk_lost_count(l), BRK_LOST_MAX);
    assert_int_equal(brk_lost_oldest(l)->until_ms, 1001);
    uint64_t added = 0, forgotten = 0;
    brk_lost_stats(l, &added, &forgotten);
    assert_int_equal(added, BRK_LOST_MAX + 1);
    assert_int_equal(forgotten, 1);
    brk_lost_destroy(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_nonces),
        cmocka_unit_test(test_full_forgets_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

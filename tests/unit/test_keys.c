/* test_keys.c — the key layout (store/st_keys.h): shards, escaping, job keys and lease ids read
 * back, and keys that would name another hash slot refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "st_keys.h"

static void test_crc16_vector(void **state) {
    (void)state;
    /* Redis Cluster's specification: CRC16("123456789") = 0x31C3 */
    assert_int_equal(st_crc16("123456789", 9), 0x31C3);
}

static void test_job_key_round_trip(void **state) {
    (void)state;
    st_keys_t *k = st_keys_new("pg", 16);
    assert_non_null(k);
    char key[ST_KEY_MAX];
    int n = st_key_job(k, "acme:co", "d{1}%", "job 7", key, sizeof key);
    assert_true(n > 0);
    assert_null(strchr(key + 8, '{')); /* only the shard's tag has braces */
    st_job_ref_t ref;
    assert_int_equal(st_job_key_parse(k, key, strlen(key), &ref), 0);
    assert_string_equal(ref.tenant, "acme:co");
    assert_string_equal(ref.debtor, "d{1}%");
    assert_string_equal(ref.job_id, "job 7");
    assert_int_equal(ref.shard, st_keys_shard(k, "acme:co", "d{1}%"));
    char lease[ST_LEASE_MAX], back[ST_KEY_MAX];
    unsigned att = 0;
    char nonce[ST_NONCE_HEX + 1];
    assert_true(st_lease_id(k, key, 3, NULL, lease, sizeof lease) > 0);
    assert_int_equal(st_lease_parse(k, lease, back, sizeof back, &att, nonce), 0);
    assert_string_equal(back, key);
    assert_int_equal(att, 3);
    assert_string_equal(nonce, ""); /* the broker's own form */
    /* with a nonce: "3.NONCE/KEY", read back whole */
    const unsigned char bytes[ST_NONCE_BYTES] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    char hex[ST_NONCE_HEX + 1];
    st_nonce_hex(bytes, hex);
    assert_string_equal(hex, "0123456789abcdef");
    assert_true(st_lease_id(k, key, 3, hex, lease, sizeof lease) > 0);
    assert_true(strncmp(lease, "3.0123456789abcdef/", 19) == 0);
    assert_int_equal(st_lease_parse(k, lease, back, sizeof back, &att, nonce), 0);
    assert_string_equal(back, key);
    assert_int_equal(att, 3);
    assert_string_equal(nonce, hex);
    st_keys_destroy(&k);
}

/* The service window lives in the debtor's shard (admission and lease read it with the job),
 * its parts escaped like a job key's: it cannot change its own hash tag. */
static void test_window_key(void **state) {
    (void)state;
    st_keys_t *k = st_keys_new("pg", 16);
    assert_non_null(k);
    char key[ST_KEY_MAX], job[ST_KEY_MAX], want[ST_KEY_MAX];
    assert_true(st_key_window(k, "acme", "d-1", "whatsapp", "+573001112233", key, sizeof key) > 0);
    assert_true(st_key_job(k, "acme", "d-1", "j", job, sizeof job) > 0);
    snprintf(want, sizeof want, "pg:{s%d}:w:acme:d-1:whatsapp:+573001112233",
             st_keys_shard(k, "acme", "d-1"));
    assert_string_equal(key, want);
    assert_true(st_key_window(k, "a:b", "d}", "messenger", "7:0{1}", key, sizeof key) > 0);
    snprintf(want, sizeof want, "pg:{s%d}:w:a%%3Ab:d%%7D:messenger:7%%3A0%%7B1%%7D",
             st_keys_shard(k, "a:b", "d}"));
    assert_string_equal(key, want);
    assert_int_equal(st_key_window(k, "acme", "d-1", "whatsapp", "+573001112233", key, 20), -1);
    st_keys_destroy(&k);
}

/* A key whose shard number is written another way would hash to another slot. */
static void test_forged_tags_refused(void **state) {
    (void)state;
    st_keys_t *k = st_keys_new("pg", 16);
    char key[ST_KEY_MAX], forged[ST_KEY_MAX];
    st_key_job(k, "t", "d", "j", key, sizeof key);
    st_job_ref_t ref;
    assert_int_equal(st_job_key_parse(k, key, strlen(key), &ref), 0);
    const char *rest = strchr(key, '}'); /* "}:j:t:d:j" */
    const char *forms[] = {"pg:{s0%d", "pg:{s+%d", "pg:{s %d"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int n = snprintf(forged, sizeof forged, forms[i], ref.shard);
        snprintf(forged + n, sizeof forged - (size_t)n, "%s", rest);
        assert_int_equal(st_job_key_parse(k, forged, strlen(forged), &ref), -1);
    }
    snprintf(forged, sizeof forged, "pg:{s%d%s", (ref.shard + 1) % 16, rest); /* wrong shard */
    assert_int_equal(st_job_key_parse(k, forged, strlen(forged), &ref), -1);
    unsigned att;
    char back[ST_KEY_MAX];
    assert_int_equal(st_lease_parse(k, "0/x", back, sizeof back, &att, NULL), -1);
    assert_int_equal(st_lease_parse(k, "1/not-a-key", back, sizeof back, &att, NULL), -1);
    /* a nonce of another length, or not lowercase hex, is not a lease id */
    char bad[ST_LEASE_MAX];
    const char *nonces[] = {"0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF", ""};
    for (size_t i = 0; i < sizeof nonces / sizeof nonces[0]; i++) {
        snprintf(bad, sizeof bad, "1.%s/%s", nonces[i], key);
        assert_int_equal(st_lease_parse(k, bad, back, sizeof back, &att, NULL), -1);
    }
    st_keys_destroy(&k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_vector),
        cmocka_unit_test(test_job_key_round_trip),
        cmocka_unit_test(test_forged_tags_refused),
        cmocka_unit_test(test_window_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

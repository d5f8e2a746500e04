/* test_chw.c — cmocka unit tests of the channel-worker runtime's pure logic: backoff with full
 * jitter and Retry-After, transport-failure classes, token buckets, the per-sender shaper and
 * the set of reported leases a WorkerReady vouches for, the drivers' shaping keys (sender;
 * sender and recipient) and the shaper keyed by them. No sockets, no clock: every time is
 * passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "chw_driver.h"
#include "chw_leaseset.h"
#include "chw_retry.h"
#include "chw_shaper.h"

static void test_backoff_bounds(void **state) {
    (void)state;
    uint64_t rng = 42;
    for (uint32_t attempt = 0; attempt <= 40; attempt++) {
        int64_t ceiling = 1000;
        for (uint32_t i = 1; i < attempt && ceiling < 300000; i++)
            ceiling *= 2;
        if (ceiling > 300000)
            ceiling = 300000;
        for (int i = 0; i < 2000; i++) {
            int64_t d = chw_backoff_ms(attempt, 1000, 300000, 0, chw_rand_next(&rng));
            assert_true(d >= 0);
            assert_true(d <= ceiling);
        }
    }
    /* Extremes of the random number pin the range exactly. */
    assert_int_equal(chw_backoff_ms(1, 1000, 300000, 0, 0), 0);
    assert_int_equal(chw_backoff_ms(1, 1000, 300000, 0, 1000), 1000);
    assert_int_equal(chw_backoff_ms(3, 1000, 300000, 0, 4000), 4000);
    assert_int_equal(chw_backoff_ms(3, 1000, 300000, 0, 4001), 0);
    assert_int_equal(chw_backoff_ms(30, 1000, 300000, 0, 300000), 300000);
    assert_int_equal(chw_backoff_ms(UINT32_MAX, 1000, 300000, 0, 300000), 300000);
}

static void test_backoff_jitter_spread(void **state) {
    (void)state;
    /* Full jitter: attempt 4 (ceiling 8 s) should cover the range, not cluster. */
    uint64_t rng = 7;
    int buckets[8] = {0};
    for (int i = 0; i < 8000; i++) {
        int64_t d = chw_backoff_ms(4, 1000, 300000, 0, chw_rand_next(&rng));
        buckets[d >= 8000 ? 7 : d / 1000]++;
    }
    for (int b = 0; b < 8; b++) {
        assert_true(buckets[b] > 700);
        assert_true(buckets[b] < 1300);
    }
}

static void test_backoff_retry_after(void **state) {
    (void)state;
    uint64_t rng = 1;
    for (int i = 0; i < 1000; i++) {
        int64_t d = chw_backoff_ms(1, 1000, 300000, 5000, chw_rand_next(&rng));
        assert_int_equal(d, 5000); /* ceiling 1 s < Retry-After: never earlier */
        d = chw_backoff_ms(10, 1000, 300000, 2000, chw_rand_next(&rng));
        assert_true(d >= 2000 && d <= 300000);
    }
    /* Retry-After beyond the cap is still honoured. */
    assert_int_equal(chw_backoff_ms(2, 1000, 300000, 600000, 12345), 600000);
}

static void test_transport_classes(void **state) {
    (void)state;
    chw_result_t r;
    chw_transport_classify(CURLE_COULDNT_CONNECT, false, "Connection refused", &r);
    assert_int_equal(r.outcome, CHW_RETRY);
    assert_non_null(strstr(r.detail, "Connection refused"));
    chw_transport_classify(CURLE_COULDNT_RESOLVE_HOST, false, "", &r);
    assert_int_equal(r.outcome, CHW_RETRY);
    chw_transport_classify(CURLE_OPERATION_TIMEDOUT, false, NULL, &r);
    assert_int_equal(r.outcome, CHW_RETRY); /* connect timeout: nothing sent */
    chw_transport_classify(CURLE_OPERATION_TIMEDOUT, true, NULL, &r);
    assert_int_equal(r.outcome, CHW_UNKNOWN);
    chw_transport_classify(CURLE_RECV_ERROR, true, "Connection reset by peer", &r);
    assert_int_equal(r.outcome, CHW_UNKNOWN);
    chw_transport_classify(CURLE_GOT_NOTHING, true, NULL, &r);
    assert_int_equal(r.outcome, CHW_UNKNOWN);
    chw_transport_classify(CURLE_URL_MALFORMAT, false, NULL, &r);
    assert_int_equal(r.outcome, CHW_CONFIG_ERROR);
    assert_string_equal(chw_outcome_name(CHW_UNKNOWN), "UNKNOWN");
}

static void test_bucket(void **state) {
    (void)state;
    chw_bucket_t b;
    chw_bucket_init(&b, 10, 3, 0); /* 10/s, burst 3 */
    assert_true(chw_bucket_take(&b, 0));
    assert_true(chw_bucket_take(&b, 0));
    assert_true(chw_bucket_take(&b, 0));
    assert_false(chw_bucket_take(&b, 0));
    assert_int_equal(chw_bucket_wait_ms(&b, 0), 100);
    assert_false(chw_bucket_take(&b, 99));
    assert_true(chw_bucket_take(&b, 100));
    /* Long idle refills only up to the burst. */
    int taken = 0;
    while (chw_bucket_take(&b, 100000))
        taken++;
    assert_int_equal(taken, 3);
    /* Steady rate over 10 s: 100 tokens (+ the burst already spent). */
    taken = 0;
    for (int64_t t = 100000; t <= 110000; t++)
        while (chw_bucket_take(&b, t))
            taken++;
    assert_true(taken >= 100 && taken <= 101);
    /* Unlimited. */
    chw_bucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 1000; i++)
        assert_true(chw_bucket_take(&b, 0));
    assert_int_equal(chw_bucket_wait_ms(&b, 0), 0);
}

static void test_shaper_senders_independent(void **state) {
    (void)state;
    chw_shaper_t *s = chw_shaper_new(1, 1, 4); /* 1 msg/s per sender, burst 1, FIFO 4 */
    assert_non_null(s);
    int64_t retry_in = 0;
    for (int i = 0; i < 4; i++)
        assert_int_equal(chw_shaper_push(s, "+15550001", i, 0, &retry_in), 0);
    assert_int_equal(chw_shaper_push(s, "+15550001", 99, 0, &retry_in), -1);
    assert_true(retry_in >= 4000); /* four queued ahead at 1/s */
    assert_int_equal(chw_shaper_push(s, "+15550002", 10, 0, NULL), 0);
    assert_int_equal(chw_shaper_push(s, "", 20, 0, NULL), 0);
    assert_int_equal(chw_shaper_queued(s), 6);

    /* At t=0 each sender has one token: three pops, FIFO order within a sender. */
    int got[3];
    for (int i = 0; i < 3; i++)
        got[i] = chw_shaper_pop(s, 0);
    assert_int_equal(chw_shaper_pop(s, 0), -1);
    int seen_first = 0, seen_other = 0, seen_default = 0;
    for (int i = 0; i < 3; i++) {
        seen_first += got[i] == 0;
        seen_other += got[i] == 10;
        seen_default += got[i] == 20;
    }
    assert_int_equal(seen_first + seen_other + seen_default, 3);
    /* The slow sender blocks nobody else and waits 1 s for its next token. */
    assert_int_equal(chw_shaper_wake_ms(s, 0), 1000);
    assert_int_equal(chw_shaper_pop(s, 999), -1);
    assert_int_equal(chw_shaper_pop(s, 1000), 1);
    assert_int_equal(chw_shaper_pop(s, 2000), 2);
    assert_int_equal(chw_shaper_pop_any(s), 3);
    assert_int_equal(chw_shaper_pop_any(s), -1);
    assert_int_equal(chw_shaper_wake_ms(s, 2000), -1);
    chw_shaper_destroy(&s);
    assert_null(s);
}

static void test_shaper_round_robin_unlimited(void **state) {
    (void)state;
    chw_shaper_t *s = chw_shaper_new(0, 0, 64);
    char name[32];
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof name, "S%d", i % 3);
        assert_int_equal(chw_shaper_push(s, name, i, 0, NULL), 0);
    }
    /* Round-robin: consecutive pops come from different senders. */
    int prev = chw_shaper_pop(s, 0);
    for (int i = 1; i < 30; i++) {
        int item = chw_shaper_pop(s, 0);
        assert_true(item >= 0);
        assert_int_not_equal(item % 3, prev % 3);
        prev = item;
    }
    assert_int_equal(chw_shaper_pop(s, 0), -1);
    chw_shaper_destroy(&s);
}

static void test_shaper_many_senders(void **state) {
    (void)state;
    chw_shaper_t *s = chw_shaper_new(5, 1, 2);
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "+1555%07d", i);
        assert_int_equal(chw_shaper_push(s, name, i, (int64_t)i * 1000, NULL), 0);
        assert_int_equal(chw_shaper_pop(s, (int64_t)i * 1000), i);
    }
    /* Idle senders with full buckets are evicted: the table stays bounded. */
    assert_true(chw_shaper_senders(s) <= 4097);
    chw_shaper_destroy(&s);
    chw_shaper_destroy(&s); /* NULL-safe */
}

/* A Dispatch with only what the shaping keys read. */
typedef struct {
    Pregon__SendRequest job;
    Pregon__Dispatch d;
} s_job_t;

static const Pregon__Dispatch *s_job(s_job_t *j, const char *sender, const char *to) {
    pregon__send_request__init(&j->job);
    pregon__dispatch__init(&j->d);
    j->job.sender = (char *)sender;
    j->job.contact = (char *)to;
    j->d.job = &j->job;
    return &j->d;
}

static void test_shape_keys(void **state) {
    (void)state;
    s_job_t a, b;
    char ka[CHW_SHAPE_KEY_MAX], kb[CHW_SHAPE_KEY_MAX];
    assert_string_equal(
        chw_shape_key_sender(NULL, s_job(&a, "+15550001", "+5730001"), ka, sizeof ka), "+15550001");
    assert_string_equal(chw_shape_key_sender(NULL, s_job(&a, "", "+5730001"), ka, sizeof ka), "");
    assert_string_equal(chw_shape_key_pair(NULL, s_job(&a, "+15550001", "+5730001"), ka, sizeof ka),
                        "9:+15550001/+5730001");
    assert_string_equal(chw_shape_key_pair(NULL, s_job(&a, "", "+5730001"), ka, sizeof ka),
                        "0:/+5730001");
    /* Unambiguous: a '/' inside the sender cannot make two pairs one key. */
    chw_shape_key_pair(NULL, s_job(&a, "a/b", "c"), ka, sizeof ka);
    chw_shape_key_pair(NULL, s_job(&b, "a", "b/c"), kb, sizeof kb);
    assert_string_not_equal(ka, kb);
    /* Too long for the buffer: cut, NUL-terminated. */
    char tiny[8];
    assert_string_equal(
        chw_shape_key_pair(NULL, s_job(&a, "+15550001", "+5730001"), tiny, sizeof tiny), "9:+1555");
}

static void test_shaper_pair_keys(void **state) {
    (void)state;
    /* WhatsApp-like: one message per 6 s per pair, burst 1. */
    chw_shaper_t *s = chw_shaper_new(1.0 / 6, 1, 4);
    assert_non_null(s);
    s_job_t j;
    char k[CHW_SHAPE_KEY_MAX];
    const char *biz = "+15550001";
    assert_int_equal(chw_shaper_push(s,
                                     chw_shape_key_pair(NULL, s_job(&j, biz, "+571"), k, sizeof k),
                                     1, 0, NULL),
                     0);
    assert_int_equal(chw_shaper_push(s,
                                     chw_shape_key_pair(NULL, s_job(&j, biz, "+571"), k, sizeof k),
                                     2, 0, NULL),
                     0);
    assert_int_equal(chw_shaper_push(s,
                                     chw_shape_key_pair(NULL, s_job(&j, biz, "+572"), k, sizeof k),
                                     3, 0, NULL),
                     0);
    assert_int_equal(chw_shaper_senders(s), 2); /* one bucket per pair, not per sender */
    /* Both pairs start at once; the second message to +571 waits 6 s. */
    int first = chw_shaper_pop(s, 0), second = chw_shaper_pop(s, 0);
    assert_true((first == 1 && second == 3) || (first == 3 && second == 1));
    assert_int_equal(chw_shaper_pop(s, 0), -1);
    assert_int_equal(chw_shaper_wake_ms(s, 0), 6000);
    assert_int_equal(chw_shaper_pop(s, 5999), -1);
    assert_int_equal(chw_shaper_pop(s, 6000), 2);
    /* Keyed by sender instead, the three share one bucket. */
    chw_shaper_t *t = chw_shaper_new(1.0 / 6, 1, 4);
    assert_non_null(t);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(
            chw_shaper_push(
                t,
                chw_shape_key_sender(NULL, s_job(&j, biz, i == 3 ? "+572" : "+571"), k, sizeof k),
                i, 0, NULL),
            0);
    assert_int_equal(chw_shaper_senders(t), 1);
    assert_int_equal(chw_shaper_pop(t, 0), 1);
    assert_int_equal(chw_shaper_pop(t, 0), -1);
    assert_int_equal(chw_shaper_pop(t, 6000), 2);
    assert_int_equal(chw_shaper_pop(t, 11999), -1);
    assert_int_equal(chw_shaper_pop(t, 12000), 3);
    chw_shaper_destroy(&s);
    chw_shaper_destroy(&t);
}

static void test_leaseset_entry_bytes(void **state) {
    (void)state;
    char lease[601];
    memset(lease, 'x', 600);
    lease[600] = '\0';
    assert_int_equal(chw_leaseset_entry_bytes(lease), 603); /* tag, 2-byte length, bytes */
    lease[128] = '\0'; /* 128 bytes: the length needs a second varint byte */
    assert_int_equal(chw_leaseset_entry_bytes(lease), 131);
    lease[127] = '\0';
    assert_int_equal(chw_leaseset_entry_bytes(lease), 129);
    assert_int_equal(chw_leaseset_entry_bytes(""), 2);
}

/* The broker acknowledges applied reports by number: their leases are forgotten, each exactly
 * (a report lost in transit keeps its lease listed), whatever the order of the acks. */
static void test_leaseset_ack(void **state) {
    (void)state;
    chw_leaseset_t *set = chw_leaseset_new(1 << 20);
    assert_non_null(set);
    const char *ids[5] = {"1/a", "1/b", "1/c", "1/d", "1/e"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(chw_leaseset_add_seq(set, ids[i], 9000, (uint64_t)i + 1), 0);
    assert_int_equal(chw_leaseset_bytes(set), 25);
    chw_leaseset_ack(set, 1); /* the oldest: gone */
    assert_int_equal(chw_leaseset_count(set), 4);
    assert_string_equal(chw_leaseset_get(set, 0, NULL), "1/b");
    chw_leaseset_ack(set, 3); /* one in the middle: not counted, gone once those before go */
    assert_int_equal(chw_leaseset_bytes(set), 15);
    chw_leaseset_ack(set, 99); /* unknown: nothing */
    chw_leaseset_ack(set, 3);  /* twice: nothing more */
    assert_int_equal(chw_leaseset_bytes(set), 15);
    chw_leaseset_ack(set, 2);
    assert_int_equal(chw_leaseset_count(set), 2); /* d and e: 4 was never acknowledged */
    assert_string_equal(chw_leaseset_get(set, 0, NULL), "1/d");
    assert_int_equal(chw_leaseset_bytes(set), 10);
    chw_leaseset_prune(set, 1000); /* not expired: an unacknowledged report stays vouched for */
    assert_int_equal(chw_leaseset_count(set), 2);
    assert_false(chw_leaseset_incomplete(set, 0));
    chw_leaseset_destroy(&set);
    /* a number between two held ones (a hand-back's, never kept) names neither */
    set = chw_leaseset_new(1 << 20);
    assert_int_equal(chw_leaseset_add_seq(set, "1/x", 9000, 10), 0);
    assert_int_equal(chw_leaseset_add_seq(set, "1/y", 9000, 20), 0);
    chw_leaseset_ack(set, 15);
    chw_leaseset_ack(set, 5);
    assert_int_equal(chw_leaseset_count(set), 2);
    assert_int_equal(chw_leaseset_bytes(set), 10);
    chw_leaseset_destroy(&set);
}

static void test_leaseset_expiry(void **state) {
    (void)state;
    chw_leaseset_t *set = chw_leaseset_new(1 << 20);
    assert_non_null(set);
    /* Reported out of lease order: a slow request's report comes after a later lease's. */
    assert_int_equal(chw_leaseset_add(set, "1/a", 5000), 0);
    assert_int_equal(chw_leaseset_add(set, "1/b", 3000), 0);
    assert_int_equal(chw_leaseset_add(set, "1/c", 8000), 0);
    assert_int_equal(chw_leaseset_count(set), 3);
    assert_int_equal(chw_leaseset_bytes(set), 15);
    chw_leaseset_prune(set, 2999);
    assert_int_equal(chw_leaseset_count(set), 3);
    chw_leaseset_prune(set, 3000); /* expiry reached: gone, even behind an older entry */
    assert_int_equal(chw_leaseset_count(set), 2);
    int64_t exp = 0;
    assert_string_equal(chw_leaseset_get(set, 0, &exp), "1/a");
    assert_int_equal(exp, 5000);
    assert_string_equal(chw_leaseset_get(set, 1, NULL), "1/c");
    assert_int_equal(chw_leaseset_bytes(set), 10);
    assert_false(chw_leaseset_incomplete(set, 0)); /* nothing left early */
    /* The ring wraps and grows without losing order. */
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "2/j%d", i);
        assert_int_equal(chw_leaseset_add(set, name, 10000 + i), 0);
        if (i % 3 == 0)
            chw_leaseset_prune(set, 9000 + i);
    }
    chw_leaseset_prune(set, 10499);
    assert_int_equal(chw_leaseset_count(set), 500);
    assert_string_equal(chw_leaseset_get(set, 0, NULL), "2/j500");
    assert_string_equal(chw_leaseset_get(set, 499, NULL), "2/j999");
    chw_leaseset_prune(set, 20000);
    assert_int_equal(chw_leaseset_count(set), 0);
    assert_int_equal(chw_leaseset_bytes(set), 0);
    chw_leaseset_destroy(&set);
    assert_null(set);
    chw_leaseset_destroy(&set); /* NULL-safe */
}

static void test_leaseset_bound(void **state) {
    (void)state;
    /* Room for three entries of 5 bytes ("1/a" + 2). */
    chw_leaseset_t *set = chw_leaseset_new(15);
    assert_int_equal(chw_leaseset_add(set, "1/a", 1000), 0);
    assert_int_equal(chw_leaseset_add(set, "1/b", 4000), 0);
    assert_int_equal(chw_leaseset_add(set, "1/c", 2000), 0);
    assert_false(chw_leaseset_incomplete(set, 0));
    /* A fourth pushes the oldest out: incomplete until that lease would have expired. */
    assert_int_equal(chw_leaseset_add(set, "1/d", 3000), 0);
    assert_int_equal(chw_leaseset_count(set), 3);
    assert_string_equal(chw_leaseset_get(set, 0, NULL), "1/b");
    assert_true(chw_leaseset_incomplete(set, 999));
    assert_false(chw_leaseset_incomplete(set, 1000));
    /* Two more push 1/b (4000) and 1/c (2000) out: the latest expiry wins. */
    assert_int_equal(chw_leaseset_add(set, "1/e", 5000), 0);
    assert_int_equal(chw_leaseset_add(set, "1/f", 5000), 0);
    assert_true(chw_leaseset_incomplete(set, 3999));
    assert_false(chw_leaseset_incomplete(set, 4000));
    assert_true(chw_leaseset_bytes(set) <= 15);
    /* An entry larger than the whole bound is not kept, and said so. */
    assert_int_equal(chw_leaseset_add(set, "1/far-too-long", 9000), 0);
    assert_int_equal(chw_leaseset_count(set), 3);
    assert_true(chw_leaseset_incomplete(set, 8999));
    chw_leaseset_destroy(&set);
}

/* Groups: pairs shaped at 1 per 6 s each, their business number at 2 msg/s across all pairs. */
static void test_shaper_groups(void **state) {
    (void)state;
    chw_shaper_t *s = chw_shaper_new(1.0 / 6, 1, 4);
    chw_shaper_set_group_rate(s, 2, 2);
    /* five pairs of number A, one of number B, one pair without a group */
    assert_int_equal(chw_shaper_push_in(s, "A/1", "A", 1, 0, NULL), 0);
    assert_int_equal(chw_shaper_push_in(s, "A/1", "A", 11, 0, NULL), 0);
    for (int i = 2; i <= 5; i++) {
        char key[8];
        snprintf(key, sizeof key, "A/%d", i);
        assert_int_equal(chw_shaper_push_in(s, key, "A", i, 0, NULL), 0);
    }
    assert_int_equal(chw_shaper_push_in(s, "B/1", "B", 21, 0, NULL), 0);
    assert_int_equal(chw_shaper_push_in(s, "C/1", NULL, 31, 0, NULL), 0);
    assert_int_equal(chw_shaper_groups(s), 2);
    int started_a = 0, other = 0;
    int item;
    while ((item = chw_shaper_pop(s, 0)) >= 0) {
        if (item < 20)
            started_a++;
        else
            other++;
    }
    assert_int_equal(started_a, 2); /* A's burst of 2, although 5 of its pairs had a token */
    assert_int_equal(other, 2);     /* B and the ungrouped pair never wait for A */
    assert_int_equal(chw_shaper_wake_ms(s, 0), 500); /* A's next token */
    assert_int_equal(chw_shaper_pop(s, 499), -1);
    item = chw_shaper_pop(s, 500);
    assert_true(item >= 1 && item <= 5); /* a pair that had its token, not A/1's second job */
    assert_int_equal(chw_shaper_pop(s, 500), -1);
    assert_true(chw_shaper_pop(s, 1000) >= 1);
    /* A/1's second job waits for its pair's 6 s, whatever the group has */
    for (int64_t t = 1500; t < 6000; t += 500) {
        int got = chw_shaper_pop(s, t);
        assert_int_not_equal(got, 11);
    }
    assert_int_equal(chw_shaper_pop(s, 6000), 11);
    chw_shaper_destroy(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_backoff_jitter_spread),
        cmocka_unit_test(test_backoff_retry_after),
        cmocka_unit_test(test_transport_classes),
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_shaper_senders_independent),
        cmocka_unit_test(test_shaper_round_robin_unlimited),
        cmocka_unit_test(test_shaper_many_senders),
        cmocka_unit_test(test_shape_keys),
        cmocka_unit_test(test_shaper_pair_keys),
        cmocka_unit_test(test_shaper_groups),
        cmocka_unit_test(test_leaseset_entry_bytes),
        cmocka_unit_test(test_leaseset_expiry),
        cmocka_unit_test(test_leaseset_ack),
        cmocka_unit_test(test_leaseset_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_history.c — cmocka tests for rl_history: the text records admission stores in Redis.
 *
 * Round trip of every field, the exact text written, pruning by keep_from, decoding into a cap
 * smaller than the history (the newest are kept), malformed input (missing fields, non-digits,
 * overflow in every field, no trailing ';') and a too-small buffer, plus rl_job_ref. */
#include "rl_decide.h"
#include "rl_history.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const rl_contact_t s_recs[] = {
    {1773241200, 0x0, RL_CH_SMS, 0},
    {1773244800, 0xdeadbeef, RL_CH_VOICE, RL_REC_DELIVERED | RL_REC_CONVERSATION},
    {1773248400, 0x1, RL_CH_EMAIL, RL_REC_FAILED},
    {1773252000, 0xffffffff, RL_CH_MESSENGER, 0xff},
    {0, 0x12345678, RL_CH_WHATSAPP, RL_REC_DELIVERED},
};
static const uint32_t s_refs[] = {0x1, 0xabcdef01, 0xffffffff, 0x10, 0x7};

static void s_expect_equal(const rl_contact_t *got, const uint32_t *got_refs,
                           const rl_contact_t *want, const uint32_t *want_refs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].at, want[i].at);
        assert_int_equal(got[i].debt, want[i].debt);
        assert_int_equal(got[i].channel, want[i].channel);
        assert_int_equal(got[i].flags, want[i].flags);
        if (got_refs && want_refs)
            assert_int_equal(got_refs[i], want_refs[i]);
    }
}

static void test_round_trip(void **state) {
    (void)state;
    char buf[512];
    const size_t n = S_COUNT(s_recs);
    int len = rl_history_encode(s_recs, s_refs, n, INT64_MIN, buf, sizeof buf);
    assert_true(len > 0);
    assert_int_equal((size_t)len, strlen(buf));
    rl_contact_t out[8];
    uint32_t refs[8];
    assert_int_equal(rl_history_decode(buf, (size_t)len, out, refs, S_COUNT(out)), (int)n);
    s_expect_equal(out, refs, s_recs, s_refs, n);
    /* refs may be NULL when decoding */
    memset(out, 0, sizeof out);
    assert_int_equal(rl_history_decode(buf, (size_t)len, out, NULL, S_COUNT(out)), (int)n);
    s_expect_equal(out, NULL, s_recs, NULL, n);
}

static void test_exact_text(void **state) {
    (void)state;
    char buf[256];
    int len = rl_history_encode(s_recs, s_refs, 3, 0, buf, sizeof buf);
    const char *want = "1773241200,1,0,0,1;1773244800,3,6,deadbeef,abcdef01;"
                       "1773248400,4,1,1,ffffffff;";
    assert_string_equal(buf, want);
    assert_int_equal(len, (int)strlen(want));
    /* without refs every record gets ref 1; only the low 32 bits of debt are stored */
    rl_contact_t wide = {5, 0x1234567890ULL, RL_CH_SMS, 0};
    len = rl_history_encode(&wide, NULL, 1, 0, buf, sizeof buf);
    assert_string_equal(buf, "5,1,0,34567890,1;");
    /* nothing to write: empty string */
    assert_int_equal(rl_history_encode(s_recs, s_refs, 0, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    rl_contact_t out[2];
    assert_int_equal(rl_history_decode("", 0, out, NULL, 2), 0);
}

static void test_keep_from(void **state) {
    (void)state;
    char buf[512];
    /* keep_from equal to a record's instant keeps it; older ones (and the at=0 one) go */
    int len = rl_history_encode(s_recs, s_refs, S_COUNT(s_recs), 1773244800, buf, sizeof buf);
    assert_true(len > 0);
    rl_contact_t out[8];
    uint32_t refs[8];
    assert_int_equal(rl_history_decode(buf, (size_t)len, out, refs, 8), 3);
    s_expect_equal(out, refs, s_recs + 1, s_refs + 1, 3);
    /* everything older: empty */
    assert_int_equal(rl_history_encode(s_recs, s_refs, 4, 1773252001, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

static void test_cap_keeps_newest(void **state) {
    (void)state;
    char buf[1024];
    rl_contact_t recs[10];
    uint32_t refs[10];
    for (int i = 0; i < 10; i++) {
        recs[i] = (rl_contact_t){1000 + i, (uint64_t)i, RL_CH_SMS, 0};
        refs[i] = (uint32_t)(100 + i);
    }
    int len = rl_history_encode(recs, refs, 10, 0, buf, sizeof buf);
    assert_true(len > 0);
    rl_contact_t out[4];
    uint32_t oref[4];
    assert_int_equal(rl_history_decode(buf, (size_t)len, out, oref, 4), 4);
    s_expect_equal(out, oref, recs + 6, refs + 6, 4);
    assert_int_equal(rl_history_decode(buf, (size_t)len, out, NULL, 1), 1);
    assert_int_equal(out[0].at, 1009);
    /* decoding reads exactly len bytes */
    const char *two = "1,1,0,0,1;2,1,0,0,2;garbage";
    assert_int_equal(rl_history_decode(two, 20, out, oref, 4), 2);
    assert_int_equal(oref[1], 2);
    assert_int_equal(rl_history_decode(two, 10, out, oref, 4), 1);
    /* malformed text after the records kept still fails the whole decode */
    assert_int_equal(rl_history_decode(two, strlen(two), out, oref, 1), -1);
}

static void test_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "1,2,3,4;",                           /* missing the job ref */
        "1,2,3;",                             /* two fields missing */
        "1;",                                 /* one field */
        ";",                                  /* empty record */
        ",1,0,0,1;",                          /* empty instant */
        "1,,0,0,1;",                          /* empty channel */
        "1,1,,0,1;",                          /* empty flags */
        "1,1,0,,1;",                          /* empty debt */
        "1,1,0,0,;",                          /* empty ref */
        "1,1,0,0,1",                          /* no trailing ';' */
        "1,1,0,0,1;2,1,0,0,1",                /* second record unterminated */
        "1,1,0,0,1,1;",                       /* extra field */
        "-1,1,0,0,1;",                        /* sign */
        " 1,1,0,0,1;",                        /* space */
        "1x,1,0,0,1;",                        /* non-digit in a decimal field */
        "1,a,0,0,1;",                         /* hex in a decimal field */
        "1,1,0,xyz,1;",                       /* non-hex debt */
        "1,1,0,0,g;",                         /* non-hex ref */
        "1,64,0,0,1;",                        /* channel out of range */
        "1,1,256,0,1;",                       /* flags out of range */
        "9223372036854775808,1,0,0,1;",       /* instant > INT64_MAX */
        "99999999999999999999,1,0,0,1;",      /* 20 digits */
        "1,1,0,100000000,1;",                 /* debt > 32 bits */
        "1,1,0,0,100000000;",                 /* ref > 32 bits */
        "1,1,0,10000000000000000,1;",         /* 17 hex digits: wraps a uint64 */
        "1,1,0,0,10000000000000001;",         /* 17 hex digits wrapping to 1 */
        "1,1,0,0000000000000000000000001,1;", /* many leading zeros */
    };
    rl_contact_t out[4];
    uint32_t refs[4];
    for (size_t i = 0; i < S_COUNT(bad); i++) {
        int r = rl_history_decode(bad[i], strlen(bad[i]), out, refs, S_COUNT(out));
        if (r != -1)
            fail_msg("\"%s\" decoded to %d records", bad[i], r);
    }
    /* the largest values of each field are accepted */
    const char *max = "9223372036854775807,63,255,ffffffff,ffffffff;";
    assert_int_equal(rl_history_decode(max, strlen(max), out, refs, 4), 1);
    assert_true(out[0].at == INT64_MAX);
    assert_int_equal(out[0].channel, 63);
    assert_int_equal(out[0].flags, 255);
    assert_true(out[0].debt == 0xffffffffULL);
    assert_true(refs[0] == 0xffffffffu);
}

static void test_buffer_too_small(void **state) {
    (void)state;
    char buf[512];
    int len = rl_history_encode(s_recs, s_refs, 3, 0, buf, sizeof buf);
    assert_true(len > 0);
    char small[512];
    /* exactly len + 1 (the NUL) fits; len does not */
    assert_int_equal(rl_history_encode(s_recs, s_refs, 3, 0, small, (size_t)len + 1), len);
    assert_string_equal(small, buf);
    assert_int_equal(rl_history_encode(s_recs, s_refs, 3, 0, small, (size_t)len), -1);
    assert_int_equal(rl_history_encode(s_recs, s_refs, 3, 0, small, 1), -1);
    assert_int_equal(rl_history_encode(s_recs, s_refs, 3, 0, small, 0), -1);
    /* a record never exceeds RL_HISTORY_RECORD_MAX */
    rl_contact_t big = {INT64_MAX, 0xffffffff, 63, 255};
    uint32_t ref = 0xffffffff;
    char rec[RL_HISTORY_RECORD_MAX + 1];
    assert_true(rl_history_encode(&big, &ref, 1, 0, rec, sizeof rec) > 0);
    assert_true(strlen(rec) <= RL_HISTORY_RECORD_MAX);
}

static void test_job_ref(void **state) {
    (void)state;
    assert_true(rl_job_ref("acme", "job-1") != 0);
    assert_true(rl_job_ref("acme", "job-1") == rl_job_ref("acme", "job-1"));
    assert_true(rl_job_ref("acme", "job-1") != rl_job_ref("acme", "job-2"));
    assert_true(rl_job_ref("acme", "job-1") != rl_job_ref("other", "job-1"));
    /* the separator keeps ("ab", "c") apart from ("a", "bc") */
    assert_true(rl_job_ref("ab", "c") != rl_job_ref("a", "bc"));
    assert_true(rl_job_ref(NULL, NULL) == rl_job_ref("", ""));
    assert_true(rl_job_ref(NULL, NULL) != 0);
    /* found offline by exhaustive search: the 32-bit hash of this pair is 0, mapped to 1 */
    assert_true(rl_job_ref("acme", "job-1eEgFF") == 1);
    char id[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(id, sizeof id, "j%d", i);
        if (rl_job_ref("acme", id) == 0)
            fail_msg("rl_job_ref(acme, %s) == 0", id);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_keep_from),  cmocka_unit_test(test_cap_keeps_newest),
        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_job_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

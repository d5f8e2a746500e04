/* test_contact.c — cmocka tests of the shared small modules of common/: pg_contact (E.164 with
 * its 7 and 15 digit bounds, e-mail addresses at their 64/254 byte limits, PSIDs, NULL and
 * oversized input), pg_channel (names and numbers both ways, unknown names) and pg_utf8
 * (decoding, the invalid forms RFC 3629 rules out, counting and repair). The broker's use of
 * pg_contact is tested in depth through brk_val_contact (test_validate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pg_channel.h"
#include "pg_contact.h"
#include "pg_utf8.h"

static void test_e164(void **state) {
    (void)state;
    assert_true(pg_contact_e164("+573001112233"));
    assert_true(pg_contact_e164("+1234567"));         /* 7 digits: the shortest */
    assert_true(pg_contact_e164("+123456789012345")); /* 15: the longest */
    assert_false(pg_contact_e164("+123456"));
    assert_false(pg_contact_e164("+1234567890123456"));
    assert_false(pg_contact_e164("+0573001112233"));
    assert_false(pg_contact_e164("573001112233"));
    assert_false(pg_contact_e164("+57 3001112233"));
    assert_false(pg_contact_e164("+"));
    assert_false(pg_contact_e164(""));
    assert_false(pg_contact_e164(NULL));
    char big[4096];
    memset(big, '1', sizeof big - 1);
    big[0] = '+';
    big[sizeof big - 1] = '\0';
    assert_false(pg_contact_e164(big));
}

static void test_email(void **state) {
    (void)state;
    assert_true(pg_contact_email("juan.perez@example.com"));
    assert_true(pg_contact_email("first.last+tag@sub.example.co"));
    assert_true(pg_contact_email("user@xn--bcher-kva.example"));
    assert_false(pg_contact_email("a@b"));
    assert_false(pg_contact_email("a..b@c.com"));
    assert_false(pg_contact_email("x y@z.com"));
    assert_false(pg_contact_email("x@z.com\n"));
    assert_false(pg_contact_email("x@y@z.com"));
    assert_false(pg_contact_email("jos\xc3\xa9@example.com"));
    assert_false(pg_contact_email(NULL));
    char s[400];
    memset(s, 'l', 64);
    strcpy(s + 64, "@example.com");
    assert_true(pg_contact_email(s)); /* local part of 64 */
    memset(s, 'l', 65);
    strcpy(s + 65, "@example.com");
    assert_false(pg_contact_email(s)); /* 65 */
    /* 254 bytes in all is the limit: "a@" + 4 x (50 + '.') + tail */
    for (int total = 254; total <= 255; total++) {
        strcpy(s, "a@");
        for (int i = 0; i < 4; i++) {
            memset(s + strlen(s), 'd', 50);
            s[2 + 51 * (i + 1) - 1] = '.';
            s[2 + 51 * (i + 1)] = '\0';
        }
        size_t n = strlen(s);
        memset(s + n, 'c', (size_t)total - n);
        s[total] = '\0';
        assert_int_equal(strlen(s), (size_t)total);
        assert_int_equal(pg_contact_email(s), total == 254);
    }
}

static void test_psid(void **state) {
    (void)state;
    assert_true(pg_contact_psid("1"));
    assert_true(pg_contact_psid("12345678901234567890123456789012")); /* 32 */
    assert_false(pg_contact_psid("123456789012345678901234567890123"));
    assert_false(pg_contact_psid(""));
    assert_false(pg_contact_psid("12a"));
    assert_false(pg_contact_psid("+123"));
    assert_false(pg_contact_psid(NULL));
}

static void test_channel(void **state) {
    (void)state;
    static const char *const names[] = {"sms", "whatsapp", "voice", "email", "messenger"};
    for (int c = PG_CH_SMS; c < PG_CH_COUNT; c++) {
        assert_string_equal(pg_channel_name(c), names[c - 1]);
        assert_int_equal(pg_channel_parse(names[c - 1]), c);
    }
    assert_int_equal(PG_CH_MESSENGER, 5); /* pregon.proto */
    assert_null(pg_channel_name(PG_CH_NONE));
    assert_null(pg_channel_name(PG_CH_COUNT));
    assert_null(pg_channel_name(-1));
    assert_int_equal(pg_channel_parse("SMS"), PG_CH_NONE);
    assert_int_equal(pg_channel_parse("none"), PG_CH_NONE);
    assert_int_equal(pg_channel_parse(""), PG_CH_NONE);
    assert_int_equal(pg_channel_parse(NULL), PG_CH_NONE);
}

static void test_utf8(void **state) {
    (void)state;
    const char *s = "a\xc3\xad\xe2\x82\xac\xf0\x9f\x98\x80"; /* a í € 😀 */
    size_t len = strlen(s), pos = 0;
    assert_int_equal(pg_utf8_next(s, len, &pos), 'a');
    assert_int_equal(pg_utf8_next(s, len, &pos), 0xED);
    assert_int_equal(pg_utf8_next(s, len, &pos), 0x20AC);
    assert_int_equal(pg_utf8_next(s, len, &pos), 0x1F600);
    assert_int_equal(pos, len);
    assert_true(pg_utf8_valid(s, len));
    assert_int_equal(pg_utf8_count(s, len), 4);
    assert_true(pg_utf8_valid("a\0b", 3)); /* NUL is valid */
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, 3 bytes */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* lead byte past F4 */
        "\x80",             /* lone continuation */
        "\xe2\x82",         /* truncated */
        "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(pg_utf8_valid(bad[i], strlen(bad[i])));
        pos = 0;
        assert_int_equal(pg_utf8_next(bad[i], strlen(bad[i]), &pos), -1);
        assert_int_equal(pos, 1); /* one byte skipped */
    }
    size_t out_len = 0;
    char *fixed = pg_utf8_sanitize("a\xff"
                                   "b",
                                   3, &out_len);
    assert_string_equal(fixed, "a\xef\xbf\xbd"
                               "b");
    assert_int_equal(out_len, 5);
    free(fixed);
    assert_int_equal(pg_utf8_count("a\xff"
                                   "b",
                                   3),
                     3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e164),    cmocka_unit_test(test_email), cmocka_unit_test(test_psid),
        cmocka_unit_test(test_channel), cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_validate.c — cmocka tests of brk_validate: tables of good and bad identifiers, contact
 * points, variables and UTF-8 sequences, with every length limit tried at the limit and one past.
 *
 * The module's .c is included directly (unit tests link pg_ratelimit and cmocka only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker/brk_validate.c"

/* A malloc'd string of n copies of c, after `prefix` and before `suffix`. */
static char *s_str(const char *prefix, char c, size_t n, const char *suffix) {
    size_t p = strlen(prefix), s = strlen(suffix);
    char *out = malloc(p + n + s + 1);
    assert_non_null(out);
    memcpy(out, prefix, p);
    memset(out + p, c, n);
    memcpy(out + p + n, suffix, s + 1);
    return out;
}

typedef struct {
    const char *in;
    int ok;
} s_case_t;

/* ---------------------------------------------------------------------------------------------
 * Identifiers */

static void s_ident_table(const char *(*fn)(const char *), const char *reason, size_t max,
                          int optional) {
    const s_case_t cases[] = {
        {"job-1", 1},         {"A.b_c:d/e=f@g#1", 1},
        {"~!$%^&*()[]|", 1},  {"", optional},
        {"a b", 0},           {" a", 0},
        {"a\t", 0},           {"a{b", 0},
        {"a}b", 0},           {"{tag}", 0},
        {"a\x7f", 0},         {"a\x01", 0},
        {"cami\xc3\xb3n", 0}, {"\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *r = fn(cases[i].in);
        if (cases[i].ok ? r != NULL : (r == NULL || strcmp(r, reason) != 0)) {
            fail_msg("%s(\"%s\") = %s", reason, cases[i].in, r ? r : "ok");
        }
    }
    char *s = s_str("", 'x', max, "");
    assert_null(fn(s));
    free(s);
    s = s_str("", 'x', max + 1, "");
    assert_string_equal(fn(s), reason);
    free(s);
    if (optional) {
        assert_null(fn(NULL));
    } else {
        assert_string_equal(fn(NULL), reason);
    }
}

static void test_identifiers(void **state) {
    (void)state;
    s_ident_table(brk_val_job_id, "bad-job-id", 128, 0);
    s_ident_table(brk_val_tenant, "bad-tenant", 64, 0);
    s_ident_table(brk_val_debtor, "bad-debtor", 128, 0);
    s_ident_table(brk_val_debt, "bad-debt", 128, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Contact points */

static void s_contact_table(int channel, const char *reason, const s_case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *r = brk_val_contact(channel, cases[i].in);
        if (cases[i].ok ? r != NULL : (r == NULL || strcmp(r, reason) != 0)) {
            fail_msg("channel %d, \"%s\": %s", channel, cases[i].in, r ? r : "ok");
        }
    }
    assert_string_equal(brk_val_contact(channel, NULL), reason);
}

static void test_phones(void **state) {
    (void)state;
    const s_case_t cases[] = {
        {"+573001112233", 1},
        {"+5215512345678", 1},
        {"+12025550143", 1},
        {"+12345678", 1},         /* 8 digits: the shortest accepted */
        {"+123456789012345", 1},  /* 15 digits: the longest */
        {"+570000000", 1},        /* 9 digits, first digit 5: well-formed */
        {"+1234567", 0},          /* 7 digits */
        {"+5730011122233344", 0}, /* 16 digits */
        {"+0570000000", 0},       /* first digit 0 */
        {"+57 300", 0},
        {"+57 3001112233", 0},
        {"+57-300-111-2233", 0},
        {"573001112233", 0}, /* no '+' */
        {"++573001112233", 0},
        {"+", 0},
        {"", 0},
        {"+57300111223a", 0},
        {"+573001112233\n", 0},
        {"+\xef\xbc\x95\xef\xbc\x97\x33\x30\x30\x31\x31\x31\x32\x32", 0}, /* fullwidth digits */
        {"tel:+573001112233", 0},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    s_contact_table(1, "bad-phone", cases, n); /* SMS */
    s_contact_table(2, "bad-phone", cases, n); /* WHATSAPP */
    s_contact_table(3, "bad-phone", cases, n); /* VOICE */
}

static void test_emails(void **state) {
    (void)state;
    const s_case_t cases[] = {
        {"juan.perez@example.com", 1},
        {"a@b.c", 1},
        {"-x@y.com", 1}, /* '-' is atext: fine in a local part */
        {"x-@y.com", 1},
        {"first.last+tag@sub.example.co", 1},
        {"o'brien@example.ie", 1},
        {"!#$%&'*+/=?^_`{|}~-@example.org", 1},
        {"user@xn--bcher-kva.example", 1}, /* IDN as punycode */
        {"user@a-b.c-d.com", 1},
        {"USER@EXAMPLE.COM", 1},
        {"user@123.example", 1},
        {"a@b", 0},        /* no dot in the domain */
        {"a..b@c.com", 0}, /* consecutive dots */
        {".a@c.com", 0},
        {"a.@c.com", 0},
        {"x@-y.com", 0}, /* label starts with '-' */
        {"x@y-.com", 0}, /* label ends with '-' */
        {"x@y.com-", 0},
        {"x@y..com", 0},
        {"x@.y.com", 0},
        {"x@y.com.", 0},
        {"@y.com", 0},
        {"x@", 0},
        {"x", 0},
        {"", 0},
        {"x@y@z.com", 0},
        {"x y@z.com", 0},
        {"x@z .com", 0},
        {"x\t@z.com", 0},
        {"x@z.com\r\n", 0},
        {"\"quoted\"@z.com", 0},
        {"x@[192.168.0.1]", 0},
        {"x@192.168.0.1", 0},           /* numeric top-level label */
        {"jos\xc3\xa9@example.com", 0}, /* SMTPUTF8 local part */
        {"user@b\xc3\xbc"
         "cher.example",
         0}, /* IDN not in punycode */
        {"x@y_z.com", 0},
        {"x(comment)@y.com", 0},
    };
    s_contact_table(4, "bad-email", cases, sizeof cases / sizeof cases[0]);

    /* local part: 64 bytes fine, 65 not */
    char *s = s_str("", 'l', 64, "@example.com");
    assert_null(brk_val_contact(4, s));
    free(s);
    s = s_str("", 'l', 65, "@example.com");
    assert_string_equal(brk_val_contact(4, s), "bad-email");
    free(s);
    /* a label: 63 bytes fine, 64 not */
    s = s_str("a@", 'd', 63, ".com");
    assert_null(brk_val_contact(4, s));
    free(s);
    s = s_str("a@", 'd', 64, ".com");
    assert_string_equal(brk_val_contact(4, s), "bad-email");
    free(s);
    /* total: 254 bytes fine, 255 not (labels of 50 + dots) */
    char addr[300];
    for (int total = 254; total <= 255; total++) {
        /* "a@" + 4 labels of 50 and dots (204) + ".com"-like tail to reach the total */
        int rest = total - 2 - 4 * 51; /* bytes left after "a@" and "lll...l." x4 */
        snprintf(addr, sizeof addr, "a@");
        for (int i = 0; i < 4; i++) {
            memset(addr + strlen(addr), 'l', 50);
            addr[2 + i * 51 + 50] = '.';
            addr[2 + i * 51 + 51] = '\0';
        }
        memset(addr + strlen(addr), 't', (size_t)rest);
        addr[total] = '\0';
        assert_int_equal(strlen(addr), (size_t)total);
        const char *r = brk_val_contact(4, addr);
        if (total == 254) {
            assert_null(r);
        } else {
            assert_string_equal(r, "bad-email");
        }
    }
}

static void test_psid_and_channel(void **state) {
    (void)state;
    const s_case_t cases[] = {
        {"1", 1},
        {"1254459154682919", 1},
        {"01234567890123456789012345678901", 1},  /* 32 digits */
        {"012345678901234567890123456789012", 0}, /* 33 digits */
        {"", 0},
        {"12a4", 0},
        {"-123", 0},
        {"+123", 0},
        {"123 ", 0},
    };
    s_contact_table(5, "bad-psid", cases, sizeof cases / sizeof cases[0]);
    assert_string_equal(brk_val_contact(0, "+573001112233"), "bad-channel");
    assert_string_equal(brk_val_contact(6, "+573001112233"), "bad-channel");
    assert_string_equal(brk_val_contact(-1, "x"), "bad-channel");
    assert_string_equal(brk_val_contact(99, NULL), "bad-channel");
}

/* ---------------------------------------------------------------------------------------------
 * Variables */

static void test_variables(void **state) {
    (void)state;
    const char *const k[] = {"nombre", "monto", "Fecha_2"};
    const char *const v[] = {"Ana María 😀", "$1.000", "línea 1\nlínea 2"};
    assert_null(brk_val_variables(3, k, v));
    assert_null(brk_val_variables(0, NULL, NULL));
    const char *const empty_v[] = {""};
    assert_null(brk_val_variables(1, k, empty_v));

    struct {
        const char *key, *val;
    } bad[] = {
        {"", "x"},      {"a-b", "x"},      {"a b", "x"},      {"ñ", "x"},
        {"a.b", "x"},   {"x", "a\tb"},     {"x", "a\rb"},     {"x", "a\x01"},
        {"x", "a\x7f"}, {"x", "\xc2\x85"}, {"x", "\xc0\xaf"}, {"x", "\xed\xa0\x80"},
        {"x", "\xff"},  {"x", "\xc3"},     {"x", "\x80"},     {"x", "\xf4\x90\x80\x80"},
        {NULL, "x"},    {"x", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *keys[] = {"ok", bad[i].key};
        const char *vals[] = {"fine", bad[i].val};
        const char *r = brk_val_variables(2, keys, vals);
        if (!r || strcmp(r, "bad-variables") != 0) {
            fail_msg("case %zu accepted", i);
        }
    }
    assert_string_equal(brk_val_variables(1, NULL, v), "bad-variables");

    /* duplicate keys (a protobuf map on the wire can repeat one) */
    const char *const dk[] = {"a", "b", "a"};
    assert_string_equal(brk_val_variables(3, dk, v), "bad-variables");

    /* name length 64 / 65 */
    char *name = s_str("", 'n', 64, "");
    const char *keys[1] = {name};
    const char *vals[1] = {"x"};
    assert_null(brk_val_variables(1, keys, vals));
    free(name);
    name = s_str("", 'n', 65, "");
    keys[0] = name;
    assert_string_equal(brk_val_variables(1, keys, vals), "bad-variables");
    free(name);

    /* value length 1024 / 1025 bytes */
    keys[0] = "x";
    char *val = s_str("", 'v', 1024, "");
    vals[0] = val;
    assert_null(brk_val_variables(1, keys, vals));
    free(val);
    val = s_str("", 'v', 1025, "");
    vals[0] = val;
    assert_string_equal(brk_val_variables(1, keys, vals), "bad-variables");
    free(val);

    /* 64 variables / 65 */
    char names[65][8];
    const char *mk[65], *mv[65];
    for (int i = 0; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "v%d", i);
        mk[i] = names[i];
        mv[i] = "x";
    }
    assert_null(brk_val_variables(64, mk, mv));
    assert_string_equal(brk_val_variables(65, mk, mv), "bad-variables");
}

/* ---------------------------------------------------------------------------------------------
 * UTF-8 */

static void test_utf8(void **state) {
    (void)state;
    const struct {
        const char *s;
        size_t len;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"plain", 5, 1},
        {"a\0b", 3, 1},             /* NUL is well-formed */
        {"\xc3\xb1", 2, 1},         /* ñ */
        {"\xc2\x80", 2, 1},         /* U+0080, the smallest 2-byte form */
        {"\xdf\xbf", 2, 1},         /* U+07FF */
        {"\xe0\xa0\x80", 3, 1},     /* U+0800 */
        {"\xed\x9f\xbf", 3, 1},     /* U+D7FF, just below the surrogates */
        {"\xee\x80\x80", 3, 1},     /* U+E000, just above */
        {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, 1}, /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"\xf0\x9f\x98\x80", 4, 1}, /* 😀 */
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"\xc1\xbf", 2, 0},         /* overlong */
        {"\xe0\x80\xaf", 3, 0},     /* overlong, 3 bytes */
        {"\xe0\x9f\xbf", 3, 0},     /* overlong U+07FF */
        {"\xf0\x80\x80\xaf", 4, 0}, /* overlong, 4 bytes */
        {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong U+FFFF */
        {"\xed\xa0\x80", 3, 0},     /* U+D800 surrogate */
        {"\xed\xbf\xbf", 3, 0},     /* U+DFFF surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 0},
        {"\xff", 1, 0},
        {"\xfe", 1, 0},
        {"\x80", 1, 0},         /* lone continuation */
        {"\xc3", 1, 0},         /* truncated */
        {"\xe2\x82", 2, 0},     /* truncated */
        {"\xf0\x9f\x98", 3, 0}, /* truncated */
        {"\xc3\x28", 2, 0},     /* bad continuation */
        {"\xe2\x28\xa1", 3, 0},
        {"a\xc3\xb1\xc3", 4, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (brk_val_utf8(cases[i].s, cases[i].len) != cases[i].ok) {
            fail_msg("case %zu: expected %d", i, cases[i].ok);
        }
    }
    assert_int_equal(brk_val_utf8(NULL, 0), 1);
    /* len bounds the check: a truncated sequence past len is not read */
    assert_int_equal(brk_val_utf8("ab\xc3\xb1", 2), 1);
    assert_int_equal(brk_val_utf8("ab\xc3\xb1", 3), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifiers), cmocka_unit_test(test_phones),
        cmocka_unit_test(test_emails),      cmocka_unit_test(test_psid_and_channel),
        cmocka_unit_test(test_variables),   cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

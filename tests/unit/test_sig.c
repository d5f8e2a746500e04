/* test_sig.c — cmocka tests of pg_sig: Twilio's X-Twilio-Signature and Meta's
 * X-Hub-Signature-256 against the vectors in PROVIDERS.md (the providers' own documentation
 * examples), field order, verification of tampered URLs, fields, bodies, tokens and headers,
 * case-insensitive hex, and short buffers. Also pg_form's encoding, which signed webhooks
 * travel in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pg_form.h"
#include "pg_sig.h"

#define S_URL  "https://mycompany.com/myapp.php?foo=1&bar=2"
#define S_SIG  "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
#define S_META "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"

/* The PROVIDERS.md Twilio fields, added out of order on purpose: pg_sig must sort them. */
static pg_form_t *s_vector_form(void) {
    pg_form_t *f = pg_form_new();
    assert_non_null(f);
    assert_int_equal(pg_form_add(f, "To", "+18005551212"), 0);
    assert_int_equal(pg_form_add(f, "Digits", "1234"), 0);
    assert_int_equal(pg_form_add(f, "CallSid", "CA1234567890ABCDE"), 0);
    assert_int_equal(pg_form_add(f, "From", "+12349013030"), 0);
    assert_int_equal(pg_form_add(f, "Caller", "+12349013030"), 0);
    return f;
}

static void test_twilio_vector(void **state) {
    (void)state;
    pg_form_t *f = s_vector_form();
    char sig[PG_SIG_TWILIO_SIZE];
    assert_int_equal(pg_sig_twilio("12345", S_URL, f, sig, sizeof sig), 0);
    assert_string_equal(sig, S_SIG);
    assert_true(pg_sig_twilio_verify("12345", S_URL, f, S_SIG));
    pg_form_destroy(&f);
    assert_null(f);
}

static void test_twilio_tampered(void **state) {
    (void)state;
    pg_form_t *f = s_vector_form();
    assert_false(pg_sig_twilio_verify("54321", S_URL, f, S_SIG));          /* token */
    assert_false(pg_sig_twilio_verify("12345", S_URL "&baz=3", f, S_SIG)); /* URL */
    assert_false(pg_sig_twilio_verify("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", f,
                                      S_SIG));                        /* scheme */
    assert_false(pg_sig_twilio_verify("12345", S_URL, f, NULL));      /* absent */
    assert_false(pg_sig_twilio_verify("12345", S_URL, f, ""));        /* empty */
    assert_false(pg_sig_twilio_verify("12345", S_URL, f, S_SIG "=")); /* longer */
    assert_false(pg_sig_twilio_verify("12345", S_URL, f, "1/KCTR6DLpKmkAf8muzZqo1nDgQ=")); /* bit */
    assert_false(pg_sig_twilio_verify("12345", S_URL, NULL, S_SIG)); /* fields dropped */
    assert_int_equal(pg_form_add(f, "Body", "STOP"), 0);             /* a field added */
    assert_false(pg_sig_twilio_verify("12345", S_URL, f, S_SIG));
    pg_form_destroy(&f);

    /* A value changed. */
    f = pg_form_new();
    assert_int_equal(pg_form_add(f, "To", "+18005551213"), 0);
    assert_int_equal(pg_form_add(f, "Digits", "1234"), 0);
    assert_int_equal(pg_form_add(f, "CallSid", "CA1234567890ABCDE"), 0);
    assert_int_equal(pg_form_add(f, "From", "+12349013030"), 0);
    assert_int_equal(pg_form_add(f, "Caller", "+12349013030"), 0);
    assert_false(pg_sig_twilio_verify("12345", S_URL, f, S_SIG));
    pg_form_destroy(&f);
}

static void test_twilio_edges(void **state) {
    (void)state;
    char sig[PG_SIG_TWILIO_SIZE];
    assert_int_equal(pg_sig_twilio("12345", S_URL, NULL, sig, 10), -1);
    /* No fields: the URL alone is signed. */
    assert_int_equal(pg_sig_twilio("12345", S_URL, NULL, sig, sizeof sig), 0);
    assert_int_equal(strlen(sig), 28);
    assert_true(pg_sig_twilio_verify("12345", S_URL, NULL, sig));
    /* Repeated names sort by value, so their order does not matter either. */
    pg_form_t *a = pg_form_new(), *b = pg_form_new();
    assert_int_equal(pg_form_add(a, "M", "2") | pg_form_add(a, "M", "1"), 0);
    assert_int_equal(pg_form_add(b, "M", "1") | pg_form_add(b, "M", "2"), 0);
    char sa[PG_SIG_TWILIO_SIZE], sb[PG_SIG_TWILIO_SIZE];
    assert_int_equal(pg_sig_twilio("t", "http://x/", a, sa, sizeof sa), 0);
    assert_int_equal(pg_sig_twilio("t", "http://x/", b, sb, sizeof sb), 0);
    assert_string_equal(sa, sb);
    pg_form_destroy(&a);
    pg_form_destroy(&b);
}

static void test_meta_vector(void **state) {
    (void)state;
    char sig[PG_SIG_META_SIZE];
    assert_int_equal(pg_sig_meta("secret", "test", 4, sig, sizeof sig), 0);
    assert_string_equal(sig, S_META);
    assert_true(pg_sig_meta_verify("secret", "test", 4, S_META));
    /* Upper-case hex and prefix are accepted. */
    char upper[PG_SIG_META_SIZE];
    strcpy(upper, S_META);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    assert_true(pg_sig_meta_verify("secret", "test", 4, upper));
    assert_int_equal(pg_sig_meta("secret", "test", 4, sig, PG_SIG_META_SIZE - 1), -1);
    /* An empty body has a signature too. */
    assert_int_equal(pg_sig_meta("secret", NULL, 0, sig, sizeof sig), 0);
    assert_true(pg_sig_meta_verify("secret", "", 0, sig));
}

static void test_meta_tampered(void **state) {
    (void)state;
    assert_false(pg_sig_meta_verify("Secret", "test", 4, S_META));     /* secret */
    assert_false(pg_sig_meta_verify("secret", "test ", 5, S_META));    /* body */
    assert_false(pg_sig_meta_verify("secret", "tesT", 4, S_META));     /* body byte */
    assert_false(pg_sig_meta_verify("secret", "test", 4, NULL));       /* absent */
    assert_false(pg_sig_meta_verify("secret", "test", 4, ""));         /* empty */
    assert_false(pg_sig_meta_verify("secret", "test", 4, S_META + 7)); /* no prefix */
    assert_false(pg_sig_meta_verify("secret", "test", 4, S_META "0")); /* longer */
    assert_false(pg_sig_meta_verify("secret", "test", 4,
                                    "sha1=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881eb"
                                    "b488c0914")); /* another algorithm */
    char bad[PG_SIG_META_SIZE];
    strcpy(bad, S_META);
    bad[7] = 'g'; /* not hex */
    assert_false(pg_sig_meta_verify("secret", "test", 4, bad));
    strcpy(bad, S_META);
    bad[sizeof bad - 2] = '5'; /* last digit */
    assert_false(pg_sig_meta_verify("secret", "test", 4, bad));
}

static void test_form_encode(void **state) {
    (void)state;
    pg_form_t *f = pg_form_new();
    assert_int_equal(pg_form_add(f, "Body", "sí, Baja & más=1"), 0);
    assert_int_equal(pg_form_add(f, "To", "+573001234567"), 0);
    assert_int_equal(pg_form_add(f, "a b", "~-._"), 0);
    char *enc = pg_form_encode(f);
    assert_string_equal(enc, "Body=s%C3%AD%2C%20Baja%20%26%20m%C3%A1s%3D1&To=%2B573001234567&"
                             "a%20b=~-._");
    free(enc);
    pg_form_destroy(&f);
    f = pg_form_new();
    enc = pg_form_encode(f);
    assert_string_equal(enc, "");
    free(enc);
    pg_form_destroy(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twilio_vector), cmocka_unit_test(test_twilio_tampered),
        cmocka_unit_test(test_twilio_edges),  cmocka_unit_test(test_meta_vector),
        cmocka_unit_test(test_meta_tampered), cmocka_unit_test(test_form_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

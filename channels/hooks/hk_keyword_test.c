/* hk_keyword_test.c — cmocka tests of the keyword classifier: every keyword, case and accents
 * (precomposed and decomposed), punctuation, emoji and whitespace at the ends, inner spaces,
 * sentences that merely contain a keyword, invalid UTF-8, over-long texts, and folding itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hk_keyword.h"

static hk_keyword_kind_t s_kind(const char *text) {
    return hk_keyword_classify(text, strlen(text), NULL);
}

static void test_opt_out_words(void **state) {
    (void)state;
    const char *words[] = {
        "STOP",        "STOPALL",       "UNSUBSCRIBE", "CANCEL",
        "END",         "QUIT",          "REVOKE",      "OPTOUT",
        "OPT OUT",     "BAJA",          "ALTO",        "CANCELAR",
        "DAR DE BAJA", "stop",          "Baja",        "alto",
        "Stop.",       " STOP ",        "¡Alto!",      "BAJA!!!",
        "stop\r\n",    "\"stop\"",      "Stop 🙏",      "STOP ❤️",
        "opt  out",    "dar  de\tbaja", "ＳＴＯＰ",    "\xc2\xa0stop\xe3\x80\x80"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (s_kind(words[i]) != HK_KEYWORD_OPT_OUT)
            fail_msg("\"%s\" is not an opt-out", words[i]);
    }
}

static void test_opt_in_words(void **state) {
    (void)state;
    const char *words[] = {"START", "YES", "UNSTOP", "ALTA", "DAR DE ALTA", "SI",
                           "Sí",    "SÍ",  "si.",    "yes!", "Start",       "S\xcc\x81I"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (s_kind(words[i]) != HK_KEYWORD_OPT_IN)
            fail_msg("\"%s\" is not an opt-in", words[i]);
    }
}

static void test_accents(void **state) {
    (void)state;
    assert_int_equal(s_kind("ÁLTO"), HK_KEYWORD_OPT_OUT);
    assert_int_equal(s_kind("bája"), HK_KEYWORD_OPT_OUT);
    assert_int_equal(s_kind("CANCELÁR"), HK_KEYWORD_OPT_OUT);
    assert_int_equal(s_kind("Ștop"), HK_KEYWORD_NONE); /* U+0218 is beyond the folded ranges */
    assert_int_equal(s_kind("Śtop"), HK_KEYWORD_OPT_OUT);
    /* decomposed: A + U+0301 */
    assert_int_equal(s_kind("A\xcc\x81LTO"), HK_KEYWORD_OPT_OUT);
    const char *matched = NULL;
    assert_int_equal(hk_keyword_classify("¡BáJa!", strlen("¡BáJa!"), &matched), HK_KEYWORD_OPT_OUT);
    assert_string_equal(matched, "BAJA");
}

static void test_replies(void **state) {
    (void)state;
    const char *texts[] = {"please stop calling",
                           "stop calling",
                           "ya pagué la cuenta",
                           "no",
                           "S.T.O.P",
                           "STOPP",
                           "STO P",
                           "",
                           "   ",
                           "🙏",
                           "stop stop",
                           "sin",
                           "número equivocado no",
                           "STOP2",
                           "ok stop",
                           "ST\x1bOP"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *matched = "x";
        if (hk_keyword_classify(texts[i], strlen(texts[i]), &matched) != HK_KEYWORD_NONE)
            fail_msg("\"%s\" is not a reply", texts[i]);
        assert_null(matched);
    }
}

static void test_invalid_utf8(void **state) {
    (void)state;
    assert_int_equal(s_kind("ST\xffOP"), HK_KEYWORD_NONE);
    assert_int_equal(s_kind("STOP\xc3"), HK_KEYWORD_NONE);         /* cut short */
    assert_int_equal(s_kind("\xc0\xb3STOP"), HK_KEYWORD_NONE);     /* overlong */
    assert_int_equal(s_kind("\xed\xa0\x80STOP"), HK_KEYWORD_NONE); /* surrogate */
    /* embedded NUL: the length decides, not the NUL */
    assert_int_equal(hk_keyword_classify("STOP\0X", 6, NULL), HK_KEYWORD_NONE);
    assert_int_equal(hk_keyword_classify("STOP\0X", 4, NULL), HK_KEYWORD_OPT_OUT);
}

static void test_long(void **state) {
    (void)state;
    char text[HK_KEYWORD_FOLD_MAX + 16];
    memset(text, '.', sizeof text);
    memcpy(text, "STOP", 4);
    assert_int_equal(hk_keyword_classify(text, HK_KEYWORD_FOLD_MAX, NULL), HK_KEYWORD_OPT_OUT);
    assert_int_equal(hk_keyword_classify(text, sizeof text, NULL), HK_KEYWORD_NONE);
    /* long runs of whitespace fold to one */
    memset(text + 4, ' ', sizeof text - 4);
    assert_int_equal(hk_keyword_classify(text, sizeof text, NULL), HK_KEYWORD_OPT_OUT);
}

static void test_fold(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(hk_keyword_fold("Ñandú  x\t\ty", strlen("Ñandú  x\t\ty"), out, sizeof out), 9);
    assert_string_equal(out, "NANDU X Y");
    assert_int_equal(hk_keyword_fold("ÆØ", strlen("ÆØ"), out, sizeof out), 2);
    assert_string_equal(out, "\x1a\x1a");
    assert_int_equal(hk_keyword_fold("¿qué?", strlen("¿qué?"), out, sizeof out), 5);
    assert_string_equal(out, "~QUE?");
    assert_int_equal(hk_keyword_fold("abcd", 4, out, 4), (size_t)-1);
    assert_int_equal(hk_keyword_fold("abc", 3, out, 4), 3);
    assert_int_equal(hk_keyword_fold("", 0, out, 0), (size_t)-1);
}

/* The WhatsApp keyword table: payment claims and wrong numbers, accents and case folded. */
static void test_claims_and_wrong_number(void **state) {
    (void)state;
    const char *paid[] = {"ya pagué",        "YA PAGUE",    "Ya Pagué!",       "pago realizado",
                          "PAGO REALIZADO.", "ya  pagué 🙏", "Ya hice el pago", "pagado"};
    for (size_t i = 0; i < sizeof paid / sizeof paid[0]; i++) {
        const char *m = NULL;
        if (hk_keyword_classify(paid[i], strlen(paid[i]), &m) != HK_KEYWORD_PAYMENT_CLAIMED)
            fail_msg("\"%s\" is not a payment claim", paid[i]);
        assert_non_null(m);
    }
    const char *wrong[] = {"número equivocado", "NUMERO EQUIVOCADO", "Número incorrecto",
                           "equivocado", "wrong number"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        if (hk_keyword_classify(wrong[i], strlen(wrong[i]), NULL) != HK_KEYWORD_WRONG_NUMBER)
            fail_msg("\"%s\" is not a wrong number", wrong[i]);
    const char *m = NULL;
    assert_int_equal(hk_keyword_classify("Número equivocado", strlen("Número equivocado"), &m),
                     HK_KEYWORD_WRONG_NUMBER);
    assert_string_equal(m, "NUMERO EQUIVOCADO");
    const char *replies[] = {"ya pagué la mitad", "todavía no he pagado", "¿pago realizado?x"};
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++)
        assert_int_equal(hk_keyword_classify(replies[i], strlen(replies[i]), NULL),
                         HK_KEYWORD_NONE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opt_out_words), cmocka_unit_test(test_opt_in_words),
        cmocka_unit_test(test_accents),       cmocka_unit_test(test_replies),
        cmocka_unit_test(test_invalid_utf8),  cmocka_unit_test(test_long),
        cmocka_unit_test(test_fold),          cmocka_unit_test(test_claims_and_wrong_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

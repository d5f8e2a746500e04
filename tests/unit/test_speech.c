/* test_speech.c — brk_speech: numbers, amounts, dates and digits in words, es and en. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "brk_speech.h"

static const char *s_say(brk_say_t kind, const char *v, const char *lang, const char *cur) {
    static char out[1024];
    assert_true(brk_speech_render(kind, v, lang, cur, out, sizeof out) >= 0);
    return out;
}

static const char *s_num(unsigned long long n, const char *lang, int apocope) {
    static char out[1024];
    assert_true(brk_speech_number(n, lang, apocope, out, sizeof out) >= 0);
    return out;
}

static void test_spanish_numbers(void **state) {
    (void)state;
    assert_string_equal(s_num(0, "es", 0), "cero");
    assert_string_equal(s_num(1, "es", 0), "uno");
    assert_string_equal(s_num(1, "es", 1), "un");
    assert_string_equal(s_num(16, "es", 0), "dieciséis");
    assert_string_equal(s_num(21, "es", 1), "veintiún");
    assert_string_equal(s_num(31, "es", 1), "treinta y un");
    assert_string_equal(s_num(100, "es", 0), "cien");
    assert_string_equal(s_num(101, "es", 0), "ciento uno");
    assert_string_equal(s_num(555, "es", 0), "quinientos cincuenta y cinco");
    assert_string_equal(s_num(1000, "es", 0), "mil");
    assert_string_equal(s_num(21000, "es", 0), "veintiún mil");
    assert_string_equal(s_num(1250000, "es", 1), "un millón doscientos cincuenta mil");
    assert_string_equal(s_num(2000000, "es", 1), "dos millones");
    assert_string_equal(s_num(1000000000, "es", 1), "mil millones");
    assert_string_equal(s_num(3500000000ull, "es", 1), "tres mil quinientos millones");
}

static void test_english_numbers(void **state) {
    (void)state;
    assert_string_equal(s_num(0, "en-US", 0), "zero");
    assert_string_equal(s_num(42, "en-US", 0), "forty-two");
    assert_string_equal(s_num(1250000, "en-US", 0), "one million two hundred fifty thousand");
    assert_string_equal(s_num(999999999999ull, "en", 0),
                        "nine hundred ninety-nine billion nine hundred ninety-nine million nine "
                        "hundred ninety-nine thousand nine hundred ninety-nine");
    char small[8];
    assert_int_equal(brk_speech_number(1250000, "en", 0, small, sizeof small), -1);
    assert_string_equal(small, "");
    assert_int_equal(brk_speech_number(1000000000000ull, "en", 0, small, sizeof small), -1);
}

static void test_amounts(void **state) {
    (void)state;
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "$1.250.000", "es-CO", "COP"),
                        "un millón doscientos cincuenta mil pesos");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "$2.000.000", "es-CO", "COP"),
                        "dos millones de pesos");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "$1", "es-MX", "MXN"), "un peso");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "$1,250.50", "es-MX", "MXN"),
                        "mil doscientos cincuenta pesos con cincuenta centavos");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "$1,250,000.05", "en-US", "USD"),
                        "one million two hundred fifty thousand dollars and five cents");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "US$ 21", "en-US", ""), "twenty-one dollars");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "S/ 1.500,5", "es-PE", "PEN"),
                        "mil quinientos soles con cincuenta céntimos");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "$21.000", "es", NULL), "veintiún mil pesos");
    /* not an amount: as written */
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "a convenir", "es", "COP"), "a convenir");
    assert_string_equal(s_say(BRK_SAY_AMOUNT, "1/2", "es", "COP"), "1/2");
}

static void test_currency_of_job(void **state) {
    (void)state;
    assert_string_equal(brk_speech_currency("USD", "CO"), "USD");
    assert_string_equal(brk_speech_currency("", "CO"), "COP");
    assert_string_equal(brk_speech_currency(NULL, "CO-strict"), "COP");
    assert_string_equal(brk_speech_currency("", "US-MA"), "USD");
    assert_string_equal(brk_speech_currency("", "XX"), "");
}

static void test_dates(void **state) {
    (void)state;
    assert_string_equal(s_say(BRK_SAY_DATE, "30/11", "es-CO", NULL), "30 de noviembre");
    assert_string_equal(s_say(BRK_SAY_DATE, "30/11/2026", "es-CO", NULL),
                        "30 de noviembre de 2026");
    assert_string_equal(s_say(BRK_SAY_DATE, "2026-11-30", "es", NULL), "30 de noviembre de 2026");
    assert_string_equal(s_say(BRK_SAY_DATE, "1/2/26", "es", NULL), "1 de febrero de 2026");
    assert_string_equal(s_say(BRK_SAY_DATE, "11/30", "en-US", NULL), "November 30");
    assert_string_equal(s_say(BRK_SAY_DATE, "30/11", "en-US", NULL), "November 30");
    assert_string_equal(s_say(BRK_SAY_DATE, "02/03/2027", "en-US", NULL), "February 3, 2027");
    assert_string_equal(s_say(BRK_SAY_DATE, "02/03/2027", "en-GB", NULL), "March 2, 2027");
    assert_string_equal(s_say(BRK_SAY_DATE, "mañana", "es", NULL), "mañana");
    assert_string_equal(s_say(BRK_SAY_DATE, "40/40", "es", NULL), "40/40");
}

static void test_digits_and_kinds(void **state) {
    (void)state;
    assert_string_equal(s_say(BRK_SAY_DIGITS, "601 555-1234", "es", NULL), "6 0 1 5 5 5 1 2 3 4");
    assert_string_equal(s_say(BRK_SAY_TEXT, "$1.250.000", "es", NULL), "$1.250.000");
    assert_int_equal(brk_speech_kind("amount"), BRK_SAY_AMOUNT);
    assert_int_equal(brk_speech_kind("date"), BRK_SAY_DATE);
    assert_int_equal(brk_speech_kind("digits"), BRK_SAY_DIGITS);
    assert_int_equal(brk_speech_kind("text"), BRK_SAY_TEXT);
    assert_int_equal(brk_speech_kind("currency"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spanish_numbers), cmocka_unit_test(test_english_numbers),
        cmocka_unit_test(test_amounts),         cmocka_unit_test(test_currency_of_job),
        cmocka_unit_test(test_dates),           cmocka_unit_test(test_digits_and_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

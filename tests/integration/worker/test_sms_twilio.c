/* test_sms_twilio.c — cmocka unit tests of pregon-sms's Twilio driver: the classification table
 * (HTTP status and Twilio code -> outcome), form encoding, and the masking of the account sid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sms_twilio.h"

static void s_classify(long status, const char *body, chw_result_t *r) {
    sms_twilio_classify(status, body, body ? strlen(body) : 0, r);
}

static const char *s_err(int code, int status) {
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"code\": %d, \"message\": \"msg %d\", \"more_info\": "
             "\"https://www.twilio.com/docs/errors/%d\", \"status\": %d}",
             code, code, code, status);
    return buf;
}

static void test_classify_sent(void **state) {
    (void)state;
    chw_result_t r;
    s_classify(201,
               "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\","
               "\"error_code\":null}",
               &r);
    assert_int_equal(r.outcome, CHW_SENT);
    assert_string_equal(r.provider_id, "SM0123456789abcdef0123456789abcdef");
    assert_string_equal(r.provider_code, "");
    s_classify(200, "not json", &r);
    assert_int_equal(r.outcome, CHW_SENT);
    assert_string_equal(r.provider_id, "");
}

static void test_classify_table(void **state) {
    (void)state;
    static const struct {
        long status;
        int code; /* 0 = no JSON body */
        chw_outcome_t outcome;
        const char *detail; /* substring, or NULL */
    } rows[] = {
        {429, 20429, CHW_RETRY, "rate limited"},
        {429, 0, CHW_RETRY, NULL},
        {400, 20429, CHW_RETRY, NULL},
        {500, 0, CHW_RETRY, "HTTP 500"},
        {502, 0, CHW_RETRY, NULL},
        {503, 20500, CHW_RETRY, NULL},
        {401, 20003, CHW_CONFIG_ERROR, "provider rejected credentials (HTTP 401, Twilio 20003)"},
        {401, 0, CHW_CONFIG_ERROR, "credentials"},
        {400, 21606, CHW_CONFIG_ERROR, "21606"},
        {400, 21608, CHW_CONFIG_ERROR, "21608"},
        {400, 21408, CHW_CONFIG_ERROR, "21408"},
        {400, 21610, CHW_FAILED, "opted-out"},
        {400, 21211, CHW_FAILED, "msg 21211"},
        {400, 21612, CHW_FAILED, NULL},
        {400, 21614, CHW_FAILED, NULL},
        {400, 21635, CHW_FAILED, NULL},
        {400, 21617, CHW_FAILED, NULL}, /* other 4xx: permanent, with the code */
        {404, 20404, CHW_FAILED, NULL},
        {403, 0, CHW_FAILED, NULL},
        {302, 0, CHW_UNKNOWN, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        chw_result_t r;
        s_classify(rows[i].status, rows[i].code ? s_err(rows[i].code, (int)rows[i].status) : "",
                   &r);
        if (r.outcome != rows[i].outcome)
            fail_msg("row %zu: HTTP %ld code %d gave %s", i, rows[i].status, rows[i].code,
                     chw_outcome_name(r.outcome));
        if (rows[i].code) {
            char code[16];
            snprintf(code, sizeof code, "%d", rows[i].code);
            assert_string_equal(r.provider_code, code);
        }
        if (rows[i].detail && !strstr(r.detail, rows[i].detail))
            fail_msg("row %zu: detail \"%s\" lacks \"%s\"", i, r.detail, rows[i].detail);
        /* unroutable / landline / not a mobile: fallback-eligible, nothing else */
        bool fb = rows[i].code == 21612 || rows[i].code == 21614 || rows[i].code == 21635;
        if (r.flags != (fb ? CHW_RESULT_FALLBACK : 0u))
            fail_msg("row %zu: code %d gave flags %u", i, rows[i].code, r.flags);
    }
}

static void test_form(void **state) {
    (void)state;
    char *form = sms_twilio_form("+573001234567", "From", "+15005550006",
                                 "Hola Juan, su saldo: $1.000 & 50% off? a=b+c ñ", NULL);
    assert_non_null(form);
    assert_string_equal(form, "To=%2B573001234567&From=%2B15005550006&Body=Hola%20Juan%2C%20su%20"
                              "saldo%3A%20%241.000%20%26%2050%25%20off%3F%20a%3Db%2Bc%20%C3%B1");
    free(form);
    form =
        sms_twilio_form("+15551234567", "MessagingServiceSid", "MG00000000000000000000000000000000",
                        "x", "https://hooks.example.com/twilio?a=1&b=2");
    assert_string_equal(form, "To=%2B15551234567&MessagingServiceSid="
                              "MG00000000000000000000000000000000&Body=x&StatusCallback="
                              "https%3A%2F%2Fhooks.example.com%2Ftwilio%3Fa%3D1%26b%3D2");
    free(form);
    form = sms_twilio_form("+15551234567", "From", "", "", "");
    assert_string_equal(form, "To=%2B15551234567&Body=");
    free(form);
}

static void test_mask(void **state) {
    (void)state;
    char out[64];
    sms_twilio_mask_sid("AC0123456789abcdef0123456789ab1234", out, sizeof out);
    assert_string_equal(out, "AC…1234");
    sms_twilio_mask_sid("AC1", out, sizeof out);
    assert_string_equal(out, "…");
}

static void test_new_requires_credentials(void **state) {
    (void)state;
    sms_twilio_config_t cfg = {.base_url = "http://127.0.0.1:1", .account_sid = "ACx"};
    assert_null(sms_twilio_new(&cfg));
    cfg.auth_token = "secret";
    sms_twilio_t *t = sms_twilio_new(&cfg);
    assert_non_null(t);
    sms_twilio_destroy(&t);
    assert_null(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_sent),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_new_requires_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

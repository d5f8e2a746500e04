/* test_chw_twilio.c — chw_twilio: the resource URL (trailing slashes of the base ignored), the
 * headers (the Authorization line decoded back to "sid:token"), the arguments that are
 * required, and form bodies (escaping, the empty form, growth, a failed add). No transfer is
 * made: the easy handle only takes the options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "chw_twilio.h"

static void test_url(void **state) {
    (void)state;
    chw_twilio_t *t =
        chw_twilio_new("http://127.0.0.1:9//", "AC123", "tok", "Calls.json", "pregon-test/1");
    assert_non_null(t);
    assert_string_equal(chw_twilio_url(t),
                        "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Calls.json");
    assert_string_equal(chw_twilio_account_sid(t), "AC123");
    chw_twilio_destroy(&t);
    assert_null(t);
    chw_twilio_destroy(&t); /* twice: nothing */
    assert_string_equal(chw_twilio_account_sid(NULL), "");
    assert_null(chw_twilio_url(NULL));
}

static void test_required(void **state) {
    (void)state;
    const char *ok[5] = {"http://x", "AC1", "tok", "Messages.json", "ua"};
    for (int i = 0; i < 5; i++) {
        const char *a[5];
        memcpy(a, ok, sizeof a);
        a[i] = NULL;
        assert_null(chw_twilio_new(a[0], a[1], a[2], a[3], a[4]));
        a[i] = "";
        assert_null(chw_twilio_new(a[0], a[1], a[2], a[3], a[4]));
    }
}

static void test_headers(void **state) {
    (void)state;
    const char *sid = "AC00000000000000000000000000000000", *token = "sandbox-token";
    chw_twilio_t *t = chw_twilio_new("http://x", sid, token, "Messages.json", "ua");
    assert_non_null(t);
    const struct curl_slist *h = chw_twilio_headers(t);
    assert_non_null(h);
    assert_string_equal(h->data, "Accept: application/json");
    assert_non_null(h = h->next);
    assert_string_equal(h->data, "Expect:");
    assert_non_null(h = h->next);
    assert_null(h->next);
    const char *prefix = "Authorization: Basic ";
    assert_memory_equal(h->data, prefix, strlen(prefix));
    const char *b64 = h->data + strlen(prefix);
    unsigned char dec[256];
    int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)strlen(b64));
    char want[128];
    int wl = snprintf(want, sizeof want, "%s:%s", sid, token);
    assert_true(n >= wl && n <= wl + 2); /* DecodeBlock counts the padding's zero bytes */
    assert_memory_equal(dec, want, (size_t)wl);
    for (int i = wl; i < n; i++)
        assert_int_equal(dec[i], 0);
    /* the options go on an easy handle (no transfer is made) */
    CURL *easy = curl_easy_init();
    assert_non_null(easy);
    chw_result_t err;
    assert_int_equal(chw_twilio_post(t, easy, "a=b", &err), 0);
    curl_easy_cleanup(easy);
    chw_twilio_destroy(&t);
}

static void test_form(void **state) {
    (void)state;
    chw_form_t f = {0};
    chw_form_add(&f, "To", "+57 300");
    chw_form_add(&f, "Body", "Señora & co=1");
    chw_form_add(&f, "Empty", NULL);
    char *body = chw_form_finish(&f);
    assert_non_null(body);
    assert_string_equal(body, "To=%2B57%20300&Body=Se%C3%B1ora%20%26%20co%3D1&Empty=");
    free(body);
    assert_null(f.buf);
    body = chw_form_finish(&f); /* nothing added: "" */
    assert_non_null(body);
    assert_string_equal(body, "");
    free(body);
    /* a long value grows the buffer past its first 256 bytes */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    chw_form_add(&f, "A", "1");
    chw_form_add(&f, "Big", big);
    body = chw_form_finish(&f);
    assert_non_null(body);
    assert_int_equal(strlen(body), strlen("A=1&Big=") + sizeof big - 1);
    free(body);
    chw_form_add(&f, "A", "1");
    f.failed = true; /* as after an allocation failure */
    chw_form_add(&f, "B", "2");
    assert_null(chw_form_finish(&f));
    assert_null(f.buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* msg_send_test.c — cmocka unit tests of pregon-messenger's Send API driver: the request body,
 * the classification table (Graph code and subcode -> outcome, flags, retry delay), the window
 * re-check in prepare (SKIPPED "window-closed" past window_until_ms, by the injected clock) and
 * the halt hint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "msg_send.h"

static const char *s_err(int code, int sub) {
    static char buf[256];
    if (sub)
        snprintf(buf, sizeof buf,
                 "{\"error\":{\"message\":\"m%d\",\"type\":\"OAuthException\",\"code\":%d,"
                 "\"error_subcode\":%d,\"fbtrace_id\":\"Ax\"}}",
                 code, code, sub);
    else
        snprintf(buf, sizeof buf,
                 "{\"error\":{\"message\":\"m%d\",\"type\":\"OAuthException\",\"code\":%d}}", code,
                 code);
    return buf;
}

static void s_classify(long status, const char *body, int64_t retry_after, chw_result_t *r) {
    msg_send_classify(status, body, body ? strlen(body) : 0, retry_after, 5000, r);
}

static void test_body(void **state) {
    (void)state;
    char *b = msg_send_body("1234", "Hola \"Ana\" ñ");
    assert_non_null(b);
    json_t *j = json_loads(b, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "recipient"), "id")),
                        "1234");
    assert_string_equal(json_string_value(json_object_get(j, "messaging_type")), "RESPONSE");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "message"), "text")),
                        "Hola \"Ana\" ñ");
    json_decref(j);
    free(b);
    assert_null(msg_send_body("1", "\xff\xfe")); /* not UTF-8 */
}

static void test_sent(void **state) {
    (void)state;
    chw_result_t r;
    s_classify(200, "{\"recipient_id\":\"1\",\"message_id\":\"m_abc\"}", -1, &r);
    assert_int_equal(r.outcome, CHW_SENT);
    assert_string_equal(r.provider_id, "m_abc");
    s_classify(200, "{}", -1, &r);
    assert_int_equal(r.outcome, CHW_SENT);
    assert_string_equal(r.provider_id, "");
}

static void test_classes(void **state) {
    (void)state;
    chw_result_t r;
    s_classify(400, s_err(190, 0), -1, &r);
    assert_int_equal(r.outcome, CHW_CONFIG_ERROR);
    assert_string_equal(r.provider_code, "190");
    assert_non_null(strstr(msg_send_halt_hint(&r), "MESSENGER_PAGE_TOKEN"));
    s_classify(400, s_err(10, 2018278), -1, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_string_equal(r.provider_code, "10/2018278");
    assert_int_equal(r.flags, 0);
    s_classify(400, s_err(551, 1545041), -1, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_int_equal(r.flags & CHW_RESULT_FALLBACK, CHW_RESULT_FALLBACK);
    assert_string_equal(r.provider_code, "551/1545041");
    s_classify(400, s_err(100, 2018001), -1, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_non_null(strstr(r.detail, "no-user"));
    s_classify(400, s_err(100, 0), -1, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    for (int i = 0; i < 3; i++) {
        int code = (int[]){1200, 2, 1}[i];
        s_classify(500, s_err(code, 0), -1, &r);
        assert_int_equal(r.outcome, CHW_RETRY);
        assert_int_equal(r.min_retry_ms, 0);
    }
    for (int i = 0; i < 4; i++) {
        int code = (int[]){4, 613, 32, 17}[i];
        s_classify(400, s_err(code, 0), -1, &r);
        assert_int_equal(r.outcome, CHW_RETRY);
        assert_int_equal(r.min_retry_ms, 5000); /* the configured backoff */
        s_classify(400, s_err(code, 0), 9, &r);
        assert_int_equal(r.min_retry_ms, 9000); /* Retry-After wins */
    }
    s_classify(429, "", -1, &r);
    assert_int_equal(r.outcome, CHW_RETRY);
    assert_int_equal(r.min_retry_ms, 5000);
    s_classify(503, "<html>", -1, &r);
    assert_int_equal(r.outcome, CHW_RETRY);
    s_classify(403, "{}", -1, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    s_classify(302, "", -1, &r);
    assert_int_equal(r.outcome, CHW_UNKNOWN);
    /* a code given as a string is read too */
    s_classify(400, "{\"error\":{\"code\":\"551\",\"error_subcode\":\"1545041\"}}", -1, &r);
    assert_int_equal(r.flags & CHW_RESULT_FALLBACK, CHW_RESULT_FALLBACK);
}

static int64_t s_now = 1000000;
static int64_t s_clock(void *ctx) {
    (void)ctx;
    return s_now;
}

static void test_window_recheck(void **state) {
    (void)state;
    msg_send_config_t c = {.base_url = "http://127.0.0.1:9/",
                           .version = "v19.0",
                           .page_token = "tok",
                           .clock = s_clock};
    msg_send_t *m = msg_send_new(&c);
    assert_non_null(m);
    assert_string_equal(msg_send_page(m), "me");
    chw_driver_t d = msg_send_driver(m);
    Pregon__SendRequest job = PREGON__SEND_REQUEST__INIT;
    job.contact = "42";
    Pregon__TextContent text = PREGON__TEXT_CONTENT__INIT;
    text.text = "hola";
    Pregon__Content content = PREGON__CONTENT__INIT;
    content.body_case = PREGON__CONTENT__BODY_TEXT;
    content.text = &text;
    Pregon__Dispatch disp = PREGON__DISPATCH__INIT;
    disp.job = &job;
    disp.content = &content;
    CURL *easy = curl_easy_init();
    void *js = NULL;
    chw_result_t r;
    disp.window_until_ms = s_now; /* closes now: too late */
    memset(&r, 0, sizeof r);
    assert_int_equal(d.prepare(d.ctx, easy, &disp, &js, &r), -1);
    assert_int_equal(r.outcome, CHW_SKIPPED);
    assert_string_equal(r.detail, "window-closed");
    d.release(d.ctx, js, &disp, &r);
    js = NULL;
    disp.window_until_ms = s_now + 1; /* still open */
    assert_int_equal(d.prepare(d.ctx, easy, &disp, &js, &r), 0);
    d.release(d.ctx, js, &disp, &r);
    js = NULL;
    disp.window_until_ms = 0; /* none */
    job.sender = "bad/page";
    memset(&r, 0, sizeof r);
    assert_int_equal(d.prepare(d.ctx, easy, &disp, &js, &r), -1);
    assert_int_equal(r.outcome, CHW_FAILED);
    d.release(d.ctx, js, &disp, &r);
    js = NULL;
    job.sender = "";
    content.body_case = PREGON__CONTENT__BODY_EMAIL;
    memset(&r, 0, sizeof r);
    assert_int_equal(d.prepare(d.ctx, easy, &disp, &js, &r), -1);
    assert_non_null(strstr(r.detail, "content-not-text"));
    d.release(d.ctx, js, &disp, &r);
    curl_easy_cleanup(easy);
    msg_send_destroy(&m);
    assert_null(m);
    c.page_token = "";
    assert_null(msg_send_new(&c));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_sent),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_window_recheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

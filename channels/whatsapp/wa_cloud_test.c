/* wa_cloud_test.c — cmocka tests of the WhatsApp Cloud driver's pure parts: the request bodies
 * (template components, free-form text, the window, the job reference), the classification of
 * every error class of shared/PROVIDERS.md and the per-template state (halted templates, quality
 * counts). No network: the driver is built but never sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "wa_cloud.h"

static wa_cloud_t *s_cloud(void) {
    wa_cloud_config_t c = {.base_url = "http://127.0.0.1:1/",
                           .api_version = "v21.0",
                           .phone_number_id = "1065550001",
                           .token = "tok",
                           .throughput = 80,
                           .pair_interval_ms = 6000};
    wa_cloud_t *w = wa_cloud_new(&c);
    assert_non_null(w);
    return w;
}

typedef struct {
    Pregon__Dispatch d;
    Pregon__SendRequest job;
    Pregon__Content content;
    Pregon__WhatsAppTemplate tpl;
    Pregon__TextContent text;
} s_fix_t;

static char *s_header[] = {"Tarjeta"};
static char *s_body[] = {"Ana", "$100"};
static char *s_buttons[] = {"ref/1"};

static void s_fixture(s_fix_t *f, bool template) {
    memset(f, 0, sizeof *f);
    pregon__dispatch__init(&f->d);
    pregon__send_request__init(&f->job);
    pregon__content__init(&f->content);
    pregon__whats_app_template__init(&f->tpl);
    pregon__text_content__init(&f->text);
    f->job.tenant = "acme";
    f->job.debtor_id = "d1";
    f->job.job_id = "j1";
    f->job.contact = "+5215512345678";
    f->d.job = &f->job;
    f->d.content = &f->content;
    if (template) {
        f->tpl.name = "recordatorio_pago";
        f->tpl.language = "es_MX";
        f->tpl.header_params = s_header;
        f->tpl.n_header_params = 1;
        f->tpl.body_params = s_body;
        f->tpl.n_body_params = 2;
        f->tpl.button_params = s_buttons;
        f->tpl.n_button_params = 1;
        f->tpl.text = "Hola Ana";
        f->content.body_case = PREGON__CONTENT__BODY_WHATSAPP;
        f->content.whatsapp = &f->tpl;
    } else {
        f->text.text = "Hola, gracias por escribir";
        f->content.body_case = PREGON__CONTENT__BODY_TEXT;
        f->content.text = &f->text;
    }
}

static json_t *s_request(s_fix_t *f, int64_t now, const char **tpl, chw_result_t *err) {
    char *body = wa_cloud_request_json(&f->d, now, tpl, err);
    if (!body)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(j);
    return j;
}

static void test_template_body(void **state) {
    (void)state;
    s_fix_t f;
    s_fixture(&f, true);
    chw_result_t err;
    const char *tpl = NULL;
    json_t *j = s_request(&f, 1000, &tpl, &err);
    assert_non_null(j);
    assert_string_equal(tpl, "recordatorio_pago");
    assert_string_equal(json_string_value(json_object_get(j, "to")), "5215512345678");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "template");
    assert_string_equal(json_string_value(json_object_get(j, "biz_opaque_callback_data")),
                        "pg1 acme d1 j1");
    json_t *t = json_object_get(j, "template");
    assert_string_equal(json_string_value(json_object_get(t, "name")), "recordatorio_pago");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "language"), "code")),
                        "es_MX");
    json_t *comp = json_object_get(t, "components");
    assert_int_equal(json_array_size(comp), 3);
    json_t *header = json_array_get(comp, 0), *body = json_array_get(comp, 1),
           *button = json_array_get(comp, 2);
    assert_string_equal(json_string_value(json_object_get(header, "type")), "header");
    assert_string_equal(json_string_value(json_object_get(body, "type")), "body");
    json_t *p = json_object_get(body, "parameters");
    assert_int_equal(json_array_size(p), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "text")), "$100");
    assert_string_equal(json_string_value(json_object_get(button, "sub_type")), "url");
    assert_string_equal(json_string_value(json_object_get(button, "index")), "0");
    json_decref(j);
}

static void test_text_and_window(void **state) {
    (void)state;
    s_fix_t f;
    s_fixture(&f, false);
    chw_result_t err;
    const char *tpl = NULL;
    json_t *j = s_request(&f, 1000, &tpl, &err);
    assert_string_equal(tpl, "");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "text");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "text"), "body")),
                        "Hola, gracias por escribir");
    json_decref(j);
    /* inside the window: sent; past it: skipped, never built */
    f.d.window_until_ms = 5000;
    j = s_request(&f, 4999, &tpl, &err);
    assert_non_null(j);
    json_decref(j);
    assert_null(s_request(&f, 5000, &tpl, &err));
    assert_int_equal(err.outcome, CHW_SKIPPED);
    assert_string_equal(err.detail, "window-closed");
    /* a template inside the window pregond vouched for goes as its text */
    s_fixture(&f, true);
    f.d.window_until_ms = 5000;
    j = s_request(&f, 10, &tpl, &err);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "text");
    assert_string_equal(tpl, "");
    json_decref(j);
    /* other content */
    s_fixture(&f, false);
    f.content.body_case = PREGON__CONTENT__BODY__NOT_SET;
    assert_null(s_request(&f, 10, &tpl, &err));
    assert_int_equal(err.outcome, CHW_FAILED);
    assert_non_null(strstr(err.detail, "content-not-whatsapp"));
}

static void test_job_ref(void **state) {
    (void)state;
    char ref[WA_JOB_REF_MAX], t[160], d[160], j[160];
    assert_int_equal(wa_cloud_job_ref("acme/co", "d:1", "job-9", ref, sizeof ref), 0);
    assert_int_equal(wa_cloud_job_ref_parse(ref, t, d, j, sizeof t), 0);
    assert_string_equal(t, "acme/co");
    assert_string_equal(d, "d:1");
    assert_string_equal(j, "job-9");
    assert_int_equal(wa_cloud_job_ref_parse("job-123", t, d, j, sizeof t), -1);
    assert_int_equal(wa_cloud_job_ref_parse("pg1 a b", t, d, j, sizeof t), -1);
    assert_int_equal(wa_cloud_job_ref_parse("pg1 a b c d", t, d, j, sizeof t), -1);
}

static void s_err(wa_cloud_t *w, const char *tpl, long status, long code, chw_result_t *out) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"error\":{\"message\":\"(#%ld) boom\",\"type\":\"OAuthException\",\"code\":%ld,"
             "\"error_data\":{\"details\":\"x\"},\"fbtrace_id\":\"A\"}}",
             code, code);
    wa_cloud_classify(w, tpl, status, body, strlen(body), -1, out);
}

static void test_classify(void **state) {
    (void)state;
    wa_cloud_t *w = s_cloud();
    chw_result_t r;
    const char *ok = "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"1\","
                     "\"wa_id\":\"1\"}],\"messages\":[{\"id\":\"wamid.X1\"}]}";
    wa_cloud_classify(w, "t", 200, ok, strlen(ok), -1, &r);
    assert_int_equal(r.outcome, CHW_SENT);
    assert_string_equal(r.provider_id, "wamid.X1");
    long retry[] = {130429, 80007, 4, 131000, 131016, 1, 2};
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++) {
        s_err(w, "t", 400, retry[i], &r);
        assert_int_equal(r.outcome, CHW_RETRY);
        assert_int_equal(r.min_retry_ms, 0);
    }
    s_err(w, "t", 400, 131056, &r);
    assert_int_equal(r.outcome, CHW_RETRY);
    assert_int_equal(r.min_retry_ms, 6000);
    assert_string_equal(r.provider_code, "131056");
    s_err(w, "", 400, 131047, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_non_null(strstr(r.detail, "needs-template"));
    s_err(w, "t", 400, 131026, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_true(r.flags & CHW_RESULT_FALLBACK);
    s_err(w, "t", 400, 131049, &r);
    s_err(w, "t", 400, 131049, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_false(r.flags & CHW_RESULT_FALLBACK);
    assert_non_null(strstr(r.detail, "2 so far"));
    s_err(w, "t", 400, 131048, &r);
    uint64_t n49, n48;
    wa_cloud_template_quality(w, "t", &n49, &n48);
    assert_int_equal(n49, 2);
    assert_int_equal(n48, 1);
    assert_false(wa_cloud_template_halted(w, "t"));
    s_err(w, "bad_tpl", 400, 132001, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_true(wa_cloud_template_halted(w, "bad_tpl"));
    assert_false(wa_cloud_template_halted(w, "t"));
    s_err(w, "t", 400, 132000, &r);
    assert_true(wa_cloud_template_halted(w, "t"));
    long halt[] = {190, 10, 368};
    for (size_t i = 0; i < 3; i++) {
        s_err(w, "x", 400, halt[i], &r);
        assert_int_equal(r.outcome, CHW_CONFIG_ERROR);
        const char *hint = wa_cloud_halt_hint(&r);
        assert_non_null(strstr(hint, "restart"));
    }
    assert_non_null(strstr(wa_cloud_halt_hint(&r), "WhatsApp Manager"));
    wa_cloud_classify(w, "x", 503, "", 0, 7, &r);
    assert_int_equal(r.outcome, CHW_RETRY);
    assert_int_equal(r.min_retry_ms, 7000);
    s_err(w, "x", 400, 100, &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    wa_cloud_destroy(&w);
    assert_null(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_body),
        cmocka_unit_test(test_text_and_window),
        cmocka_unit_test(test_job_ref),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

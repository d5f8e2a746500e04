/* test_template.c — cmocka tests of brk_template: the shipped catalog, admission checks per
 * channel, the content rendered for every channel and its limits, HTML escaping, and the
 * loader's strictness and error positions.
 *
 * The module's three .c files are included directly (the test also links pg_broker for
 * brk_validate and the generated protobuf code). The shipped catalog is read from
 * PG_SOURCE_DIR/deploy/templates.yaml; error cases are written to a temporary folder. The last test
 * feeds every prefix of the shipped catalog to the loader: it must never crash or leak and always
 * answer with a catalog or one "PATH:LINE:COL:" line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../broker/brk_template.c"
#include "../../broker/brk_tpl_keys.c"
#include "../../broker/brk_tpl_render.c"

#ifndef PG_SOURCE_DIR
#define PG_SOURCE_DIR "."
#endif

#define CATALOG PG_SOURCE_DIR "/deploy/templates.yaml"

static char s_tmpdir[64];

/* ---------------------------------------------------------------------------------------------
 * Helpers */

static brk_tpl_catalog_t *s_load_ok(const char *path) {
    char err[512] = "";
    brk_tpl_catalog_t *c = brk_tpl_load(path, err, sizeof err);
    if (!c) {
        fail_msg("%s did not load: %s", path, err);
    }
    return c;
}

static const char *s_write(const char *name, const char *text, char *out, size_t out_len) {
    snprintf(out, out_len, "%s/%s.yaml", s_tmpdir, name);
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    return out;
}

/* Loads `text` expecting failure; checks the error starts "PATH:LINE:COL: " and contains `what`. */
static void s_expect_error(const char *text, int line, int col, const char *what) {
    char path[128], err[512] = "", want[192];
    s_write("bad", text, path, sizeof path);
    brk_tpl_catalog_t *c = brk_tpl_load(path, err, sizeof err);
    if (c) {
        brk_tpl_destroy(&c);
        fail_msg("loaded, expected an error at %d:%d (%s):\n%s", line, col, what, text);
    }
    snprintf(want, sizeof want, "%s:%d:%d: ", path, line, col);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what)) {
        fail_msg("expected \"%s...%s\", got \"%s\"", want, what, err);
    }
    assert_null(strchr(err, '\n'));
}

/* A one-template catalog around a body (double-quoted, on line 4, value from column 12). */
static void s_expect_body_error(const char *body, int col, const char *what) {
    char text[4096];
    snprintf(text, sizeof text, "templates:\n  - id: t\n    channels: [sms]\n    body: \"%s\"\n",
             body);
    s_expect_error(text, 4, col, what);
}

static char *s_repeat(const char *unit, size_t n) {
    size_t len = strlen(unit);
    char *s = malloc(len * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + i * len, unit, len);
    }
    s[len * n] = '\0';
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * The shipped catalog */

static void test_shipped_catalog(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    assert_true(brk_tpl_count(c) >= 6);
    int served[S_CH_COUNT] = {0};
    for (size_t i = 0; i < brk_tpl_count(c); i++) {
        const brk_tpl_t *t = brk_tpl_at(c, i);
        assert_ptr_equal(brk_tpl_get(c, brk_tpl_id(t)), t);
        if (i > 0) {
            assert_true(strcmp(brk_tpl_id(brk_tpl_at(c, i - 1)), brk_tpl_id(t)) < 0);
        }
        for (int ch = 1; ch < S_CH_COUNT; ch++) {
            served[ch] += brk_tpl_has_channel(t, ch);
        }
        assert_int_equal(brk_tpl_has_subject(t), brk_tpl_has_channel(t, S_EMAIL));
        /* every text message carries an opt-out line */
        if (brk_tpl_has_channel(t, S_SMS) || brk_tpl_has_channel(t, S_WHATSAPP) ||
            brk_tpl_has_channel(t, S_MESSENGER)) {
            assert_non_null(strstr(t->body.text, "STOP para no recibir más mensajes"));
        }
        assert_non_null(brk_tpl_language(t));
    }
    for (int ch = 1; ch < S_CH_COUNT; ch++) {
        assert_true(served[ch] > 0);
    }
    assert_null(brk_tpl_at(c, brk_tpl_count(c)));
    assert_null(brk_tpl_get(c, "no_such_template"));
    assert_null(brk_tpl_get(c, NULL));
    assert_null(brk_tpl_get(NULL, "recordatorio_pago"));

    const brk_tpl_t *t = brk_tpl_get(c, "recordatorio_pago");
    assert_non_null(t);
    assert_string_equal(brk_tpl_whatsapp_name(t), "recordatorio_pago");
    assert_string_equal(brk_tpl_whatsapp_language(t), "es_MX");
    const char *const *names = NULL;
    assert_int_equal(brk_tpl_vars(t, &names), 6);
    const char *order[] = {"nombre", "monto", "producto", "fecha", "enlace", "referencia"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(names[i], order[i]);
    }
    assert_int_equal(t->n_wa_body, 4);
    assert_int_equal(t->n_wa_header, 1);
    assert_int_equal(t->n_wa_button, 1);
    /* without whatsapp_body_params: the body's variables, in order */
    t = brk_tpl_get(c, "acuerdo_pago_confirmado");
    assert_int_equal(t->n_wa_body, 5);
    assert_string_equal(t->wa_body[1].text, "{{acreedor}}");

    t = brk_tpl_get(c, "aviso_mora_email");
    assert_non_null(t);
    assert_true(brk_tpl_has_subject(t));
    assert_non_null(t->html.text);
    assert_null(brk_tpl_whatsapp_name(t));

    t = brk_tpl_get(c, "llamada_ivr");
    assert_non_null(t);
    assert_string_equal(brk_tpl_voice(t), "Polly.Mia");
    assert_int_equal(t->n_digits, 4);
    assert_int_equal(t->gather_timeout_s, 6);
    assert_true(brk_tpl_has_channel(t, S_VOICE));
    assert_false(brk_tpl_has_channel(t, S_SMS));
    assert_false(brk_tpl_has_channel(t, 0));
    assert_false(brk_tpl_has_channel(t, 99));
    assert_false(brk_tpl_has_channel(t, -1));
    brk_tpl_destroy(&c);
    assert_null(c);
    brk_tpl_destroy(&c);
    brk_tpl_destroy(NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Check and render */

static const char *const s_keys[] = {"nombre", "monto", "producto", "fecha", "enlace", "extra"};
static const char *const s_vals[] = {"Ana María", "$120.000",       "Tarjeta Oro",
                                     "15/07",     "https://p.co/x", "ignored"};

static void test_check(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    const brk_tpl_t *t = brk_tpl_get(c, "recordatorio_pago");
    const char *missing = "unchanged";

    assert_int_equal(brk_tpl_check(t, S_SMS, s_keys, 6, &missing), BRK_TPL_OK);
    assert_null(missing);
    assert_int_equal(brk_tpl_check(t, S_SMS, s_keys, 5, NULL), BRK_TPL_OK);

    /* missing variable: the first in order of appearance is named */
    const char *const some[] = {"nombre", "fecha", "enlace"};
    assert_int_equal(brk_tpl_check(t, S_SMS, some, 3, &missing), BRK_TPL_E_VARIABLES);
    assert_string_equal(missing, "monto");
    assert_string_equal(brk_tpl_reason(BRK_TPL_E_VARIABLES), "template-variables");
    assert_int_equal(brk_tpl_check(t, S_SMS, NULL, 0, &missing), BRK_TPL_E_VARIABLES);
    assert_string_equal(missing, "nombre");
    const char *const case_differs[] = {"Nombre", "monto", "producto", "fecha", "enlace"};
    assert_int_equal(brk_tpl_check(t, S_SMS, case_differs, 5, &missing), BRK_TPL_E_VARIABLES);
    assert_string_equal(missing, "nombre");

    /* wrong channel wins over missing variables */
    assert_int_equal(brk_tpl_check(t, S_EMAIL, NULL, 0, &missing), BRK_TPL_E_CHANNEL);
    assert_null(missing);
    assert_string_equal(brk_tpl_reason(BRK_TPL_E_CHANNEL), "template-channel");
    assert_int_equal(brk_tpl_check(t, 0, s_keys, 6, NULL), BRK_TPL_E_CHANNEL);
    assert_int_equal(brk_tpl_check(t, 42, s_keys, 6, NULL), BRK_TPL_E_CHANNEL);

    /* unknown template */
    assert_int_equal(brk_tpl_check(brk_tpl_get(c, "nope"), S_SMS, s_keys, 6, &missing),
                     BRK_TPL_E_UNKNOWN);
    assert_string_equal(brk_tpl_reason(BRK_TPL_E_UNKNOWN), "template-unknown");
    assert_null(brk_tpl_reason(BRK_TPL_OK));

    /* the email template needs its subject's variables too */
    t = brk_tpl_get(c, "aviso_mora_email");
    const char *const *names = NULL;
    size_t n = brk_tpl_vars(t, &names);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(brk_tpl_check(t, S_EMAIL, names, n, NULL), BRK_TPL_OK);
        const char *fewer[BRK_TPL_MAX_VARS];
        size_t k = 0;
        for (size_t j = 0; j < n; j++) {
            if (j != i) {
                fewer[k++] = names[j];
            }
        }
        assert_int_equal(brk_tpl_check(t, S_EMAIL, fewer, k, &missing), BRK_TPL_E_VARIABLES);
        assert_string_equal(missing, names[i]);
    }
    brk_tpl_destroy(&c);
}

/* A variable only one channel's content uses is asked of that channel's jobs only. */
static void test_check_per_channel(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    const brk_tpl_t *t = brk_tpl_get(c, "recordatorio_pago");
    const char *missing = NULL;
    /* "referencia" fills the WhatsApp URL button only */
    assert_int_equal(brk_tpl_check(t, S_SMS, s_keys, 5, &missing), BRK_TPL_OK);
    assert_int_equal(brk_tpl_check(t, S_WHATSAPP, s_keys, 5, &missing), BRK_TPL_E_VARIABLES);
    assert_string_equal(missing, "referencia");
    /* "telefono" is only in the voicemail */
    t = brk_tpl_get(c, "llamada_ivr");
    const char *const vk[] = {"nombre", "acreedor", "monto", "producto"};
    assert_int_equal(brk_tpl_check(t, S_VOICE, vk, 4, &missing), BRK_TPL_E_VARIABLES);
    assert_string_equal(missing, "telefono");
    brk_tpl_destroy(&c);
}

/* ---------------------------------------------------------------------------------------------
 * Rendering, channel by channel */

/* Renders expecting success. */
static Pregon__Content *s_content(const brk_tpl_t *t, int channel, const char *const *keys,
                                  const char *const *vals, size_t n) {
    Pregon__Content *out = NULL;
    const char *why = NULL;
    if (brk_tpl_render_content(t, channel, keys, vals, n, &out, &why) != 0) {
        fail_msg("render of %s on channel %d failed: %s", t ? brk_tpl_id(t) : "(null)", channel,
                 why);
    }
    assert_non_null(out);
    return out;
}

/* Renders expecting failure with reason `want`. */
static void s_content_fails(const brk_tpl_t *t, int channel, const char *const *keys,
                            const char *const *vals, size_t n, const char *want) {
    Pregon__Content *out = (Pregon__Content *)&out; /* must come back NULL */
    const char *why = NULL;
    int rc = brk_tpl_render_content(t, channel, keys, vals, n, &out, &why);
    if (rc != -1 || out != NULL || !why || strcmp(why, want) != 0) {
        fail_msg("expected %s, got rc %d why %s", want, rc, why ? why : "(null)");
    }
}

/* Packs c and unpacks it again: what the worker receives is what was rendered. */
static void s_roundtrip(const Pregon__Content *c) {
    size_t len = pregon__content__get_packed_size(c);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(pregon__content__pack(c, buf), len);
    Pregon__Content *back = pregon__content__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->body_case, c->body_case);
    assert_int_equal(pregon__content__get_packed_size(back), len);
    pregon__content__free_unpacked(back, NULL);
    free(buf);
}

static void test_render_text(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    const brk_tpl_t *t = brk_tpl_get(c, "recordatorio_pago");
    const char *want = "Hola Ana María, le recordamos que su pago de $120.000 de Tarjeta Oro "
                       "vence el 15/07. Puede pagar en https://p.co/x. Responda STOP para no "
                       "recibir más mensajes.";
    Pregon__Content *out = s_content(t, S_SMS, s_keys, s_vals, 6);
    assert_int_equal(out->body_case, PREGON__CONTENT__BODY_TEXT);
    assert_string_equal(out->text->text, want);
    s_roundtrip(out);
    brk_tpl_content_free(&out);
    assert_null(out);
    brk_tpl_content_free(&out);
    brk_tpl_content_free(NULL);

    /* messenger, and whatsapp without an approved template: text too */
    t = brk_tpl_get(c, "recordatorio_messenger");
    out = s_content(t, S_MESSENGER, s_keys, s_vals, 6);
    assert_int_equal(out->body_case, PREGON__CONTENT__BODY_TEXT);
    assert_true(strncmp(out->text->text, "Hola Ana María, gracias", 23) == 0);
    brk_tpl_content_free(&out);
    char path[128];
    brk_tpl_catalog_t *f = s_load_ok(s_write("free",
                                             "templates:\n  - {id: f, channels: whatsapp, "
                                             "body: \"Hola {{nombre}}\"}\n",
                                             path, sizeof path));
    out = s_content(brk_tpl_get(f, "f"), S_WHATSAPP, s_keys, s_vals, 1);
    assert_int_equal(out->body_case, PREGON__CONTENT__BODY_TEXT);
    assert_string_equal(out->text->text, "Hola Ana María");
    brk_tpl_content_free(&out);
    brk_tpl_destroy(&f);

    /* missing variable, unknown template, wrong channel */
    t = brk_tpl_get(c, "recordatorio_pago");
    s_content_fails(t, S_SMS, s_keys, s_vals, 2, "template-variables");
    s_content_fails(t, S_SMS, NULL, NULL, 0, "template-variables");
    s_content_fails(NULL, S_SMS, s_keys, s_vals, 6, "template-unknown");
    s_content_fails(t, S_EMAIL, s_keys, s_vals, 6, "template-channel");
    s_content_fails(t, 0, s_keys, s_vals, 6, "template-channel");
    s_content_fails(t, 77, s_keys, s_vals, 6, "template-channel");
    assert_int_equal(brk_tpl_render_content(t, S_SMS, s_keys, s_vals, 2, &out, NULL), -1);

    /* values are verbatim outside HTML, and a value is never parsed as a template */
    const char *const tricky[] = {"{{monto}} <b>&amp;", "1", "p", "f", "e"};
    out = s_content(t, S_SMS, s_keys, tricky, 5);
    assert_non_null(strstr(out->text->text, "Hola {{monto}} <b>&amp;, le"));
    brk_tpl_content_free(&out);

    /* the first of duplicate keys wins */
    const char *const dup_keys[] = {"nombre", "nombre", "monto", "producto", "fecha", "enlace"};
    const char *const dup_vals[] = {"Uno", "Dos", "1", "p", "f", "e"};
    out = s_content(t, S_SMS, dup_keys, dup_vals, 6);
    assert_true(strncmp(out->text->text, "Hola Uno,", 9) == 0);
    brk_tpl_content_free(&out);
    brk_tpl_destroy(&c);
}

static const char *const s_ek[] = {"nombre", "acreedor", "producto", "monto",
                                   "fecha",  "enlace",   "telefono"};

static void test_render_email(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    const brk_tpl_t *t = brk_tpl_get(c, "aviso_mora_email");
    const char *const ev[] = {"Luis", "Banco X", "Crédito Libre", "$1", "1/8", "u", "601"};
    Pregon__Content *out = s_content(t, S_EMAIL, s_ek, ev, 7);
    assert_int_equal(out->body_case, PREGON__CONTENT__BODY_EMAIL);
    assert_string_equal(out->email->subject, "Aviso de saldo pendiente — Crédito Libre");
    assert_true(strncmp(out->email->text, "Estimado(a) Luis:\n\nLe escribimos de parte de Banco X.",
                        52) == 0);
    assert_non_null(strstr(out->email->html, "<p>Estimado(a) Luis:</p>"));
    assert_non_null(strstr(out->email->html, "<a href=\"u\">pagar en línea</a>"));
    s_roundtrip(out);
    brk_tpl_content_free(&out);

    /* HTML: values are escaped, the template's own markup is not; the text part stays verbatim */
    const char *const hv[] = {"<script>alert('x')</script>",     "A & B \"SA\"", "p", "$1", "1/8",
                              "https://p.co/?a=1&b=\"><script>", "601"};
    out = s_content(t, S_EMAIL, s_ek, hv, 7);
    const char *html = out->email->html;
    assert_null(strstr(html, "<script>"));
    assert_non_null(
        strstr(html, "<p>Estimado(a) &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;:"));
    assert_non_null(strstr(html, "<strong>A &amp; B &quot;SA&quot;</strong>"));
    assert_non_null(strstr(html, "href=\"https://p.co/?a=1&amp;b=&quot;&gt;&lt;script&gt;\""));
    assert_non_null(strstr(out->email->text, "Estimado(a) <script>alert('x')</script>:"));
    brk_tpl_content_free(&out);

    /* a line break in the subject would be header injection; the body takes line breaks */
    const char *const inj[] = {"Luis", "Banco X", "X\r\nBcc: a@b.co", "$1", "1/8", "u", "601"};
    s_content_fails(t, S_EMAIL, s_ek, inj, 7, "template-subject");
    const char *const nl[] = {"Luis", "Banco X", "X\nY", "$1", "1/8", "u", "601"};
    s_content_fails(t, S_EMAIL, s_ek, nl, 7, "template-subject");
    const char *const nl2[] = {"Luis\nPérez", "Banco X", "X", "$1", "1/8", "u", "601"};
    out = s_content(t, S_EMAIL, s_ek, nl2, 7);
    brk_tpl_content_free(&out);
    /* every e-mail variable is needed, the HTML's too */
    s_content_fails(t, S_EMAIL, s_ek, ev, 6, "template-variables");

    /* without html: "" */
    char path[128];
    brk_tpl_catalog_t *e =
        s_load_ok(s_write("plain",
                          "templates:\n  - {id: e, channels: email, subject: \"S {{a}}\", "
                          "body: \"B {{a}}\"}\n  - {id: h, channels: email, subject: s, body: b, "
                          "html: \"<i>{{x}}</i>\"}\n",
                          path, sizeof path));
    const char *const ak[] = {"a", "x"};
    const char *const av[] = {"1", "\"'&<>"};
    out = s_content(brk_tpl_get(e, "e"), S_EMAIL, ak, av, 1);
    assert_string_equal(out->email->subject, "S 1");
    assert_string_equal(out->email->text, "B 1");
    assert_string_equal(out->email->html, "");
    brk_tpl_content_free(&out);
    out = s_content(brk_tpl_get(e, "h"), S_EMAIL, ak, av, 2);
    assert_string_equal(out->email->html, "<i>&quot;&#39;&amp;&lt;&gt;</i>");
    brk_tpl_content_free(&out);
    brk_tpl_destroy(&e);
    brk_tpl_destroy(&c);
}

static void test_render_whatsapp(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    const brk_tpl_t *t = brk_tpl_get(c, "recordatorio_pago");
    const char *const k[] = {"nombre", "monto", "producto", "fecha", "enlace", "referencia"};
    const char *const v[] = {"Ana", "$120", "Tarjeta Oro", "15/07", "https://p.co/x", "ref/123"};
    Pregon__Content *out = s_content(t, S_WHATSAPP, k, v, 6);
    assert_int_equal(out->body_case, PREGON__CONTENT__BODY_WHATSAPP);
    const Pregon__WhatsAppTemplate *w = out->whatsapp;
    assert_string_equal(w->name, "recordatorio_pago");
    assert_string_equal(w->language, "es_MX");
    assert_int_equal(w->n_body_params, 4);
    const char *const body[] = {"Ana", "$120", "Tarjeta Oro", "15/07"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(w->body_params[i], body[i]);
    }
    assert_int_equal(w->n_header_params, 1);
    assert_string_equal(w->header_params[0], "Tarjeta Oro");
    assert_int_equal(w->n_button_params, 1);
    assert_string_equal(w->button_params[0], "ref/123");
    assert_true(strncmp(w->text, "Hola Ana, le recordamos", 23) == 0);
    s_roundtrip(out);
    brk_tpl_content_free(&out);

    /* parameters are texts with placeholders; an empty list is no parameter */
    char path[128];
    brk_tpl_catalog_t *p =
        s_load_ok(s_write("wa",
                          "templates:\n  - id: w\n    channels: [whatsapp]\n    body: \"B {{a}}\"\n"
                          "    whatsapp_template: w\n    whatsapp_language: es\n"
                          "    whatsapp_body_params: [\"Sr. {{a}} {{b}}\", \"{{b}}\"]\n"
                          "  - {id: n, channels: [whatsapp, sms], body: x, whatsapp_template: n,"
                          " whatsapp_language: es, whatsapp_body_params: []}\n",
                          path, sizeof path));
    const char *const ab[] = {"a", "b"};
    const char *const ok[] = {"1", "dos  tres"};
    out = s_content(brk_tpl_get(p, "w"), S_WHATSAPP, ab, ok, 2);
    assert_int_equal(out->whatsapp->n_body_params, 2);
    assert_string_equal(out->whatsapp->body_params[0], "Sr. 1 dos  tres");
    assert_string_equal(out->whatsapp->body_params[1], "dos  tres");
    assert_int_equal(out->whatsapp->n_header_params, 0);
    brk_tpl_content_free(&out);
    out = s_content(brk_tpl_get(p, "n"), S_WHATSAPP, NULL, NULL, 0);
    assert_int_equal(out->whatsapp->n_body_params, 0);
    assert_string_equal(out->whatsapp->text, "x");
    brk_tpl_content_free(&out);
    /* the same template on sms is text */
    out = s_content(brk_tpl_get(p, "n"), S_SMS, NULL, NULL, 0);
    assert_int_equal(out->body_case, PREGON__CONTENT__BODY_TEXT);
    brk_tpl_content_free(&out);

    /* what the Cloud API refuses in a parameter: empty, line breaks, tabs, 5 spaces */
    const char *const bad[][2] = {
        {"1", ""}, {"1", "a\nb"}, {"1", "a\tb"}, {"1", "a     b"}, {"1  ", "   b"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_content_fails(brk_tpl_get(p, "w"), S_WHATSAPP, ab, bad[i], 2, "template-param-invalid");
    }
    /* a line break in the body is fine: the text takes it */
    const char *const nl[] = {"a\nb", "2"};
    char ppath[128];
    brk_tpl_catalog_t *q = s_load_ok(s_write("wa2",
                                             "templates:\n  - {id: w, channels: whatsapp, body: "
                                             "\"{{a}}\", whatsapp_template: w, "
                                             "whatsapp_language: es, whatsapp_body_params: "
                                             "[\"{{b}}\"]}\n",
                                             ppath, sizeof ppath));
    out = s_content(brk_tpl_get(q, "w"), S_WHATSAPP, ab, nl, 2);
    assert_string_equal(out->whatsapp->text, "a\nb");
    brk_tpl_content_free(&out);
    brk_tpl_destroy(&q);
    brk_tpl_destroy(&p);
    brk_tpl_destroy(&c);
}

static void test_render_voice(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    const brk_tpl_t *t = brk_tpl_get(c, "llamada_ivr");
    const char *const k[] = {"nombre", "acreedor", "monto", "producto", "telefono"};
    const char *const v[] = {"Ana", "Banco <X>", "$1", "tarjeta", "800 123"};
    Pregon__Content *out = s_content(t, S_VOICE, k, v, 5);
    assert_int_equal(out->body_case, PREGON__CONTENT__BODY_VOICE);
    const Pregon__VoiceScript *s = out->voice;
    assert_true(strncmp(s->speech, "Hola Ana. Le llamamos de Banco <X> por", 38) == 0);
    assert_string_equal(s->voice, "Polly.Mia");
    assert_string_equal(s->language, "es-MX");
    assert_int_equal(s->gather_timeout_s, 6);
    assert_string_equal(s->voicemail,
                        "Este es un mensaje de Banco <X> para Ana. Por favor llámenos al 800 "
                        "123. Gracias.");
    assert_int_equal(s->n_digits, 4);
    const char *const digit[] = {"1", "2", "3", "9"};
    const char *const action[] = {"transfer", "repeat", "promise", "opt-out"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(s->digits[i]->digit, digit[i]);
        assert_string_equal(s->digits[i]->action, action[i]);
    }
    assert_string_equal(s->digits[0]->target, "+525555555000");
    assert_string_equal(s->digits[0]->say, "Le comunicamos con un asesor.");
    assert_string_equal(s->digits[1]->target, "");
    assert_string_equal(s->digits[1]->say, "");
    s_roundtrip(out);
    brk_tpl_content_free(&out);

    /* the smallest voice template: speech only, every other field empty or 0 */
    char path[128];
    brk_tpl_catalog_t *m = s_load_ok(s_write(
        "voice",
        "templates:\n  - {id: v, channels: voice, body: \"Hola {{a}}\"}\n"
        "  - id: w\n    channels: voice\n    body: b\n    digits:\n"
        "      \"*\": {action: hangup, say: \"Adiós {{a}}\"}\n"
        "      \"#\": {action: transfer, target: \"sip:agente@pbx.example.co;transport=tls\"}\n"
        "      0: {action: repeat}\n",
        path, sizeof path));
    const char *const ak[] = {"a"};
    const char *const av[] = {"Ana"};
    out = s_content(brk_tpl_get(m, "v"), S_VOICE, ak, av, 1);
    assert_string_equal(out->voice->speech, "Hola Ana");
    assert_string_equal(out->voice->voice, "");
    assert_string_equal(out->voice->language, "");
    assert_string_equal(out->voice->voicemail, "");
    assert_int_equal(out->voice->n_digits, 0);
    assert_int_equal(out->voice->gather_timeout_s, 0);
    brk_tpl_content_free(&out);
    /* a variable used only in a digit's say is needed */
    s_content_fails(brk_tpl_get(m, "w"), S_VOICE, NULL, NULL, 0, "template-variables");
    out = s_content(brk_tpl_get(m, "w"), S_VOICE, ak, av, 1);
    assert_int_equal(out->voice->n_digits, 3);
    assert_string_equal(out->voice->digits[0]->digit, "*");
    assert_string_equal(out->voice->digits[0]->say, "Adiós Ana");
    assert_string_equal(out->voice->digits[1]->target, "sip:agente@pbx.example.co;transport=tls");
    assert_string_equal(out->voice->digits[2]->digit, "0");
    brk_tpl_content_free(&out);
    brk_tpl_destroy(&m);
    brk_tpl_destroy(&c);
}

/* Limits of each field: code points for SMS, Messenger, WhatsApp; bytes for the rest. */
static void test_render_limits(void **state) {
    (void)state;
    char path[128];
    s_write(
        "limits",
        "templates:\n"
        "  - {id: s, channels: sms, body: \"{{x}}\"}\n"
        "  - {id: v, channels: [voice], body: \"{{x}}\"}\n"
        "  - {id: m, channels: [messenger], body: \"{{x}}\"}\n"
        "  - {id: w, channels: [whatsapp], body: \"{{x}}\"}\n"
        "  - {id: e, channels: [email], subject: \"{{y}}\", body: \"{{x}}\"}\n"
        "  - {id: h, channels: [email], subject: s, body: b, html: \"{{x}}\"}\n"
        "  - {id: sv, channels: [voice, sms], body: \"ab{{x}}\"}\n"
        "  - {id: vm, channels: voice, body: b, voicemail: \"{{x}}\"}\n"
        "  - {id: ds, channels: voice, body: b, digits: {1: {action: repeat, say: \"{{x}}\"}}}\n",
        path, sizeof path);
    brk_tpl_catalog_t *c = s_load_ok(path);
    const char *const k[] = {"x", "y"};
    struct {
        const char *id;
        int channel;
        const char *unit;
        size_t n;
        const char *why; /* NULL: renders */
    } cases[] = {
        {"s", S_SMS, "ñ", 1600, NULL},
        {"s", S_SMS, "ñ", 1601, "template-too-long"},
        {"s", S_SMS, "a", 1600, NULL},
        {"s", S_SMS, "a", 1601, "template-too-long"},
        {"s", S_SMS, "😀", 1600, NULL},
        {"s", S_SMS, "a", 100000, "template-too-long"},
        {"v", S_VOICE, "a", 4096, NULL},
        {"v", S_VOICE, "a", 4097, "template-too-long"},
        {"v", S_VOICE, "ñ", 2048, NULL},
        {"v", S_VOICE, "ñ", 2049, "template-too-long"},
        {"m", S_MESSENGER, "a", 2000, NULL},
        {"m", S_MESSENGER, "ñ", 2001, "template-too-long"},
        {"w", S_WHATSAPP, "😀", 4096, NULL},
        {"w", S_WHATSAPP, "a", 4097, "template-too-long"},
        {"e", S_EMAIL, "a", 4096, NULL},
        {"e", S_EMAIL, "a", 4097, "template-too-long"},
        {"h", S_EMAIL, "a", 65536, NULL},
        {"h", S_EMAIL, "a", 65537, "template-html-too-long"},
        {"h", S_EMAIL, "<", 16384, NULL}, /* 4 bytes once escaped */
        {"h", S_EMAIL, "<", 16385, "template-html-too-long"},
        {"h", S_EMAIL, "\"", 10922, NULL}, /* 6 bytes */
        {"h", S_EMAIL, "\"", 10923, "template-html-too-long"},
        /* one body, each job checked against its own channel's limit */
        {"sv", S_SMS, "ñ", 1598, NULL},
        {"sv", S_SMS, "ñ", 1599, "template-too-long"},
        {"sv", S_VOICE, "ñ", 2047, NULL},
        {"sv", S_VOICE, "ñ", 2048, "template-too-long"},
        {"vm", S_VOICE, "a", 4096, NULL},
        {"vm", S_VOICE, "a", 4097, "template-voicemail-too-long"},
        {"ds", S_VOICE, "a", 1024, NULL},
        {"ds", S_VOICE, "a", 1025, "template-say-too-long"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *v = s_repeat(cases[i].unit, cases[i].n);
        const char *vals[] = {v, "subject"};
        Pregon__Content *out = NULL;
        const char *why = NULL;
        int rc = brk_tpl_render_content(brk_tpl_get(c, cases[i].id), cases[i].channel, k, vals, 2,
                                        &out, &why);
        if (cases[i].why ? (rc != -1 || !why || strcmp(why, cases[i].why) != 0) : rc != 0) {
            fail_msg("case %zu (%s, %zu x \"%s\"): rc %d, %s", i, cases[i].id, cases[i].n,
                     cases[i].unit, rc, why ? why : "-");
        }
        if (rc == 0) {
            s_roundtrip(out);
            brk_tpl_content_free(&out);
        } else {
            assert_null(out);
        }
        free(v);
    }
    /* subject: at most 998 bytes */
    const brk_tpl_t *e = brk_tpl_get(c, "e");
    char *v = s_repeat("a", 998);
    const char *vals[] = {"x", v};
    Pregon__Content *out = s_content(e, S_EMAIL, k, vals, 2);
    brk_tpl_content_free(&out);
    free(v);
    v = s_repeat("a", 999);
    vals[1] = v;
    s_content_fails(e, S_EMAIL, k, vals, 2, "template-subject-too-long");
    free(v);
    brk_tpl_destroy(&c);
}

/* WhatsApp parameters: body 1024, header 60, button 2000 code points. */
static void test_render_param_limits(void **state) {
    (void)state;
    char path[128];
    s_write("params",
            "templates:\n  - id: w\n    channels: [whatsapp]\n    body: b\n"
            "    whatsapp_template: w\n    whatsapp_language: es\n"
            "    whatsapp_body_params: [\"{{b}}\"]\n"
            "    whatsapp_header_params: [\"{{h}}\"]\n"
            "    whatsapp_button_params: [\"x\", \"{{u}}\"]\n",
            path, sizeof path);
    brk_tpl_catalog_t *c = s_load_ok(path);
    const brk_tpl_t *t = brk_tpl_get(c, "w");
    const char *const k[] = {"b", "h", "u"};
    struct {
        int which; /* index in k */
        size_t n;
        int ok;
    } cases[] = {{0, 1024, 1}, {0, 1025, 0}, {1, 60, 1},   {1, 61, 0},
                 {2, 2000, 1}, {2, 2001, 0}, {0, 4097, 0}, {2, 8001, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int emoji = 0; emoji < 2; emoji++) {
            char *v = s_repeat(emoji ? "😀" : "a", cases[i].n);
            const char *vals[] = {"b", "h", "u"};
            vals[cases[i].which] = v;
            Pregon__Content *out = NULL;
            const char *why = NULL;
            int rc = brk_tpl_render_content(t, S_WHATSAPP, k, vals, 3, &out, &why);
            if (cases[i].ok ? rc != 0 : (rc != -1 || strcmp(why, "template-param-too-long"))) {
                fail_msg("case %zu emoji %d: rc %d %s", i, emoji, rc, why ? why : "-");
            }
            if (rc == 0) {
                assert_int_equal(out->whatsapp->n_button_params, 2);
                assert_string_equal(out->whatsapp->button_params[0], "x");
                brk_tpl_content_free(&out);
            }
            free(v);
        }
    }
    brk_tpl_destroy(&c);
}

/* The keys of each channel's content: where they may appear and what they take. */
static void test_bad_channel_keys(void **state) {
    (void)state;
    /* keys of another channel */
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x, html: y}\n", 2, 37,
                   "\"html\" is only for templates that serve email");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x, voice: Polly.Mia}\n", 2, 37,
                   "\"voice\" is only for templates that serve voice");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x, digits: {}}\n", 2, 37,
                   "\"digits\" is only for templates that serve voice");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x, voicemail: y}\n", 2, 37,
                   "\"voicemail\" is only for templates that serve voice");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x, gather_timeout_s: 5}\n", 2, 37,
                   "\"gather_timeout_s\" is only for templates that serve voice");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x, whatsapp_body_params: []}\n", 2,
                   37, "\"whatsapp_body_params\" is only for templates that serve whatsapp");
    s_expect_error(
        "templates:\n  - {id: a, channels: whatsapp, body: x, whatsapp_header_params: [y]}\n", 2,
        42, "\"whatsapp_header_params\" is only for entries with \"whatsapp_template\"");
    /* WhatsApp parameters */
    const char *wa = "templates:\n  - id: a\n    channels: whatsapp\n    body: x\n"
                     "    whatsapp_template: a\n    whatsapp_language: es\n";
    char text[4096];
    snprintf(text, sizeof text, "%s    whatsapp_body_params: \"{{x}}\"\n", wa);
    s_expect_error(text, 7, 27, "whatsapp_body_params must be a list, found a scalar");
    snprintf(text, sizeof text, "%s    whatsapp_header_params: [a, b]\n", wa);
    s_expect_error(text, 7, 29, "whatsapp_header_params has 2 entries (at most 1)");
    snprintf(text, sizeof text, "%s    whatsapp_button_params: [a, b, c]\n", wa);
    s_expect_error(text, 7, 29, "whatsapp_button_params has 3 entries (at most 2)");
    snprintf(text, sizeof text, "%s    whatsapp_body_params: [a, \"b\\nc\"]\n", wa);
    s_expect_error(text, 7, 31, "whatsapp_body_params contains a control character");
    snprintf(text, sizeof text, "%s    whatsapp_body_params: [\"a     b\"]\n", wa);
    s_expect_error(text, 7, 28, "more than 4 consecutive spaces");
    snprintf(text, sizeof text, "%s    whatsapp_body_params: [\"{{x}\"]\n", wa);
    s_expect_error(text, 7, 29, "whatsapp_body_params: unterminated placeholder");
    snprintf(text, sizeof text, "%s    whatsapp_header_params: [\"%s\"]\n", wa,
             "0123456789012345678901234567890123456789012345678901234567890");
    s_expect_error(text, 7, 30, "has 61 characters without its variables, past its limit of 60");
    /* more body variables than WhatsApp body parameters, without a list */
    char many[2048];
    int n = snprintf(many, sizeof many,
                     "templates:\n  - {id: a, channels: whatsapp, whatsapp_template: a, "
                     "whatsapp_language: es, body: \"");
    for (int i = 0; i < 33; i++) {
        n += snprintf(many + n, sizeof many - (size_t)n, "{{v%d}}", i);
    }
    snprintf(many + n, sizeof many - (size_t)n, "\"}\n");
    s_expect_error(many, 2, 33, "the body has 33 variables, more than the 32");
    /* voice */
    const char *vo = "templates:\n  - id: a\n    channels: voice\n    body: x\n";
    snprintf(text, sizeof text, "%s    voice: \"Polly Mia\"\n", vo);
    s_expect_error(text, 5, 12, "voice \"Polly Mia\" is not valid");
    snprintf(text, sizeof text, "%s    gather_timeout_s: 0\n", vo);
    s_expect_error(text, 5, 23, "gather_timeout_s \"0\" is not a number of seconds 1 to 60");
    snprintf(text, sizeof text, "%s    gather_timeout_s: 61\n", vo);
    s_expect_error(text, 5, 23, "not a number of seconds");
    snprintf(text, sizeof text, "%s    gather_timeout_s: 5s\n", vo);
    s_expect_error(text, 5, 23, "not a number of seconds");
    snprintf(text, sizeof text, "%s    digits: [1, 2]\n", vo);
    s_expect_error(text, 5, 13, "digits must be a mapping, found a list");
    snprintf(text, sizeof text, "%s    digits:\n      10: {action: repeat}\n", vo);
    s_expect_error(text, 6, 7, "\"10\" is not a digit");
    snprintf(text, sizeof text,
             "%s    digits:\n      1: {action: repeat}\n      \"1\": {action: hangup}\n", vo);
    s_expect_error(text, 7, 7, "digit \"1\" is listed twice");
    snprintf(text, sizeof text, "%s    digits:\n      1: {action: dance}\n", vo);
    s_expect_error(text, 6, 19, "unknown action \"dance\"");
    snprintf(text, sizeof text, "%s    digits:\n      1: {say: hola}\n", vo);
    s_expect_error(text, 6, 10, "missing required key \"action\"");
    snprintf(text, sizeof text, "%s    digits:\n      1: {action: repeat, when: now}\n", vo);
    s_expect_error(text, 6, 27, "unknown key \"when\" in a digit's action");
    snprintf(text, sizeof text, "%s    digits:\n      1: {action: transfer}\n", vo);
    s_expect_error(text, 6, 10, "action transfer needs a \"target\"");
    snprintf(text, sizeof text,
             "%s    digits:\n      1: {action: hangup, target: \"+5215550000\"}\n", vo);
    s_expect_error(text, 6, 27, "\"target\" is only for action transfer");
    const char *bad_targets[] = {
        "5215550000", "+0215550000", "+52155", "sip:", "sip:a b", "tel:+5215550000", "sip:<x>"};
    for (size_t i = 0; i < sizeof bad_targets / sizeof bad_targets[0]; i++) {
        snprintf(text, sizeof text, "%s    digits:\n      1: {action: transfer, target: \"%s\"}\n",
                 vo, bad_targets[i]);
        s_expect_error(text, 6, 37, "is neither an E.164 number");
    }
    snprintf(text, sizeof text, "%s    voicemail: \"a\\tb\"\n", vo);
    s_expect_error(text, 5, 16, "voicemail contains a control character other than a line break");
    /* email: html takes tabs and line breaks, not other control characters */
    s_expect_error(
        "templates:\n  - {id: a, channels: email, subject: s, body: x, html: \"a\\rb\"}\n", 2, 57,
        "html contains a control character other than a line break or a tab");
    char path[128];
    brk_tpl_catalog_t *c =
        s_load_ok(s_write("tabs",
                          "templates:\n  - {id: a, channels: email, subject: s, body: x, "
                          "html: \"<p>\\ta\\n</p>\"}\n",
                          path, sizeof path));
    brk_tpl_destroy(&c);
}

/* ---------------------------------------------------------------------------------------------
 * Loader errors */

static void test_bad_placeholders(void **state) {
    (void)state;
    /* body value starts at column 12 (1-based) of line 4 */
    s_expect_body_error("Hola {{", 17, "unterminated placeholder \"{{\"");
    s_expect_body_error("Hola {{nombre", 17, "unterminated placeholder");
    s_expect_body_error("Hola {{nombre}, adios", 17, "unterminated placeholder");
    s_expect_body_error("{{a}} y {{b {{c}}", 20, "unterminated placeholder");
    s_expect_body_error("Hola {{ }}", 17, "malformed placeholder \"{{ }}\"");
    s_expect_body_error("Hola {{}}", 17, "malformed placeholder \"{{}}\"");
    s_expect_body_error("Hola {{na-me}}", 17, "malformed placeholder \"{{na-me}}\"");
    s_expect_body_error("Hola {{ nombre }}", 17, "malformed placeholder");
    s_expect_body_error("Hola {{{nombre}}}", 17, "malformed placeholder");
    s_expect_body_error("Hola {{ñ}}", 17, "malformed placeholder");
    s_expect_body_error("Hola nombre}} x", 23, "\"}}\" without a matching \"{{\"");
    s_expect_body_error("{{a}}}}", 17, "without a matching");
    /* columns count characters, as libyaml's do: "ñ" is one column */
    s_expect_body_error("Año {{x", 16, "unterminated");
    /* a 65-byte name */
    char body[128];
    snprintf(body, sizeof body, "{{%s}}",
             "a1234567890123456789012345678901234567890123456789012345678901234");
    s_expect_body_error(body, 12, "malformed placeholder");
    /* a 64-byte name is fine */
    char path[128], text[256];
    snprintf(text, sizeof text, "templates:\n  - {id: t, channels: sms, body: \"{{%s}}\"}\n",
             "a123456789012345678901234567890123456789012345678901234567890123");
    brk_tpl_catalog_t *c = s_load_ok(s_write("name64", text, path, sizeof path));
    brk_tpl_destroy(&c);

    /* inside a literal block scalar: the line and column of the braces themselves */
    s_expect_error("templates:\n"
                   "  - id: t\n"
                   "    channels: [email]\n"
                   "    subject: \"Aviso {{producto}}\"\n"
                   "    body: |\n"
                   "      Estimado {{nombre}}:\n"
                   "\n"
                   "      Su saldo {{monto} vence.\n",
                   8, 16, "body: unterminated placeholder");
    /* in the subject */
    s_expect_error("templates:\n"
                   "  - id: t\n"
                   "    channels: [email]\n"
                   "    subject: 'Aviso {{pro ducto}}'\n"
                   "    body: x\n",
                   4, 21, "subject: malformed placeholder");
    /* braces written as escapes cannot be matched to the source: the scalar's position */
    s_expect_error("templates:\n"
                   "  - id: t\n"
                   "    channels: [sms]\n"
                   "    body: \"a \\x7b\\x7bx\"\n",
                   4, 11, "unterminated placeholder");
    /* too many variables */
    char many[2048] = "templates:\n  - {id: t, channels: sms, body: \"";
    for (int i = 0; i < 65; i++) {
        snprintf(many + strlen(many), sizeof many - strlen(many), "{{v%d}}", i);
    }
    strcat(many, "\"}\n");
    s_expect_error(many, 2, 35 + 10 * 6 + 54 * 7, "more than 64 distinct variables");
}

static void test_bad_catalogs(void **state) {
    (void)state;
    s_expect_error("templates:\n  - id: t\n    channels: [sms]\n    body: x\n    bodyy: y\n", 5, 5,
                   "unknown key \"bodyy\" in a template");
    s_expect_error("templates: []\nversion: 2\n", 2, 1, "unknown key \"version\"");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x}\n"
                   "  - {id: b, channels: sms, body: y}\n"
                   "  - {id: a, channels: voice, body: z}\n",
                   4, 10, "duplicate template id \"a\" (first at line 2)");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x, body: y}\n", 2, 37,
                   "duplicate key \"body\"");
    s_expect_error("templates:\n  - {id: a, channels: [sms, sms], body: x}\n", 2, 29,
                   "listed twice");
    s_expect_error("templates:\n  - {id: a, channels: [fax], body: x}\n", 2, 24,
                   "unknown channel \"fax\"");
    s_expect_error("templates:\n  - {id: a, channels: [], body: x}\n", 2, 23,
                   "non-empty list of channels");
    s_expect_error("templates:\n  - {id: a, channels: sms}\n", 2, 5,
                   "missing required key \"body\"");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: \"\"}\n", 2, 34,
                   "body must be a non-empty string, found an empty value");
    s_expect_error("templates:\n  - {id: 'a b', channels: sms, body: x}\n", 2, 10,
                   "template id \"a b\" is not valid");
    s_expect_error("templates:\n  - {id: a, channels: [email], body: x}\n", 2, 5,
                   "serves email but has no \"subject\"");
    s_expect_error("templates:\n  - {id: a, channels: [sms], subject: s, body: x}\n", 2, 30,
                   "\"subject\" is only for templates that serve email");
    s_expect_error("templates:\n  - {id: a, channels: [sms], body: x, whatsapp_template: w, "
                   "whatsapp_language: es}\n",
                   2, 39, "only for templates that serve whatsapp");
    s_expect_error("templates:\n  - {id: a, channels: [whatsapp], body: x, whatsapp_template: w}\n",
                   2, 44, "needs \"whatsapp_language\"");
    s_expect_error(
        "templates:\n  - {id: a, channels: [whatsapp], body: x, whatsapp_language: es}\n", 2, 44,
        "only for entries with \"whatsapp_template\"");
    s_expect_error("templates:\n  - {id: a, channels: [whatsapp], body: x, whatsapp_template: Bad, "
                   "whatsapp_language: es}\n",
                   2, 63, "whatsapp_template \"Bad\" is not valid");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: \"a\\tb\"}\n", 2, 34,
                   "control character other than a line break");
    s_expect_error("templates:\n  - {id: a, channels: [email], subject: \"a\\nb\", body: x}\n", 2,
                   41, "subject contains a control character");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: !!binary aGVsbG8=}\n", 2, 34,
                   "explicit YAML tags are not allowed");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x}\n---\ntemplates: []\n", 3, 1,
                   "more than one YAML document");
    s_expect_error("templates: []\n", 1, 12, "templates must be a non-empty list");
    s_expect_error("templates:\n", 1, 11, "templates must be a non-empty list");
    s_expect_error("", 1, 1, "empty catalog");
    s_expect_error("- a\n", 1, 1, "the catalog must be a mapping");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: [x]}\n", 2, 34,
                   "body must be a non-empty string, found a list");
    s_expect_error("templates:\n  - {id: a, channels: sms, body: x\n", 3, 1, "YAML syntax error");

    /* the fixed text alone past a channel's limit */
    char *big = s_repeat("ñ", 1601);
    char text[8192];
    snprintf(text, sizeof text,
             "templates:\n  - {id: a, channels: [whatsapp, sms], body: \"%s\"}\n", big);
    s_expect_error(text, 2, 46, "body has 1601 characters without its variables, past the SMS");
    free(big);

    /* files that cannot be read */
    char err[512];
    assert_null(brk_tpl_load("/nonexistent/templates.yaml", err, sizeof err));
    assert_string_equal(err, "/nonexistent/templates.yaml: cannot open: No such file or directory");
    assert_null(brk_tpl_load(NULL, err, sizeof err));
    assert_null(brk_tpl_load("", NULL, 0));
    char path[128];
    s_write("utf16", "\xff\xfet\0e\0", path, sizeof path);
    assert_null(brk_tpl_load(path, err, sizeof err));
    assert_non_null(strstr(err, ":1:1: the catalog must be UTF-8"));
}

/* Every prefix of the shipped catalog, and the catalog with a byte flipped at many places: no
 * crash, no leak, and either a catalog or one error line naming the file. */
static void test_truncated_and_corrupted(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(pg_yaml_read_file(CATALOG, S_MAX_FILE_BYTES, &buf, &len), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/cut.yaml", s_tmpdir);
    for (size_t cut = 0; cut <= len; cut += (cut < 600 ? 1 : 7)) {
        for (int flip = 0; flip < 2; flip++) {
            FILE *fp = fopen(path, "wb");
            assert_non_null(fp);
            char *copy = malloc(cut + 1);
            assert_non_null(copy);
            memcpy(copy, buf, cut);
            if (flip && cut > 0) {
                copy[cut / 2] = (char)(copy[cut / 2] ^ 0x5B);
            }
            assert_int_equal(fwrite(copy, 1, cut, fp), cut);
            assert_int_equal(fclose(fp), 0);
            free(copy);
            char err[512] = "";
            brk_tpl_catalog_t *c = brk_tpl_load(path, err, sizeof err);
            if (c) {
                brk_tpl_destroy(&c);
            } else {
                assert_true(strncmp(err, path, strlen(path)) == 0);
                assert_true(err[strlen(path)] == ':');
                assert_null(strchr(err, '\n'));
            }
        }
    }
    free(buf);
}

/* ---------------------------------------------------------------------------------------------
 * Main */

static int s_setup(void **state) {
    (void)state;
    snprintf(s_tmpdir, sizeof s_tmpdir, "/tmp/pg_tpl_XXXXXX");
    return mkdtemp(s_tmpdir) ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    const char *names[] = {"bad",   "limits", "name64", "utf16", "cut",    "free",
                           "plain", "wa",     "wa2",    "voice", "params", "tabs"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.yaml", s_tmpdir, names[i]);
        unlink(path);
    }
    return rmdir(s_tmpdir);
}

/* The catalog's keyword table (pregon-hooks reads it; pregond checks it): the demo catalog's
 * loads, a bad kind or an empty word refuses the catalog at its position. */
static void test_keyword_table(void **state) {
    (void)state;
    pg_kw_entry_t kw[PG_KW_MAX];
    char err[512] = "";
    int n = pg_kwtable_load(CATALOG, kw, PG_KW_MAX, err, sizeof err);
    assert_true(n > 0);
    assert_string_equal(kw[0].word, "ya cancelé");
    assert_int_equal(kw[0].kind, PG_KW_PAYMENT_CLAIMED);
    const char *tpl = "templates:\n  - id: t\n    channels: [sms]\n    body: \"x\"\n";
    char text[512];
    snprintf(text, sizeof text, "%skeywords:\n  - {word: \"ya pague\", kind: paid}\n", tpl);
    s_expect_error(text, 6, 30, "kind must be opt-out, opt-in, payment-claimed or wrong-number");
    snprintf(text, sizeof text, "%skeywords:\n  - {word: \"\", kind: opt-out}\n", tpl);
    s_expect_error(text, 6, 12, "word");
    snprintf(text, sizeof text, "%skeywords:\n  - {word: x, kind: opt-out, extra: 1}\n", tpl);
    s_expect_error(text, 6, 30, "unknown key \"extra\"");
    snprintf(text, sizeof text, "%skeywords: {word: x}\n", tpl);
    s_expect_error(text, 5, 11, "keywords");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_catalog),     cmocka_unit_test(test_check),
        cmocka_unit_test(test_check_per_channel),   cmocka_unit_test(test_render_text),
        cmocka_unit_test(test_render_email),        cmocka_unit_test(test_render_whatsapp),
        cmocka_unit_test(test_render_voice),        cmocka_unit_test(test_render_limits),
        cmocka_unit_test(test_render_param_limits), cmocka_unit_test(test_bad_channel_keys),
        cmocka_unit_test(test_bad_placeholders),    cmocka_unit_test(test_bad_catalogs),
        cmocka_unit_test(test_keyword_table),       cmocka_unit_test(test_truncated_and_corrupted),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

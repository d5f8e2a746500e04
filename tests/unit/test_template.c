/* test_template.c — cmocka tests of brk_template: the shipped catalog, admission checks,
 * rendering and its limits, and the loader's strictness and error positions.
 *
 * The module's .c is included directly (unit tests link pg_ratelimit and cmocka only). The
 * shipped catalog is read from PG_SOURCE_DIR/deploy/templates.yaml; error cases are written to a
 * temporary folder. The last test feeds every prefix of the shipped catalog to the loader: it must
 * never crash or leak and always answer with a catalog or one "PATH:LINE:COL:" line. */
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
    assert_int_equal(brk_tpl_vars(t, &names), 5);
    const char *order[] = {"nombre", "monto", "producto", "fecha", "enlace"};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(names[i], order[i]);
    }
    assert_int_equal(brk_tpl_whatsapp_params(t, NULL), 5);

    t = brk_tpl_get(c, "aviso_mora_email");
    assert_non_null(t);
    assert_true(brk_tpl_has_subject(t));
    assert_null(brk_tpl_whatsapp_name(t));
    assert_int_equal(brk_tpl_whatsapp_params(t, NULL), brk_tpl_vars(t, NULL));

    t = brk_tpl_get(c, "llamada_ivr");
    assert_non_null(t);
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
    assert_int_equal(brk_tpl_check(t, S_WHATSAPP, s_keys, 5, NULL), BRK_TPL_OK);

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

static void test_render(void **state) {
    (void)state;
    brk_tpl_catalog_t *c = s_load_ok(CATALOG);
    const brk_tpl_t *t = brk_tpl_get(c, "recordatorio_pago");
    char *out = NULL;
    const char *err = NULL;
    assert_int_equal(brk_tpl_render(t, s_keys, s_vals, 6, &out, &err), 0);
    assert_string_equal(out, "Hola Ana María, le recordamos que su pago de $120.000 de Tarjeta Oro "
                             "vence el 15/07. Puede pagar en https://p.co/x. Responda STOP para no "
                             "recibir más mensajes.");
    free(out);

    /* missing at render time */
    assert_int_equal(brk_tpl_render(t, s_keys, s_vals, 2, &out, &err), -1);
    assert_null(out);
    assert_string_equal(err, "template-variables");
    assert_int_equal(brk_tpl_render(NULL, s_keys, s_vals, 6, &out, &err), -1);
    assert_string_equal(err, "template-unknown");
    assert_int_equal(brk_tpl_render_subject(t, s_keys, s_vals, 6, &out, &err), -1);
    assert_string_equal(err, "template-no-subject");

    /* values are verbatim: no escaping, and a value is never parsed as a template */
    const char *const tricky[] = {"{{monto}} <b>&amp;", "1", "p", "f", "e"};
    assert_int_equal(brk_tpl_render(t, s_keys, tricky, 5, &out, NULL), 0);
    assert_non_null(strstr(out, "Hola {{monto}} <b>&amp;, le"));
    free(out);

    /* the first of duplicate keys wins */
    const char *const dup_keys[] = {"nombre", "nombre", "monto", "producto", "fecha", "enlace"};
    const char *const dup_vals[] = {"Uno", "Dos", "1", "p", "f", "e"};
    assert_int_equal(brk_tpl_render(t, dup_keys, dup_vals, 6, &out, NULL), 0);
    assert_true(strncmp(out, "Hola Uno,", 9) == 0);
    free(out);

    /* email subject and multi-line body */
    t = brk_tpl_get(c, "aviso_mora_email");
    const char *const ek[] = {"nombre", "acreedor", "producto", "monto",
                              "fecha",  "enlace",   "telefono"};
    const char *const ev[] = {"Luis", "Banco X", "Crédito Libre", "$1", "1/8", "u", "601"};
    assert_int_equal(brk_tpl_render_subject(t, ek, ev, 7, &out, &err), 0);
    assert_string_equal(out, "Aviso de saldo pendiente — Crédito Libre");
    free(out);
    assert_int_equal(brk_tpl_render(t, ek, ev, 7, &out, &err), 0);
    assert_true(strncmp(out, "Estimado(a) Luis:\n\nLe escribimos de parte de Banco X.", 52) == 0);
    free(out);
    /* a line break in the subject would be header injection */
    const char *const inj[] = {"Luis", "Banco X", "X\r\nBcc: a@b.co", "$1", "1/8", "u", "601"};
    assert_int_equal(brk_tpl_render_subject(t, ek, inj, 7, &out, &err), -1);
    assert_null(out);
    assert_string_equal(err, "template-subject");
    /* ... while the body takes line breaks */
    const char *const nl[] = {"Luis", "Banco X", "X\nY", "$1", "1/8", "u", "601"};
    assert_int_equal(brk_tpl_render(t, ek, nl, 7, &out, &err), 0);
    free(out);
    brk_tpl_destroy(&c);
}

/* Limits count code points for SMS and bytes for voice and email. */
static void test_render_limits(void **state) {
    (void)state;
    char path[128];
    s_write("limits",
            "templates:\n"
            "  - {id: s, channels: sms, body: \"{{x}}\"}\n"
            "  - {id: v, channels: [voice], body: \"{{x}}\"}\n"
            "  - {id: m, channels: [messenger], body: \"{{x}}\"}\n"
            "  - {id: e, channels: [email], subject: \"{{x}}\", body: \"{{x}}\"}\n"
            "  - {id: sv, channels: [voice, sms], body: \"ab{{x}}\"}\n",
            path, sizeof path);
    brk_tpl_catalog_t *c = s_load_ok(path);
    const char *const k[] = {"x"};
    char *out = NULL;
    const char *err = NULL;
    struct {
        const char *id, *unit;
        size_t n;
        int ok;
    } cases[] = {
        {"s", "ñ", 1600, 1},  {"s", "ñ", 1601, 0},   {"s", "a", 1600, 1},  {"s", "a", 1601, 0},
        {"s", "😀", 1600, 1},  {"v", "a", 4096, 1},   {"v", "a", 4097, 0},  {"v", "ñ", 2048, 1},
        {"v", "ñ", 2049, 0},  {"m", "a", 2000, 1},   {"m", "ñ", 2001, 0},  {"e", "a", 4096, 1},
        {"e", "a", 4097, 0},  {"s", "a", 100000, 0}, {"sv", "ñ", 1598, 1}, {"sv", "ñ", 1599, 0},
        {"sv", "a", 1598, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *v = s_repeat(cases[i].unit, cases[i].n);
        const char *vals[] = {v};
        int rc = brk_tpl_render(brk_tpl_get(c, cases[i].id), k, vals, 1, &out, &err);
        if (rc != (cases[i].ok ? 0 : -1)) {
            fail_msg("case %zu (%s, %zu x \"%s\"): rc %d", i, cases[i].id, cases[i].n,
                     cases[i].unit, rc);
        }
        if (rc == 0) {
            free(out);
        } else {
            assert_null(out);
            assert_string_equal(err, "template-too-long");
        }
        free(v);
    }
    /* subject: at most 998 bytes */
    const brk_tpl_t *e = brk_tpl_get(c, "e");
    char *v = s_repeat("a", 998);
    const char *vals[] = {v};
    assert_int_equal(brk_tpl_render_subject(e, k, vals, 1, &out, &err), 0);
    free(out);
    free(v);
    v = s_repeat("a", 999);
    vals[0] = v;
    assert_int_equal(brk_tpl_render_subject(e, k, vals, 1, &out, &err), -1);
    assert_string_equal(err, "template-too-long");
    free(v);
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
    assert_int_equal(rl_yaml_read_file(CATALOG, S_MAX_FILE_BYTES, &buf, &len), 0);
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
    const char *names[] = {"bad", "limits", "name64", "utf16", "cut"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.yaml", s_tmpdir, names[i]);
        unlink(path);
    }
    return rmdir(s_tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_catalog),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_limits),
        cmocka_unit_test(test_bad_placeholders),
        cmocka_unit_test(test_bad_catalogs),
        cmocka_unit_test(test_truncated_and_corrupted),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

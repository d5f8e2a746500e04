/* test_jobs_reader.c — pc_jobs_reader and pc_job: the files people have (BOMs, separators,
 * encodings, comments, names by content or extension) and the JSON-to-job mapping (channel
 * names in any case, unknown fields named). Inputs are in-memory files (fmemopen). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pc_job.h"
#include "pc_jobs_reader.h"

#define HDR "job_id;tenant;debtor_id;channel;var.nombre\r\n"

/* Reads every record of text; returns jobs read, *bad records, *fatal (-2 seen) and the last
 * error in err. */
static int s_read(const char *text, size_t len, pc_jobs_format_t fmt, const char *name, char delim,
                  int *bad, int *fatal, char *err, size_t errlen, json_t **first) {
    FILE *f = fmemopen((void *)text, len, "r");
    pc_jobs_options_t o = {fmt, name, delim};
    pc_jobs_reader_t *r = pc_jobs_reader_new(f, &o);
    int n = 0, got;
    long line;
    json_t *job;
    const char *why;
    *bad = *fatal = 0;
    if (first)
        *first = NULL;
    while ((got = pc_jobs_reader_next(r, &job, &line, &why)) != 0) {
        if (got == -2) {
            *fatal = 1;
            snprintf(err, errlen, "%ld: %s", line, why);
            break;
        }
        if (got < 0) {
            (*bad)++;
            snprintf(err, errlen, "%ld: %s", line, why);
            continue;
        }
        if (first && !*first)
            *first = json_incref(job);
        json_decref(job);
        n++;
    }
    pc_jobs_reader_destroy(&r);
    fclose(f);
    return n;
}

static void test_excel_semicolon_with_bom(void **state) {
    (void)state;
    const char text[] = "\xEF\xBB\xBF" HDR "a-1;acme;d1;SMS;Begoña\r\na-2;acme;d2;sms;José\r\n";
    int bad, fatal;
    char err[700] = "";
    json_t *first;
    assert_int_equal(s_read(text, sizeof text - 1, PC_JOBS_AUTO, "LISTA.CSV", 0, &bad, &fatal, err,
                            sizeof err, &first),
                     2);
    assert_int_equal(bad + fatal, 0);
    assert_string_equal(json_string_value(json_object_get(first, "job_id")), "a-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(first, "variables"), "nombre")),
        "Begoña");
    json_decref(first);
}

static void test_cp1252_refused_with_its_line(void **state) {
    (void)state;
    const char text[] = HDR "a-1;acme;d1;sms;Ana\r\na-2;acme;d2;sms;Bego\xF1"
                            "a\r\n";
    int bad, fatal;
    char err[700] = "";
    s_read(text, sizeof text - 1, PC_JOBS_CSV, "x.csv", 0, &bad, &fatal, err, sizeof err, NULL);
    assert_int_equal(fatal, 1);
    assert_non_null(strstr(err, "line 3 is not UTF-8 (byte 0xF1"));
    assert_non_null(strstr(err, "iconv -f cp1252 -t utf-8 x.csv"));
}

static void test_tabs_and_commas_detected(void **state) {
    (void)state;
    const char tabs[] = "job_id\ttenant\tvar.x\nt1\tacme\t\"a, b; c\"\n";
    const char commas[] = "job_id,tenant,var.x\nc1,acme,\"a; b\tc\"\n";
    int bad, fatal;
    char err[700] = "";
    json_t *first;
    assert_int_equal(s_read(tabs, sizeof tabs - 1, PC_JOBS_AUTO, "no-extension", 0, &bad, &fatal,
                            err, sizeof err, &first),
                     1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(first, "variables"), "x")), "a, b; c");
    json_decref(first);
    assert_int_equal(s_read(commas, sizeof commas - 1, PC_JOBS_AUTO, NULL, 0, &bad, &fatal, err,
                            sizeof err, NULL),
                     1);
    assert_int_equal(bad + fatal, 0);
}

static void test_unknown_column_named(void **state) {
    (void)state;
    const char text[] = "job_id,tennant\nx,acme\n";
    int bad, fatal;
    char err[700] = "";
    s_read(text, sizeof text - 1, PC_JOBS_CSV, NULL, 0, &bad, &fatal, err, sizeof err, NULL);
    assert_int_equal(fatal, 1);
    assert_non_null(strstr(err, "unknown column \"tennant\""));
}

static void test_jsonl_bom_comments(void **state) {
    (void)state;
    const char text[] = "\xEF\xBB\xBF{\"job_id\":\"j1\"}\n# a comment\n   # another\n\n"
                        "{\"job_id\":\"j2\"}\n{oops\n";
    int bad, fatal;
    char err[700] = "";
    assert_int_equal(
        s_read(text, sizeof text - 1, PC_JOBS_AUTO, "x", 0, &bad, &fatal, err, sizeof err, NULL),
        2);
    assert_int_equal(bad, 1);
    assert_int_equal(fatal, 0);
    assert_true(strncmp(err, "6:", 2) == 0);
}

static void test_job_mapping(void **state) {
    (void)state;
    char err[256];
    json_t *o = json_pack("{s:s, s:s, s:[s,s], s:{s:s}, s:b}", "job_id", "j", "channel", "WhatsApp",
                          "fallback_channels", "SMS", "email", "fallback_contacts", "email",
                          "a@b.co", "fallback_on_wrong_number", 1);
    Pregon__SendRequest *r = pc_job_from_json(o, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(r->channel, PREGON__CHANNEL__WHATSAPP);
    assert_int_equal(r->n_fallback_channels, 2);
    assert_int_equal(r->fallback_channels[1], PREGON__CHANNEL__EMAIL);
    assert_int_equal(r->n_fallback_contacts, 1);
    assert_string_equal(r->fallback_contacts[0]->value, "a@b.co");
    assert_true(r->fallback_on_wrong_number);
    size_t len = pregon__send_request__get_packed_size(r);
    assert_true(len > 0 && len < pc_job_max_bytes());
    pregon__send_request__free_unpacked(r, NULL);
    json_decref(o);
    o = json_pack("{s:s, s:s}", "job_id", "j", "tennant", "acme");
    assert_null(pc_job_from_json(o, err, sizeof err));
    assert_string_equal(err, "unknown field \"tennant\"");
    json_decref(o);
    o = json_pack("{s:s}", "channel", "fax");
    assert_null(pc_job_from_json(o, err, sizeof err));
    assert_non_null(strstr(err, "unknown channel \"fax\""));
    json_decref(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_excel_semicolon_with_bom),
        cmocka_unit_test(test_cp1252_refused_with_its_line),
        cmocka_unit_test(test_tabs_and_commas_detected),
        cmocka_unit_test(test_unknown_column_named),
        cmocka_unit_test(test_jsonl_bom_comments),
        cmocka_unit_test(test_job_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* hk_config_test.c — cmocka tests of pregon-hooks' settings and secrets: defaults, a file over
 * them (sections, relative tokens path), unknown settings and bad values refused with their
 * position, flags' setter; the tokens file (comments, tabs, bad lines named by number only,
 * never by content), look-ups and replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hk_config.h"
#include "hk_secrets.h"

static char s_dir[64];

static const char *s_write(const char *name, const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int s_setup(void **state) {
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/hk_config_test.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    const char *names[] = {"a.yaml", "b.yaml", "c.yaml", "d.yaml", "e.yaml",
                           "f.yaml", "tokens", "bad",    "bad2"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s_dir, names[i]);
        unlink(path);
    }
    return rmdir(s_dir);
}

static void test_defaults_and_file(void **state) {
    (void)state;
    hk_config_t c;
    hk_config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8095");
    assert_string_equal(c.broker, "tcp://127.0.0.1:5558");
    assert_int_equal(c.ack_timeout_ms, 5000);
    assert_int_equal(c.heartbeat_ms, 1000);
    char err[512];
    const char *path = s_write("a.yaml", "# comment\n"
                                         "http:\n  listen: 0.0.0.0:0\n"
                                         "  public_url: https://hooks.example.com\n"
                                         "broker:\n  ack_timeout_ms: 2500\n"
                                         "twilio:\n  auth_tokens_file: tokens\n");
    assert_int_equal(hk_config_load(&c, path, err, sizeof err), 0);
    assert_string_equal(c.listen, "0.0.0.0:0");
    assert_string_equal(c.public_url, "https://hooks.example.com");
    assert_int_equal(c.ack_timeout_ms, 2500);
    char want[128];
    snprintf(want, sizeof want, "%s/tokens", s_dir);
    assert_string_equal(c.twilio_tokens, want);
    assert_int_equal(c.max_body_bytes, 65536); /* untouched: the default */
    assert_int_equal(hk_config_check(&c, err, sizeof err), 0);
    assert_int_equal(hk_config_set(&c, "broker.max_in_flight", "7", err, sizeof err), 0);
    assert_int_equal(c.max_in_flight, 7);
}

static void test_refusals(void **state) {
    (void)state;
    hk_config_t c;
    char err[512];
    hk_config_defaults(&c);
    const char *path = s_write("b.yaml", "http:\n  listen: 1.2.3.4:1\n  lisen: x\n");
    assert_int_equal(hk_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":3:"));
    assert_non_null(strstr(err, "unknown setting \"http.lisen\""));
    hk_config_defaults(&c);
    path = s_write("c.yaml", "broker:\n  heartbeat_ms: 5\n");
    assert_int_equal(hk_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "broker.heartbeat_ms"));
    path = s_write("d.yaml", "broker:\n  - a\n");
    assert_int_equal(hk_config_load(&c, path, err, sizeof err), -1);
    path = s_write("e.yaml", "listen: x\n");
    assert_int_equal(hk_config_load(&c, path, err, sizeof err), -1);
    path = s_write("f.yaml", "http: [\n");
    assert_int_equal(hk_config_load(&c, path, err, sizeof err), -1);
    assert_int_equal(hk_config_load(&c, "/nonexistent/x.yaml", err, sizeof err), -1);
    assert_int_equal(hk_config_set(&c, "http.threads", "many", err, sizeof err), -1);
    assert_int_equal(hk_config_set(&c, "nope", "1", err, sizeof err), -1);
    hk_config_defaults(&c);
    assert_int_equal(hk_config_set(&c, "http.public_url", "ftp://x", err, sizeof err), 0);
    assert_int_equal(hk_config_check(&c, err, sizeof err), -1);
}

static void test_secrets(void **state) {
    (void)state;
    hk_secrets_t *s = hk_secrets_new();
    char err[512];
    const char *path = s_write("tokens", "# accounts\n\nACaaa tok-a\n  ACbbb\ttok-b  \n");
    assert_int_equal(hk_secrets_load_file(s, path, err, sizeof err), 2);
    assert_string_equal(hk_secrets_get(s, "ACaaa"), "tok-a");
    assert_string_equal(hk_secrets_get(s, "ACbbb"), "tok-b");
    assert_null(hk_secrets_get(s, "ACccc"));
    assert_null(hk_secrets_get(s, NULL));
    assert_int_equal(hk_secrets_add(s, "ACaaa", "tok-a2"), 0);
    assert_string_equal(hk_secrets_get(s, "ACaaa"), "tok-a2");
    assert_int_equal(hk_secrets_count(s), 2);
    assert_int_equal(hk_secrets_add(s, "ACddd", ""), -1);
    path = s_write("bad", "ACaaa tok secret-extra\n");
    assert_int_equal(hk_secrets_load_file(s, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1:"));
    assert_null(strstr(err, "secret-extra"));
    path = s_write("bad2", "ACaaa\n");
    assert_int_equal(hk_secrets_load_file(s, path, err, sizeof err), -1);
    /* the same account twice: one of its tokens would be dropped */
    hk_secrets_t *t = hk_secrets_new();
    path = s_write("twice", "ACaaa tok-1\nACaaa tok-2\n");
    assert_int_equal(hk_secrets_load_file(t, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: an account given twice"));
    assert_null(strstr(err, "tok-"));
    hk_secrets_destroy(&t);
    /* a NUL byte (tests/fuzz found it): fgets stopped the line there and read the rest of an
     * overlong line as a line of its own */
    t = hk_secrets_new();
    path = s_write("nul", "");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("ACaaa tok\0ACbbb forged\n", 1, 23, f);
    fclose(f);
    assert_int_equal(hk_secrets_load_file(t, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1: a NUL byte"));
    assert_null(hk_secrets_get(t, "ACaaa"));
    hk_secrets_destroy(&t);
    hk_secrets_destroy(&s);
    assert_null(s);
    hk_secrets_destroy(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_file),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

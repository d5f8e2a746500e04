/* test_secret.c — pg_secret: owner-only secret files are read, anything looser is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_secret.h"

static char s_path[64];

static void s_write(const char *text, mode_t mode) {
    snprintf(s_path, sizeof s_path, "/tmp/pg-secret-test.%d", (int)getpid());
    unlink(s_path);
    FILE *f = fopen(s_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(s_path, mode), 0);
}

static void test_owner_only_read(void **state) {
    (void)state;
    char buf[64], err[256];
    s_write("s3cret\n\n", 0600);
    assert_int_equal(pg_secret_read(s_path, buf, sizeof buf, err, sizeof err), 6);
    assert_string_equal(buf, "s3cret");
    s_write("k", 0400);
    assert_int_equal(pg_secret_read(s_path, buf, sizeof buf, err, sizeof err), 1);
    assert_int_equal(pg_secret_check_mode(s_path, err, sizeof err), 0);
    unlink(s_path);
}

static void test_loose_mode_refused(void **state) {
    (void)state;
    char buf[64], err[256];
    const mode_t loose[] = {0644, 0640, 0604, 0660, 0602};
    for (size_t i = 0; i < sizeof loose / sizeof *loose; i++) {
        s_write("s3cret", loose[i]);
        assert_int_equal(pg_secret_read(s_path, buf, sizeof buf, err, sizeof err), -1);
        assert_non_null(strstr(err, "chmod 600"));
        assert_null(strstr(err, "s3cret")); /* never the secret itself */
        assert_string_equal(buf, "");
        assert_int_equal(pg_secret_check_mode(s_path, err, sizeof err), -1);
    }
    unlink(s_path);
}

static void test_bad_files(void **state) {
    (void)state;
    char buf[8], err[256];
    assert_int_equal(pg_secret_read("/nonexistent/x", buf, sizeof buf, err, sizeof err), -1);
    assert_int_equal(pg_secret_read("/tmp", buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    s_write("\n \n", 0600);
    assert_int_equal(pg_secret_read(s_path, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    s_write("1234567", 0600); /* exactly fits */
    assert_int_equal(pg_secret_read(s_path, buf, sizeof buf, err, sizeof err), 7);
    s_write("12345678", 0600); /* one too many */
    assert_int_equal(pg_secret_read(s_path, buf, sizeof buf, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than 7"));
    assert_string_equal(buf, "");
    unlink(s_path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_only_read),
        cmocka_unit_test(test_loose_mode_refused),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_config.c — cmocka tests of brk_config's path resolution: `policies` and `templates`
 * given as relative paths in pregon.yaml are relative to the file's folder, absolute paths are
 * kept, the defaults stay relative to the working directory; and the shipped deploy/pregon.yaml
 * names folders that exist wherever pregond is started from.
 *
 * The module's .c is included directly (unit tests link pg_ratelimit and cmocka only). Config
 * files are written to a temporary folder. */
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

#include "../../broker/brk_config.c"

#ifndef PG_SOURCE_DIR
#define PG_SOURCE_DIR "."
#endif

static char s_tmpdir[64];

static const char *s_write(const char *text, char *out, size_t out_len) {
    snprintf(out, out_len, "%s/pregon.yaml", s_tmpdir);
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    return out;
}

static void s_load_ok(brk_config_t *cfg, const char *path) {
    char err[1024] = "";
    if (brk_config_load(cfg, path, err, sizeof err) != 0)
        fail_msg("%s did not load: %s", path ? path : "(defaults)", err);
}

/* relative to the file's folder, whatever the working directory */
static void test_relative_to_the_file(void **state) {
    (void)state;
    char path[128], want[256];
    brk_config_t cfg;
    s_write("policies: policies\ntemplates: sub/templates.yaml\n", path, sizeof path);
    s_load_ok(&cfg, path);
    snprintf(want, sizeof want, "%s/policies", s_tmpdir);
    assert_string_equal(cfg.policies, want);
    snprintf(want, sizeof want, "%s/sub/templates.yaml", s_tmpdir);
    assert_string_equal(cfg.templates, want);

    s_write("policies: ../elsewhere/p\n", path, sizeof path);
    s_load_ok(&cfg, path);
    snprintf(want, sizeof want, "%s/../elsewhere/p", s_tmpdir);
    assert_string_equal(cfg.policies, want);
    assert_string_equal(cfg.templates, "deploy/templates.yaml"); /* left out: the default */
}

static void test_absolute_kept(void **state) {
    (void)state;
    char path[128];
    brk_config_t cfg;
    s_write("policies: /srv/pregon/policies\ntemplates: /srv/t.yaml\n", path, sizeof path);
    s_load_ok(&cfg, path);
    assert_string_equal(cfg.policies, "/srv/pregon/policies");
    assert_string_equal(cfg.templates, "/srv/t.yaml");
}

/* the file named without a folder is in the working directory: the path is kept as given;
 * no file at all: the defaults, relative to the working directory as before */
static void test_working_directory(void **state) {
    (void)state;
    char path[128], cwd[512];
    brk_config_t cfg;
    s_write("policies: p\ntemplates: ./t.yaml\n", path, sizeof path);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(s_tmpdir), 0);
    s_load_ok(&cfg, "pregon.yaml");
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(cfg.policies, "p");
    assert_string_equal(cfg.templates, "./t.yaml");

    s_load_ok(&cfg, NULL);
    assert_string_equal(cfg.policies, "deploy/policies");
    assert_string_equal(cfg.templates, "deploy/templates.yaml");
}

/* too long once resolved: an error naming the setting and the line, never a cut path */
static void test_too_long(void **state) {
    (void)state;
    char path[128], text[1024], err[1024] = "";
    brk_config_t cfg;
    char name[501];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(text, sizeof text, "redis: {prefix: pg}\npolicies: %s\n", name);
    s_write(text, path, sizeof path);
    assert_int_equal(brk_config_load(&cfg, path, err, sizeof err), -1);
    char want[512];
    snprintf(want, sizeof want,
             "%s:2:11: policies is longer than 511 bytes once resolved against %s/", path,
             s_tmpdir);
    if (strcmp(err, want) != 0)
        fail_msg("unexpected error: %s", err);
}

/* the shipped config names folders that exist, from any working directory */
static void test_shipped_config(void **state) {
    (void)state;
    char cwd[512];
    brk_config_t cfg;
    struct stat st;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(s_tmpdir), 0);
    s_load_ok(&cfg, PG_SOURCE_DIR "/deploy/pregon.yaml");
    assert_string_equal(cfg.policies, PG_SOURCE_DIR "/deploy/policies");
    assert_string_equal(cfg.templates, PG_SOURCE_DIR "/deploy/templates.yaml");
    assert_int_equal(stat(cfg.policies, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(stat(cfg.templates, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(chdir(cwd), 0);
}

/* dispatch.max_credit and dispatch.anonymous_workers: defaults, read, bounded */
static void test_worker_limits(void **state) {
    (void)state;
    char path[128], err[1024] = "";
    brk_config_t cfg;
    s_load_ok(&cfg, NULL);
    assert_int_equal(cfg.max_credit, 1024);
    assert_int_equal(cfg.anonymous_workers, 64);
    s_write("dispatch: {max_credit: 40, anonymous_workers: 0}\n", path, sizeof path);
    s_load_ok(&cfg, path);
    assert_int_equal(cfg.max_credit, 40);
    assert_int_equal(cfg.anonymous_workers, 0);
    const char *bad[] = {"dispatch: {max_credit: 0}\n", "dispatch: {max_credit: 100001}\n",
                         "dispatch: {anonymous_workers: 257}\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_write(bad[i], path, sizeof path);
        assert_int_equal(brk_config_load(&cfg, path, err, sizeof err), -1);
        if (!strstr(err, "dispatch.max_credit in 1..100000"))
            fail_msg("%s: %s", bad[i], err);
    }
    s_write("dispatch: {anonymous_workers: -1}\n", path, sizeof path); /* not even read */
    assert_int_equal(brk_config_load(&cfg, path, err, sizeof err), -1);
}

static int s_setup(void **state) {
    (void)state;
    snprintf(s_tmpdir, sizeof s_tmpdir, "/tmp/pg_cfg_XXXXXX");
    return mkdtemp(s_tmpdir) ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/pregon.yaml", s_tmpdir);
    unlink(path);
    return rmdir(s_tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relative_to_the_file), cmocka_unit_test(test_absolute_kept),
        cmocka_unit_test(test_working_directory),    cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_shipped_config),       cmocka_unit_test(test_worker_limits),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

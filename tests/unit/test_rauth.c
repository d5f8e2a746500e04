/* test_rauth.c — cmocka tests of Redis credentials (broker/brk_rauth.h) and their settings in
 * brk_config: where the password comes from (file, environment, inline, in that order), what is
 * refused (a loose file, a user without a password, both settings at once), that an inline
 * password in a file others may read is flagged, and which Redis errors are ACL refusals. No
 * Redis here: connecting and AUTH are tests/integration/acl's. Files go to a temporary folder. */
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

#include "brk_config.h"
#include "brk_rauth.h"

static char s_tmpdir[64];

static void s_file(const char *name, const char *text, mode_t mode, char *path, size_t len) {
    snprintf(path, len, "%s/%s", s_tmpdir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void s_defaults(brk_config_t *cfg) {
    char err[256];
    assert_int_equal(brk_config_load(cfg, NULL, err, sizeof err), 0);
}

static void test_none(void **state) {
    (void)state;
    brk_config_t cfg;
    char pw[64], err[512] = "";
    s_defaults(&cfg);
    unsetenv(BRK_RAUTH_ENV);
    assert_int_equal(brk_rauth_password(&cfg, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(brk_rauth_source(&cfg, err, sizeof err), "no password");
    snprintf(cfg.redis_user, sizeof cfg.redis_user, "pregond"); /* a user needs a password */
    assert_int_equal(brk_rauth_password(&cfg, pw, sizeof pw, err, sizeof err), -1);
    assert_non_null(strstr(err, "redis.user \"pregond\" is set but no password"));
}

static void test_file(void **state) {
    (void)state;
    brk_config_t cfg;
    char pw[64], err[1024] = "", path[128];
    s_defaults(&cfg);
    s_file("ok.password", "s3cret-Value\n", 0600, path, sizeof path);
    snprintf(cfg.redis_password_file, sizeof cfg.redis_password_file, "%s", path);
    setenv(BRK_RAUTH_ENV, "from-env", 1); /* the file wins */
    assert_int_equal(brk_rauth_password(&cfg, pw, sizeof pw, err, sizeof err), 12);
    assert_string_equal(pw, "s3cret-Value");
    s_file("loose.password", "s3cret-Value\n", 0644, path, sizeof path);
    snprintf(cfg.redis_password_file, sizeof cfg.redis_password_file, "%s", path);
    assert_int_equal(brk_rauth_password(&cfg, pw, sizeof pw, err, sizeof err), -1);
    assert_non_null(strstr(err, "loose.password: mode 0644"));
    assert_null(strstr(err, "s3cret"));
    assert_string_equal(pw, ""); /* wiped */
    snprintf(cfg.redis_password_file, sizeof cfg.redis_password_file, "%s/absent", s_tmpdir);
    assert_int_equal(brk_rauth_password(&cfg, pw, sizeof pw, err, sizeof err), -1);
    assert_non_null(strstr(err, "redis.password_file"));
    unsetenv(BRK_RAUTH_ENV);
}

static void test_env_then_inline(void **state) {
    (void)state;
    brk_config_t cfg;
    char pw[64], err[512] = "";
    s_defaults(&cfg);
    snprintf(cfg.redis_password, sizeof cfg.redis_password, "inline-pw");
    setenv(BRK_RAUTH_ENV, "env-pw", 1);
    assert_int_equal(brk_rauth_password(&cfg, pw, sizeof pw, err, sizeof err), 6);
    assert_string_equal(pw, "env-pw");
    assert_string_equal(brk_rauth_source(&cfg, err, sizeof err), BRK_RAUTH_ENV);
    setenv(BRK_RAUTH_ENV, "", 1); /* empty: as if unset */
    assert_int_equal(brk_rauth_password(&cfg, pw, sizeof pw, err, sizeof err), 9);
    assert_string_equal(pw, "inline-pw");
    assert_string_equal(brk_rauth_source(&cfg, err, sizeof err), "redis.password");
    unsetenv(BRK_RAUTH_ENV);
    char small[4];
    assert_int_equal(brk_rauth_password(&cfg, small, sizeof small, err, sizeof err), -1);
    assert_null(strstr(err, "inline-pw"));
}

/* the settings: password_file resolved against the file's folder; both at once refused; an
 * inline password flagged when the file is readable by group or others */
static void test_settings(void **state) {
    (void)state;
    brk_config_t cfg;
    char err[1024] = "", path[128], want[256];
    s_file("a.yaml", "redis: {user: pregond, password_file: pw/redis.password}\n", 0644, path,
           sizeof path);
    assert_int_equal(brk_config_load(&cfg, path, err, sizeof err), 0);
    assert_string_equal(cfg.redis_user, "pregond");
    snprintf(want, sizeof want, "%s/pw/redis.password", s_tmpdir);
    assert_string_equal(cfg.redis_password_file, want);
    assert_int_equal(cfg.redis_password_loose_mode, 0); /* no inline password */
    s_file("b.yaml", "redis: {password: x, password_file: /p}\n", 0600, path, sizeof path);
    assert_int_equal(brk_config_load(&cfg, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "both set"));
    s_file("c.yaml", "redis: {password: hunter2}\n", 0640, path, sizeof path);
    assert_int_equal(brk_config_load(&cfg, path, err, sizeof err), 0);
    assert_int_equal(cfg.redis_password_loose_mode, 0640);
    s_file("d.yaml", "redis: {password: hunter2}\n", 0600, path, sizeof path);
    assert_int_equal(brk_config_load(&cfg, path, err, sizeof err), 0);
    assert_int_equal(cfg.redis_password_loose_mode, 0);
}

static void test_denied(void **state) {
    (void)state;
    assert_true(
        brk_rauth_is_denied("NOPERM this user has no permissions to run the 'keys' command"));
    assert_true(brk_rauth_is_denied("FCALL pg_admit: ERR The user executing the script can't run "
                                    "this command or subcommand script: pg_admit"));
    assert_true(brk_rauth_is_denied("FCALL pg_version: NOAUTH Authentication required."));
    assert_true(brk_rauth_is_denied("ERR Protocol error: unauthenticated bulk length"));
    assert_false(brk_rauth_is_denied("FCALL pg_lease: Broken pipe"));
    assert_false(brk_rauth_is_denied("OOM command not allowed when used memory > 'maxmemory'."));
    assert_false(brk_rauth_is_denied(NULL));
}

static void test_unreachable(void **state) {
    (void)state;
    brk_config_t cfg;
    char err[1024] = "";
    s_defaults(&cfg);
    snprintf(cfg.redis_socket, sizeof cfg.redis_socket, "%s/no.sock", s_tmpdir);
    redisContext *c = (redisContext *)1;
    struct timeval tv = {1, 0};
    assert_int_equal(brk_rauth_connect(&cfg, &tv, &c, err, sizeof err), BRK_RAUTH_UNREACHABLE);
    assert_null(c);
    assert_non_null(strstr(err, "no.sock"));
}

int main(void) {
    snprintf(s_tmpdir, sizeof s_tmpdir, "/tmp/pregon-rauth.XXXXXX");
    if (!mkdtemp(s_tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_env_then_inline),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_denied),
        cmocka_unit_test(test_unreachable),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_tmpdir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}

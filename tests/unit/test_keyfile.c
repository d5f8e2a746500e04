/* test_keyfile.c — pg_keyfile: NAME.key/NAME.pub written and read back, the strictness of the
 * reader (unknown keys, keys of another role, a secret in a .pub, loose modes), and pg_curve's
 * refusal of half a configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pg_channel.h"
#include "pg_curve.h"
#include "pg_keyfile.h"

static char s_dir[64];

static const char *s_path(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    return path;
}

static void s_write(const char *name, const char *text, mode_t mode) {
    FILE *f = fopen(s_path(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(s_path(name), mode), 0);
}

static pg_keyfile_t s_key(const char *name, pg_key_role_t role) {
    pg_keyfile_t k = {.role = role};
    snprintf(k.name, sizeof k.name, "%s", name);
    /* two fixed Z85 keys (any 40 characters of the alphabet will do here) */
    memcpy(k.public_key, "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", 41);
    memcpy(k.secret_key, "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs", 41);
    return k;
}

static void test_round_trip(void **state) {
    (void)state;
    char err[512];
    pg_keyfile_t c = s_key("acme-1", PG_KEY_CLIENT);
    char tenants[2][PG_KEY_TENANT_MAX] = {"acme", "beta"};
    c.tenants = tenants;
    c.n_tenants = 2;
    assert_int_equal(pg_keyfile_write(s_dir, &c, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(s_path("acme-1.key"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    pg_keyfile_t r;
    assert_int_equal(pg_keyfile_read_public(s_path("acme-1.pub"), &r, err, sizeof err), 0);
    assert_string_equal(r.name, "acme-1");
    assert_int_equal(r.role, PG_KEY_CLIENT);
    assert_string_equal(r.public_key, c.public_key);
    assert_string_equal(r.secret_key, "");
    assert_int_equal(r.n_tenants, 2);
    assert_string_equal(r.tenants[1], "beta");
    assert_false(r.any_tenant);
    pg_keyfile_release(&r);
    assert_int_equal(pg_keyfile_read_secret(s_path("acme-1.key"), &r, err, sizeof err), 0);
    assert_string_equal(r.secret_key, c.secret_key);
    pg_keyfile_release(&r);
    assert_string_equal(r.secret_key, ""); /* wiped */
    /* never over an existing key */
    assert_int_equal(pg_keyfile_write(s_dir, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "refusing to overwrite"));

    pg_keyfile_t w = s_key("sms", PG_KEY_WORKER);
    w.channels = (1u << PG_CH_SMS) | (1u << PG_CH_VOICE);
    w.worker_slots = 7;
    assert_int_equal(pg_keyfile_write(s_dir, &w, err, sizeof err), 0);
    assert_int_equal(pg_keyfile_read_public(s_path("sms.pub"), &r, err, sizeof err), 0);
    assert_int_equal(r.channels, w.channels);
    assert_int_equal(r.worker_slots, 7);
    pg_keyfile_release(&r);
}

/* each bad file and the words its error must contain */
static void test_strict(void **state) {
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"role: client\npublic: \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\ntenants: \"*\"\n"
         "colour: blue\n",
         "unknown key"},
        {"role: client\npublic: \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n", "tenants"},
        {"role: worker\npublic: \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\nchannels: [sms]\n"
         "tenants: \"*\"\n",
         "tenants are for client keys"},
        {"role: worker\npublic: \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\nchannels: [fax]\n",
         "unknown channel"},
        {"role: hooks\npublic: \"short\"\n", "not a Z85"},
        {"role: admin\npublic: \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n", "role must be"},
        {"role: hooks\npublic: \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n"
         "secret: \"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\"\n",
         "must not be shared"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32], err[512];
        snprintf(name, sizeof name, "bad%zu.pub", i);
        s_write(name, cases[i].text, 0644);
        pg_keyfile_t k;
        assert_int_equal(pg_keyfile_read_public(s_path(name), &k, err, sizeof err), -1);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" not in: %s", i, cases[i].want, err);
        unlink(s_path(name));
    }
}

static void test_secret_mode(void **state) {
    (void)state;
    char err[512];
    s_write("loose.key",
            "role: broker\npublic: \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n"
            "secret: \"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\"\n",
            0644);
    pg_keyfile_t k;
    assert_int_equal(pg_keyfile_read_secret(s_path("loose.key"), &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "mode 0644"));
    assert_null(strstr(err, "D:)Q")); /* never the secret */
    unlink(s_path("loose.key"));
}

static void test_curve_load(void **state) {
    (void)state;
    char err[512];
    assert_null(pg_curve_load(NULL, "", err, sizeof err));
    assert_string_equal(err, ""); /* plaintext */
    char key[256], pub[256];      /* s_path's buffer is shared: copies */
    snprintf(key, sizeof key, "%s", s_path("acme-1.key"));
    snprintf(pub, sizeof pub, "%s", s_path("sms.pub"));
    assert_null(pg_curve_load(key, NULL, err, sizeof err));
    assert_non_null(strstr(err, "needs both"));
    /* the broker key must be a broker's */
    assert_null(pg_curve_load(key, pub, err, sizeof err));
    if (!strstr(err, "not the broker's"))
        fail_msg("%s", err);
}

static int s_setup(void **state) {
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/pg_keyfile_XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    const char *names[] = {"acme-1.key", "acme-1.pub", "sms.key", "sms.pub"};
    for (size_t i = 0; i < 4; i++)
        unlink(s_path(names[i]));
    return rmdir(s_dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_secret_mode),
        cmocka_unit_test(test_curve_load),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

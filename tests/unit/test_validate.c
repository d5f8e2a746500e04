/* test_validate.c — cmocka tests of brk_validate and of the job limits (brk_limits.h) as
 * brk_submit_prepare applies them: tables of good and bad identifiers, contact points, variables
 * and UTF-8 sequences; every limit tried exactly at the limit (accepted) and one past (refused
 * with the field's reason); and the proof that the largest job admission can accept, with the
 * largest body the renderer can produce, packs into a BrokerToWorker frame the worker takes.
 *
 * Linked with pg_broker (and so the generated protobuf code). A temporary folder holds what
 * admission resolves against: two policies (CO, and one with a 63-byte id), a template catalog,
 * and a TZDIR whose zones are links to the system's, some under 64-byte names. */
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

#include "brk_limits.h"
#include "brk_submit.h"
#include "brk_template.h"
#include "brk_validate.h"
#include "pregon.pb-c.h"
#include "rl_policyset.h"

#ifndef PG_SOURCE_DIR
#define PG_SOURCE_DIR "."
#endif

/* A malloc'd string of n copies of c, after `prefix` and before `suffix`. */
static char *s_str(const char *prefix, char c, size_t n, const char *suffix) {
    size_t p = strlen(prefix), s = strlen(suffix);
    char *out = malloc(p + n + s + 1);
    assert_non_null(out);
    memcpy(out, prefix, p);
    memset(out + p, c, n);
    memcpy(out + p + n, suffix, s + 1);
    return out;
}

typedef struct {
    const char *in;
    int ok;
} s_case_t;

/* ---------------------------------------------------------------------------------------------
 * Identifiers */

static void s_ident_table(const char *(*fn)(const char *), const char *reason, size_t max,
                          int optional) {
    const s_case_t cases[] = {
        {"job-1", 1},         {"A.b_c:d/e=f@g#1", 1},
        {"~!$%^&*()[]|", 1},  {"", optional},
        {"a b", 0},           {" a", 0},
        {"a\t", 0},           {"a{b", 0},
        {"a}b", 0},           {"{tag}", 0},
        {"a\x7f", 0},         {"a\x01", 0},
        {"cami\xc3\xb3n", 0}, {"\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *r = fn(cases[i].in);
        if (cases[i].ok ? r != NULL : (r == NULL || strcmp(r, reason) != 0)) {
            fail_msg("%s(\"%s\") = %s", reason, cases[i].in, r ? r : "ok");
        }
    }
    char *s = s_str("", 'x', max, "");
    assert_null(fn(s));
    free(s);
    s = s_str("", 'x', max + 1, "");
    assert_string_equal(fn(s), reason);
    free(s);
    if (optional) {
        assert_null(fn(NULL));
    } else {
        assert_string_equal(fn(NULL), reason);
    }
}

static void test_identifiers(void **state) {
    (void)state;
    s_ident_table(brk_val_job_id, "bad-job-id", 128, 0);
    s_ident_table(brk_val_tenant, "bad-tenant", 64, 0);
    s_ident_table(brk_val_debtor, "bad-debtor", 128, 0);
    s_ident_table(brk_val_debt, "bad-debt", 128, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Contact points */

static void s_contact_table(int channel, const char *reason, const s_case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *r = brk_val_contact(channel, cases[i].in);
        if (cases[i].ok ? r != NULL : (r == NULL || strcmp(r, reason) != 0)) {
            fail_msg("channel %d, \"%s\": %s", channel, cases[i].in, r ? r : "ok");
        }
    }
    assert_string_equal(brk_val_contact(channel, NULL), reason);
}

static void test_phones(void **state) {
    (void)state;
    const s_case_t cases[] = {
        {"+573001112233", 1},
        {"+5215512345678", 1},
        {"+12025550143", 1},
        {"+12345678", 1},         /* 8 digits */
        {"+1234567", 1},          /* 7 digits: the shortest accepted (pg_contact) */
        {"+123456789012345", 1},  /* 15 digits: the longest */
        {"+570000000", 1},        /* 9 digits, first digit 5: well-formed */
        {"+123456", 0},           /* 6 digits */
        {"+5730011122233344", 0}, /* 16 digits */
        {"+0570000000", 0},       /* first digit 0 */
        {"+57 300", 0},
        {"+57 3001112233", 0},
        {"+57-300-111-2233", 0},
        {"573001112233", 0}, /* no '+' */
        {"++573001112233", 0},
        {"+", 0},
        {"", 0},
        {"+57300111223a", 0},
        {"+573001112233\n", 0},
        {"+\xef\xbc\x95\xef\xbc\x97\x33\x30\x30\x31\x31\x31\x32\x32", 0}, /* fullwidth digits */
        {"tel:+573001112233", 0},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    s_contact_table(1, "bad-phone", cases, n); /* SMS */
    s_contact_table(2, "bad-phone", cases, n); /* WHATSAPP */
    s_contact_table(3, "bad-phone", cases, n); /* VOICE */
}

static void test_emails(void **state) {
    (void)state;
    const s_case_t cases[] = {
        {"juan.perez@example.com", 1},
        {"a@b.c", 1},
        {"-x@y.com", 1}, /* '-' is atext: fine in a local part */
        {"x-@y.com", 1},
        {"first.last+tag@sub.example.co", 1},
        {"o'brien@example.ie", 1},
        {"!#$%&'*+/=?^_`{|}~-@example.org", 1},
        {"user@xn--bcher-kva.example", 1}, /* IDN as punycode */
        {"user@a-b.c-d.com", 1},
        {"USER@EXAMPLE.COM", 1},
        {"user@123.example", 1},
        {"a@b", 0},        /* no dot in the domain */
        {"a..b@c.com", 0}, /* consecutive dots */
        {".a@c.com", 0},
        {"a.@c.com", 0},
        {"x@-y.com", 0}, /* label starts with '-' */
        {"x@y-.com", 0}, /* label ends with '-' */
        {"x@y.com-", 0},
        {"x@y..com", 0},
        {"x@.y.com", 0},
        {"x@y.com.", 0},
        {"@y.com", 0},
        {"x@", 0},
        {"x", 0},
        {"", 0},
        {"x@y@z.com", 0},
        {"x y@z.com", 0},
        {"x@z .com", 0},
        {"x\t@z.com", 0},
        {"x@z.com\r\n", 0},
        {"\"quoted\"@z.com", 0},
        {"x@[192.168.0.1]", 0},
        {"x@192.168.0.1", 0},           /* numeric top-level label */
        {"jos\xc3\xa9@example.com", 0}, /* SMTPUTF8 local part */
        {"user@b\xc3\xbc"
         "cher.example",
         0}, /* IDN not in punycode */
        {"x@y_z.com", 0},
        {"x(comment)@y.com", 0},
    };
    s_contact_table(4, "bad-email", cases, sizeof cases / sizeof cases[0]);

    /* local part: 64 bytes fine, 65 not */
    char *s = s_str("", 'l', 64, "@example.com");
    assert_null(brk_val_contact(4, s));
    free(s);
    s = s_str("", 'l', 65, "@example.com");
    assert_string_equal(brk_val_contact(4, s), "bad-email");
    free(s);
    /* a label: 63 bytes fine, 64 not */
    s = s_str("a@", 'd', 63, ".com");
    assert_null(brk_val_contact(4, s));
    free(s);
    s = s_str("a@", 'd', 64, ".com");
    assert_string_equal(brk_val_contact(4, s), "bad-email");
    free(s);
    /* total: 254 bytes fine, 255 not (labels of 50 + dots) */
    char addr[300];
    for (int total = 254; total <= 255; total++) {
        /* "a@" + 4 labels of 50 and dots (204) + ".com"-like tail to reach the total */
        int rest = total - 2 - 4 * 51; /* bytes left after "a@" and "lll...l." x4 */
        snprintf(addr, sizeof addr, "a@");
        for (int i = 0; i < 4; i++) {
            memset(addr + strlen(addr), 'l', 50);
            addr[2 + i * 51 + 50] = '.';
            addr[2 + i * 51 + 51] = '\0';
        }
        memset(addr + strlen(addr), 't', (size_t)rest);
        addr[total] = '\0';
        assert_int_equal(strlen(addr), (size_t)total);
        const char *r = brk_val_contact(4, addr);
        if (total == 254) {
            assert_null(r);
        } else {
            assert_string_equal(r, "bad-email");
        }
    }
}

static void test_psid_and_channel(void **state) {
    (void)state;
    const s_case_t cases[] = {
        {"1", 1},
        {"1254459154682919", 1},
        {"01234567890123456789012345678901", 1},  /* 32 digits */
        {"012345678901234567890123456789012", 0}, /* 33 digits */
        {"", 0},
        {"12a4", 0},
        {"-123", 0},
        {"+123", 0},
        {"123 ", 0},
    };
    s_contact_table(5, "bad-psid", cases, sizeof cases / sizeof cases[0]);
    assert_string_equal(brk_val_contact(0, "+573001112233"), "bad-channel");
    assert_string_equal(brk_val_contact(6, "+573001112233"), "bad-channel");
    assert_string_equal(brk_val_contact(-1, "x"), "bad-channel");
    assert_string_equal(brk_val_contact(99, NULL), "bad-channel");
}

/* ---------------------------------------------------------------------------------------------
 * Variables */

static void test_variables(void **state) {
    (void)state;
    const char *const k[] = {"nombre", "monto", "Fecha_2"};
    const char *const v[] = {"Ana María 😀", "$1.000", "línea 1\nlínea 2"};
    assert_null(brk_val_variables(3, k, v));
    assert_null(brk_val_variables(0, NULL, NULL));
    const char *const empty_v[] = {""};
    assert_null(brk_val_variables(1, k, empty_v));

    struct {
        const char *key, *val, *reason;
    } bad[] = {
        {"", "x", "bad-variables"},
        {"a-b", "x", "bad-variables"},
        {"a b", "x", "bad-variables"},
        {"ñ", "x", "bad-variables"},
        {"a.b", "x", "bad-variables"},
        {"x", "a\tb", "bad-variables"},
        {"x", "a\rb", "bad-variables"},
        {"x", "a\x01", "bad-variables"},
        {"x", "a\x7f", "bad-variables"},
        {"x", "\xc2\x85", "bad-variables"}, /* NEL: UTF-8, but a C1 control */
        {"x", "\xc0\xaf", "variables-not-utf8"},
        {"x", "\xed\xa0\x80", "variables-not-utf8"},
        {"x", "\xff", "variables-not-utf8"},
        {"x", "\xc3", "variables-not-utf8"},
        {"x", "\x80", "variables-not-utf8"},
        {"x", "\xf4\x90\x80\x80", "variables-not-utf8"},
        {"x", "\x01\xff", "variables-not-utf8"}, /* not UTF-8 is said before the control */
        {NULL, "x", "bad-variables"},
        {"x", NULL, "bad-variables"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *keys[] = {"ok", bad[i].key};
        const char *vals[] = {"fine", bad[i].val};
        const char *r = brk_val_variables(2, keys, vals);
        if (!r || strcmp(r, bad[i].reason) != 0) {
            fail_msg("case %zu: %s, expected %s", i, r ? r : "accepted", bad[i].reason);
        }
    }
    assert_string_equal(brk_val_variables(1, NULL, v), "bad-variables");

    /* duplicate keys (a protobuf map on the wire can repeat one) */
    const char *const dk[] = {"a", "b", "a"};
    assert_string_equal(brk_val_variables(3, dk, v), "bad-variables");

    /* key length 64 / 65, also when the key has a bad character: too long is said first */
    char *name = s_str("", 'n', BRK_LIM_VAR_KEY, "");
    const char *keys[1] = {name};
    const char *vals[1] = {"x"};
    assert_null(brk_val_variables(1, keys, vals));
    free(name);
    name = s_str("", 'n', BRK_LIM_VAR_KEY + 1, "");
    keys[0] = name;
    assert_string_equal(brk_val_variables(1, keys, vals), "variables-key-too-long");
    free(name);
    name = s_str("-", 'n', BRK_LIM_VAR_KEY, "");
    keys[0] = name;
    assert_string_equal(brk_val_variables(1, keys, vals), "variables-key-too-long");
    free(name);

    /* value length 1024 / 1025 bytes (bytes, not characters) */
    keys[0] = "x";
    char *val = s_str("", 'v', BRK_LIM_VAR_VALUE, "");
    vals[0] = val;
    assert_null(brk_val_variables(1, keys, vals));
    free(val);
    val = s_str("", 'v', BRK_LIM_VAR_VALUE + 1, "");
    vals[0] = val;
    assert_string_equal(brk_val_variables(1, keys, vals), "variables-value-too-long");
    free(val);
    val = s_str("", 'v', BRK_LIM_VAR_VALUE - 2, "\xc3\xb1"); /* 1024 bytes, ends in ñ */
    vals[0] = val;
    assert_null(brk_val_variables(1, keys, vals));
    free(val);
    val = s_str("", 'v', BRK_LIM_VAR_VALUE - 1, "\xc3\xb1"); /* 1025 */
    vals[0] = val;
    assert_string_equal(brk_val_variables(1, keys, vals), "variables-value-too-long");
    free(val);

    /* 64 variables / 65 */
    char names[65][8];
    const char *mk[65], *mv[65];
    for (int i = 0; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "v%d", i);
        mk[i] = names[i];
        mv[i] = "x";
    }
    assert_null(brk_val_variables(BRK_LIM_VARS, mk, mv));
    assert_string_equal(brk_val_variables(BRK_LIM_VARS + 1, mk, mv), "variables-too-many");
}

/* ---------------------------------------------------------------------------------------------
 * UTF-8 */

/* Well-formed and ill-formed sequences; also fed to admission as a campaign name. */
static const struct {
    const char *s;
    size_t len;
    int ok;
} s_utf8_cases[] = {
    {"", 0, 1},
    {"plain", 5, 1},
    {"a\0b", 3, 1},             /* NUL is well-formed */
    {"\xc3\xb1", 2, 1},         /* ñ */
    {"\xc2\x80", 2, 1},         /* U+0080, the smallest 2-byte form */
    {"\xdf\xbf", 2, 1},         /* U+07FF */
    {"\xe0\xa0\x80", 3, 1},     /* U+0800 */
    {"\xed\x9f\xbf", 3, 1},     /* U+D7FF, just below the surrogates */
    {"\xee\x80\x80", 3, 1},     /* U+E000, just above */
    {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
    {"\xf0\x90\x80\x80", 4, 1}, /* U+10000 */
    {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
    {"\xf0\x9f\x98\x80", 4, 1}, /* 😀 */
    {"\xc0\xaf", 2, 0},         /* overlong '/' */
    {"\xc1\xbf", 2, 0},         /* overlong */
    {"\xe0\x80\xaf", 3, 0},     /* overlong, 3 bytes */
    {"\xe0\x9f\xbf", 3, 0},     /* overlong U+07FF */
    {"\xf0\x80\x80\xaf", 4, 0}, /* overlong, 4 bytes */
    {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong U+FFFF */
    {"\xed\xa0\x80", 3, 0},     /* U+D800 surrogate */
    {"\xed\xbf\xbf", 3, 0},     /* U+DFFF surrogate */
    {"\xf4\x90\x80\x80", 4, 0}, /* U+110000 */
    {"\xf5\x80\x80\x80", 4, 0},
    {"\xff", 1, 0},
    {"\xfe", 1, 0},
    {"\x80", 1, 0},         /* lone continuation */
    {"\xc3", 1, 0},         /* truncated */
    {"\xe2\x82", 2, 0},     /* truncated */
    {"\xf0\x9f\x98", 3, 0}, /* truncated */
    {"\xc3\x28", 2, 0},     /* bad continuation */
    {"\xe2\x28\xa1", 3, 0},
    {"a\xc3\xb1\xc3", 4, 0},
};

static void test_utf8(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_utf8_cases / sizeof s_utf8_cases[0]; i++) {
        if (brk_val_utf8(s_utf8_cases[i].s, s_utf8_cases[i].len) != s_utf8_cases[i].ok) {
            fail_msg("case %zu: expected %d", i, s_utf8_cases[i].ok);
        }
    }
    assert_int_equal(brk_val_utf8(NULL, 0), 1);
    /* len bounds the check: a truncated sequence past len is not read */
    assert_int_equal(brk_val_utf8("ab\xc3\xb1", 2), 1);
    assert_int_equal(brk_val_utf8("ab\xc3\xb1", 3), 0);
}

/* ---------------------------------------------------------------------------------------------
 * brk_val_text */

static void test_text(void **state) {
    (void)state;
    assert_int_equal(brk_val_text(NULL, 0), BRK_VAL_TEXT_OK);
    assert_int_equal(brk_val_text("", 0), BRK_VAL_TEXT_OK);
    assert_int_equal(brk_val_text("a", 0), BRK_VAL_TEXT_LONG);
    assert_int_equal(brk_val_text("abc", 3), BRK_VAL_TEXT_OK);
    assert_int_equal(brk_val_text("abcd", 3), BRK_VAL_TEXT_LONG);
    assert_int_equal(brk_val_text("a\xff", 3), BRK_VAL_TEXT_UTF8);
    assert_int_equal(brk_val_text("a\xff"
                                  "cd",
                                  3),
                     BRK_VAL_TEXT_LONG); /* too long is said before not UTF-8 */
    assert_int_equal(brk_val_text("\xc3\xb1\xc3\xb1", 4), BRK_VAL_TEXT_OK); /* bytes, not chars */
    assert_int_equal(brk_val_text("\xc3\xb1\xc3", 4), BRK_VAL_TEXT_UTF8);
    /* an oversized field is read no further than max + 1 bytes: this one has no terminator at
     * all, and ASan would see a read past it */
    char *raw = malloc(65);
    assert_non_null(raw);
    memset(raw, 'x', 65);
    assert_int_equal(brk_val_text(raw, 64), BRK_VAL_TEXT_LONG);
    free(raw);
}

/* ---------------------------------------------------------------------------------------------
 * Admission: the fixture */

#define S_MAX_TPL_USES 16 /* variables the maximal template renders: 16 x 1024 bytes */
_Static_assert(S_MAX_TPL_USES *BRK_LIM_VAR_VALUE == BRK_LIM_BODY_BYTES,
               "the maximal template must render exactly the body cap");
#define S_EMOJI "\xf0\x9f\x98\x80" /* U+1F600: 4 bytes, one code point */

static char s_dir[64];
static char s_made[16][256]; /* files and folders the fixture created, removed in reverse */
static size_t s_n_made;
static rl_policyset_t *s_policies;
static brk_tpl_catalog_t *s_templates;
static char s_juris63[BRK_LIM_JURISDICTION + 1]; /* id of a policy with the longest id */
static char s_tpl63[BRK_LIM_TEMPLATE_ID + 1];    /* an SMS template with the longest id */
static char s_max_tpl[BRK_LIM_TEMPLATE_ID + 1];  /* the WhatsApp template rendering the cap */
static char s_zone64[BRK_LIM_ALT_ZONES][BRK_LIM_TIME_ZONE + 1]; /* zones with the longest names */
static char s_max_keys[BRK_LIM_VARS][BRK_LIM_VAR_KEY + 1];      /* the longest variable names */

/* strings a test allocated for a job, freed by s_free_kept */
static char *s_kept[512];
static size_t s_n_kept;

static char *s_keep(char *p) {
    assert_non_null(p);
    assert_true(s_n_kept < sizeof s_kept / sizeof s_kept[0]);
    s_kept[s_n_kept++] = p;
    return p;
}

static void s_free_kept(void) {
    while (s_n_kept > 0) {
        free(s_kept[--s_n_kept]);
    }
}

/* n copies of the NUL-terminated unit, kept. */
static char *s_rep(const char *unit, size_t n) {
    size_t u = strlen(unit);
    char *out = malloc(u * n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        memcpy(out + i * u, unit, u);
    }
    out[u * n] = '\0';
    return s_keep(out);
}

/* name padded with `pad` to exactly len bytes, into out[len + 1]. */
static void s_padded(char *out, size_t len, const char *name, char pad) {
    size_t n = strlen(name);
    memcpy(out, name, n);
    memset(out + n, pad, len - n);
    out[len] = '\0';
}

static int s_made_path(const char *path) {
    if (s_n_made == sizeof s_made / sizeof s_made[0] || strlen(path) >= sizeof s_made[0]) {
        return -1;
    }
    snprintf(s_made[s_n_made++], sizeof s_made[0], "%s", path);
    return 0;
}

static int s_mkdir(const char *path) {
    return mkdir(path, 0700) == 0 ? s_made_path(path) : -1;
}

static int s_write(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    int ok = fwrite(text, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? s_made_path(path) : -1;
}

static char *s_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = malloc(1 << 16);
    *len = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf) {
        buf[*len] = '\0';
    }
    return buf;
}

/* Policies CO and CO under a 63-byte id; zones America/Bogota and three 64-byte names, all links
 * to the system's America/Bogota; a catalog with an SMS template "saludo", the same under a
 * 63-byte id, "wa" (SMS, and a WhatsApp template with a parameter of its own), and a WhatsApp
 * template whose body is 16 variables with 64-byte names. */
static int s_setup(void **state) {
    (void)state;
    char path[512], target[256], err[512];
    snprintf(s_dir, sizeof s_dir, "/tmp/pg_val_XXXXXX");
    if (!mkdtemp(s_dir)) {
        return -1;
    }
    s_padded(s_juris63, BRK_LIM_JURISDICTION, "J", 'j');
    s_padded(s_tpl63, BRK_LIM_TEMPLATE_ID, "T", 't');
    s_padded(s_max_tpl, BRK_LIM_TEMPLATE_ID, "M", 'm');
    for (int z = 0; z < BRK_LIM_ALT_ZONES; z++) {
        char head[16];
        snprintf(head, sizeof head, "Zona/%d", z);
        s_padded(s_zone64[z], BRK_LIM_TIME_ZONE, head, 'z');
    }
    for (int i = 0; i < BRK_LIM_VARS; i++) {
        char head[16];
        snprintf(head, sizeof head, "v%02d_", i);
        s_padded(s_max_keys[i], BRK_LIM_VAR_KEY, head, 'k');
    }

    /* zones, before anything looks one up (rl_tz reads TZDIR once per zone and caches it) */
    const char *src = getenv("TZDIR");
    src = src && *src ? src : "/usr/share/zoneinfo";
    snprintf(target, sizeof target, "%s/America/Bogota", src);
    const char *dirs[] = {"zoneinfo", "zoneinfo/America", "zoneinfo/Zona"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s_dir, dirs[i]);
        if (s_mkdir(path) != 0) {
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/zoneinfo/America/Bogota", s_dir);
    if (symlink(target, path) != 0 || s_made_path(path) != 0) {
        return -1;
    }
    for (int z = 0; z < BRK_LIM_ALT_ZONES; z++) {
        snprintf(path, sizeof path, "%s/zoneinfo/%s", s_dir, s_zone64[z]);
        if (symlink(target, path) != 0 || s_made_path(path) != 0) {
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/zoneinfo", s_dir);
    setenv("TZDIR", path, 1);

    /* policies */
    size_t len;
    char *co = s_read(PG_SOURCE_DIR "/deploy/policies/CO.yaml", &len);
    char *id = co ? strstr(co, "\nid: CO\n") : NULL;
    if (!id) {
        free(co);
        return -1;
    }
    snprintf(path, sizeof path, "%s/policies", s_dir);
    int rc = s_mkdir(path);
    snprintf(path, sizeof path, "%s/policies/CO.yaml", s_dir);
    rc |= s_write(path, co, len);
    snprintf(path, sizeof path, "%s/policies/long.yaml", s_dir);
    FILE *f = fopen(path, "wb");
    rc |= f ? 0 : -1;
    if (f) {
        fwrite(co, 1, (size_t)(id - co), f);
        fprintf(f, "\nid: %s\n", s_juris63);
        fputs(id + strlen("\nid: CO\n"), f);
        rc |= fclose(f) == 0 ? s_made_path(path) : -1;
    }
    free(co);
    snprintf(path, sizeof path, "%s/policies", s_dir);
    if (rc != 0 || !(s_policies = rl_policyset_load(path, err, sizeof err))) {
        print_error("policies: %s\n", err);
        return -1;
    }

    /* templates */
    char yaml[4096];
    int n = snprintf(yaml, sizeof yaml,
                     "templates:\n"
                     "  - id: saludo\n    channels: [sms]\n    body: \"Hola {{nombre}}\"\n"
                     "  - id: %s\n    channels: [sms]\n    body: \"Hola {{nombre}}\"\n"
                     "  - id: wa\n    channels: [sms, whatsapp]\n    body: \"Hola {{nombre}}\"\n"
                     "    whatsapp_template: wa\n    whatsapp_language: es\n"
                     "    whatsapp_body_params: [\"{{nombre}}\", \"{{ref}}\"]\n"
                     "  - id: %s\n    channels: [whatsapp]\n    body: \"",
                     s_tpl63, s_max_tpl);
    for (int i = 0; i < S_MAX_TPL_USES; i++) {
        n += snprintf(yaml + n, sizeof yaml - (size_t)n, "{{%s}}", s_max_keys[i]);
    }
    n += snprintf(yaml + n, sizeof yaml - (size_t)n, "\"\n");
    snprintf(path, sizeof path, "%s/templates.yaml", s_dir);
    if (n >= (int)sizeof yaml || s_write(path, yaml, (size_t)n) != 0 ||
        !(s_templates = brk_tpl_load(path, err, sizeof err))) {
        print_error("templates: %s\n", err);
        return -1;
    }
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    rl_policyset_destroy(&s_policies);
    brk_tpl_destroy(&s_templates);
    while (s_n_made > 0) {
        const char *p = s_made[--s_n_made];
        if (unlink(p) != 0) {
            rmdir(p);
        }
    }
    return rmdir(s_dir);
}

/* A job and the storage of its repeated fields. Strings are literals or kept (s_keep). */
typedef struct {
    Pregon__SendRequest req;
    Pregon__Segment seg;
    Pregon__SendRequest__VariablesEntry ent[BRK_LIM_VARS + 1];
    Pregon__SendRequest__VariablesEntry *entp[BRK_LIM_VARS + 1];
    char *alt[BRK_LIM_ALT_ZONES + 1];
    Pregon__Channel fb[BRK_LIM_FALLBACK + 1];
    Pregon__SendRequest__FallbackContactsEntry fc[BRK_LIM_FB_ENTRIES + 1];
    Pregon__SendRequest__FallbackContactsEntry *fcp[BRK_LIM_FB_ENTRIES + 1];
    Pregon__SendRequest__FallbackTemplatesEntry ft[BRK_LIM_FB_ENTRIES + 1];
    Pregon__SendRequest__FallbackTemplatesEntry *ftp[BRK_LIM_FB_ENTRIES + 1];
} s_job_t;

/* A valid SMS job, accepted by brk_submit_prepare. */
static void s_job(s_job_t *j) {
    memset(j, 0, sizeof *j);
    pregon__send_request__init(&j->req);
    pregon__segment__init(&j->seg);
    for (size_t i = 0; i < sizeof j->ent / sizeof j->ent[0]; i++) {
        pregon__send_request__variables_entry__init(&j->ent[i]);
        j->entp[i] = &j->ent[i];
    }
    for (size_t i = 0; i < sizeof j->fc / sizeof j->fc[0]; i++) {
        pregon__send_request__fallback_contacts_entry__init(&j->fc[i]);
        pregon__send_request__fallback_templates_entry__init(&j->ft[i]);
        j->fcp[i] = &j->fc[i];
        j->ftp[i] = &j->ft[i];
    }
    Pregon__SendRequest *r = &j->req;
    r->job_id = "job-1";
    r->tenant = "acme";
    r->campaign = "mora-30";
    r->debtor_id = "d-1";
    r->channel = PREGON__CHANNEL__SMS;
    r->contact = "+573001112233";
    r->template_id = "saludo";
    j->ent[0].key = "nombre";
    j->ent[0].value = "Ana";
    r->variables = j->entp;
    r->n_variables = 1;
    r->jurisdiction = "CO";
    r->time_zone = "America/Bogota";
    r->alt_time_zones = j->alt;
    r->fallback_channels = j->fb;
    j->seg.currency = "COP";
    j->seg.debtor_type = "person";
    j->seg.product = "credit-card";
    r->segment = &j->seg;
}

static rl_admit_job_t s_out;

/* brk_submit_prepare's reason for the job (NULL: admissible), as pregond calls it. */
static const char *s_reason(const s_job_t *j) {
    size_t len = pregon__send_request__get_packed_size(&j->req);
    brk_submit_prepare(s_policies, s_templates, &j->req, NULL, len, 0, 0, &s_out);
    const char *r = s_out.reject_reason;
    if (r) {
        assert_true(strlen(r) <= BRK_LIM_REASON);
        int tpl = strncmp(r, "template-", 9) == 0 && strncmp(r, "template-id-", 12) != 0;
        assert_string_equal(s_out.reject_rule, tpl ? "job.template" : "job.fields");
    }
    return r;
}

/* Fails unless the job gets `reason` (NULL: accepted). */
static void s_expect(const s_job_t *j, const char *reason, const char *what) {
    const char *r = s_reason(j);
    if (reason ? (!r || strcmp(r, reason) != 0) : r != NULL) {
        fail_msg("%s: %s, expected %s", what, r ? r : "accepted", reason ? reason : "accepted");
    }
}

/* ---------------------------------------------------------------------------------------------
 * Admission: every limit at the boundary */

static void test_prepare_default(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    s_expect(&j, NULL, "the default job");
    /* the fixture's long names are real: a job can use each of them */
    j.req.jurisdiction = s_juris63;
    j.req.template_id = s_tpl63;
    j.req.time_zone = s_zone64[0];
    s_expect(&j, NULL, "longest policy id, template id and zone name");
}

/* Admission renders the content of the job's channel: its variables and its limits. */
static void test_prepare_content(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    j.req.template_id = "wa";
    s_expect(&j, NULL, "an SMS job without the WhatsApp parameter's variable");
    j.req.channel = PREGON__CHANNEL__WHATSAPP;
    j.req.contact = "+573001112233";
    s_expect(&j, "template-variables", "a WhatsApp job without it");
    j.ent[1].key = "ref";
    j.ent[1].value = "A-1";
    j.req.n_variables = 2;
    s_expect(&j, NULL, "a WhatsApp job with it");
    j.ent[1].value = "A\n1"; /* admissible as a value, refused by the Cloud API in a parameter */
    s_expect(&j, "template-param-invalid", "a line break in a WhatsApp parameter");
    assert_string_equal(s_out.reject_rule, "job.template");
    j.req.channel = PREGON__CHANNEL__SMS;
    s_expect(&j, NULL, "the same values on SMS");
}

typedef struct {
    const char *field;
    size_t off;     /* of the char * in Pregon__SendRequest, or in Pregon__Segment */
    int in_segment; /* 1: off is in Pregon__Segment */
    size_t limit;
    const char *at_value;  /* exactly `limit` bytes; NULL: that many 'x' */
    const char *at_reason; /* the verdict at the limit: NULL accepted, or a later check's */
    const char *too_long;  /* one byte more, and 1.2 MB */
    const char *not_utf8;  /* `limit` bytes ending in a byte that is never UTF-8 */
} s_field_t;

#define S_REQ(f) offsetof(Pregon__SendRequest, f), 0
#define S_SEG(f) offsetof(Pregon__Segment, f), 1

static void test_prepare_text_limits(void **state) {
    (void)state;
    const s_field_t fields[] = {
        {"job_id", S_REQ(job_id), BRK_LIM_JOB_ID, NULL, NULL, "bad-job-id", "bad-job-id"},
        {"tenant", S_REQ(tenant), BRK_LIM_TENANT, NULL, NULL, "bad-tenant", "bad-tenant"},
        {"campaign", S_REQ(campaign), BRK_LIM_CAMPAIGN, NULL, NULL, "campaign-too-long",
         "campaign-not-utf8"},
        {"debtor_id", S_REQ(debtor_id), BRK_LIM_DEBTOR_ID, NULL, NULL, "bad-debtor", "bad-debtor"},
        {"debt_id", S_REQ(debt_id), BRK_LIM_DEBT_ID, NULL, NULL, "bad-debt", "bad-debt"},
        {"template_id", S_REQ(template_id), BRK_LIM_TEMPLATE_ID, s_tpl63, NULL,
         "template-id-too-long", "template-id-not-utf8"},
        {"jurisdiction", S_REQ(jurisdiction), BRK_LIM_JURISDICTION, s_juris63, NULL,
         "jurisdiction-too-long", "jurisdiction-not-utf8"},
        {"time_zone", S_REQ(time_zone), BRK_LIM_TIME_ZONE, s_zone64[0], NULL, "time-zone-too-long",
         "time-zone-not-utf8"},
        /* only "HH:MM-HH:MM" parses: at the limit the window parser answers */
        {"preferred_window", S_REQ(preferred_window), BRK_LIM_WINDOW, NULL, "bad-window",
         "preferred-window-too-long", "preferred-window-not-utf8"},
        {"sender", S_REQ(sender), BRK_LIM_SENDER, NULL, NULL, "sender-too-long", "sender-not-utf8"},
        {"segment.currency", S_SEG(currency), BRK_LIM_SEGMENT_TEXT, NULL, NULL,
         "segment-currency-too-long", "segment-currency-not-utf8"},
        {"segment.debtor_type", S_SEG(debtor_type), BRK_LIM_SEGMENT_TEXT, NULL, NULL,
         "segment-debtor-type-too-long", "segment-debtor-type-not-utf8"},
        {"segment.product", S_SEG(product), BRK_LIM_SEGMENT_TEXT, NULL, NULL,
         "segment-product-too-long", "segment-product-not-utf8"},
    };
    char what[96];
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const s_field_t *t = &fields[i];
        s_job_t j;
        s_job(&j);
        char **slot = (char **)((t->in_segment ? (char *)&j.seg : (char *)&j.req) + t->off);
        char *at = s_keep(t->at_value ? strdup(t->at_value) : s_str("", 'x', t->limit, ""));
        assert_int_equal(strlen(at), t->limit);

        *slot = at;
        snprintf(what, sizeof what, "%s of %zu bytes", t->field, t->limit);
        s_expect(&j, t->at_reason, what);

        *slot = s_keep(s_str(at, 'x', 1, ""));
        snprintf(what, sizeof what, "%s of %zu bytes", t->field, t->limit + 1);
        s_expect(&j, t->too_long, what);

        *slot = s_keep(s_str("", 'x', 1200 * 1000, "")); /* the hostile test's 1.2 MB */
        snprintf(what, sizeof what, "%s of 1.2 MB", t->field);
        s_expect(&j, t->too_long, what);

        char *bad = s_keep(strdup(at));
        bad[t->limit - 1] = '\xff';
        *slot = bad;
        snprintf(what, sizeof what, "%s ending in 0xFF", t->field);
        s_expect(&j, t->not_utf8, what);
        s_free_kept();
    }
}

static void test_prepare_campaign_utf8(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    char buf[16];
    for (size_t i = 0; i < sizeof s_utf8_cases / sizeof s_utf8_cases[0]; i++) {
        if (s_utf8_cases[i].len == 0 || memchr(s_utf8_cases[i].s, '\0', s_utf8_cases[i].len)) {
            continue; /* a C string ends at the first NUL: protobuf-c gives no more */
        }
        memcpy(buf, s_utf8_cases[i].s, s_utf8_cases[i].len);
        buf[s_utf8_cases[i].len] = '\0';
        j.req.campaign = buf;
        char what[32];
        snprintf(what, sizeof what, "UTF-8 case %zu", i);
        s_expect(&j, s_utf8_cases[i].ok ? NULL : "campaign-not-utf8", what);
    }
    /* the limit is bytes: 32 four-byte code points fit 128 bytes, one more byte does not */
    j.req.campaign = s_rep(S_EMOJI, BRK_LIM_CAMPAIGN / 4);
    s_expect(&j, NULL, "128 bytes of emoji");
    j.req.campaign = s_keep(s_str(j.req.campaign, 'x', 1, ""));
    s_expect(&j, "campaign-too-long", "129 bytes of emoji and x");
    j.req.campaign = s_rep("\xc3\xb1", BRK_LIM_CAMPAIGN / 2);
    s_expect(&j, NULL, "128 bytes of ñ");
    /* a sequence cut by the limit: 127 bytes and the first byte of ñ */
    j.req.campaign = s_keep(s_str("", 'x', BRK_LIM_CAMPAIGN - 1, "\xc3"));
    s_expect(&j, "campaign-not-utf8", "truncated at the limit");
    /* the contact point keeps its ASCII rules, whatever its length */
    j.req.campaign = "ok";
    j.req.contact = s_keep(s_str("+57", '3', 1200 * 1000, ""));
    s_expect(&j, "bad-phone", "contact of 1.2 MB");
    j.req.contact = "+57300\xff";
    s_expect(&j, "bad-phone", "contact not UTF-8");
    s_free_kept();
}

static void test_prepare_variables(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    /* 64 entries (nombre and 63 more) / 65 */
    for (size_t i = 1; i <= BRK_LIM_VARS; i++) {
        j.ent[i].key = s_max_keys[i - 1];
        j.ent[i].value = "x";
    }
    j.req.n_variables = BRK_LIM_VARS;
    s_expect(&j, NULL, "64 variables");
    j.req.n_variables = BRK_LIM_VARS + 1;
    s_expect(&j, "variables-too-many", "65 variables");

    /* key 64 / 65 bytes, value 1024 / 1025 bytes, a value not UTF-8 */
    j.req.n_variables = 2;
    j.ent[1].key = s_max_keys[0];
    s_expect(&j, NULL, "key of 64 bytes");
    j.ent[1].key = s_keep(s_str(s_max_keys[0], 'k', 1, ""));
    s_expect(&j, "variables-key-too-long", "key of 65 bytes");
    j.ent[1].key = "monto";
    j.ent[1].value = s_rep(S_EMOJI, BRK_LIM_VAR_VALUE / 4);
    s_expect(&j, NULL, "value of 1024 bytes");
    j.ent[1].value = s_keep(s_str(j.ent[1].value, 'x', 1, ""));
    s_expect(&j, "variables-value-too-long", "value of 1025 bytes");
    j.ent[1].value = "\xed\xa0\x80"; /* a surrogate */
    s_expect(&j, "variables-not-utf8", "value not UTF-8");
    j.ent[1].value = "a\x1b[2J";
    s_expect(&j, "bad-variables", "value with ESC");
    s_free_kept();
}

static void test_prepare_alt_zones(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    for (int z = 0; z < BRK_LIM_ALT_ZONES; z++) {
        j.alt[z] = s_zone64[z];
    }
    j.alt[BRK_LIM_ALT_ZONES] = "America/Bogota";
    j.req.n_alt_time_zones = BRK_LIM_ALT_ZONES;
    s_expect(&j, NULL, "3 alternative zones of 64 bytes");
    j.req.n_alt_time_zones = BRK_LIM_ALT_ZONES + 1;
    s_expect(&j, "alt-zones-too-many", "4 alternative zones");

    j.req.n_alt_time_zones = 1;
    j.alt[0] = s_keep(s_str(s_zone64[0], 'z', 1, ""));
    s_expect(&j, "alt-zones-too-long", "an alternative zone of 65 bytes");
    j.alt[0] = "America/Bogot\xc3";
    s_expect(&j, "alt-zones-not-utf8", "an alternative zone not UTF-8");
    j.alt[0] = s_keep(s_str("", 'x', BRK_LIM_TIME_ZONE, ""));
    s_expect(&j, "bad-timezone", "an unknown alternative zone of 64 bytes");
    s_free_kept();
}

static void test_prepare_fallback(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    const Pregon__Channel all[] = {PREGON__CHANNEL__WHATSAPP, PREGON__CHANNEL__VOICE,
                                   PREGON__CHANNEL__EMAIL, PREGON__CHANNEL__MESSENGER,
                                   PREGON__CHANNEL__SMS};
    memcpy(j.fb, all, sizeof all);
    j.req.n_fallback_channels = BRK_LIM_FALLBACK;
    s_expect(&j, NULL, "4 fallback channels");
    j.req.n_fallback_channels = BRK_LIM_FALLBACK + 1;
    s_expect(&j, "fallback-too-many", "5 fallback channels");
    j.req.n_fallback_channels = 1;
    const int bad[] = {0, 6, -1, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j.fb[0] = (Pregon__Channel)bad[i];
        s_expect(&j, "bad-fallback", "a fallback that is no channel");
    }
}

/* A job's whole serialized size is capped too: unknown fields (a newer client's, or a hostile
 * one's) are kept by protobuf-c, stored and dispatched, so they count. */
static void test_prepare_job_too_large(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    const size_t base = pregon__send_request__get_packed_size(&j.req);
    for (size_t extra = 0; extra <= 1; extra++) {
        /* field 99, length-delimited: a 2-byte key, a 3-byte length, L bytes */
        const size_t L = BRK_LIM_JOB_BYTES - base - 5 + extra;
        assert_true(L >= (1u << 14) && L < (1u << 21));
        const size_t total = base + 5 + L;
        uint8_t *buf = malloc(total);
        assert_non_null(buf);
        assert_int_equal(pregon__send_request__pack(&j.req, buf), base);
        uint8_t *p = buf + base;
        const unsigned key = 99u << 3 | 2u;
        *p++ = (uint8_t)((key & 0x7f) | 0x80);
        *p++ = (uint8_t)(key >> 7);
        *p++ = (uint8_t)((L & 0x7f) | 0x80);
        *p++ = (uint8_t)(((L >> 7) & 0x7f) | 0x80);
        *p++ = (uint8_t)(L >> 14);
        memset(p, 'u', L);
        Pregon__SendRequest *r = pregon__send_request__unpack(NULL, total, buf);
        assert_non_null(r);
        assert_int_equal(r->base.n_unknown_fields, 1);
        const size_t len = pregon__send_request__get_packed_size(r);
        assert_int_equal(len, total);
        brk_submit_prepare(s_policies, s_templates, r, buf, len, 0, 0, &s_out);
        if (extra) {
            assert_non_null(s_out.reject_reason);
            assert_string_equal(s_out.reject_reason, "job-too-large");
            assert_string_equal(s_out.reject_rule, "job.fields");
        } else if (s_out.reject_reason) {
            fail_msg("a job of exactly BRK_LIM_JOB_BYTES: %s", s_out.reject_reason);
        }
        pregon__send_request__free_unpacked(r, NULL);
        free(buf);
    }
}

/* Unknown fields protobuf-c reads but cannot write back (tests/fuzz found the first): a field
 * number 0 in a two-byte key, one past 2^29 - 1, or either inside a map entry. Stored, such a
 * job would not unpack at dispatch; admission refuses it. The largest valid number passes. */
static void test_prepare_field_number(void **state) {
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t n;
        const char *reason;
    } cases[] = {
        {"number 0 in two bytes", {0x80, 0x00, 0x00}, 3, "bad-field-number"},
        {"number 2^29", {0x80, 0x80, 0x80, 0x80, 0x10, 0x00}, 6, "bad-field-number"},
        {"number 2^29 - 1", {0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00}, 6, NULL},
        {"number 0 in a map entry",
         {0x52, 0x09, 0x0a, 0x01, 'k', 0x12, 0x01, 'v', 0x80, 0x00, 0x00},
         11,
         "bad-field-number"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        s_job_t j;
        s_job(&j);
        const size_t base = pregon__send_request__get_packed_size(&j.req);
        uint8_t buf[512];
        assert_true(base + cases[c].n <= sizeof buf);
        assert_int_equal(pregon__send_request__pack(&j.req, buf), base);
        memcpy(buf + base, cases[c].bytes, cases[c].n);
        Pregon__SendRequest *r = pregon__send_request__unpack(NULL, base + cases[c].n, buf);
        if (!r)
            fail_msg("%s: protobuf-c refuses it now: drop the case", cases[c].what);
        const size_t len = pregon__send_request__get_packed_size(r);
        uint8_t *packed = malloc(len);
        assert_non_null(packed);
        pregon__send_request__pack(r, packed);
        brk_submit_prepare(s_policies, s_templates, r, packed, len, 0, 0, &s_out);
        const char *got = s_out.reject_reason;
        if (cases[c].reason ? !got || strcmp(got, cases[c].reason) : got != NULL)
            fail_msg("%s: %s, expected %s", cases[c].what, got ? got : "accepted",
                     cases[c].reason ? cases[c].reason : "accepted");
        if (!got) { /* what is stored unpacks at dispatch */
            Pregon__SendRequest *back = pregon__send_request__unpack(NULL, len, packed);
            assert_non_null(back);
            pregon__send_request__free_unpacked(back, NULL);
        }
        free(packed);
        pregon__send_request__free_unpacked(r, NULL);
    }
}

/* ---------------------------------------------------------------------------------------------
 * The largest Dispatch fits the worker's frame limit */

/* Packs job and content into a Dispatch (lease id of BRK_LIM_LEASE_ID bytes, widest numbers)
 * and a BrokerToWorker, checks both against brk_limits.h and the worker's limit, unpacks the
 * frame again as the worker does, and returns the frame's size. */
static size_t s_frame(const Pregon__SendRequest *job, const Pregon__Content *content,
                      const char *what) {
    char *lease = s_keep(s_str("", 'l', BRK_LIM_LEASE_ID, ""));
    Pregon__Dispatch d = PREGON__DISPATCH__INIT;
    d.job = (Pregon__SendRequest *)job;
    d.lease_id = lease;
    d.lease_expires_ms = INT64_MIN; /* 10 bytes: the widest int64 */
    d.attempt = UINT32_MAX;
    d.content = (Pregon__Content *)content;
    d.worker_incarnation = s_keep(s_str("", 'i', BRK_LIM_WORKER_INCARNATION, ""));
    d.window_until_ms = INT64_MIN;
    Pregon__BrokerToWorker msg = PREGON__BROKER_TO_WORKER__INIT;
    msg.msg_case = PREGON__BROKER_TO_WORKER__MSG_DISPATCH;
    msg.dispatch = &d;
    const size_t job_size = pregon__send_request__get_packed_size(job);
    const size_t content_size = pregon__content__get_packed_size(content);
    const size_t dispatch_size = pregon__dispatch__get_packed_size(&d);
    const size_t frame_size = pregon__broker_to_worker__get_packed_size(&msg);
    print_message("%s: SendRequest %zu bytes (bound %d), Content %zu (bound %d), Dispatch %zu "
                  "(bound %d), frame %zu (bound %d); the worker takes %d\n",
                  what, job_size, BRK_LIM_JOB_BYTES, content_size, BRK_LIM_CONTENT_BYTES,
                  dispatch_size, BRK_LIM_DISPATCH_BYTES, frame_size, BRK_LIM_FRAME_BYTES,
                  CHW_MAX_FRAME_BYTES);
    assert_true(job_size <= BRK_LIM_JOB_BYTES);
    assert_true(content_size <= BRK_LIM_CONTENT_BYTES);
    assert_true(dispatch_size <= BRK_LIM_DISPATCH_BYTES);
    assert_true(frame_size <= BRK_LIM_FRAME_BYTES);
    assert_true(frame_size <= CHW_MAX_FRAME_BYTES); /* what libzmq enforces at the worker */

    uint8_t *buf = malloc(frame_size);
    assert_non_null(buf);
    assert_int_equal(pregon__broker_to_worker__pack(&msg, buf), frame_size);
    Pregon__BrokerToWorker *back = pregon__broker_to_worker__unpack(NULL, frame_size, buf);
    assert_non_null(back);
    assert_int_equal(back->msg_case, PREGON__BROKER_TO_WORKER__MSG_DISPATCH);
    assert_int_equal(back->dispatch->content->body_case, content->body_case);
    assert_int_equal(pregon__content__get_packed_size(back->dispatch->content), content_size);
    assert_int_equal(back->dispatch->job->n_variables, job->n_variables);
    pregon__broker_to_worker__free_unpacked(back, NULL);
    free(buf);
    return frame_size;
}

/* The largest content of each kind the renderer can produce (brk_limits.h's bounds), in
 * storage the caller provides; strings are kept. */
typedef struct {
    Pregon__Content content;
    Pregon__TextContent text;
    Pregon__EmailContent email;
    Pregon__WhatsAppTemplate wa;
    char *body[BRK_LIM_WA_BODY_PARAMS], *header[BRK_LIM_WA_HEADER_PARAMS],
        *button[BRK_LIM_WA_BUTTON_PARAMS];
    Pregon__VoiceScript voice;
    Pregon__DigitAction act[BRK_LIM_DIGITS];
    Pregon__DigitAction *actp[BRK_LIM_DIGITS];
    Pregon__VoiceTransfer tr[BRK_LIM_DIGITS];
    Pregon__VoiceTransfer *trp[BRK_LIM_DIGITS];
} s_max_content_t;

/* Fills m with the maximal content of kind body_case; returns its bound from brk_limits.h. */
static size_t s_max_content(s_max_content_t *m, Pregon__Content__BodyCase body_case) {
    memset(m, 0, sizeof *m);
    m->content = (Pregon__Content)PREGON__CONTENT__INIT;
    m->content.body_case = body_case;
    switch (body_case) {
        case PREGON__CONTENT__BODY_TEXT:
            m->text = (Pregon__TextContent)PREGON__TEXT_CONTENT__INIT;
            m->text.text = s_rep("b", BRK_LIM_BODY_BYTES);
            m->content.text = &m->text;
            return BRK_PB_LEN(1, BRK_LIM_TEXT_CONTENT_BYTES);
        case PREGON__CONTENT__BODY_EMAIL:
            m->email = (Pregon__EmailContent)PREGON__EMAIL_CONTENT__INIT;
            m->email.subject = s_rep("s", BRK_LIM_SUBJECT_BYTES);
            m->email.text = s_rep("t", BRK_LIM_EMAIL_TEXT_BYTES);
            m->email.html = s_rep("h", BRK_LIM_HTML_BYTES);
            m->content.email = &m->email;
            return BRK_PB_LEN(2, BRK_LIM_EMAIL_CONTENT_BYTES);
        case PREGON__CONTENT__BODY_WHATSAPP:
            m->wa = (Pregon__WhatsAppTemplate)PREGON__WHATS_APP_TEMPLATE__INIT;
            m->wa.name = s_rep("n", BRK_LIM_WA_NAME);
            m->wa.language = s_rep("l", BRK_LIM_WA_LANGUAGE);
            for (int i = 0; i < BRK_LIM_WA_BODY_PARAMS; i++) {
                m->body[i] = s_rep("p", BRK_LIM_WA_BODY_PARAM);
            }
            m->header[0] = s_rep("h", BRK_LIM_WA_HEADER_PARAM);
            for (int i = 0; i < BRK_LIM_WA_BUTTON_PARAMS; i++) {
                m->button[i] = s_rep("u", BRK_LIM_WA_BUTTON_PARAM);
            }
            m->wa.n_body_params = BRK_LIM_WA_BODY_PARAMS;
            m->wa.body_params = m->body;
            m->wa.n_header_params = BRK_LIM_WA_HEADER_PARAMS;
            m->wa.header_params = m->header;
            m->wa.n_button_params = BRK_LIM_WA_BUTTON_PARAMS;
            m->wa.button_params = m->button;
            m->wa.text = s_rep("t", BRK_LIM_BODY_BYTES);
            m->content.whatsapp = &m->wa;
            return BRK_PB_LEN(3, BRK_LIM_WHATSAPP_CONTENT_BYTES);
        case PREGON__CONTENT__BODY_VOICE:
            m->voice = (Pregon__VoiceScript)PREGON__VOICE_SCRIPT__INIT;
            m->voice.speech = s_rep("s", BRK_LIM_SPEECH_BYTES);
            m->voice.voice = s_rep("v", BRK_LIM_VOICE_NAME);
            m->voice.language = s_rep("l", BRK_LIM_VOICE_LANGUAGE);
            for (int i = 0; i < BRK_LIM_DIGITS; i++) {
                m->act[i] = (Pregon__DigitAction)PREGON__DIGIT_ACTION__INIT;
                m->act[i].digit = "#";
                m->act[i].action = s_rep("a", BRK_LIM_DIGIT_ACTION);
                m->act[i].target = s_rep("t", BRK_LIM_DIGIT_TARGET);
                m->act[i].say = s_rep("y", BRK_LIM_SAY_BYTES);
                m->actp[i] = &m->act[i];
            }
            m->voice.n_digits = BRK_LIM_DIGITS;
            m->voice.digits = m->actp;
            m->voice.voicemail = s_rep("m", BRK_LIM_VOICEMAIL_BYTES);
            m->voice.gather_timeout_s = UINT32_MAX;
            m->voice.goodbye = s_rep("g", BRK_LIM_GOODBYE_BYTES);
            m->voice.no_input_repeats = UINT32_MAX;
            for (int i = 0; i < BRK_LIM_DIGITS; i++) {
                m->tr[i] = (Pregon__VoiceTransfer)PREGON__VOICE_TRANSFER__INIT;
                m->tr[i].digit = "#";
                m->tr[i].caller_id = s_rep("c", BRK_LIM_CALLER_ID);
                m->tr[i].timeout_s = UINT32_MAX;
                m->trp[i] = &m->tr[i];
            }
            m->voice.n_transfers = BRK_LIM_DIGITS;
            m->voice.transfers = m->trp;
            m->content.voice = &m->voice;
            return BRK_PB_LEN(4, BRK_LIM_VOICE_CONTENT_BYTES);
        default:
            fail_msg("no such content kind %d", (int)body_case);
            return 0;
    }
}

/* Every field of SendRequest at its limit with the widest encoding of every number (negative
 * enums and ints take 10 bytes), whether or not admission would like the values: admission
 * accepts nothing larger, field by field and as a whole (job-too-large). */
static void test_worst_case_frame(void **state) {
    (void)state;
    /* a field added to pregon.proto without a limit in brk_limits.h fails here */
    assert_int_equal(pregon__send_request__descriptor.n_fields, BRK_LIM_SENDREQUEST_FIELDS);
    assert_int_equal(pregon__segment__descriptor.n_fields, BRK_LIM_SEGMENT_FIELDS);
    assert_int_equal(pregon__dispatch__descriptor.n_fields, BRK_LIM_DISPATCH_FIELDS);

    s_job_t j;
    s_job(&j);
    Pregon__SendRequest *r = &j.req;
    r->job_id = s_rep("j", BRK_LIM_JOB_ID);
    r->tenant = s_rep("t", BRK_LIM_TENANT);
    r->campaign = s_rep("c", BRK_LIM_CAMPAIGN);
    r->debtor_id = s_rep("d", BRK_LIM_DEBTOR_ID);
    r->debt_id = s_rep("e", BRK_LIM_DEBT_ID);
    r->role = (Pregon__Role)-1;
    r->channel = (Pregon__Channel)-1;
    r->contact = s_rep("@", BRK_LIM_CONTACT);
    r->template_id = s_rep("m", BRK_LIM_TEMPLATE_ID);
    for (int i = 0; i < BRK_LIM_VARS; i++) {
        j.ent[i].key = s_max_keys[i];
        j.ent[i].value = s_rep("v", BRK_LIM_VAR_VALUE);
    }
    r->n_variables = BRK_LIM_VARS;
    r->jurisdiction = s_rep("J", BRK_LIM_JURISDICTION);
    r->time_zone = s_rep("z", BRK_LIM_TIME_ZONE);
    for (int z = 0; z < BRK_LIM_ALT_ZONES; z++) {
        j.alt[z] = s_rep("a", BRK_LIM_TIME_ZONE);
    }
    r->n_alt_time_zones = BRK_LIM_ALT_ZONES;
    r->not_before = INT64_MIN;
    r->expires_at = INT64_MIN;
    r->priority = INT32_MIN;
    for (int f = 0; f < BRK_LIM_FALLBACK; f++) {
        j.fb[f] = (Pregon__Channel)-1;
    }
    r->n_fallback_channels = BRK_LIM_FALLBACK;
    j.seg.amount_cents = INT64_MIN;
    j.seg.currency = s_rep("C", BRK_LIM_SEGMENT_TEXT);
    j.seg.days_past_due = INT32_MIN;
    j.seg.debtor_type = s_rep("T", BRK_LIM_SEGMENT_TEXT);
    j.seg.product = s_rep("P", BRK_LIM_SEGMENT_TEXT);
    r->preferred_window = s_rep("w", BRK_LIM_WINDOW);
    r->sender = s_rep("s", BRK_LIM_SENDER);
    for (int f = 0; f < BRK_LIM_FB_ENTRIES; f++) {
        j.fc[f].key = s_rep("k", BRK_LIM_FB_KEY);
        j.fc[f].value = s_rep("@", BRK_LIM_CONTACT);
        j.ft[f].key = s_rep("k", BRK_LIM_FB_KEY);
        j.ft[f].value = s_rep("m", BRK_LIM_TEMPLATE_ID);
    }
    r->n_fallback_contacts = BRK_LIM_FB_ENTRIES;
    r->fallback_contacts = j.fcp;
    r->n_fallback_templates = BRK_LIM_FB_ENTRIES;
    r->fallback_templates = j.ftp;
    r->fallback_of = s_rep("o", BRK_LIM_JOB_ID);
    r->fallback_on_wrong_number = 1;

    /* the bound is tight: only the choice between packed and unpacked fallback_channels (the
     * header takes the larger) separates it from what protobuf-c writes */
    const size_t job = pregon__send_request__get_packed_size(r);
    assert_true(job <= BRK_LIM_JOB_BYTES);
    assert_true(BRK_LIM_JOB_BYTES - job <= BRK_LIM_FALLBACK_BYTES - BRK_LIM_FALLBACK_PACKED);

    /* a field added to pregon.proto's content messages without a bound fails here */
    assert_int_equal(pregon__content__descriptor.n_fields, 4);
    assert_int_equal(pregon__text_content__descriptor.n_fields, 1);
    assert_int_equal(pregon__email_content__descriptor.n_fields, 3);
    assert_int_equal(pregon__whats_app_template__descriptor.n_fields, 6);
    assert_int_equal(pregon__voice_script__descriptor.n_fields, 9);
    assert_int_equal(pregon__voice_transfer__descriptor.n_fields, 3);
    assert_int_equal(pregon__digit_action__descriptor.n_fields, 4);
    /* the largest content of each kind: its bound is exact, and the frame fits */
    const struct {
        Pregon__Content__BodyCase kind;
        const char *what;
    } kinds[] = {{PREGON__CONTENT__BODY_TEXT, "worst case, text"},
                 {PREGON__CONTENT__BODY_EMAIL, "worst case, e-mail"},
                 {PREGON__CONTENT__BODY_WHATSAPP, "worst case, WhatsApp template"},
                 {PREGON__CONTENT__BODY_VOICE, "worst case, voice script"}};
    size_t largest = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        s_max_content_t m;
        const size_t bound = s_max_content(&m, kinds[k].kind);
        assert_int_equal(pregon__content__get_packed_size(&m.content), bound);
        size_t frame = s_frame(r, &m.content, kinds[k].what);
        largest = frame > largest ? frame : largest;
    }
    /* the bound is tight: the largest kind's frame reaches it, but for fallback_channels */
    assert_true(BRK_LIM_FRAME_BYTES - largest <= BRK_LIM_FALLBACK_BYTES - BRK_LIM_FALLBACK_PACKED);
    s_free_kept();
}

/* The largest job admission really accepts (every field at its limit where its meaning allows:
 * a WhatsApp number is 16 bytes, a window 11), rendered to the body cap by a real template and
 * dispatched the way pregond does it: unpacked from the stored payload. */
static void test_maximal_accepted_job_dispatches(void **state) {
    (void)state;
    s_job_t j;
    s_job(&j);
    Pregon__SendRequest *r = &j.req;
    r->job_id = s_rep("j", BRK_LIM_JOB_ID);
    r->tenant = s_rep("t", BRK_LIM_TENANT);
    r->campaign = s_rep(S_EMOJI, BRK_LIM_CAMPAIGN / 4);
    r->debtor_id = s_rep("d", BRK_LIM_DEBTOR_ID);
    r->debt_id = s_rep("e", BRK_LIM_DEBT_ID);
    r->role = PREGON__ROLE__CODEBTOR;
    r->channel = PREGON__CHANNEL__WHATSAPP;
    r->contact = "+123456789012345"; /* 15 digits: the longest E.164 */
    r->template_id = s_max_tpl;
    const char *keys[BRK_LIM_VARS], *values[BRK_LIM_VARS];
    for (int i = 0; i < BRK_LIM_VARS; i++) {
        j.ent[i].key = s_max_keys[i];
        j.ent[i].value = s_rep(S_EMOJI, BRK_LIM_VAR_VALUE / 4);
        keys[i] = j.ent[i].key;
        values[i] = j.ent[i].value;
    }
    r->n_variables = BRK_LIM_VARS;
    r->jurisdiction = s_juris63;
    r->time_zone = s_zone64[0];
    for (int z = 0; z < BRK_LIM_ALT_ZONES; z++) {
        j.alt[z] = s_zone64[z];
    }
    r->n_alt_time_zones = BRK_LIM_ALT_ZONES;
    r->not_before = INT64_MAX;
    r->expires_at = INT64_MAX;
    r->priority = INT32_MIN;
    const Pregon__Channel fb[] = {PREGON__CHANNEL__SMS, PREGON__CHANNEL__VOICE,
                                  PREGON__CHANNEL__EMAIL, PREGON__CHANNEL__MESSENGER};
    memcpy(j.fb, fb, sizeof fb);
    r->n_fallback_channels = BRK_LIM_FALLBACK;
    j.seg.amount_cents = INT64_MIN;
    j.seg.currency = s_rep("C", BRK_LIM_SEGMENT_TEXT);
    j.seg.days_past_due = INT32_MIN;
    j.seg.debtor_type = s_rep(S_EMOJI, BRK_LIM_SEGMENT_TEXT / 4);
    j.seg.product = s_rep("P", BRK_LIM_SEGMENT_TEXT);
    r->preferred_window = "08:00-20:00";
    r->sender = s_rep("s", BRK_LIM_SENDER);
    s_expect(&j, NULL, "the maximal job");

    /* stored as pregond stores it, dispatched as pregond dispatches it */
    const size_t len = pregon__send_request__get_packed_size(r);
    uint8_t *payload = malloc(len);
    assert_non_null(payload);
    assert_int_equal(pregon__send_request__pack(r, payload), len);
    Pregon__SendRequest *stored = pregon__send_request__unpack(NULL, len, payload);
    assert_non_null(stored);
    Pregon__Content *content = NULL;
    const char *why = NULL;
    assert_int_equal(brk_tpl_render_content(brk_tpl_get(s_templates, stored->template_id),
                                            (int)stored->channel, keys, values, BRK_LIM_VARS,
                                            &content, &why),
                     0);
    assert_int_equal(content->body_case, PREGON__CONTENT__BODY_TEXT);
    assert_int_equal(strlen(content->text->text), BRK_LIM_BODY_BYTES); /* the cap, reached */
    s_frame(stored, content, "maximal accepted job");

    /* one more character and the render is refused, at admission already */
    j.ent[0].value = s_keep(s_str(j.ent[0].value, 'x', 1, ""));
    s_expect(&j, "variables-value-too-long", "a value past its limit");
    brk_tpl_content_free(&content);
    pregon__send_request__free_unpacked(stored, NULL);
    free(payload);
    s_free_kept();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_phones),
        cmocka_unit_test(test_emails),
        cmocka_unit_test(test_psid_and_channel),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_prepare_default),
        cmocka_unit_test(test_prepare_content),
        cmocka_unit_test(test_prepare_text_limits),
        cmocka_unit_test(test_prepare_campaign_utf8),
        cmocka_unit_test(test_prepare_variables),
        cmocka_unit_test(test_prepare_alt_zones),
        cmocka_unit_test(test_prepare_fallback),
        cmocka_unit_test(test_prepare_job_too_large),
        cmocka_unit_test(test_prepare_field_number),
        cmocka_unit_test(test_worst_case_frame),
        cmocka_unit_test(test_maximal_accepted_job_dispatches),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

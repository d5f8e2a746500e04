/* test_log.c — cmocka tests of pg_log: the line format and clock, escaping of every control
 * class and of invalid UTF-8, the line bound and truncation at character and escape
 * boundaries, pg_log_quote's bounds, pg_log_mask on phones, e-mail addresses and PSIDs, the
 * masking safety net inside pg_log (also for a contact the line's cut splits), and one write
 * per line under concurrent writers. Lines are captured in a temporary file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_log.h"

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S_T0       INT64_C(1796245445123) /* 2026-12-02T21:04:05.123Z */
#define S_PREFIX   "2026-12-02T21:04:05.123Z test: "

static FILE *s_file;
static off_t s_read_at;
static int64_t s_now = S_T0;

static int64_t s_clock(void *ctx) {
    (void)ctx;
    return s_now;
}

static int s_setup(void **state) {
    (void)state;
    s_file = tmpfile();
    s_read_at = 0;
    s_now = S_T0;
    pg_log_init("test");
    pg_log_set_output(s_file);
    pg_log_set_clock(s_clock, NULL);
    return s_file ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    pg_log_set_output(NULL);
    pg_log_set_clock(NULL, NULL);
    fclose(s_file);
    return 0;
}

/* What was written since the last call (NUL-terminated, static). */
static const char *s_take(void) {
    static char buf[1 << 16];
    ssize_t n = pread(fileno(s_file), buf, sizeof buf - 1, s_read_at);
    assert_true(n >= 0);
    buf[n] = '\0';
    s_read_at += n;
    return buf;
}

/* The message of the one line written since the last call (prefix and '\n' checked). */
static const char *s_msg(void) {
    static char msg[1 << 16];
    const char *line = s_take();
    size_t n = strlen(line);
    assert_true(n > 0 && line[n - 1] == '\n');
    assert_null(memchr(line, '\n', n - 1)); /* one line, whatever the message held */
    assert_memory_equal(line, S_PREFIX, strlen(S_PREFIX));
    memcpy(msg, line + strlen(S_PREFIX), n - strlen(S_PREFIX) - 1);
    msg[n - strlen(S_PREFIX) - 1] = '\0';
    return msg;
}

/* ------------------------------------------------------------------------------------------ */

static void test_line_format(void **state) {
    (void)state;
    pg_log("worker %s ready, credit %d", "sms-1", 64);
    assert_string_equal(s_take(), S_PREFIX "worker sms-1 ready, credit 64\n");

    s_now = 0;
    pg_log("epoch");
    assert_string_equal(s_take(), "1970-01-01T00:00:00.000Z test: epoch\n");
    s_now = 999;
    pg_log("x");
    assert_string_equal(s_take(), "1970-01-01T00:00:00.999Z test: x\n");
    s_now = -5; /* a broken clock never gives a broken line */
    pg_log("x");
    assert_string_equal(s_take(), "1970-01-01T00:00:00.000Z test: x\n");

    s_now = S_T0;
    pg_log_init(NULL);
    pg_log("x");
    assert_string_equal(s_take(), "2026-12-02T21:04:05.123Z pregon: x\n");
    pg_log_init("bad\nname");
    pg_log("x");
    assert_string_equal(s_take(), "2026-12-02T21:04:05.123Z bad\\nname: x\n");
    pg_log_init("test");
}

/* log.format json: one JSON object a line, the terminal escapes kept and JSON's added; when
 * python3 is there the line must parse as JSON and give the message back as the text line shows */
static void test_json_lines(void **state) {
    (void)state;
    pg_log_set_json(true);
    pg_log("a \"quoted\" \\ word\nand\tmore to +573001234567");
    const char *line = s_take();
    pg_log_set_json(false);
    assert_string_equal(line, "{\"ts\":\"2026-12-02T21:04:05.123Z\",\"program\":\"test\","
                              "\"msg\":\"a \\\"quoted\\\" \\\\\\\\ word\\\\nand\\\\tmore to "
                              "+57******4567\"}\n");
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char cmd[4096];
        snprintf(
            cmd, sizeof cmd,
            "printf '%%s' '%s' | python3 -c 'import json,sys; d=json.load(sys.stdin); "
            "sys.exit(0 if d[\"program\"]==\"test\" and d[\"msg\"].startswith(\"a \\\"quoted\") "
            "else 1)'",
            line);
        assert_int_equal(system(cmd), 0);
    }
    pg_log("text again");
    assert_string_equal(s_take(), S_PREFIX "text again\n");
}

static void test_memstream_output(void **state) {
    (void)state;
    char *mem = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&mem, &len);
    assert_non_null(m);
    pg_log_set_output(m);
    pg_log("one");
    pg_log("two");
    pg_log_set_output(s_file);
    fclose(m);
    assert_string_equal(mem, S_PREFIX "one\n" S_PREFIX "two\n");
    free(mem);
}

typedef struct {
    const char *in, *out;
} s_case_t;

static void test_escape_ascii_controls(void **state) {
    (void)state;
    static const s_case_t cases[] = {
        {"a\nb", "a\\nb"},
        {"a\rb", "a\\rb"},
        {"a\tb", "a\\tb"},
        {"a\\b", "a\\\\b"},
        {"\\n", "\\\\n"}, /* a backslash and an n stay distinguishable from a newline */
        {"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
        {"\x01\x02\x07\x08\x0b\x0c\x1f", "\\x01\\x02\\x07\\x08\\x0b\\x0c\\x1f"},
        {"del\x7f", "del\\x7f"},
        {"forged\r\n2026-12-02T00:00:00.000Z pregond: ok",
         "forged\\r\\n2026-12-02T00:00:00.000Z pregond: ok"},
        {" ~!\"#$%&'()*,-./:;<=>?[]^_`{|}", " ~!\"#$%&'()*,-./:;<=>?[]^_`{|}"},
    };
    for (size_t i = 0; i < S_COUNT(cases); i++) {
        pg_log("%s", cases[i].in);
        assert_string_equal(s_msg(), cases[i].out);
    }
    /* every C0 byte but the three named ones is \xNN */
    for (int c = 1; c < 0x20; c++) {
        if (c == '\n' || c == '\r' || c == '\t')
            continue;
        char want[8];
        snprintf(want, sizeof want, "\\x%02x", c);
        pg_log("%c", c);
        assert_string_equal(s_msg(), want);
    }
    pg_log("a%cb", 0); /* a NUL inside the formatted message */
    assert_string_equal(s_msg(), "a\\x00b");
}

static void test_escape_unicode(void **state) {
    (void)state;
    /* clang-format off */
    static const s_case_t cases[] = {
        /* valid UTF-8 is kept */
        {"Bogot\xc3\xa1 \xc3\xb1",       "Bogot\xc3\xa1 \xc3\xb1"},
        {"AC\xe2\x80\xa6" "4321",        "AC\xe2\x80\xa6" "4321"},   /* U+2026 */
        {"\xf0\x9f\x93\xb1",             "\xf0\x9f\x93\xb1"},        /* U+1F4F1 */
        {"\xc2\xa0",                     "\xc2\xa0"},                /* U+00A0, first after C1 */
        {"\xe2\x80\xa7\xe2\x80\xaf",     "\xe2\x80\xa7\xe2\x80\xaf"}, /* U+2027, U+202F */
        {"\xe2\x81\xa5\xe2\x81\xaa",     "\xe2\x81\xa5\xe2\x81\xaa"}, /* U+2065, U+206A */
        {"\xf4\x8f\xbf\xbf",             "\xf4\x8f\xbf\xbf"},        /* U+10FFFF */
        /* C1 controls */
        {"\xc2\x80",                     "\\xc2\\x80"},
        {"a\xc2\x85" "b",                "a\\xc2\\x85b"},            /* NEL */
        {"\xc2\x9b" "31m",               "\\xc2\\x9b31m"},           /* CSI */
        {"\xc2\x9f",                     "\\xc2\\x9f"},
        /* line and paragraph separators, bidi controls */
        {"\xe2\x80\xa8",                 "\\xe2\\x80\\xa8"},
        {"\xe2\x80\xa9",                 "\\xe2\\x80\\xa9"},
        {"\xe2\x80\xaa",                 "\\xe2\\x80\\xaa"},
        {"user \xe2\x80\xae" "txt.exe",  "user \\xe2\\x80\\xaetxt.exe"}, /* RLO */
        {"\xe2\x81\xa6",                 "\\xe2\\x81\\xa6"},
        {"\xe2\x81\xa9",                 "\\xe2\\x81\\xa9"},
    };
    /* clang-format on */
    for (size_t i = 0; i < S_COUNT(cases); i++) {
        pg_log("%s", cases[i].in);
        assert_string_equal(s_msg(), cases[i].out);
    }
}

static void test_escape_invalid_utf8(void **state) {
    (void)state;
    /* clang-format off */
    static const s_case_t cases[] = {
        {"\x80",             "\\x80"},                 /* stray continuation bytes */
        {"a\xbf" "b",        "a\\xbfb"},
        {"\xc0\xaf",         "\\xc0\\xaf"},            /* overlong '/' */
        {"\xc1\xbf",         "\\xc1\\xbf"},
        {"\xe0\x80\xaf",     "\\xe0\\x80\\xaf"},       /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"},  /* overlong, 4 bytes */
        {"\xed\xa0\x80",     "\\xed\\xa0\\x80"},       /* surrogate U+D800 */
        {"\xed\xbf\xbf",     "\\xed\\xbf\\xbf"},       /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  /* U+110000 */
        {"\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80"},
        {"\xfe\xff",         "\\xfe\\xff"},
        {"\xe2\x80",         "\\xe2\\x80"},            /* cut short at the end */
        {"\xe2\x80" "A",     "\\xe2\\x80A"},           /* cut short before ASCII */
        {"\xf0\x9f\x93",     "\\xf0\\x9f\\x93"},
        {"\xc3\xc3\xb1",     "\\xc3\xc3\xb1"},         /* a bad lead, then a good n-tilde */
        {"\xc2\n",           "\\xc2\\n"},
    };
    /* clang-format on */
    for (size_t i = 0; i < S_COUNT(cases); i++) {
        pg_log("%s", cases[i].in);
        assert_string_equal(s_msg(), cases[i].out);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* the line bound */

#define S_ROOM (PG_LOG_LINE_MAX - (sizeof S_PREFIX - 1) - 1) /* message bytes a line holds */

static void test_bound_exact_fit_and_one_more(void **state) {
    (void)state;
    char *msg = malloc(S_ROOM + 2);
    assert_non_null(msg);
    memset(msg, 'a', S_ROOM + 1);
    msg[S_ROOM] = '\0';
    pg_log("%s", msg); /* fits exactly: no "..." */
    const char *line = s_take();
    assert_int_equal(strlen(line), PG_LOG_LINE_MAX);
    assert_memory_equal(line + PG_LOG_LINE_MAX - 5, "aaaa\n", 5);

    msg[S_ROOM] = 'b';
    msg[S_ROOM + 1] = '\0';
    pg_log("%s", msg); /* one byte more: cut, "..." within the bound */
    line = s_take();
    assert_int_equal(strlen(line), PG_LOG_LINE_MAX);
    assert_memory_equal(line + PG_LOG_LINE_MAX - 5, "a...\n", 5);
    free(msg);
}

static void test_bound_huge_message(void **state) {
    (void)state;
    size_t n = 1 << 20;
    char *msg = malloc(n + 1);
    assert_non_null(msg);
    memset(msg, 'x', n);
    msg[n] = '\0';
    pg_log("%s and the end", msg);
    const char *line = s_take();
    assert_int_equal(strlen(line), PG_LOG_LINE_MAX);
    assert_memory_equal(line + PG_LOG_LINE_MAX - 5, "x...\n", 5);
    free(msg);
}

/* Cutting never splits an escape or a UTF-8 character, whatever the alignment. */
static void test_bound_cuts_between_units(void **state) {
    (void)state;
    static const char *const units[] = {"\x1b", "\xc3\xb1", "\xe2\x80\xae",
                                        "\xff", "\\",       "\xf0\x9f\x93\xb1"};
    static const char *const shown[] = {"\\x1b", "\xc3\xb1", "\\xe2\\x80\\xae",
                                        "\\xff", "\\\\",     "\xf0\x9f\x93\xb1"};
    for (size_t u = 0; u < S_COUNT(units); u++) {
        for (size_t pad = 0; pad < 16; pad++) {
            char msg[PG_LOG_LINE_MAX * 2];
            size_t w = 0;
            memset(msg, 'p', pad);
            w = pad;
            while (w + 8 < sizeof msg) {
                memcpy(msg + w, units[u], strlen(units[u]));
                w += strlen(units[u]);
            }
            msg[w] = '\0';
            pg_log("%s", msg);
            const char *line = s_take();
            size_t n = strlen(line);
            assert_true(n <= PG_LOG_LINE_MAX);
            assert_true(n > PG_LOG_LINE_MAX - 16);
            assert_memory_equal(line + n - 4, "...\n", 4);
            /* the message before "..." is the padding and whole escaped units */
            const char *p = line + strlen(S_PREFIX) + pad, *end = line + n - 4;
            size_t k = strlen(shown[u]);
            while (p < end) {
                assert_true((size_t)(end - p) >= k);
                assert_memory_equal(p, shown[u], k);
                p += k;
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* pg_log_quote */

static void test_quote(void **state) {
    (void)state;
    char buf[64];
    assert_string_equal(pg_log_quote(buf, sizeof buf, "sms-host-42", 64), "sms-host-42");
    assert_string_equal(pg_log_quote(buf, sizeof buf, "abcdefgh", 8), "abcdefgh");
    assert_string_equal(pg_log_quote(buf, sizeof buf, "abcdefgh", 4), "abcd...");
    assert_string_equal(pg_log_quote(buf, sizeof buf, NULL, 10), "");
    assert_string_equal(pg_log_quote(buf, sizeof buf, "", 10), "");
    assert_string_equal(pg_log_quote(buf, sizeof buf, "abc", 0), "...");
    assert_string_equal(pg_log_quote(buf, sizeof buf, "a\nb\x1b\xff\\", 64), "a\\nb\\x1b\\xff\\\\");
    /* max counts source bytes, and a character straddling it is left out whole */
    assert_string_equal(pg_log_quote(buf, sizeof buf, "aa\xc3\xb1z", 3), "aa...");
    assert_string_equal(pg_log_quote(buf, sizeof buf, "aa\xc3\xb1z", 4), "aa\xc3\xb1...");
    assert_string_equal(pg_log_quote(buf, sizeof buf, "aa\xc3\xb1", 4), "aa\xc3\xb1");
    /* an escape never straddles the buffer's end */
    assert_string_equal(pg_log_quote(buf, 8, "\x1b\x1b\x1b", 64), "\\x1b...");
    assert_string_equal(pg_log_quote(buf, 8, "abcdefg", 64), "abcdefg");
    assert_string_equal(pg_log_quote(buf, 8, "abcdefgh", 64), "abcd...");
    assert_string_equal(pg_log_quote(buf, 4, "abcdefgh", 64), "...");
    assert_string_equal(pg_log_quote(buf, 1, "abcdefgh", 64), "");
    char big[4096];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_string_equal(pg_log_quote(buf, sizeof buf, big, 4), "qqqq...");
    assert_int_equal(strlen(pg_log_quote(buf, sizeof buf, big, 1000)), sizeof buf - 1);

    /* by value: bounded at PG_LOG_QUOTED_MAX bytes, and even all escapes fit */
    char hostile[PG_LOG_QUOTED_MAX * 2];
    memset(hostile, '\x1b', sizeof hostile - 1);
    hostile[sizeof hostile - 1] = '\0';
    pg_log_quoted_t held = pg_log_quoted(hostile, SIZE_MAX);
    assert_int_equal(strlen(held.s), 4 * PG_LOG_QUOTED_MAX + 3);
    assert_string_equal(held.s + 4 * PG_LOG_QUOTED_MAX - 4, "\\x1b...");
    assert_string_equal(pg_log_quoted(big, 10).s, "qqqqqqqqqq...");
    assert_int_equal(strlen(pg_log_quoted(big, SIZE_MAX).s), PG_LOG_QUOTED_MAX + 3);
    assert_string_equal(pg_log_quoted("short", 10).s, "short");

    /* quoted inside a message, the escapes are escaped once more: still one clean line */
    char q[64];
    pg_log("worker \"%s\" joined", pg_log_quote(q, sizeof q, "evil\n\x1b[2J", 32));
    assert_string_equal(s_msg(), "worker \"evil\\\\n\\\\x1b[2J\" joined");
}

/* ------------------------------------------------------------------------------------------ */
/* pg_log_mask */

static void test_mask_phone(void **state) {
    (void)state;
    /* clang-format off */
    static const s_case_t cases[] = {
        {"+573001234567",    "+57******4567"},
        {"+14155550100",     "+14*****0100"},
        {"+1234567",         "+12***67"},        /* 7 digits: at least 3 hidden */
        {"+12345678",        "+12***678"},       /* 8 */
        {"+123456789",       "+12***6789"},
        {"+123456789012345", "+12*********2345"}, /* 15 */
    };
    /* clang-format on */
    char buf[PG_LOG_MASK_LEN];
    for (size_t i = 0; i < S_COUNT(cases); i++)
        assert_string_equal(pg_log_mask(buf, sizeof buf, cases[i].in), cases[i].out);
}

static void test_mask_email(void **state) {
    (void)state;
    static const s_case_t cases[] = {
        {"juan.perez@example.com", "ju***@example.com"},
        {"jp@example.com", "j***@example.com"},
        {"ana@x.co", "a***@x.co"},
        {"a@x.co", "***@x.co"},
        {"maría@bogotá.co", "ma***@bogotá.co"},
        {"a@b@example.com", "a***@example.com"}, /* the last '@' splits */
        {"ju\x1b[2J@ex.com", "ju***@ex.com"},
        {"x\ny@ex\r.com", "x***@ex\\r.com"},
    };
    char buf[PG_LOG_MASK_LEN];
    for (size_t i = 0; i < S_COUNT(cases); i++)
        assert_string_equal(pg_log_mask(buf, sizeof buf, cases[i].in), cases[i].out);
}

static void test_mask_other(void **state) {
    (void)state;
    /* clang-format off */
    static const s_case_t cases[] = {
        {"1234567890123456",          "12***56"},           /* a Messenger PSID */
        {"12345678",                  "12***78"},
        {"1234567",                   "1***7"},
        {"1234",                      "1***4"},
        {"123",                       "***"},
        {"+123456",                   "+***6"},             /* too short for a phone */
        {"+1234567890123456",         "+1***56"},           /* too long for a phone */
        {"+57 300 123 4567",          "+5***67"},           /* not E.164 */
        {"\xc3\xb1" "abcdefg\xc3\xb1", "\xc3\xb1" "a***g\xc3\xb1"}, /* characters, not bytes */
        {"\x1b" "abcdefg\n",          "\\x1b" "a***g\\n"},
        {"@abc",                      "@***c"},             /* no local part: not an address */
        {"abc@",                      "a***@"},
        {"",                          ""},
    };
    /* clang-format on */
    char buf[PG_LOG_MASK_LEN];
    for (size_t i = 0; i < S_COUNT(cases); i++)
        assert_string_equal(pg_log_mask(buf, sizeof buf, cases[i].in), cases[i].out);
    assert_string_equal(pg_log_mask(buf, sizeof buf, NULL), "");
}

static void test_mask_bounds(void **state) {
    (void)state;
    char buf[PG_LOG_MASK_LEN];
    assert_string_equal(pg_log_mask(buf, 8, "juan.perez@example.com"), "ju**...");
    assert_string_equal(pg_log_mask(buf, 1, "juan.perez@example.com"), "");
    /* a hostile domain is bounded, never overflows */
    char domain[2048];
    memset(domain, '\x1b', sizeof domain - 1);
    domain[0] = 'a';
    domain[1] = '@';
    domain[sizeof domain - 1] = '\0';
    pg_log_mask(buf, sizeof buf, domain);
    assert_true(strlen(buf) < sizeof buf);
    assert_memory_equal(buf, "***@\\x1b", 8);
    assert_string_equal(buf + strlen(buf) - 3, "...");
    /* a real address of the longest domain fits PG_LOG_MASK_LEN */
    char addr[300] = "someone@";
    for (int i = 0; i < 4; i++)
        strcat(addr, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk."); /* 63+1 */
    addr[strlen(addr) - 3] = '\0'; /* 253-byte domain */
    pg_log_mask(buf, sizeof buf, addr);
    assert_int_equal(strlen(buf), 2 + 4 + 253);
}

/* ------------------------------------------------------------------------------------------ */
/* masking inside pg_log */

static void test_log_masks_contacts(void **state) {
    (void)state;
    static const s_case_t cases[] = {
        {"to +573001234567 now", "to +57******4567 now"},
        {"(+573001234567).", "(+57******4567)."},
        {"a+14155550100b", "a+14*****0100b"},
        {"+123456 and +1234567890123456", "+123456 and +1234567890123456"}, /* 6 and 16 digits */
        {"From +15005550006 to +573001234567", "From +15*****0006 to +57******4567"},
        {"mail juan.perez@example.com, please", "mail ju***@example.com, please"},
        {"write to ana.maria@mail.example.co.uk.", "write to an***@mail.example.co.uk."},
        {"<jp@example.org>", "<j***@example.org>"},
        {"+573001234567@sms.example.com", "+5***@sms.example.com"},
        {"...juan@example.com", "...ju***@example.com"},
        {"a@b.com c@d.org", "***@b.com ***@d.org"},
        {"juan@localhost juan@example.c x@1.23 @example.com juan@.com juan@a..com",
         "juan@localhost juan@example.c x@1.23 @example.com juan@.com juan@a..com"},
        {"tcp://127.0.0.1:5556 sms-host-4242", "tcp://127.0.0.1:5556 sms-host-4242"},
    };
    for (size_t i = 0; i < S_COUNT(cases); i++) {
        pg_log("%s", cases[i].in);
        assert_string_equal(s_msg(), cases[i].out);
    }
}

/* A phone number the line's cut goes through is masked before the cut. */
static void test_log_masks_across_the_cut(void **state) {
    (void)state;
    for (size_t pad = S_ROOM - 20; pad < S_ROOM + 4; pad++) {
        char msg[PG_LOG_LINE_MAX + 64];
        memset(msg, 'x', pad);
        snprintf(msg + pad, sizeof msg - pad, " +573001234567 juan.perez@example.com");
        pg_log("%s", msg);
        const char *line = s_take();
        assert_null(strstr(line, "573"));
        assert_null(strstr(line, "juan"));
        assert_null(strstr(line, "1234"));
    }
}

/* However masking shortens the text, a contact cut by the formatting buffer is never shown
 * half unmasked (the slack past the line is internal: sweep every position). */
static void test_log_masks_at_the_format_cut(void **state) {
    (void)state;
    char msg[8192];
    size_t base = 0;
    for (int i = 0; i < 15; i++) { /* 15 addresses of 133 bytes that mask down to 18 */
        memset(msg + base, 'l', 120);
        memcpy(msg + base + 120, "@example.com ", 13);
        base += 133;
    }
    for (size_t pad = 0; pad < 1600; pad++) {
        memset(msg + base, 'y', pad);
        snprintf(msg + base + pad, sizeof msg - base - pad, "+573001234567 ana.maria@example.com");
        pg_log("%s", msg);
        const char *line = s_take();
        assert_null(strstr(line, "+573"));
        assert_null(strstr(line, "ana.m"));
        assert_null(strstr(line, "lll@"));
        assert_true(strlen(line) <= PG_LOG_LINE_MAX);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* one write per line */

#define S_WRITERS 4
#define S_LINES   400
#define S_BODY    1500

static void test_concurrent_writers_never_interleave(void **state) {
    (void)state;
    char path[] = "/tmp/test_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pid_t pids[S_WRITERS];
    for (int k = 0; k < S_WRITERS; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            int cfd = open(path, O_WRONLY | O_APPEND);
            FILE *f = cfd >= 0 ? fdopen(cfd, "a") : NULL;
            if (!f)
                _exit(1);
            pg_log_set_output(f);
            char body[S_BODY + 1];
            memset(body, 'A' + k, S_BODY);
            body[S_BODY] = '\0';
            for (int i = 0; i < S_LINES; i++)
                pg_log("%s", body);
            _exit(0);
        }
    }
    for (int k = 0; k < S_WRITERS; k++) {
        int status = 0;
        assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    char line[PG_LOG_LINE_MAX + 16];
    int lines = 0;
    while (fgets(line, sizeof line, in)) {
        size_t n = strlen(line);
        assert_int_equal(n, strlen(S_PREFIX) + S_BODY + 1);
        assert_memory_equal(line, S_PREFIX, strlen(S_PREFIX));
        char c = line[strlen(S_PREFIX)];
        for (size_t i = strlen(S_PREFIX); i < n - 1; i++)
            assert_int_equal(line[i], c);
        lines++;
    }
    fclose(in);
    unlink(path);
    assert_int_equal(lines, S_WRITERS * S_LINES);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_json_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_memstream_output, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_escape_ascii_controls, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_escape_unicode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_escape_invalid_utf8, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bound_exact_fit_and_one_more, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bound_huge_message, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bound_cuts_between_units, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_quote, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mask_phone, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mask_email, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mask_other, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mask_bounds, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_log_masks_contacts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_log_masks_across_the_cut, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_log_masks_at_the_format_cut, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers_never_interleave, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

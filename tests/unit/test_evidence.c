/* test_evidence.c — cmocka tests of brk_evidence: the canonical JSON of every kind of content
 * and its SHA-256 (expected values computed independently with Python's json.dumps(sort_keys,
 * compact separators, ensure_ascii=False) and hashlib), and the CONTENT records as they go to
 * Redis: exact arguments, the body only the first time a hash ships, again after a failed
 * flush. The records are read back from the other end of a socketpair that hiredis writes to
 * (redisConnectFd), with one reply per record written there beforehand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <jansson.h>

#include "brk_evidence.h"

#define TEXT_BODY  "{\"kind\":\"text\",\"text\":\"Hola Ana: \\\"$100\\\"\\nvence hoy é\\t/x\"}"
#define TEXT_HASH  "a1b0a9c0a3c279c8b8a1d7dc7c4e4f212d01f2bd11ac2534f1513d1eeb654c2c"
#define TEXT_VALUE "Hola Ana: \"$100\"\nvence hoy é\t/x"

static void s_check(const Pregon__Content *c, const char *body, const char *hash) {
    char h[65];
    char *b = brk_evidence_body(c, h);
    assert_non_null(b);
    assert_string_equal(b, body);
    assert_string_equal(h, hash);
    free(b);
}

static void s_text(Pregon__Content *c, Pregon__TextContent *t, const char *text) {
    *t = (Pregon__TextContent)PREGON__TEXT_CONTENT__INIT;
    t->text = (char *)text;
    *c = (Pregon__Content)PREGON__CONTENT__INIT;
    c->body_case = PREGON__CONTENT__BODY_TEXT;
    c->text = t;
}

static void test_bodies(void **state) {
    (void)state;
    Pregon__Content c;
    Pregon__TextContent t;
    s_text(&c, &t, TEXT_VALUE);
    s_check(&c, TEXT_BODY, TEXT_HASH);

    Pregon__EmailContent e = PREGON__EMAIL_CONTENT__INIT;
    e.subject = "Aviso";
    e.text = "t\001";
    e.html = "<p>h</p>";
    c = (Pregon__Content)PREGON__CONTENT__INIT;
    c.body_case = PREGON__CONTENT__BODY_EMAIL;
    c.email = &e;
    s_check(
        &c,
        "{\"html\":\"<p>h</p>\",\"kind\":\"email\",\"subject\":\"Aviso\",\"text\":\"t\\u0001\"}",
        "9896292f834d08caa2635f6d68575af3ad346408a51dc813acf5688db8b6f45f");

    Pregon__WhatsAppTemplate w = PREGON__WHATS_APP_TEMPLATE__INIT;
    char *body_params[] = {"Ana", "$100"}, *button_params[] = {"x1"};
    w.name = "aviso";
    w.language = "es_MX";
    w.body_params = body_params;
    w.n_body_params = 2;
    w.button_params = button_params;
    w.n_button_params = 1;
    w.text = "";
    c = (Pregon__Content)PREGON__CONTENT__INIT;
    c.body_case = PREGON__CONTENT__BODY_WHATSAPP;
    c.whatsapp = &w;
    s_check(&c,
            "{\"body_params\":[\"Ana\",\"$100\"],\"button_params\":[\"x1\"],\"header_params\":[],"
            "\"kind\":\"whatsapp\",\"language\":\"es_MX\",\"name\":\"aviso\",\"text\":\"\"}",
            "9b0006d004d56a455d77ce5c79caf7390b337152699c0c34b0a264c1ec1099ea");

    Pregon__DigitAction d1 = PREGON__DIGIT_ACTION__INIT, d2 = PREGON__DIGIT_ACTION__INIT;
    d1.digit = "1", d1.action = "transfer", d1.target = "+5255";
    d2.digit = "9", d2.action = "opt-out", d2.target = "";
    Pregon__DigitAction *digits[] = {&d1, &d2};
    Pregon__VoiceScript v = PREGON__VOICE_SCRIPT__INIT;
    v.speech = "Hola", v.voice = "Polly.Mia", v.language = "es-MX", v.voicemail = "";
    v.digits = digits;
    v.n_digits = 2;
    v.gather_timeout_s = 7;
    c = (Pregon__Content)PREGON__CONTENT__INIT;
    c.body_case = PREGON__CONTENT__BODY_VOICE;
    c.voice = &v;
    s_check(&c,
            "{\"digits\":[{\"action\":\"transfer\",\"digit\":\"1\",\"target\":\"+5255\"},"
            "{\"action\":\"opt-out\",\"digit\":\"9\",\"target\":\"\"}],\"gather_timeout_s\":7,"
            "\"kind\":\"voice\",\"language\":\"es-MX\",\"speech\":\"Hola\",\"voice\":\"Polly.Mia\","
            "\"voicemail\":\"\"}",
            "4cdbd4e20ab4f09f37ac4490124ad8f717aa8dcee2b38e6413008eca9ef80e7f");

    c = (Pregon__Content)PREGON__CONTENT__INIT;
    s_check(&c, "{\"kind\":\"none\"}",
            "2ff9cdff091aef6faf5f29ea2e9d90021c8046bb62ad5a5591d615403ad52203");
}

/* A text content's body is jansson's sorted compact object, byte for byte: every single byte,
 * UTF-8 of every length, and the invalid sequences jansson refuses (no body, no record). */
static void test_text_as_jansson(void **state) {
    (void)state;
    const char *cases[] = {"",
                           "plain",
                           "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                           "\xe2\x80\xa8",
                           "a\x7f\x1f\x1b\x0b",
                           "\xc0\xaf",
                           "\xed\xa0\x80",
                           "\xf4\x90\x80\x80",
                           "\xe2\x82",
                           "\xff",
                           "\x80"};
    char one[2] = {0, 0};
    for (size_t k = 0; k < 255 + sizeof cases / sizeof *cases; k++) {
        const char *text = one;
        if (k < 255)
            one[0] = (char)(k + 1);
        else
            text = cases[k - 255];
        json_t *o = json_pack("{s:s,s:s}", "kind", "text", "text", text);
        char *want = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        Pregon__Content c;
        Pregon__TextContent t;
        s_text(&c, &t, text);
        char h[65];
        char *got = brk_evidence_body(&c, h);
        if (!want || !got) {
            if (want || got)
                fail_msg("case %zu: jansson %s, brk_evidence %s", k, want ? "encodes" : "refuses",
                         got ? "encodes" : "refuses");
        } else if (strcmp(want, got) != 0) {
            fail_msg("case %zu: jansson %s, brk_evidence %s", k, want, got);
        }
        free(want);
        free(got);
    }
}

/* Reads one RESP array of bulk strings from fd into argv (malloc'd strings); its argc. */
static int s_read_cmd(FILE *in, char **argv, int max) {
    int argc = 0;
    if (fscanf(in, "*%d\r\n", &argc) != 1 || argc > max)
        return -1;
    for (int i = 0; i < argc; i++) {
        size_t len = 0;
        if (fscanf(in, "$%zu\r\n", &len) != 1)
            return -1;
        argv[i] = calloc(len + 1, 1);
        if (fread(argv[i], 1, len, in) != len || fgetc(in) != '\r' || fgetc(in) != '\n')
            return -1;
    }
    return argc;
}

static void s_free_cmd(char **argv, int argc) {
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

/* The records of one flush of n appends of req (attempts 1..n), replies from `replies`. */
static int s_flush_n(brk_evidence_t *ev, int fds[2], const Pregon__SendRequest *req,
                     const Pregon__Content *c, int n, const char *replies) {
    for (int i = 0; i < n; i++)
        assert_int_equal(brk_evidence_append(ev, req, (unsigned)(i + 1), c, 1700000000123), 1);
    assert_int_equal(write(fds[1], replies, strlen(replies)), (ssize_t)strlen(replies));
    redisContext *rc = redisConnectFd(fds[0]);
    assert_non_null(rc);
    int got = brk_evidence_flush(ev, rc);
    rc->fd = -1; /* the socket stays ours */
    redisFree(rc);
    return got;
}

static void test_records(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    brk_evidence_t *ev = brk_evidence_new("pg", 4);
    assert_non_null(ev);
    Pregon__SendRequest req = PREGON__SEND_REQUEST__INIT;
    req.job_id = "j1", req.tenant = "t", req.debtor_id = "d";
    req.channel = PREGON__CHANNEL__SMS;
    req.template_id = "aviso_mora_sms";
    Pregon__Content c;
    Pregon__TextContent t;
    s_text(&c, &t, TEXT_VALUE);

    assert_int_equal(s_flush_n(ev, fds, &req, &c, 2, "$1\r\na\r\n$1\r\nb\r\n"), 0);
    FILE *in = fdopen(fds[1], "r");
    assert_non_null(in);
    char key[64];
    snprintf(key, sizeof key, "pg:{s%d}:audit", 0);
    char *argv[40];
    for (int i = 0; i < 2; i++) {
        int argc = s_read_cmd(in, argv, 40);
        assert_int_equal(argc, i == 0 ? 27 : 25); /* the body the first time only */
        const char *want[] = {"XADD",
                              NULL,
                              "*",
                              "v",
                              "2",
                              "at",
                              "1700000000123",
                              "job",
                              "j1",
                              "tenant",
                              "t",
                              "debtor",
                              "d",
                              "channel",
                              "sms",
                              "from",
                              "dispatch",
                              "to",
                              "CONTENT",
                              "attempt",
                              i ? "2" : "1",
                              "template",
                              "aviso_mora_sms",
                              "content",
                              TEXT_HASH,
                              "body",
                              TEXT_BODY};
        for (int a = 0; a < argc; a++)
            if (a != 1)
                assert_string_equal(argv[a], want[a]);
        assert_non_null(strstr(argv[1], "}:audit"));
        assert_int_equal(strncmp(argv[1], "pg:{s", 5), 0);
        s_free_cmd(argv, argc);
    }
    /* a failed flush forgets the cache: the body ships again */
    assert_int_equal(s_flush_n(ev, fds, &req, &c, 1, "-ERR no\r\n"), -1);
    s_free_cmd(argv, s_read_cmd(in, argv, 40));
    assert_int_equal(s_flush_n(ev, fds, &req, &c, 1, "$1\r\nc\r\n"), 0);
    int argc = s_read_cmd(in, argv, 40);
    assert_int_equal(argc, 27);
    assert_string_equal(argv[26], TEXT_BODY);
    s_free_cmd(argv, argc);
    brk_evidence_destroy(&ev);
    assert_null(ev);
    fclose(in);
    close(fds[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_text_as_jansson),
        cmocka_unit_test(test_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_email.c — the e-mail channel's pure parts: the one-click token (pg_unsub), the warm-up
 * schedule and receiving-domain bookkeeping (em_domains, with a pinned clock and a state file),
 * the SMTP reply-code classes (em_smtp_classify), and a message built by GMime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "em_domains.h"
#include "em_message.h"
#include "em_smtp.h"
#include "pg_unsub.h"

static const char KEY[] = "k3y-shared-with-hooks";

static void test_token_round_trip(void **state) {
    (void)state;
    char tok[PG_UNSUB_TOKEN_MAX];
    int n = pg_unsub_token(KEY, strlen(KEY), "acme", "josé@ok.test", "mora-dic", tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal(strlen(tok), (size_t)n);
    assert_null(strpbrk(tok, "+/=")); /* base64url, no padding: a URL path segment */
    pg_unsub_ref_t ref;
    assert_int_equal(pg_unsub_verify(KEY, strlen(KEY), tok, &ref), 0);
    assert_string_equal(ref.tenant, "acme");
    assert_string_equal(ref.contact, "josé@ok.test");
    assert_string_equal(ref.campaign, "mora-dic");
    /* another key, a changed byte anywhere, a truncated token: refused */
    assert_int_equal(pg_unsub_verify("other", 5, tok, &ref), -1);
    assert_string_equal(ref.tenant, "");
    for (size_t i = 0; i < strlen(tok); i++) {
        char bad[PG_UNSUB_TOKEN_MAX];
        strcpy(bad, tok);
        if (bad[i] == '.')
            continue;
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_int_equal(pg_unsub_verify(KEY, strlen(KEY), bad, &ref), -1);
    }
    tok[n - 1] = '\0';
    assert_int_equal(pg_unsub_verify(KEY, strlen(KEY), tok, &ref), -1);
    assert_int_equal(pg_unsub_verify(KEY, strlen(KEY), "no-dot", &ref), -1);
    assert_int_equal(pg_unsub_verify(KEY, strlen(KEY), "", &ref), -1);
    /* fields that cannot be told apart are refused when signing */
    assert_int_equal(pg_unsub_token(KEY, strlen(KEY), "a\nb", "c", "d", tok, sizeof tok), -1);
    assert_int_equal(pg_unsub_token(KEY, 0, "a", "c", "d", tok, sizeof tok), -1);
    assert_int_equal(pg_unsub_token(KEY, strlen(KEY), "a", "c", "d", tok, 8), -1);
}

static void test_warmup_allowance(void **state) {
    (void)state;
    assert_int_equal(em_warmup_allowance(200, 100000, 1), 200);
    assert_int_equal(em_warmup_allowance(200, 100000, 0), 200);
    assert_int_equal(em_warmup_allowance(200, 100000, 2), 400);
    assert_int_equal(em_warmup_allowance(200, 100000, 5), 3200);
    assert_int_equal(em_warmup_allowance(200, 100000, 10), 100000); /* 102400 capped */
    assert_int_equal(em_warmup_allowance(200, 100000, 1000), 100000);
    assert_int_equal(em_warmup_allowance(200, 0, 40), 200LL << 39); /* no ceiling */
}

#define DAY 86400000LL

static void test_warmup_counts_and_state_file(void **state) {
    (void)state;
    char path[] = "/tmp/test_email_warmup.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path); /* a first start: no file */
    char err[256];
    int64_t day0 = 20000, now = day0 * DAY + 3600000, at = 0;
    em_domains_t *d = em_domains_new(path, 1000, 8000, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(em_domains_warmup(d, "Warm.test", day0, 3, 100), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(em_domains_take(d, "warm.test", "gmail.com", now, &at), EM_GO);
    assert_int_equal(em_domains_take(d, "warm.test", "gmail.com", now, &at), EM_WARMUP_FULL);
    assert_int_equal(at, (day0 + 1) * DAY); /* tomorrow, UTC */
    /* another sending domain is not warmed up */
    assert_int_equal(em_domains_take(d, "cold.test", "gmail.com", now, &at), EM_GO);
    /* a retry gives its count back; a bounce does not */
    em_domains_done(d, "warm.test", "gmail.com", true, now);
    em_domains_done(d, "warm.test", "gmail.com", false, now);
    int64_t count, allowance;
    em_domains_today(d, "warm.test", now, &count, &allowance);
    assert_int_equal(count, 2);
    assert_int_equal(allowance, 3);
    em_domains_destroy(&d);
    assert_null(d);
    /* a restart the same day finds the count */
    d = em_domains_new(path, 1000, 8000, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(em_domains_warmup(d, "warm.test", day0, 3, 100), 0);
    assert_int_equal(em_domains_take(d, "warm.test", "x.com", now, &at), EM_GO);
    assert_int_equal(em_domains_take(d, "warm.test", "x.com", now, &at), EM_WARMUP_FULL);
    /* the next day: 6 */
    for (int i = 0; i < 6; i++)
        assert_int_equal(em_domains_take(d, "warm.test", "x.com", now + DAY, &at), EM_GO);
    assert_int_equal(em_domains_take(d, "warm.test", "x.com", now + DAY, &at), EM_WARMUP_FULL);
    em_domains_destroy(&d);
    /* a state file that does not parse is refused */
    FILE *f = fopen(path, "w");
    fputs("{not json", f);
    fclose(f);
    assert_null(em_domains_new(path, 1000, 8000, err, sizeof err));
    assert_non_null(strstr(err, path));
    unlink(path);
}

static void test_domain_limits_and_backoff(void **state) {
    (void)state;
    char err[256];
    int64_t now = 1000000, at = 0;
    em_domains_t *d = em_domains_new(NULL, 1000, 4000, err, sizeof err);
    assert_int_equal(em_domains_limit(d, "gmail.com", 60, 2), 0);
    assert_int_equal(em_domains_take(d, "a.test", "gmail.com", now, &at), EM_GO);
    assert_int_equal(em_domains_take(d, "a.test", "GMAIL.com", now, &at), EM_GO);
    assert_int_equal(em_domains_take(d, "a.test", "gmail.com", now, &at), EM_DOMAIN_BUSY);
    em_domains_done(d, "a.test", "gmail.com", false, now);
    /* 60/min: a burst of 10 s worth (10), then one a second; the two above took two */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(em_domains_take(d, "a.test", "gmail.com", now, &at), EM_GO);
        em_domains_done(d, "a.test", "gmail.com", false, now);
    }
    assert_int_equal(em_domains_take(d, "a.test", "gmail.com", now, &at), EM_DOMAIN_RATE);
    assert_int_equal(at, now + 1000);
    /* unlimited elsewhere */
    for (int i = 0; i < 100; i++)
        assert_int_equal(em_domains_take(d, "a.test", "yahoo.com", now, &at), EM_GO);
    /* a 421 backs one domain off, doubling up to the cap, cleared by a success */
    assert_int_equal(em_domains_deferred(d, "slow.test", 0, now), 1000);
    assert_int_equal(em_domains_take(d, "a.test", "slow.test", now + 999, &at), EM_DOMAIN_BACKOFF);
    assert_int_equal(at, now + 1000);
    assert_int_equal(em_domains_take(d, "a.test", "fast.test", now + 999, &at), EM_GO);
    assert_int_equal(em_domains_deferred(d, "slow.test", 0, now), 2000);
    assert_int_equal(em_domains_deferred(d, "slow.test", 0, now), 4000);
    assert_int_equal(em_domains_deferred(d, "slow.test", 0, now), 4000);
    assert_int_equal(em_domains_deferred(d, "slow.test", 9000, now), 9000); /* Retry-After wins */
    assert_int_equal(em_domains_take(d, "a.test", "slow.test", now + 9000, &at), EM_GO);
    em_domains_accepted(d, "slow.test");
    assert_int_equal(em_domains_deferred(d, "slow.test", 0, now), 1000);
    em_domains_destroy(&d);
}

static void test_reply_codes(void **state) {
    (void)state;
    chw_result_t r;
    em_smtp_classify(250, CURLE_OK, "", &r);
    assert_int_equal(r.outcome, CHW_SENT);
    long retry[] = {421, 450, 451, 452};
    for (size_t i = 0; i < 4; i++) {
        em_smtp_classify(retry[i], CURLE_SEND_ERROR, "RCPT failed: 4xx", &r);
        assert_int_equal(r.outcome, CHW_RETRY);
        assert_int_equal(r.flags, 0);
    }
    long bounce[] = {550, 551, 553};
    for (size_t i = 0; i < 3; i++) {
        em_smtp_classify(bounce[i], CURLE_SEND_ERROR, "RCPT failed: 55x", &r);
        assert_int_equal(r.outcome, CHW_FAILED);
        assert_int_equal(r.flags, CHW_RESULT_SUPPRESS | CHW_RESULT_FALLBACK);
    }
    em_smtp_classify(550, CURLE_WEIRD_SERVER_REPLY, "", &r); /* 550 at the end of DATA */
    assert_int_equal(r.flags, CHW_RESULT_SUPPRESS | CHW_RESULT_FALLBACK);
    em_smtp_classify(554, CURLE_WEIRD_SERVER_REPLY, "", &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    assert_int_equal(r.flags, 0);
    assert_string_equal(r.provider_code, "554");
    em_smtp_classify(552, CURLE_WEIRD_SERVER_REPLY, "", &r);
    assert_int_equal(r.outcome, CHW_FAILED);
    em_smtp_classify(535, CURLE_LOGIN_DENIED, "Login denied", &r);
    assert_int_equal(r.outcome, CHW_CONFIG_ERROR);
    assert_non_null(strstr(em_smtp_halt_hint(&r), "SMTP_PASSWORD"));
    em_smtp_classify(550, CURLE_SEND_ERROR, "MAIL failed: 550", &r); /* our sender refused */
    assert_int_equal(r.outcome, CHW_CONFIG_ERROR);
    em_smtp_classify(250, CURLE_USE_SSL_FAILED, "", &r); /* no STARTTLS offered */
    assert_int_equal(r.outcome, CHW_CONFIG_ERROR);
    em_smtp_classify(250, CURLE_OPERATION_TIMEDOUT, "timed out", &r); /* cut before DATA */
    assert_int_equal(r.outcome, CHW_RETRY);
    em_smtp_classify(354, CURLE_OPERATION_TIMEDOUT, "timed out", &r); /* message sent, no answer */
    assert_int_equal(r.outcome, CHW_UNKNOWN);
}

static void test_message(void **state) {
    (void)state;
    em_message_t m = {.from_name = "Cobranzas Ñandú",
                      .from_addr = "avisos@acme.test",
                      .to_name = "José Pérez",
                      .to_addr = "jose@ok.test",
                      .subject = "Aviso — saldo",
                      .text = "Estimado José: Área de Servicio",
                      .html = "<p>Estimado José</p>",
                      .message_id = "pg.1@acme.test",
                      .date_s = 1796286000,
                      .job_ref = "acme/j1",
                      .unsub_url = "https://h.test/u/T.M",
                      .unsub_mailto = "mailto:bajas@acme.test"};
    char err[256];
    size_t len = 0;
    char *msg = em_message_build(&m, &len, err, sizeof err);
    assert_non_null(msg);
    assert_int_equal(strlen(msg), len);
    char *end = strstr(msg, "\r\n\r\n");
    assert_non_null(end);
    for (char *p = msg; p < end; p++)
        assert_true((unsigned char)*p < 0x80); /* headers: 7-bit, RFC 2047 */
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            assert_true(p > msg && p[-1] == '\r');
    assert_non_null(strstr(msg, "Message-Id: <pg.1@acme.test>"));
    assert_non_null(strstr(msg, "X-Pregon-Job: acme/j1"));
    assert_non_null(
        strstr(msg, "List-Unsubscribe: <https://h.test/u/T.M>, <mailto:bajas@acme.test>"));
    assert_non_null(strstr(msg, "List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert_non_null(strstr(msg, "multipart/alternative"));
    assert_non_null(strstr(msg, "=?UTF-8?"));
    free(msg);
    m.to_addr = NULL;
    assert_null(em_message_build(&m, &len, err, sizeof err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_round_trip),
        cmocka_unit_test(test_warmup_allowance),
        cmocka_unit_test(test_warmup_counts_and_state_file),
        cmocka_unit_test(test_domain_limits_and_backoff),
        cmocka_unit_test(test_reply_codes),
        cmocka_unit_test(test_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_sb_calls.c — cmocka tests of the pure parts of the sandbox's Twilio Calls: TwiML read
 * into verbs (sb_calls_twiml: attributes and defaults, nested Say in Gather, Dial's Number and
 * Sip, whitespace folding, speech durations, 12100 for what is not XML, 12200 for what is not
 * TwiML, no external entity fetched) and the callee script (sb_calls_callee: longest prefix,
 * uses per rule, presses, bad rules refused whole, odds replayed by seed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sb_calls_callee.h"
#include "sb_calls_twiml.h"

static sb_twiml_t *s_parse(const char *xml, int *code) {
    char err[256];
    return sb_twiml_parse(xml, strlen(xml), code, err, sizeof err);
}

static void test_twiml_menu(void **state) {
    (void)state;
    int code = -1;
    sb_twiml_t *t =
        s_parse("<?xml version=\"1.0\"?><Response>\n"
                "  <Gather numDigits=\"1\" action=\"/ivr/digits?job=1\" timeout=\"6\">\n"
                "    <Say language=\"es-MX\" voice=\"Polly.Mia\">Hola   Juan,\n marque"
                " 1.</Say><Pause length=\"2\"/>\n  </Gather>\n"
                "  <Say loop=\"2\">Adiós</Say>\n"
                "  <Dial callerId=\"+15005550006\" timeout=\"20\" action=\"/d\">"
                "<Number>+525555555000</Number></Dial>\n"
                "  <Dial><Sip>sip:a@b.example</Sip></Dial><Dial>+15551112222</Dial>\n"
                "  <Redirect method=\"GET\">/again</Redirect><Hangup/>\n"
                "</Response>",
                &code);
    assert_non_null(t);
    assert_int_equal(t->n, 7);
    const sb_tw_verb_t *g = &t->verbs[0];
    assert_int_equal(g->kind, SB_TW_GATHER);
    assert_int_equal(g->num_digits, 1);
    assert_int_equal(g->timeout_s, 6);
    assert_int_equal(g->finish_on_key, '#');
    assert_string_equal(g->action, "/ivr/digits?job=1");
    assert_string_equal(g->method, "POST");
    assert_int_equal(g->n_children, 2);
    assert_int_equal(g->children[0].kind, SB_TW_SAY);
    assert_string_equal(g->children[0].text, "Hola Juan, marque 1.");
    assert_string_equal(g->children[0].language, "es-MX");
    assert_string_equal(g->children[0].voice, "Polly.Mia");
    assert_int_equal(g->children[1].kind, SB_TW_PAUSE);
    assert_int_equal(g->children[1].length_s, 2);
    assert_int_equal(t->verbs[1].loop, 2);
    const sb_tw_verb_t *d = &t->verbs[2];
    assert_int_equal(d->kind, SB_TW_DIAL);
    assert_string_equal(d->text, "+525555555000");
    assert_string_equal(d->caller_id, "+15005550006");
    assert_int_equal(d->timeout_s, 20);
    assert_false(d->sip);
    assert_true(t->verbs[3].sip);
    assert_string_equal(t->verbs[3].text, "sip:a@b.example");
    assert_int_equal(t->verbs[3].timeout_s, 30);
    assert_null(t->verbs[3].action);
    assert_string_equal(t->verbs[4].text, "+15551112222");
    assert_int_equal(t->verbs[5].kind, SB_TW_REDIRECT);
    assert_string_equal(t->verbs[5].method, "GET");
    assert_int_equal(t->verbs[6].kind, SB_TW_HANGUP);
    /* 4 words at 150 a minute: 2 s; Play 5 s; Pause its length */
    assert_int_equal(sb_twiml_speech_s(&g->children[0]), 2);
    assert_int_equal(sb_twiml_speech_s(&g->children[1]), 2);
    assert_int_equal(sb_twiml_speech_s(&t->verbs[1]), 1);
    assert_string_equal(sb_twiml_kind_name(SB_TW_GATHER), "Gather");
    sb_twiml_destroy(&t);
    assert_null(t);
    sb_twiml_destroy(&t);
}

static void test_twiml_errors(void **state) {
    (void)state;
    int code = 0;
    assert_null(s_parse("this is <not xml", &code));
    assert_int_equal(code, 12100);
    assert_null(s_parse("", &code));
    assert_int_equal(code, 12100);
    assert_null(s_parse("<Reply><Say>x</Say></Reply>", &code));
    assert_int_equal(code, 12200);
    assert_null(s_parse("<Response><Dance/></Response>", &code));
    assert_int_equal(code, 12200);
    assert_null(s_parse("<Response><Gather><Dial>+1555</Dial></Gather></Response>", &code));
    assert_int_equal(code, 12200);
    assert_null(s_parse("<Response><Dial><Conference>x</Conference></Dial></Response>", &code));
    assert_int_equal(code, 12200);
    assert_null(s_parse("<Response><Dial/></Response>", &code));
    assert_int_equal(code, 12200);
    assert_null(s_parse("<Response><Pause length=\"-1\"/></Response>", &code));
    assert_int_equal(code, 12200);
    assert_null(s_parse("<Response><Gather method=\"PUT\"/></Response>", &code));
    assert_int_equal(code, 12200);
    /* an external entity is neither fetched nor expanded */
    sb_twiml_t *t = s_parse("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
                            "\"file:///etc/passwd\">]><Response><Say>a&x;b</Say></Response>",
                            &code);
    if (t) {
        assert_int_equal(t->n, 1);
        assert_null(strstr(t->verbs[0].text ? t->verbs[0].text : "", "root"));
        sb_twiml_destroy(&t);
    }
    /* an empty Response hangs up at once: no verbs */
    assert_non_null(t = s_parse("<Response/>", &code));
    assert_int_equal(t->n, 0);
    sb_twiml_destroy(&t);
}

static json_t *s_json(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static void test_callee_rules(void **state) {
    (void)state;
    sb_callees_t *c = sb_callees_new(1);
    assert_non_null(c);
    char err[256];
    json_t *j = s_json("[{\"number\": \"+1555\", \"answer\": \"machine\", \"greeting_s\": 4},"
                       " {\"number\": \"+15551\", \"answer\": \"human\", \"press\": [\"1\", "
                       "{\"digits\": \"9\", \"after_s\": 0.5}, null], \"times\": 2,"
                       " \"transfer\": \"busy\", \"talk_s\": 7, \"hangup_s\": 30}]");
    assert_int_equal(sb_callees_add_json(c, j, err, sizeof err), 2);
    json_decref(j);
    sb_callee_t k;
    sb_callees_pick(c, "+15551000", &k); /* the longer prefix, use 1 of 2 */
    assert_int_equal(k.answer, SB_CALLEE_HUMAN);
    assert_string_equal(k.rule, "+15551");
    assert_int_equal(k.n_presses, 3);
    assert_string_equal(k.presses[0].digits, "1");
    assert_int_equal(k.presses[0].after_ms, 2000);
    assert_string_equal(k.presses[1].digits, "9");
    assert_int_equal(k.presses[1].after_ms, 500);
    assert_string_equal(k.presses[2].digits, "");
    assert_int_equal(k.transfer, SB_DIAL_BUSY);
    assert_int_equal(k.talk_ms, 7000);
    assert_int_equal(k.hangup_ms, 30000);
    assert_int_equal(k.ring_ms, 3000);
    sb_callees_pick(c, "+15551000", &k); /* use 2 of 2: then dropped */
    assert_string_equal(k.rule, "+15551");
    sb_callees_pick(c, "+15551000", &k);
    assert_string_equal(k.rule, "+1555");
    assert_int_equal(k.answer, SB_CALLEE_MACHINE);
    assert_int_equal(k.greeting_ms, 4000);
    sb_callees_pick(c, "+4930", &k); /* no rule: the odds, human by default */
    assert_string_equal(k.rule, "");
    assert_int_equal(k.answer, SB_CALLEE_HUMAN);
    assert_int_equal(k.n_presses, 0);
    /* a bad rule anywhere refuses the whole list */
    const char *bad[] = {
        "[{\"number\": \"+1\"}, {\"number\": \"+2\", \"answer\": \"maybe\"}]",
        "{\"number\": \"+1\", \"press\": \"12a\"}",
        "{\"number\": \"+1\", \"ring_s\": -1}",
        "{\"number\": \"+1\", \"colour\": \"red\"}",
        "{\"answer\": \"human\"}",
        "{\"number\": \"+1\", \"times\": -2}",
        "{\"number\": \"+1\", \"transfer\": \"maybe\"}",
        "[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = s_json(bad[i]);
        assert_int_equal(sb_callees_add_json(c, j, err, sizeof err), -1);
        json_decref(j);
    }
    json_t *list = sb_callees_json(c);
    assert_int_equal(json_array_size(json_object_get(list, "rules")), 1);
    json_decref(list);
    sb_callees_clear(c);
    sb_callees_pick(c, "+15551000", &k);
    assert_string_equal(k.rule, "");
    sb_callees_destroy(&c);
    assert_null(c);
}

/* Answers drawn from odds: a seed replays them; weights shape them. */
static void test_callee_odds(void **state) {
    (void)state;
    char err[256];
    int counts[2][5] = {{0}}, presses[2] = {0};
    for (int run = 0; run < 2; run++) {
        sb_callees_t *c = sb_callees_new(42);
        json_t *o = s_json("{\"human\": 3, \"machine\": 1, \"busy\": 0, \"digits\": {\"1\": 0.5}}");
        assert_int_equal(sb_callees_set_odds_json(c, o, err, sizeof err), 0);
        json_decref(o);
        for (int i = 0; i < 4000; i++) {
            sb_callee_t k;
            sb_callees_pick(c, "+1", &k);
            counts[run][k.answer]++;
            presses[run] += k.n_presses == 1 && strcmp(k.presses[0].digits, "1") == 0;
        }
        sb_callees_destroy(&c);
    }
    assert_memory_equal(counts[0], counts[1], sizeof counts[0]);
    assert_int_equal(presses[0], presses[1]);
    assert_in_range(counts[0][SB_CALLEE_HUMAN], 2800, 3200);
    assert_in_range(counts[0][SB_CALLEE_MACHINE], 800, 1200);
    assert_int_equal(counts[0][SB_CALLEE_BUSY] + counts[0][SB_CALLEE_FAILED] +
                         counts[0][SB_CALLEE_NO_ANSWER],
                     0);
    assert_in_range(presses[0], 1800, 2200);
    sb_callees_t *c = sb_callees_new(1);
    const char *bad[] = {"{\"human\": 0}",
                         "{\"human\": -1}",
                         "{\"robot\": 1}",
                         "{\"human\": 1, \"digits\": {\"1\": 0.7, \"2\": 0.7}}",
                         "{\"human\": 1, \"transfer_answered\": 2}",
                         "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *o = s_json(bad[i]);
        assert_int_equal(sb_callees_set_odds_json(c, o, err, sizeof err), -1);
        json_decref(o);
    }
    sb_callees_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twiml_menu),
        cmocka_unit_test(test_twiml_errors),
        cmocka_unit_test(test_callee_rules),
        cmocka_unit_test(test_callee_odds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

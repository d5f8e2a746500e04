/* hk_voice_test.c — the IVR's TwiML: well-formed XML (libxml2 parses it back), the script's
 * text escaped by the writer (never concatenated), the Gather repeated as configured, then the
 * goodbye and a hang-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "hk_twilio_voice.h"

static int s_count(xmlDocPtr doc, const char *xpath) {
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
    int n = o && o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return n;
}

static char *s_text(xmlDocPtr doc, const char *xpath) {
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
    char *out = NULL;
    if (o && o->nodesetval && o->nodesetval->nodeNr > 0) {
        xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
        out = strdup((const char *)t);
        xmlFree(t);
    }
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return out;
}

static void test_twiml(void **state) {
    (void)state;
    Pregon__VoiceScript sc = PREGON__VOICE_SCRIPT__INIT;
    sc.speech = "Hola Ana <b>&amp; \"Cía\"</b>. Su saldo es de un millón de pesos.";
    sc.language = "es-CO";
    sc.voice = "Polly.Lupe";
    sc.gather_timeout_s = 5;
    sc.no_input_repeats = 1;
    sc.goodbye = "Hasta luego.";
    char *twiml = hk_twilio_voice_twiml(&sc, "https://h.example/twilio/voice/gather?t=a&j=b&s=c");
    assert_non_null(twiml);
    xmlDocPtr doc = xmlReadMemory(twiml, (int)strlen(twiml), "twiml.xml", "UTF-8", XML_PARSE_NONET);
    assert_non_null(doc);
    assert_int_equal(s_count(doc, "/Response/Gather"), 2);
    assert_int_equal(s_count(doc, "/Response/Gather[@numDigits='1' and @timeout='5' and "
                                  "@method='POST' and @input='dtmf']"),
                     2);
    assert_int_equal(
        s_count(doc,
                "/Response/Gather[@action='https://h.example/twilio/voice/gather?t=a&j=b&s=c']"),
        2);
    assert_int_equal(
        s_count(doc, "/Response/Gather/Say[@language='es-CO' and @voice='Polly.Lupe']"), 2);
    char *said = s_text(doc, "/Response/Gather[1]/Say");
    assert_string_equal(said, sc.speech); /* markup in the text stays text */
    free(said);
    assert_int_equal(s_count(doc, "/Response/Gather/Say/*"), 0);
    char *bye = s_text(doc, "/Response/Say");
    assert_string_equal(bye, "Hasta luego.");
    free(bye);
    assert_int_equal(s_count(doc, "/Response/*[last()][self::Hangup]"), 1);
    xmlFreeDoc(doc);
    free(twiml);

    sc.no_input_repeats = 0;
    sc.goodbye = "";
    sc.voice = "";
    twiml = hk_twilio_voice_twiml(&sc, "u");
    doc = xmlReadMemory(twiml, (int)strlen(twiml), "twiml.xml", "UTF-8", XML_PARSE_NONET);
    assert_non_null(doc);
    assert_int_equal(s_count(doc, "/Response/Gather"), 1);
    assert_int_equal(s_count(doc, "/Response/Say"), 0);
    assert_int_equal(s_count(doc, "//Say[@voice]"), 0);
    xmlFreeDoc(doc);
    free(twiml);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_twiml)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return rc;
}

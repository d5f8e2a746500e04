/* hk_twilio_voice.c — Twilio Calls webhooks and the TwiML of the IVR (see hk_twilio_voice.h).
 *
 * TwiML is written with libxml2's xmlTextWriter (escaping is the writer's, never ours). The
 * routes' URLs for the next step (Gather action, Dial action) are this request's public URL
 * with its path replaced and its query kept, so they carry the same signed call token. */
#include "hk_twilio_voice.h"

#include "pg_callsig.h"
#include "pg_sig.h"

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROVIDER         "twilio-voice"
#define S_DEFAULT_GATHER_S 6

typedef struct {
    const hk_secrets_t *tokens;
    char *url_key;
} s_ctx_t;

static const char *s_form(const hk_request_t *req, const char *name) {
    const pg_form_t *f = pg_http_request_form(req->http);
    const char *v = f ? pg_form_get(f, name) : NULL;
    return v ? v : "";
}

/* Both signatures; NULL when good, else the refusal reason. */
static const char *s_check(const s_ctx_t *c, const hk_request_t *req) {
    const char *sig = pg_http_request_header(req->http, "X-Twilio-Signature");
    if (!sig || !*sig)
        return "unsigned";
    const pg_form_t *form = pg_http_request_form(req->http);
    const char *token = hk_secrets_get(c->tokens, form ? pg_form_get(form, "AccountSid") : NULL);
    if (!token)
        return "unknown-account";
    if (!pg_sig_twilio_verify(token, req->url, form, sig))
        return "forged";
    const char *t = pg_http_request_query(req->http, "t"),
               *j = pg_http_request_query(req->http, "j");
    const char *l = pg_http_request_query(req->http, "l"),
               *s = pg_http_request_query(req->http, "s");
    return pg_callsig_verify(c->url_key, t, j, l, s) ? NULL : "bad-call-token";
}

/* Checks, then asks for the script of the call's job. */
static hk_verdict_t s_need_script(void *ctx, const hk_request_t *req, hk_result_t *res) {
    if ((res->reason = s_check(ctx, req)))
        return HK_REFUSE;
    if (!*s_form(req, "CallSid")) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    return hk_result_script(res, pg_http_request_query(req->http, "t"),
                            pg_http_request_query(req->http, "j"),
                            pg_http_request_query(req->http, "l")) < 0
               ? HK_NOMEM
               : HK_SCRIPT;
}

/* This request's URL with "/twilio/voice/<route>" as its path and extra appended to the query. */
static char *s_sibling(const hk_request_t *req, const char *route, const char *extra) {
    const char *at = strstr(req->url, "/twilio/voice/");
    const char *q = strchr(req->url, '?');
    if (!at || !q)
        return NULL;
    size_t n =
        (size_t)(at - req->url) + strlen(route) + strlen(q) + (extra ? strlen(extra) : 0) + 32;
    char *url = malloc(n);
    if (url)
        snprintf(url, n, "%.*s/twilio/voice/%s%s%s", (int)(at - req->url), req->url, route, q,
                 extra ? extra : "");
    return url;
}

/* --- TwiML ------------------------------------------------------------------------------- */

typedef struct {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    bool failed;
} s_twiml_t;

#define S_X(s) ((const xmlChar *)(s))

static void s_ok(s_twiml_t *t, int rc) {
    if (rc < 0)
        t->failed = true;
}

static int s_open(s_twiml_t *t) {
    t->failed = false;
    t->buf = xmlBufferCreate();
    t->w = t->buf ? xmlNewTextWriterMemory(t->buf, 0) : NULL;
    if (!t->w) {
        if (t->buf)
            xmlBufferFree(t->buf);
        return -1;
    }
    s_ok(t, xmlTextWriterStartDocument(t->w, NULL, "UTF-8", NULL));
    s_ok(t, xmlTextWriterStartElement(t->w, S_X("Response")));
    return 0;
}

static void s_attr(s_twiml_t *t, const char *name, const char *value) {
    if (value && *value)
        s_ok(t, xmlTextWriterWriteAttribute(t->w, S_X(name), S_X(value)));
}

static void s_attr_u(s_twiml_t *t, const char *name, unsigned v) {
    char num[16];
    snprintf(num, sizeof num, "%u", v);
    s_attr(t, name, num);
}

static void s_say(s_twiml_t *t, const Pregon__VoiceScript *sc, const char *text) {
    if (!text || !*text)
        return;
    s_ok(t, xmlTextWriterStartElement(t->w, S_X("Say")));
    if (sc) {
        s_attr(t, "language", sc->language);
        s_attr(t, "voice", sc->voice);
    }
    s_ok(t, xmlTextWriterWriteString(t->w, S_X(text)));
    s_ok(t, xmlTextWriterEndElement(t->w));
}

static void s_empty(s_twiml_t *t, const char *name) {
    s_ok(t, xmlTextWriterStartElement(t->w, S_X(name)));
    s_ok(t, xmlTextWriterEndElement(t->w));
}

/* Closes the document; a malloc'd copy of it, or NULL. */
static char *s_close(s_twiml_t *t) {
    s_ok(t, xmlTextWriterEndDocument(t->w));
    xmlFreeTextWriter(t->w);
    char *out = t->failed ? NULL : strdup((const char *)xmlBufferContent(t->buf));
    xmlBufferFree(t->buf);
    return out;
}

static void s_gather(s_twiml_t *t, const Pregon__VoiceScript *sc, const char *action) {
    s_ok(t, xmlTextWriterStartElement(t->w, S_X("Gather")));
    s_attr(t, "input", "dtmf");
    s_attr(t, "numDigits", "1");
    s_attr_u(t, "timeout", sc->gather_timeout_s ? sc->gather_timeout_s : S_DEFAULT_GATHER_S);
    s_attr(t, "action", action);
    s_attr(t, "method", "POST");
    s_say(t, sc, sc->speech);
    s_ok(t, xmlTextWriterEndElement(t->w));
}

char *hk_twilio_voice_twiml(const Pregon__VoiceScript *sc, const char *gather_url) {
    s_twiml_t t;
    if (s_open(&t) < 0)
        return NULL;
    s_gather(&t, sc, gather_url);
    for (uint32_t i = 0; i < sc->no_input_repeats && i < 3; i++)
        s_gather(&t, sc, gather_url); /* no digit: Twilio runs the verbs after a Gather */
    s_say(&t, sc, sc->goodbye);
    s_empty(&t, "Hangup");
    return s_close(&t);
}

/* <Say>text</Say><Hangup/> (text may be NULL). */
static char *s_say_hangup(const Pregon__VoiceScript *sc, const char *text) {
    s_twiml_t t;
    if (s_open(&t) < 0)
        return NULL;
    s_say(&t, sc, text);
    s_empty(&t, "Hangup");
    return s_close(&t);
}

static hk_verdict_t s_body(hk_result_t *res, char *twiml) {
    if (!twiml)
        return HK_NOMEM;
    int rc = hk_result_set_body(res, "text/xml", twiml);
    free(twiml);
    return rc < 0 ? HK_NOMEM : HK_ANSWER;
}

/* --- events ------------------------------------------------------------------------------ */

/* An event about the call's job: tenant, debtor, job, contact from the script's job (when
 * there is one), the call's sid, our number. */
static hk_event_t *s_event(hk_result_t *res, int kind, const hk_request_t *req,
                           const Pregon__SendRequest *job, const char *event_suffix) {
    hk_event_t *ev = hk_result_add_event(res);
    if (!ev)
        return NULL;
    ev->kind = kind;
    ev->channel = PREGON__CHANNEL__VOICE;
    const char *sid = s_form(req, "CallSid");
    size_t n = strlen(sid) + strlen(event_suffix) + 2;
    char *id = malloc(n);
    if (!id)
        return NULL;
    snprintf(id, n, "%s:%s", sid, event_suffix);
    ev->event_id = id;
    if (hk_event_set(&ev->provider, S_PROVIDER) < 0 || hk_event_set(&ev->provider_id, sid) < 0 ||
        hk_event_set(&ev->sender, s_form(req, "From")) < 0)
        return NULL;
    if (job && (hk_event_set(&ev->tenant, job->tenant) < 0 ||
                hk_event_set(&ev->debtor_id, job->debtor_id) < 0 ||
                hk_event_set(&ev->job_id, job->job_id) < 0 ||
                hk_event_set(&ev->contact, job->contact) < 0 ||
                hk_event_set(&ev->campaign, job->campaign) < 0 ||
                hk_event_set(&ev->template_id, job->template_id) < 0))
        return NULL;
    return ev;
}

static const Pregon__VoiceScript *s_script_of(const Pregon__ScriptReply *reply) {
    if (!reply || reply->error[0] || !reply->job || !reply->content ||
        reply->content->body_case != PREGON__CONTENT__BODY_VOICE)
        return NULL;
    return reply->content->voice;
}

/* --- routes -------------------------------------------------------------------------------- */

static hk_verdict_t s_twiml(void *ctx, const hk_request_t *req, const Pregon__ScriptReply *reply,
                            hk_result_t *res) {
    (void)ctx;
    const Pregon__VoiceScript *sc = s_script_of(reply);
    if (!sc)
        return s_body(res, s_say_hangup(NULL, NULL));
    const char *by = s_form(req, "AnsweredBy");
    if (!strncmp(by, "machine", 7) || !strcmp(by, "fax"))
        return s_body(res, s_say_hangup(sc, sc->voicemail)); /* no event: an attempt, no contact */
    hk_event_t *ev =
        s_event(res, PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS, req, reply->job, "answered");
    if (!ev || hk_event_set(&ev->status, "delivered") < 0)
        return HK_NOMEM;
    char *gather = s_sibling(req, "gather", NULL);
    if (!gather)
        return HK_NOMEM;
    char *twiml = hk_twilio_voice_twiml(sc, gather);
    free(gather);
    return s_body(res, twiml);
}

static const Pregon__DigitAction *s_action(const Pregon__VoiceScript *sc, const char *digit) {
    for (size_t i = 0; digit[0] && !digit[1] && i < sc->n_digits; i++)
        if (!strcmp(sc->digits[i]->digit, digit))
            return sc->digits[i];
    return NULL;
}

static const Pregon__VoiceTransfer *s_transfer(const Pregon__VoiceScript *sc, const char *digit) {
    for (size_t i = 0; i < sc->n_transfers; i++)
        if (!strcmp(sc->transfers[i]->digit, digit))
            return sc->transfers[i];
    return NULL;
}

static char *s_dial(const hk_request_t *req, const Pregon__VoiceScript *sc,
                    const Pregon__DigitAction *a) {
    const Pregon__VoiceTransfer *x = s_transfer(sc, a->digit);
    char extra[16];
    snprintf(extra, sizeof extra, "&d=%s", a->digit);
    char *action = s_sibling(req, "dial", extra);
    s_twiml_t t;
    if (!action || s_open(&t) < 0) {
        free(action);
        return NULL;
    }
    s_say(&t, sc, a->say);
    s_ok(&t, xmlTextWriterStartElement(t.w, S_X("Dial")));
    s_attr(&t, "callerId", x && x->caller_id[0] ? x->caller_id : s_form(req, "From"));
    if (x && x->timeout_s)
        s_attr_u(&t, "timeout", x->timeout_s);
    s_attr(&t, "action", action);
    s_attr(&t, "method", "POST");
    bool sip = !strncmp(a->target, "sip:", 4) || !strncmp(a->target, "sips:", 5);
    s_ok(&t, xmlTextWriterStartElement(t.w, S_X(sip ? "Sip" : "Number")));
    s_ok(&t, xmlTextWriterWriteString(t.w, S_X(a->target)));
    s_ok(&t, xmlTextWriterEndElement(t.w));
    s_ok(&t, xmlTextWriterEndElement(t.w));
    free(action);
    return s_close(&t);
}

static hk_verdict_t s_gather_done(void *ctx, const hk_request_t *req,
                                  const Pregon__ScriptReply *reply, hk_result_t *res) {
    (void)ctx;
    const Pregon__VoiceScript *sc = s_script_of(reply);
    if (!sc)
        return s_body(res, s_say_hangup(NULL, NULL));
    const char *digits = s_form(req, "Digits");
    const Pregon__DigitAction *a = s_action(sc, digits);
    if (digits[0]) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "digits:%.8s", digits);
        hk_event_t *ev =
            s_event(res, PREGON__INBOUND_EVENT__KIND__IVR_DIGITS, req, reply->job, suffix);
        if (!ev || hk_event_set(&ev->digits, digits) < 0 ||
            hk_event_set(&ev->text, a ? a->action : "unmapped") < 0)
            return HK_NOMEM;
    }
    if (!a || !strcmp(a->action, "repeat")) {
        char *gather = s_sibling(req, "gather", NULL);
        if (!gather)
            return HK_NOMEM;
        char *twiml = hk_twilio_voice_twiml(sc, gather);
        free(gather);
        return s_body(res, twiml);
    }
    if (!strcmp(a->action, "transfer"))
        return s_body(res, s_dial(req, sc, a));
    int kind = !strcmp(a->action, "opt-out")        ? PREGON__INBOUND_EVENT__KIND__OPT_OUT
               : !strcmp(a->action, "wrong-number") ? PREGON__INBOUND_EVENT__KIND__WRONG_NUMBER
                                                    : 0;
    if (kind) {
        hk_event_t *ev = s_event(res, kind, req, reply->job, a->action);
        if (!ev || hk_event_set(&ev->digits, digits) < 0 || hk_event_set(&ev->text, a->action) < 0)
            return HK_NOMEM;
        if (kind == PREGON__INBOUND_EVENT__KIND__WRONG_NUMBER)
            ev->fallback_eligible = reply->job->fallback_on_wrong_number;
    }
    return s_body(res, s_say_hangup(sc, a->say[0] ? a->say : sc->goodbye));
}

static hk_verdict_t s_dial_done(void *ctx, const hk_request_t *req,
                                const Pregon__ScriptReply *reply, hk_result_t *res) {
    (void)ctx;
    const char *st = s_form(req, "DialCallStatus");
    if ((!strcmp(st, "completed") || !strcmp(st, "answered")) && reply && !reply->error[0] &&
        reply->job) {
        hk_event_t *ev = s_event(res, PREGON__INBOUND_EVENT__KIND__CONVERSATION, req, reply->job,
                                 "conversation");
        if (!ev || hk_event_set(&ev->status, st) < 0 ||
            hk_event_set(&ev->digits, pg_http_request_query(req->http, "d")) < 0)
            return HK_NOMEM;
    }
    return s_body(res, s_say_hangup(NULL, NULL));
}

static hk_verdict_t s_status(void *ctx, const hk_request_t *req, hk_result_t *res) {
    if ((res->reason = s_check(ctx, req)))
        return HK_REFUSE;
    const char *sid = s_form(req, "CallSid"), *st = s_form(req, "CallStatus");
    if (!*sid || !*st) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    if (!strcmp(st, "busy") || !strcmp(st, "no-answer") || !strcmp(st, "failed") ||
        !strcmp(st, "canceled")) {
        hk_event_t *ev = s_event(res, PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS, req, NULL, st);
        if (!ev || hk_event_set(&ev->status, "failed") < 0 ||
            hk_event_set(&ev->error_code, st) < 0 ||
            hk_event_set(&ev->tenant, pg_http_request_query(req->http, "t")) < 0 ||
            hk_event_set(&ev->job_id, pg_http_request_query(req->http, "j")) < 0 ||
            hk_event_set(&ev->contact, s_form(req, "To")) < 0)
            return HK_NOMEM;
    } else if (!strcmp(st, "completed")) {
        /* the call is over (its outcome came with the answer): pregond frees its line */
        hk_event_t *ev = s_event(res, PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS, req, NULL, st);
        if (!ev || hk_event_set(&ev->status, "completed") < 0)
            return HK_NOMEM;
    }
    return s_body(res, s_say_hangup(NULL, NULL));
}

static const hk_route_t s_routes[] = {
    {"POST", "/twilio/voice/twiml", PG_HTTP_BODY_FORM, "voice-twiml", s_need_script, s_twiml},
    {"POST", "/twilio/voice/gather", PG_HTTP_BODY_FORM, "voice-gather", s_need_script,
     s_gather_done},
    {"POST", "/twilio/voice/dial", PG_HTTP_BODY_FORM, "voice-dial", s_need_script, s_dial_done},
    {"POST", "/twilio/voice/status", PG_HTTP_BODY_FORM, "voice-status", s_status, NULL},
};

static void s_destroy(void *ctx) {
    s_ctx_t *c = ctx;
    if (!c)
        return;
    if (c->url_key) {
        volatile char *p = c->url_key;
        while (*p)
            *p++ = 0;
    }
    free(c->url_key);
    free(c);
}

int hk_twilio_voice_init(hk_module_t *out, const hk_secrets_t *tokens, const char *url_key) {
    if (!url_key || !*url_key)
        return -1;
    /* libxml2's global state, once, before the HTTP threads write TwiML concurrently (asan
     * caught xmlTextWriterStartDocument racing on it in integration.voice) */
    xmlInitParser();
    s_ctx_t *c = calloc(1, sizeof *c);
    if (!c || !(c->url_key = strdup(url_key))) {
        free(c);
        return -1;
    }
    c->tokens = tokens;
    *out = (hk_module_t){.name = S_PROVIDER,
                         .routes = s_routes,
                         .n_routes = sizeof s_routes / sizeof s_routes[0],
                         .ctx = c,
                         .destroy = s_destroy};
    return 0;
}

/* sb_calls_run.c — what a simulated call does (see sb_calls_call.h): ring, answer or not, let
 * AMD decide, fetch the TwiML, run its verbs one by one with the callee's key presses, post
 * the Gather and Dial actions, follow Redirects, hang up, and tell the status callback.
 *
 * Twilio's behaviour simulated: without StatusCallbackEvent only "completed" is posted;
 * busy, no-answer and failed calls post "completed" with that CallStatus and CallDuration 0;
 * a Gather without input runs the verbs after it; a Gather's action defaults to the
 * document's URL; a Dial without action runs the verbs after it; the end of a document hangs
 * up; a document that cannot be fetched or parsed ends the call (Twilio's 11200, 12100,
 * 12200: "an application error has occurred"). AMD takes 2 s (Enable) or the machine's
 * greeting (DetectMessageEnd on a machine) before the Url is fetched with AnsweredBy. Runs
 * on the engine's thread with its mutex held. */
#include "sb_calls_call.h"

#include "sb_twilio.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_API_VERSION  "2010-04-01"
#define S_AMD_MS       2000 /* simulated: how long AMD listens to a human or a machine_start */
#define S_BUSY_MS      1000
#define S_DIAL_RING_MS 2000

static void s_next_verb(sb_calls_engine_t *e, sb_call_t *c);
static void s_dial_action(sb_calls_engine_t *e, sb_call_t *c, const sb_tw_verb_t *v);

pg_form_t *sb_calls_run_form(const sb_call_t *c) {
    pg_form_t *f = pg_form_new();
    if (!f)
        return NULL;
    int rc = 0;
    rc |= pg_form_add(f, "CallSid", c->sid);
    rc |= pg_form_add(f, "AccountSid", c->account);
    rc |= pg_form_add(f, "From", c->from);
    rc |= pg_form_add(f, "To", c->to);
    rc |= pg_form_add(f, "Caller", c->from);
    rc |= pg_form_add(f, "Called", c->to);
    rc |= pg_form_add(f, "CallStatus", c->status);
    rc |= pg_form_add(f, "Direction", "outbound-api");
    rc |= pg_form_add(f, "ApiVersion", S_API_VERSION);
    if (c->answered_by)
        rc |= pg_form_add(f, "AnsweredBy", c->answered_by);
    if (rc != 0)
        pg_form_destroy(&f);
    return f;
}

/* Posts the status callback of event when the call asked for it (completed always). */
static void s_status(sb_calls_engine_t *e, sb_call_t *c, const char *event, unsigned bit) {
    if (!c->status_callback || (!(c->events & bit) && bit != SB_CALLS_EV_COMPLETED))
        return;
    pg_form_t *f = sb_calls_run_form(c);
    if (!f)
        return;
    char seq[16], date[40], dur[24], mins[24];
    snprintf(seq, sizeof seq, "%u", c->sequence++);
    sb_twilio_date((time_t)(sb_calls_now_ms() / 1000), date);
    int rc = pg_form_add(f, "CallbackSource", "call-progress-events");
    rc |= pg_form_add(f, "SequenceNumber", seq);
    rc |= pg_form_add(f, "Timestamp", date);
    if (bit == SB_CALLS_EV_COMPLETED) {
        unsigned long s = c->answered_ms ? (unsigned long)((c->sim_ms + 999) / 1000) : 0;
        snprintf(dur, sizeof dur, "%lu", s);
        snprintf(mins, sizeof mins, "%lu", (s + 59) / 60);
        rc |= pg_form_add(f, "CallDuration", dur);
        rc |= pg_form_add(f, "Duration", mins);
    }
    if (rc == 0)
        sb_calls_status(e, c, event, f);
    pg_form_destroy(&f);
}

/* Ends the call with status (completed, busy, no-answer, failed); by says who hung up. */
static void s_end(sb_calls_engine_t *e, sb_call_t *c, const char *status, const char *by) {
    if (c->state == SB_CALL_DONE)
        return;
    c->state = SB_CALL_DONE;
    c->status = status;
    c->ended_ms = sb_calls_now_ms();
    c->timer = SB_T_NONE;
    c->timer_gen++;
    sb_calls_log(c, "hangup", json_pack("{s:s, s:s}", "by", by, "status", status));
    sb_calls_finished(e, c);
    s_status(e, c, "completed", SB_CALLS_EV_COMPLETED);
}

/* Arms the timer for a wait of sim_ms, or the callee's hang-up if that comes first. */
static void s_wait(sb_calls_engine_t *e, sb_call_t *c, sb_timer_kind_t kind, uint64_t sim_ms) {
    if (c->hangup_sim_ms && c->sim_ms + sim_ms >= c->hangup_sim_ms) {
        sb_calls_timer(e, c, SB_T_HANGUP,
                       c->hangup_sim_ms > c->sim_ms ? c->hangup_sim_ms - c->sim_ms : 0);
        return;
    }
    sb_calls_timer(e, c, kind, sim_ms);
}

/* Fetches url (relative ones resolved against the document's) or ends the call. */
static void s_fetch(sb_calls_engine_t *e, sb_call_t *c, const char *url, const char *method,
                    pg_form_t *fields, const char *why) {
    char *abs = NULL;
    CURLU *h = curl_url();
    if (h && (!c->doc_url || curl_url_set(h, CURLUPART_URL, c->doc_url, 0) == CURLUE_OK) &&
        curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK)
        (void)curl_url_get(h, CURLUPART_URL, &abs, 0);
    curl_url_cleanup(h);
    if (++c->documents > c->max_documents || !abs || !fields ||
        sb_calls_fetch(e, c, abs, method ? method : "POST", fields, why) != 0) {
        sb_calls_log(c, "error",
                     json_pack("{s:i, s:s, s:s}", "code", 11200, "message",
                               abs ? "too many documents, or out of memory"
                                   : "a URL that cannot be resolved",
                               "url", url));
        s_end(e, c, "completed", "error");
    } else {
        c->state = SB_CALL_FETCHING;
    }
    curl_free(abs);
}

/* The callee has answered (human or machine): AMD, then the Url. */
static void s_answered(sb_calls_engine_t *e, sb_call_t *c) {
    c->status = "in-progress";
    c->answered_ms = sb_calls_now_ms();
    c->hangup_sim_ms = (uint64_t)c->time_limit_s * 1000; /* Twilio hangs up at TimeLimit */
    if (c->callee.answer == SB_CALLEE_HUMAN && c->callee.hangup_ms &&
        c->callee.hangup_ms < c->hangup_sim_ms)
        c->hangup_sim_ms = c->callee.hangup_ms;
    bool machine = c->callee.answer == SB_CALLEE_MACHINE;
    if (!c->amd) {
        sb_calls_log(c, "answered", NULL);
        s_status(e, c, "answered", SB_CALLS_EV_ANSWERED);
        sb_calls_run_fetched(e, c, -1, NULL, 0); /* -1: fetch the Url now */
        return;
    }
    bool end = strcmp(c->amd, "DetectMessageEnd") == 0;
    c->answered_by = !machine ? "human" : end ? "machine_end_beep" : "machine_start";
    s_status(e, c, "answered", SB_CALLS_EV_ANSWERED);
    c->state = SB_CALL_DETECT;
    sb_calls_timer(e, c, SB_T_DETECTED, machine && end ? c->callee.greeting_ms : S_AMD_MS);
}

/* The ring timer fired: the callee's answer. */
static void s_ring_end(sb_calls_engine_t *e, sb_call_t *c) {
    switch (c->callee.answer) {
        case SB_CALLEE_HUMAN:
        case SB_CALLEE_MACHINE:
            if ((uint64_t)c->callee.ring_ms >= (uint64_t)c->timeout_s * 1000)
                s_end(e, c, "no-answer", "network");
            else
                s_answered(e, c);
            return;
        case SB_CALLEE_BUSY:
            s_end(e, c, "busy", "network");
            return;
        case SB_CALLEE_FAILED:
            s_end(e, c, "failed", "network");
            return;
        default:
            s_end(e, c, "no-answer", "network");
    }
}

void sb_calls_run_start(sb_calls_engine_t *e, sb_call_t *c) {
    c->started_ms = sb_calls_now_ms();
    c->status = "initiated";
    s_status(e, c, "initiated", SB_CALLS_EV_INITIATED);
    uint64_t ring = c->callee.ring_ms;
    switch (c->callee.answer) {
        case SB_CALLEE_FAILED:
            ring = 0;
            break;
        case SB_CALLEE_BUSY:
            ring = S_BUSY_MS;
            break;
        case SB_CALLEE_NO_ANSWER:
            ring = (uint64_t)c->timeout_s * 1000;
            break;
        default:
            if (ring > (uint64_t)c->timeout_s * 1000)
                ring = (uint64_t)c->timeout_s * 1000;
    }
    if (c->callee.answer != SB_CALLEE_FAILED) {
        c->status = "ringing";
        s_status(e, c, "ringing", SB_CALLS_EV_RINGING);
    }
    c->state = SB_CALL_DIALING;
    sb_calls_timer(e, c, SB_T_RING_END, ring);
}

/* Speech of a verb list (Gather's children), simulated ms, each verb once per loop. */
static uint64_t s_prompt_ms(const sb_tw_verb_t *v, size_t n) {
    uint64_t ms = 0;
    for (size_t i = 0; i < n; i++)
        ms += (uint64_t)sb_twiml_speech_s(&v[i]) * 1000 * v[i].loop;
    return ms;
}

/* Records one Say/Play/Pause (heard, or left on the machine). */
static void s_log_speech(sb_call_t *c, const sb_tw_verb_t *v) {
    if (v->kind == SB_TW_SAY) {
        sb_calls_log(c, "say",
                     json_pack("{s:s?, s:s?, s:s?, s:i}", "text", v->text, "language", v->language,
                               "voice", v->voice, "loop", (int)v->loop));
        for (unsigned i = 0; i < v->loop; i++)
            json_array_append_new(c->said, json_string(v->text ? v->text : ""));
    } else if (v->kind == SB_TW_PLAY) {
        sb_calls_log(c, "play", json_pack("{s:s?, s:i}", "url", v->text, "loop", (int)v->loop));
    } else {
        sb_calls_log(c, "pause", json_pack("{s:i}", "s", (int)v->length_s));
    }
}

/* Starts a Gather: its prompt, then the callee's keys or the timeout. */
static void s_gather(sb_calls_engine_t *e, sb_call_t *c, const sb_tw_verb_t *v) {
    sb_calls_log(c, "gather",
                 json_pack("{s:i, s:i, s:s?}", "num_digits", (int)v->num_digits, "timeout_s",
                           (int)v->timeout_s, "action", v->action));
    for (size_t i = 0; i < v->n_children; i++)
        s_log_speech(c, &v->children[i]);
    uint64_t prompt = s_prompt_ms(v->children, v->n_children);
    uint64_t limit = prompt + (uint64_t)v->timeout_s * 1000;
    const sb_press_t *p = NULL;
    unsigned g = c->gathers++;
    if (c->callee.answer == SB_CALLEE_HUMAN && g < c->callee.n_presses &&
        c->callee.presses[g].digits[0])
        p = &c->callee.presses[g];
    c->verb = v;
    if (p && p->after_ms <= limit) {
        snprintf(c->pending_digits, sizeof c->pending_digits, "%s", p->digits);
        if (v->num_digits && strlen(c->pending_digits) > v->num_digits)
            c->pending_digits[v->num_digits] = '\0';
        s_wait(e, c, SB_T_DIGITS, p->after_ms);
    } else {
        s_wait(e, c, SB_T_NO_INPUT, limit);
    }
}

/* The callee keyed the gather's digits: post them to the action (up to the finishOnKey,
 * which Twilio leaves out of Digits and names in FinishedOnKey). */
static void s_digits(sb_calls_engine_t *e, sb_call_t *c) {
    const sb_tw_verb_t *v = c->verb;
    char key[2] = "";
    char *end = v->finish_on_key ? strchr(c->pending_digits, v->finish_on_key) : NULL;
    if (end) {
        key[0] = *end;
        *end = '\0';
    }
    sb_calls_log(c, "digits",
                 json_pack("{s:s, s:s}", "digits", c->pending_digits, "finished_on_key", key));
    json_array_append_new(c->digits, json_string(c->pending_digits));
    pg_form_t *f = sb_calls_run_form(c);
    if (f && (pg_form_add(f, "Digits", c->pending_digits) != 0 ||
              pg_form_add(f, "FinishedOnKey", key) != 0))
        pg_form_destroy(&f);
    s_fetch(e, c, v->action ? v->action : c->doc_url, v->method, f, "gather");
    pg_form_destroy(&f);
}

/* Starts a Dial: the transferred leg rings, then connects or not. */
static void s_dial(sb_calls_engine_t *e, sb_call_t *c, const sb_tw_verb_t *v) {
    free(c->transfer);
    c->transfer = v->text ? strdup(v->text) : NULL;
    sb_dial_outcome_t o = c->callee.transfer;
    c->dial_status = o == SB_DIAL_ANSWERED ? "completed" : sb_dial_outcome_name(o);
    c->dial_s = o == SB_DIAL_ANSWERED ? (c->callee.talk_ms + 999) / 1000 : 0;
    sb_calls_log(c, "dial",
                 json_pack("{s:s?, s:b, s:s?, s:i, s:s?, s:s, s:i}", "target", v->text, "sip",
                           v->sip, "caller_id", v->caller_id, "timeout_s", (int)v->timeout_s,
                           "action", v->action, "dial_status", c->dial_status, "dial_duration_s",
                           (int)c->dial_s));
    uint64_t ms = o == SB_DIAL_ANSWERED ? S_DIAL_RING_MS + (uint64_t)c->callee.talk_ms
                  : o == SB_DIAL_BUSY   ? S_BUSY_MS
                  : o == SB_DIAL_FAILED ? 0
                                        : (uint64_t)v->timeout_s * 1000;
    c->verb = v;
    c->in_dial = true;
    c->dial_start_sim_ms = c->sim_ms;
    s_wait(e, c, SB_T_DIAL_END, ms);
}

/* The call ends during a Dial (the callee hung up, or TimeLimit): Twilio still requests the
 * Dial's action, with how long the leg was connected; its answer is not run. */
static void s_dial_cut(sb_calls_engine_t *e, sb_call_t *c) {
    const sb_tw_verb_t *v = c->verb;
    c->in_dial = false;
    uint64_t t = c->sim_ms - c->dial_start_sim_ms;
    bool connected = c->callee.transfer == SB_DIAL_ANSWERED && t > S_DIAL_RING_MS;
    c->dial_status = connected ? "completed" : "no-answer";
    c->dial_s = connected ? (unsigned)((t - S_DIAL_RING_MS + 999) / 1000) : 0;
    sb_calls_log(
        c, "dial_cut",
        json_pack("{s:s, s:i}", "dial_status", c->dial_status, "dial_duration_s", (int)c->dial_s));
    if (v && v->action)
        s_dial_action(e, c, v);
}

/* Posts the Dial's action with DialCallStatus, DialCallSid, DialCallDuration. */
static void s_dial_action(sb_calls_engine_t *e, sb_call_t *c, const sb_tw_verb_t *v) {
    char dur[16], dsid[SB_TWILIO_SID_SIZE];
    snprintf(dur, sizeof dur, "%u", c->dial_s);
    pg_form_t *f = sb_calls_run_form(c);
    if (f &&
        (sb_twilio_new_sid("CA", dsid) != 0 ||
         pg_form_add(f, "DialCallStatus", c->dial_status) != 0 ||
         pg_form_add(f, "DialCallSid", dsid) != 0 || pg_form_add(f, "DialCallDuration", dur) != 0))
        pg_form_destroy(&f);
    s_fetch(e, c, v->action, v->method, f, "dial");
    pg_form_destroy(&f);
}

/* The transferred leg ended: the Dial action, or the verbs after the Dial. */
static void s_dial_end(sb_calls_engine_t *e, sb_call_t *c) {
    const sb_tw_verb_t *v = c->verb;
    c->in_dial = false;
    if (!v->action) {
        c->pc++;
        s_next_verb(e, c);
        return;
    }
    s_dial_action(e, c, v);
}

/* Runs the verb at pc, or hangs up past the last. */
static void s_next_verb(sb_calls_engine_t *e, sb_call_t *c) {
    if (c->state == SB_CALL_DONE)
        return;
    c->state = SB_CALL_RUNNING;
    if (!c->doc || c->pc >= c->doc->n) {
        s_end(e, c, "completed", "end");
        return;
    }
    const sb_tw_verb_t *v = &c->doc->verbs[c->pc];
    switch (v->kind) {
        case SB_TW_SAY:
        case SB_TW_PLAY:
        case SB_TW_PAUSE:
            s_log_speech(c, v);
            s_wait(e, c, SB_T_VERB_END, s_prompt_ms(v, 1));
            return;
        case SB_TW_GATHER:
            s_gather(e, c, v);
            return;
        case SB_TW_DIAL:
            s_dial(e, c, v);
            return;
        case SB_TW_REDIRECT: {
            sb_calls_log(c, "redirect", json_pack("{s:s}", "url", v->text));
            pg_form_t *f = sb_calls_run_form(c);
            s_fetch(e, c, v->text, v->method, f, "redirect");
            pg_form_destroy(&f);
            return;
        }
        default: /* Hangup, Reject */
            s_end(e, c, "completed", "twiml");
    }
}

void sb_calls_run_timer(sb_calls_engine_t *e, sb_call_t *c) {
    sb_timer_kind_t t = c->timer;
    c->timer = SB_T_NONE;
    if (c->state != SB_CALL_DIALING && c->answered_ms)
        c->sim_ms += c->timer_sim_ms;
    switch (t) {
        case SB_T_RING_END:
            s_ring_end(e, c);
            return;
        case SB_T_DETECTED:
            sb_calls_log(c, "answered", json_pack("{s:s}", "answered_by", c->answered_by));
            sb_calls_run_fetched(e, c, -1, NULL, 0);
            return;
        case SB_T_VERB_END:
            c->pc++;
            s_next_verb(e, c);
            return;
        case SB_T_DIGITS:
            s_digits(e, c);
            return;
        case SB_T_NO_INPUT:
            sb_calls_log(c, "no_input", NULL);
            json_array_append_new(c->digits, json_string(""));
            c->pc++;
            s_next_verb(e, c);
            return;
        case SB_T_DIAL_END:
            s_dial_end(e, c);
            return;
        case SB_T_HANGUP:
            if (c->in_dial)
                s_dial_cut(e, c);
            s_end(e, c, "completed",
                  c->hangup_sim_ms == (uint64_t)c->time_limit_s * 1000 ? "time-limit" : "callee");
            return;
        default:
            return;
    }
}

void sb_calls_run_fetched(sb_calls_engine_t *e, sb_call_t *c, long status, const char *body,
                          size_t len) {
    if (c->state == SB_CALL_DONE)
        return;
    if (status == -1 && c->twiml) { /* the inline document, at answer */
        sb_calls_run_fetched(e, c, 200, c->twiml, strlen(c->twiml));
        return;
    }
    if (status == -1) { /* the call's own Url, at answer */
        pg_form_t *f = sb_calls_run_form(c);
        s_fetch(e, c, c->url, c->method, f, "url");
        pg_form_destroy(&f);
        return;
    }
    if (status < 200 || status > 299) {
        sb_calls_log(c, "error",
                     json_pack("{s:i, s:s, s:i}", "code", 11200, "message",
                               "HTTP retrieval failure", "http_status", (int)status));
        s_end(e, c, "completed", "error");
        return;
    }
    int code = 0;
    char err[256] = "out of memory";
    sb_twiml_t *doc = sb_twiml_parse(body ? body : "", len, &code, err, sizeof err);
    if (!doc) {
        sb_calls_log(c, "error",
                     json_pack("{s:i, s:s}", "code", code ? code : 12100, "message", err));
        s_end(e, c, "completed", "error");
        return;
    }
    sb_twiml_destroy(&c->doc);
    c->doc = doc;
    c->pc = 0;
    s_next_verb(e, c);
}

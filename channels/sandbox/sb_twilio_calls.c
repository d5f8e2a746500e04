/* sb_twilio_calls.c — the simulated Calls resource and its control routes (see
 * sb_twilio_calls.h). Validation order follows what a client sees from Twilio:
 * authentication, To, From, Url/Twiml, StatusCallback, MachineDetection, then the recipient's
 * number table. The call itself is the engine's (sb_calls_engine.c); this file only admits it,
 * answers for it, and exposes the engine and the callee script to tests. */
#include "sb_twilio_calls.h"

#include "pg_contact.h"
#include "pg_form.h"
#include "pg_sig.h"
#include "sb_calls_callee.h"
#include "sb_calls_engine.h"
#include "sb_json.h"
#include "sb_twilio.h"
#include "sb_twilio_hooks.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_PROVIDER     "twilio-calls"
#define S_API_VERSION  "2010-04-01"
#define S_WAIT_STEP_MS 10
#define S_FORGE_MS     5000

typedef struct {
    const sb_twilio_t *twilio;
    sb_calls_engine_t *engine;
    sb_callees_t *callees;
    sb_provider_t provider;
    sb_calls_config_t cfg; /* flags, until start */
    unsigned long long seed;
    bool seed_given;
    char *script_path, *odds;
} s_calls_t;

static const char *s_nonempty(const char *s) {
    return s && *s ? s : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Calls.json */

/* The StatusCallbackEvent bits of f (repeated fields, or one with space-separated names);
 * -1 on an unknown event. */
static int s_events(const pg_form_t *f) {
    static const char *const names[] = {"initiated", "ringing", "answered", "completed"};
    int bits = 0;
    for (size_t i = 0; i < pg_form_count(f); i++) {
        if (strcmp(pg_form_name(f, i), "StatusCallbackEvent") != 0)
            continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", pg_form_value(f, i));
        char *save = NULL;
        for (char *t = strtok_r(buf, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
            int k = 0;
            while (k < 4 && strcmp(t, names[k]) != 0)
                k++;
            if (k == 4)
                return -1;
            bits |= 1 << k;
        }
    }
    return bits;
}

/* Twilio's call resource for a call just queued. */
static json_t *s_resource(const char *account, const char *sid, const char *to, const char *from,
                          const char *date) {
    char uri[160], notif[200], rec[200];
    snprintf(uri, sizeof uri, "/2010-04-01/Accounts/%s/Calls/%s.json", account, sid);
    snprintf(notif, sizeof notif, "/2010-04-01/Accounts/%s/Calls/%s/Notifications.json", account,
             sid);
    snprintf(rec, sizeof rec, "/2010-04-01/Accounts/%s/Calls/%s/Recordings.json", account, sid);
    return json_pack("{s:s, s:n, s:n, s:s, s:n, s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:n, s:n, "
                     "s:n, s:s, s:s, s:n, s:s, s:s, s:s, s:{s:s, s:s}, s:s}",
                     "account_sid", account, "annotation", "answered_by", "api_version",
                     S_API_VERSION, "caller_name", "date_created", date, "date_updated", date,
                     "direction", "outbound-api", "duration", "end_time", "from", from,
                     "from_formatted", from, "parent_call_sid", "phone_number_sid", "price",
                     "price_unit", "USD", "sid", sid, "start_time", "status", "queued", "to", to,
                     "to_formatted", to, "subresource_uris", "notifications", notif, "recordings",
                     rec, "uri", uri);
}

/* What is wrong with the form, as Twilio's code (and *message when not the code's usual). */
static int s_validate(const s_calls_t *self, const pg_form_t *f, const char **message) {
    const char *to = s_nonempty(pg_form_get(f, "To")), *from = s_nonempty(pg_form_get(f, "From"));
    const char *url = s_nonempty(pg_form_get(f, "Url")),
               *twiml = s_nonempty(pg_form_get(f, "Twiml"));
    const char *cb = s_nonempty(pg_form_get(f, "StatusCallback"));
    const char *amd = s_nonempty(pg_form_get(f, "MachineDetection"));
    const char *method = s_nonempty(pg_form_get(f, "Method"));
    const char *cbm = s_nonempty(pg_form_get(f, "StatusCallbackMethod"));
    *message = NULL;
    if (!to)
        return *message = "A 'To' phone number is required.", 21201;
    if (!pg_contact_e164(to) && strncmp(to, "sip:", 4) != 0)
        return *message = "Invalid 'To' Phone Number", 21211;
    if (!from)
        return *message = "A 'From' phone number is required.", 21213;
    if (!pg_contact_e164(from))
        return *message = "Invalid 'From' Phone Number", 21212;
    if (!url && !twiml)
        return *message = "Either a 'Url' or 'Twiml' parameter is required.", 21205;
    if (url && !sb_twilio_url_ok(url))
        return *message = "Url is not a valid URL.", 21205;
    if ((method && strcmp(method, "GET") && strcmp(method, "POST")) ||
        (cbm && strcmp(cbm, "GET") && strcmp(cbm, "POST")))
        return *message = "Method must be GET or POST.", 21205;
    if (cb && !sb_twilio_url_ok(cb))
        return 21609;
    if (s_events(f) < 0)
        return *message = "StatusCallbackEvent: initiated, ringing, answered, completed.", 21626;
    if (amd && strcmp(amd, "Enable") != 0 && strcmp(amd, "DetectMessageEnd") != 0)
        return *message = "MachineDetection must be Enable or DetectMessageEnd.", 21626;
    return sb_twilio_to_error(self->twilio, to);
}

/* A seconds parameter: def when absent or not a positive number, clamped to max (as Twilio
 * does: Timeout 60 by default, at most 600; TimeLimit 14400 by default and at most). */
static unsigned s_seconds(const pg_form_t *f, const char *name, unsigned def, unsigned max) {
    const char *t = s_nonempty(pg_form_get(f, name));
    if (!t)
        return def;
    char *end;
    long v = strtol(t, &end, 10);
    if (*end || v < 1)
        return def;
    return v > (long)max ? max : (unsigned)v;
}

static void s_create(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    const char *account = pg_http_request_capture(req, 0);
    const char *token = sb_twilio_authenticate(self->twilio, req, account);
    if (!token) {
        sb_twilio_reply_error(req, 401, 20003, NULL);
        return;
    }
    const pg_form_t *f = pg_http_request_form(req);
    const char *message = NULL;
    int code = s_validate(self, f, &message);
    if (code) {
        sb_twilio_reply_error(req, 400, code, message);
        return;
    }
    char sid[SB_TWILIO_SID_SIZE], date[40];
    if (sb_twilio_new_sid("CA", sid) != 0) {
        sb_twilio_reply_error(req, 500, 20500, NULL);
        return;
    }
    const char *to = pg_form_get(f, "To"), *from = pg_form_get(f, "From");
    sb_calls_new_t call = {
        .sid = sid,
        .account = account,
        .token = token,
        .to = to,
        .from = from,
        .url = s_nonempty(pg_form_get(f, "Url")),
        .twiml = s_nonempty(pg_form_get(f, "Twiml")),
        .method = s_nonempty(pg_form_get(f, "Method")),
        .status_callback = s_nonempty(pg_form_get(f, "StatusCallback")),
        .status_callback_method = s_nonempty(pg_form_get(f, "StatusCallbackMethod")),
        .events = (unsigned)s_events(f),
        .machine_detection = s_nonempty(pg_form_get(f, "MachineDetection")),
        .timeout_s = s_seconds(f, "Timeout", 60, 600),
        .time_limit_s = s_seconds(f, "TimeLimit", 14400, 14400),
        .created_ms = pg_http_request_arrival_ms(req),
    };
    sb_callees_pick(self->callees, to, &call.callee);
    sb_twilio_date((time_t)(call.created_ms / 1000), date);
    json_t *resp = s_resource(account, sid, to, from, date);
    if (!resp || sb_calls_engine_place(self->engine, &call) != 0) {
        json_decref(resp);
        sb_twilio_reply_error(req, 500, 20500, NULL);
        return;
    }
    sb_reply_json(req, 201, resp);
    sb_request_set_outcome(req, 0, sid);
}

/* GET .../Calls/{CallSid}.json: the call's resource as it is now. */
static void s_fetch(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    const char *account = pg_http_request_capture(req, 0), *sid = pg_http_request_capture(req, 1);
    if (!sb_twilio_authenticate(self->twilio, req, account)) {
        sb_twilio_reply_error(req, 401, 20003, NULL);
        return;
    }
    json_t *calls = sb_calls_engine_calls(self->engine, sid, NULL, false);
    json_t *c = json_array_get(calls, 0);
    if (!c || strcmp(json_string_value(json_object_get(c, "account_sid")), account) != 0) {
        json_decref(calls);
        sb_twilio_reply_error(req, 404, 20404, NULL);
        return;
    }
    char date[40];
    sb_twilio_date((time_t)(json_integer_value(json_object_get(c, "created_ms")) / 1000), date);
    json_t *r = s_resource(account, sid, json_string_value(json_object_get(c, "to")),
                           json_string_value(json_object_get(c, "from")), date);
    if (r) {
        char dur[24];
        snprintf(dur, sizeof dur, "%lld",
                 (long long)json_integer_value(json_object_get(c, "duration_s")));
        json_object_set(r, "status", json_object_get(c, "status"));
        json_object_set(r, "answered_by", json_object_get(c, "answered_by"));
        if (strcmp(json_string_value(json_object_get(c, "state")), "done") == 0)
            json_object_set_new(r, "duration", json_string(dur));
    }
    json_decref(calls);
    sb_reply_json(req, r ? 200 : 500, r);
}

/* ------------------------------------------------------------------------------------------ */
/* control routes */

static void s_calls_get(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    const char *sid = s_nonempty(pg_http_request_query(req, "sid"));
    const char *to = s_nonempty(pg_http_request_query(req, "to"));
    const char *done = pg_http_request_query(req, "done");
    json_t *calls = sb_calls_engine_calls(self->engine, sid, to, done && strcmp(done, "1") == 0);
    json_t *stats = sb_calls_engine_stats(self->engine);
    json_t *o = calls && stats ? json_pack("{s:o, s:o}", "calls", calls, "stats", stats) : NULL;
    if (!o) {
        json_decref(calls);
        json_decref(stats);
    }
    sb_reply_json(req, o ? 200 : 500, o);
}

static void s_calls_delete(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    sb_calls_engine_forget(self->engine);
    sb_reply_json(req, 200, sb_calls_engine_stats(self->engine));
}

/* GET /_sandbox/twilio-calls/wait?finished=N[&timeout_ms=T]: answers once N calls have
 * finished (since start or the last forget), or after T ms (default 30000). */
static void s_wait(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    const char *n = pg_http_request_query(req, "finished"),
               *t = pg_http_request_query(req, "timeout_ms");
    char *end = NULL;
    errno = 0;
    unsigned long long want = n ? strtoull(n, &end, 10) : 0;
    if (!n || !*n || *end || errno || *n == '-') {
        pg_http_reply_error(req, 400, "finished must be a count of calls");
        return;
    }
    unsigned long long timeout = t ? strtoull(t, &end, 10) : 30000;
    if (t && (!*t || *end || *t == '-' || timeout > 3600000)) {
        pg_http_reply_error(req, 400, "timeout_ms must be 0..3600000");
        return;
    }
    uint64_t have = sb_calls_engine_finished(self->engine);
    bool reached = have >= want;
    if (!reached && pg_http_request_age_ms(req) < (int64_t)timeout &&
        !pg_http_request_stopping(req)) {
        pg_http_call_again(req, S_WAIT_STEP_MS);
        return;
    }
    sb_reply_json(req, 200,
                  json_pack("{s:I, s:b}", "finished", (json_int_t)have, "reached", reached));
}

static void s_callees_get(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    json_t *o = sb_callees_json(self->callees);
    sb_reply_json(req, o ? 200 : 500, o);
}

static void s_callees_post(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    char err[256];
    int n = sb_callees_add_json(self->callees, j, err, sizeof err);
    json_decref(j);
    if (n < 0) {
        pg_http_reply_error(req, 400, err);
        return;
    }
    sb_reply_json(req, 200, json_pack("{s:i}", "added", n));
}

static void s_callees_delete(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    sb_callees_clear(self->callees);
    s_callees_get(req, ctx);
}

static void s_odds_post(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    char err[256];
    int rc = sb_callees_set_odds_json(self->callees, j, err, sizeof err);
    json_decref(j);
    if (rc != 0) {
        pg_http_reply_error(req, 400, err);
        return;
    }
    s_callees_get(req, ctx);
}

static void s_config_get(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    sb_reply_json(req, 200, json_pack("{s:f}", "time_scale", sb_calls_engine_scale(self->engine)));
}

static void s_config_post(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    json_t *ts = json_object_get(j, "time_scale");
    bool ok =
        json_is_object(j) && json_object_size(j) == (ts ? 1u : 0u) &&
        (!ts || (json_is_number(ts) && json_number_value(ts) > 0 && json_number_value(ts) <= 1000));
    if (ok && ts)
        sb_calls_engine_set_scale(self->engine, json_number_value(ts));
    json_decref(j);
    if (!ok) {
        pg_http_reply_error(req, 400, "expected {\"time_scale\": (0, 1000]}");
        return;
    }
    s_config_get(req, ctx);
}

/* The string field key of o, def when absent; *bad when present but not a string. */
static const char *s_str(const json_t *o, const char *key, const char *def, bool *bad) {
    json_t *v = json_object_get(o, key);
    if (!v)
        return def;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        *bad = true;
    return json_string_value(v);
}

/* POST /_sandbox/twilio-calls/forge: one request about a call, as Twilio would make it but
 * signed with a wrong token, sent from this handler (a test-only route: one request, at most
 * 5 s; the calls themselves never wait on a server thread). */
static void s_forge(pg_http_request_t *req, void *ctx) {
    s_calls_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    bool bad = !json_is_object(j);
    const char *url = s_str(j, "url", NULL, &bad), *kind = s_str(j, "kind", "gather", &bad);
    const char *sid = s_str(j, "call_sid", "CA00000000000000000000000000000000", &bad);
    const char *digits = s_str(j, "digits", "1", &bad);
    const char *status = s_str(j, "call_status", "in-progress", &bad);
    const char *to = s_str(j, "to", "+15005550006", &bad), *from = s_str(j, "from", to, &bad);
    const char *account = NULL, *real = NULL;
    if (bad || !sb_twilio_url_ok(url) ||
        (strcmp(kind, "gather") && strcmp(kind, "status") && strcmp(kind, "dial")) ||
        !sb_twilio_account(self->twilio, 0, &account, &real)) {
        json_decref(j);
        pg_http_reply_error(req, 400,
                            "expected {\"url\"[, \"kind\": \"gather\"|\"status\"|"
                            "\"dial\", \"call_sid\", \"digits\", \"call_status\", "
                            "\"to\", \"from\"]}");
        return;
    }
    char token[300], sig[PG_SIG_TWILIO_SIZE], header[64];
    snprintf(token, sizeof token, "%s-forged", real);
    pg_form_t *f = pg_form_new();
    int rc = f ? 0 : -1;
    if (f) {
        rc |= pg_form_add(f, "CallSid", sid);
        rc |= pg_form_add(f, "AccountSid", account);
        rc |= pg_form_add(f, "From", from);
        rc |= pg_form_add(f, "To", to);
        rc |= pg_form_add(f, "CallStatus", status);
        rc |= pg_form_add(f, "Direction", "outbound-api");
        rc |= pg_form_add(f, "ApiVersion", S_API_VERSION);
        if (strcmp(kind, "gather") == 0)
            rc |= pg_form_add(f, "Digits", digits);
        if (strcmp(kind, "dial") == 0)
            rc |= pg_form_add(f, "DialCallStatus", "completed");
    }
    char *body = rc == 0 ? pg_form_encode(f) : NULL;
    long http = 0;
    CURL *easy =
        body && pg_sig_twilio(token, url, f, sig, sizeof sig) == 0 ? curl_easy_init() : NULL;
    struct curl_slist *h = NULL;
    if (easy) {
        snprintf(header, sizeof header, "X-Twilio-Signature: %s", sig);
        h = curl_slist_append(NULL, header);
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)S_FORGE_MS);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        if (curl_easy_perform(easy) == CURLE_OK)
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http);
        curl_easy_cleanup(easy);
    }
    curl_slist_free_all(h);
    free(body);
    pg_form_destroy(&f);
    json_decref(j);
    sb_reply_json(req, 200, json_pack("{s:i}", "status", (int)http));
}

/* ------------------------------------------------------------------------------------------ */
/* provider descriptor callbacks */

static void s_summarize(pg_http_request_t *req, sb_summary_t *out, void *ctx) {
    (void)ctx;
    const pg_form_t *f = pg_http_request_form(req);
    out->account = pg_http_request_capture(req, 0);
    out->to = f ? pg_form_get(f, "To") : NULL;
    out->from = f ? pg_form_get(f, "From") : NULL;
    out->body = f ? pg_form_get(f, "Url") : NULL;
}

static void s_render_error(pg_http_request_t *req, int status, int error_code, const char *message,
                           void *ctx) {
    (void)ctx;
    sb_twilio_reply_error(req, status, error_code, error_code ? NULL : message);
}

/* ------------------------------------------------------------------------------------------ */
/* the "twilio-calls" sandbox module */

static const sb_flag_t s_flags[] = {
    {"calls-time-scale", "F", "real seconds per simulated second of a call (1; 0.01 = fast)"},
    {"calls-script", "FILE", "JSON callee rules [{number, answer, press, transfer...}]"},
    {"calls-odds", "JSON", "callee odds for unscripted numbers ({\"human\":1})"},
    {"calls-seed", "N", "seed of the callee draws (default random)"},
    {"calls-max-kept", "N", "finished call transcripts kept (100000)"},
    {"calls-http-timeout-ms", "N", "per TwiML fetch or status callback (15000)"},
};

static void s_module_destroy(void **state_p) {
    s_calls_t *self = *state_p;
    if (self) {
        sb_calls_engine_destroy(&self->engine);
        sb_callees_destroy(&self->callees);
        free(self->script_path);
        free(self->odds);
        free(self);
    }
    *state_p = NULL;
}

static void *s_module_new(void) {
    s_calls_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = (sb_calls_config_t){1.0, 100000, 15000, 50};
    self->provider = (sb_provider_t){S_PROVIDER, s_summarize, s_render_error, self};
    return self;
}

static int s_ulong(const char *arg, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *end || errno || *arg == '-' || v < lo || v > hi)
        return -1;
    *out = (unsigned long)v;
    return 0;
}

static int s_module_flag(void *state, size_t i, const char *arg, char *err, size_t errlen) {
    s_calls_t *self = state;
    unsigned long v;
    char *end;
    switch (i) {
        case 0:
            self->cfg.time_scale = strtod(arg, &end);
            if (!*arg || *end || !(self->cfg.time_scale > 0 && self->cfg.time_scale <= 1000))
                return snprintf(err, errlen, "--calls-time-scale wants (0, 1000]"), -1;
            return 0;
        case 1:
        case 2: {
            char **slot = i == 1 ? &self->script_path : &self->odds;
            free(*slot);
            if (!(*slot = strdup(arg)))
                return snprintf(err, errlen, "out of memory"), -1;
            return 0;
        }
        case 3:
            errno = 0;
            self->seed = strtoull(arg, &end, 10);
            self->seed_given = true;
            if (!*arg || *end || errno || *arg == '-')
                return snprintf(err, errlen, "--calls-seed wants an unsigned integer"), -1;
            return 0;
        case 4:
            if (s_ulong(arg, 1, 10000000, &v) != 0)
                return snprintf(err, errlen, "--calls-max-kept wants 1..10000000"), -1;
            self->cfg.max_kept = (unsigned)v;
            return 0;
        default:
            if (s_ulong(arg, 1, 600000, &v) != 0)
                return snprintf(err, errlen, "--calls-http-timeout-ms wants 1..600000"), -1;
            self->cfg.http_timeout_ms = (unsigned)v;
            return 0;
    }
}

/* Builds the callee script from the flags. */
static int s_callees_start(s_calls_t *self, char *err, size_t errlen) {
    uint64_t seed =
        self->seed_given ? self->seed : ((uint64_t)time(NULL) << 20) ^ (uint64_t)clock();
    if (!(self->callees = sb_callees_new(seed)))
        return snprintf(err, errlen, "out of memory"), -1;
    if (self->script_path &&
        sb_callees_load_file(self->callees, self->script_path, err, errlen) < 0)
        return -1;
    if (self->odds) {
        json_error_t jerr;
        json_t *j = json_loads(self->odds, 0, &jerr);
        char why[256];
        int rc = j ? sb_callees_set_odds_json(self->callees, j, why, sizeof why) : -1;
        json_decref(j);
        if (rc != 0)
            return snprintf(err, errlen, "--calls-odds: %s", j ? why : jerr.text), -1;
    }
    return 0;
}

static int s_module_start(void *state, const sb_env_t *env, char *err, size_t errlen) {
    s_calls_t *self = state;
    if (!(self->twilio = sb_env_module(env, "twilio"))) {
        snprintf(err, errlen, "twilio-calls needs the twilio module before it");
        return -1;
    }
    if (s_callees_start(self, err, errlen) != 0 ||
        !(self->engine = sb_calls_engine_new(&self->cfg, err, errlen)))
        return -1;
    static const sb_control_route_t routes[] = {
        {"GET", "/_sandbox/twilio-calls/calls", PG_HTTP_BODY_NONE, s_calls_get},
        {"DELETE", "/_sandbox/twilio-calls/calls", PG_HTTP_BODY_NONE, s_calls_delete},
        {"GET", "/_sandbox/twilio-calls/wait", PG_HTTP_BODY_NONE, s_wait},
        {"GET", "/_sandbox/twilio-calls/callees", PG_HTTP_BODY_NONE, s_callees_get},
        {"POST", "/_sandbox/twilio-calls/callees", PG_HTTP_BODY_RAW, s_callees_post},
        {"DELETE", "/_sandbox/twilio-calls/callees", PG_HTTP_BODY_NONE, s_callees_delete},
        {"POST", "/_sandbox/twilio-calls/odds", PG_HTTP_BODY_RAW, s_odds_post},
        {"GET", "/_sandbox/twilio-calls/config", PG_HTTP_BODY_NONE, s_config_get},
        {"POST", "/_sandbox/twilio-calls/config", PG_HTTP_BODY_RAW, s_config_post},
        {"POST", "/_sandbox/twilio-calls/forge", PG_HTTP_BODY_RAW, s_forge},
    };
    if (sb_server_control_routes(env->server, routes, sizeof routes / sizeof routes[0], self) !=
            0 ||
        sb_server_provider_route(env->server, &self->provider, "POST",
                                 "/2010-04-01/Accounts/{AccountSid}/Calls.json", PG_HTTP_BODY_FORM,
                                 s_create, self) != 0 ||
        sb_server_provider_route(env->server, &self->provider, "GET",
                                 "/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json",
                                 PG_HTTP_BODY_NONE, s_fetch, self) != 0) {
        snprintf(err, errlen, "cannot register the twilio-calls routes");
        return -1;
    }
    return 0;
}

static json_t *s_module_stats(void *state) {
    s_calls_t *self = state;
    return self->engine ? sb_calls_engine_stats(self->engine) : NULL;
}

/* The server has stopped: no handler places calls any more; the engine stops with it. */
static void s_module_stop(void *state) {
    s_calls_t *self = state;
    sb_calls_engine_destroy(&self->engine);
}

const sb_module_t sb_twilio_calls_module = {
    .name = S_PROVIDER,
    .describe = "Twilio Programmable Voice: POST /2010-04-01/Accounts/{Sid}/Calls.json, "
                "simulated calls running their TwiML",
    .flags = s_flags,
    .n_flags = sizeof s_flags / sizeof s_flags[0],
    .new = s_module_new,
    .flag = s_module_flag,
    .start = s_module_start,
    .stats = s_module_stats,
    .stop = s_module_stop,
    .destroy = s_module_destroy,
};

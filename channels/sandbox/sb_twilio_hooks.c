/* sb_twilio_hooks.c — Twilio Messaging's callbacks and their control routes (see
 * sb_twilio_hooks.h).
 *
 * Settings and counters sit under one mutex; a post copies what it needs under it and builds,
 * signs and queues the form outside it. Forms are built field by field in the order Twilio
 * documents them; the signature does not depend on the order (pg_sig sorts). */
#include "sb_twilio_hooks.h"

#include "pg_contact.h"
#include "pg_form.h"
#include "pg_sig.h"
#include "pg_utf8.h"
#include "sb_json.h"
#include "sb_twilio_sms.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_URL      4000
#define S_MAX_DELAY_MS 3600000
#define S_API_VERSION  "2010-04-01"
#define S_DEFAULT_TO   "+15005550006" /* our number when a message had no From (Twilio's magic) */
#define S_FORM_TYPE    "application/x-www-form-urlencoded"
#define S_KIND_STATUS  "twilio-sms/status"
#define S_KIND_INBOUND "twilio-sms/inbound"
#define S_KIND_FORGED  "twilio-sms/forged"

struct sb_twilio_hooks {
    pthread_mutex_t lock;
    bool callbacks;
    unsigned callback_delay_ms;
    char *inbound_url;
    bool duplicates;
    unsigned duplicate_delay_ms;
    uint64_t n_status;
    uint64_t n_duplicates;
    uint64_t n_inbound;
    uint64_t n_inbound_no_url;
    uint64_t n_forged;

    sb_replies_t *replies;
    const sb_twilio_t *twilio;
    sb_webhook_t *hooks;
};

sb_twilio_hooks_t *sb_twilio_hooks_new(void) {
    sb_twilio_hooks_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    self->callback_delay_ms = 1000;
    self->duplicate_delay_ms = 50;
    if (!(self->replies = sb_replies_new())) {
        sb_twilio_hooks_destroy(&self);
        return NULL;
    }
    return self;
}

void sb_twilio_hooks_destroy(sb_twilio_hooks_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_twilio_hooks_t *self = *self_p;
    sb_replies_destroy(&self->replies);
    free(self->inbound_url);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

bool sb_twilio_url_ok(const char *url) {
    if (!url || strlen(url) > S_MAX_URL)
        return false;
    CURLU *h = curl_url();
    if (!h)
        return false;
    bool ok = false;
    char *scheme = NULL, *host = NULL;
    if (curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        ok = (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && host[0];
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(h);
    return ok;
}

void sb_twilio_hooks_set_callbacks(sb_twilio_hooks_t *self, bool on, unsigned delay_ms) {
    pthread_mutex_lock(&self->lock);
    self->callbacks = on;
    self->callback_delay_ms = delay_ms;
    pthread_mutex_unlock(&self->lock);
}

void sb_twilio_hooks_set_duplicates(sb_twilio_hooks_t *self, bool on) {
    pthread_mutex_lock(&self->lock);
    self->duplicates = on;
    pthread_mutex_unlock(&self->lock);
}

int sb_twilio_hooks_set_inbound_url(sb_twilio_hooks_t *self, const char *url, char *err,
                                    size_t errlen) {
    char *copy = NULL;
    if (url && (!sb_twilio_url_ok(url) || !(copy = strdup(url)))) {
        snprintf(err, errlen, "the inbound URL must be an http(s) URL of at most 4000 bytes");
        return -1;
    }
    pthread_mutex_lock(&self->lock);
    free(self->inbound_url);
    self->inbound_url = copy;
    pthread_mutex_unlock(&self->lock);
    return 0;
}

sb_replies_t *sb_twilio_hooks_replies(sb_twilio_hooks_t *self) {
    return self->replies;
}

/* ------------------------------------------------------------------------------------------ */
/* posting */

/* Signs form for url with token and queues it `copies` times (the later ones gap_ms apart).
 * Returns 0, or -1 when it could not be built (nothing queued). */
static int s_post(sb_twilio_hooks_t *self, unsigned delay_ms, const char *url, const char *token,
                  const pg_form_t *form, const char *kind, unsigned copies, unsigned gap_ms) {
    char sig[PG_SIG_TWILIO_SIZE], header[64];
    char *body = pg_form_encode(form);
    if (!body || pg_sig_twilio(token, url, form, sig, sizeof sig) != 0) {
        free(body);
        return -1;
    }
    snprintf(header, sizeof header, "X-Twilio-Signature: %s", sig);
    for (unsigned i = 0; i < copies; i++)
        (void)sb_webhook_post(self->hooks, delay_ms + i * gap_ms, url, S_FORM_TYPE, body, header,
                              kind);
    free(body);
    return 0;
}

/* The form of a status callback. NULL when out of memory. */
static pg_form_t *s_status_form(const sb_twilio_message_t *m, const char *status, int error_code,
                                unsigned delay_ms) {
    pg_form_t *form = pg_form_new();
    if (!form)
        return NULL;
    int rc = 0;
    rc |= pg_form_add(form, "SmsSid", m->sid);
    rc |= pg_form_add(form, "SmsStatus", status);
    rc |= pg_form_add(form, "MessageStatus", status);
    rc |= pg_form_add(form, "To", m->to);
    rc |= pg_form_add(form, "MessageSid", m->sid);
    rc |= pg_form_add(form, "AccountSid", m->account);
    if (m->from)
        rc |= pg_form_add(form, "From", m->from);
    if (m->mss)
        rc |= pg_form_add(form, "MessagingServiceSid", m->mss);
    rc |= pg_form_add(form, "ApiVersion", S_API_VERSION);
    if (error_code) {
        char code[16];
        snprintf(code, sizeof code, "%d", error_code);
        rc |= pg_form_add(form, "ErrorCode", code);
    }
    if (strcmp(status, "sent") != 0 && strcmp(status, "queued") != 0) {
        char done[16];
        time_t t = time(NULL) + (time_t)(delay_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(done, sizeof done, "%y%m%d%H%M", &tm);
        rc |= pg_form_add(form, "RawDlrDoneDate", done);
    }
    if (rc != 0)
        pg_form_destroy(&form);
    return form;
}

/* The form of an incoming message: from (a person) wrote body to our number to. */
static pg_form_t *s_inbound_form(const char *sid, const char *account, const char *mss,
                                 const char *from, const char *to, const char *body) {
    pg_form_t *form = pg_form_new();
    if (!form)
        return NULL;
    char segments[16];
    snprintf(segments, sizeof segments, "%u", sb_twilio_sms_segments(body, strlen(body)));
    int rc = 0;
    rc |= pg_form_add(form, "MessageSid", sid);
    rc |= pg_form_add(form, "SmsMessageSid", sid);
    rc |= pg_form_add(form, "SmsSid", sid);
    rc |= pg_form_add(form, "AccountSid", account);
    if (mss)
        rc |= pg_form_add(form, "MessagingServiceSid", mss);
    rc |= pg_form_add(form, "From", from);
    rc |= pg_form_add(form, "To", to);
    rc |= pg_form_add(form, "Body", body);
    rc |= pg_form_add(form, "NumMedia", "0");
    rc |= pg_form_add(form, "NumSegments", segments);
    rc |= pg_form_add(form, "SmsStatus", "received");
    rc |= pg_form_add(form, "ApiVersion", S_API_VERSION);
    if (rc != 0)
        pg_form_destroy(&form);
    return form;
}

/* Queues one status callback (twice with duplicates on). */
static void s_status(sb_twilio_hooks_t *self, const sb_twilio_message_t *m, unsigned delay_ms,
                     const char *status, int error_code, bool dup, unsigned gap_ms) {
    pg_form_t *form = s_status_form(m, status, error_code, delay_ms);
    if (form && s_post(self, delay_ms, m->status_callback, m->token, form, S_KIND_STATUS,
                       dup ? 2 : 1, gap_ms) == 0) {
        pthread_mutex_lock(&self->lock);
        self->n_status++;
        self->n_duplicates += dup;
        pthread_mutex_unlock(&self->lock);
    }
    pg_form_destroy(&form);
}

/* Queues an inbound message to url (or the configured inbound URL when url is NULL). Returns 0,
 * 1 when there is no URL to send to (counted), -1 when out of memory. */
static int s_inbound(sb_twilio_hooks_t *self, unsigned delay_ms, const char *url,
                     const char *account, const char *token, const char *mss, const char *from,
                     const char *to, const char *body, char sid[SB_TWILIO_SID_SIZE]) {
    char *target = NULL;
    pthread_mutex_lock(&self->lock);
    if (!url && self->inbound_url)
        target = strdup(self->inbound_url);
    if (!url && !self->inbound_url)
        self->n_inbound_no_url++;
    pthread_mutex_unlock(&self->lock);
    if (!url && !target)
        return 1;
    pg_form_t *form = NULL;
    int rc = -1;
    if (sb_twilio_new_sid("SM", sid) == 0 &&
        (form = s_inbound_form(sid, account, mss, from, to ? to : S_DEFAULT_TO, body)))
        rc = s_post(self, delay_ms, url ? url : target, token, form, S_KIND_INBOUND, 1, 0);
    if (rc == 0) {
        pthread_mutex_lock(&self->lock);
        self->n_inbound++;
        pthread_mutex_unlock(&self->lock);
    }
    pg_form_destroy(&form);
    free(target);
    return rc;
}

void sb_twilio_hooks_message(sb_twilio_hooks_t *self, const sb_twilio_message_t *m) {
    pthread_mutex_lock(&self->lock);
    bool callbacks = self->callbacks && m->status_callback;
    unsigned d = self->callback_delay_ms;
    bool dup = self->duplicates;
    unsigned gap = self->duplicate_delay_ms;
    pthread_mutex_unlock(&self->lock);
    if (callbacks) {
        const char *final = "delivered";
        int code = 0;
        (void)sb_twilio_dlr(self->twilio, m->to, &final, &code);
        if (strcmp(final, "failed") != 0)
            s_status(self, m, d, "sent", 0, dup, gap);
        s_status(self, m, strcmp(final, "failed") == 0 ? d : 2 * d, final, code, dup, gap);
    }
    char *reply = NULL;
    unsigned after = 0;
    if (sb_replies_take(self->replies, m->to, &reply, &after)) {
        char sid[SB_TWILIO_SID_SIZE];
        /* The person answers the number that wrote to them. */
        (void)s_inbound(self, after, NULL, m->account, m->token, m->mss, m->to, m->from, reply,
                        sid);
        free(reply);
    }
}

json_t *sb_twilio_hooks_stats(sb_twilio_hooks_t *self) {
    pthread_mutex_lock(&self->lock);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I}", "status_callbacks",
                          (json_int_t)self->n_status, "duplicates", (json_int_t)self->n_duplicates,
                          "inbound", (json_int_t)self->n_inbound, "inbound_without_url",
                          (json_int_t)self->n_inbound_no_url, "forged", (json_int_t)self->n_forged);
    pthread_mutex_unlock(&self->lock);
    if (o)
        json_object_set_new(o, "replies_pending",
                            json_integer((json_int_t)sb_replies_pending(self->replies)));
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* control routes */

static json_t *s_config_json(sb_twilio_hooks_t *self) {
    pthread_mutex_lock(&self->lock);
    json_t *o = json_pack("{s:b, s:I, s:s?, s:b, s:I}", "callbacks", self->callbacks,
                          "callback_delay_ms", (json_int_t)self->callback_delay_ms, "inbound_url",
                          self->inbound_url, "duplicate_callbacks", self->duplicates,
                          "duplicate_delay_ms", (json_int_t)self->duplicate_delay_ms);
    pthread_mutex_unlock(&self->lock);
    return o;
}

static void s_config_get(pg_http_request_t *req, void *ctx) {
    sb_reply_json(req, 200, s_config_json(ctx));
}

/* A delay field: absent (keeps *out), or an integer 0..3600000. */
static bool s_delay_field(const json_t *o, const char *key, unsigned *out) {
    json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > S_MAX_DELAY_MS)
        return false;
    *out = (unsigned)json_integer_value(v);
    return true;
}

static void s_config_post(pg_http_request_t *req, void *ctx) {
    sb_twilio_hooks_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    const char *why = json_is_object(j) ? NULL : "expected a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (strcmp(key, "callbacks") != 0 && strcmp(key, "callback_delay_ms") != 0 &&
            strcmp(key, "inbound_url") != 0 && strcmp(key, "duplicate_callbacks") != 0 &&
            strcmp(key, "duplicate_delay_ms") != 0)
            why = "unknown field (callbacks, callback_delay_ms, inbound_url, "
                  "duplicate_callbacks, duplicate_delay_ms)";
    }
    pthread_mutex_lock(&self->lock);
    bool callbacks = self->callbacks, dup = self->duplicates;
    unsigned delay = self->callback_delay_ms, gap = self->duplicate_delay_ms;
    pthread_mutex_unlock(&self->lock);
    json_t *cb = json_object_get(j, "callbacks"), *du = json_object_get(j, "duplicate_callbacks");
    json_t *url = json_object_get(j, "inbound_url");
    if (!why && ((cb && !json_is_boolean(cb)) || (du && !json_is_boolean(du))))
        why = "callbacks and duplicate_callbacks must be true or false";
    if (!why && (!s_delay_field(j, "callback_delay_ms", &delay) ||
                 !s_delay_field(j, "duplicate_delay_ms", &gap)))
        why = "delays must be integers 0..3600000 (ms)";
    if (!why && url && !json_is_null(url) && !sb_twilio_url_ok(json_string_value(url)))
        why = "inbound_url must be an http(s) URL or null";
    char err[128];
    if (!why && url &&
        sb_twilio_hooks_set_inbound_url(self, json_string_value(url), err, sizeof err) != 0)
        why = "out of memory";
    if (why) {
        json_decref(j);
        pg_http_reply_error(req, 400, why);
        return;
    }
    pthread_mutex_lock(&self->lock);
    self->callbacks = cb ? json_is_true(cb) : callbacks;
    self->duplicates = du ? json_is_true(du) : dup;
    self->callback_delay_ms = delay;
    self->duplicate_delay_ms = gap;
    pthread_mutex_unlock(&self->lock);
    json_decref(j);
    s_config_get(req, ctx);
}

static void s_replies_get(pg_http_request_t *req, void *ctx) {
    sb_twilio_hooks_t *self = ctx;
    json_t *list = sb_replies_list(self->replies);
    sb_reply_json(req, list ? 200 : 500, list);
}

static void s_replies_post(pg_http_request_t *req, void *ctx) {
    sb_twilio_hooks_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    char err[256];
    int n = sb_replies_add_json(self->replies, j, err, sizeof err);
    json_decref(j);
    if (n < 0) {
        pg_http_reply_error(req, 400, err);
        return;
    }
    sb_reply_json(req, 200,
                  json_pack("{s:i, s:I}", "added", n, "pending",
                            (json_int_t)sb_replies_pending(self->replies)));
}

static void s_replies_delete(pg_http_request_t *req, void *ctx) {
    sb_twilio_hooks_t *self = ctx;
    sb_replies_clear(self->replies);
    sb_reply_json(req, 200, json_pack("{s:i}", "pending", 0));
}

/* The string field key of o, def when absent; *bad set when present but not a string. */
static const char *s_str(const json_t *o, const char *key, const char *def, bool *bad) {
    json_t *v = json_object_get(o, key);
    if (!v)
        return def;
    if (!json_is_string(v) || !pg_utf8_valid(json_string_value(v), json_string_length(v)) ||
        strlen(json_string_value(v)) != json_string_length(v))
        *bad = true;
    return json_string_value(v);
}

/* POST /_sandbox/twilio-sms/inbound: one message from a person, now, signed by the first
 * account. */
static void s_inbound_post(pg_http_request_t *req, void *ctx) {
    sb_twilio_hooks_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    bool bad = !json_is_object(j);
    const char *from = s_str(j, "from", NULL, &bad), *to = s_str(j, "to", S_DEFAULT_TO, &bad);
    const char *body = s_str(j, "body", NULL, &bad), *url = s_str(j, "url", NULL, &bad);
    const char *account = NULL, *token = NULL;
    char sid[SB_TWILIO_SID_SIZE];
    int rc = -1;
    if (bad || !pg_contact_e164(from) || !body || !*body || strlen(body) > 1600 ||
        (url && !sb_twilio_url_ok(url))) {
        pg_http_reply_error(req, 400,
                            "expected {\"from\": E.164, \"body\": text[, \"to\", \"url\"]}");
    } else if (!sb_twilio_account(self->twilio, 0, &account, &token)) {
        pg_http_reply_error(req, 500, "no Twilio account");
    } else if ((rc = s_inbound(self, 0, url, account, token, NULL, from, to, body, sid)) == 1) {
        pg_http_reply_error(req, 400,
                            "no inbound URL (--inbound-url or POST /_sandbox/twilio-sms/config)");
    } else if (rc < 0) {
        pg_http_reply_error(req, 500, "out of memory");
    } else {
        sb_reply_json(req, 202, json_pack("{s:s}", "message_sid", sid));
    }
    json_decref(j);
}

/* POST /_sandbox/twilio-sms/forge: one callback as Twilio would send it but signed with a wrong
 * token, for tests that a receiver refuses it. */
static void s_forge_post(pg_http_request_t *req, void *ctx) {
    sb_twilio_hooks_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    bool bad = !json_is_object(j);
    char sid[SB_TWILIO_SID_SIZE] = "", token[256];
    const char *url = s_str(j, "url", NULL, &bad), *kind = s_str(j, "kind", "status", &bad);
    const char *msid = s_str(j, "message_sid", NULL, &bad);
    const char *status = s_str(j, "status", "delivered", &bad);
    const char *to = s_str(j, "to", S_DEFAULT_TO, &bad),
               *from = s_str(j, "from", S_DEFAULT_TO, &bad);
    const char *body = s_str(j, "body", "STOP", &bad);
    const char *account = NULL, *real = NULL;
    bool status_kind = kind && strcmp(kind, "status") == 0;
    if (bad || !sb_twilio_url_ok(url) || (!status_kind && strcmp(kind, "inbound") != 0)) {
        json_decref(j);
        pg_http_reply_error(req, 400,
                            "expected {\"url\"[, \"kind\": \"status\"|\"inbound\", "
                            "\"message_sid\", \"status\", \"to\", \"from\", \"body\"]}");
        return;
    }
    if (!sb_twilio_account(self->twilio, 0, &account, &real) ||
        (!msid && sb_twilio_new_sid("SM", sid) != 0)) {
        json_decref(j);
        pg_http_reply_error(req, 500, "no Twilio account, or no randomness");
        return;
    }
    if (msid)
        snprintf(sid, sizeof sid, "%.34s", msid);
    snprintf(token, sizeof token, "%s-forged", real); /* the right token plus a little */
    sb_twilio_message_t m = {sid, account, token, to, from, NULL, url};
    pg_form_t *form = status_kind ? s_status_form(&m, status, 0, 0)
                                  : s_inbound_form(sid, account, NULL, from, to, body);
    int rc = form ? s_post(self, 0, url, token, form, S_KIND_FORGED, 1, 0) : -1;
    pg_form_destroy(&form);
    json_decref(j);
    if (rc != 0) {
        pg_http_reply_error(req, 500, "out of memory");
        return;
    }
    pthread_mutex_lock(&self->lock);
    self->n_forged++;
    pthread_mutex_unlock(&self->lock);
    sb_reply_json(req, 202, json_pack("{s:s}", "message_sid", sid));
}

int sb_twilio_hooks_start(sb_twilio_hooks_t *self, const sb_twilio_t *twilio, sb_webhook_t *hooks,
                          sb_server_t *server, char *err, size_t errlen) {
    self->twilio = twilio;
    self->hooks = hooks;
    static const sb_control_route_t routes[] = {
        {"GET", "/_sandbox/twilio-sms/config", PG_HTTP_BODY_NONE, s_config_get},
        {"POST", "/_sandbox/twilio-sms/config", PG_HTTP_BODY_RAW, s_config_post},
        {"GET", "/_sandbox/twilio-sms/replies", PG_HTTP_BODY_NONE, s_replies_get},
        {"POST", "/_sandbox/twilio-sms/replies", PG_HTTP_BODY_RAW, s_replies_post},
        {"DELETE", "/_sandbox/twilio-sms/replies", PG_HTTP_BODY_NONE, s_replies_delete},
        {"POST", "/_sandbox/twilio-sms/inbound", PG_HTTP_BODY_RAW, s_inbound_post},
        {"POST", "/_sandbox/twilio-sms/forge", PG_HTTP_BODY_RAW, s_forge_post},
    };
    if (sb_server_control_routes(server, routes, sizeof routes / sizeof routes[0], self) != 0) {
        snprintf(err, errlen, "cannot register the twilio-sms control routes");
        return -1;
    }
    return 0;
}

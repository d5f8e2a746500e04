/* sb_twilio_sms.c — the simulated Messages resource (see sb_twilio_sms.h).
 *
 * Validation order follows what a client sees from Twilio: authentication, then To, From,
 * Body, StatusCallback, then recipient-specific errors. Segment counting implements GSM 03.38
 * (basic + extension tables, 160/153 septets) and UCS-2 (70/67 UTF-16 units); Twilio's "smart
 * encoding" substitutions are not simulated. */
#include "sb_twilio_sms.h"

#include "pg_contact.h"
#include "pg_form.h"
#include "sb_json.h"
#include "sb_twilio_hooks.h"
#include "pg_sig.h"
#include "pg_utf8.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_PROVIDER       "twilio-sms"
#define S_MAX_BODY_CHARS 1600
#define S_MAX_URL        4000

struct sb_twilio_sms {
    const sb_twilio_t *twilio; /* the "twilio" module's */
    sb_twilio_hooks_t *hooks;
    sb_provider_t provider;
    bool callbacks; /* flags, until start */
    unsigned long callback_delay_ms;
};

/* ------------------------------------------------------------------------------------------ */
/* segments */

/* GSM 03.38 cost of code point cp in septets: 1 basic, 2 extension, 0 = not encodable. */
static int s_gsm_septets(int32_t cp) {
    if (cp == '\n' || cp == '\r')
        return 1;
    if (cp == '\f' || cp == '^' || cp == '{' || cp == '}' || cp == '\\' || cp == '[' || cp == '~' ||
        cp == ']' || cp == '|' || cp == 0x20AC)
        return 2;
    if (cp >= 0x20 && cp < 0x7F)
        return cp == '`' ? 0 : 1;
    static const int32_t basic[] = {
        0xA3,  0xA5,  0xE8,  0xE9,  0xF9,  0xEC,  0xF2,  0xC7,  0xD8,  0xF8, 0xC5, 0xE5, 0x394,
        0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6, 0xDF, 0xC9,
        0xA4,  0xA1,  0xC4,  0xD6,  0xD1,  0xDC,  0xA7,  0xBF,  0xE4,  0xF6, 0xF1, 0xFC, 0xE0};
    for (size_t i = 0; i < sizeof basic / sizeof basic[0]; i++) {
        if (basic[i] == cp)
            return 1;
    }
    return 0;
}

unsigned sb_twilio_sms_segments(const char *body, size_t len) {
    size_t septets = 0, units = 0, pos = 0;
    bool gsm = true;
    while (pos < len) {
        int32_t cp = pg_utf8_next(body, len, &pos);
        if (cp < 0)
            cp = 0xFFFD;
        units += cp > 0xFFFF ? 2 : 1;
        int s = gsm ? s_gsm_septets(cp) : 0;
        if (s == 0)
            gsm = false;
        septets += (size_t)s;
    }
    if (gsm)
        return septets <= 160 ? 1 : (unsigned)((septets + 152) / 153);
    return units <= 70 ? 1 : (unsigned)((units + 66) / 67);
}

/* ------------------------------------------------------------------------------------------ */
/* validation helpers */

/* A From Twilio would accept: E.164, a short code (3-8 digits), or an alphanumeric sender ID
 * (1-11 letters, digits, spaces; at least one letter). */
static bool s_from_ok(const char *from) {
    if (pg_contact_e164(from))
        return true;
    size_t n = strlen(from), digits = 0, letters = 0;
    for (size_t i = 0; i < n; i++) {
        char c = from[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            letters++;
        else if (c != ' ')
            return false;
    }
    if (letters == 0)
        return digits == n && n >= 3 && n <= 8;
    return n >= 1 && n <= 11;
}

/* Magic From numbers of Twilio's test credentials. */
static int s_from_error(const char *from) {
    if (strcmp(from, "+15005550001") == 0)
        return 21212;
    if (strcmp(from, "+15005550007") == 0)
        return 21606;
    if (strcmp(from, "+15005550008") == 0)
        return 21611;
    return 0;
}

static const char *s_nonempty(const char *s) {
    return s && *s ? s : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* handler */

static void s_error(pg_http_request_t *req, int code, const char *number) {
    char msg[256];
    if (number && (code == 21211 || code == 21212)) {
        snprintf(msg, sizeof msg, "The '%s' number %.40s is not a valid phone number.",
                 code == 21211 ? "To" : "From", number);
        /* number may be invalid UTF-8; keep the message valid for jansson. */
        if (!pg_utf8_valid(msg, strlen(msg)))
            snprintf(msg, sizeof msg, "The '%s' number is not a valid phone number.",
                     code == 21211 ? "To" : "From");
        sb_twilio_reply_error(req, 400, code, msg);
    } else {
        sb_twilio_reply_error(req, 400, code, NULL);
    }
}

static void s_create(pg_http_request_t *req, void *ctx) {
    sb_twilio_sms_t *self = ctx;
    const char *account = pg_http_request_capture(req, 0);
    const char *token = sb_twilio_authenticate(self->twilio, req, account);
    if (!token) {
        sb_twilio_reply_error(req, 401, 20003, NULL);
        return;
    }
    const pg_form_t *f = pg_http_request_form(req);
    size_t body_len = 0;
    const char *to = s_nonempty(pg_form_get(f, "To"));
    const char *from = s_nonempty(pg_form_get(f, "From"));
    const char *mss = s_nonempty(pg_form_get(f, "MessagingServiceSid"));
    const char *body = pg_form_getn(f, "Body", &body_len);
    const char *media = s_nonempty(pg_form_get(f, "MediaUrl"));
    const char *callback = s_nonempty(pg_form_get(f, "StatusCallback"));
    const char *culprit = NULL;
    int code = 0;
    if (!to) {
        code = 21604;
    } else if (!pg_contact_e164(to)) {
        code = 21211;
        culprit = to;
    } else if (!from && !mss) {
        code = 21603;
    } else if (from && !s_from_ok(from)) {
        code = 21212;
        culprit = from;
    } else if (from && (code = s_from_error(from)) != 0) {
        culprit = from;
    } else if (body_len == 0 && !media) {
        code = 21602;
    } else if (pg_utf8_count(body, body_len) > S_MAX_BODY_CHARS) {
        code = 21617;
    } else if (callback && !sb_twilio_url_ok(callback)) {
        code = 21609;
    } else if ((code = sb_twilio_to_error(self->twilio, to)) != 0) {
        culprit = to;
    }
    if (code) {
        s_error(req, code, culprit);
        return;
    }

    char sid[SB_TWILIO_SID_SIZE], date[40], segments[16], uri[128], media_uri[128];
    if (sb_twilio_new_sid("SM", sid) != 0) {
        sb_twilio_reply_error(req, 500, 20500, NULL);
        return;
    }
    sb_twilio_date((time_t)(pg_http_request_arrival_ms(req) / 1000), date);
    snprintf(segments, sizeof segments, "%u",
             body_len ? sb_twilio_sms_segments(body, body_len) : 1u);
    snprintf(uri, sizeof uri, "/2010-04-01/Accounts/%s/Messages/%s.json", account, sid);
    snprintf(media_uri, sizeof media_uri, "/2010-04-01/Accounts/%s/Messages/%s/Media.json", account,
             sid);
    json_t *resp = json_pack(
        "{s:s, s:s, s:o, s:s, s:n, s:s, s:s, s:n, s:n, s:o, s:o, s:s, s:s, s:n, s:s, s:s, "
        "s:s, s:{s:s}, s:s}",
        "account_sid", account, "api_version", "2010-04-01", "body", sb_json_text(body, body_len),
        "date_created", date, "date_sent", "date_updated", date, "direction", "outbound-api",
        "error_code", "error_message", "from", from ? json_string(from) : json_null(),
        "messaging_service_sid", mss ? json_string(mss) : json_null(), "num_media",
        media ? "1" : "0", "num_segments", segments, "price", "price_unit", "USD", "sid", sid,
        "status", from ? "queued" : "accepted", "subresource_uris", "media", media_uri, "uri", uri);
    if (!resp) {
        sb_twilio_reply_error(req, 500, 20500, NULL);
        return;
    }
    json_object_set_new(resp, "to", json_string(to));
    sb_reply_json(req, 201, resp);
    sb_request_set_outcome(req, 0, sid);
    sb_twilio_message_t m = {sid, account, token, to, from, mss, callback};
    sb_twilio_hooks_message(self->hooks, &m);
}

/* ------------------------------------------------------------------------------------------ */
/* provider descriptor callbacks */

static void s_summarize(pg_http_request_t *req, sb_summary_t *out, void *ctx) {
    (void)ctx;
    const pg_form_t *f = pg_http_request_form(req);
    out->account = pg_http_request_capture(req, 0);
    out->to = f ? pg_form_get(f, "To") : NULL;
    out->from = f ? pg_form_get(f, "From") : NULL;
    if (f && !out->from)
        out->from = pg_form_get(f, "MessagingServiceSid");
    out->body = f ? pg_form_get(f, "Body") : NULL;
}

static void s_render_error(pg_http_request_t *req, int status, int error_code, const char *message,
                           void *ctx) {
    (void)ctx;
    sb_twilio_reply_error(req, status, error_code, error_code ? NULL : message);
}

/* ------------------------------------------------------------------------------------------ */
/* the "twilio-sms" sandbox module */

static const sb_flag_t s_flags[] = {
    {"callbacks", NULL, "post signed StatusCallback webhooks"},
    {"callback-delay-ms", "N", "'sent' after N ms, final status after 2N (1000)"},
    {"inbound-url", "URL", "where scripted replies (inbound messages) are posted"},
    {"reply-script", "FILE", "JSON reply rules [{number, body, delay_ms, times}]"},
    {"duplicate-callbacks", NULL, "post every status callback twice (webhook retries)"},
};

static void s_module_destroy(void **state_p) {
    sb_twilio_sms_t *self = *state_p;
    if (self) {
        sb_twilio_hooks_destroy(&self->hooks);
        free(self);
    }
    *state_p = NULL;
}

static void *s_module_new(void) {
    sb_twilio_sms_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->callback_delay_ms = 1000;
    self->provider = (sb_provider_t){S_PROVIDER, s_summarize, s_render_error, self};
    if (!(self->hooks = sb_twilio_hooks_new())) {
        void *p = self;
        s_module_destroy(&p);
        return NULL;
    }
    return self;
}

static int s_module_flag(void *state, size_t i, const char *arg, char *err, size_t errlen) {
    sb_twilio_sms_t *self = state;
    char *end = NULL;
    switch (i) {
        case 0:
            self->callbacks = true;
            return 0;
        case 1:
            self->callback_delay_ms = strtoul(arg, &end, 10);
            if (!*arg || *end || *arg == '-' || self->callback_delay_ms > 3600000) {
                snprintf(err, errlen, "--callback-delay-ms wants 0..3600000");
                return -1;
            }
            return 0;
        case 2:
            return sb_twilio_hooks_set_inbound_url(self->hooks, arg, err, errlen);
        case 3:
            return sb_replies_load_file(sb_twilio_hooks_replies(self->hooks), arg, err, errlen) < 0
                       ? -1
                       : 0;
        default:
            sb_twilio_hooks_set_duplicates(self->hooks, true);
            return 0;
    }
}

static int s_module_start(void *state, const sb_env_t *env, char *err, size_t errlen) {
    sb_twilio_sms_t *self = state;
    if (!(self->twilio = sb_env_module(env, "twilio"))) {
        snprintf(err, errlen, "twilio-sms needs the twilio module before it");
        return -1;
    }
    sb_twilio_hooks_set_callbacks(self->hooks, self->callbacks, (unsigned)self->callback_delay_ms);
    if (sb_twilio_hooks_start(self->hooks, self->twilio, env->hooks, env->server, err, errlen) != 0)
        return -1;
    if (sb_server_provider_route(env->server, &self->provider, "POST",
                                 "/2010-04-01/Accounts/{AccountSid}/Messages.json",
                                 PG_HTTP_BODY_FORM, s_create, self) != 0) {
        snprintf(err, errlen, "cannot register the Messages route");
        return -1;
    }
    return 0;
}

static json_t *s_module_stats(void *state) {
    sb_twilio_sms_t *self = state;
    return sb_twilio_hooks_stats(self->hooks);
}

const sb_module_t sb_twilio_sms_module = {
    .name = S_PROVIDER,
    .describe = "Twilio Programmable Messaging: POST /2010-04-01/Accounts/{Sid}/Messages.json",
    .flags = s_flags,
    .n_flags = sizeof s_flags / sizeof s_flags[0],
    .new = s_module_new,
    .flag = s_module_flag,
    .start = s_module_start,
    .stats = s_module_stats,
    .destroy = s_module_destroy,
};

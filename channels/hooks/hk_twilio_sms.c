/* hk_twilio_sms.c — Twilio Messaging webhooks: signature, fields, events (see
 * hk_twilio_sms.h). Fields are read from the form MHD decoded; the signature is computed over
 * every field posted, whatever this module reads. */
#include "hk_twilio_sms.h"

#include "hk_keyword.h"
#include "pg_sig.h"
#include "pg_utf8.h"
#include "pregon.pb-c.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROVIDER "twilio-sms"
#define S_TWIML    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"

/* Checks the signature of a Twilio form POST; NULL when good, else the refusal reason. */
static const char *s_check(const hk_secrets_t *tokens, const hk_request_t *req) {
    const char *sig = pg_http_request_header(req->http, "X-Twilio-Signature");
    if (!sig || !*sig)
        return "unsigned";
    const pg_form_t *form = pg_http_request_form(req->http);
    const char *token = hk_secrets_get(tokens, form ? pg_form_get(form, "AccountSid") : NULL);
    if (!token)
        return "unknown-account";
    return pg_sig_twilio_verify(token, req->url, form, sig) ? NULL : "forged";
}

/* Copies form field name into *field, repaired to valid UTF-8. Missing: *field stays NULL.
 * Returns -1 when out of memory. */
static int s_copy(const pg_form_t *form, const char *name, char **field) {
    size_t len;
    const char *v = pg_form_getn(form, name, &len);
    if (!v)
        return 0;
    if (pg_utf8_valid(v, len) && !memchr(v, '\0', len))
        return hk_event_setn(field, v, len);
    size_t out_len;
    char *fixed = pg_utf8_sanitize(v, len, &out_len);
    if (!fixed)
        return -1;
    int rc = hk_event_setn(field, fixed, strnlen(fixed, out_len));
    free(fixed);
    return rc;
}

static bool s_present(const char *s) {
    return s && *s;
}

/* A status Twilio could have written: 1..32 of [a-z_]. */
static bool s_status_word(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_') || n >= 32)
            return false;
    return n > 0;
}

static hk_event_t *s_event(hk_result_t *res, int kind) {
    hk_event_t *ev = hk_result_add_event(res);
    if (!ev)
        return NULL;
    ev->kind = kind;
    ev->channel = PREGON__CHANNEL__SMS;
    if (hk_event_set(&ev->provider, S_PROVIDER) < 0)
        return NULL;
    return ev;
}

static hk_verdict_t s_status(void *ctx, const hk_request_t *req, hk_result_t *res) {
    if ((res->reason = s_check(ctx, req)))
        return HK_REFUSE;
    const pg_form_t *form = pg_http_request_form(req->http);
    hk_event_t *ev = s_event(res, PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS);
    if (!ev || s_copy(form, "MessageSid", &ev->provider_id) < 0 ||
        s_copy(form, "MessageStatus", &ev->status) < 0 ||
        s_copy(form, "ErrorCode", &ev->error_code) < 0 || s_copy(form, "To", &ev->contact) < 0 ||
        s_copy(form, "From", &ev->sender) < 0)
        return HK_NOMEM;
    if (!s_present(ev->provider_id) || !s_present(ev->status)) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    if (!s_status_word(ev->status)) {
        res->reason = "bad-status";
        return HK_INVALID;
    }
    if (ev->error_code && !*ev->error_code)
        hk_event_set(&ev->error_code, NULL);
    /* 30005 unknown destination handset, 30006 landline or unreachable carrier (PROVIDERS.md):
     * the number cannot take an SMS; the job's fallback channels may take over */
    if (ev->error_code && (!strcmp(ev->status, "undelivered") || !strcmp(ev->status, "failed")) &&
        (!strcmp(ev->error_code, "30005") || !strcmp(ev->error_code, "30006")))
        ev->fallback_eligible = 1;
    size_t n = strlen(ev->provider_id) + 1 + strlen(ev->status) + 1;
    char *id = malloc(n);
    if (!id)
        return HK_NOMEM;
    snprintf(id, n, "%s:%s", ev->provider_id, ev->status);
    ev->event_id = id;
    return hk_result_set_body(res, "text/xml", S_TWIML) < 0 ? HK_NOMEM : HK_ANSWER;
}

static hk_verdict_t s_inbound(void *ctx, const hk_request_t *req, hk_result_t *res) {
    if ((res->reason = s_check(ctx, req)))
        return HK_REFUSE;
    const pg_form_t *form = pg_http_request_form(req->http);
    size_t body_len = 0;
    const char *body = pg_form_getn(form, "Body", &body_len);
    const char *keyword = NULL;
    hk_keyword_kind_t k = hk_keyword_classify(body ? body : "", body ? body_len : 0, &keyword);
    int kind = k == HK_KEYWORD_OPT_OUT  ? PREGON__INBOUND_EVENT__KIND__OPT_OUT
               : k == HK_KEYWORD_OPT_IN ? PREGON__INBOUND_EVENT__KIND__OPT_IN
                                        : PREGON__INBOUND_EVENT__KIND__REPLY;
    hk_event_t *ev = s_event(res, kind);
    if (!ev || s_copy(form, "MessageSid", &ev->provider_id) < 0 ||
        s_copy(form, "From", &ev->contact) < 0 || s_copy(form, "To", &ev->sender) < 0 ||
        s_copy(form, "Body", &ev->text) < 0 || hk_event_set(&ev->status, keyword) < 0 ||
        hk_event_set(&ev->event_id, ev->provider_id) < 0)
        return HK_NOMEM;
    if (!s_present(ev->provider_id) || !s_present(ev->contact) || !s_present(ev->sender)) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    return hk_result_set_body(res, "text/xml", S_TWIML) < 0 ? HK_NOMEM : HK_ANSWER;
}

static const hk_route_t s_routes[] = {
    {"POST", "/twilio/sms/status", PG_HTTP_BODY_FORM, "sms-status", s_status},
    {"POST", "/twilio/sms/inbound", PG_HTTP_BODY_FORM, "sms-inbound", s_inbound},
};

int hk_twilio_sms_init(hk_module_t *out, const hk_secrets_t *tokens) {
    *out = (hk_module_t){.name = S_PROVIDER,
                         .routes = s_routes,
                         .n_routes = sizeof s_routes / sizeof s_routes[0],
                         .ctx = (void *)tokens,
                         .destroy = NULL};
    return 0;
}

/* hk_whatsapp.c — WhatsApp Cloud API webhooks: the subscription check, the signature over the
 * raw body, statuses and messages mapped to events (see hk_whatsapp.h). The body is parsed with
 * jansson only once its signature is good: an unsigned or forged body costs one HMAC, never a
 * parse. */
#include "hk_whatsapp.h"
#include "hk_meta.h"

#include "hk_kwtable.h"
#include "pg_sig.h"
#include "pregon.pb-c.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROVIDER "whatsapp"
#define S_ID_MAX   256 /* bytes of an id or a field we copy from the webhook */

typedef struct {
    hk_meta_keys_t keys;          /* the app secret (POST signatures), the verify token (GET) */
    const hk_kwtable_t *keywords; /* the catalog's; NULL: hk_keyword's words only */
} s_ctx_t;

static void s_destroy(void *ctx) {
    s_ctx_t *self = ctx;
    if (!self)
        return;
    hk_meta_keys_release(&self->keys);
    free(self);
}

static hk_verdict_t s_verify(void *ctx, const hk_request_t *req, hk_result_t *res) {
    return hk_meta_challenge(&((s_ctx_t *)ctx)->keys, req, res);
}

/* Meta's timestamps: Unix seconds as a string. 0 when absent or not one. */
static int64_t s_time_ms(const json_t *o) {
    char buf[32];
    const char *ts = hk_meta_str(o, "timestamp", buf, sizeof buf);
    if (!ts)
        return 0;
    char *end;
    long long s = strtoll(ts, &end, 10);
    return end != ts && !*end && s > 0 && s < 100000000000LL ? (int64_t)s * 1000 : 0;
}

/* A status Meta could have written: 1..32 of [a-z_]. */
static bool s_status_word(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_') || n >= 32)
            return false;
    return n > 0;
}

/* "+" and the digits Meta gives a user's number as; -1 when out of memory. */
static int s_set_phone(char **field, const char *wa_id) {
    if (!wa_id || !*wa_id)
        return 0;
    char buf[S_ID_MAX];
    snprintf(buf, sizeof buf, "%s%.*s", wa_id[0] == '+' ? "" : "+", S_ID_MAX - 2, wa_id);
    return hk_event_set(field, buf);
}

/* Reads the job reference pregon-whatsapp gives Meta ("pg1 TENANT DEBTOR JOB", wa_cloud.h's
 * wa_cloud_job_ref) into ev. Anything else is ignored: the message id still leads to the job. */
static int s_job_ref(hk_event_t *ev, const char *ref) {
    if (!ref || strncmp(ref, "pg1 ", 4) != 0 || strlen(ref) > 3 * S_ID_MAX)
        return 0;
    char copy[3 * S_ID_MAX + 1];
    snprintf(copy, sizeof copy, "%s", ref + 4);
    char *save = NULL, *t = strtok_r(copy, " ", &save), *d = strtok_r(NULL, " ", &save),
         *j = strtok_r(NULL, " ", &save);
    if (!t || !d || !j || strtok_r(NULL, " ", &save))
        return 0;
    return hk_event_set(&ev->tenant, t) < 0 || hk_event_set(&ev->debtor_id, d) < 0 ||
                   hk_event_set(&ev->job_id, j) < 0
               ? -1
               : 0;
}

static hk_event_t *s_event(hk_result_t *res, int kind, const char *sender) {
    hk_event_t *ev = hk_result_add_event(res);
    if (!ev)
        return NULL;
    ev->kind = kind;
    ev->channel = PREGON__CHANNEL__WHATSAPP;
    if (hk_event_set(&ev->provider, S_PROVIDER) < 0 || hk_event_set(&ev->sender, sender) < 0)
        return NULL;
    return ev;
}

/* One statuses[] item. HK_ANSWER, or what the request is refused with. */
static hk_verdict_t s_status(const json_t *st, const char *sender, hk_result_t *res) {
    char b1[32];
    const char *id = hk_meta_str(st, "id", b1, sizeof b1);
    const char *status = json_string_value(json_object_get(st, "status"));
    if (!id || !*id || strlen(id) >= S_ID_MAX || !status) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    if (!s_status_word(status)) {
        res->reason = "bad-status";
        return HK_INVALID;
    }
    hk_event_t *ev = s_event(res, PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS, sender);
    if (!ev)
        return HK_NOMEM;
    ev->at = s_time_ms(st);
    char code_buf[32], event_id[S_ID_MAX + 40];
    const char *code = hk_meta_str(json_array_get(json_object_get(st, "errors"), 0), "code",
                                   code_buf, sizeof code_buf);
    snprintf(event_id, sizeof event_id, "%s:%s", id, status);
    if (hk_event_set(&ev->provider_id, id) < 0 || hk_event_set(&ev->status, status) < 0 ||
        hk_event_set(&ev->event_id, event_id) < 0 ||
        s_set_phone(&ev->contact, json_string_value(json_object_get(st, "recipient_id"))) < 0 ||
        (code && strlen(code) < 24 && hk_event_set(&ev->error_code, code) < 0) ||
        s_job_ref(ev, json_string_value(json_object_get(st, "biz_opaque_callback_data"))) < 0)
        return HK_NOMEM;
    ev->fallback_eligible = strcmp(status, "failed") == 0 && code && strcmp(code, "131026") == 0;
    return HK_ANSWER;
}

static int s_kind_of(hk_keyword_kind_t k) {
    switch (k) {
        case HK_KEYWORD_OPT_OUT:
            return PREGON__INBOUND_EVENT__KIND__OPT_OUT;
        case HK_KEYWORD_OPT_IN:
            return PREGON__INBOUND_EVENT__KIND__OPT_IN;
        case HK_KEYWORD_PAYMENT_CLAIMED:
            return PREGON__INBOUND_EVENT__KIND__PAYMENT_CLAIMED;
        case HK_KEYWORD_WRONG_NUMBER:
            return PREGON__INBOUND_EVENT__KIND__WRONG_NUMBER;
        default:
            return PREGON__INBOUND_EVENT__KIND__REPLY;
    }
}

/* What a message says, and (for buttons) its payload: text, button, interactive replies. */
static const char *s_message_text(const json_t *m, const char *type, const char **payload) {
    *payload = NULL;
    if (strcmp(type, "text") == 0)
        return json_string_value(json_object_get(json_object_get(m, "text"), "body"));
    if (strcmp(type, "button") == 0) {
        const json_t *b = json_object_get(m, "button");
        *payload = json_string_value(json_object_get(b, "payload"));
        return json_string_value(json_object_get(b, "text"));
    }
    if (strcmp(type, "interactive") == 0) {
        const json_t *i = json_object_get(m, "interactive");
        const json_t *r = json_object_get(i, "button_reply");
        if (!r)
            r = json_object_get(i, "list_reply");
        *payload = json_string_value(json_object_get(r, "id"));
        return json_string_value(json_object_get(r, "title"));
    }
    return NULL;
}

/* One messages[] item. */
static hk_verdict_t s_message(const s_ctx_t *self, const json_t *m, const char *sender,
                              hk_result_t *res) {
    char b1[32];
    const char *id = hk_meta_str(m, "id", b1, sizeof b1);
    const char *from = json_string_value(json_object_get(m, "from"));
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!id || !*id || strlen(id) >= S_ID_MAX || !from || !*from || strlen(from) > 32 || !type) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    const char *payload = NULL, *text = s_message_text(m, type, &payload);
    const char *keyword = NULL;
    hk_keyword_kind_t k =
        text ? hk_kwtable_classify(self->keywords, text, strlen(text), &keyword) : HK_KEYWORD_NONE;
    if (k == HK_KEYWORD_NONE && payload)
        k = hk_kwtable_classify(self->keywords, payload, strlen(payload), &keyword);
    hk_event_t *ev = s_event(res, s_kind_of(k), sender);
    if (!ev)
        return HK_NOMEM;
    ev->at = s_time_ms(m);
    const char *status = keyword ? keyword : text ? NULL : type;
    if (hk_event_set(&ev->provider_id, id) < 0 || hk_event_set(&ev->event_id, id) < 0 ||
        s_set_phone(&ev->contact, from) < 0 || hk_event_set(&ev->text, text ? text : "") < 0 ||
        hk_event_set(&ev->keyword, keyword) < 0 || hk_event_set(&ev->status, status) < 0)
        return HK_NOMEM;
    return HK_ANSWER;
}

/* Checks the signature; NULL when good, else the refusal reason. */
static const char *s_check(const s_ctx_t *self, const hk_request_t *req, const char **body,
                           size_t *len) {
    const char *sig = pg_http_request_header(req->http, "X-Hub-Signature-256");
    *body = pg_http_request_body(req->http, len);
    if (!sig || !*sig)
        return "unsigned";
    if (!self->keys.app_secret)
        return "no-secret";
    return pg_sig_meta_verify(self->keys.app_secret, *body, *body ? *len : 0, sig) ? NULL
                                                                                   : "forged";
}

/* Every change of the notification. */
static hk_verdict_t s_changes(const s_ctx_t *self, const json_t *root, hk_result_t *res) {
    size_t i, j, k;
    json_t *entry, *change, *item;
    json_array_foreach(json_object_get(root, "entry"), i, entry) {
        json_array_foreach(json_object_get(entry, "changes"), j, change) {
            const char *field = json_string_value(json_object_get(change, "field"));
            if (!field || strcmp(field, "messages") != 0)
                continue; /* template status updates, account updates: nothing to apply */
            const json_t *value = json_object_get(change, "value");
            char b1[32];
            const char *sender =
                hk_meta_str(json_object_get(value, "metadata"), "phone_number_id", b1, sizeof b1);
            hk_verdict_t v = HK_ANSWER;
            json_array_foreach(json_object_get(value, "statuses"), k, item) {
                if ((v = s_status(item, sender, res)) != HK_ANSWER)
                    return v;
            }
            json_array_foreach(json_object_get(value, "messages"), k, item) {
                if ((v = s_message(self, item, sender, res)) != HK_ANSWER)
                    return v;
            }
        }
    }
    return HK_ANSWER;
}

static hk_verdict_t s_notify(void *ctx, const hk_request_t *req, hk_result_t *res) {
    const char *body;
    size_t len = 0;
    if ((res->reason = s_check(ctx, req, &body, &len)))
        return HK_REFUSE;
    json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
    const char *object = json_string_value(json_object_get(root, "object"));
    hk_verdict_t v = HK_ANSWER;
    if (!json_is_object(root)) {
        res->reason = "bad-json";
        v = HK_INVALID;
    } else if (!object || strcmp(object, "whatsapp_business_account") != 0) {
        res->reason = "not-whatsapp";
        v = HK_INVALID;
    } else {
        v = s_changes(ctx, root, res);
    }
    json_decref(root);
    return v;
}

static const hk_route_t s_routes[] = {
    {"GET", "/whatsapp/webhook", PG_HTTP_BODY_NONE, "whatsapp-verify", s_verify},
    {"POST", "/whatsapp/webhook", PG_HTTP_BODY_RAW, "whatsapp-webhook", s_notify},
};

int hk_whatsapp_init(hk_module_t *out, const char *app_secret, const char *verify_token) {
    s_ctx_t *self = calloc(1, sizeof *self);
    if (!self)
        return -1;
    if (hk_meta_keys_set(&self->keys, app_secret, verify_token) < 0) {
        free(self);
        return -1;
    }
    *out = (hk_module_t){.name = S_PROVIDER,
                         .routes = s_routes,
                         .n_routes = sizeof s_routes / sizeof s_routes[0],
                         .ctx = self,
                         .destroy = s_destroy};
    return 0;
}

void hk_whatsapp_set_keywords(hk_module_t *module, const hk_kwtable_t *keywords) {
    ((s_ctx_t *)module->ctx)->keywords = keywords;
}

/* hk_messenger.c — Messenger webhooks: the subscription check, the signature over the raw
 * body, and the messaging items mapped to events (see hk_messenger.h). The body is parsed with
 * jansson only once its signature is good: an unsigned body costs one HMAC, never a parse. */
#include "hk_messenger.h"
#include "hk_meta.h"

#include "hk_keyword.h"
#include "pg_sig.h"
#include "pregon.pb-c.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROVIDER "messenger"
#define S_ANSWER   "EVENT_RECEIVED"
#define S_ID_MAX   256 /* bytes of an id we build from the webhook's fields */

typedef struct {
    hk_meta_keys_t keys; /* the app secret (POST signatures), the verify token (GET) */
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

static int64_t s_int(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* A new event of kind from psid to page; NULL when out of memory. */
static hk_event_t *s_event(hk_result_t *res, int kind, const char *psid, const char *page,
                           int64_t at) {
    hk_event_t *ev = hk_result_add_event(res);
    if (!ev)
        return NULL;
    ev->kind = kind;
    ev->channel = PREGON__CHANNEL__MESSENGER;
    ev->at = at;
    if (hk_event_set(&ev->provider, S_PROVIDER) < 0 || hk_event_set(&ev->contact, psid) < 0 ||
        hk_event_set(&ev->sender, page) < 0)
        return NULL;
    return ev;
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

/* A message the debtor wrote (or a button they pressed: text = its title, payload its
 * payload, also read as a keyword). */
static hk_verdict_t s_from_debtor(hk_result_t *res, const char *psid, const char *page, int64_t at,
                                  const char *mid, const char *text, const char *payload) {
    char id[S_ID_MAX];
    if (!mid || !*mid) {
        snprintf(id, sizeof id, "postback:%.64s:%lld", psid, (long long)at);
        mid = id;
    }
    const char *keyword = NULL;
    hk_keyword_kind_t k = hk_keyword_classify(text, strlen(text), &keyword);
    if (k == HK_KEYWORD_NONE && payload)
        k = hk_keyword_classify(payload, strlen(payload), &keyword);
    hk_event_t *ev = s_event(res, s_kind_of(k), psid, page, at);
    if (!ev || hk_event_set(&ev->text, text) < 0 || hk_event_set(&ev->status, keyword) < 0 ||
        hk_event_set(&ev->keyword, keyword) < 0 ||
        hk_event_set(&ev->provider_id, mid == id ? NULL : mid) < 0 ||
        hk_event_set(&ev->event_id, mid) < 0)
        return HK_NOMEM;
    return HK_ANSWER;
}

/* A delivery or read receipt: status about one mid, or (mid NULL) about what psid was sent
 * before the watermark. */
static hk_verdict_t s_receipt(hk_result_t *res, const char *psid, const char *page,
                              int64_t watermark, const char *status, const char *mid) {
    char id[S_ID_MAX];
    if (mid)
        snprintf(id, sizeof id, "%.200s:%s", mid, status);
    else
        snprintf(id, sizeof id, "%s:%.64s:%.64s:%lld", status, page, psid, (long long)watermark);
    hk_event_t *ev =
        s_event(res, PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS, psid, page, watermark);
    if (!ev || hk_event_set(&ev->status, status) < 0 || hk_event_set(&ev->provider_id, mid) < 0 ||
        hk_event_set(&ev->event_id, id) < 0)
        return HK_NOMEM;
    return HK_ANSWER;
}

/* One item of entry[].messaging[]. */
static hk_verdict_t s_item(hk_result_t *res, const json_t *item, const char *entry_page) {
    char b1[32], b2[32], b3[32];
    const char *psid = hk_meta_str(json_object_get(item, "sender"), "id", b1, sizeof b1);
    const char *page = hk_meta_str(json_object_get(item, "recipient"), "id", b2, sizeof b2);
    if (!page)
        page = entry_page;
    if (!psid || !*psid || !page || !*page || strlen(psid) > 64 || strlen(page) > 64) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    int64_t at = s_int(item, "timestamp");
    const json_t *message = json_object_get(item, "message");
    if (json_is_object(message)) {
        if (json_is_true(json_object_get(message, "is_echo")))
            return HK_ANSWER; /* our own message, echoed back */
        const char *text = hk_meta_str(message, "text", b3, sizeof b3);
        const char *mid = json_string_value(json_object_get(message, "mid"));
        if (!mid || !*mid) {
            res->reason = "missing-field";
            return HK_INVALID;
        }
        return s_from_debtor(res, psid, page, at, mid, text ? text : "", NULL);
    }
    const json_t *postback = json_object_get(item, "postback");
    if (json_is_object(postback)) {
        const char *title = json_string_value(json_object_get(postback, "title"));
        const char *payload = json_string_value(json_object_get(postback, "payload"));
        return s_from_debtor(res, psid, page, at,
                             json_string_value(json_object_get(postback, "mid")),
                             title     ? title
                             : payload ? payload
                                       : "",
                             payload);
    }
    const json_t *delivery = json_object_get(item, "delivery");
    if (json_is_object(delivery)) {
        const json_t *mids = json_object_get(delivery, "mids");
        int64_t watermark = s_int(delivery, "watermark");
        size_t i, n = json_is_array(mids) ? json_array_size(mids) : 0, used = 0;
        const json_t *mid;
        json_array_foreach(mids, i, mid) {
            if (!json_is_string(mid) || !json_string_length(mid) || json_string_length(mid) > 200)
                continue;
            used++;
            hk_verdict_t v =
                s_receipt(res, psid, page, watermark, "delivered", json_string_value(mid));
            if (v != HK_ANSWER)
                return v;
        }
        if (used || n)
            return HK_ANSWER;
        if (!watermark) {
            res->reason = "missing-field";
            return HK_INVALID;
        }
        return s_receipt(res, psid, page, watermark, "delivered", NULL);
    }
    const json_t *read = json_object_get(item, "read");
    if (json_is_object(read)) {
        int64_t watermark = s_int(read, "watermark");
        if (!watermark) {
            res->reason = "missing-field";
            return HK_INVALID;
        }
        return s_receipt(res, psid, page, watermark, "read", NULL);
    }
    return HK_ANSWER; /* reactions, referrals, optins...: nothing of ours */
}

static hk_verdict_t s_events(hk_result_t *res, const json_t *root) {
    const json_t *object = json_object_get(root, "object");
    const json_t *entries = json_object_get(root, "entry");
    if (!json_is_string(object) || strcmp(json_string_value(object), "page") != 0 ||
        !json_is_array(entries)) {
        res->reason = "not-a-page-object";
        return HK_INVALID;
    }
    size_t i, j;
    const json_t *entry, *item;
    json_array_foreach(entries, i, entry) {
        char buf[32];
        const char *page = hk_meta_str(entry, "id", buf, sizeof buf);
        const json_t *messaging = json_object_get(entry, "messaging");
        json_array_foreach(messaging, j, item) {
            hk_verdict_t v = json_is_object(item) ? s_item(res, item, page) : HK_ANSWER;
            if (v != HK_ANSWER)
                return v;
        }
    }
    return HK_ANSWER;
}

static hk_verdict_t s_post(void *ctx, const hk_request_t *req, hk_result_t *res) {
    s_ctx_t *self = ctx;
    const char *sig = pg_http_request_header(req->http, "X-Hub-Signature-256");
    size_t len = 0;
    const char *body = pg_http_request_body(req->http, &len);
    if (!sig || !*sig) {
        res->reason = "unsigned";
        return HK_REFUSE;
    }
    if (!self->keys.app_secret) {
        res->reason = "no-secret";
        return HK_REFUSE;
    }
    if (!pg_sig_meta_verify(self->keys.app_secret, body, body ? len : 0, sig)) {
        res->reason = "forged";
        return HK_REFUSE;
    }
    json_error_t jerr;
    json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        res->reason = "bad-json";
        return HK_INVALID;
    }
    hk_verdict_t v = s_events(res, root);
    json_decref(root);
    if (v != HK_ANSWER)
        return v;
    return hk_result_set_body(res, "text/plain", S_ANSWER) < 0 ? HK_NOMEM : HK_ANSWER;
}

static const hk_route_t s_routes[] = {
    {"GET", "/messenger/webhook", PG_HTTP_BODY_NONE, "messenger-verify", s_verify},
    {"POST", "/messenger/webhook", PG_HTTP_BODY_RAW, "messenger-events", s_post},
};

int hk_messenger_init(hk_module_t *out, const char *app_secret, const char *verify_token) {
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

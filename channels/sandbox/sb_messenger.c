/* sb_messenger.c — the simulated Send API, its window and its webhooks (see sb_messenger.h).
 *
 * The window table is a chained hash of (page, PSID) -> the instant of the person's last
 * message, written only by the scripted inbound route: a window exists only where this sandbox
 * itself made the person write. Webhook bodies are built with jansson and signed with pg_sig;
 * sb_webhook posts them. The provider's summary (recipient, text) must outlive the handler
 * until the server records the request, on the same thread: it is parsed into thread-local
 * buffers. */
#include "sb_messenger.h"

#include "pg_sig.h"
#include "pg_utf8.h"
#include "sb_json.h"
#include "sb_twilio.h"
#include "sb_twilio_hooks.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#define S_PROVIDER       "messenger"
#define S_MAX_PAGES      16
#define S_BUCKETS        4096
#define S_MAX_TEXT_CHARS 2000
#define S_ID_MAX         64
#define S_KIND_MESSAGE   "messenger/message"
#define S_KIND_DELIVERY  "messenger/delivery"
#define S_KIND_READ      "messenger/read"
#define S_KIND_FORGED    "messenger/forged"
#define S_JSON_TYPE      "application/json"

typedef struct s_window {
    struct s_window *next;
    int64_t opened_ms;
    char page[S_ID_MAX + 1];
    char psid[S_ID_MAX + 1];
} s_window_t;

typedef struct {
    char id[S_ID_MAX + 1];
    char *token;
} s_page_t;

typedef struct {
    pthread_mutex_t lock;
    s_page_t pages[S_MAX_PAGES];
    size_t n_pages;
    char *app_secret;
    char *webhook_url;
    bool deliveries, reads;
    unsigned callback_delay_ms;
    int64_t window_ms;
    int64_t clock_offset_ms;
    s_window_t *windows[S_BUCKETS];
    size_t n_windows;
    uint64_t n_sent, n_outside, n_auth, n_inbound, n_delivery, n_read, n_forged, n_no_url;
    sb_webhook_t *hooks;
    sb_provider_t provider;
} s_self_t;

/* ------------------------------------------------------------------------------------------ */
/* small helpers */

static int64_t s_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The sandbox's clock: the wall clock shifted by clock_offset_s. Caller holds the lock. */
static int64_t s_now_locked(const s_self_t *self) {
    return s_wall_ms() + self->clock_offset_ms;
}

/* An id fit for the window table and a URL path: 1..64 of [0-9A-Za-z._-]. */
static bool s_id_ok(const char *s) {
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= S_ID_MAX || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                               (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

static bool s_psid_ok(const char *s) {
    if (!s || !*s || strlen(s) > 32)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static unsigned s_hash(const char *page, const char *psid) {
    uint32_t h = 2166136261u;
    for (const char *p = page; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (const char *p = psid; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % S_BUCKETS;
}

/* The window of (page, psid), NULL when the person never wrote. Caller holds the lock. */
static s_window_t *s_window_find(s_self_t *self, const char *page, const char *psid) {
    for (s_window_t *w = self->windows[s_hash(page, psid)]; w; w = w->next)
        if (strcmp(w->page, page) == 0 && strcmp(w->psid, psid) == 0)
            return w;
    return NULL;
}

/* Opens (or restarts) the window of (page, psid) at now. Returns 0, or -1 when out of memory.
 * Caller holds the lock. */
static int s_window_open(s_self_t *self, const char *page, const char *psid, int64_t now) {
    s_window_t *w = s_window_find(self, page, psid);
    if (!w) {
        if (!(w = calloc(1, sizeof *w)))
            return -1;
        snprintf(w->page, sizeof w->page, "%s", page);
        snprintf(w->psid, sizeof w->psid, "%s", psid);
        unsigned b = s_hash(page, psid);
        w->next = self->windows[b];
        self->windows[b] = w;
        self->n_windows++;
    }
    w->opened_ms = now;
    return 0;
}

/* The page whose token is token (constant time per page), NULL when none. */
static const s_page_t *s_page_of_token(const s_self_t *self, const char *token) {
    const s_page_t *found = NULL;
    size_t tl = token ? strlen(token) : 0;
    for (size_t i = 0; i < self->n_pages && tl; i++) {
        const s_page_t *p = &self->pages[i];
        if (strlen(p->token) == tl && CRYPTO_memcmp(p->token, token, tl) == 0)
            found = p;
    }
    return found;
}

/* The request's token: "Authorization: Bearer X", else ?access_token=X; NULL when none. */
static const char *s_token(pg_http_request_t *req) {
    const char *h = pg_http_request_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        return h + 7;
    return pg_http_request_query(req, "access_token");
}

/* ------------------------------------------------------------------------------------------ */
/* Graph errors */

static int s_default_subcode(int code) {
    switch (code) {
        case 10:
            return 2018278;
        case 551:
            return 1545041;
        case 100:
            return 2018001;
        default:
            return 0;
    }
}

static const char *s_error_message(int code, int subcode) {
    switch (code) {
        case 190:
            return "Invalid OAuth access token - Cannot parse access token";
        case 10:
            return "(#10) This message is sent outside of allowed window.";
        case 551:
            return "(#551) This person isn't available right now.";
        case 100:
            return subcode == 2018001 ? "(#100) No matching user found"
                                      : "(#100) Invalid parameter";
        case 1200:
            return "(#1200) Temporary send message failure. Please try again later";
        case 2:
            return "An unexpected error has occurred. Please retry your request later.";
        case 4:
            return "(#4) Application request limit reached";
        case 613:
            return "(#613) Calls to this api have exceeded the rate limit.";
        case 32:
            return "(#32) Page request limit reached";
        case 1:
            return "An unknown error occurred";
        default:
            return "(#100) Invalid parameter";
    }
}

/* Replies with Graph's error body; subcode -1 = the code's usual one, message NULL = its text. */
static void s_reply_error(pg_http_request_t *req, int status, int code, int subcode,
                          const char *message) {
    if (subcode < 0)
        subcode = s_default_subcode(code);
    char trace[SB_TWILIO_SID_SIZE] = "A0";
    (void)sb_twilio_new_sid("A0", trace);
    json_t *err = json_pack("{s:s, s:s, s:i, s:s}", "message",
                            message ? message : s_error_message(code, subcode), "type",
                            "OAuthException", "code", code, "fbtrace_id", trace);
    if (err && subcode)
        json_object_set_new(err, "error_subcode", json_integer(subcode));
    sb_reply_json(req, status, err ? json_pack("{s:o}", "error", err) : NULL);
    sb_request_set_outcome(req, code, NULL);
}

/* The fault plan's answers, in Graph's format: a scripted code as given, else the code for the
 * status (429 -> 4, 5xx -> 2, 401 -> 190, anything else -> 100). */
static void s_render_error(pg_http_request_t *req, int status, int error_code, const char *message,
                           void *ctx) {
    (void)ctx, (void)message;
    int code = error_code      ? error_code
               : status == 429 ? 4
               : status >= 500 ? 2
               : status == 401 ? 190
                               : 100;
    s_reply_error(req, status, code, -1, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* webhooks */

/* Signs body with secret and queues it to url after delay_ms. Returns 0 or -1. */
static int s_post_signed(s_self_t *self, unsigned delay_ms, const char *url, const char *secret,
                         json_t *body, const char *kind) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char sig[PG_SIG_META_SIZE], header[PG_SIG_META_SIZE + 32];
    int rc = -1;
    if (text && pg_sig_meta(secret, text, strlen(text), sig, sizeof sig) == 0) {
        snprintf(header, sizeof header, "X-Hub-Signature-256: %s", sig);
        rc = sb_webhook_post(self->hooks, delay_ms, url, S_JSON_TYPE, text, header, kind);
    }
    free(text);
    return rc;
}

/* {"object":"page","entry":[{"id":page,"time":now,"messaging":[item]}]} with item's sender and
 * recipient set; steals item. NULL when out of memory. */
static json_t *s_page_object(const char *page, const char *psid, int64_t now, json_t *item) {
    if (!item)
        return NULL;
    json_object_set_new(item, "sender", json_pack("{s:s}", "id", psid));
    json_object_set_new(item, "recipient", json_pack("{s:s}", "id", page));
    json_object_set_new(item, "timestamp", json_integer(now));
    return json_pack("{s:s, s:[{s:s, s:I, s:[o]}]}", "object", "page", "entry", "id", page, "time",
                     (json_int_t)now, "messaging", item);
}

/* The messaging item of kind ("message", "delivery", "read"). NULL when out of memory. */
static json_t *s_item(const char *kind, const char *mid, const char *text, int64_t watermark) {
    if (strcmp(kind, "message") == 0)
        return json_pack("{s:{s:s, s:s}}", "message", "mid", mid, "text", text);
    if (strcmp(kind, "delivery") == 0)
        return json_pack("{s:{s:[s], s:I}}", "delivery", "mids", mid, "watermark",
                         (json_int_t)watermark);
    return json_pack("{s:{s:I}}", "read", "watermark", (json_int_t)watermark);
}

/* What a sent message brings back: its delivery, then its read receipt. */
static void s_receipts(s_self_t *self, const char *page, const char *psid, const char *mid,
                       int64_t now) {
    pthread_mutex_lock(&self->lock);
    char *url = self->webhook_url ? strdup(self->webhook_url) : NULL;
    char *secret = url && self->app_secret ? strdup(self->app_secret) : NULL;
    bool deliveries = self->deliveries, reads = self->reads;
    unsigned d = self->callback_delay_ms;
    pthread_mutex_unlock(&self->lock);
    int delivered = -1, read = -1;
    if (url && secret && deliveries)
        delivered = s_post_signed(
            self, d, url, secret,
            s_page_object(page, psid, now + d, s_item("delivery", mid, NULL, now + d)),
            S_KIND_DELIVERY);
    if (url && secret && reads)
        read = s_post_signed(
            self, 2 * d, url, secret,
            s_page_object(page, psid, now + 2 * d, s_item("read", NULL, NULL, now + 2 * d)),
            S_KIND_READ);
    pthread_mutex_lock(&self->lock);
    self->n_delivery += delivered == 0;
    self->n_read += read == 0;
    pthread_mutex_unlock(&self->lock);
    if (secret)
        OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    free(url);
}

/* ------------------------------------------------------------------------------------------ */
/* the Send API */

/* The body's recipient and text, for the fault plan and the store (see the file's comment). */
static __thread char s_sum_psid[S_ID_MAX + 1];
static __thread char s_sum_text[4 * S_MAX_TEXT_CHARS + 1];

static void s_summarize(pg_http_request_t *req, sb_summary_t *out, void *ctx) {
    (void)ctx;
    size_t len = 0;
    const char *raw = pg_http_request_body(req, &len);
    json_t *j = raw ? json_loadb(raw, len, 0, NULL) : NULL;
    const char *psid = json_string_value(json_object_get(json_object_get(j, "recipient"), "id"));
    const char *text = json_string_value(json_object_get(json_object_get(j, "message"), "text"));
    snprintf(s_sum_psid, sizeof s_sum_psid, "%s", psid ? psid : "");
    snprintf(s_sum_text, sizeof s_sum_text, "%s", text ? text : "");
    json_decref(j);
    out->account = pg_http_request_capture(req, 1);
    out->from = out->account;
    out->to = s_sum_psid[0] ? s_sum_psid : NULL;
    out->body = text ? s_sum_text : NULL;
}

/* Why the body is unusable ("" = fine): sets *psid, *text, *type from j. */
static const char *s_check_body(const json_t *j, const char **psid, const char **text,
                                const char **type) {
    const json_t *msg = json_object_get(j, "message");
    *psid = json_string_value(json_object_get(json_object_get(j, "recipient"), "id"));
    *text = json_string_value(json_object_get(msg, "text"));
    *type = json_string_value(json_object_get(j, "messaging_type"));
    if (!json_is_object(j))
        return "(#100) The request body must be a JSON object";
    if (!*psid || !**psid)
        return "(#100) param recipient must be non-empty.";
    if (!s_psid_ok(*psid))
        return "(#100) No matching user found";
    if (!*type || (strcmp(*type, "RESPONSE") != 0 && strcmp(*type, "UPDATE") != 0 &&
                   strcmp(*type, "MESSAGE_TAG") != 0))
        return "(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}";
    if (strcmp(*type, "MESSAGE_TAG") == 0 && !json_is_string(json_object_get(j, "tag")))
        return "(#100) param tag is required for messaging_type MESSAGE_TAG";
    if (!json_is_object(msg) || !*text || !**text)
        return "(#100) param message must be non-empty (text).";
    if (pg_utf8_count(*text, strlen(*text)) > S_MAX_TEXT_CHARS)
        return "(#100) param message[text] must be UTF-8 encoded with at most 2000 characters";
    return "";
}

static void s_send(pg_http_request_t *req, void *ctx) {
    s_self_t *self = ctx;
    const char *path_page = pg_http_request_capture(req, 1);
    pthread_mutex_lock(&self->lock);
    const s_page_t *page = s_page_of_token(self, s_token(req));
    char page_id[S_ID_MAX + 1] = "";
    if (page)
        snprintf(page_id, sizeof page_id, "%s", page->id);
    else
        self->n_auth++;
    pthread_mutex_unlock(&self->lock);
    if (!page) {
        s_reply_error(req, 400, 190, 0, NULL);
        return;
    }
    if (!path_page || (strcmp(path_page, "me") != 0 && strcmp(path_page, page_id) != 0)) {
        s_reply_error(req, 400, 100, 33,
                      "(#100) Unsupported post request. Object does not exist or the token "
                      "cannot act on it");
        return;
    }
    size_t len = 0;
    const char *raw = pg_http_request_body(req, &len);
    json_t *j = raw ? json_loadb(raw, len, 0, NULL) : NULL;
    const char *psid = NULL, *text = NULL, *type = NULL;
    const char *why = j ? s_check_body(j, &psid, &text, &type) : "(#100) Invalid JSON";
    if (why[0]) {
        s_reply_error(req, 400, 100, strstr(why, "No matching") ? 2018001 : 0, why);
        json_decref(j);
        return;
    }
    pthread_mutex_lock(&self->lock);
    int64_t now = s_now_locked(self);
    const s_window_t *w = s_window_find(self, page_id, psid);
    bool open = strcmp(type, "MESSAGE_TAG") == 0 || (w && now - w->opened_ms < self->window_ms);
    if (!open)
        self->n_outside++;
    pthread_mutex_unlock(&self->lock);
    char sid[SB_TWILIO_SID_SIZE], mid[SB_TWILIO_SID_SIZE + 2];
    if (!open) {
        s_reply_error(req, 400, 10, 2018278, NULL);
    } else if (sb_twilio_new_sid("MM", sid) != 0) {
        s_reply_error(req, 500, 2, 0, NULL);
    } else {
        snprintf(mid, sizeof mid, "m_%s", sid + 2);
        sb_reply_json(req, 200, json_pack("{s:s, s:s}", "recipient_id", psid, "message_id", mid));
        sb_request_set_outcome(req, 0, mid);
        pthread_mutex_lock(&self->lock);
        self->n_sent++;
        pthread_mutex_unlock(&self->lock);
        s_receipts(self, page_id, psid, mid, now);
    }
    json_decref(j);
}

/* ------------------------------------------------------------------------------------------ */
/* control routes */

static json_t *s_config_json(s_self_t *self) {
    pthread_mutex_lock(&self->lock);
    json_t *o = json_pack("{s:s?, s:b, s:b, s:I, s:I, s:I}", "webhook_url", self->webhook_url,
                          "deliveries", self->deliveries, "reads", self->reads, "callback_delay_ms",
                          (json_int_t)self->callback_delay_ms, "window_s",
                          (json_int_t)(self->window_ms / 1000), "clock_offset_s",
                          (json_int_t)(self->clock_offset_ms / 1000));
    pthread_mutex_unlock(&self->lock);
    return o;
}

static void s_config_get(pg_http_request_t *req, void *ctx) {
    sb_reply_json(req, 200, s_config_json(ctx));
}

/* An integer field in lo..hi: absent (true, *out kept) or valid (true, *out set). */
static bool s_int_field(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
                        json_int_t *out) {
    const json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = json_integer_value(v);
    return true;
}

static void s_config_post(pg_http_request_t *req, void *ctx) {
    s_self_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    static const char *const known[] = {"webhook_url",       "deliveries", "reads",
                                        "callback_delay_ms", "window_s",   "clock_offset_s"};
    const char *why = json_is_object(j) ? NULL : "expected a JSON object", *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            why = "unknown field (webhook_url, deliveries, reads, callback_delay_ms, window_s, "
                  "clock_offset_s)";
    }
    pthread_mutex_lock(&self->lock);
    json_int_t delay = self->callback_delay_ms, window = self->window_ms / 1000,
               offset = self->clock_offset_ms / 1000;
    pthread_mutex_unlock(&self->lock);
    const json_t *url = json_object_get(j, "webhook_url"), *de = json_object_get(j, "deliveries"),
                 *re = json_object_get(j, "reads");
    if (!why && ((de && !json_is_boolean(de)) || (re && !json_is_boolean(re))))
        why = "deliveries and reads must be true or false";
    if (!why && (!s_int_field(j, "callback_delay_ms", 0, 3600000, &delay) ||
                 !s_int_field(j, "window_s", 1, 366 * 86400, &window) ||
                 !s_int_field(j, "clock_offset_s", -366 * 86400, 366 * 86400, &offset)))
        why = "callback_delay_ms 0..3600000, window_s 1..31622400, clock_offset_s +-31622400";
    if (!why && url && !json_is_null(url) && !sb_twilio_url_ok(json_string_value(url)))
        why = "webhook_url must be an http(s) URL or null";
    char *copy = !why && url && json_is_string(url) ? strdup(json_string_value(url)) : NULL;
    if (why) {
        json_decref(j);
        pg_http_reply_error(req, 400, why);
        return;
    }
    pthread_mutex_lock(&self->lock);
    if (url) {
        free(self->webhook_url);
        self->webhook_url = copy;
    }
    self->deliveries = de ? json_is_true(de) : self->deliveries;
    self->reads = re ? json_is_true(re) : self->reads;
    self->callback_delay_ms = (unsigned)delay;
    self->window_ms = (int64_t)window * 1000;
    self->clock_offset_ms = (int64_t)offset * 1000;
    pthread_mutex_unlock(&self->lock);
    json_decref(j);
    s_config_get(req, ctx);
}

/* The fields of an inbound or forge request: psid, page (default: the first page), text, url
 * (default: the webhook URL), mid. Returns NULL, or why the request is unusable. */
typedef struct {
    const char *psid, *page, *text, *url, *mid, *kind;
} s_hook_req_t;

static const char *s_hook_fields(s_self_t *self, const json_t *j, s_hook_req_t *r) {
    r->psid = json_string_value(json_object_get(j, "psid"));
    r->page = json_string_value(json_object_get(j, "page"));
    r->text = json_string_value(json_object_get(j, "text"));
    r->url = json_string_value(json_object_get(j, "url"));
    r->mid = json_string_value(json_object_get(j, "mid"));
    r->kind = json_string_value(json_object_get(j, "kind"));
    if (!r->page && self->n_pages)
        r->page = self->pages[0].id; /* fixed before the server starts */
    if (!json_is_object(j) || !s_psid_ok(r->psid))
        return "expected {\"psid\": digits, ...}";
    if (!s_id_ok(r->page))
        return "no page (--messenger-page ID:TOKEN), or a bad \"page\"";
    if (r->url && !sb_twilio_url_ok(r->url))
        return "url must be an http(s) URL";
    if (r->mid && !s_id_ok(r->mid))
        return "mid must be 1..64 of [0-9A-Za-z._-]";
    return NULL;
}

/* POST /_sandbox/messenger/inbound: the person writes to the page now. */
static void s_inbound_post(pg_http_request_t *req, void *ctx) {
    s_self_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    s_hook_req_t r;
    const char *why = s_hook_fields(self, j, &r);
    if (!why && (!r.text || !*r.text || pg_utf8_count(r.text, strlen(r.text)) > 2000))
        why = "expected {\"psid\", \"text\": 1..2000 characters[, \"page\", \"url\"]}";
    char sid[SB_TWILIO_SID_SIZE], mid[SB_TWILIO_SID_SIZE + 2];
    if (!why && sb_twilio_new_sid("MI", sid) != 0)
        why = "no randomness";
    pthread_mutex_lock(&self->lock);
    char *url = !why ? strdup(r.url ? r.url : self->webhook_url ? self->webhook_url : "") : NULL;
    char *secret = url && self->app_secret ? strdup(self->app_secret) : NULL;
    int64_t now = s_now_locked(self);
    int opened = !why ? s_window_open(self, r.page, r.psid, now) : -1;
    pthread_mutex_unlock(&self->lock);
    int rc = -1;
    if (!why && opened == 0 && url && url[0] && secret) {
        snprintf(mid, sizeof mid, "m_%s", sid + 2);
        rc = s_post_signed(self, 0, url, secret,
                           s_page_object(r.page, r.psid, now, s_item("message", mid, r.text, 0)),
                           S_KIND_MESSAGE);
    }
    pthread_mutex_lock(&self->lock);
    self->n_inbound += rc == 0;
    self->n_no_url += !why && opened == 0 && (!url || !url[0]);
    pthread_mutex_unlock(&self->lock);
    if (why)
        pg_http_reply_error(req, 400, why);
    else if (opened != 0)
        pg_http_reply_error(req, 500, "out of memory");
    else if (!url || !url[0] || !secret) /* the window is open all the same */
        sb_reply_json(
            req, 202,
            json_pack("{s:s, s:I, s:b}", "mid", "", "timestamp", (json_int_t)now, "posted", 0));
    else if (rc != 0)
        pg_http_reply_error(req, 503, "the webhook queue is full");
    else
        sb_reply_json(
            req, 202,
            json_pack("{s:s, s:I, s:b}", "mid", mid, "timestamp", (json_int_t)now, "posted", 1));
    if (secret)
        OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    free(url);
    json_decref(j);
}

/* POST /_sandbox/messenger/forge: a webhook as Messenger would send it, signed with a wrong
 * secret, for tests that the receiver refuses it. */
static void s_forge_post(pg_http_request_t *req, void *ctx) {
    s_self_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    s_hook_req_t r;
    const char *why = s_hook_fields(self, j, &r);
    const char *kind = r.kind ? r.kind : "message";
    if (!why && strcmp(kind, "message") != 0 && strcmp(kind, "delivery") != 0 &&
        strcmp(kind, "read") != 0)
        why = "kind must be message, delivery or read";
    pthread_mutex_lock(&self->lock);
    char *url =
        !why && (r.url || self->webhook_url) ? strdup(r.url ? r.url : self->webhook_url) : NULL;
    size_t sl = self->app_secret ? strlen(self->app_secret) : 0;
    char *secret = malloc(sl + 8);
    if (secret)
        snprintf(secret, sl + 8, "%s-forged", self->app_secret ? self->app_secret : "");
    int64_t now = s_now_locked(self);
    pthread_mutex_unlock(&self->lock);
    if (!why && !url)
        why = "no url and no webhook URL";
    int rc = -1;
    if (!why && secret)
        rc = s_post_signed(
            self, 0, url, secret,
            s_page_object(r.page, r.psid, now,
                          s_item(kind, r.mid ? r.mid : "m_forged", r.text ? r.text : "STOP", now)),
            S_KIND_FORGED);
    if (rc == 0) {
        pthread_mutex_lock(&self->lock);
        self->n_forged++;
        pthread_mutex_unlock(&self->lock);
    }
    if (why)
        pg_http_reply_error(req, 400, why);
    else if (rc != 0)
        pg_http_reply_error(req, 500, "out of memory, or the webhook queue is full");
    else
        sb_reply_json(req, 202, json_pack("{s:s}", "kind", kind));
    if (secret)
        OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    free(url);
    json_decref(j);
}

static void s_windows_get(pg_http_request_t *req, void *ctx) {
    s_self_t *self = ctx;
    json_t *list = json_array();
    pthread_mutex_lock(&self->lock);
    int64_t now = s_now_locked(self);
    for (size_t b = 0; list && b < S_BUCKETS; b++)
        for (const s_window_t *w = self->windows[b]; w; w = w->next)
            json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:b}", "page", w->page, "psid",
                                                  w->psid, "opened_ms", (json_int_t)w->opened_ms,
                                                  "open", now - w->opened_ms < self->window_ms));
    pthread_mutex_unlock(&self->lock);
    sb_reply_json(req, list ? 200 : 500, list);
}

/* ------------------------------------------------------------------------------------------ */
/* the "messenger" sandbox module */

static const sb_flag_t s_flags[] = {
    {"messenger-page", "ID:TOKEN", "a page and its access token (repeatable)"},
    {"messenger-app-secret", "SECRET", "the app secret that signs the webhooks"},
    {"messenger-webhook-url", "URL", "where the page's webhooks go (pregon-hooks)"},
    {"messenger-callback-delay-ms", "N", "delivery after N ms, read after 2N (200)"},
    {"messenger-window-s", "N", "the standard messaging window (86400)"},
};

static void s_module_destroy(void **state_p) {
    s_self_t *self = *state_p;
    if (self) {
        for (size_t i = 0; i < self->n_pages; i++) {
            OPENSSL_cleanse(self->pages[i].token, strlen(self->pages[i].token));
            free(self->pages[i].token);
        }
        for (size_t b = 0; b < S_BUCKETS; b++)
            for (s_window_t *w = self->windows[b], *next; w; w = next) {
                next = w->next;
                free(w);
            }
        if (self->app_secret)
            OPENSSL_cleanse(self->app_secret, strlen(self->app_secret));
        free(self->app_secret);
        free(self->webhook_url);
        pthread_mutex_destroy(&self->lock);
        free(self);
    }
    *state_p = NULL;
}

static void *s_module_new(void) {
    s_self_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    self->deliveries = self->reads = true;
    self->callback_delay_ms = 200;
    self->window_ms = 86400 * 1000LL;
    self->provider = (sb_provider_t){S_PROVIDER, s_summarize, s_render_error, self};
    return self;
}

static int s_add_page(s_self_t *self, const char *arg, char *err, size_t errlen) {
    const char *colon = arg ? strchr(arg, ':') : NULL;
    char id[S_ID_MAX + 2];
    if (!colon || colon == arg || (size_t)(colon - arg) > S_ID_MAX || !colon[1] ||
        self->n_pages == S_MAX_PAGES) {
        snprintf(err, errlen, "--messenger-page wants ID:TOKEN (at most %d pages)", S_MAX_PAGES);
        return -1;
    }
    snprintf(id, sizeof id, "%.*s", (int)(colon - arg), arg);
    s_page_t *p = &self->pages[self->n_pages];
    if (!s_id_ok(id) || !(p->token = strdup(colon + 1))) {
        snprintf(err, errlen, "--messenger-page: a page id is 1..64 of [0-9A-Za-z._-]");
        return -1;
    }
    snprintf(p->id, sizeof p->id, "%.64s", id);
    self->n_pages++;
    return 0;
}

static int s_module_flag(void *state, size_t i, const char *arg, char *err, size_t errlen) {
    s_self_t *self = state;
    char *end = NULL;
    unsigned long v;
    switch (i) {
        case 0:
            return s_add_page(self, arg, err, errlen);
        case 1:
            free(self->app_secret);
            if (!*arg || !(self->app_secret = strdup(arg))) {
                snprintf(err, errlen, "--messenger-app-secret wants a non-empty secret");
                return -1;
            }
            return 0;
        case 2:
            free(self->webhook_url);
            self->webhook_url = NULL;
            if (!sb_twilio_url_ok(arg) || !(self->webhook_url = strdup(arg))) {
                snprintf(err, errlen, "--messenger-webhook-url wants an http(s) URL");
                return -1;
            }
            return 0;
        default:
            v = strtoul(arg, &end, 10);
            if (!*arg || *end || *arg == '-' || v > (i == 3 ? 3600000ul : 366ul * 86400) ||
                (i == 4 && v == 0)) {
                snprintf(err, errlen, "%s wants %s",
                         i == 3 ? "--messenger-callback-delay-ms" : "--messenger-window-s",
                         i == 3 ? "0..3600000" : "1..31622400");
                return -1;
            }
            if (i == 3)
                self->callback_delay_ms = (unsigned)v;
            else
                self->window_ms = (int64_t)v * 1000;
            return 0;
    }
}

static int s_module_start(void *state, const sb_env_t *env, char *err, size_t errlen) {
    s_self_t *self = state;
    self->hooks = env->hooks;
    static const sb_control_route_t routes[] = {
        {"GET", "/_sandbox/messenger/config", PG_HTTP_BODY_NONE, s_config_get},
        {"POST", "/_sandbox/messenger/config", PG_HTTP_BODY_RAW, s_config_post},
        {"POST", "/_sandbox/messenger/inbound", PG_HTTP_BODY_RAW, s_inbound_post},
        {"POST", "/_sandbox/messenger/forge", PG_HTTP_BODY_RAW, s_forge_post},
        {"GET", "/_sandbox/messenger/windows", PG_HTTP_BODY_NONE, s_windows_get},
    };
    if (sb_server_control_routes(env->server, routes, sizeof routes / sizeof routes[0], self) !=
            0 ||
        sb_server_provider_route(env->server, &self->provider, "POST",
                                 "/messenger/{Version}/{PageId}/messages", PG_HTTP_BODY_RAW, s_send,
                                 self) != 0) {
        snprintf(err, errlen, "cannot register the messenger routes");
        return -1;
    }
    return 0;
}

static json_t *s_module_stats(void *state) {
    s_self_t *self = state;
    pthread_mutex_lock(&self->lock);
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sent", (json_int_t)self->n_sent,
        "outside_window", (json_int_t)self->n_outside, "bad_token", (json_int_t)self->n_auth,
        "inbound", (json_int_t)self->n_inbound, "inbound_without_url", (json_int_t)self->n_no_url,
        "deliveries", (json_int_t)self->n_delivery, "reads", (json_int_t)self->n_read, "forged",
        (json_int_t)self->n_forged, "windows", (json_int_t)self->n_windows);
    pthread_mutex_unlock(&self->lock);
    return o;
}

const sb_module_t sb_messenger_module = {
    .name = S_PROVIDER,
    .describe = "Messenger Send API: POST /messenger/{version}/{page-id}/messages, the 24 h window",
    .flags = s_flags,
    .n_flags = sizeof s_flags / sizeof s_flags[0],
    .new = s_module_new,
    .flag = s_module_flag,
    .start = s_module_start,
    .stats = s_module_stats,
    .destroy = s_module_destroy,
};

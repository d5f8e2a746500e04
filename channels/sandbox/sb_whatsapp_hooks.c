/* sb_whatsapp_hooks.c — what simulated WhatsApp posts back: status webhooks of accepted
 * messages, inbound messages (scripted replies, or one posted through the control API), forged
 * webhooks for tests, and the control routes of the reply and outcome scripts (see
 * sb_whatsapp.h).
 *
 * Every webhook is Meta's envelope {"object":"whatsapp_business_account","entry":[{"id",
 * "changes":[{"value":{...},"field":"messages"}]}]}, signed with X-Hub-Signature-256 (pg_sig)
 * over the exact bytes posted, and goes through sb_webhook, counted by kind: "whatsapp/status",
 * "whatsapp/inbound", "whatsapp/forged". Settings are copied under the module's lock; bodies
 * are built and signed outside it. */
#include "sb_whatsapp_int.h"

#include "pg_contact.h"
#include "pg_sig.h"
#include "pg_utf8.h"
#include "sb_json.h"
#include "sb_twilio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_KIND_STATUS  "whatsapp/status"
#define S_KIND_INBOUND "whatsapp/inbound"
#define S_KIND_FORGED  "whatsapp/forged"
#define S_WABA         "sandbox-waba"

/* --- the map --- */

static uint32_t s_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

sb_wa_entry_t *sb_wa_map_get(sb_wa_entry_t **table, const char *key, bool create) {
    uint32_t slot = s_hash(key) % SB_WA_MAP_SIZE;
    for (sb_wa_entry_t *e = table[slot]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    size_t len = strlen(key);
    sb_wa_entry_t *e = calloc(1, sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, len + 1);
    e->next = table[slot];
    table[slot] = e;
    return e;
}

void sb_wa_map_clear(sb_wa_entry_t **table) {
    for (size_t i = 0; i < SB_WA_MAP_SIZE; i++) {
        sb_wa_entry_t *e = table[i];
        while (e) {
            sb_wa_entry_t *next = e->next;
            free(e);
            e = next;
        }
        table[i] = NULL;
    }
}

/* --- posting --- */

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wraps value (stolen) in Meta's envelope, signs it with secret and queues it for url. */
static int s_post(sb_whatsapp_t *self, unsigned delay_ms, const char *url, const char *secret,
                  json_t *value, const char *kind) {
    json_t *env =
        json_pack("{s:s, s:[{s:s, s:[{s:o, s:s}]}]}", "object", "whatsapp_business_account",
                  "entry", "id", S_WABA, "changes", "value", value, "field", "messages");
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!body)
        return -1;
    char sig[PG_SIG_META_SIZE], header[PG_SIG_META_SIZE + 32];
    int rc = pg_sig_meta(secret, body, strlen(body), sig, sizeof sig);
    if (rc == 0) {
        snprintf(header, sizeof header, "X-Hub-Signature-256: %s", sig);
        rc = sb_webhook_post(self->hooks, delay_ms, url, "application/json", body, header, kind);
    }
    free(body);
    return rc;
}

static json_t *s_metadata(const char *phone) {
    return json_pack("{s:s, s:s}", "display_phone_number", "15550000000", "phone_number_id", phone);
}

/* value of a status webhook; error_code 0 = none. */
static json_t *s_status_value(const char *wamid, const char *phone, const char *to,
                              const char *status, int error_code, const char *biz, int64_t at_ms) {
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)(at_ms / 1000));
    json_t *st = json_pack("{s:s, s:s, s:s, s:s}", "id", wamid, "status", status, "timestamp", ts,
                           "recipient_id", to[0] == '+' ? to + 1 : to);
    if (!st)
        return NULL;
    if (biz && *biz)
        json_object_set_new(st, "biz_opaque_callback_data", json_string(biz));
    if (strcmp(status, "failed") != 0)
        json_object_set_new(st, "pricing",
                            json_pack("{s:b, s:s, s:s}", "billable", 1, "pricing_model", "PMP",
                                      "category", "utility"));
    if (error_code) {
        char msg[96];
        snprintf(msg, sizeof msg, "(#%d) %s", error_code,
                 error_code == 131026 ? "Message undeliverable" : "Message failed to send");
        json_object_set_new(st, "errors",
                            json_pack("[{s:i, s:s, s:s, s:{s:s}}]", "code", error_code, "title",
                                      msg, "message", msg, "error_data", "details", msg));
    }
    return json_pack("{s:s, s:o, s:[o]}", "messaging_product", "whatsapp", "metadata",
                     s_metadata(phone), "statuses", st);
}

/* value of an inbound message; body "button:TEXT" is a quick-reply button. */
static json_t *s_inbound_value(const char *id, const char *phone, const char *from,
                               const char *body, const char *context_id, int64_t at_ms) {
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)(at_ms / 1000));
    const char *wa_id = from[0] == '+' ? from + 1 : from;
    json_t *msg = json_pack("{s:s, s:s, s:s}", "from", wa_id, "id", id, "timestamp", ts);
    if (!msg)
        return NULL;
    if (strncmp(body, "button:", 7) == 0) {
        json_object_set_new(msg, "type", json_string("button"));
        json_object_set_new(msg, "button",
                            json_pack("{s:s, s:s}", "payload", body + 7, "text", body + 7));
    } else {
        json_object_set_new(msg, "type", json_string("text"));
        json_object_set_new(msg, "text", json_pack("{s:s}", "body", body));
    }
    if (context_id && *context_id)
        json_object_set_new(msg, "context",
                            json_pack("{s:s, s:s}", "from", "15550000000", "id", context_id));
    return json_pack("{s:s, s:o, s:[{s:{s:s}, s:s}], s:[o]}", "messaging_product", "whatsapp",
                     "metadata", s_metadata(phone), "contacts", "profile", "name", "Sandbox User",
                     "wa_id", wa_id, "messages", msg);
}

int sb_wa_hooks_inbound(sb_whatsapp_t *self, unsigned delay_ms, const char *from, const char *phone,
                        const char *body, const char *context_id, char id_out[64]) {
    char sid[SB_TWILIO_SID_SIZE], id[64], url[4096], secret[256], ph[64];
    if (sb_twilio_new_sid("IN", sid) != 0)
        return -1;
    snprintf(id, sizeof id, "wamid.%s", sid);
    pthread_mutex_lock(&self->lock);
    bool have = self->webhook_url != NULL;
    snprintf(url, sizeof url, "%s", have ? self->webhook_url : "");
    snprintf(secret, sizeof secret, "%s", self->secret);
    snprintf(ph, sizeof ph, "%s",
             phone && *phone  ? phone
             : self->n_phones ? self->phones[0]
                              : "sandbox-phone");
    sb_wa_entry_t *w = sb_wa_map_get(self->window, from, true);
    if (w)
        w->value = s_now_ms() + delay_ms;
    if (have)
        self->n_inbound++;
    else
        self->n_no_url++;
    pthread_mutex_unlock(&self->lock);
    if (!have)
        return -1;
    json_t *v = s_inbound_value(id, ph, from, body, context_id, s_now_ms() + delay_ms);
    if (!v || s_post(self, delay_ms, url, secret, v, S_KIND_INBOUND) != 0)
        return -1;
    if (id_out)
        snprintf(id_out, 64, "%s", id);
    return 0;
}

void sb_wa_hooks_message(sb_whatsapp_t *self, const char *wamid, const char *phone, const char *to,
                         const char *biz) {
    char url[4096], secret[256], status[16] = "";
    int code = 0;
    pthread_mutex_lock(&self->lock);
    bool have = self->webhook_url != NULL;
    snprintf(url, sizeof url, "%s", have ? self->webhook_url : "");
    snprintf(secret, sizeof secret, "%s", self->secret);
    unsigned delay = self->callback_delay_ms;
    bool read = self->read;
    for (size_t i = 0; i < self->n_outcomes; i++) {
        sb_wa_outcome_t *o = &self->outcomes[i];
        if (strcmp(o->number, to) != 0)
            continue;
        snprintf(status, sizeof status, "%s", o->status);
        code = o->error_code;
        if (o->times && --o->times == 0) {
            memmove(o, o + 1, (self->n_outcomes - i - 1) * sizeof *o);
            self->n_outcomes--;
        }
        break;
    }
    pthread_mutex_unlock(&self->lock);
    int64_t now = s_now_ms();
    unsigned posted = 0;
    if (have) {
        const char *seq[3] = {"sent", status[0] ? status : "delivered", "read"};
        size_t n = status[0] ? 2 : read ? 3 : 2;
        for (size_t i = 0; i < n; i++) {
            unsigned at = delay * (unsigned)(i + 1);
            json_t *v = s_status_value(wamid, phone, to, seq[i], i == 1 ? code : 0, biz, now + at);
            if (v && s_post(self, at, url, secret, v, S_KIND_STATUS) == 0)
                posted++;
        }
    }
    char *reply = NULL;
    unsigned after = 0;
    if (sb_replies_take(self->replies, to, &reply, &after)) {
        /* the person answers once the message reached them (after "delivered") */
        sb_wa_hooks_inbound(self, 2 * delay + after, to, phone, reply, wamid, NULL);
        free(reply);
    }
    pthread_mutex_lock(&self->lock);
    self->n_statuses += posted;
    pthread_mutex_unlock(&self->lock);
}

void sb_wa_hooks_stats(sb_whatsapp_t *self, json_t *o) {
    pthread_mutex_lock(&self->lock);
    json_object_set_new(o, "statuses", json_integer((json_int_t)self->n_statuses));
    json_object_set_new(o, "inbound", json_integer((json_int_t)self->n_inbound));
    json_object_set_new(o, "inbound_without_url", json_integer((json_int_t)self->n_no_url));
    json_object_set_new(o, "forged", json_integer((json_int_t)self->n_forged));
    json_object_set_new(o, "outcomes_pending", json_integer((json_int_t)self->n_outcomes));
    pthread_mutex_unlock(&self->lock);
    json_object_set_new(o, "replies_pending",
                        json_integer((json_int_t)sb_replies_pending(self->replies)));
}

/* --- control routes --- */

static void s_bad(pg_http_request_t *req, const char *why) {
    sb_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 400, "error", why));
}

static void s_replies_get(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    sb_reply_json(req, 200, sb_replies_list(self->replies));
}

static void s_replies_post(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    char err[256];
    int n = sb_replies_add_json(self->replies, j, err, sizeof err);
    json_decref(j);
    if (n < 0)
        s_bad(req, err);
    else
        sb_reply_json(req, 200,
                      json_pack("{s:i, s:I}", "added", n, "pending",
                                (json_int_t)sb_replies_pending(self->replies)));
}

static void s_replies_delete(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    sb_replies_clear(self->replies);
    sb_reply_json(req, 200, json_pack("{s:i}", "pending", 0));
}

static void s_outcomes_get(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    json_t *list = json_array();
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; list && i < self->n_outcomes; i++) {
        const sb_wa_outcome_t *o = &self->outcomes[i];
        json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:i}", "number", o->number, "status",
                                              o->status, "error_code", o->error_code, "times",
                                              (int)o->times));
    }
    pthread_mutex_unlock(&self->lock);
    sb_reply_json(req, 200, list);
}

/* One outcome rule from o; NULL when valid, else why not. */
static const char *s_outcome(const json_t *o, sb_wa_outcome_t *out) {
    const char *key;
    json_t *v;
    memset(out, 0, sizeof *out);
    snprintf(out->status, sizeof out->status, "failed");
    out->times = 1;
    if (!json_is_object(o))
        return "an outcome is an object {number, status, error_code, times}";
    json_object_foreach((json_t *)o, key, v) {
        if (strcmp(key, "number") == 0 && json_is_string(v) &&
            pg_contact_e164(json_string_value(v)))
            snprintf(out->number, sizeof out->number, "%s", json_string_value(v));
        else if (strcmp(key, "status") == 0 && json_is_string(v) &&
                 (strcmp(json_string_value(v), "failed") == 0 ||
                  strcmp(json_string_value(v), "delivered") == 0))
            snprintf(out->status, sizeof out->status, "%s", json_string_value(v));
        else if (strcmp(key, "error_code") == 0 && json_is_integer(v) &&
                 json_integer_value(v) >= 0 && json_integer_value(v) < 10000000)
            out->error_code = (int)json_integer_value(v);
        else if (strcmp(key, "times") == 0 && json_is_integer(v) && json_integer_value(v) >= 0 &&
                 json_integer_value(v) <= 1000000)
            out->times = (unsigned)json_integer_value(v);
        else
            return "outcome fields: number (E.164), status (failed|delivered), error_code, times";
    }
    return out->number[0] ? NULL : "an outcome needs a number (E.164)";
}

static void s_outcomes_post(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    sb_wa_outcome_t add[64];
    size_t n = 0;
    const char *why = NULL;
    if (json_is_array(j)) {
        size_t i;
        json_t *o;
        json_array_foreach(j, i, o) {
            if (n == 64) {
                why = "at most 64 outcomes at once";
                break;
            }
            if ((why = s_outcome(o, &add[n++])))
                break;
        }
    } else {
        why = s_outcome(j, &add[n++]);
    }
    json_decref(j);
    pthread_mutex_lock(&self->lock);
    if (!why && self->n_outcomes + n > SB_WA_MAX_OUTCOMES)
        why = "too many pending outcomes";
    if (!why) {
        memcpy(&self->outcomes[self->n_outcomes], add, n * sizeof *add);
        self->n_outcomes += n;
    }
    size_t pending = self->n_outcomes;
    pthread_mutex_unlock(&self->lock);
    if (why)
        s_bad(req, why);
    else
        sb_reply_json(req, 200,
                      json_pack("{s:i, s:I}", "added", (int)n, "pending", (json_int_t)pending));
}

static void s_outcomes_delete(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    pthread_mutex_lock(&self->lock);
    self->n_outcomes = 0;
    pthread_mutex_unlock(&self->lock);
    sb_reply_json(req, 200, json_pack("{s:i}", "pending", 0));
}

/* A UTF-8 string field of o, def when absent; *bad when present and not one. */
static const char *s_str(const json_t *o, const char *key, const char *def, bool *bad) {
    json_t *v = json_object_get(o, key);
    if (!v)
        return def;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = true;
        return def;
    }
    return json_string_value(v);
}

static void s_inbound_post(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    bool bad = !json_is_object(j);
    const char *from = s_str(j, "from", NULL, &bad), *body = s_str(j, "body", NULL, &bad);
    const char *phone = s_str(j, "phone_number_id", NULL, &bad);
    const char *context = s_str(j, "context_id", NULL, &bad);
    char id[64];
    if (bad || !from || !pg_contact_e164(from) || !body || !*body || strlen(body) > 4096)
        s_bad(req, "inbound wants {\"from\": E.164, \"body\": text[, \"phone_number_id\", "
                   "\"context_id\"]}");
    else if (sb_wa_hooks_inbound(self, 0, from, phone, body, context, id) != 0)
        s_bad(req, "no webhook URL (--wa-webhook-url or config webhook_url), or out of memory");
    else
        sb_reply_json(req, 202, json_pack("{s:s}", "id", id));
    json_decref(j);
}

/* A webhook signed with a wrong secret: pregon-hooks must refuse it. */
static void s_forge_post(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    bool bad = !json_is_object(j);
    char url[4096];
    pthread_mutex_lock(&self->lock);
    snprintf(url, sizeof url, "%s", self->webhook_url ? self->webhook_url : "");
    char phone[64];
    snprintf(phone, sizeof phone, "%s", self->n_phones ? self->phones[0] : "sandbox-phone");
    pthread_mutex_unlock(&self->lock);
    const char *u = s_str(j, "url", url, &bad), *kind = s_str(j, "kind", "status", &bad);
    const char *id = s_str(j, "id", "wamid.FORGED", &bad);
    const char *status = s_str(j, "status", "failed", &bad);
    const char *to = s_str(j, "to", "+15550001111", &bad);
    const char *from = s_str(j, "from", "+15550001111", &bad);
    const char *body = s_str(j, "body", "baja", &bad);
    json_t *v = NULL;
    if (!bad && *u && strcmp(kind, "status") == 0)
        v = s_status_value(id, phone, to, status, strcmp(status, "failed") == 0 ? 131026 : 0, NULL,
                           s_now_ms());
    else if (!bad && *u && strcmp(kind, "inbound") == 0)
        v = s_inbound_value(id, phone, from, body, NULL, s_now_ms());
    if (!v) {
        s_bad(req, "forge wants {\"url\"?, \"kind\": \"status\"|\"inbound\", \"id\", \"status\", "
                   "\"to\", \"from\", \"body\"} and a URL");
    } else if (s_post(self, 0, u, "not-the-app-secret", v, S_KIND_FORGED) != 0) {
        s_bad(req, "could not queue it");
    } else {
        pthread_mutex_lock(&self->lock);
        self->n_forged++;
        pthread_mutex_unlock(&self->lock);
        sb_reply_json(req, 202, json_pack("{s:s}", "id", id));
    }
    json_decref(j);
}

int sb_wa_hooks_routes(sb_whatsapp_t *self, sb_server_t *server) {
    static const sb_control_route_t routes[] = {
        {"GET", "/_sandbox/whatsapp/replies", PG_HTTP_BODY_NONE, s_replies_get},
        {"POST", "/_sandbox/whatsapp/replies", PG_HTTP_BODY_RAW, s_replies_post},
        {"DELETE", "/_sandbox/whatsapp/replies", PG_HTTP_BODY_NONE, s_replies_delete},
        {"GET", "/_sandbox/whatsapp/outcomes", PG_HTTP_BODY_NONE, s_outcomes_get},
        {"POST", "/_sandbox/whatsapp/outcomes", PG_HTTP_BODY_RAW, s_outcomes_post},
        {"DELETE", "/_sandbox/whatsapp/outcomes", PG_HTTP_BODY_NONE, s_outcomes_delete},
        {"POST", "/_sandbox/whatsapp/inbound", PG_HTTP_BODY_RAW, s_inbound_post},
        {"POST", "/_sandbox/whatsapp/forge", PG_HTTP_BODY_RAW, s_forge_post},
    };
    return sb_server_control_routes(server, routes, sizeof routes / sizeof routes[0], self);
}

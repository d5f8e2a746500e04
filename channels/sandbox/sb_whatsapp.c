/* sb_whatsapp.c — the simulated WhatsApp Cloud messages endpoint, its settings and the "whatsapp"
 * sandbox module (see sb_whatsapp.h; the webhooks it posts are sb_whatsapp_hooks.c's).
 *
 * Checks run in the order a client sees them from Meta: the token, the phone number id, the
 * body, the template or the window, then the rate limits (pair, then throughput), which count
 * accepted messages only. The summary the store records is built in per-thread buffers: the
 * server calls summarize, the handler and the recording on one thread, one request at a time. */
#include "sb_whatsapp.h"

#include "pg_utf8.h"
#include "sb_json.h"
#include "sb_twilio.h"
#include "sb_twilio_hooks.h"
#include "sb_whatsapp_int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_PROVIDER  "whatsapp"
#define S_WINDOW_MS (24LL * 3600 * 1000)

/* --- errors --- */

static const char *s_message(int code) {
    switch (code) {
        case 190:
            return "Invalid OAuth access token - Cannot parse access token";
        case 10:
            return "(#10) Application does not have permission for this action";
        case 368:
            return "(#368) Temporarily blocked for policies violations";
        case 4:
            return "(#4) Application request limit reached";
        case 80007:
            return "(#80007) Rate limit issues";
        case 130429:
            return "(#130429) Rate limit hit";
        case 131056:
            return "(#131056) (Business Account, Consumer Account) pair rate limit hit";
        case 131047:
            return "(#131047) Re-engagement message";
        case 131026:
            return "(#131026) Message undeliverable";
        case 131049:
            return "(#131049) This message was not delivered to maintain healthy ecosystem "
                   "engagement.";
        case 131048:
            return "(#131048) Spam rate limit hit";
        case 132000:
            return "(#132000) Number of parameters does not match the expected number of params";
        case 132001:
            return "(#132001) Template name does not exist in the translation";
        case 131000:
            return "(#131000) Something went wrong";
        case 2:
            return "(#2) Service temporarily unavailable";
        default:
            return "(#100) Invalid parameter";
    }
}

static void s_reply_error(pg_http_request_t *req, int status, int code, const char *details) {
    if (!code)
        code = status == 401 ? 190 : status == 429 ? 130429 : status >= 500 ? 2 : 100;
    char trace[SB_TWILIO_SID_SIZE];
    if (sb_twilio_new_sid("FB", trace) != 0)
        snprintf(trace, sizeof trace, "FB0");
    json_t *body =
        json_pack("{s:{s:s, s:s, s:i, s:{s:s, s:s}, s:s}}", "error", "message", s_message(code),
                  "type", "OAuthException", "code", code, "error_data", "messaging_product",
                  "whatsapp", "details", details ? details : s_message(code), "fbtrace_id", trace);
    sb_reply_json(req, status, body);
    sb_request_set_outcome(req, code, NULL);
}

static void s_render_error(pg_http_request_t *req, int status, int code, const char *message,
                           void *ctx) {
    (void)ctx;
    s_reply_error(req, code == 190 ? 401 : status ? status : 400, code, message);
}

/* --- the summary the store records --- */

static __thread char s_to[64], s_body[160];

static void s_summarize(pg_http_request_t *req, sb_summary_t *out, void *ctx) {
    (void)ctx;
    out->account = out->from = pg_http_request_capture(req, 1);
    size_t len = 0;
    const char *raw = pg_http_request_body(req, &len);
    json_t *j = raw ? json_loadb(raw, len, 0, NULL) : NULL;
    const char *to = json_string_value(json_object_get(j, "to"));
    s_to[0] = s_body[0] = '\0';
    if (to && strlen(to) < sizeof s_to - 1) {
        snprintf(s_to, sizeof s_to, "%s%s", to[0] == '+' ? "" : "+", to);
        out->to = s_to;
    }
    const char *text = json_string_value(json_object_get(json_object_get(j, "text"), "body"));
    const char *tpl = json_string_value(json_object_get(json_object_get(j, "template"), "name"));
    if (tpl)
        snprintf(s_body, sizeof s_body, "template:%.140s", tpl);
    else if (text)
        snprintf(s_body, sizeof s_body, "%.150s", text);
    size_t n = strlen(s_body);
    while (n && !pg_utf8_valid(s_body, n)) /* a cut inside a character */
        s_body[--n] = '\0';
    if (n)
        out->body = s_body;
    json_decref(j);
}

/* --- the messages endpoint --- */

static bool s_token_ok(const sb_whatsapp_t *self, pg_http_request_t *req) {
    const char *h = pg_http_request_header(req, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t n = strlen(self->token);
    return strlen(h) == n && CRYPTO_memcmp(h, self->token, n) == 0;
}

static bool s_digits(const char *s, size_t min, size_t max) {
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n >= min && n <= max;
}

/* The template check: 0, or the error code. Under the lock. */
static int s_template_check(const sb_whatsapp_t *self, const json_t *t) {
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *lang = json_string_value(json_object_get(json_object_get(t, "language"), "code"));
    if (!name || !*name || !lang || !*lang)
        return 100;
    if (!self->check_templates)
        return 0;
    const sb_wa_template_t *found = NULL;
    for (size_t i = 0; i < self->n_templates && !found; i++)
        if (strcmp(self->templates[i].name, name) == 0 &&
            strcmp(self->templates[i].language, lang) == 0)
            found = &self->templates[i];
    if (!found)
        return 132001;
    if (found->body_params < 0)
        return 0;
    int n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(t, "components"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type && strcmp(type, "body") == 0)
            n += (int)json_array_size(json_object_get(c, "parameters"));
    }
    return n == found->body_params ? 0 : 132000;
}

/* Window, pair rate, throughput; on success counts the message. 0 or the error code. Under
 * the lock. */
static int s_admit(sb_whatsapp_t *self, const char *phone, const char *to, bool text, int64_t now) {
    if (text && self->enforce_window) {
        sb_wa_entry_t *w = sb_wa_map_get(self->window, to, false);
        if (!w || now - w->value > S_WINDOW_MS) {
            self->n_window_refused++;
            return 131047;
        }
    }
    char key[160];
    snprintf(key, sizeof key, "%s/%s", phone, to);
    sb_wa_entry_t *pair = sb_wa_map_get(self->pairs, key, true);
    sb_wa_entry_t *rate = sb_wa_map_get(self->rates, phone, true);
    if (!pair || !rate)
        return 131000;
    if (self->pair_interval_ms && pair->count && now - pair->value < self->pair_interval_ms) {
        self->n_pair_refused++;
        return 131056;
    }
    if (self->throughput > 0) {
        if (now - rate->value >= 1000) {
            rate->value = now;
            rate->count = 0;
        }
        if ((double)rate->count + 1 > self->throughput) {
            self->n_rate_refused++;
            return 130429;
        }
        rate->count++;
    }
    pair->value = now;
    pair->count++;
    self->n_accepted++;
    return 0;
}

static void s_messages(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    if (!s_token_ok(self, req)) {
        s_reply_error(req, 401, 190, NULL);
        return;
    }
    const char *phone = pg_http_request_capture(req, 1);
    size_t len = 0;
    const char *raw = pg_http_request_body(req, &len);
    json_t *j = raw ? json_loadb(raw, len, 0, NULL) : NULL;
    const char *product = json_string_value(json_object_get(j, "messaging_product"));
    const char *to = json_string_value(json_object_get(j, "to"));
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *biz = json_string_value(json_object_get(j, "biz_opaque_callback_data"));
    int code = 0;
    const char *details = NULL;
    bool text = type && strcmp(type, "text") == 0;
    pthread_mutex_lock(&self->lock);
    bool phone_ok = self->n_phones == 0;
    for (size_t i = 0; i < self->n_phones && !phone_ok; i++)
        phone_ok = strcmp(self->phones[i], phone) == 0;
    if (!phone_ok) {
        code = 100, details = "Unsupported post request: no such phone number id";
    } else if (!json_is_object(j) || !product || strcmp(product, "whatsapp") != 0) {
        code = 100, details = "messaging_product must be \"whatsapp\"";
    } else if (!to || !s_digits(to[0] == '+' ? to + 1 : to, 8, 15)) {
        code = 100, details = "to must be a phone number";
    } else if (!type || (!text && strcmp(type, "template") != 0)) {
        code = 100, details = "type must be template or text";
    } else if (text && !json_is_string(json_object_get(json_object_get(j, "text"), "body"))) {
        code = 100, details = "text.body is required";
    } else if (!text && (code = s_template_check(self, json_object_get(j, "template")))) {
        self->n_template_refused++;
    } else if (biz && strlen(biz) > 512) {
        code = 100, details = "biz_opaque_callback_data is longer than 512 characters";
    }
    char plus_to[24] = "";
    if (!code) {
        snprintf(plus_to, sizeof plus_to, "+%s", to[0] == '+' ? to + 1 : to);
        code = s_admit(self, phone, plus_to, text, pg_http_request_arrival_ms(req));
    }
    pthread_mutex_unlock(&self->lock);
    if (code) {
        s_reply_error(req, code == 190 ? 401 : 400, code, details);
        json_decref(j);
        return;
    }
    char sid[SB_TWILIO_SID_SIZE], wamid[64];
    if (sb_twilio_new_sid("HB", sid) != 0) {
        s_reply_error(req, 500, 131000, NULL);
        json_decref(j);
        return;
    }
    snprintf(wamid, sizeof wamid, "wamid.%s", sid);
    const char *wa_id = plus_to + 1;
    sb_reply_json(req, 200,
                  json_pack("{s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "messaging_product",
                            "whatsapp", "contacts", "input", to, "wa_id", wa_id, "messages", "id",
                            wamid, "message_status", "accepted"));
    sb_request_set_outcome(req, 0, wamid);
    sb_wa_hooks_message(self, wamid, phone, plus_to, biz);
    json_decref(j);
}

/* --- settings --- */

/* Replaces the template list with the array j: [{"name","language","body_params"?}]. NULL, or
 * why not (list unchanged). */
static const char *s_set_templates(sb_whatsapp_t *self, const json_t *j) {
    if (!json_is_array(j) || json_array_size(j) > SB_WA_MAX_TEMPLATES)
        return "templates are a list of at most 256 {name, language, body_params}";
    sb_wa_template_t *list = calloc(SB_WA_MAX_TEMPLATES, sizeof *list);
    if (!list)
        return "out of memory";
    size_t i;
    json_t *t;
    json_array_foreach(j, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *lang = json_string_value(json_object_get(t, "language"));
        json_t *n = json_object_get(t, "body_params");
        if (!name || !*name || strlen(name) >= sizeof list[i].name || !lang || !*lang ||
            strlen(lang) >= sizeof list[i].language || (n && !json_is_integer(n))) {
            free(list);
            return "a template is {\"name\", \"language\", \"body_params\"?: integer}";
        }
        snprintf(list[i].name, sizeof list[i].name, "%s", name);
        snprintf(list[i].language, sizeof list[i].language, "%s", lang);
        list[i].body_params = n ? (int)json_integer_value(n) : -1;
    }
    pthread_mutex_lock(&self->lock);
    memcpy(self->templates, list, SB_WA_MAX_TEMPLATES * sizeof *list);
    self->n_templates = json_array_size(j);
    self->check_templates = true;
    pthread_mutex_unlock(&self->lock);
    free(list);
    return NULL;
}

static int s_set_url(sb_whatsapp_t *self, const char *url, char *err, size_t errlen) {
    char *copy = NULL;
    if (url && (!sb_twilio_url_ok(url) || !(copy = strdup(url)))) {
        snprintf(err, errlen, "the webhook URL must be an http(s) URL of at most 4000 bytes");
        return -1;
    }
    pthread_mutex_lock(&self->lock);
    free(self->webhook_url);
    self->webhook_url = copy;
    pthread_mutex_unlock(&self->lock);
    return 0;
}

static json_t *s_config_json(sb_whatsapp_t *self) {
    pthread_mutex_lock(&self->lock);
    json_t *o =
        json_pack("{s:s?, s:I, s:b, s:f, s:I, s:b}", "webhook_url", self->webhook_url,
                  "callback_delay_ms", (json_int_t)self->callback_delay_ms, "read", self->read,
                  "throughput", self->throughput, "pair_interval_ms",
                  (json_int_t)self->pair_interval_ms, "enforce_window", self->enforce_window);
    pthread_mutex_unlock(&self->lock);
    return o;
}

static void s_config_get(pg_http_request_t *req, void *ctx) {
    sb_reply_json(req, 200, s_config_json(ctx));
}

static void s_config_post(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    const char *why = json_is_object(j) ? NULL : "expected a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        bool num =
            json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 3600000;
        if ((strcmp(key, "read") == 0 || strcmp(key, "enforce_window") == 0) ? !json_is_boolean(v)
            : strcmp(key, "webhook_url") == 0
                ? !(json_is_null(v) || sb_twilio_url_ok(json_string_value(v)))
            : strcmp(key, "throughput") == 0 ? !(json_is_number(v) && json_number_value(v) >= 0)
            : (strcmp(key, "callback_delay_ms") == 0 || strcmp(key, "pair_interval_ms") == 0)
                ? !num
                : true)
            why = "config fields: webhook_url (http(s) or null), callback_delay_ms, read, "
                  "throughput, pair_interval_ms, enforce_window";
    }
    if (!why) {
        char err[128];
        json_t *url = json_object_get(j, "webhook_url");
        if (url)
            s_set_url(self, json_string_value(url), err, sizeof err);
        pthread_mutex_lock(&self->lock);
        json_object_foreach(j, key, v) {
            if (strcmp(key, "read") == 0)
                self->read = json_is_true(v);
            else if (strcmp(key, "enforce_window") == 0)
                self->enforce_window = json_is_true(v);
            else if (strcmp(key, "throughput") == 0)
                self->throughput = json_number_value(v);
            else if (strcmp(key, "callback_delay_ms") == 0)
                self->callback_delay_ms = (unsigned)json_integer_value(v);
            else if (strcmp(key, "pair_interval_ms") == 0)
                self->pair_interval_ms = (unsigned)json_integer_value(v);
        }
        pthread_mutex_unlock(&self->lock);
    }
    json_decref(j);
    if (why)
        sb_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 400, "error", why));
    else
        sb_reply_json(req, 200, s_config_json(self));
}

static void s_templates_get(pg_http_request_t *req, void *ctx) {
    sb_whatsapp_t *self = ctx;
    json_t *list = json_array();
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; list && i < self->n_templates; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "name", self->templates[i].name,
                                              "language", self->templates[i].language,
                                              "body_params", self->templates[i].body_params));
    pthread_mutex_unlock(&self->lock);
    sb_reply_json(req, 200, list);
}

static void s_templates_post(pg_http_request_t *req, void *ctx) {
    json_t *j = sb_json_body(req);
    if (!j)
        return;
    const char *why = s_set_templates(ctx, j);
    json_decref(j);
    if (why)
        sb_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 400, "error", why));
    else
        s_templates_get(req, ctx);
}

/* --- the module --- */

static const sb_flag_t s_flags[] = {
    {"wa-token", "TOKEN", "the access token a request must carry (default sandbox-wa-token)"},
    {"wa-app-secret", "SECRET", "signs the webhooks, X-Hub-Signature-256 (sandbox-app-secret)"},
    {"wa-phone-number-id", "ID", "a phone number id the API knows (repeatable; none: any)"},
    {"wa-templates", "FILE", "JSON [{name, language, body_params}]: the approved templates"},
    {"wa-webhook-url", "URL", "where status webhooks and inbound messages are posted"},
    {"wa-callback-delay-ms", "N", "sent after N ms, delivered after 2N, read after 3N (200)"},
    {"wa-no-read", NULL, "no read status after delivered"},
    {"wa-throughput", "N", "accepted messages per second per phone number id (0: unlimited)"},
    {"wa-pair-interval-ms", "MS", "refuse a pair's message within MS of its last (0: off)"},
    {"wa-enforce-window", NULL, "free-form text only within 24 h of the user's last message"},
    {"wa-reply-script", "FILE", "JSON reply rules [{number, body, delay_ms, times}]"},
};

static void s_module_destroy(void **state_p) {
    sb_whatsapp_t *self = *state_p;
    if (self) {
        sb_replies_destroy(&self->replies);
        sb_wa_map_clear(self->pairs);
        sb_wa_map_clear(self->rates);
        sb_wa_map_clear(self->window);
        free(self->webhook_url);
        pthread_mutex_destroy(&self->lock);
        free(self);
    }
    *state_p = NULL;
}

static void *s_module_new(void) {
    sb_whatsapp_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    snprintf(self->token, sizeof self->token, "sandbox-wa-token");
    snprintf(self->secret, sizeof self->secret, "sandbox-app-secret");
    self->callback_delay_ms = 200;
    self->read = true;
    self->provider = (sb_provider_t){S_PROVIDER, s_summarize, s_render_error, self};
    if (!(self->replies = sb_replies_new())) {
        void *p = self;
        s_module_destroy(&p);
        return NULL;
    }
    return self;
}

static int s_load_templates(sb_whatsapp_t *self, const char *path, char *err, size_t errlen) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        snprintf(err, errlen, "--wa-templates %s:%d: %s", path, je.line, je.text);
        return -1;
    }
    const char *why = s_set_templates(self, j);
    json_decref(j);
    if (why) {
        snprintf(err, errlen, "--wa-templates %s: %s", path, why);
        return -1;
    }
    return 0;
}

static int s_module_flag(void *state, size_t i, const char *arg, char *err, size_t errlen) {
    sb_whatsapp_t *self = state;
    char *end = NULL;
    unsigned long n = 0;
    switch (i) {
        case 0:
        case 1:
            if (!*arg || strlen(arg) >= sizeof self->token) {
                snprintf(err, errlen, "--%s wants 1..255 bytes", s_flags[i].name);
                return -1;
            }
            snprintf(i == 0 ? self->token : self->secret, sizeof self->token, "%s", arg);
            return 0;
        case 2:
            if (self->n_phones == SB_WA_MAX_PHONES || !*arg || strlen(arg) >= 64) {
                snprintf(err, errlen, "--wa-phone-number-id: at most 16, each 1..63 bytes");
                return -1;
            }
            snprintf(self->phones[self->n_phones++], 64, "%s", arg);
            return 0;
        case 3:
            return s_load_templates(self, arg, err, errlen);
        case 4:
            return s_set_url(self, arg, err, errlen);
        case 6:
            self->read = false;
            return 0;
        case 7:
            self->throughput = strtod(arg, &end);
            if (end == arg || *end || !(self->throughput >= 0)) {
                snprintf(err, errlen, "--wa-throughput wants a number >= 0");
                return -1;
            }
            return 0;
        case 9:
            self->enforce_window = true;
            return 0;
        case 10:
            return sb_replies_load_file(self->replies, arg, err, errlen) < 0 ? -1 : 0;
        default: /* 5, 8: milliseconds */
            n = strtoul(arg, &end, 10);
            if (!*arg || *end || *arg == '-' || n > 3600000) {
                snprintf(err, errlen, "--%s wants 0..3600000", s_flags[i].name);
                return -1;
            }
            if (i == 5)
                self->callback_delay_ms = (unsigned)n;
            else
                self->pair_interval_ms = (unsigned)n;
            return 0;
    }
}

static int s_module_start(void *state, const sb_env_t *env, char *err, size_t errlen) {
    sb_whatsapp_t *self = state;
    self->hooks = env->hooks;
    static const sb_control_route_t routes[] = {
        {"GET", "/_sandbox/whatsapp/config", PG_HTTP_BODY_NONE, s_config_get},
        {"POST", "/_sandbox/whatsapp/config", PG_HTTP_BODY_RAW, s_config_post},
        {"GET", "/_sandbox/whatsapp/templates", PG_HTTP_BODY_NONE, s_templates_get},
        {"POST", "/_sandbox/whatsapp/templates", PG_HTTP_BODY_RAW, s_templates_post},
    };
    if (sb_server_provider_route(env->server, &self->provider, "POST",
                                 "/{Version}/{PhoneNumberId}/messages", PG_HTTP_BODY_RAW,
                                 s_messages, self) != 0 ||
        sb_server_control_routes(env->server, routes, sizeof routes / sizeof routes[0], self) !=
            0 ||
        sb_wa_hooks_routes(self, env->server) != 0) {
        snprintf(err, errlen, "cannot register the WhatsApp routes");
        return -1;
    }
    return 0;
}

static json_t *s_module_stats(void *state) {
    sb_whatsapp_t *self = state;
    pthread_mutex_lock(&self->lock);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I}", "accepted", (json_int_t)self->n_accepted,
                          "pair_refused", (json_int_t)self->n_pair_refused, "throughput_refused",
                          (json_int_t)self->n_rate_refused, "window_refused",
                          (json_int_t)self->n_window_refused, "template_refused",
                          (json_int_t)self->n_template_refused);
    pthread_mutex_unlock(&self->lock);
    if (o)
        sb_wa_hooks_stats(self, o);
    return o;
}

const sb_module_t sb_whatsapp_module = {
    .name = S_PROVIDER,
    .describe = "WhatsApp Cloud API: POST /{version}/{phone-number-id}/messages",
    .flags = s_flags,
    .n_flags = sizeof s_flags / sizeof s_flags[0],
    .new = s_module_new,
    .flag = s_module_flag,
    .start = s_module_start,
    .stats = s_module_stats,
    .destroy = s_module_destroy,
};

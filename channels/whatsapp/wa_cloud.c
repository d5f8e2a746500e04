/* wa_cloud.c — WhatsApp Cloud API requests, answer classification and per-template state (see
 * wa_cloud.h).
 *
 * Request bodies are built and answers parsed with jansson. The per-template state (halted,
 * quality counts) is a small array searched linearly: a tenant has tens of approved templates,
 * and only templates that had trouble are in it. The worker's loop is the only caller, so the
 * state needs no lock. */
#include "wa_cloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#define S_MAX_TEMPLATES 256 /* templates with trouble remembered; more share the last slot */
#define S_NAME_MAX      512

typedef struct {
    char name[S_NAME_MAX + 1];
    bool halted;
    uint64_t n_131049, n_131048;
} s_template_t;

struct wa_cloud {
    char *base;            /* "{base_url}/{version}/" */
    char *phone_number_id; /* default */
    char *token;
    struct curl_slist *headers; /* Content-Type, Accept, Expect, Authorization (a secret) */
    double throughput;
    int64_t pair_interval_ms;
    wa_clock_fn clock;
    void *clock_ctx;
    s_template_t *templates;
    size_t n_templates;
};

/* A job's state: the body curl reads, the URL, the template it sends. */
typedef struct {
    char *body;
    char url[1024];
    const char *template_name; /* borrowed from the Dispatch; "" = free-form */
} s_job_t;

static char *s_strdup(const char *s) {
    if (!s || !*s)
        return NULL;
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

static int64_t s_realtime(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

wa_cloud_t *wa_cloud_new(const wa_cloud_config_t *c) {
    if (!c || !c->base_url || !*c->base_url || !c->api_version || !*c->api_version ||
        !c->phone_number_id || !*c->phone_number_id || !c->token || !*c->token)
        return NULL;
    wa_cloud_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t base_len = strlen(c->base_url);
    while (base_len && c->base_url[base_len - 1] == '/')
        base_len--;
    size_t len = base_len + strlen(c->api_version) + 3;
    if ((self->base = malloc(len)))
        snprintf(self->base, len, "%.*s/%s/", (int)base_len, c->base_url, c->api_version);
    self->phone_number_id = s_strdup(c->phone_number_id);
    self->token = s_strdup(c->token);
    self->throughput = c->throughput;
    self->pair_interval_ms = c->pair_interval_ms > 0 ? c->pair_interval_ms : 6000;
    self->clock = c->clock ? c->clock : s_realtime;
    self->clock_ctx = c->clock_ctx;
    self->templates = calloc(S_MAX_TEMPLATES, sizeof *self->templates);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
    char *auth = NULL;
    if (h3 && self->token) {
        size_t alen = strlen(self->token) + 32;
        if ((auth = malloc(alen))) {
            snprintf(auth, alen, "Authorization: Bearer %s", self->token);
            self->headers = curl_slist_append(h3, auth);
            OPENSSL_cleanse(auth, strlen(auth));
            free(auth);
        }
    }
    if (!self->headers)
        curl_slist_free_all(h3 ? h3 : h2 ? h2 : h);
    if (!self->base || !self->phone_number_id || !self->token || !self->headers ||
        !self->templates) {
        wa_cloud_destroy(&self);
        return NULL;
    }
    return self;
}

void wa_cloud_destroy(wa_cloud_t **self_p) {
    if (!self_p || !*self_p)
        return;
    wa_cloud_t *self = *self_p;
    if (self->token)
        OPENSSL_cleanse(self->token, strlen(self->token));
    for (struct curl_slist *h = self->headers; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data)); /* the Authorization line is a secret */
    curl_slist_free_all(self->headers);
    free(self->base);
    free(self->phone_number_id);
    free(self->token);
    free(self->templates);
    free(self);
    *self_p = NULL;
}

const char *wa_cloud_phone_number_id(const wa_cloud_t *self) {
    return self ? self->phone_number_id : "";
}

/* --- job references --- */

int wa_cloud_job_ref(const char *tenant, const char *debtor, const char *job, char *out,
                     size_t out_len) {
    int n = snprintf(out, out_len, "pg1 %s %s %s", tenant ? tenant : "", debtor ? debtor : "",
                     job ? job : "");
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

int wa_cloud_job_ref_parse(const char *ref, char *tenant, char *debtor, char *job, size_t len) {
    if (!ref || strncmp(ref, "pg1 ", 4) != 0)
        return -1;
    const char *p = ref + 4;
    char *outs[3] = {tenant, debtor, job};
    for (int i = 0; i < 3; i++) {
        const char *end = i < 2 ? strchr(p, ' ') : p + strlen(p);
        if (!end || end == p || (size_t)(end - p) >= len)
            return -1;
        memcpy(outs[i], p, (size_t)(end - p));
        outs[i][end - p] = '\0';
        p = i < 2 ? end + 1 : end;
    }
    return strchr(job, ' ') ? -1 : 0;
}

/* --- requests --- */

/* [{"type":"text","text":p0}, ...] of n params; NULL when out of memory. */
static json_t *s_text_params(char **params, size_t n) {
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        json_t *p = json_pack("{s:s, s:s}", "type", "text", "text", params[i] ? params[i] : "");
        if (!p || json_array_append_new(list, p) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* The "template" object of a template message; NULL when out of memory. */
static json_t *s_template(const Pregon__WhatsAppTemplate *t) {
    json_t *components = json_array();
    if (!components)
        return NULL;
    int rc = 0;
    if (t->n_header_params)
        rc |= json_array_append_new(components,
                                    json_pack("{s:s, s:o}", "type", "header", "parameters",
                                              s_text_params(t->header_params, t->n_header_params)));
    if (t->n_body_params)
        rc |= json_array_append_new(components,
                                    json_pack("{s:s, s:o}", "type", "body", "parameters",
                                              s_text_params(t->body_params, t->n_body_params)));
    for (size_t i = 0; i < t->n_button_params; i++) {
        char index[24];
        snprintf(index, sizeof index, "%zu", i);
        rc |= json_array_append_new(components,
                                    json_pack("{s:s, s:s, s:s, s:o}", "type", "button", "sub_type",
                                              "url", "index", index, "parameters",
                                              s_text_params(&t->button_params[i], 1)));
    }
    if (rc != 0) {
        json_decref(components);
        return NULL;
    }
    return json_pack("{s:s, s:{s:s}, s:o}", "name", t->name, "language", "code", t->language,
                     "components", components);
}

char *wa_cloud_request_json(const Pregon__Dispatch *d, int64_t now_ms, const char **template_name,
                            chw_result_t *err) {
    const Pregon__SendRequest *job = d->job;
    const Pregon__Content *c = d->content;
    if (template_name)
        *template_name = "";
    if (!job || !job->contact || !job->contact[0]) {
        chw_result_set(err, CHW_FAILED, "no contact");
        return NULL;
    }
    const Pregon__WhatsAppTemplate *t =
        c && c->body_case == PREGON__CONTENT__BODY_WHATSAPP ? c->whatsapp : NULL;
    const char *text =
        c && c->body_case == PREGON__CONTENT__BODY_TEXT && c->text ? c->text->text : NULL;
    if (!t && !text) {
        chw_result_set(err, CHW_FAILED,
                       "content-not-whatsapp: WhatsApp sends template or text content only");
        return NULL;
    }
    /* Inside the window pregond said it is (window_until_ms): free-form text; a template's
     * text when it has one. Past it: skipped, never sent. */
    if (d->window_until_ms > 0 && now_ms >= d->window_until_ms) {
        chw_result_set(err, CHW_SKIPPED, "window-closed");
        return NULL;
    }
    if (t && d->window_until_ms > 0 && t->text && t->text[0]) {
        text = t->text;
        t = NULL;
    } else if (t && (!t->name || !t->name[0] || !t->language || !t->language[0])) {
        chw_result_set(err, CHW_FAILED, "no template name or language in the content");
        return NULL;
    }
    const char *to = job->contact[0] == '+' ? job->contact + 1 : job->contact;
    char ref[WA_JOB_REF_MAX];
    if (wa_cloud_job_ref(job->tenant, job->debtor_id, job->job_id, ref, sizeof ref) != 0)
        ref[0] = '\0';
    json_t *root = json_pack("{s:s, s:s, s:s}", "messaging_product", "whatsapp", "recipient_type",
                             "individual", "to", to);
    int rc = root ? 0 : -1;
    if (root && !t) {
        rc |= json_object_set_new(root, "type", json_string("text"));
        rc |= json_object_set_new(root, "text",
                                  json_pack("{s:b, s:s}", "preview_url", 0, "body", text));
    } else if (root) {
        rc |= json_object_set_new(root, "type", json_string("template"));
        rc |= json_object_set_new(root, "template", s_template(t));
        if (template_name)
            *template_name = t->name;
    }
    if (root && ref[0])
        rc |= json_object_set_new(root, "biz_opaque_callback_data", json_string(ref));
    char *body = rc == 0 ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!body)
        chw_result_set(err, CHW_RETRY, "out of memory building the request");
    return body;
}

/* --- per-template state --- */

static s_template_t *s_find(const wa_cloud_t *self, const char *name) {
    for (size_t i = 0; name && i < self->n_templates; i++)
        if (strcmp(self->templates[i].name, name) == 0)
            return &self->templates[i];
    return NULL;
}

/* The state of template name, added if new (the last slot when the table is full). */
static s_template_t *s_get(wa_cloud_t *self, const char *name) {
    s_template_t *t = s_find(self, name);
    if (t)
        return t;
    if (self->n_templates == S_MAX_TEMPLATES)
        return &self->templates[S_MAX_TEMPLATES - 1];
    t = &self->templates[self->n_templates++];
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

bool wa_cloud_template_halted(const wa_cloud_t *self, const char *name) {
    const s_template_t *t = name && *name ? s_find(self, name) : NULL;
    return t && t->halted;
}

void wa_cloud_template_quality(const wa_cloud_t *self, const char *name, uint64_t *n_131049,
                               uint64_t *n_131048) {
    const s_template_t *t = s_find(self, name);
    *n_131049 = t ? t->n_131049 : 0;
    *n_131048 = t ? t->n_131048 : 0;
}

/* --- answers --- */

typedef struct {
    long code;
    const char *message, *details, *id;
} s_answer_t;

static void s_parse(json_t *root, s_answer_t *a) {
    json_t *err = json_object_get(root, "error");
    if (json_is_object(err)) {
        json_t *v = json_object_get(err, "code");
        if (json_is_integer(v))
            a->code = (long)json_integer_value(v);
        else if (json_is_string(v))
            a->code = strtol(json_string_value(v), NULL, 10);
        if (json_is_string(v = json_object_get(err, "message")))
            a->message = json_string_value(v);
        json_t *data = json_object_get(err, "error_data");
        if (json_is_string(v = json_object_get(data, "details")))
            a->details = json_string_value(v);
    }
    json_t *msgs = json_object_get(root, "messages");
    json_t *id = json_object_get(json_array_get(msgs, 0), "id");
    if (json_is_string(id))
        a->id = json_string_value(id);
}

static bool s_retry_code(long code) {
    return code == 130429 || code == 80007 || code == 4 || code == 131000 || code == 131016 ||
           code == 1 || code == 2;
}

void wa_cloud_classify(wa_cloud_t *self, const char *template_name, long status, const char *body,
                       size_t body_len, int64_t retry_after_s, chw_result_t *out) {
    s_answer_t a = {0, "", "", ""};
    json_t *root = body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
    if (json_is_object(root))
        s_parse(root, &a);
    const char *tpl = template_name ? template_name : "";
    const char *what = a.message && a.message[0] ? a.message : "rejected";
    if (status >= 200 && status < 300) {
        chw_result_set(out, CHW_SENT, a.id[0] ? "" : "accepted, but no message id in the answer");
        snprintf(out->provider_id, sizeof out->provider_id, "%s", a.id);
    } else if (a.code == 190 || a.code == 10 || a.code == 368 || status == 401) {
        const char *why = a.code == 10    ? "permission denied"
                          : a.code == 368 ? "account temporarily blocked for policy violations"
                                          : "access token rejected";
        chw_result_set(out, CHW_CONFIG_ERROR, "provider: %s (HTTP %ld, Meta %ld)", why, status,
                       a.code ? a.code : 190);
    } else if (a.code == 131056) {
        chw_result_set(out, CHW_RETRY, "pair rate limit (131056)");
        out->min_retry_ms = self->pair_interval_ms;
    } else if (s_retry_code(a.code) || status == 429 || (status >= 500 && status < 600)) {
        chw_result_set(out, CHW_RETRY, "%s (HTTP %ld, Meta %ld)",
                       a.code == 130429 ? "throughput limit" : "rate limited or temporary error",
                       status, a.code);
    } else if (a.code == 131047) {
        chw_result_set(out, CHW_FAILED, "needs-template: more than 24 hours since the last reply");
    } else if (a.code == 131026) {
        chw_result_set(out, CHW_FAILED, "undeliverable: not on WhatsApp or cannot receive");
        out->flags |= CHW_RESULT_FALLBACK;
    } else if (a.code == 131049 || a.code == 131048) {
        s_template_t *t = s_get(self, tpl);
        uint64_t n = a.code == 131049 ? ++t->n_131049 : ++t->n_131048;
        chw_result_set(out, CHW_FAILED, "%s: template %.64s, %llu so far",
                       a.code == 131049 ? "marketing-limit" : "spam-rate-limit",
                       tpl[0] ? tpl : "(free-form)", (unsigned long long)n);
    } else if (a.code == 132000 || a.code == 132001) {
        if (tpl[0])
            s_get(self, tpl)->halted = true;
        chw_result_set(out, CHW_FAILED, "template-misconfigured: %.64s %s (template halted)", tpl,
                       a.code == 132000 ? "parameter count mismatch" : "does not exist");
    } else if (status >= 400 && status < 500) {
        chw_result_set(out, CHW_FAILED, "%.200s", what);
    } else {
        chw_result_set(out, CHW_UNKNOWN, "unexpected HTTP status %ld", status);
    }
    if (out->outcome == CHW_RETRY && retry_after_s > 0 && retry_after_s * 1000 > out->min_retry_ms)
        out->min_retry_ms = retry_after_s * 1000;
    if (a.code)
        snprintf(out->provider_code, sizeof out->provider_code, "%ld", a.code);
    json_decref(root);
}

/* --- the driver --- */

static const char *s_phone(const wa_cloud_t *self, const Pregon__Dispatch *d) {
    return d->job && d->job->sender && d->job->sender[0] ? d->job->sender : self->phone_number_id;
}

static int s_prepare(void *ctx, CURL *easy, const Pregon__Dispatch *d, void **job_state,
                     chw_result_t *err) {
    wa_cloud_t *self = ctx;
    const char *tpl = "";
    char *body = wa_cloud_request_json(d, self->clock(self->clock_ctx), &tpl, err);
    if (!body)
        return -1;
    if (wa_cloud_template_halted(self, tpl)) {
        free(body);
        chw_result_set(err, CHW_FAILED, "template-halted: %.64s was refused as misconfigured", tpl);
        return -1;
    }
    s_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        free(body);
        chw_result_set(err, CHW_RETRY, "out of memory building the request");
        return -1;
    }
    job->body = body;
    job->template_name = tpl;
    *job_state = job;
    snprintf(job->url, sizeof job->url, "%s%s/messages", self->base, s_phone(self, d));
    curl_easy_setopt(easy, CURLOPT_URL, job->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "pregon-whatsapp/0.1");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    if (rc != CURLE_OK) {
        chw_result_set(err, CHW_RETRY, "curl: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

static void s_classify(void *ctx, void *job_state, const Pregon__Dispatch *d,
                       const chw_response_t *response, chw_result_t *out) {
    (void)d;
    const s_job_t *job = job_state;
    wa_cloud_classify(ctx, job ? job->template_name : "", response->status, response->body,
                      response->body_len, response->retry_after_s, out);
}

static void s_release(void *ctx, void *job_state, const Pregon__Dispatch *d,
                      const chw_result_t *result) {
    (void)ctx, (void)d, (void)result;
    s_job_t *job = job_state;
    if (job) {
        free(job->body);
        free(job);
    }
}

/* The group a pair is shaped in: the business number it is sent from. */
static const char *s_shape_group(void *ctx, const Pregon__Dispatch *d, char *buf, size_t len) {
    (void)buf, (void)len;
    return s_phone(ctx, d);
}

/* The pair: the business number (the default one spelled out) and the recipient. */
static const char *s_shape_key(void *ctx, const Pregon__Dispatch *d, char *buf, size_t len) {
    const char *from = s_phone(ctx, d);
    const char *to = d->job && d->job->contact ? d->job->contact : "";
    snprintf(buf, len, "%zu:%s/%s", strlen(from), from, to);
    return buf;
}

chw_driver_t wa_cloud_driver(wa_cloud_t *self) {
    return (chw_driver_t){.prepare = s_prepare,
                          .classify = s_classify,
                          .release = s_release,
                          .shape_key = s_shape_key, /* chw_shape_key_pair's, default sender named */
                          .shape_group = s_shape_group,
                          .group_rate = self->throughput,
                          .group_burst = self->throughput,
                          .ctx = self};
}

const char *wa_cloud_halt_hint(const chw_result_t *r) {
    const char *code = r ? r->provider_code : "";
    const char *detail = r ? r->detail : "";
    if (strcmp(code, "10") == 0)
        return "the app lacks whatsapp_business_messaging permission for this number: grant it "
               "to the system user's token and restart";
    if (strcmp(code, "368") == 0)
        return "Meta blocked the account for policy violations: resolve it in WhatsApp Manager "
               "and restart";
    if (strcmp(code, "190") == 0 || strstr(detail, "token"))
        return "the access token is invalid or expired: fix WHATSAPP_TOKEN (or --token-file) and "
               "restart";
    if (strstr(detail, "provider URL"))
        return "fix --base-url and restart";
    return "fix the WhatsApp Cloud API configuration and restart";
}

void wa_cloud_mask_id(const char *id, char *out, size_t out_len) {
    size_t len = id ? strlen(id) : 0;
    if (len <= 4)
        snprintf(out, out_len, "…");
    else
        snprintf(out, out_len, "…%s", id + len - 4);
}

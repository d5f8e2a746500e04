/* msg_send.c — Messenger Send API requests and answer classification (see msg_send.h).
 *
 * Bodies are built and answers parsed with jansson. The driver state is read-only once built
 * (the URL of the default page and the header list holding the token), so one instance serves
 * every transfer of the worker; a job naming another page gets its own URL in its job state. */
#include "msg_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#define S_RATE_BACKOFF_MS 60000

struct msg_send {
    char *base;                 /* base_url/version, no trailing '/' */
    char *page;                 /* default page id, or "me" */
    char *url;                  /* base/page/messages */
    char *token;                /* the page access token */
    struct curl_slist *headers; /* Content-Type, Accept, Expect, Authorization (the secret) */
    int64_t rate_backoff_ms;
    msg_clock_fn clock;
    void *clock_ctx;
};

/* What a job keeps while its request is in flight: curl reads both in place. */
typedef struct {
    char *body;
    char *url; /* NULL: the default page's */
} s_job_t;

static char *s_strdup(const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (copy)
        memcpy(copy, s, len);
    return copy;
}

static int64_t s_realtime_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "Authorization: Bearer TOKEN" appended to h; NULL when out of memory (h is then freed). */
static struct curl_slist *s_add_bearer(struct curl_slist *h, const char *token) {
    size_t len = 22 + strlen(token) + 1;
    char *line = malloc(len);
    struct curl_slist *out = NULL;
    if (line) {
        snprintf(line, len, "Authorization: Bearer %s", token);
        out = curl_slist_append(h, line);
        OPENSSL_cleanse(line, len);
        free(line);
    }
    if (!out)
        curl_slist_free_all(h);
    return out;
}

static char *s_page_url(const char *base, const char *page) {
    size_t len = strlen(base) + 1 + strlen(page) + sizeof "/messages";
    char *url = malloc(len);
    if (url)
        snprintf(url, len, "%s/%s/messages", base, page);
    return url;
}

msg_send_t *msg_send_new(const msg_send_config_t *c) {
    if (!c || !c->base_url || !*c->base_url || !c->version || !*c->version || !c->page_token ||
        !*c->page_token || strchr(c->version, '/'))
        return NULL;
    msg_send_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t base_len = strlen(c->base_url);
    while (base_len && c->base_url[base_len - 1] == '/')
        base_len--;
    size_t len = base_len + 1 + strlen(c->version) + 1;
    if ((self->base = malloc(len)))
        snprintf(self->base, len, "%.*s/%s", (int)base_len, c->base_url, c->version);
    self->page = s_strdup(c->page_id && *c->page_id ? c->page_id : "me");
    self->token = s_strdup(c->page_token);
    if (self->base && self->page)
        self->url = s_page_url(self->base, self->page);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
    if (!h3)
        curl_slist_free_all(h2 ? h2 : h);
    else if (self->token)
        self->headers = s_add_bearer(h3, self->token);
    else
        curl_slist_free_all(h3);
    self->rate_backoff_ms = c->rate_backoff_ms > 0 ? c->rate_backoff_ms : S_RATE_BACKOFF_MS;
    self->clock = c->clock ? c->clock : s_realtime_ms;
    self->clock_ctx = c->clock_ctx;
    if (!self->base || !self->page || !self->url || !self->token || !self->headers ||
        strchr(self->page, '/')) {
        msg_send_destroy(&self);
        return NULL;
    }
    return self;
}

void msg_send_destroy(msg_send_t **self_p) {
    if (!self_p || !*self_p)
        return;
    msg_send_t *self = *self_p;
    if (self->token)
        OPENSSL_cleanse(self->token, strlen(self->token));
    for (struct curl_slist *h = self->headers; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data)); /* the Authorization line is a secret */
    curl_slist_free_all(self->headers);
    free(self->token);
    free(self->base);
    free(self->page);
    free(self->url);
    free(self);
    *self_p = NULL;
}

const char *msg_send_page(const msg_send_t *self) {
    return self ? self->page : "";
}

char *msg_send_body(const char *psid, const char *text) {
    json_t *root = json_pack("{s:{s:s}, s:s, s:{s:s}}", "recipient", "id", psid ? psid : "",
                             "messaging_type", "RESPONSE", "message", "text", text ? text : "");
    if (!root)
        return NULL; /* out of memory, or a string that is not UTF-8 */
    char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return out;
}

/* A page id fit for a URL path: 1..64 of [0-9A-Za-z._-]. */
static bool s_page_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 64 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

static void s_job_free(s_job_t *job) {
    if (!job)
        return;
    free(job->body);
    free(job->url);
    free(job);
}

/* The window re-check, then the request: its body (and another page's URL) are the job's
 * state, which curl reads in place (CURLOPT_POSTFIELDS) until s_release frees it. */
static int s_prepare(void *ctx, CURL *easy, const Pregon__Dispatch *d, void **job_state,
                     chw_result_t *err) {
    msg_send_t *self = ctx;
    const Pregon__SendRequest *req = d->job;
    if (d->window_until_ms > 0 && self->clock(self->clock_ctx) >= d->window_until_ms) {
        chw_result_set(err, CHW_SKIPPED, "window-closed");
        return -1;
    }
    if (!req->contact[0]) {
        chw_result_set(err, CHW_FAILED, "no contact");
        return -1;
    }
    if (req->sender[0] && !s_page_ok(req->sender)) {
        chw_result_set(err, CHW_FAILED, "bad sender: not a page id");
        return -1;
    }
    const Pregon__Content *content = d->content;
    const char *text = content && content->body_case == PREGON__CONTENT__BODY_TEXT && content->text
                           ? content->text->text
                           : NULL;
    if (!text) {
        chw_result_set(err, CHW_FAILED, "content-not-text: Messenger sends text content only");
        return -1;
    }
    s_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        chw_result_set(err, CHW_RETRY, "out of memory building the request");
        return -1;
    }
    *job_state = job;
    job->body = msg_send_body(req->contact, text);
    if (req->sender[0] && strcmp(req->sender, self->page) != 0 &&
        !(job->url = s_page_url(self->base, req->sender))) {
        chw_result_set(err, CHW_RETRY, "out of memory building the request");
        return -1;
    }
    if (!job->body) {
        chw_result_set(err, CHW_RETRY, "out of memory building the request");
        return -1;
    }
    curl_easy_setopt(easy, CURLOPT_URL, job->url ? job->url : self->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "pregon-messenger/0.1");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(job->body));
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDS, job->body);
    if (rc != CURLE_OK) {
        chw_result_set(err, CHW_RETRY, "curl: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* An integer field of o that may come as a number or a string; 0 when absent. */
static long s_int(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (json_is_string(v))
        return strtol(json_string_value(v), NULL, 10);
    return 0;
}

/* The classification of a Graph error code (and subcode) with a message. */
static void s_graph_error(long status, long code, long sub, const char *message,
                          int64_t retry_after_s, int64_t rate_backoff_ms, chw_result_t *out) {
    switch (code) {
        case 190:
            chw_result_set(out, CHW_CONFIG_ERROR,
                           "the page access token is invalid or expired (Graph 190: %.120s)",
                           message);
            return;
        case 10:
            chw_result_set(out, CHW_FAILED, "outside-window: %.160s", message);
            return;
        case 551:
            chw_result_set(out, CHW_FAILED, "person-unavailable: %.160s", message);
            out->flags |= CHW_RESULT_FALLBACK;
            return;
        case 100:
            chw_result_set(out, CHW_FAILED, "%s: %.160s", sub == 2018001 ? "no-user" : "invalid",
                           message);
            return;
        case 1200:
        case 2:
        case 1:
            chw_result_set(out, CHW_RETRY, "temporary (Graph %ld): %.160s", code, message);
            return;
        case 4:
        case 613:
        case 32:
        case 17:
            chw_result_set(out, CHW_RETRY, "rate limited (Graph %ld): %.160s", code, message);
            out->min_retry_ms = retry_after_s > 0 ? retry_after_s * 1000 : rate_backoff_ms;
            return;
        default:
            break;
    }
    if (status == 429) {
        chw_result_set(out, CHW_RETRY, "rate limited (HTTP 429)");
        out->min_retry_ms = retry_after_s > 0 ? retry_after_s * 1000 : rate_backoff_ms;
    } else if (status >= 500 && status < 600) {
        chw_result_set(out, CHW_RETRY, "provider error (HTTP %ld)", status);
    } else if (status >= 400 && status < 500) {
        chw_result_set(out, CHW_FAILED, "%.200s", message[0] ? message : "rejected");
    } else {
        chw_result_set(out, CHW_UNKNOWN, "unexpected HTTP status %ld", status);
    }
}

void msg_send_classify(long status, const char *body, size_t body_len, int64_t retry_after_s,
                       int64_t rate_backoff_ms, chw_result_t *out) {
    if (rate_backoff_ms <= 0)
        rate_backoff_ms = S_RATE_BACKOFF_MS;
    json_t *root = body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
    if (status >= 200 && status < 300) {
        const json_t *mid = json_object_get(root, "message_id");
        const char *id = json_is_string(mid) ? json_string_value(mid) : "";
        chw_result_set(out, CHW_SENT, id[0] ? "" : "accepted, but no message_id in the answer");
        snprintf(out->provider_id, sizeof out->provider_id, "%s", id);
        json_decref(root);
        return;
    }
    const json_t *error = json_object_get(root, "error");
    long code = s_int(error, "code"), sub = s_int(error, "error_subcode");
    const json_t *m = json_object_get(error, "message");
    const char *message = json_is_string(m) ? json_string_value(m) : "";
    s_graph_error(status, code, sub, message, retry_after_s, rate_backoff_ms, out);
    if (code && sub)
        snprintf(out->provider_code, sizeof out->provider_code, "%ld/%ld", code, sub);
    else if (code)
        snprintf(out->provider_code, sizeof out->provider_code, "%ld", code);
    json_decref(root);
}

static void s_classify(void *ctx, void *job_state, const Pregon__Dispatch *d,
                       const chw_response_t *response, chw_result_t *out) {
    msg_send_t *self = ctx;
    (void)job_state, (void)d;
    msg_send_classify(response->status, response->body, response->body_len, response->retry_after_s,
                      self->rate_backoff_ms, out);
}

static void s_release(void *ctx, void *job_state, const Pregon__Dispatch *d,
                      const chw_result_t *result) {
    (void)ctx, (void)d, (void)result;
    s_job_free(job_state);
}

chw_driver_t msg_send_driver(msg_send_t *self) {
    return (chw_driver_t){.prepare = s_prepare,
                          .classify = s_classify,
                          .release = s_release,
                          .shape_key = chw_shape_key_sender, /* the Send API's limit is per page */
                          .ctx = self};
}

const char *msg_send_halt_hint(const chw_result_t *r) {
    const char *code = r ? r->provider_code : "";
    const char *detail = r ? r->detail : "";
    if (strncmp(code, "190", 3) == 0 || strstr(detail, "access token"))
        return "put a valid page access token in MESSENGER_PAGE_TOKEN (or --page-token-file) "
               "and restart";
    if (strstr(detail, "provider URL"))
        return "fix --base-url and restart";
    return "fix the Messenger configuration and restart";
}

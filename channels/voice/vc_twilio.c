/* vc_twilio.c — Twilio Calls requests, caller ids, line holds (see vc_twilio.h).
 *
 * Twilio's answer is classified as pregon-sms classifies Messages answers (the same account
 * errors, the same JSON), with the Calls-only codes on top: 21210 and 21212 (the caller id
 * is not a number of the account / invalid) and 21215 (geographic permissions) halt the
 * channel; 21216 (the To number is blocked) is FAILED. */
#include "vc_twilio.h"

#include "vc_counts.h"

#include "pg_callsig.h"
#include "sms_twilio.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vc_twilio {
    char *url; /* Calls.json */
    char *account_sid, *auth_token, *hooks_url, *url_key, *from, *amd;
    vc_pool_t *pool;
    unsigned ring_timeout_s, max_call_s, line_slack_s;
    int64_t (*clock_ms)(void *ctx);
    void *clock_ctx;
    struct curl_slist *headers;
    char pool_err[256]; /* the last reload failure, "" = none */
    char *counts_state; /* vc_counts.h; NULL = counts in memory only */
};

static char *s_dup(const char *s) {
    return s && *s ? strdup(s) : NULL;
}

static void s_wipe_free(char *s) {
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static int64_t s_real_clock(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "Authorization: Basic base64(sid:token)" appended to h (NULL when out of memory). */
static struct curl_slist *s_basic(struct curl_slist *h, const char *sid, const char *token) {
    size_t plain_len = strlen(sid) + 1 + strlen(token);
    size_t header_len = 21 + 4 * ((plain_len + 2) / 3) + 1;
    char *plain = malloc(plain_len + 1), *header = malloc(header_len);
    struct curl_slist *out = NULL;
    if (plain && header) {
        snprintf(plain, plain_len + 1, "%s:%s", sid, token);
        memcpy(header, "Authorization: Basic ", 21);
        EVP_EncodeBlock((unsigned char *)header + 21, (const unsigned char *)plain, (int)plain_len);
        out = curl_slist_append(h, header);
    }
    if (plain)
        OPENSSL_cleanse(plain, plain_len);
    if (header)
        OPENSSL_cleanse(header, header_len);
    free(plain);
    free(header);
    if (!out)
        curl_slist_free_all(h);
    return out;
}

vc_twilio_t *vc_twilio_new(const vc_twilio_config_t *c, char *err, size_t err_len) {
    if (!c->base_url || !*c->base_url || !c->account_sid || !*c->account_sid || !c->auth_token ||
        !*c->auth_token || !c->hooks_url || !*c->hooks_url || !c->url_key || !*c->url_key) {
        snprintf(err, err_len, "base URL, account sid, auth token, hooks URL and URL key needed");
        return NULL;
    }
    const char *amd = c->machine_detection ? c->machine_detection : "off";
    if (strcmp(amd, "off") && strcmp(amd, "Enable") && strcmp(amd, "DetectMessageEnd")) {
        snprintf(err, err_len, "--machine-detection must be off, Enable or DetectMessageEnd");
        return NULL;
    }
    if (c->ring_timeout_s < 5 || c->ring_timeout_s > 600 || c->max_call_s < 10 ||
        c->max_call_s > 14400 || c->line_slack_s > 3600) {
        snprintf(err, err_len,
                 "--ring-timeout-s 5..600, --max-call-s 10..14400, --line-slack-s 0..3600");
        return NULL;
    }
    vc_twilio_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    size_t base_len = strlen(c->base_url);
    while (base_len && c->base_url[base_len - 1] == '/')
        base_len--;
    size_t url_len = base_len + strlen(c->account_sid) + 64;
    if ((self->url = malloc(url_len)))
        snprintf(self->url, url_len, "%.*s/2010-04-01/Accounts/%s/Calls.json", (int)base_len,
                 c->base_url, c->account_sid);
    self->account_sid = s_dup(c->account_sid);
    self->auth_token = s_dup(c->auth_token);
    self->hooks_url = s_dup(c->hooks_url);
    if (self->hooks_url) {
        size_t n = strlen(self->hooks_url);
        while (n && self->hooks_url[n - 1] == '/')
            self->hooks_url[--n] = '\0';
    }
    self->url_key = s_dup(c->url_key);
    self->from = s_dup(c->from);
    self->amd = strdup(amd);
    self->ring_timeout_s = c->ring_timeout_s;
    self->max_call_s = c->max_call_s;
    self->line_slack_s = c->line_slack_s;
    self->clock_ms = c->clock_ms ? c->clock_ms : s_real_clock;
    self->clock_ctx = c->clock_ctx;
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!h2)
        curl_slist_free_all(h);
    else if (self->account_sid && self->auth_token)
        self->headers = s_basic(h2, self->account_sid, self->auth_token);
    else
        curl_slist_free_all(h2);
    if (!self->url || !self->account_sid || !self->auth_token || !self->hooks_url ||
        !self->url_key || !self->amd || !self->headers || (c->from && *c->from && !self->from)) {
        snprintf(err, err_len, "out of memory");
        vc_twilio_destroy(&self);
        return NULL;
    }
    if (c->pools && *c->pools) {
        char retired[4096];
        if (c->retired && *c->retired)
            snprintf(retired, sizeof retired, "%s", c->retired);
        else
            snprintf(retired, sizeof retired, "%s.retired", c->pools);
        if (!(self->pool = vc_pool_new(c->pools, retired, err, err_len))) {
            vc_twilio_destroy(&self);
            return NULL;
        }
        if (c->counts_state && *c->counts_state &&
            (!(self->counts_state = strdup(c->counts_state)) ||
             vc_counts_load(self->pool, self->counts_state, self->clock_ms(self->clock_ctx), err,
                            err_len) != 0)) {
            if (!self->counts_state)
                snprintf(err, err_len, "out of memory");
            vc_twilio_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void vc_twilio_destroy(vc_twilio_t **self_p) {
    if (!self_p || !*self_p)
        return;
    vc_twilio_t *self = *self_p;
    free(self->url);
    free(self->counts_state);
    free(self->account_sid);
    s_wipe_free(self->auth_token);
    free(self->hooks_url);
    s_wipe_free(self->url_key);
    free(self->from);
    free(self->amd);
    vc_pool_destroy(&self->pool);
    for (struct curl_slist *h = self->headers; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data));
    curl_slist_free_all(self->headers);
    free(self);
    *self_p = NULL;
}

const char *vc_twilio_account_sid(const vc_twilio_t *self) {
    return self ? self->account_sid : "";
}

int64_t vc_twilio_hold_ms(const vc_twilio_t *self) {
    return ((int64_t)self->ring_timeout_s + self->max_call_s + self->line_slack_s) * 1000;
}

/* --- the request ------------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void s_add(s_buf_t *b, const char *sep, const char *name, const char *value) {
    if (b->failed)
        return;
    char *esc = curl_easy_escape(NULL, value, 0);
    if (!esc) {
        b->failed = true;
        return;
    }
    size_t need = b->len + strlen(sep) + strlen(name) + 1 + strlen(esc) + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(b->buf, cap);
        if (!grown) {
            curl_free(esc);
            b->failed = true;
            return;
        }
        b->buf = grown;
        b->cap = cap;
    }
    b->len += (size_t)sprintf(b->buf + b->len, "%s%s%s%s", b->len ? sep : "", name,
                              name[0] ? "=" : "", esc);
    curl_free(esc);
}

char *vc_twilio_form(const char *to, const char *from, const char *twiml_url,
                     const char *status_url, const char *amd, unsigned timeout_s,
                     unsigned time_limit_s) {
    s_buf_t b = {0};
    char num[24];
    s_add(&b, "&", "To", to);
    s_add(&b, "&", "From", from);
    s_add(&b, "&", "Url", twiml_url);
    s_add(&b, "&", "Method", "POST");
    s_add(&b, "&", "StatusCallback", status_url);
    s_add(&b, "&", "StatusCallbackMethod", "POST");
    static const char *const events[] = {"initiated", "ringing", "answered", "completed"};
    for (size_t i = 0; i < 4; i++)
        s_add(&b, "&", "StatusCallbackEvent", events[i]);
    if (amd && *amd)
        s_add(&b, "&", "MachineDetection", amd);
    snprintf(num, sizeof num, "%u", timeout_s);
    s_add(&b, "&", "Timeout", num);
    snprintf(num, sizeof num, "%u", time_limit_s);
    s_add(&b, "&", "TimeLimit", num);
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

char *vc_twilio_call_url(const char *hooks_url, const char *route, const char *key,
                         const char *tenant, const char *job, const char *lease) {
    char token[PG_CALLSIG_SIZE];
    if (pg_callsig(key, tenant, job, lease, token, sizeof token) != 0)
        return NULL;
    s_buf_t b = {0};
    s_add(&b, "&", "t", tenant);
    s_add(&b, "&", "j", job);
    s_add(&b, "&", "l", lease);
    s_add(&b, "&", "s", token);
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    size_t n = strlen(hooks_url) + strlen(route) + b.len + 32;
    char *url = malloc(n);
    if (url)
        snprintf(url, n, "%s/twilio/voice/%s?%s", hooks_url, route, b.buf);
    free(b.buf);
    return url;
}

static const char *s_amd_name(const vc_twilio_t *self, vc_amd_t amd) {
    switch (amd) {
        case VC_AMD_OFF:
            return "";
        case VC_AMD_ENABLE:
            return "Enable";
        case VC_AMD_MESSAGE_END:
            return "DetectMessageEnd";
        default:
            return strcmp(self->amd, "off") ? self->amd : "";
    }
}

/* The caller id and AMD of this call into from/amd; -1 with err filled when there is none. */
static int s_caller_id(vc_twilio_t *self, const Pregon__SendRequest *job, char *from,
                       size_t from_len, const char **amd, chw_result_t *err) {
    int64_t now = self->clock_ms(self->clock_ctx);
    *amd = s_amd_name(self, VC_AMD_DEFAULT);
    if (self->pool) {
        char why[256];
        int r = vc_pool_refresh(self->pool, now, why, sizeof why);
        if (r < 0)
            snprintf(self->pool_err, sizeof self->pool_err, "%s", why);
        else if (r > 0)
            self->pool_err[0] = '\0';
        vc_choice_t ch;
        int rc = vc_pool_choose(self->pool, job->tenant, job->campaign, job->debtor_id,
                                job->contact, now, &ch);
        if (rc == 0 && self->counts_state &&
            vc_counts_save(self->pool, self->counts_state, now, why, sizeof why) != 0)
            snprintf(self->pool_err, sizeof self->pool_err, "%s", why); /* the call goes on */
        if (rc == 0) {
            snprintf(from, from_len, "%s", ch.number);
            *amd = s_amd_name(self, ch.amd);
            return 0;
        }
        if (rc < 0) {
            /* every number retired or at its cap: try again tomorrow's first hour at the
             * earliest; the broker's policy re-checks the time then */
            int64_t next_day = (now / 86400000 + 1) * 86400000;
            chw_result_set(err, CHW_RETRY, "caller-id pool exhausted (retired or daily cap)");
            err->min_retry_ms = next_day - now;
            return -1;
        }
    }
    const char *f = job->sender[0] ? job->sender : self->from;
    if (!f) {
        chw_result_set(err, CHW_FAILED,
                       "no caller id: no pool for %.60s/%.60s, no job.sender, "
                       "no --from",
                       job->tenant, job->campaign);
        return -1;
    }
    snprintf(from, from_len, "%s", f);
    return 0;
}

static int s_prepare(void *ctx, CURL *easy, const Pregon__Dispatch *d, void **job_state,
                     chw_result_t *err) {
    vc_twilio_t *self = ctx;
    const Pregon__SendRequest *job = d->job;
    if (!job->contact[0]) {
        chw_result_set(err, CHW_FAILED, "no contact");
        return -1;
    }
    if (!d->content || d->content->body_case != PREGON__CONTENT__BODY_VOICE || !d->content->voice) {
        chw_result_set(err, CHW_FAILED, "content-not-voice: the voice channel calls voice scripts");
        return -1;
    }
    char from[64];
    const char *amd;
    if (s_caller_id(self, job, from, sizeof from, &amd, err) != 0)
        return -1;
    char *twiml = vc_twilio_call_url(self->hooks_url, "twiml", self->url_key, job->tenant,
                                     job->job_id, d->lease_id);
    char *status = vc_twilio_call_url(self->hooks_url, "status", self->url_key, job->tenant,
                                      job->job_id, d->lease_id);
    char *form = twiml && status ? vc_twilio_form(job->contact, from, twiml, status, amd,
                                                  self->ring_timeout_s, self->max_call_s)
                                 : NULL;
    free(twiml);
    free(status);
    if (!form) {
        chw_result_set(err, CHW_RETRY, "out of memory building the request");
        return -1;
    }
    *job_state = form;
    curl_easy_setopt(easy, CURLOPT_URL, self->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "pregon-voice/0.1");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDS, form);
    if (rc != CURLE_OK) {
        chw_result_set(err, CHW_RETRY, "curl: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

static void s_classify(void *ctx, void *job_state, const Pregon__Dispatch *d,
                       const chw_response_t *response, chw_result_t *out) {
    (void)ctx, (void)job_state, (void)d;
    sms_twilio_classify(response->status, response->body, response->body_len, out);
    const char *code = out->provider_code;
    if (!strcmp(code, "21210") || !strcmp(code, "21212") || !strcmp(code, "21215")) {
        char code_copy[CHW_PROVIDER_CODE_MAX];
        snprintf(code_copy, sizeof code_copy, "%s", code);
        chw_result_set(out, CHW_CONFIG_ERROR,
                       "provider rejected the caller id or region "
                       "(Twilio %s)",
                       code_copy);
        snprintf(out->provider_code, sizeof out->provider_code, "%s", code_copy);
    }
}

static void s_release(void *ctx, void *job_state, const Pregon__Dispatch *d,
                      const chw_result_t *result) {
    (void)ctx, (void)d, (void)result;
    free(job_state);
}

/* Every call of the worker in one bucket: calls per second are the account's limit. */
static const char *s_shape_key(void *ctx, const Pregon__Dispatch *d, char *buf, size_t len) {
    (void)d, (void)buf, (void)len;
    return ((vc_twilio_t *)ctx)->account_sid;
}

/* A placed call (SENT), or one that may have been (UNKNOWN), holds its line. */
static int64_t s_hold_ms(void *ctx, void *job_state, const Pregon__Dispatch *d,
                         const chw_result_t *r) {
    (void)job_state, (void)d;
    return r && (r->outcome == CHW_SENT || r->outcome == CHW_UNKNOWN) ? vc_twilio_hold_ms(ctx) : 0;
}

chw_driver_t vc_twilio_driver(vc_twilio_t *self) {
    return (chw_driver_t){.prepare = s_prepare,
                          .classify = s_classify,
                          .release = s_release,
                          .shape_key = s_shape_key,
                          .hold_ms = s_hold_ms,
                          .ctx = self};
}

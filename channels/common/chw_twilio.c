/* chw_twilio.c — a Twilio REST resource's URL, headers and form bodies (see chw_twilio.h).
 *
 * The Authorization line is built with OpenSSL's EVP_EncodeBlock; every buffer that held the
 * token is wiped with OPENSSL_cleanse before it is freed. */
#include "chw_twilio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define S_AUTH_PREFIX "Authorization: Basic "

struct chw_twilio {
    char *url; /* BASE/2010-04-01/Accounts/SID/RESOURCE */
    char *account_sid;
    char *user_agent;
    struct curl_slist *headers; /* Accept, Expect, Authorization (holds the secret) */
};

/* Appends "Authorization: Basic base64(sid:token)" to h. Returns the new list head, NULL when
 * out of memory (h is then freed). */
static struct curl_slist *s_add_basic_auth(struct curl_slist *h, const char *sid,
                                           const char *token) {
    size_t prefix = sizeof S_AUTH_PREFIX - 1;
    size_t plain_len = strlen(sid) + 1 + strlen(token);
    size_t header_len = prefix + 4 * ((plain_len + 2) / 3) + 1;
    char *plain = malloc(plain_len + 1), *header = malloc(header_len);
    struct curl_slist *out = NULL;
    if (plain && header) {
        snprintf(plain, plain_len + 1, "%s:%s", sid, token);
        memcpy(header, S_AUTH_PREFIX, prefix);
        EVP_EncodeBlock((unsigned char *)header + prefix, (const unsigned char *)plain,
                        (int)plain_len);
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

static bool s_given(const char *s) {
    return s && *s;
}

chw_twilio_t *chw_twilio_new(const char *base_url, const char *account_sid, const char *auth_token,
                             const char *resource, const char *user_agent) {
    if (!s_given(base_url) || !s_given(account_sid) || !s_given(auth_token) || !s_given(resource) ||
        !s_given(user_agent))
        return NULL;
    chw_twilio_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t base_len = strlen(base_url);
    while (base_len && base_url[base_len - 1] == '/')
        base_len--;
    size_t url_len = base_len + strlen(account_sid) + strlen(resource) + 32;
    if ((self->url = malloc(url_len)))
        snprintf(self->url, url_len, "%.*s/2010-04-01/Accounts/%s/%s", (int)base_len, base_url,
                 account_sid, resource);
    self->account_sid = strdup(account_sid);
    self->user_agent = strdup(user_agent);
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!h2)
        curl_slist_free_all(h);
    else
        self->headers = s_add_basic_auth(h2, account_sid, auth_token);
    if (!self->url || !self->account_sid || !self->user_agent || !self->headers) {
        chw_twilio_destroy(&self);
        return NULL;
    }
    return self;
}

void chw_twilio_destroy(chw_twilio_t **self_p) {
    if (!self_p || !*self_p)
        return;
    chw_twilio_t *self = *self_p;
    free(self->url);
    free(self->account_sid);
    free(self->user_agent);
    for (struct curl_slist *h = self->headers; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data)); /* the Authorization line is a secret */
    curl_slist_free_all(self->headers);
    free(self);
    *self_p = NULL;
}

const char *chw_twilio_account_sid(const chw_twilio_t *self) {
    return self ? self->account_sid : "";
}

const char *chw_twilio_url(const chw_twilio_t *self) {
    return self ? self->url : NULL;
}

const struct curl_slist *chw_twilio_headers(const chw_twilio_t *self) {
    return self ? self->headers : NULL;
}

int chw_twilio_post(const chw_twilio_t *self, CURL *easy, const char *form, chw_result_t *err) {
    curl_easy_setopt(easy, CURLOPT_URL, self->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, self->user_agent);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDS, form);
    if (rc != CURLE_OK) {
        chw_result_set(err, CHW_RETRY, "curl: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

void chw_form_add(chw_form_t *f, const char *name, const char *value) {
    if (f->failed)
        return;
    char *esc = curl_easy_escape(NULL, value ? value : "", 0);
    if (!esc) {
        f->failed = true;
        return;
    }
    size_t need = f->len + 1 + strlen(name) + 1 + strlen(esc) + 1;
    if (need > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(f->buf, cap);
        if (!grown) {
            curl_free(esc);
            f->failed = true;
            return;
        }
        f->buf = grown;
        f->cap = cap;
    }
    f->len += (size_t)sprintf(f->buf + f->len, "%s%s=%s", f->len ? "&" : "", name, esc);
    curl_free(esc);
}

char *chw_form_finish(chw_form_t *f) {
    char *out = f->failed ? NULL : f->buf ? f->buf : strdup("");
    if (f->failed)
        free(f->buf);
    *f = (chw_form_t){0};
    return out;
}

/* hk_meta.c — the Meta modules' shared keys, subscription check and field reading (hk_meta.h). */
#include "hk_meta.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_copy(const char *s) {
    return s && *s ? strdup(s) : NULL;
}

static void s_wipe_free(char **s) {
    if (*s)
        OPENSSL_cleanse(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

int hk_meta_keys_set(hk_meta_keys_t *k, const char *app_secret, const char *verify_token) {
    k->app_secret = s_copy(app_secret);
    k->verify_token = s_copy(verify_token);
    if ((app_secret && *app_secret && !k->app_secret) ||
        (verify_token && *verify_token && !k->verify_token)) {
        hk_meta_keys_release(k);
        return -1;
    }
    return 0;
}

void hk_meta_keys_release(hk_meta_keys_t *k) {
    if (!k)
        return;
    s_wipe_free(&k->app_secret);
    s_wipe_free(&k->verify_token);
}

/* Equal strings, in time that depends only on their lengths. */
static bool s_same(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

hk_verdict_t hk_meta_challenge(const hk_meta_keys_t *k, const hk_request_t *req, hk_result_t *res) {
    const char *mode = pg_http_request_query(req->http, "hub.mode");
    const char *token = pg_http_request_query(req->http, "hub.verify_token");
    const char *challenge = pg_http_request_query(req->http, "hub.challenge");
    if (!k->verify_token || !mode || strcmp(mode, "subscribe") != 0 || !token ||
        !s_same(token, k->verify_token)) {
        res->reason = "bad-verify-token";
        return HK_REFUSE;
    }
    if (!challenge || !*challenge || strlen(challenge) > 1024) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    return hk_result_set_body(res, "text/plain", challenge) < 0 ? HK_NOMEM : HK_ANSWER;
}

const char *hk_meta_str(const json_t *o, const char *key, char *buf, size_t len) {
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* hk_unsubscribe.c — the one-click unsubscribe routes (see hk_unsubscribe.h).
 *
 * The token is checked with pg_unsub (constant-time HMAC); the pages are fixed HTML with
 * nothing of the request echoed in them but the (verified, base64url) token in the form's
 * action, so there is nothing to escape beyond it. */
#include "hk_unsubscribe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "pg_form.h"
#include "pg_unsub.h"
#include "pregon.pb-c.h"

#define S_PROVIDER "email-unsubscribe"

typedef struct {
    unsigned char *key;
    size_t key_len;
} s_ctx_t;

static const char *s_token(const hk_request_t *req, pg_unsub_ref_t *ref, const s_ctx_t *ctx) {
    const char *token = pg_http_request_capture(req->http, 0);
    if (!token || pg_unsub_verify(ctx->key, ctx->key_len, token, ref) != 0)
        return NULL;
    return token;
}

static hk_verdict_t s_page(void *vctx, const hk_request_t *req, hk_result_t *res) {
    pg_unsub_ref_t ref;
    const char *token = s_token(req, &ref, vctx);
    if (!token) {
        res->reason = "forged";
        return HK_REFUSE;
    }
    char page[2048 + PG_UNSUB_TOKEN_MAX];
    snprintf(page, sizeof page,
             "<!DOCTYPE html>\n<html lang=\"es\"><head><meta charset=\"utf-8\">"
             "<title>Cancelar suscripción</title></head><body>\n"
             "<p>¿Desea dejar de recibir estos correos?</p>\n"
             "<form method=\"post\" action=\"/u/%s\">"
             "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
             "<button type=\"submit\">Cancelar suscripción</button></form>\n</body></html>\n",
             token);
    return hk_result_set_body(res, "text/html; charset=utf-8", page) == 0 ? HK_ANSWER : HK_NOMEM;
}

static hk_verdict_t s_post(void *vctx, const hk_request_t *req, hk_result_t *res) {
    pg_unsub_ref_t ref;
    const char *token = s_token(req, &ref, vctx);
    if (!token) {
        res->reason = "forged";
        return HK_REFUSE;
    }
    const char *v = pg_form_get(pg_http_request_form(req->http), "List-Unsubscribe");
    if (!v || strcmp(v, "One-Click") != 0) {
        res->reason = "missing-field";
        return HK_INVALID;
    }
    char event_id[64];
    snprintf(event_id, sizeof event_id, "unsub:%.40s", strchr(token, '.') + 1);
    hk_event_t *ev = hk_result_add_event(res);
    if (!ev)
        return HK_NOMEM;
    ev->kind = PREGON__INBOUND_EVENT__KIND__OPT_OUT;
    ev->channel = PREGON__CHANNEL__EMAIL;
    if (hk_event_set(&ev->provider, S_PROVIDER) < 0 || hk_event_set(&ev->tenant, ref.tenant) < 0 ||
        hk_event_set(&ev->contact, ref.contact) < 0 ||
        (ref.campaign[0] && hk_event_set(&ev->campaign, ref.campaign) < 0) ||
        hk_event_set(&ev->text, "List-Unsubscribe=One-Click") < 0 ||
        hk_event_set(&ev->status, "unsubscribe") < 0 || hk_event_set(&ev->event_id, event_id) < 0)
        return HK_NOMEM;
    if (hk_result_set_body(res, "text/html; charset=utf-8",
                           "<!DOCTYPE html>\n<html lang=\"es\"><head><meta charset=\"utf-8\">"
                           "<title>Suscripción cancelada</title></head><body>\n"
                           "<p>Listo: no le enviaremos más correos a esta "
                           "dirección.</p>\n</body></html>\n") != 0)
        return HK_NOMEM;
    return HK_ANSWER;
}

static const hk_route_t s_routes[] = {
    {"GET", "/u/{token}", PG_HTTP_BODY_NONE, "unsubscribe-page", s_page},
    {"POST", "/u/{token}", PG_HTTP_BODY_FORM, "unsubscribe", s_post},
};

static void s_destroy(void *vctx) {
    s_ctx_t *ctx = vctx;
    if (!ctx)
        return;
    OPENSSL_cleanse(ctx->key, ctx->key_len);
    free(ctx->key);
    free(ctx);
}

int hk_unsubscribe_init(hk_module_t *out, const void *key, size_t key_len) {
    if (!key || !key_len)
        return -1;
    s_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx || !(ctx->key = malloc(key_len))) {
        free(ctx);
        return -1;
    }
    memcpy(ctx->key, key, key_len);
    ctx->key_len = key_len;
    *out = (hk_module_t){.name = S_PROVIDER,
                         .routes = s_routes,
                         .n_routes = sizeof s_routes / sizeof s_routes[0],
                         .ctx = ctx,
                         .destroy = s_destroy};
    return 0;
}

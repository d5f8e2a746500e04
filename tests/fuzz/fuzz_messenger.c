/* fuzz_messenger.c — pregon-hooks' Messenger module (hk_messenger): the signature check over the
 * raw body, the JSON walk of entry[].messaging[] into events, and the subscription check.
 *
 * The handlers read a request only through pg_http_request_header, _query and _body; this file
 * defines those over a fake request (it does not link pg_http): no socket, no MHD.
 *
 * Input: byte 0 is a mode (bit 0: the GET verification route instead of the POST; bit 1: sign
 * the body correctly; bit 2: no signature header), then "SIGNATURE\n", then the body (for the
 * GET route: "MODE\nTOKEN\nCHALLENGE"). Properties: a correctly signed body is never refused
 * (403); a verdict other than HK_ANSWER has a reason; every event has a channel, a contact, an
 * event id and a status or a text, and its strings are UTF-8; a GET with the right token and a
 * challenge answers the challenge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fz_lib.h"
#include "hk_messenger.h"
#include "hk_module.h"
#include "pg_sig.h"
#include "pg_utf8.h"
#include "pregon.pb-c.h"

#define S_SECRET "app-secret"
#define S_VERIFY "verify-token"

struct pg_http_request {
    const char *signature;
    const char *body;
    size_t body_len;
    const char *mode, *token, *challenge;
};

const char *pg_http_request_header(const pg_http_request_t *req, const char *name) {
    return strcasecmp(name, "X-Hub-Signature-256") == 0 ? req->signature : NULL;
}

const char *pg_http_request_query(const pg_http_request_t *req, const char *name) {
    if (strcmp(name, "hub.mode") == 0)
        return req->mode;
    if (strcmp(name, "hub.verify_token") == 0)
        return req->token;
    return strcmp(name, "hub.challenge") == 0 ? req->challenge : NULL;
}

const char *pg_http_request_body(const pg_http_request_t *req, size_t *len) {
    if (len)
        *len = req->body_len;
    return req->body_len ? req->body : NULL;
}

static hk_module_t s_module;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (hk_messenger_init(&s_module, S_SECRET, S_VERIFY) != 0 || s_module.n_routes != 2)
        fz_fail("cannot set the Messenger module up");
    return 0;
}

static void s_utf8(const char *s) {
    if (s && !pg_utf8_valid(s, strlen(s)))
        fz_fail("an event string that is not UTF-8");
}

static void s_events(const hk_result_t *res) {
    for (size_t i = 0; i < res->n_events; i++) {
        const hk_event_t *e = &res->events[i];
        if (e->channel != PREGON__CHANNEL__MESSENGER || !e->contact || !*e->contact ||
            !e->event_id || !*e->event_id || (!e->status && !e->text))
            fz_fail("an event without its channel, contact, id, or status and text");
        if (e->kind == PREGON__INBOUND_EVENT__KIND__DELIVERY_STATUS && !e->status)
            fz_fail("a delivery status without its status");
        s_utf8(e->contact), s_utf8(e->provider_id), s_utf8(e->status), s_utf8(e->text);
        s_utf8(e->event_id), s_utf8(e->provider), s_utf8(e->sender), s_utf8(e->keyword);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int mode = data[0];
    fz_part_t parts[2];
    size_t k = fz_split(data + 1, size - 1, '\n', parts, 2);
    if (k < 2)
        return 0;
    char *header = fz_strndup(parts[0].p, parts[0].n);
    size_t body_len = size - 1 - (size_t)(parts[1].p - (data + 1));
    char *body = fz_strndup(parts[1].p, body_len);
    struct pg_http_request http = {.signature = header, .body = body, .body_len = body_len};
    char sig[PG_SIG_META_SIZE];
    fz_part_t q[3] = {{0}};
    char *m = NULL, *t = NULL, *c = NULL;
    if (mode & 1) {
        size_t n = fz_split(parts[1].p, body_len, '\n', q, 3);
        http.mode = n > 0 ? (m = fz_strndup(q[0].p, q[0].n)) : NULL;
        http.token = n > 1 ? (t = fz_strndup(q[1].p, q[1].n)) : NULL;
        http.challenge = n > 2 ? (c = fz_strndup(q[2].p, q[2].n)) : NULL;
    } else if (mode & 2) {
        if (pg_sig_meta(S_SECRET, body, body_len, sig, sizeof sig) != 0)
            fz_fail("pg_sig_meta failed");
        http.signature = sig;
    } else if (mode & 4) {
        http.signature = NULL;
    }
    const hk_route_t *route = &s_module.routes[(mode & 1) ? 0 : 1];
    hk_request_t req = {.http = &http, .url = "https://hooks.example.com/messenger/webhook"};
    hk_result_t res;
    memset(&res, 0, sizeof res);
    hk_verdict_t v = route->handle(s_module.ctx, &req, &res);
    if (!(mode & 1) && v == HK_REFUSE && (mode & 2))
        fz_fail("a correctly signed body refused");
    if (v != HK_ANSWER && v != HK_NOMEM && !res.reason)
        fz_fail("a refusal without its reason");
    if ((mode & 1) && v == HK_ANSWER &&
        (!http.challenge || !res.body || strcmp(res.body, http.challenge) != 0))
        fz_fail("a verification answered something else than the challenge");
    if ((mode & 1) && m && t && c && *c && strlen(c) <= 1024 && !strcmp(m, "subscribe") &&
        !strcmp(t, S_VERIFY) && v != HK_ANSWER && v != HK_NOMEM)
        fz_fail("the right verify token refused");
    if (v == HK_ANSWER)
        s_events(&res);
    hk_result_release(&res);
    free(m), free(t), free(c);
    free(header);
    free(body);
    return 0;
}

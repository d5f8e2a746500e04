/* fuzz_hooks.c — pregon-hooks' webhook parsing and the signature checks: the Twilio SMS module's
 * two handlers (hk_twilio_sms: signature, fields, hk_keyword on the Body), pg_sig's Twilio and
 * Meta verifiers, and pg_form as MHD's post processor fills it (pg_form_add_chunk).
 *
 * The handlers read a request only through pg_http_request_header and pg_http_request_form;
 * this file defines those two over a fake request (it does not link pg_http), so no socket and
 * no MHD is involved: MHD's own decoding is not what is fuzzed here.
 *
 * Input: byte 0 is a mode (bit 0: inbound or status route; bit 1: sign the request correctly;
 * bit 2: no signature header; bit 3: feed each value in two chunks), then "PATH\n", then
 * "SIGNATURE\n", then the form as name=value pairs joined by '&' (raw bytes: no decoding).
 * Properties: a correctly signed request of a known account is never refused; a Meta signature
 * computed over the body verifies; every string of an event the module produced is UTF-8; a
 * verdict other than HK_ANSWER has a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fz_lib.h"
#include "hk_module.h"
#include "hk_secrets.h"
#include "hk_twilio_sms.h"
#include "pg_sig.h"
#include "pg_utf8.h"

#define S_BASE  "https://hooks.example.com"
#define S_TOKEN "12345"

struct pg_http_request {
    pg_form_t *form;
    const char *signature;
};

const char *pg_http_request_header(const pg_http_request_t *req, const char *name) {
    return strcasecmp(name, "X-Twilio-Signature") == 0 ? req->signature : NULL;
}

const pg_form_t *pg_http_request_form(const pg_http_request_t *req) {
    return req->form;
}

static hk_secrets_t *s_tokens;
static hk_module_t s_module;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    s_tokens = hk_secrets_new();
    if (!s_tokens || hk_secrets_add(s_tokens, "ACfuzz", S_TOKEN) != 0 ||
        hk_secrets_add(s_tokens, "AC00000000000000000000000000000000", "other-token") != 0 ||
        hk_twilio_sms_init(&s_module, s_tokens) != 0 || s_module.n_routes != 2)
        fz_fail("cannot set the Twilio module up");
    return 0;
}

/* Fills form from "a=b&c=d" as MHD would hand it over, one or two chunks per value. */
static pg_form_t *s_form(const uint8_t *p, size_t n, int chunked) {
    pg_form_t *form = pg_form_new();
    fz_part_t parts[64];
    size_t k = fz_split(p, n, '&', parts, 64);
    for (size_t i = 0; form && i < k; i++) {
        const uint8_t *eq = memchr(parts[i].p, '=', parts[i].n);
        size_t nl = eq ? (size_t)(eq - parts[i].p) : parts[i].n;
        char *name = fz_strndup(parts[i].p, nl);
        const char *v = eq ? (const char *)eq + 1 : "";
        size_t vl = eq ? parts[i].n - nl - 1 : 0, half = chunked && vl >= 2 ? vl / 2 : vl;
        if (pg_form_add_chunk(form, name, v, half, 0) != 0 ||
            (vl > half && pg_form_add_chunk(form, name, v + half, vl - half, half) != 0))
            fz_fail("pg_form_add_chunk refused a continuation of its own field");
        free(name);
    }
    return form;
}

static void s_utf8(const char *s) {
    if (s && !pg_utf8_valid(s, strlen(s)))
        fz_fail("an event string that is not UTF-8");
}

static void s_events(const hk_result_t *res) {
    for (size_t i = 0; i < res->n_events; i++) {
        const hk_event_t *e = &res->events[i];
        s_utf8(e->contact), s_utf8(e->provider_id), s_utf8(e->status), s_utf8(e->text);
        s_utf8(e->event_id), s_utf8(e->provider), s_utf8(e->error_code), s_utf8(e->sender);
    }
}

static void s_meta(const uint8_t *body, size_t n, const char *header) {
    char sig[PG_SIG_META_SIZE];
    (void)pg_sig_meta_verify("app-secret", body, n, header);
    if (pg_sig_meta("app-secret", body, n, sig, sizeof sig) != 0 ||
        !pg_sig_meta_verify("app-secret", body, n, sig))
        fz_fail("a Meta signature computed over the body does not verify");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int mode = data[0];
    fz_part_t parts[3];
    size_t k = fz_split(data + 1, size - 1, '\n', parts, 3);
    if (k < 3)
        return 0;
    char *path = fz_strndup(parts[0].p, parts[0].n);
    char *header = fz_strndup(parts[1].p, parts[1].n);
    size_t url_len = strlen(S_BASE) + strlen(path) + 1;
    char *url = malloc(url_len);
    if (!url)
        abort();
    snprintf(url, url_len, "%s%s", S_BASE, path);

    pg_form_t *form = s_form(parts[2].p, parts[2].n, mode & 8);
    if (!form)
        abort();
    const char *account = pg_form_get(form, "AccountSid");
    const char *token = hk_secrets_get(s_tokens, account);
    char sig[PG_SIG_TWILIO_SIZE];
    struct pg_http_request http = {.form = form, .signature = header};
    if (mode & 2) {
        if (pg_sig_twilio(token ? token : S_TOKEN, url, form, sig, sizeof sig) != 0)
            fz_fail("pg_sig_twilio failed");
        http.signature = sig;
        if (!pg_sig_twilio_verify(token ? token : S_TOKEN, url, form, sig))
            fz_fail("a Twilio signature does not verify");
    } else if (mode & 4) {
        http.signature = NULL;
    } else {
        (void)pg_sig_twilio_verify(S_TOKEN, url, form, header);
    }
    const hk_route_t *route = &s_module.routes[mode & 1];
    hk_request_t req = {.http = &http, .url = url};
    hk_result_t res;
    memset(&res, 0, sizeof res);
    hk_verdict_t v = route->handle(s_module.ctx, &req, &res);
    if (v == HK_REFUSE && (mode & 2) && token)
        fz_fail("a correctly signed request refused");
    if (v != HK_ANSWER && v != HK_NOMEM && !res.reason)
        fz_fail("a refusal without its reason");
    if (v == HK_ANSWER)
        s_events(&res);
    hk_result_release(&res);

    char *encoded = pg_form_encode(form);
    if (!encoded)
        abort();
    free(encoded);
    s_meta(parts[2].p, parts[2].n, header);
    pg_form_destroy(&form);
    free(url), free(path), free(header);
    return 0;
}

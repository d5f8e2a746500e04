/* hk_module.h — what a provider module of pregon-hooks is: routes, each a handler that checks
 * the provider's signature, parses the request and maps it to inbound events and an answer.
 *
 * The server (hk_server) owns everything around a handler: the body size limit (413), counting
 * requests per provider, route and result, refusing with 403 (and counting the reason) when a
 * handler says so, forwarding the events to pregond and holding the request until every one is
 * acknowledged, answering 503 when the broker is unreachable, says "error" or stays silent.
 * A module only reads the request and fills an hk_result_t: it never replies itself and never
 * sees the broker. That covers every provider planned:
 *   Twilio Messaging   POST status callbacks and inbound messages, empty TwiML answered;
 *   Twilio Calls       TwiML served (answer body, no event), <Gather> digits (an IVR_DIGITS
 *                      event and the next TwiML as the answer body), call status callbacks;
 *   WhatsApp Cloud,    GET hub.challenge verification (the challenge as the answer body, no
 *   Messenger          event; HK_REFUSE on a wrong verify token), POST with X-Hub-Signature-256
 *                      over the raw body (PG_HTTP_BODY_RAW), several events from one batch;
 *   e-mail one-click   POST List-Unsubscribe=One-Click to a URL carrying its own signed id.
 * Threads: handlers run on the HTTP server's threads, concurrently: a module's ctx must be
 * read-only after set-up (or guard itself). */
#ifndef HK_MODULE_H
#define HK_MODULE_H

#include "hk_event.h"
#include "pg_http.h"
#include "pregon.pb-c.h"

#include <stddef.h>

/* One request as a module sees it. */
typedef struct {
    pg_http_request_t *http; /* borrowed: headers, query, form or raw body through pg_http.h */
    const char *url; /* the URL the provider called, as it signs it: the configured public base
                      * URL + the request target exactly as received (path and raw query) */
} hk_request_t;

/* What a handler decided. */
typedef enum {
    HK_ANSWER = 0, /* forward res->events (none is fine), then answer res->status and body */
    HK_REFUSE,     /* 403: unsigned, forged, unknown account; res->reason names which. Counted,
                    * nothing forwarded, res's events ignored */
    HK_INVALID,    /* 400: signed but unusable (a field missing); res->reason */
    HK_NOMEM,      /* 500: out of memory */
    HK_SCRIPT,     /* the answer needs the job's script: res->script_* name it; the server asks
                    * pregond (ScriptRequest) and calls the route's with_script with the reply,
                    * whose verdict then counts (503 when pregond does not answer) */
} hk_verdict_t;

/* A handler's output. The server zeroes it before the call and releases it after. */
typedef struct {
    int status;               /* answered once the events are acknowledged; 0 = 200 */
    const char *content_type; /* static string; NULL = no body */
    char *body;               /* owned (malloc'd); see hk_result_set_body */
    size_t body_len;
    hk_event_t *events; /* owned; see hk_result_add_event */
    size_t n_events;
    size_t cap_events;
    const char *reason; /* static string, for HK_REFUSE/HK_INVALID: a metrics label, e.g.
                         * "unsigned", "forged", "unknown-account", "missing-field" */
    char *script_tenant, *script_job, *script_lease; /* HK_SCRIPT: owned; hk_result_script */
} hk_result_t;

/* Handles one request of a route. ctx is the module's. */
typedef hk_verdict_t (*hk_handle_fn)(void *ctx, const hk_request_t *req, hk_result_t *res);

/* Goes on with a request whose handler said HK_SCRIPT, once pregond answered: reply is its
 * ScriptReply (borrowed for the call; reply->error "" = found). res is zeroed again; the
 * verdict is final (HK_SCRIPT again is HK_NOMEM). */
typedef hk_verdict_t (*hk_script_fn)(void *ctx, const hk_request_t *req,
                                     const Pregon__ScriptReply *reply, hk_result_t *res);

typedef struct {
    const char *method;  /* "POST", "GET" */
    const char *path;    /* a pg_http pattern, e.g. "/twilio/sms/status" */
    pg_http_body_t body; /* PG_HTTP_BODY_FORM for Twilio, PG_HTTP_BODY_RAW for Meta's JSON */
    const char *name;    /* the route's metrics label, e.g. "sms-status" */
    hk_handle_fn handle;
    hk_script_fn with_script; /* for routes whose handler may say HK_SCRIPT; else NULL */
} hk_route_t;

/* A provider module. The struct and its routes must outlive the server. */
typedef struct {
    const char *name; /* metrics label and InboundEvent.provider, e.g. "twilio-sms" */
    const hk_route_t *routes;
    size_t n_routes;
    void *ctx;                  /* given to every handler */
    void (*destroy)(void *ctx); /* frees ctx at exit; may be NULL */
} hk_module_t;

/* Appends a zeroed event to res and returns it, or NULL when out of memory. */
hk_event_t *hk_result_add_event(hk_result_t *res);

/* Sets the answer body to a copy of text (NUL-terminated) with content_type (static). Returns
 * 0, or -1 when out of memory. */
int hk_result_set_body(hk_result_t *res, const char *content_type, const char *text);

/* Names the job whose script the answer needs (HK_SCRIPT): copies of the three. Returns 0, or
 * -1 when out of memory. */
int hk_result_script(hk_result_t *res, const char *tenant, const char *job, const char *lease);

/* Frees the body and the events and zeroes res; accepts NULL. */
void hk_result_release(hk_result_t *res);

#endif

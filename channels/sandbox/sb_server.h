/* sb_server.h — the sandbox's server: pg_http plus what every simulated provider gets for free.
 *
 * Provider modules register their routes here with a provider descriptor. Around each provider
 * handler the sandbox, not the module: consults the fault plan (scripted or random 429/5xx and
 * timeouts), answers body errors (413, 415, 400) in the provider's error format, records every
 * request in the store, and delays answers by the configured latency (pg_http_reply_after: no
 * thread waits). Control routes (sb_control) go straight to pg_http and get none of that.
 *
 * Threads: as pg_http's. Routes are registered before sb_server_start() and never after. */
#ifndef SB_SERVER_H
#define SB_SERVER_H

#include "pg_http.h"
#include "sb_faults.h"
#include "sb_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sb_server sb_server_t;

/* What a provider request is about, for fault matching and the store. Strings are borrowed from
 * the request; any may be NULL. */
typedef struct {
    const char *account;
    const char *to;
    const char *from;
    const char *body;
} sb_summary_t;

/* Describes a simulated provider to the server. Must outlive the server. */
typedef struct {
    /* Store tag and fault-script filter, e.g. "twilio-sms". */
    const char *name;
    /* Fills *out from req (form or body already decoded; may be empty). Must not reply. */
    void (*summarize)(pg_http_request_t *req, sb_summary_t *out, void *ctx);
    /* Replies to req with the provider's error body for HTTP status and provider error_code
     * (0 = the provider's default for that status); message may be NULL (provider default).
     * Should also call sb_request_set_outcome() with the code it answered. */
    void (*render_error)(pg_http_request_t *req, int status, int error_code, const char *message,
                         void *ctx);
    void *ctx;
} sb_provider_t;

typedef struct {
    pg_http_config_t http;
    sb_store_t *store;   /* borrowed: provider requests are recorded here */
    sb_faults_t *faults; /* borrowed: consulted for provider requests */
} sb_server_config_t;

/* Creates a server (not listening yet). Returns NULL and a reason in err on an invalid config
 * or out of memory. */
sb_server_t *sb_server_new(const sb_server_config_t *cfg, char *err, size_t errlen);

/* Stops if needed and frees; accepts NULL and nulls the caller's pointer. */
void sb_server_destroy(sb_server_t **self_p);

/* Adds a provider route (see pg_http_route_t for method, pattern and body). provider is
 * borrowed and must outlive the server. Returns 0, or -1 on a bad pattern, too many routes, or
 * after start. */
int sb_server_provider_route(sb_server_t *self, const sb_provider_t *provider, const char *method,
                             const char *pattern, pg_http_body_t body, pg_http_handler_fn fn,
                             void *ctx);

/* Adds a control route: pg_http's, untouched by faults, latency and recording. */
int sb_server_control_route(sb_server_t *self, const char *method, const char *pattern,
                            pg_http_body_t body, pg_http_handler_fn fn, void *ctx);

/* A control route, for tables of them. */
typedef struct {
    const char *method;
    const char *pattern;
    pg_http_body_t body;
    pg_http_handler_fn fn;
} sb_control_route_t;

/* Adds n control routes sharing ctx. Returns 0, or -1 at the first that fails. */
int sb_server_control_routes(sb_server_t *self, const sb_control_route_t *routes, size_t n,
                             void *ctx);

/* Binds and starts serving. Returns 0, or -1 with a reason in err. */
int sb_server_start(sb_server_t *self, char *err, size_t errlen);

/* The bound port; 0 before start. */
uint16_t sb_server_port(const sb_server_t *self);

/* Answers every delayed request now, closes every held one, then stops. Idempotent; call from
 * the main thread, never from a handler. */
void sb_server_stop(sb_server_t *self);

/* Requests currently delayed (latency), held (simulated timeout) or long-polling. */
unsigned sb_server_waiting(const sb_server_t *self);

/* Tells the store what a provider request came to: the provider error code answered (0 =
 * none) and the id assigned (NULL = none). Ignored on control routes. */
void sb_request_set_outcome(pg_http_request_t *req, int error_code, const char *sid);

#endif

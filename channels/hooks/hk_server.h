/* hk_server.h — pregon-hooks' HTTP side: the pg_http server, the provider modules' routes, and
 * what happens around every handler (see hk_module.h): counting, 403/400 for what a module
 * refuses, handing the events to the link and holding the request (suspended, no thread
 * blocked) until the link decides it, then the module's answer (2xx) or 503. Also
 * GET /healthz (200 while pregond answers, else 503: a readiness check). No /metrics (404):
 * it is served on the loopback ops port (hk_ops.h), never on this internet-facing listener.
 * Modules are added before hk_server_start(); stop and destroy from the starting thread. */
#ifndef HK_SERVER_H
#define HK_SERVER_H

#include "hk_link.h"
#include "hk_metrics.h"
#include "hk_module.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hk_server hk_server_t;

typedef struct {
    const char *listen;       /* "127.0.0.1:8095"; port 0 = any free port */
    const char *public_url;   /* base URL as providers call it, e.g. "https://hooks.example.com"
                               * (a trailing '/' is dropped); signatures cover base + target.
                               * NULL or "": "http://LISTEN-HOST:BOUND-PORT" */
    unsigned threads;         /* HTTP threads, >= 1 */
    unsigned max_connections; /* >= 1 */
    unsigned idle_timeout_s;  /* keep-alive idle limit; 0 = never */
    size_t max_body;          /* larger bodies get 413 */
    unsigned ack_timeout_ms;  /* the link's: a held request is looked at again after it */
    hk_link_t *link;          /* borrowed */
    hk_metrics_t *metrics;    /* borrowed */
    void (*log)(void *ctx, const char *fmt, va_list ap); /* HTTP diagnostics; may be NULL */
    void *log_ctx;
} hk_server_config_t;

/* Returns a server (not listening), or NULL with a reason in err. */
hk_server_t *hk_server_new(const hk_server_config_t *cfg, char *err, size_t errlen);

/* Stops if needed and frees; accepts NULL and nulls the caller's pointer. */
void hk_server_destroy(hk_server_t **self_p);

/* Adds every route of module (borrowed; must outlive the server). Returns 0, or -1 with a
 * reason in err. */
int hk_server_add_module(hk_server_t *self, const hk_module_t *module, char *err, size_t errlen);

/* Binds and serves. Returns 0, or -1 with a reason in err. */
int hk_server_start(hk_server_t *self, char *err, size_t errlen);

/* The public base URL in use (borrowed; final once started). */
const char *hk_server_public_url(const hk_server_t *self);

/* The bound port; 0 before start. */
uint16_t hk_server_port(const hk_server_t *self);

/* Answers every held request (those the link decided: their answer; the others: 503) and
 * stops serving. Call hk_link_stop() first so every hold is decided. Idempotent. */
void hk_server_stop(hk_server_t *self);

#endif

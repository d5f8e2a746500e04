/* api_routes.h — pregon-api's HTTP routes: what each answers, its limits and its errors.
 *
 * Every /v1 route wants `Authorization: Bearer TOKEN` (401 unauthorized otherwise) and takes
 * one request from the token's rate bucket (429 rate-limited, Retry-After). A token sees and
 * submits for its tenants only (403 forbidden-tenant). Errors are JSON,
 * {"error": {"code": STABLE-CODE, "message": TEXT}}; the codes are api/openapi.yaml's Error
 * schema. Handlers run on the HTTP server's threads: each thread has its own DEALER (api_front)
 * and its own Redis connection (made on first use). */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include <stddef.h>

#include "api_events.h"
#include "api_front.h"
#include "api_tokens.h"
#include "brk_config.h"
#include "pg_http.h"
#include "rl_policyset.h"
#include "st_keys.h"

typedef struct {
    api_tokens_t *tokens;
    api_front_t *front;
    api_events_t *events;
    const brk_config_t *redis_cfg; /* Redis and key layout (prefix, shards) */
    const st_keys_t *keys;
    const rl_policyset_t *policies;
    size_t max_jobs;  /* jobs per POST /v1/jobs */
    unsigned wait_ms; /* GET /v1/events: longest wait for an event */
} api_ctx_t;

/* Adds every route to http (before pg_http_start). Returns 0 or -1. */
int api_routes_add(pg_http_t *http, api_ctx_t *ctx);

/* Closes every thread's Redis connection: call after the HTTP server stopped. */
void api_routes_done(void);

#endif

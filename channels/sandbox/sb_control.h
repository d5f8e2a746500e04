/* sb_control.h — the sandbox's own HTTP API, for tests, benchmarks and the demo.
 *
 *   GET    /healthz                     200 "ok"
 *   GET    /_sandbox/requests[?provider=P&since=SEQ&limit=N]   recorded requests, oldest first
 *   DELETE /_sandbox/requests           forget records and counters
 *   GET    /_sandbox/stats              counts by provider and status, callbacks (in all and by
 *                                        kind), waiting, and each module's counters
 *   GET    /_sandbox/faults             current rates and pending script rules
 *   POST   /_sandbox/faults             {"p429","p5xx","ptimeout","latency_ms","jitter_ms",
 *                                        "timeout_hold_ms","seed"}: partial update
 *   POST   /_sandbox/script             a rule or an array of rules: {"count","to","provider",
 *                                        "status","error_code","retry_after","timeout"}
 *   DELETE /_sandbox/script             drop pending rules
 * Modules add their own routes under /_sandbox/<module>/ (sb_module.h).
 * No authentication: bind the sandbox to loopback. Errors are {"status":N,"error":"..."}. */
#ifndef SB_CONTROL_H
#define SB_CONTROL_H

#include "sb_module.h"

typedef struct sb_control sb_control_t;

/* Creates the control API over env (borrowed: store, faults, hooks, server and the modules,
 * whose stats it shows). NULL when out of memory. */
sb_control_t *sb_control_new(const sb_env_t *env);

/* Frees; accepts NULL and nulls the caller's pointer. Destroy after the server has stopped. */
void sb_control_destroy(sb_control_t **self_p);

/* Registers the routes above on the server. Returns 0 or -1. */
int sb_control_register(sb_control_t *self, sb_server_t *server);

#endif

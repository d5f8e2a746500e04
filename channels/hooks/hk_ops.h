/* hk_ops.h — pregon-hooks' operations endpoint: GET /metrics (hk_metrics' text, and the
 * endpoint's own counters), /healthz (the main loop turns) and /readyz (the link to pregond is
 * up and the provider modules are loaded), served by pg_ops on a loopback port of its own
 * (ops.listen / --ops-listen), apart from the public webhook listener, which answers 404 for
 * /metrics: a port facing the internet does not hand out operational data.
 *
 * The main thread owns it: it polls hk_ops_fd() (through the descriptor hk_link_step watches)
 * and calls hk_ops_turn() every turn. hk_metrics' counters are atomic, so the render reads them
 * from here while the HTTP threads count. */
#ifndef HK_OPS_H
#define HK_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hk_link.h"
#include "hk_metrics.h"

typedef struct hk_ops hk_ops_t;

typedef struct {
    const char *listen;    /* "127.0.0.1:9465"; port 0 = any */
    bool allow_public;     /* false: a loopback host only */
    hk_metrics_t *metrics; /* borrowed */
    const hk_link_t *link; /* borrowed: hk_link_up is readiness */
    size_t modules;        /* provider modules serving routes (0: not ready) */
    unsigned stall_ms;     /* /healthz fails when the loop has not turned for this long; 0 =
                            * pg_ops' 15 s (the loop sleeps up to a heartbeat: give it more) */
} hk_ops_config_t;

/* Starts serving. NULL with a reason in err (a bad or non-loopback address, a port in use). */
hk_ops_t *hk_ops_new(const hk_ops_config_t *cfg, char *err, size_t errlen);
/* Stops and frees; accepts NULL and nulls the caller's pointer. */
void hk_ops_destroy(hk_ops_t **self_p);

uint16_t hk_ops_port(const hk_ops_t *self);
/* Readable when a scrape waits for a text. */
int hk_ops_fd(const hk_ops_t *self);

/* One turn of the main loop: liveness, readiness (handed over when it changes), and a fresh
 * text when a scrape waits. */
void hk_ops_turn(hk_ops_t *self);

/* The readiness rule: true, or false with the reason in why. */
bool hk_ops_readiness(bool link_up, size_t modules, char *why, size_t len);

#endif

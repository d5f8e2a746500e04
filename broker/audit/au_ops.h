/* au_ops.h — pregon-audit's operations endpoint: GET /metrics (Prometheus text), /healthz (the
 * drain loop turns) and /readyz (Redis answers and the audit lag is under its bound), served by
 * pg_ops on a loopback port of its own (--ops-listen, or audit.ops_listen in pregon.yaml).
 *
 * The drain loop owns every number: it fills an au_ops_state_t (what it knows of Redis and the
 * backlog) and hands it, with the drainer's counters (au_drain_stats), to au_ops_turn every turn
 * and to au_ops_publish when a scrape waits (au_ops_wanted). The readiness rule is pure
 * (au_ops_readiness), unit-tested. One owner: the drain loop; the HTTP thread is pg_ops'. */
#ifndef AU_OPS_H
#define AU_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "au_drain.h"

typedef struct au_ops au_ops_t;

typedef struct {
    const char *listen; /* "127.0.0.1:9466"; port 0 = any */
    bool allow_public;  /* false: a loopback host only */
    int64_t max_lag_ms; /* /readyz fails when the oldest undrained record is older; 0 = unchecked */
    unsigned stall_ms;  /* /healthz fails when the loop has not turned for this long; 0 = pg_ops' */
} au_ops_config_t;

/* What the drain loop knows (plain data, the loop's). */
typedef struct {
    bool redis_up;       /* connected, and the last round trip answered */
    char redis_err[160]; /* why not, when !redis_up */
    bool backlog_known;  /* pending/lag_ms read at least once since connecting */
    uint64_t pending;    /* audit stream entries in Redis, every shard */
    int64_t lag_ms;      /* age of the oldest of them (Redis clock); 0 when none */
    int shards;
    uint64_t drain_errors;     /* rounds that failed (Redis gone, a write refused) */
    uint64_t connect_failures; /* connections or attaches to Redis that failed */
    uint64_t removed;          /* segments removed by retention */
} au_ops_state_t;

/* Starts serving. NULL with a reason in err (a bad or non-loopback address, a port in use). */
au_ops_t *au_ops_new(const au_ops_config_t *cfg, char *err, size_t errlen);
/* Stops and frees; accepts NULL and nulls the caller's pointer. */
void au_ops_destroy(au_ops_t **self_p);

/* The bound port; the descriptor to poll for reading (a scrape waits). */
uint16_t au_ops_port(const au_ops_t *self);
int au_ops_fd(const au_ops_t *self);

/* The loop turned: liveness, and readiness from st (handed to pg_ops when it changes). */
void au_ops_turn(au_ops_t *self, const au_ops_state_t *st);

/* True when a scrape waits for a fresh text (clears the descriptor's readiness). */
bool au_ops_wanted(au_ops_t *self);

/* Renders st and the drainer's counters and answers the waiting scrapes. */
void au_ops_publish(au_ops_t *self, const au_ops_state_t *st, const au_drain_stats_t *ds);

/* The readiness rule: true, or false with the reason in why ("redis: ...", "audit lag 75 s over
 * the bound of 60 s", "audit backlog not read yet"). */
bool au_ops_readiness(const au_ops_state_t *st, int64_t max_lag_ms, char *why, size_t len);

#endif

/* pg_ops.h — the operations endpoint of a process whose state lives in one event loop:
 * GET /metrics (Prometheus text), /healthz (the loop is alive) and /readyz (it can do its work),
 * served on a loopback port of its own, apart from any public listener.
 *
 * The loop owns every counter, so the loop renders: a scrape that arrives asks for a fresh
 * text (the descriptor pg_ops_fd() turns readable), the loop sees pg_ops_wanted() on its next
 * turn, renders, and pg_ops_publish() hands the text over; the waiting request (suspended in
 * libmicrohttpd, holding no thread) is woken and answered with it. A loop too busy to answer
 * within max_wait_ms gets its last text served instead, marked by a header (X-Pregon-Stale:
 * 1), never a hung scrape. /healthz is 200 while the loop turned within stall_ms
 * (pg_ops_alive), else 503 "loop stalled": a wedged process fails its liveness probe. /readyz
 * is 200 "ready", or 503 with the reason the loop last gave (pg_ops_set_ready).
 *
 * Threads: the HTTP server runs its own; every function here except pg_ops_new/destroy may be
 * called from the loop while requests are served. One loop owns the object. */
#ifndef PG_OPS_H
#define PG_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pg_ops pg_ops_t;

typedef struct {
    const char *listen;   /* "127.0.0.1:9464"; port 0 = any */
    bool allow_public;    /* false: only a loopback host (127.0.0.0/8, ::1, localhost) */
    unsigned max_wait_ms; /* how long a scrape waits for a fresh text; 0 = 2000 */
    unsigned stall_ms;    /* /healthz fails when the loop has not turned for this long; 0 =
                           * 15000 */
} pg_ops_config_t;

/* Starts serving. NULL with a reason in err: a bad or non-loopback address, a port in use,
 * out of memory. */
pg_ops_t *pg_ops_new(const pg_ops_config_t *cfg, char *err, size_t errlen);

/* Stops serving (waiting scrapes get the last text) and frees; accepts NULL and nulls the
 * caller's pointer. */
void pg_ops_destroy(pg_ops_t **self_p);

/* The bound port. */
uint16_t pg_ops_port(const pg_ops_t *self);

/* A descriptor to poll for reading: readable when a scrape waits for a text. */
int pg_ops_fd(const pg_ops_t *self);

/* Call when pg_ops_fd() polled readable: clears its readiness and answers true when a scrape
 * waits for a fresh text (render, then pg_ops_publish). (Calling it every turn works too, at
 * the price of a read(2) per turn.) */
bool pg_ops_wanted(pg_ops_t *self);

/* Hands over a rendered text (malloc'd, NUL-terminated; ownership passes; NULL = keep the
 * last) and wakes every scrape waiting since before this call. */
void pg_ops_publish(pg_ops_t *self, char *text, size_t len);

/* The loop turned now (monotonic ms, e.g. pg_ops_mono_ms()). */
void pg_ops_alive(pg_ops_t *self, int64_t mono_ms);

/* Readiness: ready, or not with a short reason (copied; shown by /readyz). */
void pg_ops_set_ready(pg_ops_t *self, bool ready, const char *why);

/* Scrapes served, and those served a stale text (for the process's own metrics). */
uint64_t pg_ops_scrapes(const pg_ops_t *self);
uint64_t pg_ops_stale(const pg_ops_t *self);

/* CLOCK_MONOTONIC in ms, and in µs (for latency histograms). */
int64_t pg_ops_mono_ms(void);
int64_t pg_ops_mono_us(void);

#endif

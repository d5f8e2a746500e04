/* pg_delay.h — a timer thread that runs callbacks after a delay.
 *
 * pg_http uses it to resume suspended MHD connections once their delay (a long poll's next
 * look, a deferred answer) has elapsed, so thousands of waiting requests cost no thread each.
 * Callbacks run on the timer thread, one at a time, and must be short (MHD_resume_connection is).
 * After pg_delay_stop() every pending callback has run (with cancelled = true) and new ones are
 * refused. Thread-safe. */
#ifndef PG_DELAY_H
#define PG_DELAY_H

#include <stdbool.h>

typedef struct pg_delay pg_delay_t;

/* Called once per scheduled entry: after its delay (cancelled = false) or at stop (true). */
typedef void (*pg_delay_fn)(void *arg, bool cancelled);

/* Starts the timer thread. Returns NULL when out of memory or the thread cannot start. */
pg_delay_t *pg_delay_new(void);

/* Stops the thread (see pg_delay_stop) and frees; accepts NULL and nulls the caller's pointer. */
void pg_delay_destroy(pg_delay_t **self_p);

/* Runs fn(arg, false) on the timer thread about delay_ms from now. Returns 0, or -1 when
 * stopped or out of memory (fn is then never called). */
int pg_delay_schedule(pg_delay_t *self, unsigned delay_ms, pg_delay_fn fn, void *arg);

/* Runs every pending callback now with cancelled = true, refuses new entries, joins the thread.
 * Idempotent. Must not be called from a callback. */
void pg_delay_stop(pg_delay_t *self);

/* Number of entries waiting. */
unsigned pg_delay_pending(pg_delay_t *self);

#endif

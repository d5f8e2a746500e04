/* sb_delay.h — a timer thread that runs callbacks after a delay.
 *
 * The server uses it to resume suspended MHD connections once their simulated latency (or a
 * simulated timeout) has elapsed, so thousands of delayed answers cost no thread each. Callbacks
 * run on the timer thread, one at a time, and must be short (MHD_resume_connection is).
 * After sb_delay_stop() every pending callback has run (with cancelled = true) and new ones are
 * refused. Thread-safe. */
#ifndef SB_DELAY_H
#define SB_DELAY_H

#include <stdbool.h>

typedef struct sb_delay sb_delay_t;

/* Called once per scheduled entry: after its delay (cancelled = false) or at stop (true). */
typedef void (*sb_delay_fn)(void *arg, bool cancelled);

/* Starts the timer thread. Returns NULL when out of memory or the thread cannot start. */
sb_delay_t *sb_delay_new(void);

/* Stops the thread (see sb_delay_stop) and frees; accepts NULL and nulls the caller's pointer. */
void sb_delay_destroy(sb_delay_t **self_p);

/* Runs fn(arg, false) on the timer thread about delay_ms from now. Returns 0, or -1 when
 * stopped or out of memory (fn is then never called). */
int sb_delay_schedule(sb_delay_t *self, unsigned delay_ms, sb_delay_fn fn, void *arg);

/* Runs every pending callback now with cancelled = true, refuses new entries, joins the thread.
 * Idempotent. Must not be called from a callback. */
void sb_delay_stop(sb_delay_t *self);

/* Number of entries waiting. */
unsigned sb_delay_pending(sb_delay_t *self);

#endif

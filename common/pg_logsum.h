/* pg_logsum.h — rate-limited logging of events that can come by the thousand (a job FAILED, a
 * retry, a bad frame, a library's repeated complaint), on top of pg_log.
 *
 * Events are grouped by a key ("jobs FAILED"). The first `burst` events of a key in a window
 * of `interval_ms` are logged one by one; the rest are counted, and when the window closes
 * one summary line says how many were folded and repeats the last one:
 *     "1,204 more jobs FAILED in the last 10 s; last: job j77 FAILED: 21211 invalid To"
 * (pg_log adds the timestamp and the program name). A window opens at the first event of a key
 * and closes `interval_ms` later, at the first pg_logsum_tick or event after that; a key that
 * stays quiet costs nothing. No threads and no timers: the process's event loop calls
 * pg_logsum_tick (its return value is a poll timeout). Not thread-safe: one owner, or a lock
 * around every call. */
#ifndef PG_LOGSUM_H
#define PG_LOGSUM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pg_logsum pg_logsum_t;

typedef struct {
    int64_t interval_ms;          /* window length; 0 = 10000 */
    unsigned burst;               /* events of one key logged one by one per window; 0 = 3 */
    unsigned max_keys;            /* keys with an open window at once; 0 = 32. Events of a key that
                                   * finds no free slot share one more slot, keyed "other events" */
    int64_t (*now_ms)(void *ctx); /* clock, Unix or monotonic ms; NULL = pg_log_now_ms */
    void *clock_ctx;
} pg_logsum_config_t;

/* Longest key kept (bytes); longer keys are cut, so two keys differing only past it share one
 * slot. */
#define PG_LOGSUM_KEY_MAX 63
/* Longest "last:" text kept in a summary (bytes, before pg_log escapes it). */
#define PG_LOGSUM_LAST_MAX 255

/* New summariser; `config` is copied (NULL: all defaults). Returns NULL on allocation failure
 * or a negative interval. */
pg_logsum_t *pg_logsum_new(const pg_logsum_config_t *config);

/* Logs the summaries still pending (pg_logsum_flush), then frees. Accepts NULL; nulls the
 * caller's pointer. */
void pg_logsum_destroy(pg_logsum_t **self_p);

/* Records one event of `key` (copied; e.g. "jobs FAILED", a plural noun phrase: it reads
 * "N more <key> in the last ..."). The printf-formatted message is logged with pg_log if the
 * key has not used its burst in the current window; otherwise it is counted and kept as the
 * summary's "last:". First closes the key's window if it is over. Returns true when the message
 * was logged now, false when it was folded. */
bool pg_logsum_event(pg_logsum_t *self, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Closes every window that is over, logging one summary line for each that folded events.
 * Call it from the event loop at least once per interval. Returns the milliseconds until the
 * next still-open window is over (> 0), or -1 when no window is open. */
int64_t pg_logsum_tick(pg_logsum_t *self);

/* Closes every open window now, logging the summaries of those that folded events (e.g. at
 * exit). */
void pg_logsum_flush(pg_logsum_t *self);

#endif

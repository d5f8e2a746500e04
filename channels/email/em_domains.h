/* em_domains.h — the e-mail worker's per-domain bookkeeping: warm-up of sending domains,
 * limits and backoff of receiving domains.
 *
 * Sending domain (the From address's): a new domain is warmed up with a daily volume schedule,
 * `initial` messages on its first day (its start date), doubling every day up to `ceiling`.
 * Today's count is kept in a state file (JSON, written whole and renamed into place on every
 * change) so that a restarted worker does not start the day again. Days are UTC days.
 * Receiving domain (the recipient's, lowercased): at most `concurrency` messages in flight and
 * `per_minute` started per minute (a token bucket with 10 s of burst), and a backoff after a
 * 421/451 of that domain (exponential, base..cap, doubled per consecutive deferral, cleared by a
 * success) that holds back that domain only.
 * No clock, no I/O beyond the state file: every call takes the caller's wall time in ms. Not
 * thread-safe (one worker loop). */
#ifndef EM_DOMAINS_H
#define EM_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct em_domains em_domains_t;

/* Why a message may not start now. */
typedef enum {
    EM_GO = 0,         /* start it: counted (warm-up, in flight, token) until em_domains_done */
    EM_WARMUP_FULL,    /* its sending domain sent today's allowance: *retry_at = next UTC day */
    EM_DOMAIN_BACKOFF, /* its receiving domain deferred us: *retry_at = end of the backoff */
    EM_DOMAIN_BUSY,    /* its receiving domain has `concurrency` messages in flight */
    EM_DOMAIN_RATE,    /* its receiving domain's per-minute budget is spent */
} em_verdict_t;

/* "go", "warmup-full", "domain-backoff", "domain-busy", "domain-rate". */
const char *em_verdict_name(em_verdict_t v);

/* The warm-up allowance of `day` (1 = the start day; < 1 reads as 1): min(ceiling,
 * initial * 2^(day - 1)); ceiling <= 0 = no ceiling. */
int64_t em_warmup_allowance(int64_t initial, int64_t ceiling, int64_t day);

/* A new table. state_path: the warm-up counts' file (read now when it exists; NULL = kept in
 * memory only). backoff_base_ms/cap_ms: a receiving domain's deferral backoff. Returns NULL
 * with a reason in err (a state file that does not parse, out of memory). */
em_domains_t *em_domains_new(const char *state_path, int64_t backoff_base_ms,
                             int64_t backoff_cap_ms, char *err, size_t err_len);
/* Frees it; accepts NULL; nulls the caller's pointer. */
void em_domains_destroy(em_domains_t **self_p);

/* Warms up sending domain `domain` from UTC day `start_day` (days since the epoch) with the
 * schedule (initial, ceiling). Returns 0, or -1 (out of memory, bad values). */
int em_domains_warmup(em_domains_t *self, const char *domain, int64_t start_day, int64_t initial,
                      int64_t ceiling);
/* Limits receiving domain `domain` ("*" = every domain without its own line): per_minute <= 0
 * and concurrency <= 0 mean unlimited. Returns 0 or -1. */
int em_domains_limit(em_domains_t *self, const char *domain, double per_minute, int concurrency);

/* May a message from `from_domain` to `to_domain` start at now_ms? EM_GO counts it (today's
 * warm-up count, saved; the receiving domain's in-flight count and token); anything else sets
 * *retry_at_ms (wall ms) to when to ask again. */
em_verdict_t em_domains_take(em_domains_t *self, const char *from_domain, const char *to_domain,
                             int64_t now_ms, int64_t *retry_at_ms);
/* The message em_domains_take let go is over. refund: nothing was accepted by the relay (a
 * retry, a halt): it gives its warm-up count back. */
void em_domains_done(em_domains_t *self, const char *from_domain, const char *to_domain,
                     bool refund, int64_t now_ms);
/* `to_domain` deferred a message (421/451): backs it off; returns the backoff in ms (never
 * less than min_ms). */
int64_t em_domains_deferred(em_domains_t *self, const char *to_domain, int64_t min_ms,
                            int64_t now_ms);
/* `to_domain` accepted a message: its backoff level is cleared. */
void em_domains_accepted(em_domains_t *self, const char *to_domain);

/* Today's warm-up count and allowance of `domain` (-1 allowance: not warmed up). */
void em_domains_today(em_domains_t *self, const char *domain, int64_t now_ms, int64_t *count,
                      int64_t *allowance);

/* The error of the last state-file write ("" = none since the last call; the string is the
 * table's). A count that could not be saved is still kept in memory. */
const char *em_domains_save_error(em_domains_t *self);

#endif

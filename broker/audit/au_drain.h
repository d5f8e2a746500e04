/* au_drain.h — pregon-audit's work: every shard's audit stream (P:{sN}:audit) drained into
 * the segment files, at least once and written once.
 *
 * Per shard, one consumer group ("pregon-audit") and one consumer read the stream in id order
 * (XREADGROUP; after a start, first the entries delivered before and never acknowledged, from
 * id 0). A batch is appended to the shard's chain (au_seg: duplicates of what a killed process
 * wrote are skipped by stream id), written with its seal and fsync'd, indexed, and only then
 * acknowledged (XACK) and trimmed from Redis (XTRIM MINID: everything up to the batch's last
 * id). So a record is in a durable segment or still in Redis, never lost, never written twice.
 * A content record's body (field "body", named by its SHA-256 in "content") is kept once per
 * distinct content under DIR/content/ and leaves the line. Retention removes whole expired
 * segments, oldest first, each removal a signed record in the shard's chain. Every Redis call
 * names one key (one slot). Uses a borrowed hiredis context; errors returned (au_drain_strerror),
 * what happens reported through the `note` callback. */
#ifndef AU_DRAIN_H
#define AU_DRAIN_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "au_chain.h"
#include "au_index.h"
#include "pg_prom.h"
#include "st_keys.h"

/* Retention: days a segment is kept after its day, per jurisdiction; a segment goes when every
 * jurisdiction it holds allows (the longest wins). */
typedef struct {
    int default_days;
    int n;
    struct {
        char jurisdiction[32];
        int days;
    } over[64];
} au_retention_t;

/* The least retention a jurisdiction of the presets may be given (days): 2 years, what Chile
 * requires of every collection action, the strictest of deploy/policies. */
#define AU_RETENTION_FLOOR_DAYS 730

/* Parses "JUR=DAYS" into r. A preset jurisdiction (CO CO-strict MX US US-MA PE CL) below the
 * floor is refused. 0 or -1 with err. */
int au_retention_parse(au_retention_t *r, const char *arg, char *err, size_t err_len);
/* The days kept for jurisdiction j ("" or unknown: the default). */
int au_retention_days(const au_retention_t *r, const char *j);

typedef struct {
    const char *dir;            /* the archive */
    const st_keys_t *keys;      /* borrowed: prefix and shards */
    const au_key_t *key;        /* borrowed: signs seals, checkpoints, removals */
    au_index_t *index;          /* borrowed; NULL: no index */
    int batch;                  /* entries per read and shard (default 1000) */
    int64_t close_grace_ms;     /* a day's segment closes this long after the day (default 2000) */
    const au_retention_t *keep; /* NULL: nothing is ever removed */
    void (*note)(void *ctx, const char *line); /* what happened, one line (may be NULL) */
    int kill_after; /* tests only: SIGKILL itself after this many batches written and not yet
                     * acknowledged (the one window a random kill rarely hits); 0: never */
    void *note_ctx;
} au_drain_opts_t;

typedef struct au_drain au_drain_t;

/* Opens every shard's writer (recovering heads) and catches the index up. NULL with err. */
au_drain_t *au_drain_new(const au_drain_opts_t *opts, char *err, size_t err_len);
void au_drain_destroy(au_drain_t **self_p);
const char *au_drain_strerror(const au_drain_t *self);

/* Uses c (borrowed) from now on: creates the groups that are missing (XGROUP CREATE ... 0
 * MKSTREAM) and starts again from the entries delivered and not acknowledged. 0 or -1. */
int au_drain_attach(au_drain_t *self, redisContext *c);

/* One pass over every shard: at most `batch` entries each. *drained: records written.
 * Closes the segments of days that are over (Redis TIME) once their shard is drained.
 * 0, or -1: Redis failed (attach again) or a write failed (stop: nothing unsafe was acked). */
int au_drain_round(au_drain_t *self, uint64_t *drained);

/* Removes expired segments (opts.keep) as of now_ms. *removed counts them. 0 or -1. */
int au_drain_retention(au_drain_t *self, int64_t now_ms, int *removed);

/* The backlog still in Redis: *pending entries over every shard's stream (read or not, not yet
 * acknowledged and trimmed), *oldest_ms the id time of the oldest of them (-1: none), *now_ms
 * Redis' clock (TIME). One pipelined round trip (XINFO STREAM per shard: its length and first
 * entry, one key each). 0, or -1: Redis failed (attach again) or refused (an error reply). */
int au_drain_backlog(au_drain_t *self, uint64_t *pending, int64_t *oldest_ms, int64_t *now_ms);

/* Counters since creation. A closed day is verified at once, on a thread of its own (au_verify,
 * the signing key's own public half): `verified` segments checked, `verify_failures` checks that
 * found a problem or could not read the archive (each named through `note`, from that thread).
 * redis_seconds: every round trip; index_seconds: one batch's index inserts. */
typedef struct {
    uint64_t written, duplicates, acked, batches, closed, contents;
    uint64_t verified, verify_failures, index_failures;
    pg_prom_hist_t redis_seconds, index_seconds;
} au_drain_stats_t;
void au_drain_stats(const au_drain_t *self, au_drain_stats_t *out);

#endif

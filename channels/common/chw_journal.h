/* chw_journal.h — a worker process's local journal: which jobs it started and what it reported.
 *
 * Before a job's HTTP request may go out, the worker appends "started LEASE"; when it reports
 * the job, "done LEASE" with the packed DeliveryReport; once the broker acknowledges the report
 * (or the report needs no re-sending), "forget LEASE". Appends are buffered and written together
 * by chw_journal_commit (one write and one fdatasync per call: the worker calls it once per loop
 * turn, never per job). A process restarted after kill -9 opens the journal and finds, per
 * lease: started and never done (the request may have gone out: UNKNOWN), done and not
 * acknowledged (the report is sent again), and the previous process's incarnation (the broker
 * hands back every other lease that process held: never started).
 *
 * File format: records "u32 length, u32 CRC-32 of the body, body", little-endian; the body is
 * a type byte and its fields. A record cut by a crash (short, or a checksum that does not match)
 * ends the journal: it and anything after it are ignored and truncated away. The file is
 * rewritten (temporary file, fdatasync, rename, directory fsync) when it is opened by a new
 * process and when most of its records are about forgotten leases (compaction).
 *
 * No clock; file writes go through chw_journal_io_t (tests inject failures). Not thread-safe.
 * The journal owns its entries; strings and report bytes it returns are borrowed until the next
 * call that changes the journal. */
#ifndef CHW_JOURNAL_H
#define CHW_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct chw_journal chw_journal_t;

/* Error codes (negative; 0 is success). */
typedef enum {
    CHW_J_OK = 0,
    CHW_J_ERR_IO = -1, /* open, read, write, fdatasync or rename failed (errno in *sys_errno) */
    CHW_J_ERR_NOMEM = -2,
    CHW_J_ERR_ARG = -3,   /* a lease id or report too long, or a bad argument */
    CHW_J_ERR_LOCKED = -4 /* another process holds the journal (flock) */
} chw_j_err_t;

/* Static text for a chw_j_err_t. */
const char *chw_journal_strerror(int err);

/* The file operations the journal uses; NULL members (or a NULL io) mean write(2), fdatasync(2)
 * and rename(2). A write may be partial: the journal loops. */
typedef struct {
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
    int (*sync)(void *ctx, int fd);
    int (*rename)(void *ctx, const char *from, const char *to);
    void *ctx;
} chw_journal_io_t;

/* Where a lease stands. */
typedef enum {
    CHW_J_STARTED = 1, /* its request may have gone out; no report yet */
    CHW_J_DONE = 2,    /* reported; the broker has not acknowledged it */
} chw_j_state_t;

typedef struct {
    const char *lease_id, *job_id, *tenant; /* borrowed */
    int64_t expires_ms;                     /* the lease's expiry (wall ms), 0 = unknown */
    chw_j_state_t state;
    const uint8_t *report; /* CHW_J_DONE: the packed DeliveryReport; else NULL */
    size_t report_len;
    bool replayed;   /* found in the file at open: left by a previous process */
    uint64_t seq;    /* the caller's: the report's number when last sent (0 = not sent) */
    int64_t sent_ms; /* the caller's: when it was last sent */
} chw_journal_entry_t;

/* Longest lease id, job id and tenant kept (longer: CHW_J_ERR_ARG), and the largest report. */
#define CHW_J_ID_MAX     1024
#define CHW_J_REPORT_MAX 8192

/* Opens (creating it 0600 if absent) and reads the journal at `path`, taking an exclusive
 * flock on it. Entries left by a previous process are kept with replayed = true, and its
 * incarnation copied into prev_incarnation (prev_len bytes, "" if none). Then the file is
 * rewritten with those entries under `incarnation` (this process's): a later restart hands
 * back the leases of this process, and re-reports the entries kept. `compact_records`: rewrite
 * when the file holds more records than this and fewer than a quarter of them are live entries
 * (0 = 4096). *torn (if not NULL) is set when a torn or corrupt tail was dropped.
 * Returns NULL on failure with *err a chw_j_err_t and *sys_errno the errno (if not NULL). */
chw_journal_t *chw_journal_open(const char *path, const char *incarnation,
                                const chw_journal_io_t *io, size_t compact_records,
                                char *prev_incarnation, size_t prev_len, bool *torn, int *err,
                                int *sys_errno);

/* Closes the file (what was appended and not committed is lost, as with kill -9); accepts
 * NULL; nulls the caller's pointer. */
void chw_journal_close(chw_journal_t **self_p);

/* Appends "started" for `lease_id` (copied). Returns CHW_J_OK or an error. */
int chw_journal_start(chw_journal_t *self, const char *lease_id, const char *job_id,
                      const char *tenant, int64_t expires_ms);

/* Appends "done" with the packed report (copied) for `lease_id`, started or not. */
int chw_journal_done(chw_journal_t *self, const char *lease_id, const uint8_t *report,
                     size_t report_len);

/* Appends "forget" for `lease_id` and drops its entry (unknown leases are ignored). */
int chw_journal_forget(chw_journal_t *self, const char *lease_id);

/* Forgets the entry whose seq is `seq` (the broker acknowledged that report); false if none. */
bool chw_journal_ack(chw_journal_t *self, uint64_t seq);

/* Writes what was appended since the last commit with one write and one fdatasync, then
 * compacts the file if it is mostly forgotten records. Nothing appended: nothing written.
 * On failure the appended records stay buffered (a later commit retries them). */
int chw_journal_commit(chw_journal_t *self, int *sys_errno);

/* True when records wait for chw_journal_commit. */
bool chw_journal_dirty(const chw_journal_t *self);

/* Live entries, and the i-th (i < count). Order unspecified; a forget or ack moves the last
 * entry into the place it frees (a loop that forgets entry i looks at i again). */
size_t chw_journal_count(const chw_journal_t *self);
chw_journal_entry_t *chw_journal_get(chw_journal_t *self, size_t i);

/* The entry of `lease_id`, or NULL. */
chw_journal_entry_t *chw_journal_find(chw_journal_t *self, const char *lease_id);

/* Records written to the file since it was last rewritten, and rewrites so far (tests). */
size_t chw_journal_file_records(const chw_journal_t *self);
size_t chw_journal_rewrites(const chw_journal_t *self);

#endif

/* rl_history.h — a debtor's contact history as stored in Redis: compact text records.
 *
 * One record per dispatched attempt, "AT,CH,FLAGS,DEBT,JOB;" with AT in Unix seconds, CH the
 * channel number, FLAGS the RL_REC_* bits, DEBT and JOB 32-bit hashes in hex (a hash collision
 * only ever makes a cap stricter). Two modules know the format, one on each side: this one
 * (decodes for the decision, encodes the text admission commits after its version check) and
 * store/pregon.lua's hist_edit (marks a job's record delivered or failed, drops it when the
 * worker skipped the job), which bumps the version so deciders read the history again. */
#ifndef RL_HISTORY_H
#define RL_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "rl_decide.h"

/* Longest encoded record, including the terminating ';'. */
#define RL_HISTORY_RECORD_MAX 48

/* 32-bit reference of a job id, as stored in history records (never 0). */
uint32_t rl_job_ref(const char *tenant, const char *job_id);

/* Decodes `len` bytes of history text into out[0..cap) and refs[0..cap) (refs may be NULL).
 * Returns the number of records, or -1 if the text is malformed. Records beyond cap are
 * dropped, oldest first (the text is in chronological order). */
int rl_history_decode(const char *text, size_t len, rl_contact_t *out, uint32_t *refs, size_t cap);

/* Encodes records out of `recs` (and `refs`) that are not older than `keep_from` into buf.
 * Returns the encoded length, or -1 if buf_len is too small. buf is NUL-terminated. */
int rl_history_encode(const rl_contact_t *recs, const uint32_t *refs, size_t n, int64_t keep_from,
                      char *buf, size_t buf_len);

#endif

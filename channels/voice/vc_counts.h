/* vc_counts.h — pregon-voice's calls per caller id today, kept in a file so that a restarted
 * worker does not start every number's daily cap again from zero (a carrier that flags a
 * number for volume counts the calls it made, not the worker's restarts).
 *
 * The file (--counts-state, default $STATE_DIRECTORY/voice-counts.json) is one JSON object,
 * {"day": D, "counts": {TENANT: {CAMPAIGN: {"+5716010001": 37, ...}}}}, D the UTC day (days
 * since the epoch) the counts are of, a count per pool (a number two tenants share has a cap in
 * each); it is rewritten whole after every counted call, into FILE.PID.tmp, fsynced, then
 * renamed over FILE, so a crash leaves the old file or the new one, never a short one. Counts of
 * another day than today are not loaded (caps are per UTC day). No clock here: callers pass
 * the time. */
#ifndef VC_COUNTS_H
#define VC_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "vc_pool.h"

/* Reads path into the pool's counts for the day of now_ms. 0 (a missing file is a first start:
 * 0), or -1 with err for a file that exists and does not read: the worker must not start as if
 * no call had been made. */
int vc_counts_load(vc_pool_t *pool, const char *path, int64_t now_ms, char *err, size_t err_len);

/* Writes the pool's counts of the day of now_ms to path (atomically). 0, or -1 with err. */
int vc_counts_save(const vc_pool_t *pool, const char *path, int64_t now_ms, char *err,
                   size_t err_len);

#endif

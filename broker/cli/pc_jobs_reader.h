/* pc_jobs_reader.h — reads a file of jobs, JSON Lines or CSV, as one JSON object per job.
 *
 * JSON Lines: one object per line, pregon.proto's field names. CSV (RFC 4180, parsed by
 * libcsv): a header row of the same field names; `var.NAME` columns become the `variables`
 * object, `alt_time_zones` and `fallback_channels` are lists separated by '|', `priority` is a
 * number; empty cells are left out. Streaming: memory does not grow with the file. */
#ifndef PC_JOBS_READER_H
#define PC_JOBS_READER_H

#include <jansson.h>
#include <stdio.h>

typedef struct pc_jobs_reader pc_jobs_reader_t;

/* Reads from `in` (borrowed; not closed). csv: 1 for CSV, 0 for JSON Lines. */
pc_jobs_reader_t *pc_jobs_reader_new(FILE *in, int csv);
void pc_jobs_reader_destroy(pc_jobs_reader_t **self_p);

/* The next job: returns 1 with *job (the caller owns the reference), 0 at the end, or -1 for a
 * record that is not a job, with *err (valid until the next call) saying why. *lineno is the
 * line (JSON Lines) or record (CSV, the header being record 1) the result came from. Blank
 * JSON lines are skipped. */
int pc_jobs_reader_next(pc_jobs_reader_t *self, json_t **job, long *lineno, const char **err);

#endif

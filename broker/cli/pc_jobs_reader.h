/* pc_jobs_reader.h — reads a file of jobs, JSON Lines or CSV, as one JSON object per job.
 *
 * Files as people have them: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8"
 * writes one); anything else that is not UTF-8 (Excel's plain "CSV" in a Western locale is
 * Windows-1252) is refused at the first bad line, naming it and the iconv command that
 * converts it. The format is the caller's, or chosen by the name's extension in any case
 * (.csv .tsv: CSV; .jsonl .ndjson .json: JSON Lines), or else by content (a first line that
 * starts with '{' is JSON Lines).
 *
 * JSON Lines: one object per line, pregon.proto's field names; blank lines and lines starting
 * with '#' (after blanks) are skipped, as in policy-check scenario files. CSV (RFC 4180, parsed
 * by libcsv): the separator is the caller's or the one of ',' ';' TAB the header row holds most
 * of (Spanish-locale Excel writes ';'); a header row of the same field names (surrounding
 * blanks dropped; an unknown column refuses the file, named); `var.NAME` columns become the
 * `variables` object, `fallback.CHANNEL` columns `fallback_contacts`, `segment.NAME` columns
 * the `segment` object; `alt_time_zones` and `fallback_channels` are lists separated by '|',
 * `priority`, `segment.amount_cents` and `segment.days_past_due` numbers,
 * `fallback_on_wrong_number` true/false; empty cells are left out. Streaming: memory does not
 * grow with the file. */
#ifndef PC_JOBS_READER_H
#define PC_JOBS_READER_H

#include <jansson.h>
#include <stdio.h>

typedef struct pc_jobs_reader pc_jobs_reader_t;

typedef enum { PC_JOBS_AUTO = 0, PC_JOBS_JSONL, PC_JOBS_CSV } pc_jobs_format_t;

typedef struct {
    pc_jobs_format_t format; /* PC_JOBS_AUTO: by name, then by content */
    const char *name;        /* the file's name, for its extension and messages (borrowed: it
                              * must outlive the reader); NULL or "-": none */
    char delimiter;          /* CSV separator; 0: detected from the header */
} pc_jobs_options_t;

/* Reads from `in` (borrowed; not closed). NULL when out of memory. */
pc_jobs_reader_t *pc_jobs_reader_new(FILE *in, const pc_jobs_options_t *opt);
void pc_jobs_reader_destroy(pc_jobs_reader_t **self_p);

/* The next job: returns 1 with *job (the caller owns the reference), 0 at the end, -1 for a
 * record that is not a job (the next call goes on with the next record), or -2 when the input
 * is refused (not UTF-8, a bad CSV header, broken CSV quoting: nothing more is read); *err
 * (valid until the next call) says why. *lineno is the line the result came from (CSV: the
 * line its record starts on; 1 is the header, when it is the first line). */
int pc_jobs_reader_next(pc_jobs_reader_t *self, json_t **job, long *lineno, const char **err);

/* What was read: "csv" or "jsonl" ("" before the format is known), and the CSV separator. */
const char *pc_jobs_reader_format(const pc_jobs_reader_t *self);
char pc_jobs_reader_delimiter(const pc_jobs_reader_t *self);

#endif

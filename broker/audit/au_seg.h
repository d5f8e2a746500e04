/* au_seg.h — the audit archive's segment files: where they are, how one shard's chain is
 * appended to, and how lines are read back.
 *
 * Layout: DIR/sN/YYYY-MM-DD.jsonl, one file per shard N and UTC day (the day of the record's
 * Redis stream id), JSON Lines (au_chain.h). A writer (au_seg_t) owns one shard's chain: it
 * finds the chain's head in the newest segment when opened (a torn last line, written by a
 * process killed mid-write, is cut off: nothing after the last complete line was ever
 * acknowledged), buffers the lines of a batch, and au_seg_commit writes them followed by a
 * signed seal in one write(2), then fsync(2)s: only then may the caller acknowledge. A record of
 * a later day closes the open segment with a signed checkpoint (count, last hash, the previous
 * checkpoint's hash) before the next segment starts. Records whose stream id is not after the
 * head's are duplicates (re-delivered after a crash): au_seg_add skips them. */
#ifndef AU_SEG_H
#define AU_SEG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "au_chain.h"

/* Where a line went: its segment (shard, day), byte offset and length (no newline). */
typedef struct {
    int shard, day;
    uint64_t off;
    uint32_t len;
    uint64_t seq;
} au_loc_t;

/* One shard's chain head. */
typedef struct {
    uint64_t seq;              /* the last line's (0: none yet) */
    char hash[AU_HASH_HEX];    /* the last line's hash (AU_GENESIS before the first) */
    char cp_hash[AU_HASH_HEX]; /* the last checkpoint's hash (AU_GENESIS: none) */
    uint64_t id_ms, id_seq;    /* the last stream id written (0-0: none) */
    int day;                   /* the open segment's day, -1: none open */
    uint64_t count;            /* records in the open segment */
    uint64_t first_seq;        /* the open segment's first line */
    int unsigned_tail;         /* lines after the last signed one (a crash between them) */
} au_head_t;

typedef struct au_seg au_seg_t;

/* Days since 1970-01-01 of a time in ms; a day's "YYYY-MM-DD"; the day of such a text (-1 if
 * it is not one). */
int au_day_of_ms(int64_t ms);
void au_day_name(int day, char out[11]);
int au_day_parse(const char *s);

/* DIR/sN/DAY.jsonl into buf. */
void au_seg_path(const char *dir, int shard, int day, char *buf, size_t len);

/* Content evidence: DIR/content/HH/HASH.json, the body whose SHA-256 is HASH (HH its first two
 * digits), written once (au_content_put: to a temporary name, fsync'd, renamed; an existing one
 * is left as it is). 0 or -1. */
void au_content_path(const char *dir, const char *hash, char *buf, size_t len);
int au_content_put(const char *dir, const char *hash, const char *body, size_t len);

/* The days of shard's segments, oldest first (*days malloc'd, caller frees); the shards
 * present in dir, ascending. 0 or -1. */
int au_seg_days(const char *dir, int shard, int **days, size_t *n);
int au_seg_shards(const char *dir, int **shards, size_t *n);

/* Opens shard's writer on dir (created if missing), signing with key (borrowed; outlives the
 * writer). Recovers the head as above. NULL with err. */
au_seg_t *au_seg_open(const char *dir, int shard, const au_key_t *key, char *err, size_t err_len);
void au_seg_destroy(au_seg_t **self_p);
const au_head_t *au_seg_head(const au_seg_t *self);
const char *au_seg_strerror(const au_seg_t *self);

/* Parses a stream id "MS-SEQ". 0 or -1. */
int au_stream_id(const char *id, uint64_t *ms, uint64_t *seq);

/* Appends record `fields` (members copied after seq prev sh id) with stream id `id` to the
 * buffered batch, in the segment of the id's day (closing the open one first when the day
 * changed: that checkpoint is written and fsync'd at once). *loc (may be NULL) says where it will
 * be. Returns 0, 1 (a duplicate: skipped) or -1 (err). */
int au_seg_add(au_seg_t *self, const char *id, json_t *fields, au_loc_t *loc);

/* Appends a signed line made of `o`'s members after seq prev sh (a removal record) to the open
 * segment, or to a new one of `day` when none is open. 0 or -1. */
int au_seg_add_signed(au_seg_t *self, int day, json_t *o, au_loc_t *loc);

/* Writes the buffered lines and a seal, fsyncs. Nothing to write and no unsigned tail: nothing
 * is done. 0 or -1 (then nothing of the batch may be acknowledged; the writer must be
 * reopened). */
int au_seg_commit(au_seg_t *self);

/* Closes the open segment with its checkpoint (a day that is over), fsync'd. 0 or -1. */
int au_seg_close(au_seg_t *self);

/* Reading lines with their offsets. A last line without its newline is `partial` (a write in
 * progress or torn): readers that verify ignore it. */
typedef struct {
    FILE *f;
    char *line;
    size_t cap;
    size_t len;
    uint64_t off, next;
    int partial;
} au_lines_t;
int au_lines_open(au_lines_t *r, const char *path);
/* 1: a line in r->line (NUL-terminated, no newline), 0: end, -1: read error. */
int au_lines_next(au_lines_t *r);
void au_lines_close(au_lines_t *r);

#endif

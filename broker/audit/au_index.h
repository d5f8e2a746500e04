/* au_index.h — the SQLite index of the audit archive, for queries: which records (segment,
 * offset, length) belong to a tenant's debtor, debt, campaign, contact point, channel, rule or
 * time range. The segments are the evidence; the index only points into them, and is rebuilt
 * from them when missing or behind (au_index_catch_up, `pregon-audit reindex`). Records are
 * read back through au_fetch (pread, a few files kept open). Uses SQLite (libsqlite3); errors
 * are returned, with au_index_strerror. */
#ifndef AU_INDEX_H
#define AU_INDEX_H

#include <stdint.h>

#include <jansson.h>

#include "au_seg.h"

typedef struct au_index au_index_t;

/* Opens (creating its tables when writable) the index at path. NULL with err. */
au_index_t *au_index_open(const char *path, int writable, char *err, size_t err_len);
void au_index_destroy(au_index_t **self_p);
const char *au_index_strerror(const au_index_t *self);

/* A write transaction around many au_index_add. 0 or -1. */
int au_index_begin(au_index_t *self);
int au_index_commit(au_index_t *self);

/* Indexes record rec (a segment line, parsed) at loc. Seals, checkpoints and removal records
 * are not indexed. 0 or -1. */
int au_index_add(au_index_t *self, const au_loc_t *loc, json_t *rec);

/* The last indexed line of shard (0 and -1: none). 0 or -1. */
int au_index_last(au_index_t *self, int shard, uint64_t *seq, int *day);

/* Indexes what shard's segments in dir hold after the index's last line of that shard; *added
 * (may be NULL) counts the records. 0 or -1. */
int au_index_catch_up(au_index_t *self, const char *dir, int shard, uint64_t *added);

/* Forgets everything and indexes every segment of dir again. 0 or -1. */
int au_index_rebuild(au_index_t *self, const char *dir, uint64_t *added);

/* Forgets the records of one segment (removed by retention). 0 or -1. */
int au_index_drop_segment(au_index_t *self, int shard, int day);

/* A query: NULL or "" fields and 0 times are not filters. [from_ms, to_ms) on the record's
 * "at". Rows come in time order (then shard, seq). */
typedef struct {
    const char *tenant, *debtor, *debt, *campaign, *contact, *channel, *rule;
    int64_t from_ms, to_ms;
} au_query_t;

/* Calls cb for every matching record until it returns non-zero (which is returned). -1 on an
 * SQLite error. */
int au_index_each(au_index_t *self, const au_query_t *q, int (*cb)(void *ctx, const au_loc_t *loc),
                  void *ctx);
/* How many records match, or -1. */
long long au_index_count(au_index_t *self, const au_query_t *q);

/* Counts by day, kind ("to"), channel, jurisdiction and rule, in that order. */
typedef struct {
    int day;
    const char *kind, *channel, *jurisdiction, *rule;
    long long n;
} au_stat_t;
int au_index_stats(au_index_t *self, const au_query_t *q,
                   int (*cb)(void *ctx, const au_stat_t *row), void *ctx);

/* Reading lines back from the segments of dir. */
typedef struct au_fetch au_fetch_t;
au_fetch_t *au_fetch_new(const char *dir);
void au_fetch_destroy(au_fetch_t **self_p);
/* The line at loc into a buffer the fetcher owns (valid until the next call), NUL-terminated.
 * NULL when the file or bytes are gone. */
const char *au_fetch_line(au_fetch_t *self, const au_loc_t *loc);

#endif

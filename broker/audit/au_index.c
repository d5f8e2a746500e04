/* au_index.c — the archive's SQLite index (see au_index.h): one row per record, pointing at its
 * segment line, with the columns queries filter on. The table is WITHOUT ROWID keyed by (shard,
 * seq); secondary indexes serve the debtor, debt, campaign, contact, channel, rule and time
 * queries. WAL, synchronous=NORMAL: the index is derived data, rebuilt from the segments. */
#include "au_index.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

struct au_index {
    sqlite3 *db;
    sqlite3_stmt *ins;
    char err[1024];
};

static const char S_SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA cache_size=-65536;"
    "CREATE TABLE IF NOT EXISTS rec(shard INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " day INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL, at INTEGER NOT NULL,"
    " tenant TEXT, debtor TEXT, debt TEXT, campaign TEXT, contact TEXT, channel TEXT,"
    " rule TEXT, kind TEXT, jurisdiction TEXT, job TEXT, PRIMARY KEY(shard, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rec_debtor ON rec(tenant, debtor, at);"
    "CREATE INDEX IF NOT EXISTS rec_debt ON rec(tenant, debt, at);"
    "CREATE INDEX IF NOT EXISTS rec_campaign ON rec(tenant, campaign, at);"
    "CREATE INDEX IF NOT EXISTS rec_contact ON rec(contact, at);"
    "CREATE INDEX IF NOT EXISTS rec_channel ON rec(channel, at);"
    "CREATE INDEX IF NOT EXISTS rec_rule ON rec(rule, at);"
    "CREATE INDEX IF NOT EXISTS rec_at ON rec(at);";

static int s_err(au_index_t *self, const char *what) {
    snprintf(self->err, sizeof self->err, "%s: %s", what, sqlite3_errmsg(self->db));
    return -1;
}

au_index_t *au_index_open(const char *path, int writable, char *err, size_t err_len) {
    au_index_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path, &self->db, flags, NULL) != SQLITE_OK ||
        (writable && sqlite3_exec(self->db, S_SCHEMA, NULL, NULL, NULL) != SQLITE_OK) ||
        (writable &&
         sqlite3_prepare_v2(self->db,
                            "INSERT OR REPLACE INTO rec VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            -1, &self->ins, NULL) != SQLITE_OK)) {
        snprintf(err, err_len, "%s: %s", path, self->db ? sqlite3_errmsg(self->db) : "no memory");
        au_index_destroy(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, 5000);
    return self;
}

void au_index_destroy(au_index_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sqlite3_finalize((*self_p)->ins);
    sqlite3_close((*self_p)->db);
    free(*self_p);
    *self_p = NULL;
}

const char *au_index_strerror(const au_index_t *self) {
    return self->err;
}

int au_index_begin(au_index_t *self) {
    return sqlite3_exec(self->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0
                                                                          : s_err(self, "BEGIN");
}

int au_index_commit(au_index_t *self) {
    return sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0
                                                                           : s_err(self, "COMMIT");
}

static void s_bind_text(sqlite3_stmt *st, int i, json_t *rec, const char *name) {
    const char *v = json_string_value(json_object_get(rec, name));
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

int au_index_add(au_index_t *self, const au_loc_t *loc, json_t *rec) {
    if (json_object_get(rec, "kind"))
        return 0;
    const char *at_s = json_string_value(json_object_get(rec, "at"));
    long long at = at_s ? atoll(at_s) : 0;
    if (!at) { /* the stream id's instant */
        const char *id = json_string_value(json_object_get(rec, "id"));
        at = id ? atoll(id) : 0;
    }
    sqlite3_stmt *st = self->ins;
    sqlite3_reset(st);
    sqlite3_bind_int(st, 1, loc->shard);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)loc->seq);
    sqlite3_bind_int(st, 3, loc->day);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)loc->off);
    sqlite3_bind_int(st, 5, (int)loc->len);
    sqlite3_bind_int64(st, 6, at);
    static const char *cols[] = {"tenant",  "debtor", "debt", "campaign",     "contact",
                                 "channel", "rule",   "to",   "jurisdiction", "job"};
    for (int i = 0; i < 10; i++)
        s_bind_text(st, 7 + i, rec, cols[i]);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : s_err(self, "INSERT");
}

int au_index_last(au_index_t *self, int shard, uint64_t *seq, int *day) {
    sqlite3_stmt *st;
    *seq = 0;
    *day = -1;
    if (sqlite3_prepare_v2(self->db,
                           "SELECT seq, day FROM rec WHERE shard=? ORDER BY seq DESC LIMIT 1", -1,
                           &st, NULL) != SQLITE_OK)
        return s_err(self, "SELECT last");
    sqlite3_bind_int(st, 1, shard);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
        *day = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Indexes the lines of one segment with seq > after. */
static int s_index_file(au_index_t *self, const char *dir, int shard, int day, uint64_t after,
                        uint64_t *added) {
    char path[640];
    au_seg_path(dir, shard, day, path, sizeof path);
    au_lines_t r;
    if (au_lines_open(&r, path) < 0) {
        snprintf(self->err, sizeof self->err, "%s: cannot open", path);
        return -1;
    }
    int rc = 0, got;
    while ((got = au_lines_next(&r)) == 1 && !r.partial) {
        json_t *o = json_loadb(r.line, r.len, 0, NULL);
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
        if (o && seq > after && !json_object_get(o, "kind")) {
            au_loc_t loc = {shard, day, r.off, (uint32_t)r.len, seq};
            rc = au_index_add(self, &loc, o);
            if (added && rc == 0)
                (*added)++;
        }
        json_decref(o);
        if (rc < 0)
            break;
    }
    au_lines_close(&r);
    return got < 0 ? -1 : rc;
}

int au_index_catch_up(au_index_t *self, const char *dir, int shard, uint64_t *added) {
    uint64_t last;
    int last_day;
    if (au_index_last(self, shard, &last, &last_day) < 0)
        return -1;
    int *days = NULL;
    size_t n = 0;
    if (au_seg_days(dir, shard, &days, &n) < 0) {
        snprintf(self->err, sizeof self->err, "%s: cannot list shard %d", dir, shard);
        return -1;
    }
    int rc = au_index_begin(self);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (days[i] >= last_day)
            rc = s_index_file(self, dir, shard, days[i], last, added);
    free(days);
    if (rc == 0)
        return au_index_commit(self);
    sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int au_index_rebuild(au_index_t *self, const char *dir, uint64_t *added) {
    if (sqlite3_exec(self->db, "DELETE FROM rec", NULL, NULL, NULL) != SQLITE_OK)
        return s_err(self, "DELETE");
    int *shards = NULL;
    size_t n = 0;
    if (au_seg_shards(dir, &shards, &n) < 0) {
        snprintf(self->err, sizeof self->err, "%s: cannot list", dir);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = au_index_catch_up(self, dir, shards[i], added);
    free(shards);
    return rc;
}

int au_index_drop_segment(au_index_t *self, int shard, int day) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(self->db, "DELETE FROM rec WHERE shard=? AND day=?", -1, &st, NULL) !=
        SQLITE_OK)
        return s_err(self, "DELETE segment");
    sqlite3_bind_int(st, 1, shard);
    sqlite3_bind_int(st, 2, day);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : s_err(self, "DELETE segment");
    sqlite3_finalize(st);
    return rc;
}

/* The WHERE clause of q into sql; binds follow the same order (s_bind). */
static void s_where(const au_query_t *q, char *sql, size_t len) {
    const char *names[] = {"tenant", "debtor", "debt", "campaign", "contact", "channel", "rule"};
    const char *vals[] = {q->tenant,  q->debtor,  q->debt, q->campaign,
                          q->contact, q->channel, q->rule};
    size_t at = strlen(sql);
    const char *sep = " WHERE ";
    for (int i = 0; i < 7; i++)
        if (vals[i] && *vals[i]) {
            at += (size_t)snprintf(sql + at, len - at, "%s%s=?", sep, names[i]);
            sep = " AND ";
        }
    if (q->from_ms)
        at += (size_t)snprintf(sql + at, len - at, "%sat>=?", sep), sep = " AND ";
    if (q->to_ms)
        snprintf(sql + at, len - at, "%sat<?", sep);
}

static void s_bind(sqlite3_stmt *st, const au_query_t *q) {
    const char *vals[] = {q->tenant,  q->debtor,  q->debt, q->campaign,
                          q->contact, q->channel, q->rule};
    int i = 1;
    for (int k = 0; k < 7; k++)
        if (vals[k] && *vals[k])
            sqlite3_bind_text(st, i++, vals[k], -1, SQLITE_STATIC);
    if (q->from_ms)
        sqlite3_bind_int64(st, i++, q->from_ms);
    if (q->to_ms)
        sqlite3_bind_int64(st, i++, q->to_ms);
}

int au_index_each(au_index_t *self, const au_query_t *q, int (*cb)(void *ctx, const au_loc_t *loc),
                  void *ctx) {
    char sql[1024] = "SELECT shard, day, off, len, seq FROM rec";
    s_where(q, sql, sizeof sql);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " ORDER BY at, shard, seq");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return s_err(self, "SELECT");
    s_bind(st, q);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        au_loc_t loc = {sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                        (uint64_t)sqlite3_column_int64(st, 2), (uint32_t)sqlite3_column_int(st, 3),
                        (uint64_t)sqlite3_column_int64(st, 4)};
        if ((rc = cb(ctx, &loc)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = s_err(self, "SELECT");
    sqlite3_finalize(st);
    return rc;
}

long long au_index_count(au_index_t *self, const au_query_t *q) {
    char sql[1024] = "SELECT count(*) FROM rec";
    s_where(q, sql, sizeof sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return s_err(self, "SELECT count");
    s_bind(st, q);
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

int au_index_stats(au_index_t *self, const au_query_t *q,
                   int (*cb)(void *ctx, const au_stat_t *row), void *ctx) {
    char sql[1024] = "SELECT at / 86400000, kind, channel, jurisdiction, rule, count(*) FROM rec";
    s_where(q, sql, sizeof sql);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
             " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return s_err(self, "SELECT stats");
    s_bind(st, q);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        au_stat_t row = {sqlite3_column_int(st, 0),
                         (const char *)sqlite3_column_text(st, 1),
                         (const char *)sqlite3_column_text(st, 2),
                         (const char *)sqlite3_column_text(st, 3),
                         (const char *)sqlite3_column_text(st, 4),
                         sqlite3_column_int64(st, 5)};
        if ((rc = cb(ctx, &row)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = s_err(self, "SELECT stats");
    sqlite3_finalize(st);
    return rc;
}

/* --- reading lines back ------------------------------------------------------------------- */

#define S_FDS 16
struct au_fetch {
    char dir[480];
    struct {
        int shard, day, fd;
        unsigned long used;
    } fds[S_FDS];
    unsigned long tick;
    char *buf;
    size_t cap;
};

au_fetch_t *au_fetch_new(const char *dir) {
    au_fetch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    for (int i = 0; i < S_FDS; i++)
        self->fds[i].fd = -1;
    return self;
}

void au_fetch_destroy(au_fetch_t **self_p) {
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < S_FDS; i++)
        if ((*self_p)->fds[i].fd >= 0)
            close((*self_p)->fds[i].fd);
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

static int s_fd(au_fetch_t *self, int shard, int day) {
    int lru = 0;
    for (int i = 0; i < S_FDS; i++) {
        if (self->fds[i].fd >= 0 && self->fds[i].shard == shard && self->fds[i].day == day) {
            self->fds[i].used = ++self->tick;
            return self->fds[i].fd;
        }
        if (self->fds[i].used < self->fds[lru].used)
            lru = i;
    }
    char path[640];
    au_seg_path(self->dir, shard, day, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (self->fds[lru].fd >= 0)
        close(self->fds[lru].fd);
    self->fds[lru].fd = fd;
    self->fds[lru].shard = shard;
    self->fds[lru].day = day;
    self->fds[lru].used = ++self->tick;
    return fd;
}

const char *au_fetch_line(au_fetch_t *self, const au_loc_t *loc) {
    int fd = s_fd(self, loc->shard, loc->day);
    if (fd < 0)
        return NULL;
    if (self->cap < (size_t)loc->len + 1) {
        char *b = realloc(self->buf, (size_t)loc->len + 1);
        if (!b)
            return NULL;
        self->buf = b;
        self->cap = (size_t)loc->len + 1;
    }
    ssize_t n = pread(fd, self->buf, loc->len, (off_t)loc->off);
    if (n != (ssize_t)loc->len)
        return NULL;
    self->buf[n] = '\0';
    return self->buf;
}

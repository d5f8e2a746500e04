/* chw_journal.c — the worker's local journal (see chw_journal.h for the contract and format).
 *
 * Appends go to an in-memory buffer that chw_journal_commit writes with one write() and one
 * fdatasync(); live entries are an array searched linearly (a worker holds its credit's worth
 * of started jobs plus the reports waiting for an acknowledgement: hundreds, not millions).
 * Reading the file stops at the first record whose length or CRC-32 is wrong: the tail a
 * kill -9 cut mid-write. Rewriting (at open and on compaction) writes the live entries to
 * PATH.tmp, syncs it, renames it over PATH and syncs the directory. */
#include "chw_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_HEADER      8 /* u32 length, u32 crc */
#define S_BODY_MAX    (16 + 3 * (2 + CHW_J_ID_MAX) + 4 + CHW_J_REPORT_MAX)
#define S_COMPACT_DEF 4096

enum { S_T_INCARNATION = 'I', S_T_START = 'S', S_T_DONE = 'D', S_T_FORGET = 'F' };

typedef struct {
    chw_journal_entry_t pub;
    char *lease_id, *job_id, *tenant;
    uint8_t *report;
    bool started;
} s_entry_t;

struct chw_journal {
    char *path, *tmp_path;
    int fd;
    chw_journal_io_t io;
    char incarnation[64];
    s_entry_t *entries;
    size_t n, cap;
    uint8_t *buf; /* records not yet written */
    size_t len, buf_cap;
    size_t pending_records; /* in buf */
    size_t file_records, rewrites, compact_records;
};

const char *chw_journal_strerror(int err) {
    switch (err) {
        case CHW_J_OK:
            return "success";
        case CHW_J_ERR_IO:
            return "journal file I/O failed";
        case CHW_J_ERR_NOMEM:
            return "out of memory";
        case CHW_J_ERR_ARG:
            return "lease id, job id or report too long for the journal";
        case CHW_J_ERR_LOCKED:
            return "the journal is locked by another process (same worker id running?)";
        default:
            return "unknown journal error";
    }
}

/* --- CRC-32 (IEEE 802.3, reflected 0xEDB88320): a checksum, not a format --- */

static uint32_t s_crc_table[256];

static void s_crc_init(void) {
    if (s_crc_table[1])
        return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        s_crc_table[i] = c;
    }
}

static uint32_t s_crc32(const uint8_t *p, size_t len) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
        c = s_crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* --- default file operations --- */

static ssize_t s_write(void *ctx, int fd, const void *buf, size_t len) {
    (void)ctx;
    return write(fd, buf, len);
}

static int s_sync(void *ctx, int fd) {
    (void)ctx;
    return fdatasync(fd);
}

static int s_rename(void *ctx, const char *from, const char *to) {
    (void)ctx;
    return rename(from, to);
}

static int s_write_all(chw_journal_t *self, int fd, const uint8_t *p, size_t len) {
    while (len) {
        ssize_t w = self->io.write(self->io.ctx, fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* --- record encoding --- */

typedef struct {
    uint8_t b[S_BODY_MAX];
    size_t len;
} s_body_t;

static void s_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void s_put_str(s_body_t *b, const char *s) {
    size_t n = s ? strlen(s) : 0; /* callers checked n <= CHW_J_ID_MAX */
    b->b[b->len++] = (uint8_t)(n & 0xFF);
    b->b[b->len++] = (uint8_t)(n >> 8);
    memcpy(b->b + b->len, s ? s : "", n);
    b->len += n;
}

static void s_put_i64(s_body_t *b, int64_t v) {
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        b->b[b->len++] = (uint8_t)(u >> (8 * i));
}

/* Appends a framed record for `body` to `buf`. */
static int s_frame(uint8_t **buf, size_t *len, size_t *cap, const s_body_t *body) {
    size_t need = *len + S_HEADER + body->len;
    if (need > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < need)
            c *= 2;
        uint8_t *nb = realloc(*buf, c);
        if (!nb)
            return CHW_J_ERR_NOMEM;
        *buf = nb;
        *cap = c;
    }
    s_put_u32(*buf + *len, (uint32_t)body->len);
    s_put_u32(*buf + *len + 4, s_crc32(body->b, body->len));
    memcpy(*buf + *len + S_HEADER, body->b, body->len);
    *len = need;
    return CHW_J_OK;
}

static void s_body_start(s_body_t *b, const s_entry_t *e) {
    b->len = 0;
    b->b[b->len++] = S_T_START;
    s_put_str(b, e->lease_id);
    s_put_str(b, e->job_id);
    s_put_str(b, e->tenant);
    s_put_i64(b, e->pub.expires_ms);
}

static void s_body_done(s_body_t *b, const char *lease, const uint8_t *report, size_t len) {
    b->len = 0;
    b->b[b->len++] = S_T_DONE;
    s_put_str(b, lease);
    s_put_u32(b->b + b->len, (uint32_t)len);
    b->len += 4;
    memcpy(b->b + b->len, report, len);
    b->len += len;
}

static void s_body_str(s_body_t *b, int type, const char *s) {
    b->len = 0;
    b->b[b->len++] = (uint8_t)type;
    s_put_str(b, s);
}

/* --- entries --- */

static s_entry_t *s_find(chw_journal_t *self, const char *lease) {
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->entries[i].lease_id, lease) == 0)
            return &self->entries[i];
    return NULL;
}

static void s_entry_free(s_entry_t *e) {
    free(e->lease_id);
    free(e->job_id);
    free(e->tenant);
    free(e->report);
}

static void s_remove(chw_journal_t *self, s_entry_t *e) {
    s_entry_free(e);
    *e = self->entries[--self->n];
}

static void s_sync_pub(s_entry_t *e) {
    e->pub.lease_id = e->lease_id;
    e->pub.job_id = e->job_id ? e->job_id : "";
    e->pub.tenant = e->tenant ? e->tenant : "";
    e->pub.report = e->report;
}

static s_entry_t *s_add(chw_journal_t *self, const char *lease) {
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        s_entry_t *ne = realloc(self->entries, cap * sizeof *ne);
        if (!ne)
            return NULL;
        self->entries = ne;
        self->cap = cap;
    }
    s_entry_t *e = &self->entries[self->n];
    memset(e, 0, sizeof *e);
    e->lease_id = strdup(lease);
    if (!e->lease_id)
        return NULL;
    self->n++;
    s_sync_pub(e);
    return e;
}

static int s_set_start(s_entry_t *e, const char *job, const char *tenant, int64_t expires) {
    char *j = strdup(job ? job : ""), *t = strdup(tenant ? tenant : "");
    if (!j || !t) {
        free(j);
        free(t);
        return CHW_J_ERR_NOMEM;
    }
    free(e->job_id);
    free(e->tenant);
    e->job_id = j;
    e->tenant = t;
    e->pub.expires_ms = expires;
    e->started = true;
    if (e->pub.state != CHW_J_DONE)
        e->pub.state = CHW_J_STARTED;
    s_sync_pub(e);
    return CHW_J_OK;
}

static int s_set_done(s_entry_t *e, const uint8_t *report, size_t len) {
    uint8_t *r = malloc(len ? len : 1);
    if (!r)
        return CHW_J_ERR_NOMEM;
    memcpy(r, report, len);
    free(e->report);
    e->report = r;
    e->pub.report_len = len;
    e->pub.state = CHW_J_DONE;
    s_sync_pub(e);
    return CHW_J_OK;
}

/* --- reading --- */

static bool s_get_str(const uint8_t *b, size_t len, size_t *off, char *out) {
    if (*off + 2 > len)
        return false;
    size_t n = (size_t)b[*off] | (size_t)b[*off + 1] << 8;
    *off += 2;
    if (n > CHW_J_ID_MAX || *off + n > len)
        return false;
    memcpy(out, b + *off, n);
    out[n] = '\0';
    *off += n;
    return memchr(out, '\0', n) == NULL;
}

/* Applies one record body; false if it does not parse (treated as the torn tail). */
static bool s_apply(chw_journal_t *self, const uint8_t *b, size_t len, char *prev,
                    size_t prev_len) {
    static char lease[CHW_J_ID_MAX + 1], job[CHW_J_ID_MAX + 1], tenant[CHW_J_ID_MAX + 1];
    size_t off = 1;
    if (len < 1 || !s_get_str(b, len, &off, lease))
        return false;
    s_entry_t *e = s_find(self, lease);
    switch (b[0]) {
        case S_T_INCARNATION:
            if (prev && prev_len)
                snprintf(prev, prev_len, "%s", lease);
            return off == len;
        case S_T_START: {
            if (!s_get_str(b, len, &off, job) || !s_get_str(b, len, &off, tenant) || off + 8 != len)
                return false;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++)
                u |= (uint64_t)b[off + i] << (8 * i);
            if (!e && !(e = s_add(self, lease)))
                return false;
            return s_set_start(e, job, tenant, (int64_t)u) == CHW_J_OK;
        }
        case S_T_DONE: {
            if (off + 4 > len)
                return false;
            size_t n = s_get_u32(b + off);
            off += 4;
            if (n > CHW_J_REPORT_MAX || off + n != len)
                return false;
            if (!e && !(e = s_add(self, lease)))
                return false;
            return s_set_done(e, b + off, n) == CHW_J_OK;
        }
        case S_T_FORGET:
            if (e)
                s_remove(self, e);
            return off == len;
        default:
            return false;
    }
}

/* Reads every whole record of fd; *torn when bytes after the last good record were dropped. */
static int s_read_all(chw_journal_t *self, int fd, char *prev, size_t prev_len, bool *torn) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return CHW_J_ERR_IO;
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data)
        return CHW_J_ERR_NOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, data + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    size_t off = 0;
    while (off + S_HEADER <= got) {
        size_t len = s_get_u32(data + off);
        if (len == 0 || len > S_BODY_MAX || off + S_HEADER + len > got ||
            s_crc32(data + off + S_HEADER, len) != s_get_u32(data + off + 4) ||
            !s_apply(self, data + off + S_HEADER, len, prev, prev_len))
            break;
        off += S_HEADER + len;
    }
    *torn = off != got;
    free(data);
    return CHW_J_OK;
}

/* --- writing --- */

/* Rewrites the file: this incarnation, then every live entry; the buffer must be empty. */
static int s_rewrite(chw_journal_t *self, int *sys_errno) {
    uint8_t *out = NULL;
    size_t len = 0, cap = 0, records = 0;
    static s_body_t body;
    int rc = CHW_J_OK;
    s_body_str(&body, S_T_INCARNATION, self->incarnation);
    rc = s_frame(&out, &len, &cap, &body);
    records++;
    for (size_t i = 0; rc == CHW_J_OK && i < self->n; i++) {
        const s_entry_t *e = &self->entries[i];
        if (e->started) {
            s_body_start(&body, e);
            rc = s_frame(&out, &len, &cap, &body);
            records++;
        }
        if (rc == CHW_J_OK && e->pub.state == CHW_J_DONE) {
            s_body_done(&body, e->lease_id, e->report, e->pub.report_len);
            rc = s_frame(&out, &len, &cap, &body);
            records++;
        }
    }
    if (rc != CHW_J_OK) {
        free(out);
        return rc;
    }
    int fd = open(self->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || s_write_all(self, fd, out, len) != 0 || self->io.sync(self->io.ctx, fd) != 0 ||
        self->io.rename(self->io.ctx, self->tmp_path, self->path) != 0) {
        if (sys_errno)
            *sys_errno = errno;
        if (fd >= 0)
            close(fd);
        unlink(self->tmp_path);
        free(out);
        return CHW_J_ERR_IO;
    }
    free(out);
    /* The renamed file is the journal now: lock it, append to it, sync its directory. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || lseek(fd, 0, SEEK_END) < 0) {
        if (sys_errno)
            *sys_errno = errno;
        close(fd);
        return CHW_J_ERR_IO;
    }
    char *dcopy = strdup(self->path);
    if (dcopy) {
        int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dcopy);
    }
    if (self->fd >= 0)
        close(self->fd);
    self->fd = fd;
    self->file_records = records;
    self->rewrites++;
    return CHW_J_OK;
}

static int s_append(chw_journal_t *self, const s_body_t *body) {
    int rc = s_frame(&self->buf, &self->len, &self->buf_cap, body);
    if (rc == CHW_J_OK)
        self->pending_records++;
    return rc;
}

/* --- public --- */

chw_journal_t *chw_journal_open(const char *path, const char *incarnation,
                                const chw_journal_io_t *io, size_t compact_records,
                                char *prev_incarnation, size_t prev_len, bool *torn, int *err,
                                int *sys_errno) {
    int e_dummy, s_dummy;
    bool t_dummy;
    err = err ? err : &e_dummy;
    sys_errno = sys_errno ? sys_errno : &s_dummy;
    torn = torn ? torn : &t_dummy;
    *err = CHW_J_ERR_ARG;
    *sys_errno = 0;
    *torn = false;
    if (prev_incarnation && prev_len)
        prev_incarnation[0] = '\0';
    if (!path || !*path || !incarnation || strlen(incarnation) >= 64)
        return NULL;
    s_crc_init();
    *err = CHW_J_ERR_NOMEM;
    chw_journal_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->io.write = io && io->write ? io->write : s_write;
    self->io.sync = io && io->sync ? io->sync : s_sync;
    self->io.rename = io && io->rename ? io->rename : s_rename;
    self->io.ctx = io ? io->ctx : NULL;
    self->compact_records = compact_records ? compact_records : S_COMPACT_DEF;
    snprintf(self->incarnation, sizeof self->incarnation, "%s", incarnation);
    self->path = strdup(path);
    size_t tl = strlen(path) + 5;
    self->tmp_path = malloc(tl);
    if (!self->path || !self->tmp_path)
        goto fail;
    snprintf(self->tmp_path, tl, "%s.tmp", path);

    *err = CHW_J_ERR_IO;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        *sys_errno = errno;
        goto fail;
    }
    self->fd = fd;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        *sys_errno = errno;
        *err = errno == EWOULDBLOCK ? CHW_J_ERR_LOCKED : CHW_J_ERR_IO;
        goto fail;
    }
    *err = s_read_all(self, fd, prev_incarnation, prev_len, torn);
    if (*err != CHW_J_OK) {
        *sys_errno = errno;
        goto fail;
    }
    for (size_t i = 0; i < self->n; i++)
        self->entries[i].pub.replayed = true;
    *err = s_rewrite(self, sys_errno);
    if (*err != CHW_J_OK)
        goto fail;
    *err = CHW_J_OK;
    return self;
fail:
    chw_journal_close(&self);
    return NULL;
}

void chw_journal_close(chw_journal_t **self_p) {
    if (!self_p || !*self_p)
        return;
    chw_journal_t *self = *self_p;
    if (self->fd >= 0)
        close(self->fd);
    for (size_t i = 0; i < self->n; i++)
        s_entry_free(&self->entries[i]);
    free(self->entries);
    free(self->buf);
    free(self->path);
    free(self->tmp_path);
    free(self);
    *self_p = NULL;
}

static bool s_id_ok(const char *s) {
    return !s || strlen(s) <= CHW_J_ID_MAX;
}

int chw_journal_start(chw_journal_t *self, const char *lease_id, const char *job_id,
                      const char *tenant, int64_t expires_ms) {
    if (!lease_id || !*lease_id || !s_id_ok(lease_id) || !s_id_ok(job_id) || !s_id_ok(tenant))
        return CHW_J_ERR_ARG;
    s_entry_t *e = s_find(self, lease_id);
    if (!e && !(e = s_add(self, lease_id)))
        return CHW_J_ERR_NOMEM;
    int rc = s_set_start(e, job_id, tenant, expires_ms);
    if (rc != CHW_J_OK)
        return rc;
    static s_body_t body;
    s_body_start(&body, e);
    return s_append(self, &body);
}

int chw_journal_done(chw_journal_t *self, const char *lease_id, const uint8_t *report,
                     size_t report_len) {
    if (!lease_id || !*lease_id || !s_id_ok(lease_id) || report_len > CHW_J_REPORT_MAX)
        return CHW_J_ERR_ARG;
    s_entry_t *e = s_find(self, lease_id);
    if (!e && !(e = s_add(self, lease_id)))
        return CHW_J_ERR_NOMEM;
    int rc = s_set_done(e, report, report_len);
    if (rc != CHW_J_OK)
        return rc;
    static s_body_t body;
    s_body_done(&body, lease_id, report, report_len);
    return s_append(self, &body);
}

int chw_journal_forget(chw_journal_t *self, const char *lease_id) {
    if (!lease_id || !s_id_ok(lease_id))
        return CHW_J_ERR_ARG;
    s_entry_t *e = s_find(self, lease_id);
    if (!e)
        return CHW_J_OK;
    static s_body_t body;
    s_body_str(&body, S_T_FORGET, lease_id);
    int rc = s_append(self, &body);
    s_remove(self, e);
    return rc;
}

bool chw_journal_ack(chw_journal_t *self, uint64_t seq) {
    if (!seq)
        return false;
    for (size_t i = 0; i < self->n; i++)
        if (self->entries[i].pub.seq == seq && self->entries[i].pub.state == CHW_J_DONE) {
            chw_journal_forget(self, self->entries[i].lease_id);
            return true;
        }
    return false;
}

int chw_journal_commit(chw_journal_t *self, int *sys_errno) {
    if (self->len == 0)
        return CHW_J_OK;
    if (s_write_all(self, self->fd, self->buf, self->len) != 0 ||
        self->io.sync(self->io.ctx, self->fd) != 0) {
        if (sys_errno)
            *sys_errno = errno;
        /* Part of the buffer may be in the file: a rewrite makes the file whole again, and
         * keeps every entry (what was in the buffer is in the entries already). */
        self->len = 0;
        self->pending_records = 0;
        s_rewrite(self, NULL);
        return CHW_J_ERR_IO;
    }
    self->file_records += self->pending_records;
    self->len = 0;
    self->pending_records = 0;
    if (self->file_records > self->compact_records && self->n * 4 < self->file_records)
        return s_rewrite(self, sys_errno);
    return CHW_J_OK;
}

bool chw_journal_dirty(const chw_journal_t *self) {
    return self->len != 0;
}

size_t chw_journal_count(const chw_journal_t *self) {
    return self->n;
}

chw_journal_entry_t *chw_journal_get(chw_journal_t *self, size_t i) {
    return i < self->n ? &self->entries[i].pub : NULL;
}

chw_journal_entry_t *chw_journal_find(chw_journal_t *self, const char *lease_id) {
    s_entry_t *e = lease_id ? s_find(self, lease_id) : NULL;
    return e ? &e->pub : NULL;
}

size_t chw_journal_file_records(const chw_journal_t *self) {
    return self->file_records;
}

size_t chw_journal_rewrites(const chw_journal_t *self) {
    return self->rewrites;
}

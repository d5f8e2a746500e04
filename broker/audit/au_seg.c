/* au_seg.c — one shard's segment files: recovery of the chain's head, appends, seals and
 * checkpoints (see au_seg.h). A batch's lines are composed in memory ("seq","prev","sh","id"
 * then the record's members, compact JSON) and reach the file in one write(2) with their seal;
 * fsync(2) follows, and the directory is fsync'd when a segment is created. */
#include "au_seg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_TAIL_WINDOW (4u << 20) /* bytes read back to find the last seal when opening */

struct au_seg {
    char dir[480];
    char shard_dir[512];
    int shard;
    const au_key_t *key; /* borrowed */
    char key_id[AU_KEY_ID];
    au_head_t h;
    int fd;        /* the open segment, -1 none */
    uint64_t size; /* its bytes on disk */
    char *buf;     /* lines not written yet */
    size_t len, cap;
    uint64_t pending; /* records in buf */
    char err[1024];
};

/* --- days --------------------------------------------------------------------------------- */

int au_day_of_ms(int64_t ms) {
    int64_t d = ms / 86400000;
    if (ms < 0 && ms % 86400000)
        d--;
    return (int)d;
}

void au_day_name(int day, char out[11]) {
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

int au_day_parse(const char *s) {
    int y, m, d;
    char tail;
    if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31)
        return -1;
    /* days_from_civil (H. Hinnant) */
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void au_seg_path(const char *dir, int shard, int day, char *buf, size_t len) {
    char name[11];
    au_day_name(day, name);
    snprintf(buf, len, "%s/s%d/%s.jsonl", dir, shard, name);
}

void au_content_path(const char *dir, const char *hash, char *buf, size_t len) {
    snprintf(buf, len, "%s/content/%.2s/%s.json", dir, hash, hash);
}

static int s_fsync_dir(const char *path);

int au_content_put(const char *dir, const char *hash, const char *body, size_t len) {
    char path[640], tmp[660], sub[600];
    au_content_path(dir, hash, path, sizeof path);
    if (access(path, F_OK) == 0)
        return 0;
    snprintf(sub, sizeof sub, "%s/content", dir);
    mkdir(sub, 0750);
    snprintf(sub, sizeof sub, "%s/content/%.2s", dir, hash);
    mkdir(sub, 0750);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, body + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    int rc = done == len && fsync(fd) == 0 ? 0 : -1;
    close(fd);
    if (rc == 0)
        rc = rename(tmp, path) == 0 && s_fsync_dir(sub) == 0 ? 0 : -1;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int s_cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Entries of path matching the filter, as ints, sorted. */
static int s_list(const char *path, int (*pick)(const char *name), int **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int v = pick(e->d_name);
        if (v == INT32_MIN)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int *g = realloc(*out, cap * sizeof *g);
            if (!g) {
                closedir(d);
                return -1;
            }
            *out = g;
        }
        (*out)[(*n)++] = v;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, s_cmp_int);
    return 0;
}

static int s_pick_day(const char *name) {
    size_t l = strlen(name);
    if (l != 16 || strcmp(name + 10, ".jsonl") != 0)
        return INT32_MIN;
    char d[11];
    memcpy(d, name, 10);
    d[10] = '\0';
    int v = au_day_parse(d);
    return v < 0 && strcmp(d, "1970-01-01") != 0 ? INT32_MIN : v;
}

static int s_pick_shard(const char *name) {
    char *end;
    if (name[0] != 's' || name[1] < '0' || name[1] > '9')
        return INT32_MIN;
    long v = strtol(name + 1, &end, 10);
    return *end || v < 0 || v > 1 << 20 ? INT32_MIN : (int)v;
}

int au_seg_days(const char *dir, int shard, int **days, size_t *n) {
    char p[600];
    snprintf(p, sizeof p, "%s/s%d", dir, shard);
    return s_list(p, s_pick_day, days, n);
}

int au_seg_shards(const char *dir, int **shards, size_t *n) {
    return s_list(dir, s_pick_shard, shards, n);
}

int au_stream_id(const char *id, uint64_t *ms, uint64_t *seq) {
    char *end;
    errno = 0;
    unsigned long long a = strtoull(id, &end, 10);
    if (end == id || *end != '-' || errno)
        return -1;
    const char *s = end + 1;
    unsigned long long b = strtoull(s, &end, 10);
    if (end == s || *end || errno)
        return -1;
    *ms = a;
    *seq = b;
    return 0;
}

/* --- reading lines ------------------------------------------------------------------------ */

int au_lines_open(au_lines_t *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->f = fopen(path, "r");
    return r->f ? 0 : -1;
}

int au_lines_next(au_lines_t *r) {
    r->off = r->next;
    ssize_t n = getline(&r->line, &r->cap, r->f);
    if (n < 0)
        return ferror(r->f) ? -1 : 0;
    r->next += (uint64_t)n;
    r->partial = r->line[n - 1] != '\n';
    if (!r->partial)
        r->line[--n] = '\0';
    r->len = (size_t)n;
    return 1;
}

void au_lines_close(au_lines_t *r) {
    if (r->f)
        fclose(r->f);
    free(r->line);
    memset(r, 0, sizeof *r);
}

/* --- the writer --------------------------------------------------------------------------- */

static int s_fail(au_seg_t *self, const char *what) {
    snprintf(self->err, sizeof self->err, "%s: %s", what, errno ? strerror(errno) : "failed");
    return -1;
}

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* What one line of a segment says about the chain. */
typedef struct {
    uint64_t seq, count;
    char kind[16]; /* "" a record */
    char id[48];   /* a record's id, a seal's or checkpoint's upto */
    char prev[AU_HASH_HEX];
} s_line_t;

static int s_parse(const char *line, size_t len, s_line_t *out) {
    json_t *o = json_loadb(line, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
    out->count = (uint64_t)json_integer_value(json_object_get(o, "count"));
    const char *k = json_string_value(json_object_get(o, "kind"));
    snprintf(out->kind, sizeof out->kind, "%s", k ? k : "");
    const char *id = json_string_value(json_object_get(o, k ? "upto" : "id"));
    snprintf(out->id, sizeof out->id, "%s", id ? id : "");
    const char *p = json_string_value(json_object_get(o, "prev"));
    snprintf(out->prev, sizeof out->prev, "%s", p ? p : AU_GENESIS);
    json_decref(o);
    return 0;
}

/* Cuts a torn last line off path; 0 with *size the length left, or -1. */
static int s_cut_torn(int fd, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -1;
    off_t end = st.st_size;
    char c[4096];
    while (end > 0) {
        off_t from = end > (off_t)sizeof c ? end - (off_t)sizeof c : 0;
        ssize_t n = pread(fd, c, (size_t)(end - from), from);
        if (n <= 0)
            return -1;
        ssize_t i = n - 1;
        while (i >= 0 && c[i] != '\n')
            i--;
        if (i >= 0) {
            end = from + i + 1;
            break;
        }
        end = from;
    }
    if (end != st.st_size && (ftruncate(fd, end) < 0 || fsync(fd) < 0))
        return -1;
    *size = (uint64_t)end;
    return 0;
}

/* Reads the head of the chain from segment `day` (complete lines only, size bytes). 0 or -1. */
static int s_recover(au_seg_t *self, int day, const char *path, uint64_t size) {
    au_lines_t r;
    if (au_lines_open(&r, path) < 0)
        return s_fail(self, path);
    au_head_t *h = &self->h;
    s_line_t l, last_signed = {0}, first;
    int have_signed = 0, have_first = 0;
    uint64_t after_signed = 0, records = 0;
    char first_prev[AU_HASH_HEX] = "";
    uint64_t start = size > S_TAIL_WINDOW ? size - S_TAIL_WINDOW : 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) { /* no seal in the window: read the whole file */
            if (start == 0 || have_signed)
                break;
            start = 0;
        }
        fseeko(r.f, 0, SEEK_SET);
        r.next = 0;
        /* the first line, for the previous checkpoint's hash */
        if (!have_first && au_lines_next(&r) == 1 && s_parse(r.line, r.len, &first) == 0) {
            snprintf(first_prev, sizeof first_prev, "%s", first.prev);
            h->first_seq = first.seq;
            have_first = 1;
        }
        if (start > 0) {
            fseeko(r.f, (off_t)start, SEEK_SET);
            r.next = start;
            au_lines_next(&r); /* a partial line: skipped */
        } else {
            fseeko(r.f, 0, SEEK_SET);
            r.next = 0;
        }
        records = after_signed = 0;
        int rc;
        while ((rc = au_lines_next(&r)) == 1 && r.off < size) {
            if (s_parse(r.line, r.len, &l) < 0) {
                au_lines_close(&r);
                errno = 0;
                snprintf(self->err, sizeof self->err, "%s at byte %" PRIu64 ": not a JSON line",
                         path, r.off);
                return -1;
            }
            if (*l.kind == '\0') {
                records++, after_signed++;
            } else if (strcmp(l.kind, "seal") == 0 || strcmp(l.kind, "checkpoint") == 0) {
                last_signed = l, have_signed = 1, after_signed = 0;
            } /* a removal record is signed but counts nothing */
            h->seq = l.seq;
            au_sha256_hex(r.line, r.len, h->hash);
            if (l.id[0]) {
                uint64_t ms, sq;
                if (au_stream_id(l.id, &ms, &sq) == 0)
                    h->id_ms = ms, h->id_seq = sq;
            }
            h->unsigned_tail = *l.kind == '\0';
            if (strcmp(l.kind, "checkpoint") == 0 && r.next >= size) {
                h->day = -1;
                snprintf(h->cp_hash, sizeof h->cp_hash, "%s", h->hash);
                h->count = 0;
                au_lines_close(&r);
                return 1; /* closed */
            }
        }
        if (rc < 0) {
            au_lines_close(&r);
            return s_fail(self, path);
        }
    }
    au_lines_close(&r);
    h->day = day;
    h->count = have_signed ? last_signed.count + after_signed : records;
    snprintf(h->cp_hash, sizeof h->cp_hash, "%s", first_prev[0] ? first_prev : AU_GENESIS);
    return 0;
}

/* Opens (creating) the segment of `day` for appending; the head is left as it is. */
static int s_open_file(au_seg_t *self, int day) {
    char path[640];
    au_seg_path(self->dir, self->shard, day, path, sizeof path);
    self->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (self->fd < 0)
        return s_fail(self, path);
    struct stat st;
    if (fstat(self->fd, &st) < 0 || s_fsync_dir(self->shard_dir) < 0)
        return s_fail(self, path);
    self->size = (uint64_t)st.st_size;
    self->h.day = day;
    return 0;
}

/* Starts the segment of `day`. */
static int s_open_day(au_seg_t *self, int day) {
    if (s_open_file(self, day) < 0)
        return -1;
    self->h.count = 0;
    self->h.first_seq = self->h.seq + 1;
    return 0;
}

au_seg_t *au_seg_open(const char *dir, int shard, const au_key_t *key, char *err, size_t err_len) {
    au_seg_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    snprintf(self->shard_dir, sizeof self->shard_dir, "%s/s%d", dir, shard);
    self->shard = shard;
    self->key = key;
    self->fd = -1;
    au_key_id(key, self->key_id);
    memcpy(self->h.hash, AU_GENESIS, AU_HASH_HEX);
    memcpy(self->h.cp_hash, AU_GENESIS, AU_HASH_HEX);
    self->h.day = -1;
    if ((mkdir(dir, 0750) < 0 && errno != EEXIST) ||
        (mkdir(self->shard_dir, 0750) < 0 && errno != EEXIST)) {
        snprintf(err, err_len, "%s: %s", self->shard_dir, strerror(errno));
        free(self);
        return NULL;
    }
    int *days = NULL;
    size_t n = 0;
    if (au_seg_days(dir, shard, &days, &n) < 0) {
        snprintf(err, err_len, "%s: cannot list", self->shard_dir);
        free(self);
        return NULL;
    }
    int rc = 0;
    for (size_t i = n; i-- > 0;) {
        char path[640];
        au_seg_path(dir, shard, days[i], path, sizeof path);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        uint64_t size = 0;
        if (fd < 0 || s_cut_torn(fd, &size) < 0) {
            rc = s_fail(self, path);
            if (fd >= 0)
                close(fd);
            break;
        }
        close(fd);
        if (size == 0) { /* created, nothing complete written: as if it never was */
            unlink(path);
            continue;
        }
        rc = s_recover(self, days[i], path, size);
        if (rc == 0) /* open: append to it */
            rc = s_open_file(self, days[i]);
        break;
    }
    free(days);
    if (rc < 0) {
        snprintf(err, err_len, "%s", self->err);
        au_seg_destroy(&self);
        return NULL;
    }
    return self;
}

void au_seg_destroy(au_seg_t **self_p) {
    if (!self_p || !*self_p)
        return;
    au_seg_t *self = *self_p;
    if (self->fd >= 0)
        close(self->fd);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

const au_head_t *au_seg_head(const au_seg_t *self) {
    return &self->h;
}

const char *au_seg_strerror(const au_seg_t *self) {
    return self->err;
}

static int s_reserve(au_seg_t *self, size_t more) {
    if (self->len + more <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap : 1 << 16;
    while (cap < self->len + more)
        cap *= 2;
    char *b = realloc(self->buf, cap);
    if (!b)
        return -1;
    self->buf = b;
    self->cap = cap;
    return 0;
}

/* Appends line (len bytes, no newline) to the batch, chaining it. */
static int s_push(au_seg_t *self, const char *line, size_t len, au_loc_t *loc) {
    if (s_reserve(self, len + 1) < 0)
        return -1;
    if (loc) {
        loc->shard = self->shard;
        loc->day = self->h.day;
        loc->off = self->size + self->len;
        loc->len = (uint32_t)len;
        loc->seq = self->h.seq + 1;
    }
    memcpy(self->buf + self->len, line, len);
    self->buf[self->len + len] = '\n';
    self->len += len + 1;
    self->h.seq++;
    au_sha256_hex(line, len, self->h.hash);
    return 0;
}

/* Writes the buffer and fsyncs. */
static int s_flush(au_seg_t *self) {
    errno = 0;
    for (size_t done = 0; done < self->len;) {
        ssize_t n = write(self->fd, self->buf + done, self->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return s_fail(self, "write");
        done += (size_t)n;
    }
    if (fsync(self->fd) < 0)
        return s_fail(self, "fsync");
    self->size += self->len;
    self->len = 0;
    self->pending = 0;
    return 0;
}

/* The chain's members every line starts with. */
static json_t *s_head_obj(au_seg_t *self) {
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer((json_int_t)self->h.seq + 1));
    json_object_set_new(o, "prev", json_string(self->h.hash));
    json_object_set_new(o, "sh", json_integer(self->shard));
    return o;
}

static void s_upto(const au_seg_t *self, char *buf, size_t len) {
    snprintf(buf, len, "%" PRIu64 "-%" PRIu64, self->h.id_ms, self->h.id_seq);
}

/* Appends the signed line of kind ("seal" or "checkpoint") to the batch. */
static int s_push_signed_kind(au_seg_t *self, const char *kind) {
    char seg[40], day[11], upto[48];
    au_day_name(self->h.day, day);
    snprintf(seg, sizeof seg, "s%d/%s", self->shard, day);
    s_upto(self, upto, sizeof upto);
    json_t *o = s_head_obj(self);
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "segment", json_string(seg));
    json_object_set_new(o, "count", json_integer((json_int_t)self->h.count));
    if (strcmp(kind, "checkpoint") == 0) {
        json_object_set_new(o, "first", json_integer((json_int_t)self->h.first_seq));
        json_object_set_new(o, "last", json_string(self->h.hash));
        json_object_set_new(o, "cpprev", json_string(self->h.cp_hash));
    }
    json_object_set_new(o, "upto", json_string(upto));
    json_object_set_new(o, "key", json_string(self->key_id));
    json_object_set_new(o, "at", json_integer(s_now_ms()));
    char *line = au_sign_line(self->key, o);
    json_decref(o);
    if (!line) {
        errno = 0;
        return s_fail(self, "signing");
    }
    int rc = s_push(self, line, strlen(line), NULL);
    free(line);
    self->h.unsigned_tail = 0;
    return rc;
}

int au_seg_close(au_seg_t *self) {
    if (self->h.day < 0)
        return 0;
    if (s_push_signed_kind(self, "checkpoint") < 0 || s_flush(self) < 0)
        return -1;
    memcpy(self->h.cp_hash, self->h.hash, AU_HASH_HEX);
    close(self->fd);
    self->fd = -1;
    self->h.day = -1;
    self->h.count = 0;
    return 0;
}

int au_seg_add(au_seg_t *self, const char *id, json_t *fields, au_loc_t *loc) {
    uint64_t ms, sq;
    if (au_stream_id(id, &ms, &sq) < 0) {
        errno = 0;
        snprintf(self->err, sizeof self->err, "not a stream id: %.40s", id);
        return -1;
    }
    if (ms < self->h.id_ms || (ms == self->h.id_ms && sq <= self->h.id_seq))
        return 1; /* written before a crash, delivered again */
    int day = au_day_of_ms((int64_t)ms);
    if (self->h.day >= 0 && day != self->h.day && au_seg_close(self) < 0)
        return -1;
    if (self->h.day < 0 && s_open_day(self, day) < 0)
        return -1;
    char *body = json_dumps(fields, JSON_COMPACT);
    if (!body) {
        errno = ENOMEM;
        return s_fail(self, "record");
    }
    size_t blen = strlen(body);
    char pre[256];
    int plen =
        snprintf(pre, sizeof pre, "{\"seq\":%" PRIu64 ",\"prev\":\"%s\",\"sh\":%d,\"id\":\"%s\"%s",
                 self->h.seq + 1, self->h.hash, self->shard, id, blen > 2 ? "," : "");
    char *line = malloc((size_t)plen + blen + 1);
    if (!line) {
        free(body);
        errno = ENOMEM;
        return s_fail(self, "record");
    }
    memcpy(line, pre, (size_t)plen);
    memcpy(line + plen, body + 1, blen - 1); /* the members and the closing brace */
    size_t len = (size_t)plen + blen - 1;
    free(body);
    int rc = s_push(self, line, len, loc);
    free(line);
    if (rc < 0) {
        errno = ENOMEM;
        return s_fail(self, "record");
    }
    self->h.id_ms = ms;
    self->h.id_seq = sq;
    self->h.count++;
    self->pending++;
    self->h.unsigned_tail = 1;
    return 0;
}

int au_seg_add_signed(au_seg_t *self, int day, json_t *o, au_loc_t *loc) {
    if (self->h.day < 0 && s_open_day(self, day) < 0)
        return -1;
    json_t *line_o = s_head_obj(self);
    json_object_update(line_o, o);
    char *line = au_sign_line(self->key, line_o);
    json_decref(line_o);
    if (!line) {
        errno = 0;
        return s_fail(self, "signing");
    }
    int rc = s_push(self, line, strlen(line), loc);
    free(line);
    self->pending++;
    return rc;
}

int au_seg_commit(au_seg_t *self) {
    if (self->h.day < 0) /* closed: its checkpoint was written with it */
        return self->len ? s_flush(self) : 0;
    if (!self->pending && !self->h.unsigned_tail)
        return 0;
    if (s_push_signed_kind(self, "seal") < 0)
        return -1;
    return s_flush(self);
}

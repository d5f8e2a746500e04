/* au_drain.c — draining the audit streams into the archive (see au_drain.h). One round reads
 * each shard once: XREADGROUP, append, commit (write + fsync), index, then XACK and XTRIM
 * pipelined. Retention is here too: it needs the writers, whose chains record the removals.
 *
 * Verifying a segment just closed reads a whole day of its shard (gigabytes on a busy day), so
 * it runs on a thread of its own while the loop drains on: a closed segment is never written
 * again (the shard's other segments, still open, are not read), and retention removes only
 * segments years old. The loop queues (shard, day) pairs under a mutex; the thread verifies them
 * in order; destroy finishes the one being verified and drops the rest (read-only work: nothing
 * is lost). Its counters are atomic. */
#include "au_drain.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "au_seg.h"
#include "au_verify.h"

#define S_GROUP "pregon-audit"

typedef struct {
    au_seg_t *seg;
    char key[128];
    int pending; /* still re-reading what was delivered before: from `cursor`, not ">" */
    char cursor[48];
    int empty; /* the last read found nothing */
} s_shard_t;

struct au_drain {
    au_drain_opts_t o;
    char dir[480];
    redisContext *c; /* borrowed */
    int n;
    s_shard_t *sh;
    au_drain_stats_t stats;
    char err[1024];
    /* the verification of closed segments: a queue of (shard, day) under vmu, its thread */
    pthread_mutex_t vmu;
    pthread_cond_t vcv;
    int (*vq)[2];
    size_t vq_head, vq_n, vq_cap;
    bool vstop, vth_started;
    pthread_t vth;
    _Atomic uint64_t verified, verify_failures;
};

static const char *const S_PRESETS[] = {"CO", "CO-strict", "MX", "US", "US-MA", "PE", "CL"};

int au_retention_parse(au_retention_t *r, const char *arg, char *err, size_t err_len) {
    const char *eq = strchr(arg, '=');
    char *end;
    long days = eq ? strtol(eq + 1, &end, 10) : 0;
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof r->over[0].jurisdiction || end == eq + 1 ||
        *end || days < 1 || days > 36500) {
        snprintf(err, err_len, "--retain %s: want JURISDICTION=DAYS (1..36500)", arg);
        return -1;
    }
    char j[32];
    snprintf(j, sizeof j, "%.*s", (int)(eq - arg), arg);
    for (size_t i = 0; i < sizeof S_PRESETS / sizeof *S_PRESETS; i++)
        if (strcmp(j, S_PRESETS[i]) == 0 && days < AU_RETENTION_FLOOR_DAYS) {
            snprintf(err, err_len, "--retain %s: %s is a preset: at least %d days", arg, j,
                     AU_RETENTION_FLOOR_DAYS);
            return -1;
        }
    if (r->n >= (int)(sizeof r->over / sizeof r->over[0])) {
        snprintf(err, err_len, "--retain: too many jurisdictions");
        return -1;
    }
    snprintf(r->over[r->n].jurisdiction, sizeof r->over[r->n].jurisdiction, "%s", j);
    r->over[r->n++].days = (int)days;
    return 0;
}

int au_retention_days(const au_retention_t *r, const char *j) {
    for (int i = 0; j && *j && i < r->n; i++)
        if (strcmp(r->over[i].jurisdiction, j) == 0)
            return r->over[i].days;
    return r->default_days;
}

static double s_mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A Redis round trip that started at t0 (s_mono_s) ended now. */
static void s_redis_took(au_drain_t *self, double t0) {
    pg_prom_hist_observe(&self->stats.redis_seconds, s_mono_s() - t0);
}

static void s_note(au_drain_t *self, const char *fmt, ...) {
    if (!self->o.note)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    self->o.note(self->o.note_ctx, line);
}

static int s_fail(au_drain_t *self, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->err, sizeof self->err, fmt, ap);
    va_end(ap);
    return -1;
}

au_drain_t *au_drain_new(const au_drain_opts_t *o, char *err, size_t err_len) {
    au_drain_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    self->o = *o;
    pthread_mutex_init(&self->vmu, NULL);
    pthread_cond_init(&self->vcv, NULL);
    if (self->o.batch <= 0)
        self->o.batch = 1000;
    if (self->o.close_grace_ms <= 0)
        self->o.close_grace_ms = 2000;
    snprintf(self->dir, sizeof self->dir, "%s", o->dir);
    self->o.dir = self->dir;
    pg_prom_hist_init(&self->stats.redis_seconds, pg_prom_latency_bounds, pg_prom_latency_n);
    pg_prom_hist_init(&self->stats.index_seconds, pg_prom_latency_bounds, pg_prom_latency_n);
    self->n = st_keys_shards(o->keys);
    self->sh = calloc((size_t)self->n, sizeof *self->sh);
    if (!self->sh) {
        snprintf(err, err_len, "out of memory");
        free(self);
        return NULL;
    }
    for (int s = 0; s < self->n; s++) {
        s_shard_t *sh = &self->sh[s];
        st_key_shared(o->keys, s, "audit", sh->key, sizeof sh->key);
        sh->seg = au_seg_open(self->dir, s, o->key, err, err_len);
        if (!sh->seg) {
            au_drain_destroy(&self);
            return NULL;
        }
        /* a crash between a batch's lines and its seal: seal what is there */
        if (au_seg_commit(sh->seg) < 0) {
            snprintf(err, err_len, "shard %d: %s", s, au_seg_strerror(sh->seg));
            au_drain_destroy(&self);
            return NULL;
        }
        uint64_t added = 0;
        if (o->index && au_index_catch_up(o->index, self->dir, s, &added) < 0) {
            snprintf(err, err_len, "index: %s", au_index_strerror(o->index));
            au_drain_destroy(&self);
            return NULL;
        }
        if (added)
            s_note(self, "shard %d: %" PRIu64 " records indexed that the index lacked", s, added);
    }
    return self;
}

void au_drain_destroy(au_drain_t **self_p) {
    if (!self_p || !*self_p)
        return;
    au_drain_t *self = *self_p;
    if (self->vth_started) {
        pthread_mutex_lock(&self->vmu);
        self->vstop = true;
        self->vq_n = 0; /* the one being verified finishes; the rest are dropped */
        pthread_cond_signal(&self->vcv);
        pthread_mutex_unlock(&self->vmu);
        pthread_join(self->vth, NULL);
    }
    free(self->vq);
    pthread_cond_destroy(&self->vcv);
    pthread_mutex_destroy(&self->vmu);
    for (int s = 0; self->sh && s < self->n; s++)
        au_seg_destroy(&self->sh[s].seg);
    free(self->sh);
    free(self);
    *self_p = NULL;
}

const char *au_drain_strerror(const au_drain_t *self) {
    return self->err;
}

void au_drain_stats(const au_drain_t *self, au_drain_stats_t *out) {
    *out = self->stats;
    out->verified = atomic_load(&((au_drain_t *)self)->verified);
    out->verify_failures = atomic_load(&((au_drain_t *)self)->verify_failures);
}

int au_drain_attach(au_drain_t *self, redisContext *c) {
    self->c = c;
    for (int s = 0; s < self->n; s++) {
        s_shard_t *sh = &self->sh[s];
        redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", sh->key, S_GROUP);
        int ok = r && (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0);
        if (!ok) {
            s_fail(self, "XGROUP CREATE %s: %s", sh->key,
                   r        ? r->str
                   : c->err ? c->errstr
                            : "no reply");
            freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
        sh->pending = 1;
        snprintf(sh->cursor, sizeof sh->cursor, "0");
    }
    return 0;
}

/* A record's members from a stream entry's field array, the content body stored aside. */
static json_t *s_fields(au_drain_t *self, const redisReply *f) {
    json_t *o = json_object();
    const redisReply *body = NULL;
    const char *content = NULL;
    for (size_t i = 0; o && i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "body") == 0) {
            body = v;
            continue;
        }
        if (strcmp(k->str, "content") == 0)
            content = v->str;
        json_object_set_new(o, k->str, au_json_string(v->str, v->len));
    }
    if (body && content) {
        char h[AU_HASH_HEX];
        au_sha256_hex(body->str, body->len, h);
        if (strcmp(h, content) != 0) /* kept in the line: the evidence does not match its name */
            json_object_set_new(o, "body", au_json_string(body->str, body->len));
        else if (au_content_put(self->dir, h, body->str, body->len) == 0)
            self->stats.contents++;
        else
            json_object_set_new(o, "body", au_json_string(body->str, body->len));
    }
    return o;
}

/* Appends the entries of one XREADGROUP reply; rows[] what to index. */
typedef struct {
    au_loc_t loc;
    json_t *rec;
} s_row_t;

static int s_append_entries(au_drain_t *self, s_shard_t *sh, const redisReply *entries,
                            s_row_t *rows, size_t *n_rows);

static int s_append(au_drain_t *self, s_shard_t *sh, const redisReply *entries, s_row_t *rows,
                    size_t *n_rows) {
    uint64_t dups = self->stats.duplicates;
    int rc = s_append_entries(self, sh, entries, rows, n_rows);
    if (self->stats.duplicates > dups) /* only after a crash between a write and its XACK */
        s_note(self, "%s: %" PRIu64 " records delivered again were written before: skipped",
               sh->key, self->stats.duplicates - dups);
    return rc;
}

static int s_append_entries(au_drain_t *self, s_shard_t *sh, const redisReply *entries,
                            s_row_t *rows, size_t *n_rows) {
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = e->element[0]->str;
        snprintf(sh->cursor, sizeof sh->cursor, "%s", id);
        const redisReply *f = e->element[1];
        if (f->type != REDIS_REPLY_ARRAY) /* delivered before, trimmed since: nothing to keep */
            continue;
        json_t *rec = s_fields(self, f);
        if (!rec)
            return s_fail(self, "out of memory");
        au_loc_t loc;
        int rc = au_seg_add(sh->seg, id, rec, &loc);
        if (rc < 0) {
            json_decref(rec);
            return s_fail(self, "%s", au_seg_strerror(sh->seg));
        }
        if (rc == 1) {
            self->stats.duplicates++;
            json_decref(rec);
            continue;
        }
        rows[*n_rows].loc = loc;
        rows[(*n_rows)++].rec = rec;
    }
    return 0;
}

/* XACK every id of entries, then XTRIM MINID past the last: pipelined, replies read in full. */
static int s_ack(au_drain_t *self, s_shard_t *sh, const redisReply *entries) {
    size_t n = entries->elements;
    const char **argv = malloc((n + 3) * sizeof *argv);
    size_t *lens = malloc((n + 3) * sizeof *lens);
    if (!argv || !lens) {
        free(argv), free(lens);
        return s_fail(self, "out of memory");
    }
    argv[0] = "XACK", argv[1] = sh->key, argv[2] = S_GROUP;
    size_t argc = 3;
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = entries->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1 &&
            e->element[0]->type == REDIS_REPLY_STRING)
            argv[argc++] = last = e->element[0]->str;
    }
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisAppendCommandArgv(self->c, (int)argc, argv, lens);
    char minid[48] = "";
    uint64_t ms, sq;
    if (last && au_stream_id(last, &ms, &sq) == 0) {
        snprintf(minid, sizeof minid, "%" PRIu64 "-%" PRIu64, ms, sq + 1);
        redisAppendCommand(self->c, "XTRIM %s MINID %s", sh->key, minid);
    }
    free(argv), free(lens);
    double t0 = s_mono_s();
    int rc = 0;
    for (int k = 0; k < (minid[0] ? 2 : 1); k++) {
        redisReply *r = NULL;
        if (redisGetReply(self->c, (void **)&r) != REDIS_OK) {
            rc = s_fail(self, "XACK/XTRIM %s: %s", sh->key, self->c->errstr);
            break; /* the connection is gone: attach again */
        }
        if (r->type == REDIS_REPLY_ERROR)
            rc = s_fail(self, "%s %s: %s", k ? "XTRIM" : "XACK", sh->key, r->str);
        else if (k == 0)
            self->stats.acked += (uint64_t)r->integer;
        freeReplyObject(r);
    }
    s_redis_took(self, t0);
    return rc;
}

/* One shard: read, append, commit, index, acknowledge. */
static int s_shard_round(au_drain_t *self, s_shard_t *sh, uint64_t *drained) {
    char count[16];
    snprintf(count, sizeof count, "%d", self->o.batch);
    double t0 = s_mono_s();
    redisReply *r = redisCommand(self->c, "XREADGROUP GROUP %s %s COUNT %s STREAMS %s %s", S_GROUP,
                                 S_GROUP, count, sh->key, sh->pending ? sh->cursor : ">");
    s_redis_took(self, t0);
    if (!r)
        return s_fail(self, "XREADGROUP %s: %s", sh->key, self->c->errstr);
    if (r->type == REDIS_REPLY_ERROR) {
        int rc = s_fail(self, "XREADGROUP %s: %s", sh->key, r->str);
        if (strncasecmp(r->str, "NOGROUP", 7) == 0) /* the stream was deleted: make it again */
            sh->pending = -1;
        freeReplyObject(r);
        return rc;
    }
    const redisReply *entries = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2)
        entries = r->element[0]->element[1];
    sh->empty = !entries || entries->elements == 0;
    if (sh->empty) {
        freeReplyObject(r);
        if (!sh->pending)
            return 0;
        sh->pending = 0; /* every entry delivered before is written: new ones now */
        return s_shard_round(self, sh, drained);
    }
    s_row_t *rows = calloc(entries->elements, sizeof *rows);
    size_t n_rows = 0;
    int rc = rows ? s_append(self, sh, entries, rows, &n_rows) : s_fail(self, "out of memory");
    if (rc == 0 && au_seg_commit(sh->seg) < 0)
        rc = s_fail(self, "%s", au_seg_strerror(sh->seg));
    if (rc == 0 && self->o.index) {
        /* the index is derived (in the round's transaction, au_drain_round): a failure is
         * reported, the records are safe in the segment and indexed again at the next start */
        int irc = 0;
        double t0i = s_mono_s();
        for (size_t i = 0; irc == 0 && i < n_rows; i++)
            irc = au_index_add(self->o.index, &rows[i].loc, rows[i].rec);
        pg_prom_hist_observe(&self->stats.index_seconds, s_mono_s() - t0i);
        if (irc < 0) {
            self->stats.index_failures++;
            s_note(self, "index: %s (pregon-audit reindex rebuilds it)",
                   au_index_strerror(self->o.index));
        }
    }
    for (size_t i = 0; i < n_rows; i++)
        json_decref(rows[i].rec);
    free(rows);
    if (rc == 0) {
        self->stats.written += n_rows;
        self->stats.batches++;
        *drained += n_rows;
        if (self->o.kill_after && self->stats.batches == (uint64_t)self->o.kill_after)
            raise(SIGKILL); /* written and fsync'd, not acknowledged: delivered again */
        rc = s_ack(self, sh, entries);
    }
    freeReplyObject(r);
    return rc;
}

static int s_redis_now(au_drain_t *self, int64_t *now_ms) {
    double t0 = s_mono_s();
    redisReply *r = redisCommand(self->c, "TIME");
    s_redis_took(self, t0);
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
    if (ok)
        *now_ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    return ok ? 0 : s_fail(self, "TIME: %s", self->c->err ? self->c->errstr : "unexpected reply");
}

static int s_round_shards(au_drain_t *self, int64_t now_ms, uint64_t *drained);

int au_drain_round(au_drain_t *self, uint64_t *drained) {
    int64_t now_ms = 0;
    if (s_redis_now(self, &now_ms) < 0)
        return -1;
    /* one index transaction per round: committing per shard batch costs more than the inserts */
    int in_tx = self->o.index && au_index_begin(self->o.index) == 0;
    int rc = s_round_shards(self, now_ms, drained);
    if (in_tx && au_index_commit(self->o.index) < 0) {
        self->stats.index_failures++;
        s_note(self, "index: %s (pregon-audit reindex rebuilds it)",
               au_index_strerror(self->o.index));
    }
    return rc;
}

static void s_problem(void *ctx, const char *text) {
    s_note(ctx, "verify: %s", text);
}

/* Verifies shard's segment of day (closed). */
static void s_verify_one(au_drain_t *self, int shard, int day) {
    au_verify_result_t res;
    char err[512];
    int rc = au_verify_shard(self->dir, self->o.key, shard, day, day, s_problem, self, &res, err,
                             sizeof err);
    atomic_fetch_add(&self->verified, res.segments);
    if (rc != 0) {
        atomic_fetch_add(&self->verify_failures, 1);
        if (rc < 0)
            s_note(self, "verify s%d: %s", shard, err);
    }
}

/* The verification thread: the queue in order, until destroy. */
static void *s_verify_main(void *arg) {
    au_drain_t *self = arg;
    pthread_mutex_lock(&self->vmu);
    for (;;) {
        while (!self->vq_n && !self->vstop)
            pthread_cond_wait(&self->vcv, &self->vmu);
        if (!self->vq_n)
            break;
        int shard = self->vq[self->vq_head][0], day = self->vq[self->vq_head][1];
        self->vq_head = (self->vq_head + 1) % self->vq_cap;
        self->vq_n--;
        pthread_mutex_unlock(&self->vmu);
        s_verify_one(self, shard, day);
        pthread_mutex_lock(&self->vmu);
    }
    pthread_mutex_unlock(&self->vmu);
    return NULL;
}

/* Queues shard's segment of day (just closed) for the verification thread (started on first
 * use; without a thread or queue room, verified here). */
static void s_verify_closed(au_drain_t *self, int shard, int day) {
    if (!self->vq) {
        self->vq_cap = (size_t)self->n * 2 + 16;
        self->vq = calloc(self->vq_cap, sizeof *self->vq);
    }
    if (self->vq && !self->vth_started)
        self->vth_started = pthread_create(&self->vth, NULL, s_verify_main, self) == 0;
    bool queued = false;
    pthread_mutex_lock(&self->vmu);
    if (self->vth_started && self->vq_n < self->vq_cap) {
        size_t at = (self->vq_head + self->vq_n++) % self->vq_cap;
        self->vq[at][0] = shard, self->vq[at][1] = day;
        queued = true;
        pthread_cond_signal(&self->vcv);
    }
    pthread_mutex_unlock(&self->vmu);
    if (!queued)
        s_verify_one(self, shard, day);
}

static int s_round_shards(au_drain_t *self, int64_t now_ms, uint64_t *drained) {
    int rc = 0;
    for (int s = 0; s < self->n && rc == 0; s++) {
        s_shard_t *sh = &self->sh[s];
        if ((sh->pending == -1 && au_drain_attach(self, self->c) < 0) ||
            s_shard_round(self, sh, drained) < 0) {
            rc = -1;
            break;
        }
        const au_head_t *h = au_seg_head(sh->seg);
        /* read empty after its day ended: nothing of that day can come any more */
        if (sh->empty && !sh->pending && h->day >= 0 &&
            (int64_t)(h->day + 1) * 86400000 + self->o.close_grace_ms <= now_ms) {
            char day[11];
            int closed_day = h->day;
            au_day_name(closed_day, day);
            if (au_seg_close(sh->seg) < 0) {
                rc = s_fail(self, "%s", au_seg_strerror(sh->seg));
                break;
            }
            self->stats.closed++;
            s_note(self, "closed s%d/%s with its checkpoint", s, day);
            s_verify_closed(self, s, closed_day);
        }
    }
    return rc;
}

/* length and first-entry of one XINFO STREAM reply (a flat array of names and values). */
static void s_stream_info(const redisReply *r, uint64_t *pending, int64_t *oldest_ms) {
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "length") == 0 && v->type == REDIS_REPLY_INTEGER)
            *pending += (uint64_t)v->integer;
        uint64_t ms, sq;
        if (strcmp(k->str, "first-entry") == 0 && v->type == REDIS_REPLY_ARRAY &&
            v->elements >= 1 && v->element[0]->type == REDIS_REPLY_STRING &&
            au_stream_id(v->element[0]->str, &ms, &sq) == 0 &&
            (*oldest_ms < 0 || (int64_t)ms < *oldest_ms))
            *oldest_ms = (int64_t)ms;
    }
}

int au_drain_backlog(au_drain_t *self, uint64_t *pending, int64_t *oldest_ms, int64_t *now_ms) {
    *pending = 0;
    *oldest_ms = -1;
    double t0 = s_mono_s();
    redisAppendCommand(self->c, "TIME");
    for (int s = 0; s < self->n; s++)
        redisAppendCommand(self->c, "XINFO STREAM %s", self->sh[s].key);
    int rc = 0;
    for (int k = 0; k <= self->n; k++) { /* every reply read, even after an error */
        redisReply *r = NULL;
        if (redisGetReply(self->c, (void **)&r) != REDIS_OK)
            return s_fail(self, "backlog: %s", self->c->errstr); /* gone: attach again */
        if (r->type == REDIS_REPLY_ERROR) {
            if (strstr(r->str, "no such key") == NULL) /* a stream not made yet: empty */
                rc = s_fail(self, "backlog: %s", r->str);
        } else if (k == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            *now_ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
        } else if (k > 0) {
            s_stream_info(r, pending, oldest_ms);
        }
        freeReplyObject(r);
    }
    s_redis_took(self, t0);
    return rc;
}

/* The longest retention of the jurisdictions a segment holds, and its checkpoint's members.
 * 0, 1 (not closed: never removed), -1. */
static int s_segment_facts(au_drain_t *self, const char *path, int *keep, char *cp_hash,
                           uint64_t *first, uint64_t *count, uint64_t *cp_seq) {
    au_lines_t r;
    if (au_lines_open(&r, path) < 0)
        return s_fail(self, "%s: cannot open", path);
    *keep = 0;
    int closed = 0, got;
    static const char tag[] = "\"jurisdiction\":\"";
    while ((got = au_lines_next(&r)) == 1) {
        if (!strstr(r.line, "\"kind\":\"")) { /* a record: its jurisdiction's, or the default */
            const char *j = strstr(r.line, tag);
            char name[32] = "";
            if (j) {
                j += sizeof tag - 1;
                const char *e = strchr(j, '"');
                snprintf(name, sizeof name, "%.*s", e ? (int)(e - j) : 0, j);
            }
            int d = au_retention_days(self->o.keep, name);
            if (d > *keep)
                *keep = d;
        }
        closed = strstr(r.line, "\"kind\":\"checkpoint\"") != NULL;
        if (closed) {
            au_sha256_hex(r.line, r.len, cp_hash);
            json_t *o = json_loadb(r.line, r.len, 0, NULL);
            *first = (uint64_t)json_integer_value(json_object_get(o, "first"));
            *count = (uint64_t)json_integer_value(json_object_get(o, "count"));
            *cp_seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
            json_decref(o);
        }
    }
    au_lines_close(&r);
    return got < 0 ? -1 : closed ? 0 : 1;
}

int au_drain_retention(au_drain_t *self, int64_t now_ms, int *removed) {
    *removed = 0;
    if (!self->o.keep)
        return 0;
    int today = au_day_of_ms(now_ms);
    for (int s = 0; s < self->n; s++) {
        s_shard_t *sh = &self->sh[s];
        int *days = NULL;
        size_t n = 0;
        if (au_seg_days(self->dir, s, &days, &n) < 0)
            return s_fail(self, "shard %d: cannot list", s);
        /* oldest first, never the newest (it holds the chain's head), stop at the first kept */
        for (size_t i = 0; i + 1 < n; i++) {
            char path[640], cp[AU_HASH_HEX], name[11], seg[40];
            au_seg_path(self->dir, s, days[i], path, sizeof path);
            int keep = 0;
            uint64_t first = 0, count = 0, cp_seq = 0;
            int f = s_segment_facts(self, path, &keep, cp, &first, &count, &cp_seq);
            if (f < 0) {
                free(days);
                return -1;
            }
            if (f == 1 || days[i] + keep >= today)
                break;
            au_day_name(days[i], name);
            snprintf(seg, sizeof seg, "s%d/%s", s, name);
            json_t *o = json_object();
            json_object_set_new(o, "kind", json_string("removal"));
            json_object_set_new(o, "segment", json_string(seg));
            json_object_set_new(o, "first", json_integer((json_int_t)first));
            json_object_set_new(o, "count", json_integer((json_int_t)count));
            json_object_set_new(o, "checkpoint", json_string(cp));
            json_object_set_new(o, "cpseq", json_integer((json_int_t)cp_seq));
            json_object_set_new(o, "retain_days", json_integer(keep));
            json_object_set_new(o, "at", json_integer(now_ms));
            int rc = au_seg_add_signed(sh->seg, today, o, NULL);
            json_decref(o);
            if (rc < 0 || au_seg_commit(sh->seg) < 0) {
                free(days);
                return s_fail(self, "%s", au_seg_strerror(sh->seg));
            }
            if (unlink(path) < 0) {
                free(days);
                return s_fail(self, "%s: %s", path, strerror(errno));
            }
            if (self->o.index)
                au_index_drop_segment(self->o.index, s, days[i]);
            (*removed)++;
            s_note(self, "removed %s (%" PRIu64 " records, kept %d days): recorded in the chain",
                   seg, count, keep);
        }
        free(days);
    }
    return 0;
}

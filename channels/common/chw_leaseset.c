/* chw_leaseset.c — the reported leases a worker still vouches for (see chw_leaseset.h).
 *
 * A ring of (lease id, expiry) in report order. Reports arrive roughly in lease order, so the
 * front is usually the first to expire, but not always (a slow request finishes late): pruning
 * compacts the whole ring rather than popping the front only. */
#include "chw_leaseset.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *lease;
    size_t bytes;
    int64_t expires_ms;
    uint64_t seq; /* the report's number; 0: none */
    bool acked;   /* the broker applied it: not listed, its bytes not counted */
} s_entry_t;

/* Copies are kept in buffers of one size class (S_BUF bytes, or exactly their size when longer)
 * and recycled through a free list, so a set that runs at its bound (every report past it
 * evicts the oldest) costs no malloc or free per report. */
#define S_BUF       64
#define S_SPARE_MAX 4096

struct chw_leaseset {
    char **spare; /* recycled S_BUF buffers */
    size_t n_spare;
    s_entry_t *items;
    size_t head, count, cap;
    size_t bytes, max_bytes;
    int64_t incomplete_until; /* latest expiry of an entry dropped early; 0 = none */
};

size_t chw_leaseset_entry_bytes(const char *lease_id) {
    size_t len = strlen(lease_id), varint = 1;
    for (size_t v = len; v >= 0x80; v >>= 7)
        varint++;
    return 1 + varint + len; /* field 5, wire type 2: one tag byte */
}

chw_leaseset_t *chw_leaseset_new(size_t max_bytes) {
    chw_leaseset_t *self = calloc(1, sizeof *self);
    if (self)
        self->max_bytes = max_bytes;
    return self;
}

void chw_leaseset_destroy(chw_leaseset_t **self_p) {
    if (!self_p || !*self_p)
        return;
    chw_leaseset_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free(self->items[(self->head + i) % self->cap].lease);
    for (size_t i = 0; i < self->n_spare; i++)
        free(self->spare[i]);
    free(self->spare);
    free(self->items);
    free(self);
    *self_p = NULL;
}

/* Frees a copy, or keeps its buffer for the next one. */
static void s_release(chw_leaseset_t *self, char *lease) {
    if (strlen(lease) + 1 <= S_BUF && self->n_spare < S_SPARE_MAX) {
        if (!self->spare)
            self->spare = malloc(S_SPARE_MAX * sizeof *self->spare);
        if (self->spare) {
            self->spare[self->n_spare++] = lease;
            return;
        }
    }
    free(lease);
}

/* A buffer for a copy of len bytes (NUL included). */
static char *s_buffer(chw_leaseset_t *self, size_t len) {
    if (len > S_BUF)
        return malloc(len);
    if (self->n_spare)
        return self->spare[--self->n_spare];
    return malloc(S_BUF);
}

static void s_mark_incomplete(chw_leaseset_t *self, int64_t expires_ms) {
    if (expires_ms > self->incomplete_until)
        self->incomplete_until = expires_ms;
}

static void s_drop_front(chw_leaseset_t *self) {
    s_entry_t *e = &self->items[self->head];
    if (!e->acked) { /* an acknowledged one leaves nothing unvouched for */
        s_mark_incomplete(self, e->expires_ms);
        self->bytes -= e->bytes;
    }
    s_release(self, e->lease);
    self->head = (self->head + 1) % self->cap;
    self->count--;
}

int chw_leaseset_add(chw_leaseset_t *self, const char *lease_id, int64_t expires_ms) {
    return chw_leaseset_add_seq(self, lease_id, expires_ms, 0);
}

void chw_leaseset_ack(chw_leaseset_t *self, uint64_t seq) {
    /* binary search by seq over the ring (entries with seq 0 come from chw_leaseset_add and
     * are never acknowledged: they only expire) */
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t s = self->items[(self->head + mid) % self->cap].seq;
        if (s < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < self->count) {
        s_entry_t *e = &self->items[(self->head + lo) % self->cap];
        if (e->seq == seq && !e->acked) {
            e->acked = true;
            self->bytes -= e->bytes;
        }
    }
    while (self->count && self->items[self->head].acked) { /* drop acknowledged ones in front */
        s_release(self, self->items[self->head].lease);
        self->head = (self->head + 1) % self->cap;
        self->count--;
    }
    if (self->count == 0)
        self->head = 0;
}

int chw_leaseset_add_seq(chw_leaseset_t *self, const char *lease_id, int64_t expires_ms,
                         uint64_t seq) {
    size_t bytes = chw_leaseset_entry_bytes(lease_id);
    if (bytes > self->max_bytes) {
        s_mark_incomplete(self, expires_ms);
        return 0;
    }
    while (self->count && self->bytes + bytes > self->max_bytes)
        s_drop_front(self);
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        s_entry_t *items = malloc(cap * sizeof *items);
        if (!items) {
            s_mark_incomplete(self, expires_ms);
            return -1;
        }
        for (size_t i = 0; i < self->count; i++)
            items[i] = self->items[(self->head + i) % self->cap];
        free(self->items);
        self->items = items;
        self->head = 0;
        self->cap = cap;
    }
    size_t len = strlen(lease_id);
    char *copy = s_buffer(self, len + 1);
    if (!copy) {
        s_mark_incomplete(self, expires_ms);
        return -1;
    }
    memcpy(copy, lease_id, len + 1);
    self->items[(self->head + self->count) % self->cap] =
        (s_entry_t){.lease = copy, .bytes = bytes, .expires_ms = expires_ms, .seq = seq};
    self->count++;
    self->bytes += bytes;
    return 0;
}

void chw_leaseset_prune(chw_leaseset_t *self, int64_t now_ms) {
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        s_entry_t *e = &self->items[(self->head + i) % self->cap];
        if (e->expires_ms <= now_ms || e->acked) {
            if (!e->acked)
                self->bytes -= e->bytes;
            s_release(self, e->lease);
            continue;
        }
        if (kept != i)
            self->items[(self->head + kept) % self->cap] = *e;
        kept++;
    }
    self->count = kept;
    if (kept == 0)
        self->head = 0;
}

size_t chw_leaseset_count(const chw_leaseset_t *self) {
    return self->count;
}

size_t chw_leaseset_bytes(const chw_leaseset_t *self) {
    return self->bytes;
}

const char *chw_leaseset_get(const chw_leaseset_t *self, size_t i, int64_t *expires_ms) {
    const s_entry_t *e = &self->items[(self->head + i) % self->cap];
    if (expires_ms)
        *expires_ms = e->expires_ms;
    return e->lease;
}

bool chw_leaseset_incomplete(const chw_leaseset_t *self, int64_t now_ms) {
    return self->incomplete_until > now_ms;
}

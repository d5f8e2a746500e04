/* pg_logsum.c — folding repeated events into one summary line per key per window (see
 * pg_logsum.h).
 *
 * A fixed table of slots, allocated once: each open slot is one key's current window (its
 * start, how many events came, how many were folded, the last folded message). Lookup is a
 * linear scan: the table is small (tens of keys) and only touched when an event happens. */
#include "pg_logsum.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_log.h"

#define S_OTHER_KEY "other events"

typedef struct {
    bool open;
    char key[PG_LOGSUM_KEY_MAX + 1];
    int64_t start;   /* when the window opened */
    uint64_t count;  /* events in this window */
    uint64_t folded; /* of which not logged */
    char last[PG_LOGSUM_LAST_MAX + 1];
} s_slot_t;

struct pg_logsum {
    pg_logsum_config_t cfg;
    s_slot_t *slots; /* cfg.max_keys, then the "other events" slot */
};

pg_logsum_t *pg_logsum_new(const pg_logsum_config_t *config) {
    pg_logsum_config_t cfg = config ? *config : (pg_logsum_config_t){0};
    if (cfg.interval_ms < 0)
        return NULL;
    if (cfg.interval_ms == 0)
        cfg.interval_ms = 10000;
    if (cfg.burst == 0)
        cfg.burst = 3;
    if (cfg.max_keys == 0)
        cfg.max_keys = 32;
    pg_logsum_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->slots = calloc((size_t)cfg.max_keys + 1, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    return self;
}

void pg_logsum_destroy(pg_logsum_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_logsum_t *self = *self_p;
    pg_logsum_flush(self);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

static int64_t s_now(const pg_logsum_t *self) {
    return self->cfg.now_ms ? self->cfg.now_ms(self->cfg.clock_ctx) : pg_log_now_ms();
}

/* Is the slot's window over at `now`? A clock that went backwards ends it too. */
static bool s_over(const pg_logsum_t *self, const s_slot_t *slot, int64_t now) {
    return now < slot->start || now - slot->start >= self->cfg.interval_ms;
}

/* "1,204" */
static void s_thousands(uint64_t n, char out[32]) {
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    int w = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[w++] = ',';
        out[w++] = digits[i];
    }
    out[w] = '\0';
}

/* "10 s" from 10 s on (whole seconds), "2.5 s" below (tenths), both rounded. */
static void s_duration(int64_t ms, char out[32]) {
    if (ms < 0)
        ms = 0;
    int64_t tenths = (ms + 50) / 100;
    if (tenths >= 100)
        snprintf(out, 32, "%lld s", (long long)((ms + 500) / 1000));
    else
        snprintf(out, 32, "%d.%d s", (int)(tenths / 10), (int)(tenths % 10));
}

/* Ends the slot's window at `now`, logging its summary if it folded anything. */
static void s_close(s_slot_t *slot, int64_t now) {
    if (slot->folded > 0) {
        char count[32], took[32];
        s_thousands(slot->folded, count);
        s_duration(now - slot->start, took);
        pg_log("%s more %s in the last %s; last: %s", count, slot->key, took, slot->last);
    }
    slot->open = false;
    slot->count = slot->folded = 0;
}

/* The slot for `key` at `now`: its open window, else a free slot (closing one whose window is
 * over if need be), else the shared "other events" slot. */
static s_slot_t *s_slot(pg_logsum_t *self, const char *key, int64_t now) {
    s_slot_t *free_slot = NULL;
    for (unsigned i = 0; i < self->cfg.max_keys; i++) {
        s_slot_t *slot = &self->slots[i];
        if (slot->open && strncmp(slot->key, key, PG_LOGSUM_KEY_MAX) == 0)
            return slot;
        if (!free_slot && !slot->open)
            free_slot = slot;
    }
    if (!free_slot) {
        for (unsigned i = 0; i < self->cfg.max_keys && !free_slot; i++) {
            if (s_over(self, &self->slots[i], now)) {
                s_close(&self->slots[i], now);
                free_slot = &self->slots[i];
            }
        }
    }
    if (free_slot) {
        snprintf(free_slot->key, sizeof free_slot->key, "%s", key);
        return free_slot;
    }
    s_slot_t *other = &self->slots[self->cfg.max_keys];
    snprintf(other->key, sizeof other->key, "%s", S_OTHER_KEY);
    return other;
}

bool pg_logsum_event(pg_logsum_t *self, const char *key, const char *fmt, ...) {
    if (!self)
        return false;
    int64_t now = s_now(self);
    s_slot_t *slot = s_slot(self, key ? key : "", now);
    if (slot->open && s_over(self, slot, now))
        s_close(slot, now);
    if (!slot->open) {
        slot->open = true;
        slot->start = now;
    }
    slot->count++;
    va_list ap;
    va_start(ap, fmt);
    bool now_logged = slot->count <= self->cfg.burst;
    if (now_logged) {
        pg_logv(fmt, ap);
    } else {
        slot->folded++;
        vsnprintf(slot->last, sizeof slot->last, fmt, ap);
    }
    va_end(ap);
    return now_logged;
}

int64_t pg_logsum_tick(pg_logsum_t *self) {
    if (!self)
        return -1;
    int64_t now = s_now(self), next = -1;
    for (unsigned i = 0; i <= self->cfg.max_keys; i++) {
        s_slot_t *slot = &self->slots[i];
        if (!slot->open)
            continue;
        if (s_over(self, slot, now)) {
            s_close(slot, now);
            continue;
        }
        int64_t left = slot->start + self->cfg.interval_ms - now;
        if (next < 0 || left < next)
            next = left;
    }
    return next;
}

void pg_logsum_flush(pg_logsum_t *self) {
    if (!self)
        return;
    int64_t now = s_now(self);
    for (unsigned i = 0; i <= self->cfg.max_keys; i++)
        if (self->slots[i].open)
            s_close(&self->slots[i], now);
}

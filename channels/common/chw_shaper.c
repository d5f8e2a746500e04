/* chw_shaper.c — token buckets and per-sender FIFOs (see chw_shaper.h).
 *
 * Senders live in a chained hash table (FNV-1a); those with queued items are also on a circular
 * "active" list that pops walk round-robin. Idle senders whose bucket is full are evicted when
 * the table grows past a bound, so a stream of one-off senders does not grow memory forever.
 * Groups (a bucket several senders share) live in a small chained table of their own, counted
 * by the senders that name them; unnamed, full ones are dropped past a bound too. */
#include "chw_shaper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_IDLE_SENDERS 4096
/* A token that is whole but for rounding (a rate of 1/6 per s gives 0.99999... after 6 s)
 * counts as whole: chw_bucket_wait_ms rounds up to the ms at which the token is there. */
#define S_WHOLE (1.0 - 1e-9)

void chw_bucket_init(chw_bucket_t *self, double rate, double burst, int64_t now_ms) {
    self->rate = rate;
    self->burst = burst < 1 ? 1 : burst;
    self->tokens = self->burst;
    self->last_ms = now_ms;
}

static void s_bucket_refill(chw_bucket_t *self, int64_t now_ms) {
    if (now_ms > self->last_ms) {
        self->tokens += (double)(now_ms - self->last_ms) * self->rate / 1000.0;
        if (self->tokens > self->burst)
            self->tokens = self->burst;
        self->last_ms = now_ms;
    }
}

bool chw_bucket_take(chw_bucket_t *self, int64_t now_ms) {
    if (self->rate <= 0)
        return true;
    s_bucket_refill(self, now_ms);
    if (self->tokens >= S_WHOLE) {
        self->tokens = self->tokens > 1.0 ? self->tokens - 1.0 : 0.0;
        return true;
    }
    return false;
}

int64_t chw_bucket_wait_ms(chw_bucket_t *self, int64_t now_ms) {
    if (self->rate <= 0)
        return 0;
    s_bucket_refill(self, now_ms);
    if (self->tokens >= S_WHOLE)
        return 0;
    double ms = (1.0 - self->tokens) * 1000.0 / self->rate;
    int64_t wait = (int64_t)ceil(ms);
    return wait < 1 ? 1 : wait;
}

#define S_MAX_IDLE_GROUPS 1024
#define S_GROUP_TABLE     64

typedef struct s_group {
    struct s_group *next_hash;
    chw_bucket_t bucket;
    uint32_t hash;
    size_t refs; /* senders in it */
    char name[];
} s_group_t;

typedef struct s_sender {
    struct s_sender *next_hash;
    s_group_t *group;                           /* NULL = none */
    struct s_sender *prev_active, *next_active; /* circular; NULL when not active */
    chw_bucket_t bucket;
    uint32_t hash;
    uint32_t head, count;
    int *ring; /* queue_max items */
    char name[];
} s_sender_t;

struct chw_shaper {
    double rate, burst;
    uint32_t queue_max;
    s_sender_t **table;
    size_t table_size; /* power of two */
    size_t senders;
    size_t queued;
    s_sender_t *active; /* head of the circular active list: the next sender to try */
    double group_rate, group_burst;
    s_group_t *groups[S_GROUP_TABLE];
    size_t n_groups;
};

static uint32_t s_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

chw_shaper_t *chw_shaper_new(double rate, double burst, uint32_t queue_max) {
    chw_shaper_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->rate = rate;
    self->burst = burst;
    self->queue_max = queue_max ? queue_max : 1;
    self->table_size = 64;
    self->table = calloc(self->table_size, sizeof *self->table);
    if (!self->table) {
        free(self);
        return NULL;
    }
    return self;
}

static void s_sender_free(s_sender_t *sender) {
    if (sender) {
        if (sender->group)
            sender->group->refs--;
        free(sender->ring);
        free(sender);
    }
}

void chw_shaper_destroy(chw_shaper_t **self_p) {
    if (!self_p || !*self_p)
        return;
    chw_shaper_t *self = *self_p;
    for (size_t i = 0; i < self->table_size; i++) {
        s_sender_t *sender = self->table[i];
        while (sender) {
            s_sender_t *next = sender->next_hash;
            s_sender_free(sender);
            sender = next;
        }
    }
    free(self->table);
    for (size_t i = 0; i < S_GROUP_TABLE; i++) {
        s_group_t *g = self->groups[i];
        while (g) {
            s_group_t *next = g->next_hash;
            free(g);
            g = next;
        }
    }
    free(self);
    *self_p = NULL;
}

void chw_shaper_set_group_rate(chw_shaper_t *self, double rate, double burst) {
    self->group_rate = rate;
    self->group_burst = burst > 0 ? burst : (rate > 1 ? rate : 1);
}

/* Drops groups no sender names whose bucket is full: forgetting them changes no decision. */
static void s_evict_groups(chw_shaper_t *self, int64_t now_ms) {
    for (size_t i = 0; i < S_GROUP_TABLE; i++) {
        s_group_t **link = &self->groups[i];
        while (*link) {
            s_group_t *g = *link;
            if (g->refs == 0) {
                s_bucket_refill(&g->bucket, now_ms);
                if (g->bucket.rate <= 0 || g->bucket.tokens >= g->bucket.burst) {
                    *link = g->next_hash;
                    free(g);
                    self->n_groups--;
                    continue;
                }
            }
            link = &g->next_hash;
        }
    }
}

static void s_active_add(chw_shaper_t *self, s_sender_t *sender) {
    if (!self->active) {
        sender->prev_active = sender->next_active = sender;
        self->active = sender;
        return;
    }
    /* Insert before the head: last in round-robin order. */
    s_sender_t *head = self->active;
    sender->next_active = head;
    sender->prev_active = head->prev_active;
    head->prev_active->next_active = sender;
    head->prev_active = sender;
}

static void s_active_remove(chw_shaper_t *self, s_sender_t *sender) {
    if (sender->next_active == sender) {
        self->active = NULL;
    } else {
        sender->prev_active->next_active = sender->next_active;
        sender->next_active->prev_active = sender->prev_active;
        if (self->active == sender)
            self->active = sender->next_active;
    }
    sender->prev_active = sender->next_active = NULL;
}

/* Drops idle senders with full buckets: forgetting them changes no future decision. */
static void s_evict_idle(chw_shaper_t *self, int64_t now_ms) {
    for (size_t i = 0; i < self->table_size; i++) {
        s_sender_t **link = &self->table[i];
        while (*link) {
            s_sender_t *sender = *link;
            if (sender->count == 0 && !sender->next_active) {
                s_bucket_refill(&sender->bucket, now_ms);
                if (sender->bucket.rate <= 0 || sender->bucket.tokens >= sender->bucket.burst) {
                    *link = sender->next_hash;
                    s_sender_free(sender);
                    self->senders--;
                    continue;
                }
            }
            link = &sender->next_hash;
        }
    }
}

static int s_grow(chw_shaper_t *self) {
    size_t size = self->table_size * 2;
    s_sender_t **table = calloc(size, sizeof *table);
    if (!table)
        return -1;
    for (size_t i = 0; i < self->table_size; i++) {
        s_sender_t *sender = self->table[i];
        while (sender) {
            s_sender_t *next = sender->next_hash;
            size_t slot = sender->hash & (size - 1);
            sender->next_hash = table[slot];
            table[slot] = sender;
            sender = next;
        }
    }
    free(self->table);
    self->table = table;
    self->table_size = size;
    return 0;
}

static s_sender_t *s_lookup(chw_shaper_t *self, const char *name, int64_t now_ms) {
    uint32_t hash = s_hash(name);
    for (s_sender_t *sender = self->table[hash & (self->table_size - 1)]; sender;
         sender = sender->next_hash)
        if (sender->hash == hash && strcmp(sender->name, name) == 0)
            return sender;
    if (self->senders >= S_MAX_IDLE_SENDERS)
        s_evict_idle(self, now_ms);
    if (self->senders >= self->table_size && s_grow(self) != 0)
        return NULL;
    size_t len = strlen(name);
    s_sender_t *sender = calloc(1, sizeof *sender + len + 1);
    if (!sender)
        return NULL;
    sender->ring = malloc(self->queue_max * sizeof *sender->ring);
    if (!sender->ring) {
        free(sender);
        return NULL;
    }
    memcpy(sender->name, name, len + 1);
    sender->hash = hash;
    chw_bucket_init(&sender->bucket, self->rate, self->burst, now_ms);
    size_t slot = hash & (self->table_size - 1);
    sender->next_hash = self->table[slot];
    self->table[slot] = sender;
    self->senders++;
    return sender;
}

static s_group_t *s_group_lookup(chw_shaper_t *self, const char *name, int64_t now_ms) {
    uint32_t hash = s_hash(name);
    for (s_group_t *g = self->groups[hash % S_GROUP_TABLE]; g; g = g->next_hash)
        if (g->hash == hash && strcmp(g->name, name) == 0)
            return g;
    if (self->n_groups >= S_MAX_IDLE_GROUPS)
        s_evict_groups(self, now_ms);
    size_t len = strlen(name);
    s_group_t *g = calloc(1, sizeof *g + len + 1);
    if (!g)
        return NULL;
    memcpy(g->name, name, len + 1);
    g->hash = hash;
    chw_bucket_init(&g->bucket, self->group_rate, self->group_burst, now_ms);
    g->next_hash = self->groups[hash % S_GROUP_TABLE];
    self->groups[hash % S_GROUP_TABLE] = g;
    self->n_groups++;
    return g;
}

int chw_shaper_push(chw_shaper_t *self, const char *sender_name, int item, int64_t now_ms,
                    int64_t *retry_in_ms) {
    return chw_shaper_push_in(self, sender_name, NULL, item, now_ms, retry_in_ms);
}

int chw_shaper_push_in(chw_shaper_t *self, const char *sender_name, const char *group_name,
                       int item, int64_t now_ms, int64_t *retry_in_ms) {
    s_sender_t *sender = s_lookup(self, sender_name ? sender_name : "", now_ms);
    s_group_t *group = NULL;
    if (sender && group_name && *group_name && self->group_rate > 0 &&
        (!sender->group || strcmp(sender->group->name, group_name) != 0) &&
        !(group = s_group_lookup(self, group_name, now_ms)))
        sender = NULL;
    if (!sender) {
        if (retry_in_ms)
            *retry_in_ms = 1000;
        return -1;
    }
    if (group) { /* the sender moves to (or joins) this group */
        if (sender->group)
            sender->group->refs--;
        sender->group = group;
        group->refs++;
    }
    if (sender->count >= self->queue_max) {
        if (retry_in_ms) {
            int64_t wait = chw_bucket_wait_ms(&sender->bucket, now_ms);
            if (sender->bucket.rate > 0)
                wait += (int64_t)ceil((double)sender->count * 1000.0 / sender->bucket.rate);
            *retry_in_ms = wait;
        }
        return -1;
    }
    sender->ring[(sender->head + sender->count) % self->queue_max] = item;
    sender->count++;
    self->queued++;
    if (!sender->next_active)
        s_active_add(self, sender);
    return 0;
}

static int s_take(chw_shaper_t *self, s_sender_t *sender) {
    int item = sender->ring[sender->head];
    sender->head = (sender->head + 1) % self->queue_max;
    sender->count--;
    self->queued--;
    if (sender->count == 0)
        s_active_remove(self, sender);
    else
        self->active = sender->next_active; /* round-robin: the next sender goes first */
    return item;
}

int chw_shaper_pop(chw_shaper_t *self, int64_t now_ms) {
    s_sender_t *start = self->active;
    if (!start)
        return -1;
    s_sender_t *sender = start;
    do {
        chw_bucket_t *g = sender->group ? &sender->group->bucket : NULL;
        if (chw_bucket_wait_ms(&sender->bucket, now_ms) == 0 &&
            (!g || chw_bucket_wait_ms(g, now_ms) == 0)) {
            chw_bucket_take(&sender->bucket, now_ms);
            if (g)
                chw_bucket_take(g, now_ms);
            return s_take(self, sender);
        }
        sender = sender->next_active;
    } while (sender != start);
    return -1;
}

int chw_shaper_pop_any(chw_shaper_t *self) {
    return self->active ? s_take(self, self->active) : -1;
}

int64_t chw_shaper_wake_ms(chw_shaper_t *self, int64_t now_ms) {
    s_sender_t *start = self->active;
    if (!start)
        return -1;
    int64_t best = -1;
    s_sender_t *sender = start;
    do {
        int64_t wait = chw_bucket_wait_ms(&sender->bucket, now_ms);
        if (sender->group) {
            int64_t gw = chw_bucket_wait_ms(&sender->group->bucket, now_ms);
            wait = gw > wait ? gw : wait;
        }
        if (best < 0 || wait < best)
            best = wait;
        if (best == 0)
            break;
        sender = sender->next_active;
    } while (sender != start);
    return best;
}

size_t chw_shaper_queued(const chw_shaper_t *self) {
    return self->queued;
}

size_t chw_shaper_senders(const chw_shaper_t *self) {
    return self->senders;
}

size_t chw_shaper_groups(const chw_shaper_t *self) {
    return self->n_groups;
}

/* brk_index.c — buffering and writing the webhook maps (see brk_index.h).
 *
 * Entries are kept in one growing arena of NUL-terminated strings (key, then the five values
 * pg_index takes), with offsets, so adding one costs no allocation once the arena has grown;
 * the flush sorts entry numbers by shard and makes one call per run of a shard (cut at CHUNK). */
#include "brk_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_log.h"
#include "rl_policy.h"
#include "st_fn.h"

#define MAX_ENTRIES 8192 /* a flush is forced beyond this */
#define CHUNK       256  /* entries per pg_index call */
#define NV          5    /* values per entry */

typedef struct {
    int shard;
    size_t off[1 + NV]; /* key, then the values */
} s_entry_t;

struct brk_index {
    brk_redis_t *redis;
    const st_keys_t *keys;
    const brk_config_t *cfg;
    brk_index_early_fn early;
    void *early_ctx;
    s_entry_t *entries;
    size_t n, cap;
    char *arena;
    size_t used, arena_cap;
    bool logged_error;
};

brk_index_t *brk_index_new(brk_redis_t *redis, const st_keys_t *keys, const brk_config_t *cfg) {
    brk_index_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->redis = redis;
    self->keys = keys;
    self->cfg = cfg;
    return self;
}

void brk_index_destroy(brk_index_t **self_p) {
    if (!self_p || !*self_p)
        return;
    free((*self_p)->entries);
    free((*self_p)->arena);
    free(*self_p);
    *self_p = NULL;
}

void brk_index_set_early(brk_index_t *self, brk_index_early_fn fn, void *ctx) {
    self->early = fn;
    self->early_ctx = ctx;
}

size_t brk_index_pending(const brk_index_t *self) {
    return self->n;
}

/* Copies s into the arena; its offset, or (size_t)-1 when memory ran out. */
static size_t s_put(brk_index_t *self, const char *s, size_t len) {
    if (self->used + len + 1 > self->arena_cap) {
        size_t cap = self->arena_cap ? self->arena_cap : 1 << 16;
        while (self->used + len + 1 > cap)
            cap *= 2;
        char *a = realloc(self->arena, cap);
        if (!a)
            return (size_t)-1;
        self->arena = a;
        self->arena_cap = cap;
    }
    size_t at = self->used;
    memcpy(self->arena + at, s, len);
    self->arena[at + len] = '\0';
    self->used += len + 1;
    return at;
}

/* Adds an entry: its key and NV values. */
static void s_add(brk_index_t *self, int64_t now_ms, int shard, const char *key,
                  const char *const v[NV]) {
    if (self->n == MAX_ENTRIES)
        brk_index_flush(self, now_ms);
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        s_entry_t *e = realloc(self->entries, cap * sizeof *e);
        if (!e)
            return; /* dropped: a webhook for it stays unmatched, and is counted so */
        self->entries = e;
        self->cap = cap;
    }
    s_entry_t *e = &self->entries[self->n];
    e->shard = shard;
    if ((e->off[0] = s_put(self, key, strlen(key))) == (size_t)-1)
        return;
    for (int i = 0; i < NV; i++)
        if ((e->off[1 + i] = s_put(self, v[i], strlen(v[i]))) == (size_t)-1)
            return;
    self->n++;
}

void brk_index_contact(brk_index_t *self, int64_t now_ms, int channel, const char *contact,
                       const char *tenant, const char *debtor, const char *job_id,
                       const char *sender) {
    const char *ch = rl_channel_name((rl_channel_t)channel);
    char key[ST_KEY_MAX];
    if (!contact || !contact[0] || !ch ||
        st_key_contact(self->keys, ch, contact, key, sizeof key) < 0)
        return;
    const char *v[NV] = {"c", tenant ? tenant : "", debtor ? debtor : "", job_id ? job_id : "",
                         sender ? sender : ""};
    s_add(self, now_ms, st_keys_shard(self->keys, ch, contact), key, v);
}

void brk_index_sent(brk_index_t *self, int64_t now_ms, int channel, const char *provider_id,
                    const char *job_key, unsigned attempt) {
    const char *ch = rl_channel_name((rl_channel_t)channel);
    char key[ST_KEY_MAX], att[16];
    if (!provider_id || !provider_id[0] || !ch ||
        st_key_provider(self->keys, ch, provider_id, key, sizeof key) < 0)
        return;
    snprintf(att, sizeof att, "%u", attempt);
    const char *v[NV] = {"m", job_key, att, "", ""};
    s_add(self, now_ms, st_keys_shard(self->keys, ch, provider_id), key, v);
}

static const brk_index_t *s_sort_self; /* qsort has no context argument */
static int s_cmp(const void *a, const void *b) {
    const s_entry_t *x = &s_sort_self->entries[*(const size_t *)a];
    const s_entry_t *y = &s_sort_self->entries[*(const size_t *)b];
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1; /* stable: the order they came */
}

/* Hands the early events of each reply to the callback. */
static void s_take_early(brk_index_t *self, const redisReply *r, int64_t now_ms) {
    if (!r || r->type != REDIS_REPLY_ARRAY || !self->early)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *list = r->element[i];
        if (list->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t k = 0; k < list->elements; k++)
            if (list->element[k]->type == REDIS_REPLY_STRING)
                self->early(self->early_ctx, list->element[k]->str, list->element[k]->len, now_ms);
    }
}

int brk_index_flush(brk_index_t *self, int64_t now_ms) {
    size_t n = self->n;
    if (n == 0)
        return 0;
    self->n = 0;
    st_fn_t *fn = brk_redis_ok(self->redis, now_ms) ? brk_redis_fn(self->redis) : NULL;
    size_t *order = malloc(n * sizeof *order), calls = 0;
    size_t *start = malloc((n + 1) * sizeof *start);
    const char **argv = malloc((n * (1 + NV) + (n + 1) * 6) * sizeof *argv);
    size_t *argl = malloc((n * (1 + NV) + (n + 1) * 6) * sizeof *argl);
    int *argc = malloc((n + 1) * sizeof *argc);
    size_t *at = malloc((n + 1) * sizeof *at);
    char(*head)[4][32] = malloc((n + 1) * sizeof *head);
    redisReply **rs = calloc(n + 1, sizeof *rs);
    int rc = -1;
    if (!fn || !order || !start || !argv || !argl || !argc || !at || !head || !rs)
        goto done;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    s_sort_self = self;
    qsort(order, n, sizeof *order, s_cmp);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || self->entries[order[i]].shard != self->entries[order[i - 1]].shard ||
            i - start[calls - 1] == CHUNK)
            start[calls++] = i;
    start[calls] = n;
    size_t used = 0;
    for (size_t c = 0; c < calls; c++) {
        size_t m = start[c + 1] - start[c];
        at[c] = used;
        const char **a = argv + used;
        int k = 0;
        a[k++] = "FCALL";
        a[k++] = "pg_index";
        snprintf(head[c][0], sizeof head[c][0], "%zu", m);
        a[k++] = head[c][0];
        for (size_t i = start[c]; i < start[c + 1]; i++)
            a[k++] = self->arena + self->entries[order[i]].off[0];
        snprintf(head[c][1], sizeof head[c][1], "%lld", (long long)now_ms);
        snprintf(head[c][2], sizeof head[c][2], "%lld", (long long)self->cfg->hooks_id_ttl_s);
        snprintf(head[c][3], sizeof head[c][3], "%lld", (long long)self->cfg->hooks_contact_ttl_s);
        a[k++] = head[c][1];
        a[k++] = head[c][2];
        a[k++] = head[c][3];
        for (size_t i = start[c]; i < start[c + 1]; i++)
            for (int v = 0; v < NV; v++)
                a[k++] = self->arena + self->entries[order[i]].off[1 + v];
        for (int i = 0; i < k; i++)
            argl[used + (size_t)i] = strlen(a[i]);
        argc[c] = k;
        used += (size_t)k;
    }
    rc = st_fn_pipeline(fn, "pg_index", calls, argc, at, argv, argl, rs);
    for (size_t c = 0; c < calls; c++)
        s_take_early(self, rs[c], now_ms);
done:
    if (rc < 0 && !self->logged_error) {
        self->logged_error = true;
        pg_log("webhook maps of %zu jobs not written (%s): their callbacks stay unmatched", n,
               fn ? st_fn_strerror(fn) : "redis unavailable or out of memory");
    } else if (rc == 0) {
        self->logged_error = false;
    }
    for (size_t c = 0; rs && c < calls; c++)
        if (rs[c])
            freeReplyObject(rs[c]);
    free(order), free(start), free(argv), free(argl), free(argc), free(at), free(head), free(rs);
    self->used = 0;
    if (rc < 0 && fn && brk_redis_context(self->redis) && brk_redis_context(self->redis)->err)
        brk_redis_drop(self->redis, "webhook maps");
    return rc;
}

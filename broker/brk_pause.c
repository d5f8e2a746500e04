/* brk_pause.c — moving parked jobs back to admission once their pause is gone (brk_pause.h). */
#include "brk_pause.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>

#include "st_fn.h"
#include "st_keys.h"

#define UNPARK_CHUNK 200 /* parked jobs looked at per shard and tick */

struct brk_pause {
    const brk_config_t *cfg;
    brk_redis_t *redis;
    st_keys_t *keys;
    long *cursor; /* per shard: the next index of its parked set to look at */
};

brk_pause_t *brk_pause_new(const brk_config_t *cfg, brk_redis_t *redis) {
    brk_pause_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->redis = redis;
    self->keys = st_keys_new(cfg->redis_prefix, cfg->shards);
    self->cursor = self->keys ? calloc((size_t)cfg->shards, sizeof *self->cursor) : NULL;
    if (!self->cursor) {
        brk_pause_destroy(&self);
        return NULL;
    }
    return self;
}

void brk_pause_destroy(brk_pause_t **self_p) {
    if (!self_p || !*self_p)
        return;
    st_keys_destroy(&(*self_p)->keys);
    free((*self_p)->cursor);
    free(*self_p);
    *self_p = NULL;
}

long brk_pause_unpark(brk_pause_t *self, int64_t now_ms, long long *parked) {
    if (parked)
        *parked = 0;
    st_fn_t *fn = brk_redis_fn(self->redis);
    redisContext *c = brk_redis_context(self->redis);
    if (!fn || !c)
        return 0;
    int shards = st_keys_shards(self->keys);
    char now[32], chunk[16];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(chunk, sizeof chunk, "%d", UNPARK_CHUNK);
    int appended = 0;
    for (int s = 0; s < shards; s++) {
        char k[3][ST_KEY_MAX], from[32];
        st_key_shared(self->keys, s, "pause", k[0], sizeof k[0]);
        st_key_shared(self->keys, s, "paused", k[1], sizeof k[1]);
        st_key_shared(self->keys, s, "deferred", k[2], sizeof k[2]);
        snprintf(from, sizeof from, "%ld", self->cursor[s]);
        const char *argv[] = {NULL, NULL, "3", k[0], k[1], k[2], now, from, chunk};
        size_t argl[9];
        for (int i = 0; i < 9; i++)
            argl[i] = (size_t)-1;
        if (st_fn_append(fn, "pg_unpark", 9, argv, argl) < 0)
            break;
        appended++;
    }
    long moved = 0;
    int rc = appended == shards ? 0 : -1;
    for (int s = 0; s < appended; s++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
            brk_redis_drop(self->redis, "unparking paused jobs");
            return -1;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_INTEGER) {
            moved += (long)r->element[0]->integer;
            if (parked)
                *parked += r->element[1]->integer;
            self->cursor[s] = (long)r->element[2]->integer;
        } else if (!st_fn_is_missing(r)) {
            rc = -1;
        }
        freeReplyObject(r);
    }
    if (rc != 0) {
        brk_redis_drop(self->redis, "unparking paused jobs");
        return -1;
    }
    return moved;
}

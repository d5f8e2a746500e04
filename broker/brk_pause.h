/* brk_pause.h — pregond's side of pauses: parked jobs whose pause was lifted go back to
 * admission.
 *
 * pregonctl pause/resume edit the pause hash of every shard (store/pregon.lua pg_pause); the
 * dispatch function (pg_lease) parks a queued job it finds paused. Nothing tells pregond that
 * a pause was lifted, so every timer tick brk_pause_unpark looks at a chunk of each shard's
 * parked set (pg_unpark, one pipelined call per shard, a cursor per shard so a long parked set
 * is walked, not its head over and over) and moves the jobs no pause holds any more to the
 * deferred set, due at once: the release timer then admits them again, with today's caps.
 * Owned by brk_timers; loop thread only. */
#ifndef BRK_PAUSE_H
#define BRK_PAUSE_H

#include <stdint.h>

#include "brk_config.h"
#include "brk_redis.h"

typedef struct brk_pause brk_pause_t;

/* Borrows cfg and redis. NULL when out of memory or on an invalid prefix. */
brk_pause_t *brk_pause_new(const brk_config_t *cfg, brk_redis_t *redis);

/* Frees; accepts NULL and nulls the caller's pointer. */
void brk_pause_destroy(brk_pause_t **self_p);

/* One round over the shards. Returns the jobs moved back to admission, or -1 after a Redis
 * error (the connection is dropped: brk_redis reconnects). Parked jobs left in *parked (may be
 * NULL). */
long brk_pause_unpark(brk_pause_t *self, int64_t now_ms, long long *parked);

#endif

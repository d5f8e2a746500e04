/* brk_redis.h — pregond's connection to Redis: fail closed, reconnect, and never admit against
 * a dataset that is not the one this broker has been counting on.
 *
 * Owns the hiredis context and everything bound to it (the function caller, the admitter, the
 * store). While Redis is unreachable, or came back without this broker's dataset stamp (an empty
 * Redis would silently reset every cap) or with another one, brk_redis_ok answers false and
 * brk_redis_busy_reason says why, until the stamp is right again or an operator adopts the
 * dataset (pregonctl redis adopt). The stamp is one key per shard (st_keys "dataset"), so a
 * cluster node that lost its slots is caught too. Every connect and reconnect authenticates
 * (brk_rauth.h: redis.user, the password read again each time); a refused AUTH or an ACL that
 * refuses a command keeps it failing closed like an outage. Logs its state changes, once each
 * (an ACL refusal once, then a summary a minute while it lasts; never a password). */
#ifndef BRK_REDIS_H
#define BRK_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_counters.h"
#include "brk_store.h"
#include "rl_admit.h"
#include "st_keys.h"

typedef struct brk_redis brk_redis_t;

/* Borrows cfg, keys and counters; copies broker_tag. Connects at once (failure is a state, not
 * an error). Returns NULL only on allocation failure. */
brk_redis_t *brk_redis_new(const brk_config_t *cfg, const st_keys_t *keys, const char *broker_tag,
                           brk_counters_t *counters);
void brk_redis_destroy(brk_redis_t **self_p);

/* True when connected to the right dataset; otherwise tries to reconnect (at most once a
 * second) and checks the stamp again. */
bool brk_redis_ok(brk_redis_t *self, int64_t now_ms);

/* Reads the stamps again (pipelined, one GET per shard): a FLUSHALL or a failover to an empty
 * replica does not drop the connection, so the timers call this every second. */
void brk_redis_verify(brk_redis_t *self, int64_t now_ms);

/* Drops the connection after an error (`why` is logged once). */
void brk_redis_drop(brk_redis_t *self, const char *why);

/* Why brk_redis_ok is false: "redis-unavailable" or "redis-dataset-changed". */
const char *brk_redis_busy_reason(const brk_redis_t *self);

/* The admitter and store of the current connection; NULL while not ok. */
rl_admit_t *brk_redis_admit(brk_redis_t *self);
brk_store_t *brk_redis_store(brk_redis_t *self);
/* The connection and its function caller, for modules that call the library directly
 * (brk_index, brk_inbound); NULL while not ok. After an error, call brk_redis_drop. */
redisContext *brk_redis_context(brk_redis_t *self);
st_fn_t *brk_redis_fn(brk_redis_t *self);
/* The key layout it was made with (borrowed from the caller of brk_redis_new). */
const st_keys_t *brk_redis_keys(const brk_redis_t *self);

#endif

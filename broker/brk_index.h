/* brk_index.h — the maps a webhook finds its job and its debtor by, written as jobs go out.
 *
 * A provider's callback names its own message id; a debtor's reply names a phone number. Neither
 * names a tenant or a debtor, so pregond writes two maps (keys in store/st_keys.h): at dispatch,
 * contact point -> the tenant, debtor and job that contacted it (a STOP finds every tenant that
 * wrote to the number); at a SENT report, the provider's message id -> job key and attempt (a
 * delivery status finds its job). Each map lives in the shard its own names hash to, so writing
 * them is separate from the job's own calls: entries are buffered here and written with the
 * reports (brk_reports), one pg_index call per shard, pipelined. A callback that overtook its
 * SENT report was kept by pg_lookup; pg_index hands it back and this module passes it to the
 * `early` callback to be applied now. If Redis is down the entries are dropped (a status for
 * that job then stays unmatched: counted by brk_inbound, never misapplied). Borrows everything;
 * not thread-safe. */
#ifndef BRK_INDEX_H
#define BRK_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_redis.h"
#include "st_keys.h"

typedef struct brk_index brk_index_t;

/* An event kept by pg_lookup (a packed InboundEvent), handed back once its id is mapped. */
typedef void (*brk_index_early_fn)(void *ctx, const void *packed, size_t len, int64_t now_ms);

brk_index_t *brk_index_new(brk_redis_t *redis, const st_keys_t *keys, const brk_config_t *cfg);
void brk_index_destroy(brk_index_t **self_p);
void brk_index_set_early(brk_index_t *self, brk_index_early_fn fn, void *ctx);

/* A job goes out on channel (pregon.proto numbering) to contact; sender may be "" (the
 * worker's default). Strings are copied. */
void brk_index_contact(brk_index_t *self, int64_t now_ms, int channel, const char *contact,
                       const char *tenant, const char *debtor, const char *job_id,
                       const char *sender);
/* A SENT report: the provider's id on channel maps to job_key's attempt. */
void brk_index_sent(brk_index_t *self, int64_t now_ms, int channel, const char *provider_id,
                    const char *job_key, unsigned attempt);

/* Writes what is buffered. Returns 0, or -1 when Redis failed (the entries are dropped). */
int brk_index_flush(brk_index_t *self, int64_t now_ms);

/* Entries buffered now (for the loop's wake-up). */
size_t brk_index_pending(const brk_index_t *self);

#endif

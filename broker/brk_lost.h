/* brk_lost.h — pg_lease calls whose answer was lost, remembered until Redis answers again.
 *
 * A pg_lease call (store/pregon.lua) that Redis ran, and wrote to its AOF, but whose reply never
 * reached pregond (Redis killed, the connection cut) leaves its jobs `dispatched` in Redis and
 * sent to no worker. brk_store_lease remembers such a call here: its shard, channel, lease expiry
 * (the same for every job of the call: the leases set scores them by it) and the nonces it drew
 * for it. Once Redis answers again, before the lease-expiry sweep can find those leases, the
 * store looks for them (brk_store_recover_lost: same shard, same expiry, one of these nonces) and
 * brk_workers hands them back (HANDED_BACK: not an attempt, sent later).
 *
 * Plain data with no clock and no I/O; bounded (BRK_LOST_MAX calls: when full the oldest is
 * forgotten and its leases expire UNKNOWN as before). Owned by brk_workers; the store borrows it.
 */
#ifndef BRK_LOST_H
#define BRK_LOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BRK_LOST_MAX 64 /* calls remembered: a Redis outage cuts off one round of calls */

typedef struct brk_lost brk_lost_t;

/* One call: n nonces of ST_NONCE_HEX hex digits each, one after the other in `nonces`. */
typedef struct {
    int shard, channel;
    int64_t until_ms;
    char *nonces;
    int n;
} brk_lost_call_t;

brk_lost_t *brk_lost_new(void);
void brk_lost_destroy(brk_lost_t **self_p);

/* Remembers a call (nonces copied: n * ST_NONCE_HEX characters). Returns 0, 1 when the oldest
 * call was forgotten to make room, or -1 (out of memory: nothing remembered). */
int brk_lost_add(brk_lost_t *self, int shard, int channel, int64_t until_ms, const char *nonces,
                 int n);

/* How many calls are remembered, and the oldest (NULL when none). */
size_t brk_lost_count(const brk_lost_t *self);
const brk_lost_call_t *brk_lost_oldest(const brk_lost_t *self);

/* Forgets the oldest call. */
void brk_lost_forget_oldest(brk_lost_t *self);

/* True when `nonce` (ST_NONCE_HEX hex digits) is one the call drew. */
bool brk_lost_has_nonce(const brk_lost_call_t *call, const char *nonce);

/* Calls ever remembered, and those forgotten unrecovered (evicted when full, or no memory). */
void brk_lost_stats(const brk_lost_t *self, uint64_t *added, uint64_t *forgotten);

#endif

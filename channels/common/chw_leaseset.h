/* chw_leaseset.h — leases a worker has reported but must still vouch for on reconnection.
 *
 * A broker may die after a report reached it and before it applied it. Until such a lease
 * expires, the worker lists it in WorkerReady.held_leases, so that a new broker does not take it
 * for a dispatch lost in transit and hand it back (a second contact, against G2). This module is
 * that list: a FIFO of lease ids with their expiry, bounded in bytes (the room one WorkerReady
 * gives them). When an entry has to go before its expiry (the bound, or an allocation failure)
 * the set is "incomplete" until that entry would have expired, and the caller must not present
 * it as complete meanwhile. No clock, no I/O: times are the caller's wall clock in ms. Not
 * thread-safe. */
#ifndef CHW_LEASESET_H
#define CHW_LEASESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chw_leaseset chw_leaseset_t;

/* Bytes `lease_id` takes as one repeated string of a protobuf message (field header included):
 * the unit of every bound of this module. */
size_t chw_leaseset_entry_bytes(const char *lease_id);

/* New empty set holding at most `max_bytes` (counted with chw_leaseset_entry_bytes). NULL on
 * allocation failure. */
chw_leaseset_t *chw_leaseset_new(size_t max_bytes);

/* Frees the set; accepts NULL; nulls the caller's pointer. */
void chw_leaseset_destroy(chw_leaseset_t **self_p);

/* Remembers a copy of `lease_id` until `expires_ms`. The oldest entries make room when the set
 * would exceed its bound (then it is incomplete until the latest expiry among them). Returns 0,
 * or -1 on allocation failure: the lease is not kept and the set is incomplete until
 * `expires_ms`. */
int chw_leaseset_add(chw_leaseset_t *self, const char *lease_id, int64_t expires_ms);

/* Like chw_leaseset_add, for the report numbered `seq` (increasing): chw_leaseset_ack forgets
 * it once the broker says it applied it. */
int chw_leaseset_add_seq(chw_leaseset_t *self, const char *lease_id, int64_t expires_ms,
                         uint64_t seq);

/* The broker applied the report numbered `seq`: forgets its lease (O(log n); entries are in
 * seq order). Unknown numbers are ignored. */
void chw_leaseset_ack(chw_leaseset_t *self, uint64_t seq);

/* Forgets every entry whose expiry is at or before `now_ms`. O(entries): call it once in a
 * while (the worker does once per heartbeat and before each WorkerReady), not per message. */
void chw_leaseset_prune(chw_leaseset_t *self, int64_t now_ms);

/* Entries held. */
size_t chw_leaseset_count(const chw_leaseset_t *self);

/* Sum of chw_leaseset_entry_bytes over the entries held. */
size_t chw_leaseset_bytes(const chw_leaseset_t *self);

/* The i-th entry (oldest first, i < count) and, if `expires_ms` is not NULL, its expiry. The
 * string is borrowed: valid until the next add, prune or destroy. */
const char *chw_leaseset_get(const chw_leaseset_t *self, size_t i, int64_t *expires_ms);

/* True when an entry left the set before its expiry and that expiry is after `now_ms`: the set
 * does not name every reported lease still alive. */
bool chw_leaseset_incomplete(const chw_leaseset_t *self, int64_t now_ms);

#endif

/* chw_shaper.h — per-sender rate shaping: a token bucket and a small FIFO for each sender.
 *
 * A worker queues each job under its sender (from number, page, sender id) and starts only the
 * jobs whose sender has a token, round-robin across senders, so a slow sender never blocks the
 * others. Optionally a sender belongs to a group with a bucket of its own (WhatsApp: the senders
 * are sender+recipient pairs at ~1 per 6 s, the group is the business number at 80 msg/s): an
 * item then starts only when both its sender and its group have a token. Items are small
 * integers chosen by the caller (the worker's slot numbers). This module keeps no clock: every
 * call takes the caller's monotonic time in ms. Not thread-safe. */
#ifndef CHW_SHAPER_H
#define CHW_SHAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token bucket: `rate` tokens per second up to `burst`. rate <= 0 means unlimited. */
typedef struct {
    double rate;
    double burst;
    double tokens;
    int64_t last_ms;
} chw_bucket_t;

/* Starts full (burst tokens) at `now_ms`. burst < 1 is read as 1. */
void chw_bucket_init(chw_bucket_t *self, double rate, double burst, int64_t now_ms);
/* Takes one token if there is one at `now_ms`; false otherwise. */
bool chw_bucket_take(chw_bucket_t *self, int64_t now_ms);
/* Milliseconds until one token is available (0 if one is now). */
int64_t chw_bucket_wait_ms(chw_bucket_t *self, int64_t now_ms);

typedef struct chw_shaper chw_shaper_t;

/* New shaper: every sender gets a bucket of `rate` msg/s and `burst`, and a FIFO of at most
 * `queue_max` items (>= 1). NULL on allocation failure. */
chw_shaper_t *chw_shaper_new(double rate, double burst, uint32_t queue_max);
/* Frees the shaper; accepts NULL; nulls the caller's pointer. */
void chw_shaper_destroy(chw_shaper_t **self_p);

/* Queues `item` for `sender` ("" is the default sender). Returns 0, or -1 when that sender's
 * FIFO is full (or on allocation failure): then *retry_in_ms (if not NULL) estimates when the
 * sender will have room, and the caller should hand the job back. */
int chw_shaper_push(chw_shaper_t *self, const char *sender, int item, int64_t now_ms,
                    int64_t *retry_in_ms);
/* Gives every group (chw_shaper_push_in) a bucket of `rate` msg/s and `burst` (0 = max(1,
 * rate)); rate <= 0 (the default) = groups are not limited. Call before the first push. */
void chw_shaper_set_group_rate(chw_shaper_t *self, double rate, double burst);

/* As chw_shaper_push, with `sender` in `group` (NULL or "" = no group). A sender stays in the
 * group of its latest push. */
int chw_shaper_push_in(chw_shaper_t *self, const char *sender, const char *group, int item,
                       int64_t now_ms, int64_t *retry_in_ms);
/* Next item allowed to start at `now_ms` (takes its sender's token, and its group's), or -1 if
 * none. */
int chw_shaper_pop(chw_shaper_t *self, int64_t now_ms);
/* Next queued item whatever the tokens (to hand jobs back on halt or stop), or -1 if empty. */
int chw_shaper_pop_any(chw_shaper_t *self);
/* Milliseconds until chw_shaper_pop can return an item; -1 if nothing is queued. */
int64_t chw_shaper_wake_ms(chw_shaper_t *self, int64_t now_ms);
/* Items queued, all senders. */
size_t chw_shaper_queued(const chw_shaper_t *self);
/* Distinct senders known. */
size_t chw_shaper_senders(const chw_shaper_t *self);
/* Distinct groups known. */
size_t chw_shaper_groups(const chw_shaper_t *self);

#endif

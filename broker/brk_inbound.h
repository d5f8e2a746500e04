/* brk_inbound.h — applying what providers tell us afterwards, through the state machine.
 *
 * pregon-hooks verifies a provider's webhook and turns it into an InboundEvent; pregond applies
 * it here, idempotently (providers deliver webhooks more than once):
 *   DELIVERY_STATUS  the provider's message id leads to its job (pg_lookup, brk_index's map);
 *                    delivered/read: SENT -> DELIVERED, undelivered/failed: SENT -> FAILED
 *                    (reason "undelivered", the provider's code kept), both through pg_report,
 *                    which marks the history record so "direct contact" rules see it. A status
 *                    that overtakes the worker's SENT report is kept by pg_lookup and applied
 *                    when the id is mapped (brk_inbound_early). queued/sent/accepted: ignored.
 *                    A failed status with fallback_eligible submits the job's fallback
 *                    (brk_fallback), also when the status comes again (idempotent).
 *   REPLY, CONVERSATION, OPT_OUT, OPT_IN, IVR_DIGITS, PAYMENT_CLAIMED, WRONG_NUMBER  the contact
 *                    point leads to the tenants that contacted it (and to the debtor and job
 *                    each contacted): each gets an audited inbound record in the debtor's shard
 *                    (pg_inbound), once per event id; a reply or a payment claim marks the job's
 *                    history record a conversation; an opt-out adds a contact-point suppression
 *                    for every debtor of the tenant, an opt-in lifts the one an opt-out keyword
 *                    made (never an operator's or a regulator's); a wrong number suppresses the
 *                    contact point on every channel for every debtor of the tenant (rule
 *                    "wrong-number") and, when the job asks (fallback_on_wrong_number), submits
 *                    its fallback; a message on WhatsApp or Messenger opens the debtor's 24-hour
 *                    service window there (st_key_window).
 * Every applied event is published on the events feed (brk_events_publish_inbound: type
 * "inbound", Event.inbound with the tenant, debtor and job it answers).
 * Results, as InboundAck.result says: "applied", "duplicate", "ignored", "unknown", "refused",
 * "invalid" (a field missing, or an unknown field protobuf-c could not write back when the
 * event is kept: brk_val_repackable), "error" (Redis failed: nothing is half applied that a
 * retry would not finish).
 * Borrows everything; not thread-safe. */
#ifndef BRK_INBOUND_H
#define BRK_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_counters.h"
#include "brk_events.h"
#include <stdbool.h>
#include <stdint.h>

#include "brk_redis.h"
#include "brk_rules.h"
#include "pregon.pb-c.h"
#include "st_keys.h"

typedef struct brk_inbound brk_inbound_t;

brk_inbound_t *brk_inbound_new(brk_redis_t *redis, const st_keys_t *keys, const brk_config_t *cfg,
                               brk_events_t *events, brk_counters_t *n);

/* The rules the retry of an unanswered voice call reads (brk_retry.h): a voice DELIVERY_STATUS
 * failed that makes the job FAILED proposes its retry through admission. Borrowed; unset = no
 * retries. */
void brk_inbound_set_rules(brk_inbound_t *self, const brk_rules_t *rules);
void brk_inbound_destroy(brk_inbound_t **self_p);

/* Fallbacks of failed deliveries (InboundEvent.fallback_eligible) and wrong-number answers go
 * through `fallback` (borrowed; NULL, the default: none). */
typedef struct brk_fallback brk_fallback_t;
void brk_inbound_set_fallback(brk_inbound_t *self, brk_fallback_t *fallback);

/* A voice call's end (its final status: completed, or busy/no-answer/failed/canceled) frees
 * the line the worker kept for it: `fn(ctx, tag, lease_id, now_ms)` gets the worker's lease
 * tag and the lease as the job records them (brk_workers_release_line). Unset: none. */
typedef bool (*brk_line_end_fn)(void *ctx, const char *tag, const char *lease_id, int64_t now_ms);
void brk_inbound_set_line_end(brk_inbound_t *self, brk_line_end_fn fn, void *ctx);

/* Applies one event. Returns its result (a static string) and writes a detail into detail. */
const char *brk_inbound_apply(brk_inbound_t *self, const Pregon__InboundEvent *ev, int64_t now_ms,
                              char *detail, size_t detail_len);

/* brk_index_early_fn: an event kept before its id was mapped (a packed InboundEvent). */
void brk_inbound_early(void *ctx, const void *packed, size_t len, int64_t now_ms);

#endif

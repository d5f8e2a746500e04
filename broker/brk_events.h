/* brk_events.h — the live event feed (ZeroMQ XPUB): lossy by nature, never the audit path.
 *
 * Each event is two frames: its topic, "TENANT" 0x1F "TYPE" ("acme\x1fverdict"; "\x1fhalt" for
 * an event without a tenant, brk_tenancy.h), then a serialized pregon.Event. The socket is an
 * XPUB in manual mode (ZMQ_XPUB_MANUAL): a subscription a subscriber sends is not applied by
 * libzmq but handed to brk_events_handle, which applies only what the subscriber's key may read
 * (brk_tenancy_subscription): a key bound to tenants receives only their events, even when it
 * subscribes to everything; a subscription naming no tenant of its key is refused, counted and
 * logged (at most one line per 10 s). The key is the one the subscription message came from
 * (libzmq attaches the ZAP User-Id to it, brk_auth_peer). Subscriptions are decided when they
 * arrive: when keys are reloaded, main binds the socket again, so that every subscriber's are
 * decided again for its key as it is then (a key that lost a tenant stops receiving it).
 *
 * Ownership: the socket, the brk_auth_t and the counters are borrowed; brk_events_t is main's. */
#ifndef BRK_EVENTS_H
#define BRK_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "brk_auth.h"
#include "brk_counters.h"
#include "pregon.pb-c.h"

typedef struct brk_events brk_events_t;

/* Publishes on the borrowed XPUB socket `xpub` (set ZMQ_XPUB_MANUAL before binding it; NULL:
 * publishing does nothing). auth says who a subscriber is; n counts refused subscriptions. */
brk_events_t *brk_events_new(void *xpub, brk_auth_t *auth, brk_counters_t *n);
void brk_events_destroy(brk_events_t **self_p);

/* Reads one waiting (un)subscription message from the socket and applies what the sender's key
 * may read; false when none was waiting. Call it until false when the socket is readable, and
 * with nothing else done on the socket in between (ZMQ_SUBSCRIBE acts on the pipe of the last
 * message read). A message that is no subscription makes the subscriptions read after it, until
 * none waits, unattributable: they are dropped and counted (brk_counters_t.subs_dropped), and
 * brk_events_rebind_due says when the socket should be bound again. */
bool brk_events_handle(brk_events_t *self, int64_t now_ms);

/* Why main should re-create the socket now (NULL: it should not): subscriptions were dropped,
 * or one may have been applied for a subscriber already gone (then nothing is published until
 * it is done: libzmq 4.3.4 would read freed memory, brk_events.c), and the last time was at
 * least 5 s ago. Events published while a subscription applied in this turn is not known safe
 * yet, or while tainted, are withheld (counted, brk_counters_t.events_withheld). */
const char *brk_events_rebind_due(brk_events_t *self, int64_t now_ms);

/* The socket was re-created (subscriptions dropped, or keys reloaded: a subscriber then
 * reconnects and its subscriptions are decided for its key as it is now): publish on xpub. */
void brk_events_rebound(brk_events_t *self, void *xpub, int64_t now_ms);

/* Publishes one event; never blocks (a slow subscriber loses events). Strings may be NULL. */
void brk_events_publish(brk_events_t *self, const char *type, const char *tenant,
                        const char *job_id, int channel, const Pregon__Verdict *verdict,
                        const char *detail);

/* Publishes an applied InboundEvent (type "inbound", topic the tenant's) with Event.inbound
 * filled: `in` as pregon-hooks sent it, its tenant, debtor_id and job_id set to those of the job
 * it answers (for a reply, the tenant's latest job to that contact point), so that a campaign
 * system's agents or chatbot can take the conversation over. detail: what pregond did ("REPLY
 * for 1 tenant(s)...", "delivered", "failed"). Strings may be NULL. */
void brk_events_publish_inbound(brk_events_t *self, const char *tenant, const char *debtor,
                                const char *job_id, const Pregon__InboundEvent *in,
                                const char *detail);
/* Publishes a "report" event: tenant, job_id and channel of the job, `report` the outcome as
 * applied (borrowed; its fields as a worker's DeliveryReport: outcome, provider_id,
 * provider_code, detail, retry_at_ms, at_ms, channel, job_id, tenant; never the lease id),
 * detail the state the store answered ("sent", "retry", ...). Never blocks. */
void brk_events_publish_report(brk_events_t *self, const char *tenant, const char *job_id,
                               const Pregon__DeliveryReport *report, const char *detail);
/* False when no event can go out (no feed configured, or it is off): callers may skip building
 * one. NULL reads as false. */
bool brk_events_on(const brk_events_t *self);

#endif

/* brk_tenancy.h — which tenants a client key's submissions and event subscriptions may name.
 *
 * Pure decisions over a brk_identity_t (brk_auth.h), no socket, no state: the frontend asks
 * brk_tenancy_split which jobs of a batch the submitting key may submit (the others are refused
 * REJECTED auth.tenant / tenant-forbidden before admission: no idempotency record, no counter,
 * no audit record under a tenant the key is not bound to); the events feed builds its topics
 * with brk_tenancy_topic and asks brk_tenancy_subscription which prefixes to apply for a
 * subscription a subscriber sent.
 *
 * The event topic is "TENANT" 0x1F "TYPE" (e.g. "acme\x1fverdict"); an event without a tenant
 * (a halted channel, a report, an inbound event that matched no job) is "\x1fTYPE". A tenant is
 * printable ASCII without ':' (brk_validate.h), never 0x1F, so the prefix "acme\x1f" matches
 * tenant acme exactly, never "acme2". A NULL identity (a key removed since it connected), or one
 * without BRK_ROLE_CLIENT, may do nothing. */
#ifndef BRK_TENANCY_H
#define BRK_TENANCY_H

#include <stdbool.h>
#include <stddef.h>

#include "brk_auth.h"
#include "pregon.pb-c.h"
#include "rl_admit.h"

#define BRK_TOPIC_SEP   '\x1f'
#define BRK_TOPIC_MAX   128 /* a tenant (64), the separator, a type */
#define BRK_TENANT_RULE "auth.tenant"
#define BRK_TENANT_WHY  "tenant-forbidden"

/* Writes the topic of an event of `type` for `tenant` (NULL or "": none) into buf, NUL-
 * terminated; returns its length, or -1 when it does not fit in len (nothing is published). */
int brk_tenancy_topic(char *buf, size_t len, const char *tenant, const char *type);

/* Sorts reqs[0..n) by whether id may submit their tenant (brk_identity_may_tenant): writes the
 * indices of the allowed ones, in order, into allowed[] (n entries) and returns how many; every
 * other job's verdict[i] is set to REJECTED, rule BRK_TENANT_RULE, reason BRK_TENANT_WHY (the
 * allowed ones' verdicts are left alone). A NULL id, or one without BRK_ROLE_CLIENT, allows
 * none. */
size_t brk_tenancy_split(const brk_identity_t *id, Pregon__SendRequest *const *reqs, size_t n,
                         size_t *allowed, rl_admit_verdict_t *verdicts);

/* What becomes of a subscription. */
typedef enum {
    BRK_SUB_AS_IS = 0,    /* within the key's tenants (or the key may read every tenant) */
    BRK_SUB_NARROWED = 1, /* wider than the key's tenants: each of them that it covers instead */
    BRK_SUB_REFUSED = 2,  /* names no tenant the key may read: nothing applied */
} brk_sub_t;

/* Called with each prefix to subscribe (or unsubscribe) the subscriber to; prefix is borrowed
 * for the call. */
typedef void (*brk_sub_fn)(const void *prefix, size_t len, void *ctx);

/* Decides the subscription topic[0..len) (a prefix of topics, "" for all) of a subscriber whose
 * key is id, calling fn for each prefix to apply:
 *   - a key that may read every tenant: topic itself, AS_IS;
 *   - a topic that names a tenant ("T\x1f...") the key may read: topic itself, AS_IS;
 *   - a topic shorter than any tenant's prefix ("", "ac") that some of the key's tenants extend:
 *     "T\x1f" for each of those tenants T, NARROWED (so "" is every tenant of the key);
 *   - anything else (another tenant, the tenant-less events "\x1f...", a NULL id or one without
 *     BRK_ROLE_CLIENT): REFUSED, and fn is not called.
 * An unsubscription is decided the same way, so it removes what the subscription applied (as
 * long as the key's tenants did not change in between). */
brk_sub_t brk_tenancy_subscription(const brk_identity_t *id, const void *topic, size_t len,
                                   brk_sub_fn fn, void *ctx);

#endif

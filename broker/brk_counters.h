/* brk_counters.h — pregond's counters since start: plain data owned by main, incremented by the
 * modules, read for the stop line now and for /metrics later. */
#ifndef BRK_COUNTERS_H
#define BRK_COUNTERS_H

#include <stdint.h>

/* The results of an inbound event (InboundAck.result), in the order of brk_counters_t.inbound. */
#define BRK_INBOUND_RESULTS                                                                        \
    { "applied", "duplicate", "ignored", "unknown", "refused", "invalid", "error" }

typedef struct {
    uint64_t verdicts[7]; /* by rl_vcode_t */
    uint64_t bad_frames, too_large, dispatched, reports, stale_reports, refused_reports;
    uint64_t bad_leases, expired_leases, released_deferred, released_retries, redis_errors;
    uint64_t reports_dropped;  /* reports not kept: Redis unreachable and MAX_PENDING queued */
    uint64_t handed_back_lost; /* leases a worker did not hold on reconnect: handed back */
    uint64_t handed_back_unanswered; /* leases of a pg_lease call whose answer was lost (Redis
                                      * ran it, pregond never got the reply): handed back */
    uint64_t wrong_leases;           /* reports naming a lease id that is not the current lease's */
    uint64_t foreign_reports;        /* reports from a worker that does not hold the lease */
    uint64_t workers_refused;  /* WorkerReady refused: channel not the key's, table room full */
    uint64_t failed, retries;  /* reports that left a job FAILED / in RETRY */
    uint64_t inbound[7];       /* inbound events by result, in BRK_INBOUND_RESULTS order */
    uint64_t hooks_bad_frames; /* frames from pregon-hooks that were not a HooksToBroker */
    uint64_t auth_denied;      /* CURVE handshakes the ZAP handler refused (brk_auth) */
    uint64_t auth_revoked;     /* messages from a key no longer admitted (removed at a reload
                                * while its peer stayed connected): refused */
    /* tenant binding (brk_tenancy.h): jobs refused tenant-forbidden (also in verdicts[REJECTED]);
     * event subscriptions refused (naming no tenant of their key), narrowed to the key's
     * tenants, or dropped (read while libzmq could not say which subscriber sent them, after a
     * message that was no subscription: brk_events.h); such messages */
    uint64_t tenant_forbidden, subs_refused, subs_narrowed, subs_dropped, events_bad_frames;
    /* subscriptions that may have been applied for a subscriber already gone, and events not
     * published while the feed could not be trusted (brk_events.c) */
    uint64_t subs_tainted, events_withheld;
    /* fallback jobs submitted (brk_fallback), by verdict (rl_vcode_t), and contact points
     * suppressed because a worker reported them dead (DeliveryReport.suppress_contact) */
    uint64_t fallbacks[7], dead_contacts;
} brk_counters_t;

#endif

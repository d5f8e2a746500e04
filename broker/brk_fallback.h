/* brk_fallback.h — a job that cannot reach its debtor on its channel goes on to the next one,
 * and a contact point a provider says is dead is suppressed.
 *
 * Fallback: a job with fallback_channels whose attempt FAILED fallback-eligible (a worker's
 * DeliveryReport.fallback_eligible: WhatsApp 131026, Messenger 551, SMS 21612/21614/21635; a
 * provider's DELIVERY_STATUS failed with InboundEvent.fallback_eligible), or that got a
 * WRONG_NUMBER answer and asks for it (fallback_on_wrong_number), is submitted again on its next
 * channel (brk_fbplan.h: channel, contact point, template, the derived id) through full
 * admission (brk_admission_fallback: that channel's policy, caps, quiet hours, suppressions and
 * window decide: ACCEPTED, DEFERRED, REJECTED, EXPIRED). A candidate REJECTED (suppressed, its
 * window closed, its template not serving the channel...) passes to the one after it in the
 * list; any other verdict ends the step. The new job's decision record says
 * "fallback-of:ORIGINAL", and the original gets a FALLBACK audit record naming the new job and
 * its verdict (pregon.lua's pg_admit): the audit links the two. Idempotent: a report or webhook
 * applied again derives the same ids and gets DUPLICATE (the original's FALLBACK record is not
 * written again). Each fallback verdict is published on the events feed (type "verdict",
 * detail "fallback-of:ORIGINAL").
 *
 * The original's payload is what the new job is built from: pg_admit keeps it (field fb) for a
 * job with fallback channels once it is sent, delivered or failed; a job without one has nothing
 * to fall back to.
 *
 * Suppression: a FAILED report with DeliveryReport.suppress_contact suppresses the job's contact
 * point for its tenant on the job's channel, rule "undeliverable", who "worker:CHANNEL", audited
 * (st_suppress); an operator's or a regulator's suppression of it stays as it is.
 *
 * Synchronous hiredis through brk_redis (every call one slot); borrows everything. */
#ifndef BRK_FALLBACK_H
#define BRK_FALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "brk_config.h"
#include "brk_counters.h"
#include "brk_events.h"
#include "brk_redis.h"
#include "brk_rules.h"
#include "st_keys.h"

typedef struct brk_fallback brk_fallback_t;

/* n counts fallbacks by verdict and dead contact points (brk_counters_t). */
brk_fallback_t *brk_fallback_new(const brk_config_t *cfg, brk_redis_t *redis, const st_keys_t *keys,
                                 const brk_rules_t *rules, brk_events_t *events, brk_counters_t *n);
void brk_fallback_destroy(brk_fallback_t **self_p);

/* A fallback REJECTED window-closed (a Messenger or free-form WhatsApp candidate outside the
 * debtor's window) writes its contact map through `reports` (borrowed; NULL, the default: none),
 * as a submitted job does (brk_front_set_reports). */
typedef struct brk_reports brk_reports_t;
void brk_fallback_set_reports(brk_fallback_t *self, brk_reports_t *reports);

/* Why a job falls back. */
typedef enum {
    BRK_FB_ELIGIBLE = 0, /* its attempt failed fallback-eligible */
    BRK_FB_WRONG_NUMBER, /* the debtor said it is not their number: only when the job asks */
} brk_fb_why_t;

/* Submits the fallback of the job with key job_key (st_key_job) at now_ms. Returns 0 (detail
 * says what: the new job and its verdict, or why there is none: no fallback channel left, no
 * payload, not asked for a wrong number), or -1 when Redis failed (what is done is idempotent:
 * the caller's retry finishes it). */
int brk_fallback_job(brk_fallback_t *self, const char *job_key, brk_fb_why_t why, int64_t now_ms,
                     char *detail, size_t detail_len);

/* Suppresses the contact point of the job with key job_key for its tenant on its channel (rule
 * "undeliverable"), `why` audited. Returns 0, or -1 when Redis failed. */
int brk_fallback_suppress(brk_fallback_t *self, const char *job_key, const char *why,
                          int64_t now_ms);

/* brk_reports_failed_fn (brk_reports.h): a worker's FAILED report with flags applied (or
 * applied before: the same report again). 0, or -1 when Redis failed. */
int brk_fallback_on_failed(void *ctx, const char *lease_id, unsigned flags,
                           const char *provider_code, const char *detail, int64_t now_ms);

#endif

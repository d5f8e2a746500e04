/* rl_decide.h — the decision: may this job contact its debtor at instant `now`, and if not, when?
 *
 * Pure function of (policy, job, contact history, now): no I/O, no allocation on the common path,
 * safe to call from any number of threads. Admission (rl_admit.h) feeds it the debtor's history
 * read from Redis and commits its verdict atomically; pregonctl policy-check feeds it scenarios.
 * It is the only implementation of the rules: nothing else interprets a policy. */
#ifndef RL_DECIDE_H
#define RL_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "rl_policy.h"
#include "rl_tz.h"

/* Flags of a contact record. A record with none of them is an attempt of unknown outcome, which
 * every reading of "direct contact" except `conversation` counts (the strict side). */
#define RL_REC_FAILED       0x01u /* known not to have reached the debtor (undelivered, rejected) */
#define RL_REC_DELIVERED    0x02u
#define RL_REC_CONVERSATION 0x04u /* two-way: answered call, reply, IVR transfer to an agent */

/* One past contact attempt with the debtor. */
typedef struct {
    int64_t at;      /* instant of dispatch (Unix seconds) */
    uint64_t debt;   /* rl_debt_hash() of the debt id; 0 = none */
    uint8_t channel; /* rl_channel_t */
    uint8_t flags;   /* RL_REC_* */
} rl_contact_t;

/* Largest history the decision reads; admission prunes to the policy's lookback well below it. */
#define RL_MAX_HISTORY 512
/* A job may name up to this many zones (the primary and alternatives). */
#define RL_MAX_ZONES 4
/* How far ahead a deferral may go; past it the job is rejected as having no legal window. */
#define RL_HORIZON_SECONDS (400LL * 86400)

/* FNV-1a of a debt id folded to 32 bits, never 0 for a non-empty id; 0 for NULL or "". */
uint64_t rl_debt_hash(const char *debt_id);

/* A job as the decision sees it. Borrowed pointers: the policy and zones outlive the call. */
typedef struct {
    const rl_policy_t *policy;
    rl_channel_t channel;
    int role; /* rl_role_t; 0 is read as debtor */
    uint64_t debt;
    const rl_zone_t *zones[RL_MAX_ZONES]; /* zones[0] is the primary: days and weeks are its */
    int n_zones;
    int has_preferred;  /* the debtor's own window, which can only narrow the law's */
    rl_day_t preferred; /* the same every day */
    int64_t not_before; /* 0 = none */
    int64_t expires_at; /* 0 = none */
} rl_job_t;

typedef enum {
    RL_ALLOW = 1,  /* legal now */
    RL_DEFER = 2,  /* legal from `until` on */
    RL_REJECT = 3, /* never legal: `rule` and `reason` say why */
    RL_EXPIRE = 4, /* the next legal instant is past expires_at */
} rl_outcome_t;

typedef struct {
    rl_outcome_t outcome;
    int64_t until;      /* RL_DEFER: earliest instant at which every rule allows the contact */
    const char *rule;   /* deciding rule id: points into the policy, or a static "job.*" id */
    const char *reason; /* stable reason code: "quiet-hours", "holiday", "cap", "min-gap",
                           "cooldown", "one-channel", "role", "not-before", "preferred-window",
                           "expired", "no-window" */
} rl_verdict_t;

/* Decides. `hist` may be in any order and may hold contacts on every channel; entries after `now`
 * are counted as if already made. On RL_DEFER the verdict names the first rule that forbids the
 * contact at max(now, not_before) and `until` is the earliest instant, within RL_HORIZON_SECONDS,
 * at which windows, holidays, caps, gaps, cooldowns and the one-channel rule all allow it. */
void rl_decide(const rl_job_t *job, const rl_contact_t *hist, size_t n_hist, int64_t now,
               rl_verdict_t *out);

/* The time-of-day part alone (law's windows, holidays, the debtor's preferred window) at instant
 * t, for a worker's re-check just before sending. Returns 1 if allowed; else 0 and *rule. */
int rl_window_allows(const rl_job_t *job, int64_t t, const char **rule);

/* Parses a daily window "HH:MM-HH:MM" (end may be 24:00; a window past midnight such as
 * "20:00-08:00" wraps) into `out`. Returns 0, or -1 if malformed. */
int rl_window_parse(const char *text, rl_day_t *out);

#endif

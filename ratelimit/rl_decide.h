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

/* Which figures an rl_counters_t holds. */
typedef enum {
    RL_COUNTERS_NONE = 0,     /* no counter decided: a window, a role, the job's own times, or
                                 an accepted job under a policy with no cap on its channel */
    RL_COUNTERS_CAP = 1,      /* `count` of `limit` in the window (`per`, `span`) */
    RL_COUNTERS_GAP = 2,      /* the last contact `ago` seconds before, a gap of `span` seconds */
    RL_COUNTERS_COOLDOWN = 3, /* day `count` of `limit` after a conversation `ago` seconds
                                 before (the day of the conversation is day 1) */
    RL_COUNTERS_ONE_CHANNEL = 4, /* a direct contact on `channel` `ago` seconds before, inside the
                                    window (`per`, `span`) */
} rl_counters_kind_t;

/* The counters behind a verdict, as plain data (the audit record's "3 of 7 in 7d"). Figures are
 * those at the instant the rules were first checked, max(now, not_before). Unused fields are 0.
 * Fields are ordered to keep rl_verdict_t at 80 bytes: at 88, GCC -O3 clears it with `rep stos`,
 * which costs rl_decide (hot path) a measurable few nanoseconds. */
typedef struct {
    rl_counters_kind_t kind;
    int count;            /* CAP: contacts in the window; COOLDOWN: the day number */
    int limit;            /* CAP: the cap's limit; COOLDOWN: its days */
    rl_period_t per;      /* CAP, ONE_CHANNEL: the window; 0 otherwise */
    const char *rule;     /* the rule the figures are of: points into the policy; NULL if NONE */
    int64_t span;         /* CAP, ONE_CHANNEL with RL_PER_ROLLING: seconds; GAP: the gap */
    int64_t ago;          /* GAP, COOLDOWN, ONE_CHANNEL: seconds from that contact to the check;
                             negative for a contact recorded after it */
    rl_channel_t channel; /* ONE_CHANNEL: the channel of that contact */
} rl_counters_t;

typedef struct {
    rl_outcome_t outcome;
    int64_t until;      /* RL_DEFER: earliest instant at which every rule allows the contact */
    const char *rule;   /* deciding rule id: points into the policy, or a static "job.*" id */
    const char *reason; /* stable reason code: "quiet-hours", "holiday", "cap", "min-gap",
                           "cooldown", "one-channel", "role", "not-before", "preferred-window",
                           "expired", "no-window" */
    /* When `rule` is a cap, gap, cooldown or one-channel rule: its figures (counters.rule ==
     * rule). RL_ALLOW: the cap on the job's channel nearest its limit once this contact is
     * counted (highest count/limit; ties: the first in the policy), count including this contact
     * when the cap would count it as admission records it (an attempt of unknown outcome).
     * Otherwise kind RL_COUNTERS_NONE. */
    rl_counters_t counters;
} rl_verdict_t;

/* Size of a buffer that always holds rl_verdict_counters()'s text and its terminating NUL. */
#define RL_COUNTERS_TEXT_MAX 48

/* Decides. `hist` may be in any order and may hold contacts on every channel; entries after `now`
 * are counted as if already made. On RL_DEFER the verdict names the first rule that forbids the
 * contact at max(now, not_before) and `until` is the earliest instant, within RL_HORIZON_SECONDS,
 * at which windows, holidays, caps, gaps, cooldowns and the one-channel rule all allow it.
 * `counters` holds the figures of that rule, or on RL_ALLOW those of the cap nearest its limit
 * (see rl_verdict_t); the verdict borrows the policy's rule ids. */
void rl_decide(const rl_job_t *job, const rl_contact_t *hist, size_t n_hist, int64_t now,
               rl_verdict_t *out);

/* The short text of a verdict's counters, for the audit record and the CLI:
 *   CAP          "3 of 7 in 7d", "1 of 1 in day", "2 of 2 in week"
 *   GAP          "last contact 3h ago, gap 48h"
 *   COOLDOWN     "day 3 of 7 after conversation"
 *   ONE_CHANNEL  "sms contact 2d4h ago this week", "... within 7d"
 *   NONE         ""
 * Windows: "day", "week", or a rolling span as a duration. Durations use d, h, m, s, with days
 * only from 72 hours on ("24h", "48h", "3d", "7d", "1h30m"); spans are exact, `ago` keeps its two
 * leading units, rounded down ("2h59m", "5d3h"). Writes at most min(len, RL_COUNTERS_TEXT_MAX) - 1
 * characters and a NUL (nothing if len is 0), cutting the text if it is longer; returns the number
 * of characters written. */
size_t rl_verdict_counters(const rl_verdict_t *v, char *buf, size_t len);

/* The window of CAP or ONE_CHANNEL counters as text ("day", "week", "7d", "24h"); "" for other
 * kinds. Same bounds and return value as rl_verdict_counters. */
size_t rl_counters_window(const rl_counters_t *c, char *buf, size_t len);

/* The time-of-day part alone (law's windows, holidays, the debtor's preferred window) at instant
 * t, for a worker's re-check just before sending. Returns 1 if allowed; else 0 and *rule. */
int rl_window_allows(const rl_job_t *job, int64_t t, const char **rule);

/* Parses a daily window "HH:MM-HH:MM" (end may be 24:00; a window past midnight such as
 * "20:00-08:00" wraps) into `out`. Returns 0, or -1 if malformed. */
int rl_window_parse(const char *text, rl_day_t *out);

#endif

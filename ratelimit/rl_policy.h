/* rl_policy.h — the contact policy of one jurisdiction: windows, holidays, caps, gaps, roles.
 *
 * A policy is loaded once from YAML (rl_policy_load) and is immutable afterwards, so any number
 * of threads may read it. The decision function (rl_decide.h) interprets it; this module only
 * holds and validates it. The YAML format is documented in README.md ("Policy files") and
 * exemplified by deploy/policies/. Every rule carries a stable id that verdicts name. */
#ifndef RL_POLICY_H
#define RL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "rl_calendar.h"

/* Channels, numbered as pregon.proto's Channel enum. */
typedef enum {
    RL_CH_NONE = 0,
    RL_CH_SMS = 1,
    RL_CH_WHATSAPP = 2,
    RL_CH_VOICE = 3,
    RL_CH_EMAIL = 4,
    RL_CH_MESSENGER = 5,
} rl_channel_t;
#define RL_CH_COUNT    6
#define RL_CH_BIT(c)   (1u << (unsigned)(c))
#define RL_CH_ALL_MASK 0x3Eu /* bits 1..5 */

/* Recipient roles, numbered as pregon.proto's Role enum (0 is read as DEBTOR). */
typedef enum {
    RL_ROLE_DEBTOR = 1,
    RL_ROLE_CODEBTOR = 2,
    RL_ROLE_REFERENCE = 3,
} rl_role_t;
#define RL_ROLE_BIT(r) (1u << (unsigned)(r))

/* Channel name ("sms", "whatsapp", "voice", "email", "messenger") to enum; RL_CH_NONE if unknown.
 */
rl_channel_t rl_channel_parse(const char *name);
/* Enum to name; "none" for RL_CH_NONE or out of range. */
const char *rl_channel_name(rl_channel_t ch);
/* Role name ("debtor", "codebtor", "reference") to enum; 0 if unknown. */
int rl_role_parse(const char *name);
const char *rl_role_name(int role);

#define RL_ID_MAX    64
#define RL_MAX_SPANS 4

/* A local time-of-day interval [start, end) in seconds since local midnight; end <= 86400. */
typedef struct {
    int32_t start;
    int32_t end;
} rl_span_t;

/* The permitted intervals of one day, sorted and non-overlapping; n == 0 means closed all day. */
typedef struct {
    int n;
    rl_span_t span[RL_MAX_SPANS];
} rl_day_t;

/* Weekly permitted hours for a set of channels. A contact on a channel is inside the law's hours
 * when it is inside every window rule whose channel mask includes that channel. */
typedef struct {
    char id[RL_ID_MAX];
    uint32_t channels; /* RL_CH_BIT mask */
    rl_day_t day[7];   /* 0 = Monday ... 6 = Sunday */
    int has_holiday;   /* 0: holidays are ordinary days for this rule; 1: `holiday` applies */
    rl_day_t holiday;  /* hours on a holiday of the policy's calendar; n == 0: closed */
} rl_window_rule_t;

typedef enum {
    RL_PER_DAY = 1,     /* calendar day, debtor local time */
    RL_PER_WEEK = 2,    /* calendar week, starting on the policy's week_start */
    RL_PER_ROLLING = 3, /* the last `span` seconds */
} rl_period_t;

typedef enum {
    RL_SCOPE_DEBTOR = 1, /* all contacts with the debtor */
    RL_SCOPE_DEBT = 2,   /* contacts about the same debt id */
} rl_scope_t;

typedef enum {
    RL_COUNT_ATTEMPTS = 1,      /* every dispatched attempt */
    RL_COUNT_DIRECT = 2,        /* attempts that are direct contacts (policy.direct_contact) */
    RL_COUNT_CONVERSATIONS = 3, /* two-way interactions only */
} rl_count_t;

/* What the policy reads as a "direct contact". Unknown outcomes count (the strict side). */
typedef enum {
    RL_DIRECT_ANY_ATTEMPT = 1,  /* every attempt */
    RL_DIRECT_DELIVERED = 2,    /* every attempt not known to have failed */
    RL_DIRECT_CONVERSATION = 3, /* answered call, reply */
} rl_direct_t;

/* At most `limit` contacts per period; applies to jobs on `channels` and counts contacts on
 * `channels` (or, with per_channel, on the job's own channel only). */
typedef struct {
    char id[RL_ID_MAX];
    uint32_t channels;
    int limit;
    rl_period_t per;
    int64_t span; /* RL_PER_ROLLING: seconds */
    rl_scope_t scope;
    rl_count_t counts;
    int per_channel;
} rl_cap_rule_t;

/* At least `gap` seconds between two contacts on `channels` (per_channel: on the same channel). */
typedef struct {
    char id[RL_ID_MAX];
    uint32_t channels;
    int64_t gap;
    rl_scope_t scope;
    int per_channel;
} rl_gap_rule_t;

/* After a conversation on `trigger` channels, no contact on `channels` for `days` calendar days,
 * the day of the conversation being day 1 (Regulation F's reading). */
typedef struct {
    char id[RL_ID_MAX];
    uint32_t channels;
    uint32_t trigger;
    int days;
    rl_scope_t scope;
} rl_cooldown_rule_t;

/* After a direct contact within the period, only the channel of that contact may be used until
 * the period ends ("only one channel within the same week", Ley 2300). */
typedef struct {
    char id[RL_ID_MAX];
    rl_period_t per; /* RL_PER_WEEK or RL_PER_ROLLING */
    int64_t span;
    rl_scope_t scope;
} rl_one_channel_rule_t;

/* Recipient roles that may never be contacted under this policy. */
typedef struct {
    char id[RL_ID_MAX];
    uint32_t roles; /* RL_ROLE_BIT mask */
} rl_role_rule_t;

typedef struct rl_policy {
    char id[RL_ID_MAX]; /* jurisdiction id the jobs name, e.g. "CO" */
    char name[128];     /* human title */
    char source[256];   /* file it was loaded from */
    int week_start;     /* 0 = Monday ... 6 = Sunday */
    rl_direct_t direct_contact;
    char holidays_id[RL_ID_MAX]; /* rule id named when a holiday closes a window */
    rl_calendar_t *holidays;     /* owned; may be NULL (no holidays) */

    rl_window_rule_t *windows;
    size_t n_windows;
    rl_cap_rule_t *caps;
    size_t n_caps;
    rl_gap_rule_t *gaps;
    size_t n_gaps;
    rl_cooldown_rule_t *cooldowns;
    size_t n_cooldowns;
    rl_one_channel_rule_t *one_channel;
    size_t n_one_channel;
    rl_role_rule_t *roles;
    size_t n_roles;
} rl_policy_t;

/* Loads a policy file. On failure returns NULL and writes one line into err (if err_len > 0) of
 * the form "FILE:LINE:COL: what is wrong". A file may say `extends: OTHER` to start from
 * OTHER.yaml in the same folder and add rules (ids must stay unique). The caller owns the result.
 */
rl_policy_t *rl_policy_load(const char *path, char *err, size_t err_len);

/* Frees a policy and everything it owns; NULL-safe; nulls the caller's pointer. */
void rl_policy_destroy(rl_policy_t **self_p);

/* How far back (seconds) contact history matters to this policy: the longest rolling span,
 * calendar week, cooldown or gap, plus a day of margin. Admission prunes history older than this.
 */
int64_t rl_policy_lookback(const rl_policy_t *self);

/* Looks a rule up by id across all rule kinds; returns its kind name ("window", "cap", "gap",
 * "cooldown", "one-channel", "roles", "holidays") or NULL. */
const char *rl_policy_rule_kind(const rl_policy_t *self, const char *rule_id);

#endif

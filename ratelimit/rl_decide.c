/* rl_decide.c — the decision function and the search for the next legal instant.
 *
 * Every rule is a constraint with one operation: given an instant t, the earliest instant >= t at
 * which that rule alone allows the contact (or NEVER). The verdict's `until` is the fixpoint of
 * applying every constraint in turn until none moves t: the earliest instant all rules allow at
 * once. Windows read the debtor's wall clock through rl_tz; caps count the history passed in.
 * This file performs no I/O and allocates nothing. */
#include "rl_decide.h"

#include <stdlib.h>
#include <string.h>

#include "rl_date.h"

#define NEVER        INT64_MAX
#define MAX_PASSES   64
#define SCAN_DAYS    15 /* a window rule open at least once a week opens within this many days */
#define SECS_PER_DAY 86400

uint64_t rl_debt_hash(const char *debt_id) {
    if (!debt_id || !*debt_id)
        return 0;
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)debt_id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    h = (h ^ (h >> 32)) & 0xffffffffu; /* stored as 32 bits in history records */
    return h ? h : 1;
}

/* --- time-of-day constraints ------------------------------------------------------------- */

/* Earliest instant >= t at which local time in zone z lies inside the spans `day_of(d)` gives
 * for local day d. */
typedef const rl_day_t *(*s_spans_fn)(const void *ctx, int64_t local_day);

static int64_t s_earliest_in_spans(const rl_zone_t *z, int64_t t, s_spans_fn spans_of,
                                   const void *ctx) {
    rl_local_t lt;
    rl_zone_local(z, t, &lt);
    for (int k = 0; k < SCAN_DAYS; k++) {
        int64_t d = lt.days + k;
        const rl_day_t *day = spans_of(ctx, d);
        for (int i = 0; i < day->n; i++) {
            const rl_span_t *s = &day->span[i];
            if (k == 0) {
                if (lt.sec_of_day >= s->end)
                    continue;
                if (lt.sec_of_day >= s->start)
                    return t;
            }
            int64_t open = rl_zone_from_local(z, d, s->start);
            if (open > t)
                return open;
            /* t is in the second pass of a repeated hour and the span's start was first passed
             * before t: the clock reads it again start - sec_of_day later, unless the offset
             * changes before then. */
            if (k == 0) {
                int64_t again = t + (s->start - lt.sec_of_day);
                if (rl_zone_next_transition(z, t) > again)
                    return again;
            }
        }
        /* Nothing opens later today on the current offset; if the clock goes back later today
         * (DST ends), today's readings come again after the transition. */
        if (k == 0) {
            int64_t tr = rl_zone_next_transition(z, t);
            rl_local_t at;
            if (tr != NEVER) {
                rl_zone_local(z, tr, &at);
                if (at.days == lt.days && at.sec_of_day < lt.sec_of_day)
                    return s_earliest_in_spans(z, tr, spans_of, ctx);
            }
        }
    }
    return NEVER;
}

typedef struct {
    const rl_policy_t *policy;
    const rl_window_rule_t *rule;
} s_window_ctx_t;

static int s_is_holiday(const rl_policy_t *p, int64_t local_day) {
    return p->holidays && rl_calendar_is_holiday(p->holidays, local_day, NULL);
}

static const rl_day_t *s_window_spans(const void *vctx, int64_t local_day) {
    const s_window_ctx_t *ctx = vctx;
    if (ctx->rule->has_holiday && s_is_holiday(ctx->policy, local_day))
        return &ctx->rule->holiday;
    return &ctx->rule->day[rl_weekday_from_days(local_day)];
}

static const rl_day_t *s_preferred_spans(const void *vctx, int64_t local_day) {
    (void)local_day;
    return vctx;
}

/* --- history helpers --------------------------------------------------------------------- */

static int s_is_direct(const rl_policy_t *p, const rl_contact_t *c) {
    switch (p->direct_contact) {
        case RL_DIRECT_ANY_ATTEMPT:
            return 1;
        case RL_DIRECT_CONVERSATION:
            return (c->flags & RL_REC_CONVERSATION) != 0;
        case RL_DIRECT_DELIVERED:
        default:
            return (c->flags & RL_REC_FAILED) == 0 || (c->flags & RL_REC_CONVERSATION) != 0;
    }
}

static int s_in_scope(const rl_job_t *job, rl_scope_t scope, const rl_contact_t *c) {
    return scope != RL_SCOPE_DEBT || c->debt == job->debt;
}

static int s_channel_matches(uint32_t mask, int per_channel, const rl_job_t *job,
                             const rl_contact_t *c) {
    if (per_channel)
        return c->channel == job->channel;
    return (mask & RL_CH_BIT(c->channel)) != 0;
}

/* Local day number of instant t in the job's primary zone. */
static int64_t s_local_day(const rl_job_t *job, int64_t t) {
    rl_local_t lt;
    rl_zone_local(job->zones[0], t, &lt);
    return lt.days;
}

static int64_t s_week_first_day(const rl_job_t *job, int64_t local_day) {
    int wd = rl_weekday_from_days(local_day);
    return local_day - ((wd - job->policy->week_start + 7) % 7);
}

/* The period containing t: [*start, *end). Rolling periods end at NEVER (they slide). */
static void s_period(const rl_job_t *job, rl_period_t per, int64_t span, int64_t t, int64_t *start,
                     int64_t *end) {
    const rl_zone_t *z = job->zones[0];
    if (per == RL_PER_ROLLING) {
        *start = t - span + 1; /* (t - span, t] */
        *end = NEVER;
        return;
    }
    int64_t day = s_local_day(job, t);
    int64_t first = per == RL_PER_WEEK ? s_week_first_day(job, day) : day;
    int64_t len = per == RL_PER_WEEK ? 7 : 1;
    *start = rl_zone_from_local(z, first, 0);
    *end = rl_zone_from_local(z, first + len, 0);
}

static int s_cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* --- rule constraints -------------------------------------------------------------------- */

static int s_counts(const rl_policy_t *p, rl_count_t counts, const rl_contact_t *c) {
    switch (counts) {
        case RL_COUNT_DIRECT:
            return s_is_direct(p, c);
        case RL_COUNT_CONVERSATIONS:
            return (c->flags & RL_REC_CONVERSATION) != 0;
        case RL_COUNT_ATTEMPTS:
        default:
            return 1;
    }
}

static int64_t s_cap_earliest(const rl_job_t *job, const rl_cap_rule_t *cap,
                              const rl_contact_t *hist, size_t n, int64_t t) {
    int64_t start, end;
    s_period(job, cap->per, cap->span, t, &start, &end);
    int64_t times[RL_MAX_HISTORY];
    size_t m = 0;
    for (size_t i = 0; i < n && m < RL_MAX_HISTORY; i++) {
        const rl_contact_t *c = &hist[i];
        if (c->at < start || !s_channel_matches(cap->channels, cap->per_channel, job, c) ||
            !s_in_scope(job, cap->scope, c) || !s_counts(job->policy, cap->counts, c))
            continue;
        times[m++] = c->at;
    }
    if (m < (size_t)cap->limit)
        return t;
    if (cap->per != RL_PER_ROLLING)
        return end;
    /* Sliding: allowed once the limit-th most recent contact has left the span. */
    qsort(times, m, sizeof times[0], s_cmp_desc);
    int64_t when = times[cap->limit - 1] + cap->span;
    return when > t ? when : t;
}

static int64_t s_gap_earliest(const rl_job_t *job, const rl_gap_rule_t *gap,
                              const rl_contact_t *hist, size_t n, int64_t t) {
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const rl_contact_t *c = &hist[i];
        if (s_channel_matches(gap->channels, gap->per_channel, job, c) &&
            s_in_scope(job, gap->scope, c) && c->at > last)
            last = c->at;
    }
    if (last == INT64_MIN || last + gap->gap <= t)
        return t;
    return last + gap->gap;
}

static int64_t s_cooldown_earliest(const rl_job_t *job, const rl_cooldown_rule_t *cd,
                                   const rl_contact_t *hist, size_t n, int64_t t) {
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const rl_contact_t *c = &hist[i];
        if ((c->flags & RL_REC_CONVERSATION) && (cd->trigger & RL_CH_BIT(c->channel)) &&
            s_in_scope(job, cd->scope, c) && c->at > last)
            last = c->at;
    }
    if (last == INT64_MIN)
        return t;
    /* The day of the conversation is day 1: contact allowed from day `days + 1` on. */
    int64_t lifts = rl_zone_from_local(job->zones[0], s_local_day(job, last) + cd->days, 0);
    return lifts > t ? lifts : t;
}

static int64_t s_one_channel_earliest(const rl_job_t *job, const rl_one_channel_rule_t *oc,
                                      const rl_contact_t *hist, size_t n, int64_t t) {
    int64_t start, end;
    s_period(job, oc->per, oc->span, t, &start, &end);
    int64_t latest_other = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const rl_contact_t *c = &hist[i];
        if (c->at < start || c->channel == job->channel || !s_in_scope(job, oc->scope, c) ||
            !s_is_direct(job->policy, c))
            continue;
        if (c->at > latest_other)
            latest_other = c->at;
    }
    if (latest_other == INT64_MIN)
        return t;
    return oc->per == RL_PER_ROLLING ? latest_other + oc->span : end;
}

/* --- the fixpoint ------------------------------------------------------------------------ */

/* One pass over every constraint; moves *t forward to what each one demands. Records the first
 * rule that moved it (per pass) in *rule and *reason. Returns 1 if t moved, 0 if stable, -1 if some
 * rule never allows the contact. */
static int s_pass(const rl_job_t *job, const rl_contact_t *hist, size_t n, int64_t *t,
                  const char **rule, const char **reason) {
    const rl_policy_t *p = job->policy;
    const uint32_t bit = RL_CH_BIT(job->channel);
    int moved = 0;
#define S_APPLY(expr, rid, rreason)                                                                \
    do {                                                                                           \
        int64_t e_ = (expr);                                                                       \
        if (e_ == NEVER) {                                                                         \
            *rule = (rid);                                                                         \
            *reason = "no-window";                                                                 \
            return -1;                                                                             \
        }                                                                                          \
        if (e_ > *t) {                                                                             \
            if (!moved) {                                                                          \
                *rule = (rid);                                                                     \
                *reason = (rreason);                                                               \
            }                                                                                      \
            *t = e_;                                                                               \
            moved = 1;                                                                             \
        }                                                                                          \
    } while (0)

    for (size_t i = 0; i < p->n_windows; i++) {
        const rl_window_rule_t *w = &p->windows[i];
        if (!(w->channels & bit))
            continue;
        s_window_ctx_t ctx = {p, w};
        for (int z = 0; z < job->n_zones; z++) {
            int64_t before = *t;
            int holiday = w->has_holiday && s_is_holiday(p, s_local_day(job, before));
            S_APPLY(s_earliest_in_spans(job->zones[z], *t, s_window_spans, &ctx),
                    holiday ? p->holidays_id : w->id, holiday ? "holiday" : "quiet-hours");
        }
    }
    if (job->has_preferred)
        for (int z = 0; z < job->n_zones; z++)
            S_APPLY(s_earliest_in_spans(job->zones[z], *t, s_preferred_spans, &job->preferred),
                    "debtor.preferred-window", "preferred-window");
    for (size_t i = 0; i < p->n_caps; i++)
        if (p->caps[i].channels & bit)
            S_APPLY(s_cap_earliest(job, &p->caps[i], hist, n, *t), p->caps[i].id, "cap");
    for (size_t i = 0; i < p->n_gaps; i++)
        if (p->gaps[i].channels & bit)
            S_APPLY(s_gap_earliest(job, &p->gaps[i], hist, n, *t), p->gaps[i].id, "min-gap");
    for (size_t i = 0; i < p->n_cooldowns; i++)
        if (p->cooldowns[i].channels & bit)
            S_APPLY(s_cooldown_earliest(job, &p->cooldowns[i], hist, n, *t), p->cooldowns[i].id,
                    "cooldown");
    for (size_t i = 0; i < p->n_one_channel; i++)
        S_APPLY(s_one_channel_earliest(job, &p->one_channel[i], hist, n, *t), p->one_channel[i].id,
                "one-channel");
#undef S_APPLY
    return moved;
}

void rl_decide(const rl_job_t *job, const rl_contact_t *hist, size_t n_hist, int64_t now,
               rl_verdict_t *out) {
    const rl_policy_t *p = job->policy;
    memset(out, 0, sizeof *out);
    if (n_hist > RL_MAX_HISTORY)
        n_hist = RL_MAX_HISTORY; /* admission keeps far fewer; never read past what we sort */

    int role = job->role ? job->role : RL_ROLE_DEBTOR;
    for (size_t i = 0; i < p->n_roles; i++) {
        if (p->roles[i].roles & RL_ROLE_BIT(role)) {
            out->outcome = RL_REJECT;
            out->rule = p->roles[i].id;
            out->reason = "role";
            return;
        }
    }
    if (job->expires_at && now >= job->expires_at) {
        out->outcome = RL_EXPIRE;
        out->rule = "job.expires-at";
        out->reason = "expired";
        return;
    }

    int64_t start = job->not_before > now ? job->not_before : now;
    int64_t t = start;
    const char *first_rule = NULL, *first_reason = NULL;
    int passes = 0, r;
    for (;;) {
        const char *rule = NULL, *reason = NULL;
        r = s_pass(job, hist, n_hist, &t, &rule, &reason);
        if (rule && !first_rule) {
            first_rule = rule;
            first_reason = reason;
        }
        if (r <= 0 || ++passes >= MAX_PASSES || t - now > RL_HORIZON_SECONDS)
            break;
    }
    if (r < 0 || r > 0 /* did not settle */ || t - now > RL_HORIZON_SECONDS) {
        out->outcome = RL_REJECT;
        out->rule = first_rule ? first_rule : "job.horizon";
        out->reason = "no-window";
        return;
    }
    if (t == now) {
        out->outcome = RL_ALLOW;
        return;
    }
    if (!first_rule) { /* nothing but not_before held it back */
        first_rule = "job.not-before";
        first_reason = "not-before";
    }
    out->until = t;
    out->rule = first_rule;
    out->reason = first_reason;
    out->outcome = (job->expires_at && t >= job->expires_at) ? RL_EXPIRE : RL_DEFER;
}

int rl_window_allows(const rl_job_t *job, int64_t t, const char **rule) {
    const rl_policy_t *p = job->policy;
    const uint32_t bit = RL_CH_BIT(job->channel);
    for (size_t i = 0; i < p->n_windows; i++) {
        const rl_window_rule_t *w = &p->windows[i];
        if (!(w->channels & bit))
            continue;
        s_window_ctx_t ctx = {p, w};
        for (int z = 0; z < job->n_zones; z++) {
            if (s_earliest_in_spans(job->zones[z], t, s_window_spans, &ctx) != t) {
                int holiday = w->has_holiday && s_is_holiday(p, s_local_day(job, t));
                *rule = holiday ? p->holidays_id : w->id;
                return 0;
            }
        }
    }
    if (job->has_preferred)
        for (int z = 0; z < job->n_zones; z++)
            if (s_earliest_in_spans(job->zones[z], t, s_preferred_spans, &job->preferred) != t) {
                *rule = "debtor.preferred-window";
                return 0;
            }
    return 1;
}

static int s_parse_hhmm(const char *s, int32_t *secs, int allow_24) {
    if (!(s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] == ':' && s[3] >= '0' &&
          s[3] <= '9' && s[4] >= '0' && s[4] <= '9'))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
        return -1;
    *secs = h * 3600 + m * 60;
    return 0;
}

int rl_window_parse(const char *text, rl_day_t *out) {
    int32_t a, b;
    if (!text || strlen(text) != 11 || text[5] != '-' || s_parse_hhmm(text, &a, 0) < 0 ||
        s_parse_hhmm(text + 6, &b, 1) < 0 || a == b)
        return -1;
    memset(out, 0, sizeof *out);
    if (a < b) {
        out->n = 1;
        out->span[0] = (rl_span_t){a, b};
    } else { /* wraps past midnight */
        out->n = 0;
        if (b > 0)
            out->span[out->n++] = (rl_span_t){0, b};
        out->span[out->n++] = (rl_span_t){a, SECS_PER_DAY};
    }
    return 0;
}

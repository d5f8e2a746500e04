/* rl_decide.c — the decision function and the search for the next legal instant.
 *
 * Every rule is a constraint with one operation: given an instant t, the earliest instant >= t at
 * which that rule alone allows the contact (or NEVER). The verdict's `until` is the fixpoint of
 * applying every constraint in turn until none moves t: the earliest instant all rules allow at
 * once. Windows read the debtor's wall clock through rl_tz; caps count the history passed in.
 * The first pass also keeps the figures behind the verdict (rl_counters_t) and their text form.
 * This file performs no I/O and allocates nothing. */
#include "rl_decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_date.h"

/* See rl_counters_t: past 80 bytes, clearing a verdict becomes a slow `rep stos`. */
_Static_assert(sizeof(void *) != 8 || sizeof(rl_verdict_t) <= 80,
               "rl_verdict_t grew past 80 bytes");

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

/* Also stores in *count the contacts the cap counts in the period containing t. */
static int64_t s_cap_earliest(const rl_job_t *job, const rl_cap_rule_t *cap,
                              const rl_contact_t *hist, size_t n, int64_t t, int *count) {
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
    *count = (int)m;
    if (m < (size_t)cap->limit)
        return t;
    if (cap->per != RL_PER_ROLLING)
        return end;
    /* Sliding: allowed once the limit-th most recent contact has left the span. */
    qsort(times, m, sizeof times[0], s_cmp_desc);
    int64_t when = times[cap->limit - 1] + cap->span;
    return when > t ? when : t;
}

/* Also stores in *lastp the latest contact the gap reads (INT64_MIN if none). */
static int64_t s_gap_earliest(const rl_job_t *job, const rl_gap_rule_t *gap,
                              const rl_contact_t *hist, size_t n, int64_t t, int64_t *lastp) {
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const rl_contact_t *c = &hist[i];
        if (s_channel_matches(gap->channels, gap->per_channel, job, c) &&
            s_in_scope(job, gap->scope, c) && c->at > last)
            last = c->at;
    }
    *lastp = last;
    if (last == INT64_MIN || last + gap->gap <= t)
        return t;
    return last + gap->gap;
}

/* Also stores in *lastp the latest triggering conversation (INT64_MIN if none). */
static int64_t s_cooldown_earliest(const rl_job_t *job, const rl_cooldown_rule_t *cd,
                                   const rl_contact_t *hist, size_t n, int64_t t, int64_t *lastp) {
    int64_t last = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const rl_contact_t *c = &hist[i];
        if ((c->flags & RL_REC_CONVERSATION) && (cd->trigger & RL_CH_BIT(c->channel)) &&
            s_in_scope(job, cd->scope, c) && c->at > last)
            last = c->at;
    }
    *lastp = last;
    if (last == INT64_MIN)
        return t;
    /* The day of the conversation is day 1: contact allowed from day `days + 1` on. */
    int64_t lifts = rl_zone_from_local(job->zones[0], s_local_day(job, last) + cd->days, 0);
    return lifts > t ? lifts : t;
}

/* Also stores in *lastp and *chp the latest direct contact on another channel in the period. */
static int64_t s_one_channel_earliest(const rl_job_t *job, const rl_one_channel_rule_t *oc,
                                      const rl_contact_t *hist, size_t n, int64_t t, int64_t *lastp,
                                      uint8_t *chp) {
    int64_t start, end;
    s_period(job, oc->per, oc->span, t, &start, &end);
    int64_t latest_other = INT64_MIN;
    uint8_t ch = 0;
    for (size_t i = 0; i < n; i++) {
        const rl_contact_t *c = &hist[i];
        if (c->at < start || c->channel == job->channel || !s_in_scope(job, oc->scope, c) ||
            !s_is_direct(job->policy, c))
            continue;
        if (c->at > latest_other) {
            latest_other = c->at;
            ch = c->channel;
        }
    }
    *lastp = latest_other;
    *chp = ch;
    if (latest_other == INT64_MIN)
        return t;
    return oc->per == RL_PER_ROLLING ? latest_other + oc->span : end;
}

/* --- the fixpoint ------------------------------------------------------------------------ */

/* What the first pass learns for the verdict's counters, kept small (the pass is the hot path):
 * rl_counters_t is built from it once, at the end of the decision. */
typedef struct {
    rl_counters_kind_t kind;   /* of the pass's first rule to move t; NONE if it counts nothing */
    const void *rule;          /* that rule: an rl_cap_rule_t, rl_gap_rule_t... as `kind` says */
    int64_t figure;            /* CAP: its count; otherwise the instant of the contact it read */
    uint8_t channel;           /* ONE_CHANNEL: that contact's channel */
    const rl_cap_rule_t *near; /* while nothing moved: the cap nearest its limit, this contact */
    int near_count;            /* counted, and its count */
} s_track_t;

static void s_mark(s_track_t *tr, rl_counters_kind_t kind, const void *rule, int64_t figure,
                   uint8_t channel) {
    tr->kind = kind;
    tr->rule = rule;
    tr->figure = figure;
    tr->channel = channel;
}

/* An attempt as admission records it on acceptance: outcome unknown. */
static const rl_contact_t s_this_contact;

static void s_counters_cap(rl_counters_t *out, const rl_cap_rule_t *cap, int count) {
    *out = (rl_counters_t){.kind = RL_COUNTERS_CAP,
                           .rule = cap->id,
                           .count = count,
                           .limit = cap->limit,
                           .per = cap->per,
                           .span = cap->per == RL_PER_ROLLING ? cap->span : 0};
}

/* One pass over every constraint; moves *t forward to what each one demands. Records the first
 * rule that moved it (per pass) in *rule and *reason and, when `tr` is not NULL (the first pass,
 * where t starts at the instant the verdict is about), the counters of that rule and of the cap
 * nearest its limit in *tr. Returns 1 if t moved, 0 if stable, -1 if some rule never allows the
 * contact. */
static int s_pass(const rl_job_t *job, const rl_contact_t *hist, size_t n, int64_t *t,
                  const char **rule, const char **reason, s_track_t *tr) {
    const rl_policy_t *p = job->policy;
    const uint32_t bit = RL_CH_BIT(job->channel);
    int moved = 0;
    int64_t last;
    /* `record` runs when this rule is the first to move t and tr is set */
#define S_APPLY(expr, rid, rreason, record)                                                        \
    do {                                                                                           \
        int64_t e_ = (expr);                                                                       \
        if (e_ == NEVER) {                                                                         \
            *rule = (rid);                                                                         \
            *reason = "no-window";                                                                 \
            if (tr)                                                                                \
                tr->kind = RL_COUNTERS_NONE;                                                       \
            return -1;                                                                             \
        }                                                                                          \
        if (e_ > *t) {                                                                             \
            if (!moved) {                                                                          \
                *rule = (rid);                                                                     \
                *reason = (rreason);                                                               \
                if (tr) {                                                                          \
                    record;                                                                        \
                }                                                                                  \
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
                    holiday ? p->holidays_id : w->id, holiday ? "holiday" : "quiet-hours", (void)0);
        }
    }
    if (job->has_preferred)
        for (int z = 0; z < job->n_zones; z++)
            S_APPLY(s_earliest_in_spans(job->zones[z], *t, s_preferred_spans, &job->preferred),
                    "debtor.preferred-window", "preferred-window", (void)0);
    for (size_t i = 0; i < p->n_caps; i++) {
        const rl_cap_rule_t *c = &p->caps[i];
        if (!(c->channels & bit))
            continue;
        int count;
        S_APPLY(s_cap_earliest(job, c, hist, n, *t, &count), c->id, "cap",
                s_mark(tr, RL_COUNTERS_CAP, c, count, 0));
        if (tr && !moved) { /* every cap so far allows it: count this contact */
            count += s_counts(p, c->counts, &s_this_contact);
            if (!tr->near ||
                (int64_t)count * tr->near->limit > (int64_t)tr->near_count * c->limit) {
                tr->near = c;
                tr->near_count = count;
            }
        }
    }
    for (size_t i = 0; i < p->n_gaps; i++) {
        const rl_gap_rule_t *g = &p->gaps[i];
        if (g->channels & bit)
            S_APPLY(s_gap_earliest(job, g, hist, n, *t, &last), g->id, "min-gap",
                    s_mark(tr, RL_COUNTERS_GAP, g, last, 0));
    }
    for (size_t i = 0; i < p->n_cooldowns; i++) {
        const rl_cooldown_rule_t *cd = &p->cooldowns[i];
        if (cd->channels & bit)
            S_APPLY(s_cooldown_earliest(job, cd, hist, n, *t, &last), cd->id, "cooldown",
                    s_mark(tr, RL_COUNTERS_COOLDOWN, cd, last, 0));
    }
    for (size_t i = 0; i < p->n_one_channel; i++) {
        const rl_one_channel_rule_t *oc = &p->one_channel[i];
        uint8_t ch;
        S_APPLY(s_one_channel_earliest(job, oc, hist, n, *t, &last, &ch), oc->id, "one-channel",
                s_mark(tr, RL_COUNTERS_ONE_CHANNEL, oc, last, ch));
    }
#undef S_APPLY
    return moved;
}

/* The counters of the rule the first pass named, checked at instant t0. */
static void s_counters_fill(rl_counters_t *out, const rl_job_t *job, const s_track_t *tr,
                            int64_t t0) {
    switch (tr->kind) {
        case RL_COUNTERS_CAP:
            s_counters_cap(out, tr->rule, (int)tr->figure);
            break;
        case RL_COUNTERS_GAP: {
            const rl_gap_rule_t *g = tr->rule;
            *out = (rl_counters_t){
                .kind = RL_COUNTERS_GAP, .rule = g->id, .span = g->gap, .ago = t0 - tr->figure};
            break;
        }
        case RL_COUNTERS_COOLDOWN: {
            const rl_cooldown_rule_t *cd = tr->rule;
            *out = (rl_counters_t){
                .kind = RL_COUNTERS_COOLDOWN,
                .rule = cd->id,
                .count = (int)(s_local_day(job, t0) - s_local_day(job, tr->figure) + 1),
                .limit = cd->days,
                .ago = t0 - tr->figure};
            break;
        }
        case RL_COUNTERS_ONE_CHANNEL: {
            const rl_one_channel_rule_t *oc = tr->rule;
            *out = (rl_counters_t){.kind = RL_COUNTERS_ONE_CHANNEL,
                                   .rule = oc->id,
                                   .per = oc->per,
                                   .span = oc->per == RL_PER_ROLLING ? oc->span : 0,
                                   .ago = t0 - tr->figure,
                                   .channel = (rl_channel_t)tr->channel};
            break;
        }
        case RL_COUNTERS_NONE:
        default:
            break;
    }
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
    /* The verdict's rule is the first pass's first mover: that pass either moves t (and names
     * it), settles (nothing to name), or fails (naming the rule that never allows it). */
    s_track_t tr;
    tr.kind = RL_COUNTERS_NONE;
    tr.near = NULL;
    for (;;) {
        const char *rule = NULL, *reason = NULL;
        r = s_pass(job, hist, n_hist, &t, &rule, &reason, passes == 0 ? &tr : NULL);
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
        if (first_rule && tr.kind != RL_COUNTERS_NONE)
            s_counters_fill(&out->counters, job, &tr, start);
        return;
    }
    if (t == now) {
        out->outcome = RL_ALLOW;
        if (tr.near)
            s_counters_cap(&out->counters, tr.near, tr.near_count);
        return;
    }
    if (!first_rule) { /* nothing but not_before held it back */
        first_rule = "job.not-before";
        first_reason = "not-before";
    }
    out->until = t;
    out->rule = first_rule;
    out->reason = first_reason;
    if (tr.kind != RL_COUNTERS_NONE) /* NONE: a window or not_before decided */
        s_counters_fill(&out->counters, job, &tr, start);
    out->outcome = (job->expires_at && t >= job->expires_at) ? RL_EXPIRE : RL_DEFER;
}

/* --- the counters' text ------------------------------------------------------------------ */

/* Appends the duration `secs` to p in units d h m s, days only from 72 hours on: the largest
 * non-zero unit and the `units` - 1 after it, zero ones left out, the rest dropped (rounded
 * down). 4 units are exact. Returns the new end of the text. */
static char *s_duration(char *p, const char *end, uint64_t secs, int units) {
    static const char names[] = "dhms";
    static const uint64_t size[] = {SECS_PER_DAY, 3600, 60, 1};
    if (secs == 0)
        return p + snprintf(p, (size_t)(end - p), "0s");
    int u = secs >= 3 * SECS_PER_DAY ? 0 : 1;
    while (secs < size[u])
        u++;
    for (int last = u + units; u < 4 && u < last; u++) {
        uint64_t q = secs / size[u];
        secs -= q * size[u];
        if (q)
            p += snprintf(p, (size_t)(end - p), "%llu%c", (unsigned long long)q, names[u]);
    }
    return p;
}

/* Appends "3h ago", or "in 3h" for a contact after the check. */
static char *s_ago(char *p, const char *end, int64_t ago) {
    if (ago < 0) {
        p += snprintf(p, (size_t)(end - p), "in ");
        return s_duration(p, end, (uint64_t)0 - (uint64_t)ago, 2);
    }
    p = s_duration(p, end, (uint64_t)ago, 2);
    return p + snprintf(p, (size_t)(end - p), " ago");
}

/* The window of a cap or one-channel rule: "day", "week", or the rolling span. */
static char *s_window_text(char *p, const char *end, rl_period_t per, int64_t span) {
    if (per == RL_PER_DAY)
        return p + snprintf(p, (size_t)(end - p), "day");
    if (per == RL_PER_WEEK)
        return p + snprintf(p, (size_t)(end - p), "week");
    return s_duration(p, end, (uint64_t)span, 4);
}

/* Copies the first min(n, len - 1, RL_COUNTERS_TEXT_MAX - 1) characters of text and a NUL. */
static size_t s_copy_out(const char *text, size_t n, char *buf, size_t len) {
    if (len == 0)
        return 0;
    if (n > len - 1)
        n = len - 1;
    if (n > RL_COUNTERS_TEXT_MAX - 1)
        n = RL_COUNTERS_TEXT_MAX - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    return n;
}

size_t rl_counters_window(const rl_counters_t *c, char *buf, size_t len) {
    char text[96];
    char *p = text;
    text[0] = '\0';
    if (c->kind == RL_COUNTERS_CAP || c->kind == RL_COUNTERS_ONE_CHANNEL)
        p = s_window_text(p, text + sizeof text, c->per, c->span);
    return s_copy_out(text, (size_t)(p - text), buf, len);
}

size_t rl_verdict_counters(const rl_verdict_t *v, char *buf, size_t len) {
    const rl_counters_t *c = &v->counters;
    char text[160]; /* the longest possible text is under 80 characters: one-channel with a
                       channel of 9, an `ago` of 2 units and a span of 4 (at most 15 digits of
                       days) */
    char *p = text;
    const char *end = text + sizeof text;
    text[0] = '\0';
    switch (c->kind) {
        case RL_COUNTERS_CAP:
            p += snprintf(p, (size_t)(end - p), "%d of %d in ", c->count, c->limit);
            p = s_window_text(p, end, c->per, c->span);
            break;
        case RL_COUNTERS_GAP:
            p += snprintf(p, (size_t)(end - p), "last contact ");
            p = s_ago(p, end, c->ago);
            p += snprintf(p, (size_t)(end - p), ", gap ");
            p = s_duration(p, end, (uint64_t)c->span, 4);
            break;
        case RL_COUNTERS_COOLDOWN:
            p += snprintf(p, (size_t)(end - p), "day %d of %d after conversation", c->count,
                          c->limit);
            break;
        case RL_COUNTERS_ONE_CHANNEL:
            p += snprintf(p, (size_t)(end - p), "%s contact ", rl_channel_name(c->channel));
            p = s_ago(p, end, c->ago);
            if (c->per == RL_PER_ROLLING) {
                p += snprintf(p, (size_t)(end - p), " within ");
                p = s_window_text(p, end, c->per, c->span);
            } else {
                p += snprintf(p, (size_t)(end - p), " this week");
            }
            break;
        case RL_COUNTERS_NONE:
        default:
            break;
    }
    return s_copy_out(text, (size_t)(p - text), buf, len);
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

/* test_decide.c — cmocka tests for rl_decide: one rule kind per test, policies built in C.
 *
 * Every expected instant is written as an RFC 3339 literal with the offset stated (Bogota is
 * always -05:00; New York -05:00 EST / -04:00 EDT; Santiago -04:00 / -03:00) and converted by
 * s_at() with rl_days_from_civil alone, so no expectation goes through rl_tz or rl_decide. Covers
 * windows (spans, weekends, holidays), DST edges, every cap kind, gaps, cooldowns, one-channel,
 * roles, preferred windows, several zones, not_before/expires_at, the fixpoint, the verdict's
 * counters and their text (rl_verdict_counters), rl_window_parse, rl_window_allows and
 * rl_debt_hash. */
#include "rl_calendar.h"
#include "rl_date.h"
#include "rl_decide.h"
#include "rl_policy.h"
#include "rl_tz.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define H(h, m)    ((h)*3600 + (m)*60)
#define DAY        86400LL

#define DEBT_A 0x0a0a0a0aULL
#define DEBT_B 0x0b0b0b0bULL

#define MESSAGING                                                                                  \
    (RL_CH_BIT(RL_CH_SMS) | RL_CH_BIT(RL_CH_WHATSAPP) | RL_CH_BIT(RL_CH_EMAIL) |                   \
     RL_CH_BIT(RL_CH_MESSENGER))

/* ---------------------------------------------------------------------------------------------
 * instants */

/* "YYYY-MM-DDTHH:MM:SS" followed by "Z" or "+HH:MM"/"-HH:MM" to Unix seconds, independently of
 * rl_tz: the civil date through rl_days_from_civil, minus the stated offset. */
static int64_t s_at(const char *text) {
    int y, mo, d, h, mi, s, n = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 19)
        fail_msg("bad literal %s", text);
    int64_t off = 0;
    const char *z = text + 19;
    if (strcmp(z, "Z") != 0) {
        int oh, om, m = 0;
        if ((z[0] != '+' && z[0] != '-') || sscanf(z + 1, "%2d:%2d%n", &oh, &om, &m) != 2 ||
            m != 5 || z[6] != '\0')
            fail_msg("bad offset in %s", text);
        off = (z[0] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
    }
    return rl_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s - off;
}

/* UTC text of an instant, for failure messages only. */
static const char *s_utc_text(int64_t t, char *buf, size_t len) {
    if (t == 0) {
        snprintf(buf, len, "0");
        return buf;
    }
    int64_t days = rl_floor_div(t, DAY), sod = t - days * DAY;
    rl_date_t d = rl_civil_from_days(days);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ (%lld)", d.year, d.month, d.day,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (long long)t);
    return buf;
}

static const char *s_outcome_name(int o) {
    static const char *const names[] = {"?", "ALLOW", "DEFER", "REJECT", "EXPIRE"};
    return (o >= 1 && o <= 4) ? names[o] : "?";
}

/* ---------------------------------------------------------------------------------------------
 * policies built in C */

typedef struct {
    rl_policy_t p;
    rl_window_rule_t windows[4];
    rl_cap_rule_t caps[4];
    rl_gap_rule_t gaps[2];
    rl_cooldown_rule_t cooldowns[2];
    rl_one_channel_rule_t one_channel[2];
    rl_role_rule_t roles[2];
} s_pol_t;

static int s_setup(void **state) {
    s_pol_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->p.id, sizeof f->p.id, "TEST");
    f->p.week_start = 0;
    f->p.direct_contact = RL_DIRECT_DELIVERED;
    f->p.windows = f->windows;
    f->p.caps = f->caps;
    f->p.gaps = f->gaps;
    f->p.cooldowns = f->cooldowns;
    f->p.one_channel = f->one_channel;
    f->p.roles = f->roles;
    *state = f;
    return 0;
}

static int s_teardown(void **state) {
    s_pol_t *f = *state;
    if (f)
        rl_calendar_destroy(&f->p.holidays);
    free(f);
    *state = NULL;
    return 0;
}

/* Appends the span [start, end) (seconds of day) to a day. */
static void s_span(rl_day_t *d, int32_t start, int32_t end) {
    assert_true(d->n < RL_MAX_SPANS);
    d->span[d->n++] = (rl_span_t){start, end};
}

/* A window rule, closed every day and on holidays; open it with s_days. */
static rl_window_rule_t *s_window(s_pol_t *f, const char *id, uint32_t channels) {
    assert_true(f->p.n_windows < S_COUNT(f->windows));
    rl_window_rule_t *w = &f->windows[f->p.n_windows++];
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    w->channels = channels;
    w->has_holiday = 1;
    return w;
}

/* Opens weekdays first..last (0 = Monday) from start to end. */
static void s_days(rl_window_rule_t *w, int first, int last, int32_t start, int32_t end) {
    for (int d = first; d <= last; d++)
        s_span(&w->day[d], start, end);
}

/* The policy's holiday calendar, from rule spec strings. */
static void s_holidays(s_pol_t *f, const char *id, const char *const *specs, size_t n) {
    snprintf(f->p.holidays_id, sizeof f->p.holidays_id, "%s", id);
    f->p.holidays = rl_calendar_new();
    assert_non_null(f->p.holidays);
    for (size_t i = 0; i < n; i++) {
        rl_holiday_rule_t r;
        const char *err = NULL;
        if (rl_holiday_rule_parse(specs[i], &r, &err) != 0 ||
            rl_calendar_add(f->p.holidays, &r, &err) != 0)
            fail_msg("holiday spec %s: %s", specs[i], err ? err : "?");
    }
}

/* Colombia-like hours: Mon-Fri 07:00-19:00, Sat 08:00-15:00, Sun closed, holidays closed;
 * holidays Friday 2026-03-20 and Wednesday 2026-03-25. */
static rl_window_rule_t *s_co_hours(s_pol_t *f) {
    static const char *const specs[] = {"date 2026-03-20 name Viernes", "date 2026-03-25 name Mie"};
    s_holidays(f, "w.festivos", specs, S_COUNT(specs));
    rl_window_rule_t *w = s_window(f, "w.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 4, H(7, 0), H(19, 0));
    s_days(w, 5, 5, H(8, 0), H(15, 0));
    return w;
}

/* Peru-like hours: Mon-Fri 07:00-19:00 only, same holidays. */
static rl_window_rule_t *s_weekday_hours(s_pol_t *f) {
    static const char *const specs[] = {"date 2026-03-20 name Viernes", "date 2026-03-25 name Mie"};
    s_holidays(f, "w.festivos", specs, S_COUNT(specs));
    rl_window_rule_t *w = s_window(f, "w.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 4, H(7, 0), H(19, 0));
    return w;
}

static rl_cap_rule_t *s_cap(s_pol_t *f, const char *id, uint32_t channels, int limit,
                            rl_period_t per, int64_t span) {
    assert_true(f->p.n_caps < S_COUNT(f->caps));
    rl_cap_rule_t *c = &f->caps[f->p.n_caps++];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->channels = channels;
    c->limit = limit;
    c->per = per;
    c->span = span;
    c->scope = RL_SCOPE_DEBTOR;
    c->counts = RL_COUNT_ATTEMPTS;
    return c;
}

static rl_gap_rule_t *s_gap(s_pol_t *f, const char *id, uint32_t channels, int64_t gap) {
    rl_gap_rule_t *g = &f->gaps[f->p.n_gaps++];
    memset(g, 0, sizeof *g);
    snprintf(g->id, sizeof g->id, "%s", id);
    g->channels = channels;
    g->gap = gap;
    g->scope = RL_SCOPE_DEBTOR;
    return g;
}

static rl_cooldown_rule_t *s_cooldown(s_pol_t *f, const char *id, uint32_t channels,
                                      uint32_t trigger, int days) {
    rl_cooldown_rule_t *c = &f->cooldowns[f->p.n_cooldowns++];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->channels = channels;
    c->trigger = trigger;
    c->days = days;
    c->scope = RL_SCOPE_DEBT;
    return c;
}

static rl_one_channel_rule_t *s_one_channel(s_pol_t *f, const char *id, rl_period_t per,
                                            int64_t span) {
    rl_one_channel_rule_t *o = &f->one_channel[f->p.n_one_channel++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    o->per = per;
    o->span = span;
    o->scope = RL_SCOPE_DEBTOR;
    return o;
}

static void s_role(s_pol_t *f, const char *id, uint32_t roles) {
    rl_role_rule_t *r = &f->roles[f->p.n_roles++];
    snprintf(r->id, sizeof r->id, "%s", id);
    r->roles = roles;
}

/* ---------------------------------------------------------------------------------------------
 * jobs, history, verdicts */

static const rl_zone_t *s_zone(const char *name) {
    const rl_zone_t *z = rl_zone_get(name);
    if (!z)
        fail_msg("zone %s not found", name);
    return z;
}

static rl_job_t s_job(const s_pol_t *f, const char *zone, rl_channel_t ch) {
    rl_job_t j;
    memset(&j, 0, sizeof j);
    j.policy = &f->p;
    j.channel = ch;
    j.role = RL_ROLE_DEBTOR;
    j.debt = DEBT_A;
    j.zones[0] = s_zone(zone);
    j.n_zones = 1;
    return j;
}

static rl_contact_t s_c(const char *at, rl_channel_t ch, uint8_t flags, uint64_t debt) {
    return (rl_contact_t){s_at(at), debt, (uint8_t)ch, flags};
}

/* Decides and compares the whole verdict. `until` is an RFC 3339 literal or NULL (must be 0);
 * `rule`/`reason` NULL mean "must be NULL". */
static void s_check(int line, const rl_job_t *job, const rl_contact_t *hist, size_t n,
                    const char *now, rl_outcome_t outcome, const char *until, const char *rule,
                    const char *reason) {
    rl_verdict_t v;
    memset(&v, 0x5a, sizeof v);
    rl_decide(job, hist, n, s_at(now), &v);
    const int64_t want = until ? s_at(until) : 0;
    char a[64], b[64];
    if (v.outcome != outcome || v.until != want ||
        (rule ? !v.rule || strcmp(v.rule, rule) != 0 : v.rule != NULL) ||
        (reason ? !v.reason || strcmp(v.reason, reason) != 0 : v.reason != NULL))
        fail_msg("line %d, now %s:\n  got  %s until %s rule %s reason %s\n  want %s until %s "
                 "rule %s reason %s",
                 line, now, s_outcome_name(v.outcome), s_utc_text(v.until, a, sizeof a),
                 v.rule ? v.rule : "NULL", v.reason ? v.reason : "NULL", s_outcome_name(outcome),
                 s_utc_text(want, b, sizeof b), rule ? rule : "NULL", reason ? reason : "NULL");
    /* the counters of a refused contact are those of its rule, of the kind its reason says */
    static const struct {
        const char *reason;
        rl_counters_kind_t kind;
    } kinds[] = {{"cap", RL_COUNTERS_CAP},
                 {"min-gap", RL_COUNTERS_GAP},
                 {"cooldown", RL_COUNTERS_COOLDOWN},
                 {"one-channel", RL_COUNTERS_ONE_CHANNEL}};
    if (v.outcome != RL_ALLOW && v.reason) {
        rl_counters_kind_t want_kind = RL_COUNTERS_NONE;
        for (size_t i = 0; i < S_COUNT(kinds); i++)
            if (strcmp(v.reason, kinds[i].reason) == 0)
                want_kind = kinds[i].kind;
        if (v.counters.kind != want_kind && strcmp(v.reason, "no-window") != 0)
            fail_msg("line %d: reason %s with counters of kind %d", line, v.reason,
                     (int)v.counters.kind);
        if (v.counters.kind != RL_COUNTERS_NONE &&
            (!v.counters.rule || !v.rule || strcmp(v.counters.rule, v.rule) != 0))
            fail_msg("line %d: counters of %s, verdict rule %s", line,
                     v.counters.rule ? v.counters.rule : "NULL", v.rule ? v.rule : "NULL");
    }
    if (v.counters.kind == RL_COUNTERS_NONE && v.counters.rule)
        fail_msg("line %d: counters of kind NONE name rule %s", line, v.counters.rule);
}

#define ALLOW(job, hist, n, now) s_check(__LINE__, job, hist, n, now, RL_ALLOW, NULL, NULL, NULL)
#define DEFER(job, hist, n, now, until, rule, reason)                                              \
    s_check(__LINE__, job, hist, n, now, RL_DEFER, until, rule, reason)

/* Decides at `now` and compares the counters: their text, and their rule (NULL: must be NULL).
 * Returns the verdict for further checks. */
static rl_verdict_t s_counters(int line, const rl_job_t *job, const rl_contact_t *hist, size_t n,
                               const char *now, const char *text, const char *rule) {
    rl_verdict_t v;
    memset(&v, 0x5a, sizeof v);
    rl_decide(job, hist, n, s_at(now), &v);
    char got[RL_COUNTERS_TEXT_MAX];
    size_t len = rl_verdict_counters(&v, got, sizeof got);
    if (len != strlen(got) || strcmp(got, text) != 0 ||
        (rule ? !v.counters.rule || strcmp(v.counters.rule, rule) != 0 : v.counters.rule != NULL))
        fail_msg("line %d, now %s (%s %s):\n  got  \"%s\" (%zu) of %s\n  want \"%s\" of %s", line,
                 now, s_outcome_name(v.outcome), v.rule ? v.rule : "-", got, len,
                 v.counters.rule ? v.counters.rule : "NULL", text, rule ? rule : "NULL");
    return v;
}
#define COUNTERS(job, hist, n, now, text, rule) s_counters(__LINE__, job, hist, n, now, text, rule)

/* rl_window_allows at an instant: expected 1, or 0 naming `rule`. */
static void s_allows(int line, const rl_job_t *job, const char *at, const char *rule) {
    const char *got = "unset";
    int r = rl_window_allows(job, s_at(at), &got);
    if (rule == NULL ? r != 1 : (r != 0 || !got || strcmp(got, rule) != 0))
        fail_msg("line %d: rl_window_allows(%s) = %d rule %s, want %s", line, at, r,
                 r ? "-" : (got ? got : "NULL"), rule ? rule : "allowed");
}
#define ALLOWS(job, at)        s_allows(__LINE__, job, at, NULL)
#define FORBIDS(job, at, rule) s_allows(__LINE__, job, at, rule)

/* ---------------------------------------------------------------------------------------------
 * windows (Bogota, -05:00 all year; 2026-03-09 is a Monday) */

static void test_window_inside_outside(void **state) {
    s_pol_t *f = *state;
    s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    ALLOW(&j, NULL, 0, "2026-03-10T10:00:00-05:00");
    ALLOW(&j, NULL, 0, "2026-03-10T07:00:00-05:00"); /* start inclusive */
    ALLOW(&j, NULL, 0, "2026-03-10T18:59:59-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T06:59:59-05:00", "2026-03-10T07:00:00-05:00", "w.hours",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-10T00:00:00-05:00", "2026-03-10T07:00:00-05:00", "w.hours",
          "quiet-hours");
    ALLOW(&j, NULL, 0, "2026-03-14T08:00:00-05:00"); /* Saturday hours */
    ALLOW(&j, NULL, 0, "2026-03-14T14:59:59-05:00");
    DEFER(&j, NULL, 0, "2026-03-14T07:30:00-05:00", "2026-03-14T08:00:00-05:00", "w.hours",
          "quiet-hours");
    ALLOWS(&j, "2026-03-10T10:00:00-05:00");
    FORBIDS(&j, "2026-03-10T06:59:59-05:00", "w.hours");
}

static void test_window_end_exclusive(void **state) {
    s_pol_t *f = *state;
    s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_VOICE);
    DEFER(&j, NULL, 0, "2026-03-10T19:00:00-05:00", "2026-03-11T07:00:00-05:00", "w.hours",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-10T23:59:59-05:00", "2026-03-11T07:00:00-05:00", "w.hours",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-14T15:00:00-05:00", "2026-03-16T07:00:00-05:00", "w.hours",
          "quiet-hours"); /* Saturday 15:00 closed; Sunday closed */
    FORBIDS(&j, "2026-03-10T19:00:00-05:00", "w.hours");
    ALLOWS(&j, "2026-03-10T18:59:59-05:00");
}

static void test_window_lunch_break(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.lunch", RL_CH_ALL_MASK);
    for (int d = 0; d <= 4; d++) {
        s_span(&w->day[d], H(8, 0), H(12, 0));
        s_span(&w->day[d], H(14, 0), H(18, 0));
    }
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_EMAIL);
    ALLOW(&j, NULL, 0, "2026-03-10T11:59:59-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T12:00:00-05:00", "2026-03-10T14:00:00-05:00", "w.lunch",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-10T13:59:59-05:00", "2026-03-10T14:00:00-05:00", "w.lunch",
          "quiet-hours");
    ALLOW(&j, NULL, 0, "2026-03-10T14:00:00-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T18:00:00-05:00", "2026-03-11T08:00:00-05:00", "w.lunch",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-13T12:30:00-05:00", "2026-03-13T14:00:00-05:00", "w.lunch",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-13T18:00:00-05:00", "2026-03-16T08:00:00-05:00", "w.lunch",
          "quiet-hours"); /* Friday evening: next opening Monday */
    FORBIDS(&j, "2026-03-10T12:00:00-05:00", "w.lunch");
}

static void test_window_weekend(void **state) {
    s_pol_t *f = *state;
    s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    /* Friday 19:30 -> Saturday 08:00 (Saturday is open under CO-like hours) */
    DEFER(&j, NULL, 0, "2026-03-13T19:30:00-05:00", "2026-03-14T08:00:00-05:00", "w.hours",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-15T12:00:00-05:00", "2026-03-16T07:00:00-05:00", "w.hours",
          "quiet-hours");
}

static void test_window_weekend_closed(void **state) {
    s_pol_t *f = *state;
    s_weekday_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    /* Friday 19:30 -> Monday 07:00 across a closed Saturday and Sunday */
    DEFER(&j, NULL, 0, "2026-03-13T19:30:00-05:00", "2026-03-16T07:00:00-05:00", "w.hours",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-14T10:00:00-05:00", "2026-03-16T07:00:00-05:00", "w.hours",
          "quiet-hours");
}

static void test_window_holiday(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_WHATSAPP);
    /* Tuesday evening, Wednesday 2026-03-25 is a holiday: next opening Thursday */
    DEFER(&j, NULL, 0, "2026-03-24T19:00:00-05:00", "2026-03-26T07:00:00-05:00", "w.hours",
          "quiet-hours");
    /* on the holiday itself the holiday rule is named */
    DEFER(&j, NULL, 0, "2026-03-25T10:00:00-05:00", "2026-03-26T07:00:00-05:00", "w.festivos",
          "holiday");
    FORBIDS(&j, "2026-03-25T10:00:00-05:00", "w.festivos");
    ALLOW(&j, NULL, 0, "2026-03-26T07:00:00-05:00");

    /* holiday hours */
    s_span(&w->holiday, H(9, 0), H(13, 0));
    DEFER(&j, NULL, 0, "2026-03-25T08:00:00-05:00", "2026-03-25T09:00:00-05:00", "w.festivos",
          "holiday");
    ALLOW(&j, NULL, 0, "2026-03-25T12:59:59-05:00");
    DEFER(&j, NULL, 0, "2026-03-25T13:00:00-05:00", "2026-03-26T07:00:00-05:00", "w.festivos",
          "holiday");
    DEFER(&j, NULL, 0, "2026-03-24T19:00:00-05:00", "2026-03-25T09:00:00-05:00", "w.hours",
          "quiet-hours");

    /* has_holiday = 0: the holiday is an ordinary Wednesday for this rule */
    w->has_holiday = 0;
    ALLOW(&j, NULL, 0, "2026-03-25T10:00:00-05:00");
    ALLOW(&j, NULL, 0, "2026-03-25T07:00:00-05:00");
    DEFER(&j, NULL, 0, "2026-03-24T19:00:00-05:00", "2026-03-25T07:00:00-05:00", "w.hours",
          "quiet-hours");
    ALLOWS(&j, "2026-03-25T10:00:00-05:00");
}

static void test_window_holiday_friday(void **state) {
    s_pol_t *f = *state;
    s_weekday_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_VOICE);
    /* Thursday evening; Friday 2026-03-20 is a holiday, then the weekend: Monday 07:00 */
    DEFER(&j, NULL, 0, "2026-03-19T19:00:00-05:00", "2026-03-23T07:00:00-05:00", "w.hours",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-20T10:00:00-05:00", "2026-03-23T07:00:00-05:00", "w.festivos",
          "holiday");
}

static void test_window_holiday_friday_saturday_open(void **state) {
    s_pol_t *f = *state;
    s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_VOICE);
    DEFER(&j, NULL, 0, "2026-03-19T19:00:00-05:00", "2026-03-21T08:00:00-05:00", "w.hours",
          "quiet-hours");
}

static void test_window_closed_all_week(void **state) {
    s_pol_t *f = *state;
    s_window(f, "w.never", RL_CH_BIT(RL_CH_VOICE)); /* every day closed */
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_VOICE);
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T10:00:00-05:00", RL_REJECT, NULL, "w.never",
            "no-window");
    /* the rule does not apply to SMS */
    j.channel = RL_CH_SMS;
    ALLOW(&j, NULL, 0, "2026-03-10T10:00:00-05:00");
}

static void test_window_per_channel(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *all = s_window(f, "w.all", RL_CH_ALL_MASK);
    s_days(all, 0, 6, H(7, 0), H(19, 0));
    rl_window_rule_t *voice = s_window(f, "w.voice", RL_CH_BIT(RL_CH_VOICE));
    s_days(voice, 0, 6, H(9, 0), H(17, 0));
    rl_job_t v = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_job_t s = s_job(f, "America/Bogota", RL_CH_SMS);
    ALLOW(&s, NULL, 0, "2026-03-10T08:00:00-05:00");
    DEFER(&v, NULL, 0, "2026-03-10T08:00:00-05:00", "2026-03-10T09:00:00-05:00", "w.voice",
          "quiet-hours");
    DEFER(&v, NULL, 0, "2026-03-10T17:00:00-05:00", "2026-03-11T09:00:00-05:00", "w.voice",
          "quiet-hours");
    /* both closed: the first rule that forbids is named */
    DEFER(&v, NULL, 0, "2026-03-10T06:00:00-05:00", "2026-03-10T09:00:00-05:00", "w.all",
          "quiet-hours");
    FORBIDS(&v, "2026-03-10T08:00:00-05:00", "w.voice");
    ALLOWS(&s, "2026-03-10T08:00:00-05:00");
}

/* ---------------------------------------------------------------------------------------------
 * daylight saving time */

/* New York 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00Z. */
static void test_dst_spring_forward(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.night", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(2, 30), H(5, 0));
    rl_job_t j = s_job(f, "America/New_York", RL_CH_SMS);
    assert_true(s_at("2026-03-08T03:00:00-04:00") == s_at("2026-03-08T07:00:00Z"));
    /* 02:30 does not exist that day: the window opens at the transition, 03:00 EDT */
    DEFER(&j, NULL, 0, "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "w.night",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-07T06:00:00-05:00", "2026-03-08T03:00:00-04:00", "w.night",
          "quiet-hours");
    ALLOW(&j, NULL, 0, "2026-03-08T03:00:00-04:00");
    ALLOW(&j, NULL, 0, "2026-03-08T04:59:59-04:00");
    DEFER(&j, NULL, 0, "2026-03-08T05:00:00-04:00", "2026-03-09T02:30:00-04:00", "w.night",
          "quiet-hours");
    FORBIDS(&j, "2026-03-08T01:59:59-05:00", "w.night");
    ALLOWS(&j, "2026-03-08T03:00:00-04:00");

    /* an ordinary window on that day opens at 08:00 EDT */
    w->day[6].span[0] = (rl_span_t){H(8, 0), H(21, 0)};
    DEFER(&j, NULL, 0, "2026-03-08T01:30:00-05:00", "2026-03-08T08:00:00-04:00", "w.night",
          "quiet-hours");
}

/* New York 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00Z; 01:00-01:59 happens twice. */
static void test_dst_fall_back(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.night", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(1, 30), H(5, 0));
    rl_job_t j = s_job(f, "America/New_York", RL_CH_SMS);
    /* the window opens at the FIRST 01:30 (EDT) */
    DEFER(&j, NULL, 0, "2026-11-01T00:00:00-04:00", "2026-11-01T01:30:00-04:00", "w.night",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-11-01T01:29:59-04:00", "2026-11-01T01:30:00-04:00", "w.night",
          "quiet-hours");
    ALLOW(&j, NULL, 0, "2026-11-01T01:30:00-04:00");
    ALLOW(&j, NULL, 0, "2026-11-01T01:59:59-04:00");
    ALLOW(&j, NULL, 0, "2026-11-01T04:59:59-05:00");
    DEFER(&j, NULL, 0, "2026-11-01T05:00:00-05:00", "2026-11-02T01:30:00-05:00", "w.night",
          "quiet-hours");
}

/* The repeated hour read from its second pass: the wall clock shows 01:10 EST, so 01:30 comes
 * again twenty minutes later; and a span lying inside the repeated hour reopens after the
 * transition. rl_window_allows already answers "allowed" at those instants, so the deferral must
 * not skip to the next day. */
static void test_dst_fall_back_second_pass(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.night", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(1, 30), H(5, 0));
    rl_job_t j = s_job(f, "America/New_York", RL_CH_SMS);
    ALLOWS(&j, "2026-11-01T01:30:00-05:00");
    FORBIDS(&j, "2026-11-01T01:00:00-05:00", "w.night");
    DEFER(&j, NULL, 0, "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00", "w.night",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-11-01T01:10:00-05:00", "2026-11-01T01:30:00-05:00", "w.night",
          "quiet-hours");

    for (int d = 0; d < 7; d++)
        w->day[d].span[0] = (rl_span_t){H(1, 0), H(1, 30)};
    ALLOWS(&j, "2026-11-01T01:00:00-05:00");
    DEFER(&j, NULL, 0, "2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00", "w.night",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-11-01T01:30:00-05:00", "2026-11-02T01:00:00-05:00", "w.night",
          "quiet-hours");
}

/* Santiago 2026-09-06 (Sunday): 00:00 -04 jumps to 01:00 -03 at 04:00Z; the day starts at 01:00.
 */
static void test_dst_santiago_skipped_midnight(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.early", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(0, 0), H(2, 0));
    rl_job_t j = s_job(f, "America/Santiago", RL_CH_SMS);
    assert_true(s_at("2026-09-06T01:00:00-03:00") == s_at("2026-09-06T04:00:00Z"));
    DEFER(&j, NULL, 0, "2026-09-05T23:00:00-04:00", "2026-09-06T01:00:00-03:00", "w.early",
          "quiet-hours");
    ALLOW(&j, NULL, 0, "2026-09-06T01:59:59-03:00");
    DEFER(&j, NULL, 0, "2026-09-06T02:00:00-03:00", "2026-09-07T00:00:00-03:00", "w.early",
          "quiet-hours");

    /* a per-day cap full on Saturday lifts when Sunday starts: 01:00 -03 */
    f->p.n_windows = 0;
    s_cap(f, "c.day", RL_CH_ALL_MASK, 1, RL_PER_DAY, 0);
    rl_contact_t sat = s_c("2026-09-05T10:00:00-04:00", RL_CH_SMS, 0, DEBT_A);
    DEFER(&j, &sat, 1, "2026-09-05T12:00:00-04:00", "2026-09-06T01:00:00-03:00", "c.day", "cap");
    rl_contact_t last_sat = s_c("2026-09-05T23:59:59-04:00", RL_CH_SMS, 0, DEBT_A);
    ALLOW(&j, &last_sat, 1, "2026-09-06T01:00:00-03:00");
    rl_contact_t first_sun = s_c("2026-09-06T01:00:00-03:00", RL_CH_SMS, 0, DEBT_A);
    DEFER(&j, &first_sun, 1, "2026-09-06T02:00:00-03:00", "2026-09-07T00:00:00-03:00", "c.day",
          "cap");
}

/* A week starting on Sunday begins at 01:00 -03 on 2026-09-06 in Santiago. */
static void test_dst_santiago_week_sunday(void **state) {
    s_pol_t *f = *state;
    f->p.week_start = 6;
    s_cap(f, "c.week", RL_CH_ALL_MASK, 1, RL_PER_WEEK, 0);
    rl_job_t j = s_job(f, "America/Santiago", RL_CH_SMS);
    rl_contact_t thu = s_c("2026-09-03T10:00:00-04:00", RL_CH_EMAIL, 0, DEBT_A);
    DEFER(&j, &thu, 1, "2026-09-05T10:00:00-04:00", "2026-09-06T01:00:00-03:00", "c.week", "cap");
}

/* A rolling 7-day cap is 168 hours: across spring-forward the limit lifts at 11:00 local for a
 * contact made at 10:00 local. */
static void test_dst_rolling_week(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *c = s_cap(f, "c.7in7", RL_CH_BIT(RL_CH_VOICE), 7, RL_PER_ROLLING, 7 * DAY);
    c->scope = RL_SCOPE_DEBT;
    rl_job_t j = s_job(f, "America/New_York", RL_CH_VOICE);
    rl_contact_t h[] = {
        s_c("2026-03-04T10:00:00-05:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-05T10:00:00-05:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-06T10:00:00-05:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-07T10:00:00-05:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-08T10:00:00-04:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-09T10:00:00-04:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-10T09:00:00-04:00", RL_CH_VOICE, 0, DEBT_A),
    };
    DEFER(&j, h, S_COUNT(h), "2026-03-10T12:00:00-04:00", "2026-03-11T11:00:00-04:00", "c.7in7",
          "cap");
    assert_int_equal(s_at("2026-03-11T11:00:00-04:00") - h[0].at, 168 * 3600);
    ALLOW(&j, h, S_COUNT(h), "2026-03-11T11:00:00-04:00");
    ALLOW(&j, h, S_COUNT(h) - 1, "2026-03-10T12:00:00-04:00"); /* 6 < 7 */
}

/* ---------------------------------------------------------------------------------------------
 * caps */

static void test_cap_per_day(void **state) {
    s_pol_t *f = *state;
    s_cap(f, "c.day", RL_CH_ALL_MASK, 2, RL_PER_DAY, 0);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h[] = {
        s_c("2026-03-09T23:59:59-05:00", RL_CH_SMS, 0, DEBT_A), /* yesterday: not counted */
        s_c("2026-03-10T00:00:00-05:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-10T11:00:00-05:00", RL_CH_EMAIL, 0, DEBT_A),
    };
    ALLOW(&j, h, 2, "2026-03-10T12:00:00-05:00"); /* limit - 1 counted */
    DEFER(&j, h, 3, "2026-03-10T12:00:00-05:00", "2026-03-11T00:00:00-05:00", "c.day", "cap");
    ALLOW(&j, h, 3, "2026-03-11T00:00:00-05:00");
}

static void test_cap_per_week_monday(void **state) {
    s_pol_t *f = *state;
    s_cap(f, "c.week", RL_CH_ALL_MASK, 2, RL_PER_WEEK, 0);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h[] = {
        s_c("2026-03-08T12:00:00-05:00", RL_CH_SMS, 0, DEBT_A), /* Sunday: the previous week */
        s_c("2026-03-10T12:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-09T00:00:00-05:00", RL_CH_SMS, 0, DEBT_A), /* Monday 00:00: this week */
    };
    ALLOW(&j, h, 2, "2026-03-11T12:00:00-05:00");
    DEFER(&j, h, 3, "2026-03-11T12:00:00-05:00", "2026-03-16T00:00:00-05:00", "c.week", "cap");
    DEFER(&j, h, 3, "2026-03-15T23:59:59-05:00", "2026-03-16T00:00:00-05:00", "c.week", "cap");
}

static void test_cap_per_week_sunday(void **state) {
    s_pol_t *f = *state;
    f->p.week_start = 6;
    s_cap(f, "c.week", RL_CH_ALL_MASK, 2, RL_PER_WEEK, 0);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h[] = {
        s_c("2026-03-08T12:00:00-05:00", RL_CH_SMS, 0, DEBT_A), /* Sunday: starts this week */
        s_c("2026-03-10T12:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-07T23:59:59-05:00", RL_CH_SMS, 0, DEBT_A), /* Saturday: previous week */
    };
    DEFER(&j, h, 2, "2026-03-14T23:00:00-05:00", "2026-03-15T00:00:00-05:00", "c.week", "cap");
    ALLOW(&j, h + 1, 2, "2026-03-11T12:00:00-05:00");
    /* the same two contacts under a Monday week: Sunday 03-08 belongs to the week before */
    f->p.week_start = 0;
    ALLOW(&j, h, 2, "2026-03-11T12:00:00-05:00");
}

static void test_cap_rolling(void **state) {
    s_pol_t *f = *state;
    s_cap(f, "c.roll", RL_CH_ALL_MASK, 3, RL_PER_ROLLING, DAY);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h[] = {
        /* any order */
        s_c("2026-03-10T11:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-10T08:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-10T10:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-10T09:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
    };
    /* the 3rd most recent (09:00) leaves the 24 h span at 09:00 tomorrow */
    DEFER(&j, h, 4, "2026-03-10T12:00:00-05:00", "2026-03-11T09:00:00-05:00", "c.roll", "cap");
    ALLOW(&j, h, 4, "2026-03-11T09:00:00-05:00");
    rl_contact_t two[] = {h[0], h[2]};
    ALLOW(&j, two, 2, "2026-03-10T12:00:00-05:00");

    /* a contact exactly one span old has left the span; one second younger has not */
    rl_contact_t edge[] = {
        s_c("2026-03-09T12:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        h[2],
        h[0],
    };
    ALLOW(&j, edge, 3, "2026-03-10T12:00:00-05:00");
    edge[0].at += 1;
    DEFER(&j, edge, 3, "2026-03-10T12:00:00-05:00", "2026-03-10T12:00:01-05:00", "c.roll", "cap");
}

static void test_cap_scope(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *c = s_cap(f, "c.debt", RL_CH_ALL_MASK, 1, RL_PER_DAY, 0);
    c->scope = RL_SCOPE_DEBT;
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h = s_c("2026-03-10T09:00:00-05:00", RL_CH_SMS, 0, DEBT_B);
    ALLOW(&j, &h, 1, "2026-03-10T12:00:00-05:00"); /* another debt */
    h.debt = DEBT_A;
    DEFER(&j, &h, 1, "2026-03-10T12:00:00-05:00", "2026-03-11T00:00:00-05:00", "c.debt", "cap");
    c->scope = RL_SCOPE_DEBTOR;
    h.debt = DEBT_B;
    DEFER(&j, &h, 1, "2026-03-10T12:00:00-05:00", "2026-03-11T00:00:00-05:00", "c.debt", "cap");
}

/* One contact with `flags` today; a cap of 1 per day counting `counts` under `direct`. */
typedef struct {
    rl_count_t counts;
    rl_direct_t direct;
    uint8_t flags;
    int blocks;
} s_count_case_t;

static void test_cap_counts(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *c = s_cap(f, "c.day", RL_CH_ALL_MASK, 1, RL_PER_DAY, 0);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    const uint8_t FAIL = RL_REC_FAILED, DLV = RL_REC_DELIVERED, CONV = RL_REC_CONVERSATION;
    const s_count_case_t cases[] = {
        {RL_COUNT_ATTEMPTS, RL_DIRECT_CONVERSATION, FAIL, 1},
        {RL_COUNT_ATTEMPTS, RL_DIRECT_CONVERSATION, 0, 1},
        {RL_COUNT_DIRECT, RL_DIRECT_ANY_ATTEMPT, FAIL, 1},
        {RL_COUNT_DIRECT, RL_DIRECT_ANY_ATTEMPT, 0, 1},
        {RL_COUNT_DIRECT, RL_DIRECT_DELIVERED, FAIL, 0}, /* known failed: not counted */
        {RL_COUNT_DIRECT, RL_DIRECT_DELIVERED, 0, 1},    /* unknown outcome: counted */
        {RL_COUNT_DIRECT, RL_DIRECT_DELIVERED, DLV, 1},
        {RL_COUNT_DIRECT, RL_DIRECT_DELIVERED, DLV | CONV, 1},
        {RL_COUNT_DIRECT, RL_DIRECT_CONVERSATION, DLV, 0},
        {RL_COUNT_DIRECT, RL_DIRECT_CONVERSATION, 0, 0},
        {RL_COUNT_DIRECT, RL_DIRECT_CONVERSATION, DLV | CONV, 1},
        {RL_COUNT_CONVERSATIONS, RL_DIRECT_ANY_ATTEMPT, DLV, 0}, /* ignores direct_contact */
        {RL_COUNT_CONVERSATIONS, RL_DIRECT_ANY_ATTEMPT, 0, 0},
        {RL_COUNT_CONVERSATIONS, RL_DIRECT_ANY_ATTEMPT, FAIL, 0},
        {RL_COUNT_CONVERSATIONS, RL_DIRECT_DELIVERED, DLV | CONV, 1},
    };
    for (size_t i = 0; i < S_COUNT(cases); i++) {
        c->counts = cases[i].counts;
        f->p.direct_contact = cases[i].direct;
        rl_contact_t h = s_c("2026-03-10T09:00:00-05:00", RL_CH_VOICE, cases[i].flags, DEBT_A);
        print_message("case %zu: counts %d direct %d flags %u\n", i, cases[i].counts,
                      cases[i].direct, cases[i].flags);
        if (cases[i].blocks)
            DEFER(&j, &h, 1, "2026-03-10T12:00:00-05:00", "2026-03-11T00:00:00-05:00", "c.day",
                  "cap");
        else
            ALLOW(&j, &h, 1, "2026-03-10T12:00:00-05:00");
    }
}

static void test_cap_channels(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *c = s_cap(f, "c.ch", RL_CH_ALL_MASK, 1, RL_PER_DAY, 0);
    rl_job_t sms = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_job_t email = s_job(f, "America/Bogota", RL_CH_EMAIL);
    rl_job_t voice = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_contact_t h = s_c("2026-03-10T09:00:00-05:00", RL_CH_SMS, 0, DEBT_A);
    const char *now = "2026-03-10T12:00:00-05:00", *next = "2026-03-11T00:00:00-05:00";

    DEFER(&email, &h, 1, now, next, "c.ch", "cap"); /* all channels together */
    c->per_channel = 1;                             /* each channel on its own */
    DEFER(&sms, &h, 1, now, next, "c.ch", "cap");
    ALLOW(&email, &h, 1, now);

    /* a cap on voice only: applies to voice jobs and counts voice contacts only */
    c->per_channel = 0;
    c->channels = RL_CH_BIT(RL_CH_VOICE);
    ALLOW(&voice, &h, 1, now);
    h.channel = RL_CH_VOICE;
    DEFER(&voice, &h, 1, now, next, "c.ch", "cap");
    ALLOW(&sms, &h, 1, now);
}

/* History entries after `now` count as if already made. */
static void test_cap_future_entry(void **state) {
    s_pol_t *f = *state;
    s_cap(f, "c.roll", RL_CH_ALL_MASK, 1, RL_PER_ROLLING, DAY);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h = s_c("2026-03-10T13:00:00-05:00", RL_CH_SMS, 0, DEBT_A);
    DEFER(&j, &h, 1, "2026-03-10T12:00:00-05:00", "2026-03-11T13:00:00-05:00", "c.roll", "cap");
}

/* A cap whose lift lies beyond RL_HORIZON_SECONDS rejects the job. */
static void test_horizon(void **state) {
    s_pol_t *f = *state;
    s_cap(f, "c.long", RL_CH_ALL_MASK, 1, RL_PER_ROLLING, 500 * DAY);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h = s_c("2026-03-10T11:00:00-05:00", RL_CH_SMS, 0, DEBT_A);
    s_check(__LINE__, &j, &h, 1, "2026-03-10T12:00:00-05:00", RL_REJECT, NULL, "c.long",
            "no-window");
}

/* ---------------------------------------------------------------------------------------------
 * gaps, cooldowns, one channel */

static void test_gap(void **state) {
    s_pol_t *f = *state;
    rl_gap_rule_t *g = s_gap(f, "g.msg", MESSAGING, 2 * DAY);
    rl_job_t email = s_job(f, "America/Bogota", RL_CH_EMAIL);
    rl_job_t sms = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_job_t voice = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_contact_t h[] = {
        s_c("2026-03-09T10:00:00-05:00", RL_CH_SMS, 0, DEBT_B),
        s_c("2026-03-08T09:00:00-05:00", RL_CH_WHATSAPP, 0, DEBT_A),
    };
    /* measured from the latest contact */
    DEFER(&email, h, 2, "2026-03-10T10:00:00-05:00", "2026-03-11T10:00:00-05:00", "g.msg",
          "min-gap");
    ALLOW(&email, h, 2, "2026-03-11T10:00:00-05:00");
    ALLOW(&voice, h, 2, "2026-03-10T10:00:00-05:00"); /* voice is not in the rule */
    /* a voice contact does not start a messaging gap */
    rl_contact_t v = s_c("2026-03-10T09:00:00-05:00", RL_CH_VOICE, 0, DEBT_A);
    ALLOW(&email, &v, 1, "2026-03-10T10:00:00-05:00");
    /* per_channel: only contacts on the job's own channel */
    g->per_channel = 1;
    ALLOW(&email, h, 1, "2026-03-10T10:00:00-05:00");
    DEFER(&sms, h, 1, "2026-03-10T10:00:00-05:00", "2026-03-11T10:00:00-05:00", "g.msg", "min-gap");
    /* scope debt: only contacts about the job's debt (the SMS was about debt B) */
    g->per_channel = 0;
    g->scope = RL_SCOPE_DEBT;
    DEFER(&email, h, 2, "2026-03-10T08:00:00-05:00", "2026-03-10T09:00:00-05:00", "g.msg",
          "min-gap");
    ALLOW(&email, h, 1, "2026-03-10T08:00:00-05:00");
}

/* Regulation F: a conversation on Monday 2026-03-09 at 18:00 (day 1) bars calls through Sunday
 * 2026-03-15 (day 7); calls are allowed from Monday 2026-03-16 00:00 local. */
static void test_cooldown(void **state) {
    s_pol_t *f = *state;
    rl_cooldown_rule_t *cd =
        s_cooldown(f, "cd.conv", RL_CH_BIT(RL_CH_VOICE), RL_CH_BIT(RL_CH_VOICE), 7);
    rl_job_t j = s_job(f, "America/New_York", RL_CH_VOICE);
    rl_contact_t h = s_c("2026-03-09T18:00:00-04:00", RL_CH_VOICE,
                         RL_REC_CONVERSATION | RL_REC_DELIVERED, DEBT_A);
    DEFER(&j, &h, 1, "2026-03-10T10:00:00-04:00", "2026-03-16T00:00:00-04:00", "cd.conv",
          "cooldown");
    DEFER(&j, &h, 1, "2026-03-15T23:59:59-04:00", "2026-03-16T00:00:00-04:00", "cd.conv",
          "cooldown");
    ALLOW(&j, &h, 1, "2026-03-16T00:00:00-04:00");

    /* then the window: Monday 08:00, still named after the cooldown (the first blocker) */
    rl_window_rule_t *w = s_window(f, "w.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(8, 0), H(21, 0));
    DEFER(&j, &h, 1, "2026-03-10T10:00:00-04:00", "2026-03-16T08:00:00-04:00", "cd.conv",
          "cooldown");
    f->p.n_windows = 0;

    rl_job_t sms = s_job(f, "America/New_York", RL_CH_SMS);
    ALLOW(&sms, &h, 1, "2026-03-10T10:00:00-04:00"); /* only calls are barred */
    j.debt = DEBT_B;
    ALLOW(&j, &h, 1, "2026-03-10T10:00:00-04:00"); /* another debt */
    j.debt = DEBT_A;
    h.flags = RL_REC_DELIVERED;
    ALLOW(&j, &h, 1, "2026-03-10T10:00:00-04:00"); /* no conversation */
    h.flags = RL_REC_CONVERSATION;
    h.channel = RL_CH_SMS;
    ALLOW(&j, &h, 1, "2026-03-10T10:00:00-04:00"); /* SMS reply does not trigger */
    cd->scope = RL_SCOPE_DEBTOR;
    h.channel = RL_CH_VOICE;
    h.debt = DEBT_B;
    DEFER(&j, &h, 1, "2026-03-10T10:00:00-04:00", "2026-03-16T00:00:00-04:00", "cd.conv",
          "cooldown");

    /* across spring-forward: Tuesday 03-03 (EST) -> Tuesday 03-10 00:00 EDT */
    rl_contact_t e = s_c("2026-03-03T18:00:00-05:00", RL_CH_VOICE, RL_REC_CONVERSATION, DEBT_A);
    DEFER(&j, &e, 1, "2026-03-04T10:00:00-05:00", "2026-03-10T00:00:00-04:00", "cd.conv",
          "cooldown");
    /* days = 1: the rest of the conversation's day */
    cd->days = 1;
    DEFER(&j, &e, 1, "2026-03-03T19:00:00-05:00", "2026-03-04T00:00:00-05:00", "cd.conv",
          "cooldown");
}

static void test_one_channel_week(void **state) {
    s_pol_t *f = *state;
    rl_one_channel_rule_t *oc = s_one_channel(f, "oc.week", RL_PER_WEEK, 0);
    rl_job_t voice = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_job_t sms = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h = s_c("2026-03-09T10:00:00-05:00", RL_CH_SMS, RL_REC_DELIVERED, DEBT_B);
    DEFER(&voice, &h, 1, "2026-03-11T10:00:00-05:00", "2026-03-16T00:00:00-05:00", "oc.week",
          "one-channel");
    ALLOW(&sms, &h, 1, "2026-03-11T10:00:00-05:00"); /* the same channel */
    ALLOW(&voice, &h, 1, "2026-03-16T00:00:00-05:00");
    h.flags = 0; /* unknown outcome: a direct contact under `delivered` */
    DEFER(&voice, &h, 1, "2026-03-11T10:00:00-05:00", "2026-03-16T00:00:00-05:00", "oc.week",
          "one-channel");
    h.flags = RL_REC_FAILED; /* not a direct contact */
    ALLOW(&voice, &h, 1, "2026-03-11T10:00:00-05:00");
    f->p.direct_contact = RL_DIRECT_ANY_ATTEMPT;
    DEFER(&voice, &h, 1, "2026-03-11T10:00:00-05:00", "2026-03-16T00:00:00-05:00", "oc.week",
          "one-channel");
    /* last week's contact does not bind this week */
    rl_contact_t sun = s_c("2026-03-08T10:00:00-05:00", RL_CH_SMS, RL_REC_DELIVERED, DEBT_A);
    ALLOW(&voice, &sun, 1, "2026-03-11T10:00:00-05:00");
    /* scope debt: a contact about debt B does not bind a job about debt A */
    oc->scope = RL_SCOPE_DEBT;
    ALLOW(&voice, &h, 1, "2026-03-11T10:00:00-05:00");
}

static void test_one_channel_rolling(void **state) {
    s_pol_t *f = *state;
    s_one_channel(f, "oc.roll", RL_PER_ROLLING, 7 * DAY);
    rl_job_t voice = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_job_t sms = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h[] = {
        s_c("2026-03-09T10:00:00-05:00", RL_CH_SMS, RL_REC_DELIVERED, DEBT_A),
        s_c("2026-03-10T09:00:00-05:00", RL_CH_EMAIL, RL_REC_DELIVERED, DEBT_A),
    };
    DEFER(&voice, h, 1, "2026-03-11T10:00:00-05:00", "2026-03-16T10:00:00-05:00", "oc.roll",
          "one-channel");
    /* the latest contact on another channel decides */
    DEFER(&voice, h, 2, "2026-03-11T10:00:00-05:00", "2026-03-17T09:00:00-05:00", "oc.roll",
          "one-channel");
    DEFER(&sms, h, 2, "2026-03-11T10:00:00-05:00", "2026-03-17T09:00:00-05:00", "oc.roll",
          "one-channel");
    ALLOW(&sms, h, 1, "2026-03-11T10:00:00-05:00");
    ALLOW(&voice, h, 1, "2026-03-16T10:00:00-05:00");
}

/* ---------------------------------------------------------------------------------------------
 * roles, preferred window, zones, not_before, expires_at */

static void test_roles(void **state) {
    s_pol_t *f = *state;
    s_role(f, "r.noref", RL_ROLE_BIT(RL_ROLE_REFERENCE));
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    j.role = RL_ROLE_REFERENCE;
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T10:00:00-05:00", RL_REJECT, NULL, "r.noref", "role");
    j.expires_at = s_at("2026-03-10T09:00:00-05:00"); /* roles come before expiry */
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T10:00:00-05:00", RL_REJECT, NULL, "r.noref", "role");
    j.expires_at = 0;
    j.role = 0;
    ALLOW(&j, NULL, 0, "2026-03-10T10:00:00-05:00");
    j.role = RL_ROLE_CODEBTOR;
    ALLOW(&j, NULL, 0, "2026-03-10T10:00:00-05:00");

    /* 0 is read as debtor: a policy forbidding debtors rejects role 0 */
    f->roles[0].roles = RL_ROLE_BIT(RL_ROLE_DEBTOR);
    j.role = 0;
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T10:00:00-05:00", RL_REJECT, NULL, "r.noref", "role");
}

static void test_preferred_narrows(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(7, 0), H(19, 0));
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    j.has_preferred = 1;
    s_span(&j.preferred, H(9, 0), H(12, 0));
    ALLOW(&j, NULL, 0, "2026-03-10T10:00:00-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T08:00:00-05:00", "2026-03-10T09:00:00-05:00",
          "debtor.preferred-window", "preferred-window");
    DEFER(&j, NULL, 0, "2026-03-10T12:00:00-05:00", "2026-03-11T09:00:00-05:00",
          "debtor.preferred-window", "preferred-window");
    /* outside both: the law's window is the first blocker */
    DEFER(&j, NULL, 0, "2026-03-10T06:00:00-05:00", "2026-03-10T09:00:00-05:00", "w.hours",
          "quiet-hours");
    FORBIDS(&j, "2026-03-10T08:00:00-05:00", "debtor.preferred-window");
    FORBIDS(&j, "2026-03-10T06:00:00-05:00", "w.hours");
    ALLOWS(&j, "2026-03-10T09:00:00-05:00");
}

static void test_preferred_wraps(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(7, 0), H(21, 0));
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    j.has_preferred = 1;
    assert_int_equal(rl_window_parse("20:00-08:00", &j.preferred), 0);
    ALLOW(&j, NULL, 0, "2026-03-10T07:30:00-05:00");
    ALLOW(&j, NULL, 0, "2026-03-10T20:30:00-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T08:00:00-05:00", "2026-03-10T20:00:00-05:00",
          "debtor.preferred-window", "preferred-window");
    DEFER(&j, NULL, 0, "2026-03-10T21:00:00-05:00", "2026-03-11T07:00:00-05:00", "w.hours",
          "quiet-hours");
    DEFER(&j, NULL, 0, "2026-03-10T23:30:00-05:00", "2026-03-11T07:00:00-05:00", "w.hours",
          "quiet-hours");
}

static void test_preferred_cannot_widen(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(8, 0), H(12, 0));
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    j.has_preferred = 1;
    s_span(&j.preferred, H(6, 0), H(22, 0));
    DEFER(&j, NULL, 0, "2026-03-10T07:00:00-05:00", "2026-03-10T08:00:00-05:00", "w.hours",
          "quiet-hours");
    ALLOW(&j, NULL, 0, "2026-03-10T11:00:00-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T12:00:00-05:00", "2026-03-11T08:00:00-05:00", "w.hours",
          "quiet-hours");
}

/* Regulation F with an ambiguous location: New York and Los Angeles, 08:00-21:00 in both. */
static void test_several_zones(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "us.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(8, 0), H(21, 0));
    rl_job_t j = s_job(f, "America/New_York", RL_CH_SMS);
    j.zones[1] = s_zone("America/Los_Angeles");
    j.n_zones = 2;
    for (int order = 0; order < 2; order++) {
        DEFER(&j, NULL, 0, "2026-03-10T10:00:00-04:00", "2026-03-10T11:00:00-04:00", "us.hours",
              "quiet-hours"); /* 07:00 in Los Angeles */
        ALLOW(&j, NULL, 0, "2026-03-10T11:00:00-04:00");
        ALLOW(&j, NULL, 0, "2026-03-10T20:59:59-04:00");
        DEFER(&j, NULL, 0, "2026-03-10T21:00:00-04:00", "2026-03-11T11:00:00-04:00", "us.hours",
              "quiet-hours");
        FORBIDS(&j, "2026-03-10T10:00:00-04:00", "us.hours");
        const rl_zone_t *z = j.zones[0];
        j.zones[0] = j.zones[1];
        j.zones[1] = z;
    }
}

/* Days and weeks of caps are those of zones[0]. */
static void test_primary_zone_days(void **state) {
    s_pol_t *f = *state;
    s_cap(f, "c.day", RL_CH_ALL_MASK, 1, RL_PER_DAY, 0);
    rl_job_t j = s_job(f, "America/Los_Angeles", RL_CH_SMS);
    j.zones[1] = s_zone("America/New_York");
    j.n_zones = 2;
    rl_contact_t h = s_c("2026-03-10T23:30:00-04:00", RL_CH_SMS, 0, DEBT_A); /* 20:30 PDT */
    DEFER(&j, &h, 1, "2026-03-11T01:00:00-04:00", "2026-03-11T00:00:00-07:00", "c.day", "cap");
    j.zones[0] = s_zone("America/New_York");
    j.zones[1] = s_zone("America/Los_Angeles");
    ALLOW(&j, &h, 1, "2026-03-11T01:00:00-04:00");
}

static void test_not_before(void **state) {
    s_pol_t *f = *state;
    s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    j.not_before = s_at("2026-03-10T11:00:00-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T10:00:00-05:00", "2026-03-10T11:00:00-05:00", "job.not-before",
          "not-before");
    ALLOW(&j, NULL, 0, "2026-03-10T11:00:00-05:00");
    ALLOW(&j, NULL, 0, "2026-03-10T12:00:00-05:00");
    /* a not_before in closed hours: the window forbidding at not_before is named */
    j.not_before = s_at("2026-03-10T20:00:00-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T10:00:00-05:00", "2026-03-11T07:00:00-05:00", "w.hours",
          "quiet-hours");
}

static void test_expires_at(void **state) {
    s_pol_t *f = *state;
    s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    j.expires_at = s_at("2026-03-10T10:00:00-05:00");
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T10:00:00-05:00", RL_EXPIRE, NULL, "job.expires-at",
            "expired");
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T11:00:00-05:00", RL_EXPIRE, NULL, "job.expires-at",
            "expired");
    ALLOW(&j, NULL, 0, "2026-03-10T09:59:59-05:00");

    /* the next legal instant (Wednesday 07:00) lies past the expiry: EXPIRE with that instant;
     * rule and reason are the blocker's (admission reports the reason as "expired") */
    j.expires_at = s_at("2026-03-11T06:00:00-05:00");
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T20:00:00-05:00", RL_EXPIRE,
            "2026-03-11T07:00:00-05:00", "w.hours", "quiet-hours");
    /* an until equal to the expiry is expired too (now == expires_at is) */
    j.expires_at = s_at("2026-03-11T07:00:00-05:00");
    s_check(__LINE__, &j, NULL, 0, "2026-03-10T20:00:00-05:00", RL_EXPIRE,
            "2026-03-11T07:00:00-05:00", "w.hours", "quiet-hours");
    j.expires_at = s_at("2026-03-11T07:00:01-05:00");
    DEFER(&j, NULL, 0, "2026-03-10T20:00:00-05:00", "2026-03-11T07:00:00-05:00", "w.hours",
          "quiet-hours");
}

/* ---------------------------------------------------------------------------------------------
 * the fixpoint */

/* After hours on Tuesday: the window moves t to Wednesday 08:00; a rolling cap still holds there
 * and moves t again. With a 30 h span it lifts inside Wednesday's window; with 35.5 h it lifts
 * at 21:30, after the window closed, so the window moves t a third time, to Thursday 08:00. The
 * verdict names the window: the first rule that forbade the contact at `now`. */
static void test_fixpoint_window_cap_window(void **state) {
    s_pol_t *f = *state;
    rl_window_rule_t *w = s_window(f, "w.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 6, H(8, 0), H(21, 0));
    rl_cap_rule_t *c = s_cap(f, "c.roll", RL_CH_ALL_MASK, 1, RL_PER_ROLLING, 30 * 3600);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h = s_c("2026-03-10T10:00:00-05:00", RL_CH_SMS, 0, DEBT_A);
    DEFER(&j, &h, 1, "2026-03-10T22:00:00-05:00", "2026-03-11T16:00:00-05:00", "w.hours",
          "quiet-hours");
    c->span = 36 * 3600 - 1800; /* 10:00 + 35.5 h = Wednesday 21:30 */
    DEFER(&j, &h, 1, "2026-03-10T22:00:00-05:00", "2026-03-12T08:00:00-05:00", "w.hours",
          "quiet-hours");
    /* from inside the window, the cap is the first blocker */
    DEFER(&j, &h, 1, "2026-03-10T20:00:00-05:00", "2026-03-12T08:00:00-05:00", "c.roll", "cap");
}

/* A weekly call cap full on Tuesday lifts at Monday 00:00; Monday is a holiday and Sunday is
 * closed, so the window moves t to Tuesday 08:00. The cap is named. */
static void test_fixpoint_cap_holiday(void **state) {
    s_pol_t *f = *state;
    static const char *const specs[] = {"date 2026-03-23 name Lunes"};
    s_holidays(f, "cl.feriados", specs, 1);
    rl_window_rule_t *w = s_window(f, "cl.hours", RL_CH_ALL_MASK);
    s_days(w, 0, 5, H(8, 0), H(20, 0));
    s_cap(f, "cl.calls.week", RL_CH_BIT(RL_CH_VOICE), 1, RL_PER_WEEK, 0);
    s_gap(f, "cl.messaging.gap", MESSAGING, 2 * DAY);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_contact_t h[] = {
        s_c("2026-03-17T10:00:00-05:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-22T10:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
    };
    DEFER(&j, h, 1, "2026-03-18T10:00:00-05:00", "2026-03-24T08:00:00-05:00", "cl.calls.week",
          "cap");
    /* an SMS job: not capped, but the messaging gap from a Sunday SMS (22nd 10:00 -> 24th
     * 10:00) after the Monday holiday */
    rl_job_t s = s_job(f, "America/Bogota", RL_CH_SMS);
    DEFER(&s, h, 2, "2026-03-22T12:00:00-05:00", "2026-03-24T10:00:00-05:00", "cl.hours",
          "quiet-hours");
}

/* ---------------------------------------------------------------------------------------------
 * the verdict's counters (Bogota; 2026-03-09 is a Monday) */

/* Regulation F's 7 calls in 7 days, per debt: an accepted call shows the count with itself. */
static void test_counters_accepted_one_cap(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *c = s_cap(f, "us.calls.7d", RL_CH_BIT(RL_CH_VOICE), 7, RL_PER_ROLLING, 7 * DAY);
    c->scope = RL_SCOPE_DEBT;
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_contact_t h[] = {
        s_c("2026-03-03T10:00:00-05:00", RL_CH_VOICE, 0, DEBT_A), /* 7 days old: left */
        s_c("2026-03-05T10:00:00-05:00", RL_CH_VOICE, RL_REC_FAILED, DEBT_A),
        s_c("2026-03-09T10:00:00-05:00", RL_CH_VOICE, RL_REC_DELIVERED, DEBT_A),
    };
    COUNTERS(&j, NULL, 0, "2026-03-10T10:00:00-05:00", "1 of 7 in 7d", "us.calls.7d");
    rl_verdict_t v =
        COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "3 of 7 in 7d", "us.calls.7d");
    assert_int_equal(v.outcome, RL_ALLOW);
    assert_null(v.rule);
    assert_int_equal(v.counters.kind, RL_COUNTERS_CAP);
    assert_int_equal(v.counters.count, 3);
    assert_int_equal(v.counters.limit, 7);
    assert_int_equal(v.counters.per, RL_PER_ROLLING);
    assert_true(v.counters.span == 7 * DAY);
    char w[RL_COUNTERS_TEXT_MAX];
    assert_int_equal(rl_counters_window(&v.counters, w, sizeof w), 2);
    assert_string_equal(w, "7d");

    /* this contact is counted as admission records it, an attempt of unknown outcome: a cap on
     * conversations does not count it, nor one on direct contacts read as conversations */
    c->counts = RL_COUNT_CONVERSATIONS;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "0 of 7 in 7d", "us.calls.7d");
    c->counts = RL_COUNT_DIRECT;
    f->p.direct_contact = RL_DIRECT_DELIVERED;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "2 of 7 in 7d", "us.calls.7d");
    f->p.direct_contact = RL_DIRECT_CONVERSATION;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "0 of 7 in 7d", "us.calls.7d");

    /* calendar windows */
    c->counts = RL_COUNT_ATTEMPTS;
    c->per = RL_PER_DAY;
    c->span = 0;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-09T12:00:00-05:00", "2 of 7 in day", "us.calls.7d");
    c->per = RL_PER_WEEK;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "2 of 7 in week", "us.calls.7d");
}

/* Among several caps, the one with the highest count/limit once this contact is counted. */
static void test_counters_nearest_cap(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *day = s_cap(f, "c.day", RL_CH_ALL_MASK, 4, RL_PER_DAY, 0);
    rl_cap_rule_t *week = s_cap(f, "c.week", RL_CH_ALL_MASK, 5, RL_PER_WEEK, 0);
    s_cap(f, "c.roll", RL_CH_ALL_MASK, 9, RL_PER_ROLLING, 24 * 3600);
    s_cap(f, "c.voice", RL_CH_BIT(RL_CH_VOICE), 1, RL_PER_WEEK, 0); /* not on SMS */
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h[] = {
        s_c("2026-03-09T10:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-09T11:00:00-05:00", RL_CH_VOICE, 0, DEBT_A),
        s_c("2026-03-10T09:00:00-05:00", RL_CH_EMAIL, 0, DEBT_A),
    };
    /* Tuesday 10:00: day 2/4 = 0.5, week 4/5 = 0.8, 24 h 3/9 (the voice cap, 2/1, is not the
     * SMS job's) */
    rl_verdict_t v =
        COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "4 of 5 in week", "c.week");
    assert_int_equal(v.outcome, RL_ALLOW);
    assert_int_equal(v.counters.count, 4);
    assert_int_equal(v.counters.limit, 5);
    assert_int_equal(v.counters.per, RL_PER_WEEK);
    /* the day cap tightened to 2: 2/2 = 1.0 beats 0.8, though the week cap counts more */
    day->limit = 2;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "2 of 2 in day", "c.day");
    /* ties: the first rule. day 2/4 = week 4/8 = 0.5; then the week cap first */
    day->limit = 4;
    week->limit = 8;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "2 of 4 in day", "c.day");
    rl_cap_rule_t tmp = f->caps[0];
    f->caps[0] = f->caps[1];
    f->caps[1] = tmp;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "4 of 8 in week", "c.week");
    /* the rolling cap counted from Monday 10:00 on */
    f->caps[2].limit = 5;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "3 of 5 in 24h", "c.roll");
}

/* A deferral by a cap shows the count already in the window, however far past the limit. */
static void test_counters_deferred_cap(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *week = s_cap(f, "c.week", RL_CH_ALL_MASK, 5, RL_PER_WEEK, 0);
    rl_cap_rule_t *c = s_cap(f, "us.calls.7d", RL_CH_BIT(RL_CH_VOICE), 7, RL_PER_ROLLING, 7 * DAY);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_contact_t h[9];
    for (int i = 0; i < 9; i++) {
        char at[40];
        snprintf(at, sizeof at, "2026-03-%02dT%02d:00:00-05:00", 4 + i % 7, 8 + i);
        h[i] = s_c(at, RL_CH_VOICE, 0, DEBT_A);
    }
    /* 7 calls from Wednesday 4th to Tuesday 10th, two of them this week (under the week cap) */
    week->limit = 3;
    rl_verdict_t v = COUNTERS(&j, h, 7, "2026-03-10T20:00:00-05:00", "7 of 7 in 7d", "us.calls.7d");
    assert_int_equal(v.outcome, RL_DEFER);
    assert_string_equal(v.rule, "us.calls.7d");
    assert_int_equal(v.counters.kind, RL_COUNTERS_CAP);
    assert_int_equal(v.counters.count, 7);
    assert_int_equal(v.counters.limit, 7);
    /* 9 in the window: 9 shown, not the limit */
    COUNTERS(&j, h, 9, "2026-03-10T20:00:00-05:00", "9 of 7 in 7d", "us.calls.7d");
    /* the week cap full first: it decides and its figures are shown, not those of the nearest */
    week->limit = 2;
    COUNTERS(&j, h, 7, "2026-03-10T20:00:00-05:00", "2 of 2 in week", "c.week");
    week->limit = 5;
    c->per = RL_PER_DAY;
    c->limit = 1;
    COUNTERS(&j, h, 6, "2026-03-09T14:00:00-05:00", "1 of 1 in day", "us.calls.7d");
}

static void test_counters_scope(void **state) {
    s_pol_t *f = *state;
    rl_cap_rule_t *c = s_cap(f, "c.roll", RL_CH_ALL_MASK, 7, RL_PER_ROLLING, 7 * DAY);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h[] = {
        s_c("2026-03-06T10:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-07T10:00:00-05:00", RL_CH_SMS, 0, DEBT_B),
        s_c("2026-03-08T10:00:00-05:00", RL_CH_SMS, 0, DEBT_B),
        s_c("2026-03-09T10:00:00-05:00", RL_CH_SMS, 0, DEBT_A),
        s_c("2026-03-09T11:00:00-05:00", RL_CH_SMS, 0, DEBT_B),
    };
    c->scope = RL_SCOPE_DEBT;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "3 of 7 in 7d", "c.roll");
    j.debt = DEBT_B;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "4 of 7 in 7d", "c.roll");
    c->scope = RL_SCOPE_DEBTOR;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "6 of 7 in 7d", "c.roll");
    /* deferred: the debt's count, not the debtor's */
    c->limit = 3;
    c->scope = RL_SCOPE_DEBT;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "3 of 3 in 7d", "c.roll");
    c->scope = RL_SCOPE_DEBTOR;
    COUNTERS(&j, h, S_COUNT(h), "2026-03-10T10:00:00-05:00", "5 of 3 in 7d", "c.roll");
}

/* No counters: no cap on the job's channel, or a rule that counts nothing decided. */
static void test_counters_none(void **state) {
    s_pol_t *f = *state;
    s_co_hours(f);
    rl_job_t j = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_contact_t h = s_c("2026-03-10T09:00:00-05:00", RL_CH_SMS, 0, DEBT_A);
    rl_verdict_t v = COUNTERS(&j, &h, 1, "2026-03-10T10:00:00-05:00", "", NULL);
    assert_int_equal(v.outcome, RL_ALLOW);
    assert_int_equal(v.counters.kind, RL_COUNTERS_NONE);
    assert_int_equal(v.counters.count, 0);
    assert_int_equal(v.counters.limit, 0);
    char w[8] = "x";
    assert_int_equal(rl_counters_window(&v.counters, w, sizeof w), 0);
    assert_string_equal(w, "");
    s_cap(f, "c.voice", RL_CH_BIT(RL_CH_VOICE), 1, RL_PER_DAY, 0);
    COUNTERS(&j, &h, 1, "2026-03-10T10:00:00-05:00", "", NULL); /* a cap, not on SMS */
    rl_job_t voice = s_job(f, "America/Bogota", RL_CH_VOICE);
    COUNTERS(&voice, &h, 1, "2026-03-10T10:00:00-05:00", "1 of 1 in day", "c.voice");
    /* decided by a window, before the cap is read; by not_before; by a role */
    COUNTERS(&voice, &h, 1, "2026-03-10T06:00:00-05:00", "", NULL);
    voice.not_before = s_at("2026-03-10T11:00:00-05:00");
    v = COUNTERS(&voice, &h, 1, "2026-03-10T10:00:00-05:00", "", NULL);
    assert_string_equal(v.reason, "not-before");
    voice.not_before = 0;
    s_role(f, "r.noref", RL_ROLE_BIT(RL_ROLE_REFERENCE));
    voice.role = RL_ROLE_REFERENCE;
    COUNTERS(&voice, &h, 1, "2026-03-10T10:00:00-05:00", "", NULL);
}

static void test_counters_gap_cooldown_one_channel(void **state) {
    s_pol_t *f = *state;
    s_gap(f, "g.msg", MESSAGING, 2 * DAY);
    s_cooldown(f, "cd.conv", RL_CH_BIT(RL_CH_VOICE), RL_CH_BIT(RL_CH_VOICE), 7);
    rl_one_channel_rule_t *oc = s_one_channel(f, "oc.week", RL_PER_WEEK, 0);
    rl_job_t sms = s_job(f, "America/Bogota", RL_CH_SMS);
    rl_job_t voice = s_job(f, "America/Bogota", RL_CH_VOICE);
    rl_contact_t h[] = {
        s_c("2026-03-09T18:00:00-05:00", RL_CH_VOICE, RL_REC_CONVERSATION | RL_REC_DELIVERED,
            DEBT_A),
        s_c("2026-03-10T07:00:00-05:00", RL_CH_SMS, RL_REC_DELIVERED, DEBT_A),
    };
    /* an SMS Tuesday 07:00, the next Tuesday 10:25 */
    rl_verdict_t v = COUNTERS(&sms, h + 1, 1, "2026-03-10T10:25:30-05:00",
                              "last contact 3h25m ago, gap 48h", "g.msg");
    assert_int_equal(v.counters.kind, RL_COUNTERS_GAP);
    assert_true(v.counters.ago == 3 * 3600 + 25 * 60 + 30);
    assert_true(v.counters.span == 2 * DAY);
    COUNTERS(&sms, h + 1, 1, "2026-03-11T07:00:00-05:00", "last contact 24h ago, gap 48h", "g.msg");
    /* from not_before, the instant the rules are checked at */
    sms.not_before = s_at("2026-03-10T12:00:00-05:00");
    COUNTERS(&sms, h + 1, 1, "2026-03-10T10:00:00-05:00", "last contact 5h ago, gap 48h", "g.msg");
    sms.not_before = 0;
    /* a contact recorded after the check */
    COUNTERS(&sms, h + 1, 1, "2026-03-10T06:30:00-05:00", "last contact in 30m, gap 48h", "g.msg");

    /* a call conversation Monday 18:00 (day 1): Thursday is day 4 of 7 */
    v = COUNTERS(&voice, h, 1, "2026-03-12T09:00:00-05:00", "day 4 of 7 after conversation",
                 "cd.conv");
    assert_int_equal(v.counters.kind, RL_COUNTERS_COOLDOWN);
    assert_int_equal(v.counters.count, 4);
    assert_int_equal(v.counters.limit, 7);
    assert_true(v.counters.ago == 2 * DAY + 15 * 3600);
    COUNTERS(&voice, h, 1, "2026-03-09T23:00:00-05:00", "day 1 of 7 after conversation", "cd.conv");

    /* one channel: the SMS of Tuesday 07:00 bars a call on Friday; rolling: within 7d */
    f->p.n_cooldowns = 0;
    v = COUNTERS(&voice, h + 1, 1, "2026-03-13T11:30:00-05:00", "sms contact 3d4h ago this week",
                 "oc.week");
    assert_int_equal(v.counters.kind, RL_COUNTERS_ONE_CHANNEL);
    assert_int_equal(v.counters.channel, RL_CH_SMS);
    assert_int_equal(v.counters.per, RL_PER_WEEK);
    oc->per = RL_PER_ROLLING;
    oc->span = 7 * DAY;
    COUNTERS(&voice, h + 1, 1, "2026-03-10T09:00:00-05:00", "sms contact 2h ago within 7d",
             "oc.week");
}

/* The text never passes RL_COUNTERS_TEXT_MAX - 1 characters nor the buffer given. */
static void test_counters_text_bound(void **state) {
    (void)state;
    static const rl_counters_t extreme[] = {
        {.kind = RL_COUNTERS_CAP,
         .rule = "c",
         .count = INT32_MIN,
         .limit = INT32_MIN,
         .per = RL_PER_ROLLING,
         .span = INT64_MAX - 1},
        {.kind = RL_COUNTERS_CAP,
         .rule = "c",
         .count = INT32_MAX,
         .limit = INT32_MAX,
         .per = RL_PER_ROLLING,
         .span = 90061},
        {.kind = RL_COUNTERS_GAP, .rule = "g", .span = INT64_MAX, .ago = INT64_MIN},
        {.kind = RL_COUNTERS_GAP, .rule = "g", .span = -1, .ago = INT64_MAX},
        {.kind = RL_COUNTERS_COOLDOWN,
         .rule = "cd",
         .count = INT32_MIN,
         .limit = INT32_MIN,
         .ago = INT64_MIN},
        {.kind = RL_COUNTERS_ONE_CHANNEL,
         .rule = "oc",
         .per = RL_PER_ROLLING,
         .span = INT64_MAX,
         .ago = INT64_MIN,
         .channel = RL_CH_MESSENGER},
        {.kind = RL_COUNTERS_ONE_CHANNEL,
         .rule = "oc",
         .per = RL_PER_WEEK,
         .ago = 5 * DAY + 3 * 3600 + 59,
         .channel = 99},
    };
    for (size_t i = 0; i < S_COUNT(extreme); i++) {
        rl_verdict_t v = {.outcome = RL_DEFER, .counters = extreme[i]};
        char big[256];
        memset(big, 'x', sizeof big);
        size_t n = rl_verdict_counters(&v, big, sizeof big);
        if (n != strlen(big) || n > RL_COUNTERS_TEXT_MAX - 1 || n == 0)
            fail_msg("case %zu: %zu characters: \"%s\"", i, n, big);
        /* every shorter buffer holds a NUL-terminated prefix of it, and nothing past its end */
        for (size_t len = 0; len <= RL_COUNTERS_TEXT_MAX + 1; len++) {
            char small[RL_COUNTERS_TEXT_MAX + 8];
            memset(small, '#', sizeof small);
            size_t m = rl_verdict_counters(&v, small, len);
            size_t want = len == 0 ? 0 : (len - 1 < n ? len - 1 : n);
            if (m != want || (len > 0 && (small[m] != '\0' || memcmp(small, big, m) != 0)) ||
                small[len == 0 ? 0 : len] != '#')
                fail_msg("case %zu, len %zu: wrote %zu, want %zu", i, len, m, want);
        }
    }
    /* a realistic text of exactly the limit is kept whole */
    rl_verdict_t v = {.counters = {.kind = RL_COUNTERS_CAP,
                                   .rule = "c",
                                   .count = 999,
                                   .limit = 1000,
                                   .per = RL_PER_ROLLING,
                                   .span = 90061}};
    char t[RL_COUNTERS_TEXT_MAX];
    rl_verdict_counters(&v, t, sizeof t);
    assert_string_equal(t, "999 of 1000 in 25h1m1s");
    /* durations: days only from 72 hours on; `ago` keeps two units, rounded down */
    static const struct {
        int64_t span;
        const char *window;
    } spans[] = {{24 * 3600, "24h"}, {2 * DAY, "48h"}, {3 * DAY, "3d"},
                 {7 * DAY, "7d"},    {5400, "1h30m"},  {36 * 3600, "36h"},
                 {45, "45s"},        {0, "0s"},        {3 * DAY + 61, "3d1m1s"}};
    for (size_t i = 0; i < S_COUNT(spans); i++) {
        rl_counters_t c = {.kind = RL_COUNTERS_CAP, .per = RL_PER_ROLLING, .span = spans[i].span};
        char w[RL_COUNTERS_TEXT_MAX];
        rl_counters_window(&c, w, sizeof w);
        if (strcmp(w, spans[i].window) != 0)
            fail_msg("span %lld: \"%s\", want \"%s\"", (long long)spans[i].span, w,
                     spans[i].window);
    }
    v.counters = (rl_counters_t){.kind = RL_COUNTERS_GAP, .span = DAY, .ago = 2 * DAY + 7199};
    rl_verdict_counters(&v, t, sizeof t);
    assert_string_equal(t, "last contact 49h59m ago, gap 24h");
    v.counters.ago = 4 * DAY + 59;
    rl_verdict_counters(&v, t, sizeof t);
    assert_string_equal(t, "last contact 4d ago, gap 24h");
}

/* ---------------------------------------------------------------------------------------------
 * rl_window_parse, rl_debt_hash */

static void test_window_parse_good(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int n;
        int32_t s0, e0, s1, e1;
    } cases[] = {
        {"07:00-19:00", 1, H(7, 0), H(19, 0), 0, 0},     {"00:00-24:00", 1, 0, 86400, 0, 0},
        {"08:30-24:00", 1, H(8, 30), 86400, 0, 0},       {"23:59-24:00", 1, H(23, 59), 86400, 0, 0},
        {"20:00-08:00", 2, 0, H(8, 0), H(20, 0), 86400}, {"23:00-00:01", 2, 0, 60, H(23, 0), 86400},
        {"20:00-00:00", 1, H(20, 0), 86400, 0, 0}, /* wraps to midnight: no morning span */
    };
    for (size_t i = 0; i < S_COUNT(cases); i++) {
        rl_day_t d;
        memset(&d, 0x77, sizeof d);
        if (rl_window_parse(cases[i].text, &d) != 0)
            fail_msg("%s rejected", cases[i].text);
        assert_int_equal(d.n, cases[i].n);
        assert_int_equal(d.span[0].start, cases[i].s0);
        assert_int_equal(d.span[0].end, cases[i].e0);
        if (cases[i].n == 2) {
            assert_int_equal(d.span[1].start, cases[i].s1);
            assert_int_equal(d.span[1].end, cases[i].e1);
        }
    }
}

static void test_window_parse_bad(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "7:00-19:00",
        "07:00-19:0",
        "07:00 19:00",
        "07:00-19:00 ",
        " 07:00-19:00",
        "07:60-19:00",
        "07:00-19:60",
        "25:00-26:00",
        "24:00-08:00",
        "08:00-24:01",
        "08:00-08:00",
        "0a:00-19:00",
        "07:00-1b:00",
        "07.00-19.00",
        "07:00-19:00x",
        "-7:00-19:00",
        "07:00--9:00",
        "00:00-00:00",
        "07:00",
    };
    for (size_t i = 0; i < S_COUNT(bad); i++) {
        rl_day_t d = {.n = 3};
        if (rl_window_parse(bad[i], &d) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(d.n, 3); /* untouched */
    }
    rl_day_t d;
    assert_int_equal(rl_window_parse(NULL, &d), -1);
}

static void test_debt_hash(void **state) {
    (void)state;
    assert_true(rl_debt_hash(NULL) == 0);
    assert_true(rl_debt_hash("") == 0);
    assert_true(rl_debt_hash("a") != 0);
    assert_true(rl_debt_hash("debt-1") == rl_debt_hash("debt-1"));
    assert_true(rl_debt_hash("debt-1") != rl_debt_hash("debt-2"));
    /* found offline by exhaustive search: FNV-1a 64 of this id folds to 0, which is mapped to 1 */
    assert_true(rl_debt_hash("debt-5QY5Wz") == 1);
    char id[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(id, sizeof id, "loan/%d", i);
        uint64_t h = rl_debt_hash(id);
        if (h == 0 || h > 0xffffffffULL)
            fail_msg("rl_debt_hash(%s) = %llu", id, (unsigned long long)h);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_window_inside_outside),
        T(test_window_end_exclusive),
        T(test_window_lunch_break),
        T(test_window_weekend),
        T(test_window_weekend_closed),
        T(test_window_holiday),
        T(test_window_holiday_friday),
        T(test_window_holiday_friday_saturday_open),
        T(test_window_closed_all_week),
        T(test_window_per_channel),
        T(test_dst_spring_forward),
        T(test_dst_fall_back),
        T(test_dst_fall_back_second_pass),
        T(test_dst_santiago_skipped_midnight),
        T(test_dst_santiago_week_sunday),
        T(test_dst_rolling_week),
        T(test_cap_per_day),
        T(test_cap_per_week_monday),
        T(test_cap_per_week_sunday),
        T(test_cap_rolling),
        T(test_cap_scope),
        T(test_cap_counts),
        T(test_cap_channels),
        T(test_cap_future_entry),
        T(test_horizon),
        T(test_gap),
        T(test_cooldown),
        T(test_one_channel_week),
        T(test_one_channel_rolling),
        T(test_roles),
        T(test_preferred_narrows),
        T(test_preferred_wraps),
        T(test_preferred_cannot_widen),
        T(test_several_zones),
        T(test_primary_zone_days),
        T(test_not_before),
        T(test_expires_at),
        T(test_fixpoint_window_cap_window),
        T(test_fixpoint_cap_holiday),
        T(test_counters_accepted_one_cap),
        T(test_counters_nearest_cap),
        T(test_counters_deferred_cap),
        T(test_counters_scope),
        T(test_counters_none),
        T(test_counters_gap_cooldown_one_channel),
        T(test_counters_text_bound),
        T(test_window_parse_good),
        T(test_window_parse_bad),
        T(test_debt_hash),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_policy.c — cmocka tests of rl_policy: the seven shipped presets, the loader's strictness
 * and its error lines, extends, lookback and rule lookup.
 *
 * Presets are read from PG_SOURCE_DIR/deploy/policies, error fixtures from
 * PG_SOURCE_DIR/tests/unit/policies; smaller cases are written to a temporary folder. The last
 * test feeds truncated and corrupted presets to the loader: it must never crash or leak (run
 * under ASan/UBSan/LSan) and must always answer with a policy or one "PATH:LINE:COL:" line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl_date.h"
#include "rl_policy.h"

#ifndef PG_SOURCE_DIR
#define PG_SOURCE_DIR "."
#endif

#define PRESETS  PG_SOURCE_DIR "/deploy/policies/"
#define FIXTURES PG_SOURCE_DIR "/tests/unit/policies/"
#define DAY      86400
#define HM(h, m) ((h)*3600 + (m)*60)

static char s_tmpdir[64];

/* ---------------------------------------------------------------------------------------------
 * Helpers */

static rl_policy_t *s_load_ok(const char *path) {
    char err[512] = "";
    rl_policy_t *p = rl_policy_load(path, err, sizeof err);
    if (!p) {
        fail_msg("%s did not load: %s", path, err);
    }
    return p;
}

static rl_policy_t *s_preset(const char *name) {
    char path[512];
    snprintf(path, sizeof path, PRESETS "%s.yaml", name);
    return s_load_ok(path);
}

/* Writes text to s_tmpdir/name.yaml; returns its path in out. */
static const char *s_write(const char *name, const char *text, char *out, size_t out_len) {
    snprintf(out, out_len, "%s/%s.yaml", s_tmpdir, name);
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    return out;
}

/* Loading `path` must fail with one line "PATH:LINE:COL: ..." containing `phrase`; col 0 skips the
 * column check. */
static void s_expect_error(const char *path, int line, int col, const char *phrase) {
    char err[512];
    memset(err, '#', sizeof err);
    err[sizeof err - 1] = '\0';
    rl_policy_t *p = rl_policy_load(path, err, sizeof err);
    if (p) {
        rl_policy_destroy(&p);
        fail_msg("%s loaded, expected an error containing \"%s\"", path, phrase);
    }
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s:%d:", path, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0) {
        fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
    }
    const char *c = err + strlen(prefix);
    char *end;
    long column = strtol(c, &end, 10);
    if (end == c || end[0] != ':' || end[1] != ' ' || column < 1) {
        fail_msg("error \"%s\" has no \"COL: \" after the line", err);
    }
    if (col && column != col) {
        fail_msg("error \"%s\": column %ld, expected %d", err, column, col);
    }
    if (!strstr(err, phrase)) {
        fail_msg("error \"%s\" does not contain \"%s\"", err, phrase);
    }
    assert_null(strchr(err, '\n'));
}

static void s_expect_fixture_error(const char *name, int line, int col, const char *phrase) {
    char path[512];
    snprintf(path, sizeof path, FIXTURES "%s.yaml", name);
    s_expect_error(path, line, col, phrase);
}

static void s_expect_text_error(const char *text, int line, const char *phrase) {
    char path[128];
    s_expect_error(s_write("case", text, path, sizeof path), line, 0, phrase);
}

static const rl_window_rule_t *s_window(const rl_policy_t *p, const char *id) {
    for (size_t i = 0; i < p->n_windows; i++) {
        if (strcmp(p->windows[i].id, id) == 0) {
            return &p->windows[i];
        }
    }
    fail_msg("%s has no window %s", p->id, id);
    return NULL;
}

static const rl_cap_rule_t *s_cap(const rl_policy_t *p, const char *id) {
    for (size_t i = 0; i < p->n_caps; i++) {
        if (strcmp(p->caps[i].id, id) == 0) {
            return &p->caps[i];
        }
    }
    fail_msg("%s has no cap %s", p->id, id);
    return NULL;
}

static const rl_role_rule_t *s_roles(const rl_policy_t *p, const char *id) {
    for (size_t i = 0; i < p->n_roles; i++) {
        if (strcmp(p->roles[i].id, id) == 0) {
            return &p->roles[i];
        }
    }
    fail_msg("%s has no roles rule %s", p->id, id);
    return NULL;
}

static void s_assert_day(const rl_day_t *d, int n, int32_t start, int32_t end) {
    assert_int_equal(d->n, n);
    if (n > 0) {
        assert_int_equal(d->span[0].start, start);
        assert_int_equal(d->span[0].end, end);
    }
}

static int s_holiday(const rl_policy_t *p, int y, int m, int d) {
    return rl_calendar_is_holiday(p->holidays, rl_days_from_civil(y, m, d), NULL);
}

static int s_holidays_in(const rl_policy_t *p, int year) {
    return rl_calendar_list(p->holidays, year, NULL, 0);
}

#define MESSAGING                                                                                  \
    (RL_CH_BIT(RL_CH_SMS) | RL_CH_BIT(RL_CH_WHATSAPP) | RL_CH_BIT(RL_CH_EMAIL) |                   \
     RL_CH_BIT(RL_CH_MESSENGER))

/* ---------------------------------------------------------------------------------------------
 * Names */

static void test_channel_and_role_names(void **state) {
    (void)state;
    assert_int_equal(rl_channel_parse("sms"), RL_CH_SMS);
    assert_int_equal(rl_channel_parse("whatsapp"), RL_CH_WHATSAPP);
    assert_int_equal(rl_channel_parse("voice"), RL_CH_VOICE);
    assert_int_equal(rl_channel_parse("email"), RL_CH_EMAIL);
    assert_int_equal(rl_channel_parse("messenger"), RL_CH_MESSENGER);
    assert_int_equal(rl_channel_parse("SMS"), RL_CH_NONE);
    assert_int_equal(rl_channel_parse("none"), RL_CH_NONE);
    assert_int_equal(rl_channel_parse(""), RL_CH_NONE);
    assert_int_equal(rl_channel_parse(NULL), RL_CH_NONE);
    for (int c = RL_CH_SMS; c < RL_CH_COUNT; c++) {
        assert_int_equal(rl_channel_parse(rl_channel_name((rl_channel_t)c)), c);
    }
    assert_string_equal(rl_channel_name(RL_CH_NONE), "none");
    assert_string_equal(rl_channel_name((rl_channel_t)6), "none");
    assert_string_equal(rl_channel_name((rl_channel_t)-1), "none");

    assert_int_equal(rl_role_parse("debtor"), RL_ROLE_DEBTOR);
    assert_int_equal(rl_role_parse("codebtor"), RL_ROLE_CODEBTOR);
    assert_int_equal(rl_role_parse("reference"), RL_ROLE_REFERENCE);
    assert_int_equal(rl_role_parse("references"), 0);
    assert_int_equal(rl_role_parse(NULL), 0);
    assert_string_equal(rl_role_name(RL_ROLE_REFERENCE), "reference");
    assert_string_equal(rl_role_name(RL_ROLE_CODEBTOR), "codebtor");
    assert_string_equal(rl_role_name(RL_ROLE_DEBTOR), "debtor");
    assert_string_equal(rl_role_name(0), "none");
    assert_string_equal(rl_role_name(4), "none");
}

/* ---------------------------------------------------------------------------------------------
 * Presets */

static void test_preset_co(void **state) {
    (void)state;
    rl_policy_t *p = s_preset("CO");
    assert_string_equal(p->id, "CO");
    assert_non_null(strstr(p->name, "2300"));
    assert_non_null(strstr(p->source, "deploy/policies/CO.yaml"));
    assert_int_equal(p->week_start, 0);
    assert_int_equal(p->direct_contact, RL_DIRECT_DELIVERED);

    assert_int_equal(p->n_windows, 1);
    const rl_window_rule_t *w = s_window(p, "co.hours");
    assert_int_equal(w->channels, RL_CH_ALL_MASK);
    for (int d = 0; d < 5; d++) {
        s_assert_day(&w->day[d], 1, 25200, 68400);
    }
    s_assert_day(&w->day[5], 1, 28800, 54000);
    s_assert_day(&w->day[6], 0, 0, 0);
    assert_int_equal(w->has_holiday, 1);
    s_assert_day(&w->holiday, 0, 0, 0);

    assert_string_equal(p->holidays_id, "co.festivos");
    assert_non_null(p->holidays);
    assert_int_equal(s_holidays_in(p, 2025), 17); /* San Pedro lands on Sagrado Corazón */
    assert_true(s_holiday(p, 2025, 1, 1));
    assert_true(s_holiday(p, 2025, 1, 6));  /* Reyes, a Monday */
    assert_true(s_holiday(p, 2025, 3, 24)); /* San José, Wed 19 moved to Monday */
    assert_false(s_holiday(p, 2025, 3, 19));
    assert_true(s_holiday(p, 2025, 4, 17)); /* Jueves Santo */
    assert_true(s_holiday(p, 2025, 4, 18)); /* Viernes Santo */
    assert_true(s_holiday(p, 2025, 6, 2));  /* Ascensión, Easter +43 */
    assert_true(s_holiday(p, 2025, 6, 23)); /* Corpus Christi, Easter +64 */
    assert_true(s_holiday(p, 2025, 6, 30)); /* Sagrado Corazón, Easter +71 */
    assert_true(s_holiday(p, 2025, 7, 20));
    assert_true(s_holiday(p, 2025, 8, 7));
    assert_true(s_holiday(p, 2025, 11, 17)); /* Independencia de Cartagena, moved */
    assert_false(s_holiday(p, 2025, 11, 11));
    assert_true(s_holiday(p, 2025, 12, 8));
    assert_true(s_holiday(p, 2025, 12, 25));
    assert_false(s_holiday(p, 2025, 7, 21));

    assert_int_equal(p->n_caps, 1);
    const rl_cap_rule_t *c = s_cap(p, "co.direct.daily");
    assert_int_equal(c->channels, RL_CH_ALL_MASK);
    assert_int_equal(c->limit, 1);
    assert_int_equal(c->per, RL_PER_DAY);
    assert_int_equal(c->counts, RL_COUNT_DIRECT);
    assert_int_equal(c->scope, RL_SCOPE_DEBTOR);
    assert_int_equal(c->per_channel, 0);

    assert_int_equal(p->n_one_channel, 1);
    assert_string_equal(p->one_channel[0].id, "co.one-channel");
    assert_int_equal(p->one_channel[0].per, RL_PER_WEEK);
    assert_int_equal(p->one_channel[0].scope, RL_SCOPE_DEBTOR);

    assert_int_equal(p->n_roles, 1);
    assert_int_equal(s_roles(p, "co.no-references")->roles, RL_ROLE_BIT(RL_ROLE_REFERENCE));
    assert_int_equal(p->n_gaps, 0);
    assert_int_equal(p->n_cooldowns, 0);

    assert_string_equal(rl_policy_rule_kind(p, "co.hours"), "window");
    assert_string_equal(rl_policy_rule_kind(p, "co.festivos"), "holidays");
    assert_string_equal(rl_policy_rule_kind(p, "co.direct.daily"), "cap");
    assert_string_equal(rl_policy_rule_kind(p, "co.one-channel"), "one-channel");
    assert_string_equal(rl_policy_rule_kind(p, "co.no-references"), "roles");
    assert_null(rl_policy_rule_kind(p, "co.hour"));
    assert_null(rl_policy_rule_kind(p, "CO"));
    assert_null(rl_policy_rule_kind(p, ""));
    assert_null(rl_policy_rule_kind(p, NULL));
    assert_null(rl_policy_rule_kind(NULL, "co.hours"));

    assert_int_equal(rl_policy_lookback(p), 9 * DAY); /* calendar week: 8 days + 1 margin */
    rl_policy_destroy(&p);
    assert_null(p);
}

static void test_preset_co_strict(void **state) {
    (void)state;
    rl_policy_t *p = s_preset("CO-strict");
    assert_string_equal(p->id, "CO-strict");
    assert_non_null(strstr(p->name, "strict"));
    /* inherited from CO */
    assert_int_equal(s_window(p, "co.hours")->day[5].span[0].end, 54000);
    assert_string_equal(p->holidays_id, "co.festivos");
    assert_true(s_holiday(p, 2025, 4, 18));
    assert_int_equal(s_roles(p, "co.no-references")->roles, RL_ROLE_BIT(RL_ROLE_REFERENCE));
    assert_int_equal(p->n_one_channel, 1);
    /* added */
    assert_int_equal(p->n_caps, 3);
    assert_int_equal(s_cap(p, "co.direct.daily")->limit, 1);
    const rl_cap_rule_t *ch = s_cap(p, "co-strict.channel.week");
    assert_int_equal(ch->channels, RL_CH_ALL_MASK);
    assert_int_equal(ch->limit, 1);
    assert_int_equal(ch->per, RL_PER_WEEK);
    assert_int_equal(ch->per_channel, 1);
    assert_int_equal(ch->counts, RL_COUNT_ATTEMPTS);
    const rl_cap_rule_t *wk = s_cap(p, "co-strict.week");
    assert_int_equal(wk->channels, RL_CH_ALL_MASK);
    assert_int_equal(wk->limit, 2);
    assert_int_equal(wk->per, RL_PER_WEEK);
    assert_int_equal(wk->per_channel, 0);
    assert_int_equal(wk->scope, RL_SCOPE_DEBTOR);
    assert_string_equal(rl_policy_rule_kind(p, "co-strict.week"), "cap");
    rl_policy_destroy(&p);
}

static void test_preset_mx(void **state) {
    (void)state;
    rl_policy_t *p = s_preset("MX");
    assert_string_equal(p->id, "MX");
    assert_int_equal(p->n_windows, 1);
    const rl_window_rule_t *w = s_window(p, "mx.hours");
    assert_int_equal(w->channels, RL_CH_ALL_MASK);
    for (int d = 0; d < 7; d++) {
        s_assert_day(&w->day[d], 1, HM(7, 0), HM(22, 0));
    }
    assert_int_equal(w->has_holiday, 0);
    assert_null(p->holidays);
    assert_string_equal(p->holidays_id, "");
    assert_int_equal(s_roles(p, "mx.third-parties")->roles, RL_ROLE_BIT(RL_ROLE_REFERENCE));
    assert_int_equal(p->n_caps + p->n_gaps + p->n_cooldowns + p->n_one_channel, 0);
    assert_int_equal(rl_policy_lookback(p), 2 * DAY);
    rl_policy_destroy(&p);
}

static void test_preset_us(void **state) {
    (void)state;
    rl_policy_t *p = s_preset("US");
    assert_string_equal(p->id, "US");
    const rl_window_rule_t *w = s_window(p, "us.hours");
    assert_int_equal(w->channels, RL_CH_ALL_MASK);
    for (int d = 0; d < 7; d++) {
        s_assert_day(&w->day[d], 1, HM(8, 0), HM(21, 0));
    }
    assert_int_equal(w->has_holiday, 0);
    assert_int_equal(p->n_caps, 1);
    const rl_cap_rule_t *c = s_cap(p, "us.regf.7in7");
    assert_int_equal(c->channels, RL_CH_BIT(RL_CH_VOICE));
    assert_int_equal(c->limit, 7);
    assert_int_equal(c->per, RL_PER_ROLLING);
    assert_int_equal(c->span, 7 * DAY);
    assert_int_equal(c->scope, RL_SCOPE_DEBT);
    assert_int_equal(c->counts, RL_COUNT_ATTEMPTS);
    assert_int_equal(p->n_cooldowns, 1);
    const rl_cooldown_rule_t *cd = &p->cooldowns[0];
    assert_string_equal(cd->id, "us.regf.conversation");
    assert_int_equal(cd->channels, RL_CH_BIT(RL_CH_VOICE));
    assert_int_equal(cd->trigger, RL_CH_BIT(RL_CH_VOICE));
    assert_int_equal(cd->days, 7);
    assert_int_equal(cd->scope, RL_SCOPE_DEBT);
    assert_string_equal(rl_policy_rule_kind(p, "us.regf.conversation"), "cooldown");
    assert_int_equal(rl_policy_lookback(p), 9 * DAY); /* cooldown 7 + 1 days, + 1 margin */
    rl_policy_destroy(&p);
}

static void test_preset_us_ma(void **state) {
    (void)state;
    rl_policy_t *p = s_preset("US-MA");
    assert_string_equal(p->id, "US-MA");
    assert_int_equal(p->n_caps, 2);
    assert_int_equal(s_cap(p, "us.regf.7in7")->limit, 7);
    const rl_cap_rule_t *c = s_cap(p, "us-ma.2in7");
    assert_int_equal(c->channels, RL_CH_BIT(RL_CH_VOICE) | RL_CH_BIT(RL_CH_SMS) |
                                      RL_CH_BIT(RL_CH_WHATSAPP) | RL_CH_BIT(RL_CH_MESSENGER));
    assert_int_equal(c->channels & RL_CH_BIT(RL_CH_EMAIL), 0);
    assert_int_equal(c->limit, 2);
    assert_int_equal(c->per, RL_PER_ROLLING);
    assert_int_equal(c->span, 7 * DAY);
    assert_int_equal(c->scope, RL_SCOPE_DEBT);
    assert_int_equal(p->n_cooldowns, 1);
    assert_int_equal(s_window(p, "us.hours")->day[6].span[0].start, HM(8, 0));
    rl_policy_destroy(&p);
}

static void test_preset_pe(void **state) {
    (void)state;
    rl_policy_t *p = s_preset("PE");
    assert_string_equal(p->id, "PE");
    const rl_window_rule_t *w = s_window(p, "pe.hours");
    assert_int_equal(w->channels, RL_CH_ALL_MASK);
    for (int d = 0; d < 5; d++) {
        s_assert_day(&w->day[d], 1, HM(7, 0), HM(20, 0));
    }
    s_assert_day(&w->day[5], 0, 0, 0);
    s_assert_day(&w->day[6], 0, 0, 0);
    assert_int_equal(w->has_holiday, 1);
    s_assert_day(&w->holiday, 0, 0, 0);
    assert_string_equal(p->holidays_id, "pe.feriados");
    assert_int_equal(s_holidays_in(p, 2025), 16);
    assert_true(s_holiday(p, 2025, 7, 28));
    assert_true(s_holiday(p, 2025, 7, 29));
    assert_true(s_holiday(p, 2025, 8, 30));
    assert_true(s_holiday(p, 2025, 4, 17)); /* Jueves Santo */
    assert_true(s_holiday(p, 2024, 6, 7));  /* Batalla de Arica, from 2024 */
    assert_false(s_holiday(p, 2023, 6, 7));
    assert_false(s_holiday(p, 2025, 6, 30)); /* no move to Monday in Peru */
    assert_int_equal(s_roles(p, "pe.third-parties")->roles, RL_ROLE_BIT(RL_ROLE_REFERENCE));
    assert_int_equal(p->n_caps, 0);
    rl_policy_destroy(&p);
}

static void test_preset_cl(void **state) {
    (void)state;
    rl_policy_t *p = s_preset("CL");
    assert_string_equal(p->id, "CL");
    assert_int_equal(p->week_start, 0);
    const rl_window_rule_t *w = s_window(p, "cl.hours");
    assert_int_equal(w->channels, RL_CH_ALL_MASK);
    for (int d = 0; d < 6; d++) {
        s_assert_day(&w->day[d], 1, HM(8, 0), HM(20, 0));
    }
    s_assert_day(&w->day[6], 0, 0, 0);
    assert_int_equal(w->has_holiday, 1);
    s_assert_day(&w->holiday, 0, 0, 0);

    assert_int_equal(p->n_caps, 2);
    const rl_cap_rule_t *calls = s_cap(p, "cl.calls.week");
    assert_int_equal(calls->channels, RL_CH_BIT(RL_CH_VOICE));
    assert_int_equal(calls->limit, 1);
    assert_int_equal(calls->per, RL_PER_WEEK);
    assert_int_equal(calls->counts, RL_COUNT_ATTEMPTS);
    const rl_cap_rule_t *msg = s_cap(p, "cl.messaging.week");
    assert_int_equal(msg->channels, MESSAGING);
    assert_int_equal(msg->limit, 2);
    assert_int_equal(msg->per, RL_PER_WEEK);
    assert_int_equal(msg->per_channel, 0);
    assert_int_equal(p->n_gaps, 1);
    assert_string_equal(p->gaps[0].id, "cl.messaging.gap");
    assert_int_equal(p->gaps[0].channels, MESSAGING);
    assert_int_equal(p->gaps[0].gap, 2 * DAY);
    assert_int_equal(p->gaps[0].scope, RL_SCOPE_DEBTOR);
    assert_int_equal(p->gaps[0].per_channel, 0);
    assert_string_equal(rl_policy_rule_kind(p, "cl.messaging.gap"), "gap");

    assert_string_equal(p->holidays_id, "cl.feriados");
    assert_int_equal(s_holidays_in(p, 2025), 18);
    assert_true(s_holiday(p, 2025, 4, 19)); /* Sábado Santo */
    assert_true(s_holiday(p, 2025, 6, 20)); /* solstice, explicit date */
    assert_true(s_holiday(p, 2027, 6, 28)); /* Tue Jun 29 -> Monday Jun 28 (Ley 19.668) */
    assert_false(s_holiday(p, 2027, 6, 29));
    assert_true(s_holiday(p, 2027, 10, 11)); /* Tue Oct 12 -> Monday Oct 11 */
    assert_true(s_holiday(p, 2027, 9, 17));
    assert_true(s_holiday(p, 2025, 9, 18));
    assert_false(s_holiday(p, 2025, 9, 17));
    assert_int_equal(rl_policy_lookback(p), 9 * DAY);
    rl_policy_destroy(&p);
}

/* ---------------------------------------------------------------------------------------------
 * Schema features */

static void test_features(void **state) {
    (void)state;
    char path[128];
    rl_policy_t *p = s_load_ok(s_write("features",
                                       "id: FEAT\n"
                                       "week_start: sunday\n"
                                       "direct_contact: conversation\n"
                                       "groups:\n"
                                       "  texts: [sms, whatsapp]\n"
                                       "  reach: [texts, voice]\n"
                                       "holidays:\n"
                                       "  id: feat.hol\n"
                                       "  rules:\n"
                                       "    - fixed 01-01\n"
                                       "    - {rule: \"fixed 06-07\", from: 2024, to: 2025, "
                                       "name: \"Arica\"}\n"
                                       "windows:\n"
                                       "  - id: feat.hours\n"
                                       "    channels: [reach, email]\n"
                                       "    daily: [\"14:00-18:00\", \"08:00-12:00\"]\n"
                                       "    sun: closed\n"
                                       "    sat-sun: \"10:00-24:00\"\n"
                                       "    holidays: \"09:00-10:00\"\n"
                                       "  - id: feat.voice\n"
                                       "    channels: voice\n"
                                       "    wed: \"00:00-24:00\"\n"
                                       "caps:\n"
                                       "  - {id: feat.roll, channels: texts, limit: 1000, "
                                       "per: rolling, span: 1d12h, counts: conversations, "
                                       "scope: debt, per_channel: true}\n"
                                       "gaps:\n"
                                       "  - {id: feat.gap, channels: all, min: 90s}\n"
                                       "cooldowns:\n"
                                       "  - {id: feat.cool, channels: all, after_conversation_on: "
                                       "voice, days: 60}\n"
                                       "one_channel:\n"
                                       "  - {id: feat.one, per: rolling, span: 3d, scope: debt}\n"
                                       "roles:\n"
                                       "  - {id: feat.roles, forbid: [codebtor, reference]}\n",
                                       path, sizeof path));
    assert_string_equal(p->name, "FEAT"); /* defaults to the id */
    assert_int_equal(p->week_start, 6);
    assert_int_equal(p->direct_contact, RL_DIRECT_CONVERSATION);
    const rl_window_rule_t *w = s_window(p, "feat.hours");
    assert_int_equal(w->channels, RL_CH_BIT(RL_CH_SMS) | RL_CH_BIT(RL_CH_WHATSAPP) |
                                      RL_CH_BIT(RL_CH_VOICE) | RL_CH_BIT(RL_CH_EMAIL));
    for (int d = 0; d < 5; d++) { /* sorted after parsing */
        assert_int_equal(w->day[d].n, 2);
        assert_int_equal(w->day[d].span[0].start, HM(8, 0));
        assert_int_equal(w->day[d].span[0].end, HM(12, 0));
        assert_int_equal(w->day[d].span[1].start, HM(14, 0));
        assert_int_equal(w->day[d].span[1].end, HM(18, 0));
    }
    s_assert_day(&w->day[5], 1, HM(10, 0), DAY); /* sat-sun overrides daily and sun */
    s_assert_day(&w->day[6], 1, HM(10, 0), DAY);
    assert_int_equal(w->has_holiday, 1);
    s_assert_day(&w->holiday, 1, HM(9, 0), HM(10, 0));
    const rl_window_rule_t *v = s_window(p, "feat.voice");
    s_assert_day(&v->day[2], 1, 0, DAY);
    s_assert_day(&v->day[0], 0, 0, 0); /* never named: closed */
    assert_int_equal(v->has_holiday, 0);

    const rl_cap_rule_t *c = s_cap(p, "feat.roll");
    assert_int_equal(c->limit, 1000);
    assert_int_equal(c->span, DAY + 12 * 3600);
    assert_int_equal(c->counts, RL_COUNT_CONVERSATIONS);
    assert_int_equal(c->scope, RL_SCOPE_DEBT);
    assert_int_equal(c->per_channel, 1);
    assert_int_equal(p->gaps[0].gap, 90);
    assert_int_equal(p->gaps[0].channels, RL_CH_ALL_MASK);
    assert_int_equal(p->gaps[0].scope, RL_SCOPE_DEBTOR);
    assert_int_equal(p->cooldowns[0].days, 60);
    assert_int_equal(p->cooldowns[0].trigger, RL_CH_BIT(RL_CH_VOICE));
    assert_int_equal(p->cooldowns[0].scope, RL_SCOPE_DEBTOR);
    assert_int_equal(p->one_channel[0].per, RL_PER_ROLLING);
    assert_int_equal(p->one_channel[0].span, 3 * DAY);
    assert_int_equal(p->one_channel[0].scope, RL_SCOPE_DEBT);
    assert_int_equal(p->roles[0].roles,
                     RL_ROLE_BIT(RL_ROLE_CODEBTOR) | RL_ROLE_BIT(RL_ROLE_REFERENCE));

    assert_true(s_holiday(p, 2025, 6, 7));
    assert_false(s_holiday(p, 2026, 6, 7)); /* to: 2025 */
    assert_false(s_holiday(p, 2023, 6, 7)); /* from: 2024 */
    const char *name = NULL;
    assert_int_equal(rl_calendar_is_holiday(p->holidays, rl_days_from_civil(2024, 6, 7), &name), 1);
    assert_string_equal(name, "Arica");

    assert_int_equal(rl_policy_lookback(p), 62 * DAY); /* cooldown 60 + 1, + 1 margin */
    rl_policy_destroy(&p);
}

static void test_extends(void **state) {
    (void)state;
    rl_policy_t *p = s_load_ok(FIXTURES "ext_child.yaml");
    assert_string_equal(p->id, "CHILD");
    assert_string_equal(p->name, "Child policy");
    assert_int_equal(p->week_start, 6);
    assert_string_equal(p->holidays_id, "base.holidays");
    assert_true(s_holiday(p, 2030, 1, 1));
    assert_int_equal(s_window(p, "base.hours")->has_holiday, 1);
    assert_int_equal(s_cap(p, "base.daily")->channels,
                     RL_CH_BIT(RL_CH_SMS) | RL_CH_BIT(RL_CH_WHATSAPP));
    assert_int_equal(p->n_gaps, 1);
    assert_int_equal(p->gaps[0].gap, DAY + 12 * 3600);
    assert_int_equal(p->gaps[0].channels, RL_CH_BIT(RL_CH_SMS) | RL_CH_BIT(RL_CH_WHATSAPP));
    assert_string_equal(p->source, FIXTURES "ext_child.yaml");
    rl_policy_destroy(&p);

    p = s_load_ok(FIXTURES "ext_base.yaml");
    assert_string_equal(p->id, "BASE");
    assert_int_equal(p->week_start, 0);
    assert_int_equal(p->n_gaps, 0);
    rl_policy_destroy(&p);
}

/* ---------------------------------------------------------------------------------------------
 * Errors: fixtures */

static void test_error_yaml_syntax(void **state) {
    (void)state;
    s_expect_fixture_error("bad_unclosed_quote", 5, 1, "unexpected end of stream");
    s_expect_fixture_error("bad_unclosed_quote", 5, 1, "quoted scalar");
    s_expect_fixture_error("bad_indent", 3, 7, "mapping values are not allowed");
}

static void test_error_fixtures(void **state) {
    (void)state;
    s_expect_fixture_error("bad_unknown_key", 8, 5, "unknown key \"limt\" in cap");
    s_expect_fixture_error("bad_duplicate_key", 7, 5, "duplicate key \"mon\"");
    s_expect_fixture_error("bad_duplicate_id", 8, 9, "duplicate rule id \"bad.rule\"");
    s_expect_fixture_error(
        "bad_unknown_channel", 5, 21,
        "unknown channel \"smss\" (expected sms, whatsapp, voice, email, messenger or a group)");
    s_expect_fixture_error("bad_hour_25", 6, 14, "invalid time");
    s_expect_fixture_error("bad_start_after_end", 6, 14, "start must be before end");
    s_expect_fixture_error("bad_overlap", 6, 10, "overlapping spans 08:00-12:00 and 11:00-14:00");
    s_expect_fixture_error("bad_rolling_no_span", 7, 10, "needs a span");
    s_expect_fixture_error("bad_limit_zero", 6, 12, "limit must be at least 1");
    s_expect_fixture_error("bad_limit_zero", 6, 12, "use roles");
    s_expect_fixture_error("bad_scalar_for_map", 4, 5, "cap must be a mapping, found a scalar");
    s_expect_fixture_error("empty", 1, 1, "empty policy file");
}

static void test_error_extends(void **state) {
    (void)state;
    /* the cycle is reported where it closes */
    char err[512];
    assert_null(rl_policy_load(FIXTURES "cycle_a.yaml", err, sizeof err));
    assert_int_equal(strncmp(err, FIXTURES "cycle_b.yaml:3:10: extends cycle",
                             strlen(FIXTURES "cycle_b.yaml:3:10: extends cycle")),
                     0);
    assert_null(rl_policy_load(FIXTURES "cycle_b.yaml", err, sizeof err));
    assert_int_equal(strncmp(err, FIXTURES "cycle_a.yaml:3:10: extends cycle",
                             strlen(FIXTURES "cycle_a.yaml:3:10: extends cycle")),
                     0);
    s_expect_fixture_error("cycle_self", 3, 10, "extends cycle");
    s_expect_fixture_error("ext_dup_id", 5, 10, "duplicate rule id \"base.daily\"");
    s_expect_fixture_error("ext_missing", 3, 10, "no_such_policy.yaml: cannot open");

    /* depth: l0 -> l1 -> ... -> l4 is allowed, l5 is one level too many */
    char path[128], text[128];
    for (int i = 0; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        if (i < 5) {
            snprintf(text, sizeof text, "id: L%d\nextends: l%d\n", i, i + 1);
        } else {
            snprintf(text, sizeof text, "id: L5\n");
        }
        s_write(name, text, path, sizeof path);
    }
    /* loading l0 reaches l4 at depth 4, whose extends would be a fifth level */
    char l0[128], l1[128], want[160];
    snprintf(l0, sizeof l0, "%s/l0.yaml", s_tmpdir);
    snprintf(l1, sizeof l1, "%s/l1.yaml", s_tmpdir);
    snprintf(want, sizeof want, "%s/l4.yaml:2:10: extends: more than 4 levels of extends",
             s_tmpdir);
    assert_null(rl_policy_load(l0, err, sizeof err));
    assert_string_equal(err, want);
    rl_policy_t *p = s_load_ok(l1); /* l1 -> l2 -> l3 -> l4 -> l5: 4 levels, allowed */
    assert_string_equal(p->id, "L1");
    rl_policy_destroy(&p);
}

static void test_error_missing_file(void **state) {
    (void)state;
    char err[512];
    const char *path = FIXTURES "does_not_exist.yaml";
    assert_null(rl_policy_load(path, err, sizeof err));
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    /* a folder is not a policy */
    assert_null(rl_policy_load(FIXTURES, err, sizeof err));
    assert_non_null(strstr(err, ": cannot open: "));
    /* no err buffer is fine, and err_len bounds the write */
    assert_null(rl_policy_load(path, NULL, 0));
    char small[8];
    memset(small, '#', sizeof small);
    assert_null(rl_policy_load(path, small, 5));
    assert_int_equal(small[4], '\0');
    assert_int_equal(small[5], '#');
    assert_null(rl_policy_load(NULL, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    rl_policy_destroy(NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Errors: small inline cases */

#define HEAD "id: T\nwindows:\n  - id: t.hours\n    channels: all\n"
#define CAP  "id: T\ncaps:\n  - id: t.cap\n    channels: voice\n"

static void test_error_types_and_keys(void **state) {
    (void)state;
    s_expect_text_error("just a string\n", 1, "a policy file must be a mapping");
    s_expect_text_error("just a string\n", 1, "found a scalar");
    s_expect_text_error("- id: T\n", 1, "found a list");
    s_expect_text_error("name: no id\n", 1, "missing required key \"id\"");
    s_expect_text_error("id: T\nid: U\n", 2, "duplicate key \"id\" in policy (first at line 1)");
    s_expect_text_error("id: T\nwindow: []\n", 2, "unknown key \"window\" in policy");
    s_expect_text_error("id: [T]\n", 1, "policy id must be a string, found a list");
    s_expect_text_error("id: \"C O\"\n", 1, "is not a valid id");
    s_expect_text_error("id: T\nholidays: co.festivos\n", 2, "holidays must be a mapping");
    s_expect_text_error("id: T\nwindows:\n  id: x\n", 3, "windows must be a list, found a mapping");
    s_expect_text_error("id: T\ncaps:\n", 2, "caps must be a list, found an empty value");
    s_expect_text_error("id: T\nweek_start: tuesday\n", 2, "unknown week_start \"tuesday\"");
    s_expect_text_error("id: T\ndirect_contact: maybe\n", 2, "unknown direct_contact");
    s_expect_text_error("id: T\n? [a, b]\n: 1\n", 2, "a key must be a string, found a list");
    s_expect_text_error("id: T\n---\nid: U\n", 2, "more than one YAML document");
    s_expect_text_error("id: T\nname: !!binary aGVsbG8=\n", 2, "explicit YAML tags");
    s_expect_text_error("id: T\ncaps: !custom []\n", 2, "explicit YAML tags are not allowed");
    s_expect_text_error("id: T\nname: \"a\\0b\"\n", 2, "NUL character");
    s_expect_text_error("id: T\nname: \"a\\nb\"\n", 2, "control character");
    s_expect_text_error("id: T\nwindows: &a [*a]\n", 2, "a window must be a mapping, found a list");
    s_expect_text_error("id: T\nwindows: [*nope]\n", 2, "undefined alias");
    s_expect_text_error("id: T\n\tname: x\n", 2, "YAML syntax error");
    s_expect_text_error("id: T\nname: \"\xff\xfe\"\n", 2, "YAML error");
    s_expect_text_error("id: T\ngroups:\n  sms: [voice]\n", 3, "reserved");
    s_expect_text_error("id: T\ngroups:\n  g: []\n", 3, "empty channel set");
    s_expect_text_error("id: T\ngroups:\n  g: [sms]\n  g: [voice]\n", 4, "already defined");
}

static void test_error_windows(void **state) {
    (void)state;
    s_expect_text_error(HEAD "    mon: \"07:00-24:30\"\n", 5, "invalid time");
    s_expect_text_error(HEAD "    mon: \"24:00-24:00\"\n", 5, "invalid time");
    s_expect_text_error(HEAD "    mon: \"07:60-08:00\"\n", 5, "invalid time");
    s_expect_text_error(HEAD "    mon: \"7:00-08:00\"\n", 5, "is not HH:MM-HH:MM or closed");
    s_expect_text_error(HEAD "    mon: \"07:00 - 08:00\"\n", 5, "is not HH:MM-HH:MM");
    s_expect_text_error(HEAD "    mon: \"08:00-08:00\"\n", 5, "start must be before end");
    s_expect_text_error(HEAD "    mon: open\n", 5, "is not HH:MM-HH:MM or closed");
    s_expect_text_error(HEAD "    mon: []\n", 5, "empty list of hours");
    s_expect_text_error(HEAD "    mon: [\"01:00-02:00\", \"03:00-04:00\", \"05:00-06:00\", "
                             "\"07:00-08:00\", \"09:00-10:00\"]\n",
                        5, "at most 4 spans");
    s_expect_text_error(HEAD "    mon: [[\"01:00-02:00\"]]\n", 5, "each span must be");
    s_expect_text_error(HEAD "    mon:\n", 5, "mon must be a string, found an empty value");
    s_expect_text_error(HEAD "    fri-mon: closed\n", 5, "must run forward");
    s_expect_text_error(HEAD "    monday: closed\n", 5, "unknown key \"monday\" in window");
    s_expect_text_error(HEAD "    mon-fri: closed\n    mon-fri: closed\n", 6, "duplicate key");
    s_expect_text_error(HEAD, 3, "names no day");
    s_expect_text_error(HEAD "    daily: closed\n    holidays: closed\n", 6,
                        "the policy defines no holidays");
    s_expect_text_error("id: T\nwindows:\n  - channels: all\n    daily: closed\n", 3,
                        "missing required key \"id\"");
    s_expect_text_error("id: T\nwindows:\n  - id: t.w\n    daily: closed\n", 3,
                        "missing required key \"channels\"");
    s_expect_text_error("id: T\nwindows:\n  - id: t.w\n    channels: []\n    daily: closed\n", 4,
                        "empty channel set");
    s_expect_text_error("id: T\nwindows:\n  - id: t.w\n    channels: [sms, sms]\n"
                        "    daily: closed\n",
                        4, "listed twice");
    s_expect_text_error("id: T\nwindows:\n  - id: t.w\n    channels: texts\n    daily: closed\n", 4,
                        "unknown channel \"texts\"");
    s_expect_text_error("id: T\nwindows:\n  - id: t.w\n    channels: {sms: 1}\n"
                        "    daily: closed\n",
                        4, "must be a channel, a group or a list");
}

static void test_error_caps_and_rules(void **state) {
    (void)state;
    s_expect_text_error(CAP "    limit: \"1\"\n    per: day\n", 5, "found a quoted string");
    s_expect_text_error(CAP "    limit: 1001\n    per: day\n", 5, "between 1 and 1000");
    s_expect_text_error(CAP "    limit: -1\n    per: day\n", 5, "whole number");
    s_expect_text_error(CAP "    limit: 1.5\n    per: day\n", 5, "whole number");
    s_expect_text_error(CAP "    limit: 00\n    per: day\n", 5, "at least 1");
    s_expect_text_error(CAP "    per: day\n", 3, "missing required key \"limit\"");
    s_expect_text_error(CAP "    limit: 1\n", 3, "missing required key \"per\"");
    s_expect_text_error(CAP "    limit: 1\n    per: fortnight\n", 6,
                        "unknown period \"fortnight\"");
    s_expect_text_error(CAP "    limit: 1\n    per: week\n    span: 7d\n", 7,
                        "span is only allowed with per: rolling");
    s_expect_text_error(CAP "    limit: 1\n    per: rolling\n    span: 7x\n", 7, "not a duration");
    s_expect_text_error(CAP "    limit: 1\n    per: rolling\n    span: 12h1d\n", 7,
                        "not a duration");
    s_expect_text_error(CAP "    limit: 1\n    per: rolling\n    span: 1d1d\n", 7,
                        "not a duration");
    s_expect_text_error(CAP "    limit: 1\n    per: rolling\n    span: 7\n", 7, "not a duration");
    s_expect_text_error(CAP "    limit: 1\n    per: rolling\n    span: 0d\n", 7,
                        "more than 0 and at most 400d");
    s_expect_text_error(CAP "    limit: 1\n    per: rolling\n    span: 401d\n", 7, "at most 400d");
    s_expect_text_error(CAP "    limit: 1\n    per: rolling\n    span: 999999999999d\n", 7,
                        "not a duration");
    s_expect_text_error(CAP "    limit: 1\n    per: day\n    counts: replies\n", 7,
                        "unknown counts \"replies\"");
    s_expect_text_error(CAP "    limit: 1\n    per: day\n    scope: person\n", 7,
                        "unknown scope \"person\"");
    s_expect_text_error(CAP "    limit: 1\n    per: day\n    per_channel: yes\n", 7,
                        "must be true or false");
    s_expect_text_error(CAP "    limit: 1\n    per: day\n    per_channel: \"true\"\n", 7,
                        "found a quoted string");
    s_expect_text_error("id: T\ngaps:\n  - {id: g, channels: sms}\n", 3,
                        "missing required key \"min\"");
    s_expect_text_error("id: T\ngaps:\n  - {id: g, channels: sms, min: -2d}\n", 3,
                        "not a duration");
    s_expect_text_error("id: T\ncooldowns:\n  - {id: c, channels: voice, "
                        "after_conversation_on: voice, days: 61}\n",
                        3, "between 1 and 60");
    s_expect_text_error("id: T\ncooldowns:\n  - {id: c, channels: voice, days: 7}\n", 3,
                        "missing required key \"after_conversation_on\"");
    s_expect_text_error("id: T\none_channel:\n  - {id: o, per: day}\n", 3,
                        "unknown period \"day\" (expected week or rolling)");
    s_expect_text_error("id: T\nroles:\n  - {id: r, forbid: [friend]}\n", 3,
                        "unknown role \"friend\"");
    s_expect_text_error("id: T\nroles:\n  - {id: r, forbid: debtor}\n", 3,
                        "debtor role cannot be forbidden");
    s_expect_text_error("id: T\nroles:\n  - {id: r, forbid: []}\n", 3, "empty list of roles");
    s_expect_text_error("id: T\nroles:\n  - {id: r, forbid: [reference]}\n"
                        "gaps:\n  - {id: r, channels: sms, min: 1h}\n",
                        5, "duplicate rule id \"r\" (already used by a roles rule)");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules: [\"fixed 01-01\"]\n"
                        "roles:\n  - {id: h, forbid: reference}\n",
                        6, "already used by a holidays rule");

    /* 256 rules of one kind load; the 257th is refused */
    static char many[257 * 48 + 64];
    size_t used = (size_t)snprintf(many, sizeof many, "id: T\ngaps:\n");
    for (int i = 0; i < 256; i++) {
        used += (size_t)snprintf(many + used, sizeof many - used,
                                 "  - {id: g%d, channels: sms, min: 1h}\n", i);
    }
    char path[128];
    rl_policy_t *p = s_load_ok(s_write("case", many, path, sizeof path));
    assert_int_equal(p->n_gaps, 256);
    assert_string_equal(p->gaps[255].id, "g255");
    rl_policy_destroy(&p);
    snprintf(many + used, sizeof many - used, "  - {id: g256, channels: sms, min: 1h}\n");
    s_expect_text_error(many, 259, "too many rules");
}

static void test_error_holidays(void **state) {
    (void)state;
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules: [\"fixed 13-01\"]\n", 4,
                        "holiday rule \"fixed 13-01\"");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules: [\"someday\"]\n", 4,
                        "holiday rule \"someday\"");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules: []\n", 4, "empty list");
    s_expect_text_error("id: T\nholidays:\n  rules: [\"fixed 01-01\"]\n", 3,
                        "missing required key \"id\"");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules:\n    - {rule: \"fixed 01-01\", "
                        "form: 2024}\n",
                        5, "unknown key \"form\" in holiday rule");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules:\n    - {rule: \"fixed 01-01\", "
                        "from: 2026, to: 2025}\n",
                        5, "holiday rule");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules:\n    - {rule: \"fixed 01-01 from "
                        "2024\", from: 2024}\n",
                        5, "from is given both");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules:\n    - {from: 2024}\n", 5,
                        "missing required key \"rule\"");
    s_expect_text_error("id: T\nholidays:\n  id: h\n  rules:\n    - [fixed 01-01]\n", 5,
                        "must be a string or a mapping");
    char path[128];
    s_write("hbase", "id: HB\nholidays:\n  id: hb.h\n  rules: [\"fixed 01-01\"]\n", path,
            sizeof path);
    s_expect_text_error("id: T\nextends: hbase\nholidays:\n  id: t.h\n  rules: [\"fixed 01-02\"]\n",
                        4, "already defined by the base policy");
}

/* ---------------------------------------------------------------------------------------------
 * Lookback on hand-built policies */

static void test_lookback(void **state) {
    (void)state;
    rl_policy_t p;
    memset(&p, 0, sizeof p);
    assert_int_equal(rl_policy_lookback(&p), 2 * DAY);
    assert_int_equal(rl_policy_lookback(NULL), 2 * DAY);

    rl_cap_rule_t caps[2] = {{.per = RL_PER_DAY, .limit = 1},
                             {.per = RL_PER_ROLLING, .span = 3 * DAY}};
    p.caps = caps;
    p.n_caps = 1;
    assert_int_equal(rl_policy_lookback(&p), 2 * DAY); /* a day + margin, the minimum */
    p.n_caps = 2;
    assert_int_equal(rl_policy_lookback(&p), 4 * DAY);

    rl_gap_rule_t gap = {.gap = 5 * DAY};
    p.gaps = &gap;
    p.n_gaps = 1;
    assert_int_equal(rl_policy_lookback(&p), 6 * DAY);

    caps[0].per = RL_PER_WEEK;
    assert_int_equal(rl_policy_lookback(&p), 9 * DAY);

    rl_cooldown_rule_t cool = {.days = 10};
    p.cooldowns = &cool;
    p.n_cooldowns = 1;
    assert_int_equal(rl_policy_lookback(&p), 12 * DAY);

    rl_one_channel_rule_t one = {.per = RL_PER_ROLLING, .span = 20 * DAY};
    p.one_channel = &one;
    p.n_one_channel = 1;
    assert_int_equal(rl_policy_lookback(&p), 21 * DAY);

    caps[1].span = 400 * DAY;
    assert_int_equal(rl_policy_lookback(&p), 401 * DAY);
}

/* ---------------------------------------------------------------------------------------------
 * Robustness: truncated and corrupted presets */

static void s_load_any(const char *path) {
    char err[256];
    memset(err, '#', sizeof err);
    rl_policy_t *p = rl_policy_load(path, err, sizeof err);
    if (p) {
        rl_policy_destroy(&p);
        return;
    }
    size_t n = strlen(path);
    if (strncmp(err, path, n) != 0 || err[n] != ':' || strchr(err, '\n') || strlen(err) < n + 3) {
        fail_msg("bad error line \"%s\" for %s", err, path);
    }
}

static void test_mutations_never_crash(void **state) {
    (void)state;
    static const char *const presets[] = {"CO", "CL", "US-MA"};
    static const char repl[] = {'\0', ':', '-', ' ', '\t', '"', '[', '{', '&', '*', '\n', '9'};
    for (size_t k = 0; k < sizeof presets / sizeof presets[0]; k++) {
        char src[256];
        snprintf(src, sizeof src, PRESETS "%s.yaml", presets[k]);
        FILE *fp = fopen(src, "rb");
        assert_non_null(fp);
        static char text[65536];
        size_t len = fread(text, 1, sizeof text - 1, fp);
        fclose(fp);
        assert_true(len > 100);
        /* extends needs its base next to the copy */
        if (strcmp(presets[k], "US-MA") == 0) {
            FILE *in = fopen(PRESETS "US.yaml", "rb");
            assert_non_null(in);
            static char base[65536];
            size_t blen = fread(base, 1, sizeof base - 1, in);
            fclose(in);
            base[blen] = '\0';
            char bpath[128];
            s_write("US", base, bpath, sizeof bpath);
        }
        char path[128];
        snprintf(path, sizeof path, "%s/%s.yaml", s_tmpdir, presets[k]);
        for (size_t cut = 0; cut < len; cut += 3) {
            FILE *out = fopen(path, "wb");
            assert_non_null(out);
            assert_int_equal(fwrite(text, 1, cut, out), cut);
            fclose(out);
            s_load_any(path);
        }
        for (size_t pos = 0; pos < len; pos += 5) {
            char keep = text[pos];
            text[pos] = repl[(pos / 5 + k) % sizeof repl];
            FILE *out = fopen(path, "wb");
            assert_non_null(out);
            assert_int_equal(fwrite(text, 1, len, out), len);
            fclose(out);
            text[pos] = keep;
            s_load_any(path);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Runner */

static int s_setup(void **state) {
    (void)state;
    snprintf(s_tmpdir, sizeof s_tmpdir, "/tmp/pg_test_policy.XXXXXX");
    return mkdtemp(s_tmpdir) ? 0 : -1;
}

static int s_teardown(void **state) {
    (void)state;
    static const char *const names[] = {"case", "features", "l0", "l1", "l2", "l3",   "l4",
                                        "l5",   "hbase",    "CO", "CL", "US", "US-MA"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.yaml", s_tmpdir, names[i]);
        unlink(path);
    }
    return rmdir(s_tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_and_role_names),
        cmocka_unit_test(test_preset_co),
        cmocka_unit_test(test_preset_co_strict),
        cmocka_unit_test(test_preset_mx),
        cmocka_unit_test(test_preset_us),
        cmocka_unit_test(test_preset_us_ma),
        cmocka_unit_test(test_preset_pe),
        cmocka_unit_test(test_preset_cl),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_extends),
        cmocka_unit_test(test_error_yaml_syntax),
        cmocka_unit_test(test_error_fixtures),
        cmocka_unit_test(test_error_extends),
        cmocka_unit_test(test_error_missing_file),
        cmocka_unit_test(test_error_types_and_keys),
        cmocka_unit_test(test_error_windows),
        cmocka_unit_test(test_error_caps_and_rules),
        cmocka_unit_test(test_error_holidays),
        cmocka_unit_test(test_lookback),
        cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

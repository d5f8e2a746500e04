/* test_calendar.c — cmocka tests for rl_calendar: Easter computus, the Colombian, Chilean and
 * Peruvian calendars built from the same rule spec strings the presets use, rule parsing and
 * validation, listing order/dedup/truncation, and is_holiday on boundaries and across the edge
 * of the precomputed year range. */
#include "rl_calendar.h"
#include "rl_date.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    int y, m, d;
} s_ymd_t;

static int64_t s_day(int y, int m, int d) {
    return rl_days_from_civil(y, m, d);
}

/* Builds a calendar from rule spec strings; every spec must parse and add. The calendar is
 * parked in *state so that s_teardown frees it even when an assertion fails (cmocka longjmps). */
static rl_calendar_t *s_build(void **state, const char *const *specs, size_t n) {
    rl_calendar_t *cal = rl_calendar_new();
    assert_non_null(cal);
    *state = cal;
    for (size_t i = 0; i < n; i++) {
        rl_holiday_rule_t rule;
        const char *err = NULL;
        if (rl_holiday_rule_parse(specs[i], &rule, &err) != 0) {
            fail_msg("spec \"%s\" rejected: %s", specs[i], err ? err : "(no reason)");
        }
        if (rl_calendar_add(cal, &rule, &err) != 0) {
            fail_msg("spec \"%s\" not added: %s", specs[i], err ? err : "(no reason)");
        }
    }
    return cal;
}

static int s_teardown(void **state) {
    rl_calendar_destroy((rl_calendar_t **)state);
    return 0;
}

/* Asserts that the holidays of `year` are exactly `want` (ascending), and that every day of the
 * year answers is_holiday accordingly — so the days before and after each holiday are checked. */
static void s_expect_year(const rl_calendar_t *cal, int year, const s_ymd_t *want, size_t n) {
    int64_t got[64];
    const int count = rl_calendar_list(cal, year, got, (int)S_COUNT(got));
    if (count != (int)n) {
        for (int i = 0; i < count && i < (int)S_COUNT(got); i++) {
            const rl_date_t g = rl_civil_from_days(got[i]);
            print_message("  got %04d-%02d-%02d\n", g.year, g.month, g.day);
        }
    }
    assert_int_equal(count, (int)n);
    for (size_t i = 0; i < n; i++) {
        const int64_t w = s_day(want[i].y, want[i].m, want[i].d);
        if (got[i] != w) {
            fail_msg("%d: holiday #%zu is not %04d-%02d-%02d", year, i, want[i].y, want[i].m,
                     want[i].d);
        }
    }
    size_t next = 0;
    for (int64_t d = s_day(year, 1, 1); d < s_day(year + 1, 1, 1); d++) {
        const bool is = next < n && d == s_day(want[next].y, want[next].m, want[next].d);
        const char *name = "unset";
        if (rl_calendar_is_holiday(cal, d, &name) != (int)is) {
            const rl_date_t g = rl_civil_from_days(d);
            fail_msg("is_holiday(%04d-%02d-%02d) should be %d", g.year, g.month, g.day, is);
        }
        if (is) {
            assert_non_null(name);
            next++;
        } else {
            assert_null(name);
        }
    }
    assert_int_equal(next, n);
}

/* Asserts that is_holiday (bitmap inside 1900..2200, rule evaluation outside) agrees with
 * rl_calendar_list on every day of `year`; returns the number of holidays. */
static int s_expect_consistent(const rl_calendar_t *cal, int year) {
    int64_t out[64];
    const int n = rl_calendar_list(cal, year, out, (int)S_COUNT(out));
    assert_in_range(n, 0, S_COUNT(out));
    int k = 0;
    for (int64_t d = s_day(year, 1, 1); d < s_day(year + 1, 1, 1); d++) {
        const int want = k < n && out[k] == d;
        if (rl_calendar_is_holiday(cal, d, NULL) != want) {
            const rl_date_t g = rl_civil_from_days(d);
            fail_msg("is_holiday(%04d-%02d-%02d) != list", g.year, g.month, g.day);
        }
        k += want;
    }
    assert_int_equal(k, n);
    return n;
}

/* ---- presets' rule spec strings --------------------------------------------------------- */

/* Colombia: Ley 51 de 1983 (POLICY.md) plus Ley 2578 de 2026 (Virgen de Chiquinquirá). */
static const char *const s_co_specs[] = {
    "fixed 01-01 name Año Nuevo",
    "next-monday 01-06 name Reyes Magos",
    "next-monday 03-19 name San José",
    "easter -3 name Jueves Santo",
    "easter -2 name Viernes Santo",
    "fixed 05-01 name Día del Trabajo",
    "easter +43 name Ascensión del Señor",
    "easter +64 name Corpus Christi",
    "easter +71 name Sagrado Corazón",
    "next-monday 06-29 name San Pedro y San Pablo",
    "next-monday 07-09 from 2026 name Virgen de Chiquinquirá",
    "fixed 07-20 name Independencia",
    "fixed 08-07 name Batalla de Boyacá",
    "next-monday 08-15 name Asunción de la Virgen",
    "next-monday 10-12 name Día de la Raza",
    "next-monday 11-01 name Todos los Santos",
    "next-monday 11-11 name Independencia de Cartagena",
    "fixed 12-08 name Inmaculada Concepción",
    "fixed 12-25 name Navidad",
};

/* Peru: DL 713 and later laws; no moves. */
static const char *const s_pe_specs[] = {
    "fixed 01-01 name Año Nuevo",
    "easter -3 name Jueves Santo",
    "easter -2 name Viernes Santo",
    "fixed 05-01 name Día del Trabajo",
    "fixed 06-07 from 2024 name Batalla de Arica y Día de la Bandera",
    "fixed 06-29 name San Pedro y San Pablo",
    "fixed 07-23 from 2023 name Día de la Fuerza Aérea del Perú",
    "fixed 07-28 name Fiestas Patrias",
    "fixed 07-29 name Fiestas Patrias",
    "fixed 08-06 from 2022 name Batalla de Junín",
    "fixed 08-30 name Santa Rosa de Lima",
    "fixed 10-08 name Combate de Angamos",
    "fixed 11-01 name Todos los Santos",
    "fixed 12-08 name Inmaculada Concepción",
    "fixed 12-09 from 2022 name Batalla de Ayacucho",
    "fixed 12-25 name Navidad",
};

/* Chile: rule-based part plus the irregular dates of 2026 (the year checked below). */
static const char *const s_cl_specs[] = {
    "fixed 01-01 name Año Nuevo",
    "easter -2 name Viernes Santo",
    "easter -1 name Sábado Santo",
    "fixed 05-01 name Día del Trabajo",
    "fixed 05-21 name Glorias Navales",
    "date 2026-06-21 name Día de los Pueblos Indígenas",
    "cl-monday 06-29 name San Pedro y San Pablo",
    "fixed 07-16 name Virgen del Carmen",
    "fixed 08-15 name Asunción de la Virgen",
    "fixed 09-18 name Independencia Nacional",
    "fixed 09-19 name Glorias del Ejército",
    "cl-monday 10-12 name Encuentro de Dos Mundos",
    "date 2026-10-31 name Iglesias Evangélicas y Protestantes",
    "fixed 11-01 name Todos los Santos",
    "fixed 12-08 name Inmaculada Concepción",
    "fixed 12-25 name Navidad",
};

/* ---- 1. Easter ------------------------------------------------------------------------ */

static void test_easter_known_dates(void **state) {
    (void)state;
    static const s_ymd_t known[] = {
        {1583, 4, 10}, {1818, 3, 22}, {1900, 4, 15}, {1943, 4, 25}, {1954, 4, 18},
        {1961, 4, 2},  {1970, 3, 29}, {1981, 4, 19}, {2000, 4, 23}, {2008, 3, 23},
        {2011, 4, 24}, {2019, 4, 21}, {2020, 4, 12}, {2021, 4, 4},  {2022, 4, 17},
        {2023, 4, 9},  {2024, 3, 31}, {2025, 4, 20}, {2026, 4, 5},  {2027, 3, 28},
        {2038, 4, 25}, {2100, 3, 28}, {2285, 3, 22}, {2400, 4, 16}, {4099, 4, 19},
    };
    for (size_t i = 0; i < S_COUNT(known); i++) {
        const int64_t got = rl_easter(known[i].y);
        if (got != s_day(known[i].y, known[i].m, known[i].d)) {
            const rl_date_t g = rl_civil_from_days(got);
            fail_msg("Easter %d: got %04d-%02d-%02d, want %02d-%02d", known[i].y, g.year, g.month,
                     g.day, known[i].m, known[i].d);
        }
    }
    assert_true(rl_easter(0) == INT64_MIN);
    assert_true(rl_easter(-5) == INT64_MIN);
}

/* Knuth, TAOCP vol. 1, 1.3.2 exercise 14: an independent formulation of the same computus. */
static int64_t s_easter_knuth(int y) {
    const int g = y % 19 + 1;
    const int c = y / 100 + 1;
    const int x = 3 * c / 4 - 12;
    const int z = (8 * c + 5) / 25 - 5;
    const int d = 5 * y / 4 - x - 10;
    int e = (11 * g + 20 + z - x) % 30;
    if ((e == 25 && g > 11) || e == 24) {
        e++;
    }
    int n = 44 - e;
    if (n < 21) {
        n += 30;
    }
    n = n + 7 - (d + n) % 7;
    return n > 31 ? s_day(y, 4, n - 31) : s_day(y, 3, n);
}

static void test_easter_all_years(void **state) {
    (void)state;
    for (int y = 1583; y <= 4099; y++) {
        const int64_t e = rl_easter(y);
        if (e != s_easter_knuth(y)) {
            fail_msg("Easter %d disagrees with Knuth's algorithm", y);
        }
        assert_int_equal(rl_weekday_from_days(e), 6); /* a Sunday */
        assert_true(e >= s_day(y, 3, 22) && e <= s_day(y, 4, 25));
    }
}

/* ---- 2. Colombia ------------------------------------------------------------------------ */

static void test_colombia_2025(void **state) {
    rl_calendar_t *cal = s_build(state, s_co_specs, S_COUNT(s_co_specs));
    /* 18 festivos, but San Pedro (Jun 29, a Sunday) and Sagrado Corazón share Monday Jun 30. */
    static const s_ymd_t want[] = {
        {2025, 1, 1},   {2025, 1, 6},  {2025, 3, 24},  {2025, 4, 17}, {2025, 4, 18},  {2025, 5, 1},
        {2025, 6, 2},   {2025, 6, 23}, {2025, 6, 30},  {2025, 7, 20}, {2025, 8, 7},   {2025, 8, 18},
        {2025, 10, 13}, {2025, 11, 3}, {2025, 11, 17}, {2025, 12, 8}, {2025, 12, 25},
    };
    s_expect_year(cal, 2025, want, S_COUNT(want));
}

static void test_colombia_2026(void **state) {
    rl_calendar_t *cal = s_build(state, s_co_specs, S_COUNT(s_co_specs));
    static const s_ymd_t want[] = {
        {2026, 1, 1},  {2026, 1, 12},  {2026, 3, 23}, {2026, 4, 2},   {2026, 4, 3},
        {2026, 5, 1},  {2026, 5, 18},  {2026, 6, 8},  {2026, 6, 15},  {2026, 6, 29},
        {2026, 7, 13}, {2026, 7, 20},  {2026, 8, 7},  {2026, 8, 17},  {2026, 10, 12},
        {2026, 11, 2}, {2026, 11, 16}, {2026, 12, 8}, {2026, 12, 25},
    };
    s_expect_year(cal, 2026, want, S_COUNT(want));
}

static void test_colombia_2027(void **state) {
    rl_calendar_t *cal = s_build(state, s_co_specs, S_COUNT(s_co_specs));
    static const s_ymd_t want[] = {
        {2027, 1, 1},  {2027, 1, 11},  {2027, 3, 22}, {2027, 3, 25},  {2027, 3, 26},
        {2027, 5, 1},  {2027, 5, 10},  {2027, 5, 31}, {2027, 6, 7},   {2027, 7, 5},
        {2027, 7, 12}, {2027, 7, 20},  {2027, 8, 7},  {2027, 8, 16},  {2027, 10, 18},
        {2027, 11, 1}, {2027, 11, 15}, {2027, 12, 8}, {2027, 12, 25},
    };
    s_expect_year(cal, 2027, want, S_COUNT(want));
}

static void test_colombia_emiliani_and_names(void **state) {
    rl_calendar_t *cal = s_build(state, s_co_specs, S_COUNT(s_co_specs));
    const char *name = NULL;
    /* Jan 6 2025 is a Monday: stays. */
    assert_int_equal(rl_weekday_from_days(s_day(2025, 1, 6)), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 1, 6), &name), 1);
    assert_string_equal(name, "Reyes Magos");
    /* Mar 19 2025 is a Wednesday: moves to Monday Mar 24, and Mar 19 itself is a workday. */
    assert_int_equal(rl_weekday_from_days(s_day(2025, 3, 19)), 2);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 3, 19), &name), 0);
    assert_null(name);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 3, 24), &name), 1);
    assert_string_equal(name, "San José");
    /* Two rules on Jun 30 2025: the first added with a name wins. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 6, 30), &name), 1);
    assert_string_equal(name, "Sagrado Corazón");
    /* A name is optional on the out side too. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 12, 25), NULL), 1);
    /* Chiquinquirá starts in 2026: Monday Jul 14 2025 (after Wed Jul 9) is no holiday. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 7, 14), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2026, 7, 13), &name), 1);
    assert_string_equal(name, "Virgen de Chiquinquirá");
}

/* ---- 3. Chile ---------------------------------------------------------------------------- */

/* Ley 19.668 written independently of the module: the Monday of the ISO week for Tue-Thu, the
 * Monday after for Fri, the day itself otherwise. */
static int64_t s_cl_expected(int y, int m, int d) {
    const int64_t day = s_day(y, m, d);
    const int wd = rl_weekday_from_days(day);
    switch (wd) {
        case 1:
        case 2:
        case 3:
            return day - wd; /* Monday of the same ISO week */
        case 4:
            return day + 3;
        default:
            return day;
    }
}

static void test_chile_monday_moves(void **state) {
    static const char *const specs[] = {"cl-monday 06-29", "cl-monday 10-12"};
    rl_calendar_t *cal = s_build(state, specs, S_COUNT(specs));
    for (int y = 2020; y <= 2030; y++) {
        int64_t got[4];
        assert_int_equal(rl_calendar_list(cal, y, got, 4), 2);
        assert_true(got[0] == s_cl_expected(y, 6, 29));
        assert_true(got[1] == s_cl_expected(y, 10, 12));
        for (int i = 0; i < 2; i++) {
            const int wd = rl_weekday_from_days(got[i]);
            assert_true(wd == 0 || wd == 5 || wd == 6); /* observed on Mon, Sat or Sun */
        }
    }
    /* Hand-checked against the calendar. */
    static const struct {
        s_ymd_t law, observed;
    } hand[] = {
        {{2021, 6, 29}, {2021, 6, 28}},   /* Tue */
        {{2021, 10, 12}, {2021, 10, 11}}, /* Tue */
        {{2023, 6, 29}, {2023, 6, 26}},   /* Thu */
        {{2023, 10, 12}, {2023, 10, 9}},  /* Thu */
        {{2024, 6, 29}, {2024, 6, 29}},   /* Sat: stays */
        {{2025, 10, 12}, {2025, 10, 12}}, /* Sun: stays */
        {{2026, 6, 29}, {2026, 6, 29}},   /* Mon: stays */
        {{2027, 10, 12}, {2027, 10, 11}}, /* Tue */
        {{2028, 6, 29}, {2028, 6, 26}},   /* Thu */
        {{2029, 6, 29}, {2029, 7, 2}},    /* Fri: next Monday */
        {{2029, 10, 12}, {2029, 10, 15}}, /* Fri: next Monday */
    };
    for (size_t i = 0; i < S_COUNT(hand); i++) {
        const int64_t law = s_day(hand[i].law.y, hand[i].law.m, hand[i].law.d);
        const int64_t obs = s_day(hand[i].observed.y, hand[i].observed.m, hand[i].observed.d);
        if (rl_calendar_is_holiday(cal, obs, NULL) != 1) {
            fail_msg("%04d-%02d-%02d should be observed on %02d-%02d", hand[i].law.y, hand[i].law.m,
                     hand[i].law.d, hand[i].observed.m, hand[i].observed.d);
        }
        assert_int_equal(rl_calendar_is_holiday(cal, law, NULL), law == obs);
    }
}

static void test_chile_2026(void **state) {
    rl_calendar_t *cal = s_build(state, s_cl_specs, S_COUNT(s_cl_specs));
    static const s_ymd_t want[] = {
        {2026, 1, 1},   {2026, 4, 3},  {2026, 4, 4},  {2026, 5, 1},   {2026, 5, 21}, {2026, 6, 21},
        {2026, 6, 29},  {2026, 7, 16}, {2026, 8, 15}, {2026, 9, 18},  {2026, 9, 19}, {2026, 10, 12},
        {2026, 10, 31}, {2026, 11, 1}, {2026, 12, 8}, {2026, 12, 25},
    };
    s_expect_year(cal, 2026, want, S_COUNT(want));
}

/* ---- 4. Peru ----------------------------------------------------------------------------- */

static void test_peru(void **state) {
    rl_calendar_t *cal = s_build(state, s_pe_specs, S_COUNT(s_pe_specs));
    const char *name = NULL;
    /* Holy Thursday and Good Friday from Easter offsets. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2024, 3, 28), &name), 1);
    assert_string_equal(name, "Jueves Santo");
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2024, 3, 29), &name), 1);
    assert_string_equal(name, "Viernes Santo");
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2024, 3, 31), NULL), 0); /* Easter */
    /* Jun 7 since 2024. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2023, 6, 7), &name), 0);
    assert_null(name);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2024, 6, 7), NULL), 1);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 6, 7), &name), 1);
    assert_string_equal(name, "Batalla de Arica y Día de la Bandera");
    /* Jul 23 since 2023, Aug 6 and Dec 9 since 2022. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2022, 7, 23), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2023, 7, 23), NULL), 1);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2021, 8, 6), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2022, 12, 9), NULL), 1);
    static const s_ymd_t want[] = {
        {2025, 1, 1},  {2025, 4, 17}, {2025, 4, 18}, {2025, 5, 1},   {2025, 6, 7},  {2025, 6, 29},
        {2025, 7, 23}, {2025, 7, 28}, {2025, 7, 29}, {2025, 8, 6},   {2025, 8, 30}, {2025, 10, 8},
        {2025, 11, 1}, {2025, 12, 8}, {2025, 12, 9}, {2025, 12, 25},
    };
    s_expect_year(cal, 2025, want, S_COUNT(want));
    int64_t out[32];
    assert_int_equal(rl_calendar_list(cal, 2023, out, 32), 15); /* no Jun 7 yet */
}

/* ---- 5. parsing and validation ------------------------------------------------------- */

static void test_parse_errors(void **state) {
    (void)state;
    static const char *const bad[] = {
        "fixed 13-01",
        "fixed 02-30",
        "fixed 00-10",
        "fixed 04-31",
        "fixed 01-00",
        "fixed 01-1x",
        "fixed 01-",
        "fixed 0101",
        "fixed",
        "easter",
        "easter +1000",
        "easter +101",
        "easter -101",
        "easter +",
        "easter 2x",
        "easter ++2",
        "banana 01-01",
        "FIXED 01-01",
        "fixed01-01",
        "easterx +1",
        "date 2025-02-29",
        "date 1899-12-31",
        "date 2201-01-01",
        "date 25-06-20",
        "date 2025-13-01",
        "",
        "   \t ",
        "fixed 01-01 extra",
        "fixed 01-01 from",
        "fixed 01-01 from 24",
        "fixed 01-01 from 1899",
        "fixed 01-01 to 2201",
        "fixed 01-01 from 2030 to 2020",
        "fixed 01-01 from 2024 from 2025",
        "fixed 01-01 fromage 2024",
        "fixed 01-01 name",
        "fixed 01-01 name    ",
        "fixed 01-01 name 0123456789012345678901234567890123456789012345678901234567890123",
    };
    for (size_t i = 0; i < S_COUNT(bad); i++) {
        rl_holiday_rule_t rule;
        const char *err = NULL;
        if (rl_holiday_rule_parse(bad[i], &rule, &err) != -1) {
            fail_msg("\"%s\" was accepted", bad[i]);
        }
        assert_non_null(err);
        assert_true(err[0] != '\0');
    }
    rl_holiday_rule_t rule;
    const char *err = NULL;
    assert_int_equal(rl_holiday_rule_parse(NULL, &rule, &err), -1);
    assert_non_null(err);
    assert_int_equal(rl_holiday_rule_parse("fixed 01-01", NULL, &err), -1);
    assert_int_equal(rl_holiday_rule_parse("fixed 13-01", &rule, NULL), -1); /* err optional */
}

static void test_parse_good(void **state) {
    (void)state;
    rl_holiday_rule_t r;
    const char *err = NULL;

    assert_int_equal(rl_holiday_rule_parse("fixed 01-01", &r, &err), 0);
    assert_int_equal(r.kind, RL_HOL_FIXED);
    assert_int_equal(r.month, 1);
    assert_int_equal(r.day, 1);
    assert_int_equal(r.from_year, 0);
    assert_int_equal(r.to_year, 0);
    assert_string_equal(r.name, "");

    assert_int_equal(rl_holiday_rule_parse("  next-monday\t1-6  ", &r, &err), 0);
    assert_int_equal(r.kind, RL_HOL_NEXT_MONDAY);
    assert_int_equal(r.month, 1);
    assert_int_equal(r.day, 6);

    assert_int_equal(rl_holiday_rule_parse("cl-monday 06-29", &r, &err), 0);
    assert_int_equal(r.kind, RL_HOL_CL_MONDAY);
    assert_int_equal(r.month, 6);
    assert_int_equal(r.day, 29);

    assert_int_equal(rl_holiday_rule_parse("easter -2", &r, &err), 0);
    assert_int_equal(r.kind, RL_HOL_EASTER);
    assert_int_equal(r.offset, -2);
    assert_int_equal(rl_holiday_rule_parse("easter +43", &r, &err), 0);
    assert_int_equal(r.offset, 43);
    assert_int_equal(rl_holiday_rule_parse("easter 0", &r, &err), 0);
    assert_int_equal(r.offset, 0);
    assert_int_equal(rl_holiday_rule_parse("easter -100", &r, &err), 0);
    assert_int_equal(r.offset, -100);

    assert_int_equal(rl_holiday_rule_parse("easter-next-monday +60", &r, &err), 0);
    assert_int_equal(r.kind, RL_HOL_EASTER_NEXT_MONDAY);
    assert_int_equal(r.offset, 60);

    assert_int_equal(rl_holiday_rule_parse("date 2025-06-20", &r, &err), 0);
    assert_int_equal(r.kind, RL_HOL_DATE);
    assert_int_equal(r.year, 2025);
    assert_int_equal(r.month, 6);
    assert_int_equal(r.day, 20);

    assert_int_equal(rl_holiday_rule_parse("fixed 02-29", &r, &err), 0); /* leap years only */
    assert_int_equal(rl_holiday_rule_parse("date 2024-02-29", &r, &err), 0);

    assert_int_equal(
        rl_holiday_rule_parse("fixed 06-07 to 2030 from 2024 name  Batalla de Arica ", &r, &err),
        0);
    assert_int_equal(r.from_year, 2024);
    assert_int_equal(r.to_year, 2030);
    assert_string_equal(r.name, "Batalla de Arica");
    /* "name" takes the rest of the line verbatim, keywords included. */
    assert_int_equal(rl_holiday_rule_parse("fixed 01-01 name from 2024", &r, &err), 0);
    assert_string_equal(r.name, "from 2024");
    assert_int_equal(r.from_year, 0);
}

static void test_add_validation(void **state) {
    rl_calendar_t *cal = rl_calendar_new();
    assert_non_null(cal);
    *state = cal; /* freed by s_teardown */
    const rl_holiday_rule_t good = {.kind = RL_HOL_FIXED, .month = 1, .day = 1};
    rl_holiday_rule_t bad[8];
    for (size_t i = 0; i < S_COUNT(bad); i++) {
        bad[i] = good;
    }
    bad[0].month = 13;
    bad[1].month = 2;
    bad[1].day = 30;
    bad[2].kind = RL_HOL_EASTER;
    bad[2].offset = 101;
    bad[3].kind = RL_HOL_DATE;
    bad[3].year = 1899;
    bad[4].kind = (rl_holiday_kind_t)42;
    memset(bad[5].name, 'x', sizeof bad[5].name); /* no NUL */
    bad[6].from_year = 2301;
    bad[7].from_year = 2020;
    bad[7].to_year = 2019;
    for (size_t i = 0; i < S_COUNT(bad); i++) {
        const char *err = NULL;
        if (rl_calendar_add(cal, &bad[i], &err) != -1) {
            fail_msg("bad rule #%zu accepted", i);
        }
        assert_non_null(err);
    }
    /* Nothing was added. */
    assert_int_equal(rl_calendar_list(cal, 2025, NULL, 0), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 1, 1), NULL), 0);
    const char *err = NULL;
    assert_int_equal(rl_calendar_add(cal, NULL, &err), -1);
    assert_non_null(err);
    assert_int_equal(rl_calendar_add(NULL, &good, NULL), -1);
    assert_int_equal(rl_calendar_add(cal, &good, NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 1, 1), NULL), 1);
}

/* ---- 6. listing ---------------------------------------------------------------------- */

static void test_list_order_dedup_cap(void **state) {
    /* Added out of order; in 2025 "next-monday 06-29" and "fixed 06-30" are both Jun 30, and
     * "easter +71" (Sagrado Corazón) is Jun 30 too. */
    static const char *const specs[] = {
        "fixed 12-25", "fixed 06-30", "next-monday 06-29", "easter +71",
        "fixed 01-01", "easter -2",   "fixed 12-25",
    };
    rl_calendar_t *cal = s_build(state, specs, S_COUNT(specs));
    int64_t out[8];
    for (size_t i = 0; i < S_COUNT(out); i++) {
        out[i] = -1;
    }
    assert_int_equal(rl_calendar_list(cal, 2025, out, 8), 4);
    assert_true(out[0] == s_day(2025, 1, 1));
    assert_true(out[1] == s_day(2025, 4, 18));
    assert_true(out[2] == s_day(2025, 6, 30));
    assert_true(out[3] == s_day(2025, 12, 25));
    assert_true(out[4] == -1);
    /* Truncation: the full count is returned, only cap entries are written. */
    for (size_t i = 0; i < S_COUNT(out); i++) {
        out[i] = -1;
    }
    assert_int_equal(rl_calendar_list(cal, 2025, out, 2), 4);
    assert_true(out[0] == s_day(2025, 1, 1));
    assert_true(out[1] == s_day(2025, 4, 18));
    assert_true(out[2] == -1);
    assert_int_equal(rl_calendar_list(cal, 2025, NULL, 0), 4);
    /* 2026: Jun 15 (Easter +71), Mon Jun 29 and Tue Jun 30 are three distinct days. */
    assert_int_equal(rl_calendar_list(cal, 2026, out, 8), 6);
    /* Errors. */
    assert_int_equal(rl_calendar_list(NULL, 2025, out, 8), -1);
    assert_int_equal(rl_calendar_list(cal, 2025, out, -1), -1);
    assert_int_equal(rl_calendar_list(cal, 2025, NULL, 1), -1);
    assert_int_equal(rl_calendar_list(cal, 0, out, 8), -1);
    assert_int_equal(rl_calendar_list(cal, 10000, out, 8), -1);
}

/* Moves and offsets that cross New Year belong to the civil year they land in. */
static void test_year_crossing(void **state) {
    static const char *const specs[] = {"easter -100", "next-monday 12-31 name Nochevieja"};
    rl_calendar_t *cal = s_build(state, specs, S_COUNT(specs));
    int64_t out[4];
    /* 2007: Dec 31 2006 (Sun) -> Mon Jan 1 2007; Easter 2008 (Mar 23) - 100 = Dec 14 2007;
     * Dec 31 2007 is a Monday. Easter 2007 (Apr 8) - 100 = Dec 29 2006 is not in 2007. */
    assert_int_equal(rl_calendar_list(cal, 2007, out, 4), 3);
    assert_true(out[0] == s_day(2007, 1, 1));
    assert_true(out[1] == s_day(2007, 12, 14));
    assert_true(out[2] == s_day(2007, 12, 31));
    /* 2023: Dec 31 2022 (Sat) -> Mon Jan 2 2023; Easter 2024 (Mar 31) - 100 = Dec 22 2023;
     * Dec 31 2023 (Sun) -> Mon Jan 1 2024, which belongs to 2024. */
    assert_int_equal(rl_calendar_list(cal, 2023, out, 4), 2);
    assert_true(out[0] == s_day(2023, 1, 2));
    assert_true(out[1] == s_day(2023, 12, 22));
    /* 2024: only that Jan 1 (Dec 31 2024 is a Tuesday -> Jan 6 2025; Easter 2025 - 100 is
     * Jan 10 2025). */
    assert_int_equal(rl_calendar_list(cal, 2024, out, 4), 1);
    assert_true(out[0] == s_day(2024, 1, 1));
    const char *name = NULL;
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2023, 12, 31), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2024, 1, 1), &name), 1);
    assert_string_equal(name, "Nochevieja");
    /* The same across both edges of the precomputed range: Dec 31 1899 is a Sunday, so the
     * 1899 rule lands on Jan 1 1900 (a bitmap day set by a rule year outside the range). */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(1900, 1, 1), NULL), 1);
    static const int years[] = {1899, 1900, 1901, 2199, 2200, 2201};
    for (size_t i = 0; i < S_COUNT(years); i++) {
        s_expect_consistent(cal, years[i]);
    }
}

static void test_names_and_leap_day(void **state) {
    static const char *const specs[] = {
        "fixed 06-30", "next-monday 06-29 name San Pedro", "easter +71 name Sagrado Corazón",
        "fixed 12-25", "fixed 02-29 name Bisiesto",
    };
    rl_calendar_t *cal = s_build(state, specs, S_COUNT(specs));
    const char *name = NULL;
    /* Three rules on Jun 30 2025: the first one that has a name answers. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 6, 30), &name), 1);
    assert_string_equal(name, "San Pedro");
    /* Only an unnamed rule: "" rather than NULL. */
    name = NULL;
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 12, 25), &name), 1);
    assert_non_null(name);
    assert_string_equal(name, "");
    /* Feb 29 only in leap years, and never spills into Mar 1. */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2024, 2, 29), &name), 1);
    assert_string_equal(name, "Bisiesto");
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 3, 1), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2100, 3, 1), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2000, 2, 29), NULL), 1);
    assert_int_equal(rl_calendar_list(cal, 2025, NULL, 0), 2); /* Jun 30, Dec 25 */
}

/* ---- 7. boundaries and the cached range ---------------------------------------------- */

static void test_boundaries(void **state) {
    rl_calendar_t *cal = s_build(state, s_co_specs, S_COUNT(s_co_specs));
    /* Hand-picked neighbours around 2025 holidays, including a run (Apr 17-18). */
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2024, 12, 31), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 1, 1), NULL), 1);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 1, 2), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 4, 16), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 4, 17), NULL), 1);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 4, 18), NULL), 1);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 4, 19), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 12, 24), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 12, 26), NULL), 0);
    /* Bitmap (1900..2200) and rule evaluation (list) agree on every day of years straddling
     * both ends of the cached range. */
    static const int years[] = {1898, 1899, 1900, 1901, 1970, 2199, 2200, 2201, 2202, 2500};
    for (size_t i = 0; i < S_COUNT(years); i++) {
        assert_in_range(s_expect_consistent(cal, years[i]), 17, 19);
    }
    /* Far outside any supported year: never a holiday, never a crash. */
    assert_int_equal(rl_calendar_is_holiday(cal, INT64_MIN, NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, INT64_MAX, NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(10000, 1, 1), NULL), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(9999, 12, 25), NULL), 1);
}

static void test_null_and_empty(void **state) {
    (void)state;
    rl_calendar_destroy(NULL);
    rl_calendar_t *cal = NULL;
    rl_calendar_destroy(&cal);
    const char *name = "unset";
    assert_int_equal(rl_calendar_is_holiday(NULL, 0, &name), 0);
    assert_null(name);
    cal = rl_calendar_new();
    assert_non_null(cal);
    assert_int_equal(rl_calendar_list(cal, 2025, NULL, 0), 0);
    assert_int_equal(rl_calendar_is_holiday(cal, s_day(2025, 1, 1), NULL), 0);
    rl_calendar_destroy(&cal);
    assert_null(cal);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_easter_known_dates),
        cmocka_unit_test(test_easter_all_years),
        cmocka_unit_test_teardown(test_colombia_2025, s_teardown),
        cmocka_unit_test_teardown(test_colombia_2026, s_teardown),
        cmocka_unit_test_teardown(test_colombia_2027, s_teardown),
        cmocka_unit_test_teardown(test_colombia_emiliani_and_names, s_teardown),
        cmocka_unit_test_teardown(test_chile_monday_moves, s_teardown),
        cmocka_unit_test_teardown(test_chile_2026, s_teardown),
        cmocka_unit_test_teardown(test_peru, s_teardown),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test_teardown(test_add_validation, s_teardown),
        cmocka_unit_test_teardown(test_list_order_dedup_cap, s_teardown),
        cmocka_unit_test_teardown(test_year_crossing, s_teardown),
        cmocka_unit_test_teardown(test_names_and_leap_day, s_teardown),
        cmocka_unit_test_teardown(test_boundaries, s_teardown),
        cmocka_unit_test(test_null_and_empty),
    };
    return cmocka_run_group_tests_name("rl_calendar", tests, NULL, NULL);
}

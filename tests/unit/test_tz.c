/* test_tz.c — cmocka tests for ratelimit/rl_tz: TZif reading, POSIX footer rules, conversions.
 *
 * Oracles are independent of rl_tz: zdump(8) output for every transition 1970-2100, glibc's
 * localtime_r (TZ set in this single-threaded process only) on random instants and on synthetic
 * footer-only files, and hand-checked DST edges. Also covers name validation, corrupt files
 * (every truncation, targeted and random corruption) and concurrent first loads. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* popen, setenv, mkdtemp, tm_gmtoff */
#endif

#include "rl_date.h"
#include "rl_tz.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define ZONEINFO "/usr/share/zoneinfo"

static const char *const s_zdump_zones[] = {
    "America/New_York",    "America/Santiago", "Europe/London", "Australia/Lord_Howe",
    "America/Mexico_City", "America/Bogota",   "America/Lima",  "UTC",
};
/* zdump -v -c 1970,2100 prints about 520/516/514/476/108/4/16/0 lines for these. */
static const int s_zdump_min[] = {500, 500, 500, 450, 100, 4, 16, 0};

static char s_tmpdir[64];

/* ---------------------------------------------------------------------------------------------
 * helpers */

static int64_t s_utc(int y, int mo, int d, int h, int mi, int s) {
    return rl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static int64_t s_from_local(const rl_zone_t *z, int y, int mo, int d, int h, int mi) {
    return rl_zone_from_local(z, rl_days_from_civil(y, mo, d), h * 3600 + mi * 60);
}

/* Field-wise equality (the struct has padding, so no memcmp). */
static int s_local_eq(const rl_local_t *a, const rl_local_t *b) {
    return a->year == b->year && a->month == b->month && a->day == b->day && a->hour == b->hour &&
           a->min == b->min && a->sec == b->sec && a->wday == b->wday && a->days == b->days &&
           a->sec_of_day == b->sec_of_day && a->utc_offset == b->utc_offset &&
           a->is_dst == b->is_dst;
}

static int64_t s_local_secs(const rl_local_t *l) {
    return l->days * 86400 + l->sec_of_day;
}

static uint64_t s_rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t s_rand(void) {
    s_rng_state ^= s_rng_state << 13;
    s_rng_state ^= s_rng_state >> 7;
    s_rng_state ^= s_rng_state << 17;
    return s_rng_state;
}

static int64_t s_rand_between(int64_t lo, int64_t hi) {
    return lo + (int64_t)(s_rand() % (uint64_t)(hi - lo));
}

static int s_month_of(const char *m) {
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strcmp(m, names[i]) == 0)
            return i + 1;
    return 0;
}

static int s_wday_of(const char *w) {
    static const char *const names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    for (int i = 0; i < 7; i++)
        if (strcmp(w, names[i]) == 0)
            return i;
    return -1;
}

static unsigned char *s_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    assert_true(*len > 44);
    return buf;
}

static void s_spit(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Loads bytes through a temp file; the result (possibly NULL) is the caller's. */
static rl_zone_t *s_load_bytes(const void *buf, size_t len) {
    char path[128];
    snprintf(path, sizeof path, "%s/zone.tzif", s_tmpdir);
    s_spit(path, buf, len);
    return rl_zone_load_file(path, "Test/Bytes");
}

static void s_put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t s_get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes a v2 TZif file with a single time type (offset std_off) and no transitions, so that
 * the footer alone defines the zone. */
static rl_zone_t *s_footer_zone(const char *footer, int32_t std_off) {
    unsigned char buf[512];
    size_t n = 0;
    for (int v = 0; v < 2; v++) {
        memcpy(buf + n, "TZif2", 5);
        memset(buf + n + 5, 0, 15);
        s_put32(buf + n + 20, 0); /* isutcnt */
        s_put32(buf + n + 24, 0); /* isstdcnt */
        s_put32(buf + n + 28, 0); /* leapcnt */
        s_put32(buf + n + 32, 0); /* timecnt */
        s_put32(buf + n + 36, 1); /* typecnt */
        s_put32(buf + n + 40, 4); /* charcnt */
        n += 44;
        s_put32(buf + n, (uint32_t)std_off);
        buf[n + 4] = 0;
        buf[n + 5] = 0;
        memcpy(buf + n + 6, "XXX", 4);
        n += 10;
    }
    n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "\n%s\n", footer);
    return s_load_bytes(buf, n);
}

/* Compares rl_zone_local with glibc's localtime_r under the current TZ; returns mismatches. */
static int s_check_against_libc(const rl_zone_t *z, int64_t t, const char *what) {
    struct tm tm;
    time_t tt = (time_t)t;
    rl_local_t l;
    assert_non_null(localtime_r(&tt, &tm));
    rl_zone_local(z, t, &l);
    if (l.year != tm.tm_year + 1900 || l.month != tm.tm_mon + 1 || l.day != tm.tm_mday ||
        l.hour != tm.tm_hour || l.min != tm.tm_min || l.sec != tm.tm_sec ||
        l.utc_offset != tm.tm_gmtoff || l.is_dst != (tm.tm_isdst > 0) ||
        l.wday != (tm.tm_wday + 6) % 7) {
        print_error(
            "%s t=%lld: rl %04d-%02d-%02d %02d:%02d:%02d off=%d dst=%d, libc %04d-%02d-%02d "
            "%02d:%02d:%02d off=%ld dst=%d\n",
            what, (long long)t, l.year, l.month, l.day, l.hour, l.min, l.sec, l.utc_offset,
            l.is_dst, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
            tm.tm_sec, tm.tm_gmtoff, tm.tm_isdst);
        return 1;
    }
    return 0;
}

/* Checks that t = rl_zone_from_local(L) is the earliest instant whose reading is >= L. */
static int s_check_from_local(const rl_zone_t *z, int64_t L) {
    int64_t days = rl_floor_div(L, 86400);
    int64_t t = rl_zone_from_local(z, days, (int32_t)(L - days * 86400));
    rl_local_t l;
    rl_zone_local(z, t, &l);
    int bad = s_local_secs(&l) < L;
    rl_zone_local(z, t - 1, &l);
    bad |= s_local_secs(&l) >= L;
    /* The reading only falls back at transitions: check just before each one in the window. */
    for (int64_t x = rl_zone_next_transition(z, L - 30 * 3600); x <= t;
         x = rl_zone_next_transition(z, x)) {
        rl_zone_local(z, x - 1, &l);
        bad |= s_local_secs(&l) >= L;
    }
    /* A reading other than L exactly is only possible at a transition (a gap). */
    rl_zone_local(z, t, &l);
    if (s_local_secs(&l) != L)
        bad |= rl_zone_next_transition(z, t - 1) != t;
    if (bad)
        print_error("%s: from_local(%lld) = %lld is not the earliest instant reading >= it\n",
                    rl_zone_name(z), (long long)L, (long long)t);
    return bad;
}

/* ---------------------------------------------------------------------------------------------
 * 1. every zdump line */

static void test_zdump(void **state) {
    (void)state;
    for (size_t zi = 0; zi < sizeof s_zdump_zones / sizeof *s_zdump_zones; zi++) {
        const char *zone = s_zdump_zones[zi];
        const rl_zone_t *z = rl_zone_get(zone);
        assert_non_null(z);
        char cmd[256], line[512];
        snprintf(cmd, sizeof cmd, "zdump -v -c 1970,2100 %s", zone);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        int checked = 0, bad = 0;
        while (fgets(line, sizeof line, p)) {
            char name[64], uw[4], um[4], lw[4], lm[4], abbr[16];
            int ud, uh, umi, us, uy, ld, lh, lmi, ls, ly, isdst;
            long gmtoff;
            int got = sscanf(line,
                             "%63s %3s %3s %d %d:%d:%d %d UT = %3s %3s %d %d:%d:%d %d %15s "
                             "isdst=%d gmtoff=%ld",
                             name, uw, um, &ud, &uh, &umi, &us, &uy, lw, lm, &ld, &lh, &lmi, &ls,
                             &ly, abbr, &isdst, &gmtoff);
            if (got != 18) {
                assert_non_null(strstr(line, "NULL")); /* only the +-2^63 sentinel lines */
                continue;
            }
            int64_t t = s_utc(uy, s_month_of(um), ud, uh, umi, us);
            rl_local_t l;
            rl_zone_local(z, t, &l);
            if (l.year != ly || l.month != s_month_of(lm) || l.day != ld || l.hour != lh ||
                l.min != lmi || l.sec != ls || l.wday != s_wday_of(lw) || l.is_dst != isdst ||
                l.utc_offset != gmtoff || rl_zone_offset(z, t) != gmtoff ||
                l.sec_of_day != lh * 3600 + lmi * 60 + ls ||
                l.days != rl_days_from_civil(ly, s_month_of(lm), ld)) {
                print_error("mismatch: %s", line);
                bad++;
            }
            checked++;
        }
        assert_int_equal(pclose(p), 0);
        print_message("  %-22s %d zdump lines checked\n", zone, checked);
        assert_int_equal(bad, 0);
        assert_true(checked >= s_zdump_min[zi]);
    }
}

/* Random instants 1900-2150 against glibc for each zone (covers zones with few zdump lines). */
static void test_random_vs_libc(void **state) {
    (void)state;
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    for (size_t zi = 0; zi < sizeof s_zdump_zones / sizeof *s_zdump_zones; zi++) {
        const rl_zone_t *z = rl_zone_get(s_zdump_zones[zi]);
        assert_non_null(z);
        char tz[128];
        snprintf(tz, sizeof tz, ":%s", s_zdump_zones[zi]);
        setenv("TZ", tz, 1);
        tzset();
        int bad = 0;
        for (int i = 0; i < 20000; i++)
            bad += s_check_against_libc(
                z, s_rand_between(s_utc(1900, 1, 1, 0, 0, 0), s_utc(2150, 1, 1, 0, 0, 0)),
                s_zdump_zones[zi]);
        assert_int_equal(bad, 0);
    }
    if (old) {
        setenv("TZ", old, 1);
        free(old);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

/* Footer-only synthetic zones (like "slim" files) against glibc parsing the same POSIX string.
 * glibc applies POSIX TZ rules only from 1970 on, so earlier instants are not compared. */
static void test_footer_rules_vs_libc(void **state) {
    (void)state;
    static const struct {
        const char *tz;
        int32_t std_off;
    } cases[] = {
        {"EST5EDT,M3.2.0,M11.1.0", -18000},
        {"<-04>4<-03>,M9.1.6/24,M4.1.6/24", -14400},     /* Chile: Saturday 24:00 */
        {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 37800}, /* Lord Howe: 30-minute DST */
        {"CET-1CEST,M3.5.0,M10.5.0/3", 3600},
        {"NZST-12NZDT,M9.5.0,M4.1.0/3", 43200},
        {"<+0330>-3:30<+0430>,J79/24,J263/24", 12600}, /* Julian Jn */
        {"AAA3BBB,59/2,300/2", -10800},                /* zero-based n, leap years differ */
        {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -10800},  /* negative times (Greenland) */
        {"<-01>1<+00>,M3.5.0/0,M10.5.0/1", -3600},
        {"AAA3BBB,J60/50,J300/100", -10800}, /* hours beyond 24 */
        {"<-05>5", -18000},
        {"UTC0", 0},
        {"IST-5:30", 19800},
    };
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rl_zone_t *z = s_footer_zone(cases[i].tz, cases[i].std_off);
        assert_non_null(z);
        setenv("TZ", cases[i].tz, 1);
        tzset();
        int bad = 0, edges = 0;
        for (int k = 0; k < 5000; k++)
            bad += s_check_against_libc(
                z, s_rand_between(s_utc(1970, 1, 1, 0, 0, 0), s_utc(2300, 1, 1, 0, 0, 0)),
                cases[i].tz);
        for (int64_t t = rl_zone_next_transition(z, s_utc(1990, 1, 1, 0, 0, 0));
             t < s_utc(2260, 1, 1, 0, 0, 0); t = rl_zone_next_transition(z, t)) {
            bad += s_check_against_libc(z, t - 1, cases[i].tz);
            bad += s_check_against_libc(z, t, cases[i].tz);
            bad += s_check_from_local(z, t + rl_zone_offset(z, t - 1) - 1);
            bad += s_check_from_local(z, t + rl_zone_offset(z, t) - 1);
            edges++;
        }
        print_message("  %-40s %d transitions 1990-2260\n", cases[i].tz, edges);
        assert_int_equal(bad, 0);
        rl_zone_destroy(&z);
        assert_null(z);
    }
    /* DST all year (RFC 8536 §3.3.1). glibc picks the rule year from the UTC date and gets the
     * hours around New Year wrong, so this one is checked directly. */
    rl_zone_t *z = s_footer_zone("EST5EDT4,0/0,J365/25", -18000);
    assert_non_null(z);
    for (int64_t t = s_utc(1950, 1, 1, 0, 0, 0); t < s_utc(2300, 1, 1, 0, 0, 0);
         t += 3 * 3600 + 7) {
        rl_local_t l;
        rl_zone_local(z, t, &l);
        assert_int_equal(l.utc_offset, -4 * 3600);
        assert_int_equal(l.is_dst, 1);
    }
    assert_int_equal(rl_zone_next_transition(z, 0), INT64_MAX);
    assert_int_equal(s_from_local(z, 2024, 1, 1, 0, 0), s_utc(2024, 1, 1, 4, 0, 0));
    rl_zone_destroy(&z);
    if (old) {
        setenv("TZ", old, 1);
        free(old);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

/* The real file and a footer-only copy of its rule must agree once the rule is in force. */
static void test_slim_equals_fat(void **state) {
    (void)state;
    const rl_zone_t *fat = rl_zone_get("America/New_York");
    rl_zone_t *slim = s_footer_zone("EST5EDT,M3.2.0,M11.1.0", -18000);
    assert_non_null(fat);
    assert_non_null(slim);
    for (int64_t t = s_utc(2007, 1, 1, 0, 0, 0); t < s_utc(2400, 1, 1, 0, 0, 0); t += 3599) {
        rl_local_t a, b;
        rl_zone_local(fat, t, &a);
        rl_zone_local(slim, t, &b);
        assert_true(s_local_eq(&a, &b));
    }
    int64_t a = s_utc(2007, 1, 1, 0, 0, 0), b = a;
    for (int i = 0; i < 600; i++) {
        a = rl_zone_next_transition(fat, a);
        b = rl_zone_next_transition(slim, b);
        assert_int_equal(a, b);
    }
    rl_zone_destroy(&slim);
}

/* ---------------------------------------------------------------------------------------------
 * 2. DST edges */

static void test_dst_edges(void **state) {
    (void)state;
    const rl_zone_t *ny = rl_zone_get("America/New_York");
    const rl_zone_t *scl = rl_zone_get("America/Santiago");
    const rl_zone_t *mex = rl_zone_get("America/Mexico_City");
    const rl_zone_t *lhi = rl_zone_get("Australia/Lord_Howe");
    const rl_zone_t *bog = rl_zone_get("America/Bogota");
    assert_non_null(ny);
    assert_non_null(scl);
    assert_non_null(mex);
    assert_non_null(lhi);
    assert_non_null(bog);

    /* New York: normal, gap, overlap. */
    assert_int_equal(s_from_local(ny, 2024, 3, 9, 7, 0), s_utc(2024, 3, 9, 12, 0, 0));
    assert_int_equal(s_from_local(ny, 2024, 3, 10, 2, 30), s_utc(2024, 3, 10, 7, 0, 0));
    assert_int_equal(s_from_local(ny, 2024, 3, 10, 2, 0), s_utc(2024, 3, 10, 7, 0, 0));
    assert_int_equal(s_from_local(ny, 2024, 3, 10, 3, 0), s_utc(2024, 3, 10, 7, 0, 0));
    assert_int_equal(s_from_local(ny, 2024, 3, 10, 1, 59) + 59, s_utc(2024, 3, 10, 6, 59, 59));
    assert_int_equal(s_from_local(ny, 2024, 11, 3, 1, 30), s_utc(2024, 11, 3, 5, 30, 0));
    assert_int_equal(s_from_local(ny, 2024, 11, 3, 2, 0), s_utc(2024, 11, 3, 7, 0, 0));
    assert_int_equal(s_from_local(ny, 2024, 7, 1, 7, 0), s_utc(2024, 7, 1, 11, 0, 0));
    assert_int_equal(rl_zone_from_local(ny, rl_days_from_civil(2024, 7, 1), 86400),
                     s_utc(2024, 7, 2, 4, 0, 0));
    assert_int_equal(rl_zone_next_transition(ny, s_utc(2024, 1, 1, 0, 0, 0)),
                     s_utc(2024, 3, 10, 7, 0, 0));
    rl_local_t l;
    rl_zone_local(ny, s_utc(2024, 3, 10, 7, 0, 0), &l);
    assert_int_equal(l.hour, 3);
    assert_int_equal(l.is_dst, 1);
    assert_int_equal(l.utc_offset, -4 * 3600);
    assert_int_equal(l.wday, 6);

    /* Santiago: 2024-09-08 00:00 does not exist (00:00 -> 01:00); 2024-04-06 23:xx repeats. */
    int64_t tr = s_utc(2024, 9, 8, 4, 0, 0);
    assert_int_equal(rl_zone_next_transition(scl, s_utc(2024, 8, 1, 0, 0, 0)), tr);
    assert_int_equal(s_from_local(scl, 2024, 9, 8, 0, 0), tr);
    assert_int_equal(s_from_local(scl, 2024, 9, 8, 0, 30), tr);
    assert_int_equal(s_from_local(scl, 2024, 9, 8, 1, 0), tr);
    assert_int_equal(s_from_local(scl, 2024, 9, 7, 23, 59), tr - 60);
    rl_zone_local(scl, tr, &l);
    assert_int_equal(l.day, 8);
    assert_int_equal(l.hour, 1);
    assert_int_equal(l.utc_offset, -3 * 3600);
    assert_int_equal(rl_zone_next_transition(scl, s_utc(2024, 3, 1, 0, 0, 0)),
                     s_utc(2024, 4, 7, 3, 0, 0));
    assert_int_equal(s_from_local(scl, 2024, 4, 6, 23, 30), s_utc(2024, 4, 7, 2, 30, 0));
    assert_int_equal(s_from_local(scl, 2024, 4, 6, 23, 0), s_utc(2024, 4, 7, 2, 0, 0));
    assert_int_equal(s_from_local(scl, 2024, 4, 7, 0, 0), s_utc(2024, 4, 7, 4, 0, 0));
    /* The footer's Saturday-24:00 rule far past the file's explicit data. */
    assert_int_equal(rl_zone_next_transition(scl, s_utc(2090, 8, 1, 0, 0, 0)),
                     s_utc(2090, 9, 3, 4, 0, 0));
    assert_int_equal(s_from_local(scl, 2090, 9, 3, 0, 0), s_utc(2090, 9, 3, 4, 0, 0));

    /* Mexico City: DST abolished in 2022. */
    rl_zone_local(mex, s_utc(2023, 7, 1, 12, 0, 0), &l);
    assert_int_equal(l.utc_offset, -6 * 3600);
    assert_int_equal(l.is_dst, 0);
    assert_int_equal(l.hour, 6);
    rl_zone_local(mex, s_utc(2021, 7, 1, 12, 0, 0), &l);
    assert_int_equal(l.utc_offset, -5 * 3600);
    assert_int_equal(l.is_dst, 1);
    assert_int_equal(rl_zone_next_transition(mex, s_utc(2023, 1, 1, 0, 0, 0)), INT64_MAX);
    assert_int_equal(s_from_local(mex, 2030, 4, 7, 2, 30), s_utc(2030, 4, 7, 8, 30, 0));

    /* Lord Howe: 30-minute gap 02:00 -> 02:30 on 2024-10-06, overlap 01:30-02:00 on 2024-04-07. */
    assert_int_equal(s_from_local(lhi, 2024, 10, 6, 2, 15), s_utc(2024, 10, 5, 15, 30, 0));
    assert_int_equal(s_from_local(lhi, 2024, 4, 7, 1, 45), s_utc(2024, 4, 6, 14, 45, 0));
    assert_int_equal(rl_zone_offset(lhi, s_utc(2024, 1, 1, 0, 0, 0)), 11 * 3600);

    /* Bogota: fixed -05 ever since 1993. */
    assert_int_equal(s_from_local(bog, 2035, 1, 1, 7, 0), s_utc(2035, 1, 1, 12, 0, 0));
    assert_int_equal(rl_zone_next_transition(bog, s_utc(2000, 1, 1, 0, 0, 0)), INT64_MAX);

    /* UTC and extremes: no crash, sane values. */
    const rl_zone_t *utc = rl_zone_get("UTC");
    assert_non_null(utc);
    assert_int_equal(s_from_local(utc, 2024, 2, 29, 13, 0), s_utc(2024, 2, 29, 13, 0, 0));
    rl_zone_local(ny, INT64_MAX, &l);
    rl_zone_local(ny, INT64_MIN, &l);
    rl_zone_local(scl, INT64_MAX, &l);
    (void)rl_zone_from_local(scl, INT64_MAX / 2, 0);
    (void)rl_zone_from_local(scl, INT64_MIN / 2, 86400);
    assert_int_equal(rl_zone_next_transition(scl, INT64_MAX), INT64_MAX);
}

/* from_local property on random local readings, including gap and overlap days. */
static void test_from_local_property(void **state) {
    (void)state;
    int bad = 0;
    for (size_t zi = 0; zi < sizeof s_zdump_zones / sizeof *s_zdump_zones; zi++) {
        const rl_zone_t *z = rl_zone_get(s_zdump_zones[zi]);
        assert_non_null(z);
        for (int i = 0; i < 5000; i++)
            bad += s_check_from_local(
                z, s_rand_between(s_utc(1970, 1, 1, 0, 0, 0), s_utc(2100, 1, 1, 0, 0, 0)));
        /* Around every transition 2020-2060: readings just before, inside and after. */
        for (int64_t t = rl_zone_next_transition(z, s_utc(2020, 1, 1, 0, 0, 0));
             t < s_utc(2060, 1, 1, 0, 0, 0); t = rl_zone_next_transition(z, t)) {
            int64_t before = t + rl_zone_offset(z, t - 1), after = t + rl_zone_offset(z, t);
            for (int64_t d = -2; d <= 2; d++) {
                bad += s_check_from_local(z, before + d);
                bad += s_check_from_local(z, after + d);
                bad += s_check_from_local(z, (before + after) / 2 + d);
            }
        }
    }
    assert_int_equal(bad, 0);
}

/* ---------------------------------------------------------------------------------------------
 * 3. invalid names, TZDIR, corrupt files */

static void test_names(void **state) {
    (void)state;
    char longname[300];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"",
                         "../etc/passwd",
                         "/etc/passwd",
                         "Not/AZone",
                         "America/Bogota\n",
                         "America//Bogota",
                         "America/",
                         "America",
                         "./UTC",
                         "America/Bogota ",
                         "Etc/../UTC",
                         "right/UTC",
                         longname};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_null(rl_zone_get(bad[i]));
    assert_null(rl_zone_get(NULL));

    const rl_zone_t *a = rl_zone_get("America/Bogota");
    assert_non_null(a);
    assert_ptr_equal(a, rl_zone_get("America/Bogota"));
    assert_string_equal(rl_zone_name(a), "America/Bogota");
    assert_non_null(rl_zone_get("Etc/GMT+5"));
    assert_int_equal(rl_zone_offset(rl_zone_get("Etc/GMT+5"), 0), -5 * 3600);

    rl_zone_t *f = rl_zone_load_file(ZONEINFO "/America/Bogota", NULL);
    assert_non_null(f);
    assert_string_equal(rl_zone_name(f), ZONEINFO "/America/Bogota");
    rl_zone_destroy(&f);
    assert_null(f);
    rl_zone_destroy(&f);
    rl_zone_destroy(NULL);
    assert_null(rl_zone_load_file(ZONEINFO "/does/not/exist", "x"));
    assert_null(rl_zone_load_file(ZONEINFO "/America", "x"));
}

static void test_tzdir(void **state) {
    (void)state;
    char dir[128], path[160];
    size_t len;
    unsigned char *buf = s_slurp(ZONEINFO "/Asia/Tokyo", &len);
    snprintf(dir, sizeof dir, "%s/Pregon_Test", s_tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/Zone", dir);
    s_spit(path, buf, len);
    free(buf);

    assert_null(rl_zone_get("Pregon_Test/Zone"));
    setenv("TZDIR", s_tmpdir, 1);
    const rl_zone_t *z = rl_zone_get("Pregon_Test/Zone");
    unsetenv("TZDIR");
    assert_non_null(z);
    assert_int_equal(rl_zone_offset(z, s_utc(2024, 1, 1, 0, 0, 0)), 9 * 3600);
    assert_ptr_equal(z, rl_zone_get("Pregon_Test/Zone")); /* cached */
    unlink(path);
    rmdir(dir);
}

/* Offsets inside the 64-bit block of a TZif image. */
typedef struct {
    size_t hdr, times, idx, types, chars, end;
    uint32_t timecnt, typecnt, charcnt;
} s_layout_t;

static s_layout_t s_layout(const unsigned char *b) {
    s_layout_t L;
    uint64_t v1 = (uint64_t)s_get32(b + 32) * 5 + s_get32(b + 36) * 6 + s_get32(b + 40) +
                  s_get32(b + 28) * 8 + s_get32(b + 24) + s_get32(b + 20);
    L.hdr = 44 + (size_t)v1;
    L.timecnt = s_get32(b + L.hdr + 32);
    L.typecnt = s_get32(b + L.hdr + 36);
    L.charcnt = s_get32(b + L.hdr + 40);
    L.times = L.hdr + 44;
    L.idx = L.times + (size_t)L.timecnt * 8;
    L.types = L.idx + L.timecnt;
    L.chars = L.types + (size_t)L.typecnt * 6;
    L.end = L.chars + L.charcnt + s_get32(b + L.hdr + 24) + s_get32(b + L.hdr + 20);
    return L;
}

static void test_corrupt_files(void **state) {
    (void)state;
    static const char *const files[] = {"America/New_York", "America/Santiago", "America/Lima",
                                        "Etc/UTC"};
    for (size_t fi = 0; fi < sizeof files / sizeof *files; fi++) {
        char path[128];
        snprintf(path, sizeof path, ZONEINFO "/%s", files[fi]);
        size_t len;
        unsigned char *orig = s_slurp(path, &len);
        unsigned char *b = malloc(len + 16);
        assert_non_null(b);

        rl_zone_t *z = s_load_bytes(orig, len);
        assert_non_null(z); /* the pristine copy loads */
        rl_zone_destroy(&z);

        for (size_t cut = 0; cut < len; cut++) /* every truncation */
            assert_null(s_load_bytes(orig, cut));
        memcpy(b, orig, len);
        memcpy(b + len, "x", 1);
        assert_null(s_load_bytes(b, len + 1)); /* trailing garbage */

        s_layout_t L = s_layout(orig);
#define MUTATE(stmt)                                                                               \
    do {                                                                                           \
        memcpy(b, orig, len);                                                                      \
        stmt;                                                                                      \
        assert_null(s_load_bytes(b, len));                                                         \
    } while (0)
        MUTATE(b[3] = 'g');                                /* magic */
        MUTATE(b[4] = '1');                                /* version */
        MUTATE(b[L.hdr + 4] = '9');                        /* second header's version */
        MUTATE(b[L.hdr] = 'X');                            /* second header's magic */
        MUTATE(s_put32(b + L.hdr + 32, 0xFFFFFFFFu));      /* timecnt */
        MUTATE(s_put32(b + L.hdr + 36, 0));                /* typecnt 0 */
        MUTATE(s_put32(b + L.hdr + 36, L.typecnt + 1));    /* typecnt too big */
        MUTATE(s_put32(b + L.hdr + 40, 0));                /* charcnt 0 */
        MUTATE(s_put32(b + L.hdr + 28, 1));                /* leap seconds */
        MUTATE(s_put32(b + L.hdr + 20, 1));                /* isutcnt neither 0 nor typecnt */
        MUTATE(s_put32(b + 32, 0x7FFFFFFFu));              /* v1 timecnt */
        MUTATE(b[L.types + 4] = 2);                        /* isdst */
        MUTATE(b[L.types + 5] = (unsigned char)L.charcnt); /* designation index */
        MUTATE(s_put32(b + L.types, 0x80000000u));         /* utoff -2^31 */
        MUTATE(s_put32(b + L.types, 200000));              /* utoff > 26 h */
        MUTATE(b[L.chars + L.charcnt - 1] = 'Z');          /* unterminated designation */
        MUTATE(b[len - 1] = 'X');                          /* footer newline */
        MUTATE(b[L.end] = 'X');                            /* footer leading newline */
        MUTATE(b[L.end + 1] = '%');                        /* footer syntax */
        if (L.timecnt >= 2) {
            MUTATE(b[L.idx] = (unsigned char)L.typecnt);        /* type index out of range */
            MUTATE(memcpy(b + L.times, orig + L.times + 8, 8)); /* not strictly ascending */
        }
#undef MUTATE

        /* Random corruption: must never crash; whatever loads must convert without UB. */
        int loaded = 0;
        for (int i = 0; i < 3000; i++) {
            memcpy(b, orig, len);
            int flips = 1 + (int)(s_rand() % 4);
            for (int k = 0; k < flips; k++)
                b[s_rand() % len] ^= (unsigned char)(1u << (s_rand() % 8));
            z = s_load_bytes(b, len);
            if (z) {
                rl_local_t l;
                for (int k = 0; k < 20; k++) {
                    int64_t t = (int64_t)s_rand();
                    rl_zone_local(z, t, &l);
                    (void)rl_zone_from_local(z, l.days, l.sec_of_day);
                    (void)rl_zone_next_transition(z, t);
                    (void)rl_zone_from_local(z, rl_floor_div(t, 86400), 3600);
                }
                loaded++;
                rl_zone_destroy(&z);
            }
        }
        print_message(
            "  %-18s %zu bytes: all truncations rejected, %d/3000 random mutants loaded\n",
            files[fi], len, loaded);
        free(b);
        free(orig);
    }
    /* Malformed footers in an otherwise valid file. */
    static const char *const bad_footers[] = {
        "EST",
        "EST5EDT,M13.2.0,M11.1.0",
        "EST5EDT,M3.6.0,M11.1.0",
        "EST5EDT,M3.2.7,M11.1.0",
        "<-04",
        "EST5EDT,J0,J100",
        "EST5EDT,366,5",
        "EST5EDT,M3.2.0/168,M11.1.0",
        "ES5",
        "EST25",
        "EST5EDT,M3.2.0",
        "EST5EDT,M3.2.0,M11.1.0,",
        "EST5:60",
        "EST5EDT;M3.2.0,M11.1.0",
        "<>5",
    };
    for (size_t i = 0; i < sizeof bad_footers / sizeof *bad_footers; i++) {
        rl_zone_t *z = s_footer_zone(bad_footers[i], -18000);
        if (z)
            print_error("footer \"%s\" accepted\n", bad_footers[i]);
        assert_null(z);
    }
}

/* A version-1 file (32-bit data, no footer) is accepted. */
static void test_v1_file(void **state) {
    (void)state;
    size_t len;
    unsigned char *orig = s_slurp(ZONEINFO "/America/New_York", &len);
    s_layout_t L = s_layout(orig);
    orig[4] = 0;
    rl_zone_t *z = s_load_bytes(orig, L.hdr); /* the v1 header and block only */
    assert_non_null(z);
    const rl_zone_t *ref = rl_zone_get("America/New_York");
    for (int64_t t = s_utc(1902, 1, 1, 0, 0, 0); t < s_utc(2037, 1, 1, 0, 0, 0); t += 7200 + 17)
        assert_int_equal(rl_zone_offset(z, t), rl_zone_offset(ref, t));
    rl_zone_destroy(&z);
    free(orig);
}

/* ---------------------------------------------------------------------------------------------
 * 4. threads */

#define S_THREADS 4
#define S_OPS     20000

static const char *const s_mt_zones[] = {
    "Europe/Paris", "Asia/Tokyo",   "America/Sao_Paulo", "Africa/Cairo",    "Pacific/Auckland",
    "Asia/Kolkata", "America/Lima", "America/New_York",  "Pacific/Chatham",
};
#define S_MT_N (sizeof s_mt_zones / sizeof *s_mt_zones)

typedef struct {
    int64_t t;
    size_t zone;
    rl_local_t local;
    int64_t back;
} s_op_t;

static s_op_t s_ops[S_OPS];
static pthread_barrier_t s_barrier;

typedef struct {
    int id;
    int mismatches;
    const rl_zone_t *seen[S_MT_N];
} s_worker_t;

static void *s_worker(void *arg) {
    s_worker_t *w = arg;
    pthread_barrier_wait(&s_barrier);
    for (int k = 0; k < S_OPS; k++) {
        const s_op_t *op = &s_ops[(k + w->id * (S_OPS / S_THREADS)) % S_OPS];
        const rl_zone_t *z = rl_zone_get(s_mt_zones[op->zone]);
        if (!z || (w->seen[op->zone] && w->seen[op->zone] != z)) {
            w->mismatches++;
            continue;
        }
        w->seen[op->zone] = z;
        rl_local_t l;
        rl_zone_local(z, op->t, &l);
        int64_t back = rl_zone_from_local(z, l.days, l.sec_of_day);
        if (!s_local_eq(&l, &op->local) || back != op->back)
            w->mismatches++;
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    /* Expected results from private, uncached copies, single-threaded. */
    rl_zone_t *ref[S_MT_N];
    for (size_t i = 0; i < S_MT_N; i++) {
        char path[128];
        snprintf(path, sizeof path, ZONEINFO "/%s", s_mt_zones[i]);
        ref[i] = rl_zone_load_file(path, s_mt_zones[i]);
        assert_non_null(ref[i]);
    }
    for (int k = 0; k < S_OPS; k++) {
        s_ops[k].zone = (size_t)(s_rand() % S_MT_N);
        s_ops[k].t = s_rand_between(s_utc(1990, 1, 1, 0, 0, 0), s_utc(2080, 1, 1, 0, 0, 0));
        memset(&s_ops[k].local, 0, sizeof s_ops[k].local);
        rl_zone_local(ref[s_ops[k].zone], s_ops[k].t, &s_ops[k].local);
        s_ops[k].back =
            rl_zone_from_local(ref[s_ops[k].zone], s_ops[k].local.days, s_ops[k].local.sec_of_day);
    }
    /* Most of these zones are not cached yet: the threads race to load them. */
    pthread_t th[S_THREADS];
    s_worker_t w[S_THREADS];
    assert_int_equal(pthread_barrier_init(&s_barrier, NULL, S_THREADS), 0);
    for (int i = 0; i < S_THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, s_worker, &w[i]), 0);
    }
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&s_barrier);
    for (int i = 0; i < S_THREADS; i++) {
        assert_int_equal(w[i].mismatches, 0);
        for (size_t z = 0; z < S_MT_N; z++)
            if (w[i].seen[z])
                assert_ptr_equal(w[i].seen[z], rl_zone_get(s_mt_zones[z]));
    }
    for (size_t i = 0; i < S_MT_N; i++)
        rl_zone_destroy(&ref[i]);
}

/* ---------------------------------------------------------------------------------------------
 */

static int s_setup(void **state) {
    (void)state;
    snprintf(s_tmpdir, sizeof s_tmpdir, "/tmp/test_tz.XXXXXX");
    if (!mkdtemp(s_tmpdir))
        return -1;
    unsetenv("TZDIR");
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/zone.tzif", s_tmpdir);
    unlink(path);
    rmdir(s_tmpdir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads), /* first, so that zones are loaded concurrently */
        cmocka_unit_test(test_zdump),
        cmocka_unit_test(test_random_vs_libc),
        cmocka_unit_test(test_footer_rules_vs_libc),
        cmocka_unit_test(test_slim_equals_fat),
        cmocka_unit_test(test_dst_edges),
        cmocka_unit_test(test_from_local_property),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_tzdir),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_v1_file),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}

/* rl_date.h — proleptic Gregorian civil-date arithmetic, pure and branch-light.
 *
 * Days are counted from 1970-01-01 (day 0). Weekdays are ISO: 0 = Monday ... 6 = Sunday.
 * Everything here is static inline and allocation-free; time zones live in rl_tz.h and
 * holidays in rl_calendar.h. Algorithms after Howard Hinnant's "chrono-compatible
 * low-level date algorithms". */
#ifndef RL_DATE_H
#define RL_DATE_H

#include <stdint.h>

/* A calendar date. month 1..12, day 1..31. */
typedef struct {
    int year;
    int month;
    int day;
} rl_date_t;

/* Days since 1970-01-01 of the given civil date. */
static inline int64_t rl_days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Civil date of a day count since 1970-01-01. */
static inline rl_date_t rl_civil_from_days(int64_t z) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    rl_date_t out = {(int)(y + (m <= 2)), (int)m, (int)d};
    return out;
}

/* ISO weekday (0 = Monday ... 6 = Sunday) of a day count since 1970-01-01 (a Thursday). */
static inline int rl_weekday_from_days(int64_t z) {
    int64_t w = (z + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/* Floor division of an instant (seconds) into days and seconds of day. */
static inline int64_t rl_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int rl_is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int rl_days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 ? 28 + rl_is_leap(y) : dm[m - 1];
}

#endif

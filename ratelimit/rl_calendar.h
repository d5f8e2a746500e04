/* rl_calendar.h — public-holiday calendars built from rules ("festivos", "feriados").
 *
 * A calendar is an ordered list of rules; each rule yields zero or one date per year (a fixed
 * date, a date moved to a Monday by Colombia's Ley 51/1983 or Chile's Ley 19.668, an offset from
 * Western Easter, or one explicit date). Days are local civil days counted from 1970-01-01, as in
 * rl_date.h. This module knows no country: the presets spell their laws as rule spec strings.
 * It does no time-zone work (rl_tz.h) and no I/O. */
#ifndef RL_CALENDAR_H
#define RL_CALENDAR_H

#include <stdint.h>

/* Years accepted for DATE rules and for from_year/to_year; also the range whose holidays are
 * precomputed into the lookup bitmap. Days outside it are still answered, more slowly. */
#define RL_CAL_MIN_YEAR 1900
#define RL_CAL_MAX_YEAR 2200

/* Easter offsets accepted by EASTER and EASTER_NEXT_MONDAY rules. */
#define RL_CAL_MAX_OFFSET 100

/* Size of rl_holiday_rule_t.name, terminating NUL included. */
#define RL_HOLIDAY_NAME_MAX 64

/* How a rule places its date in a year. */
typedef enum {
    RL_HOL_FIXED,              /* month/day every year (Feb 29 only in leap years) */
    RL_HOL_NEXT_MONDAY,        /* month/day, moved to the following Monday unless a Monday */
    RL_HOL_CL_MONDAY,          /* month/day; Tue-Thu -> that week's Monday, Fri -> next Monday */
    RL_HOL_EASTER,             /* Easter Sunday + offset days */
    RL_HOL_EASTER_NEXT_MONDAY, /* Easter Sunday + offset, moved to the next Monday if needed */
    RL_HOL_DATE                /* year/month/day, once */
} rl_holiday_kind_t;

/* One holiday rule. Fields a kind does not use are ignored. The year range applies to the year
 * the rule is evaluated for (the law's year), even when a move or an Easter offset lands the day
 * in a neighbouring civil year. */
typedef struct {
    rl_holiday_kind_t kind;
    int month, day;                 /* FIXED, NEXT_MONDAY, CL_MONDAY, DATE */
    int offset;                     /* EASTER* (days from Easter Sunday, -100..100) */
    int year;                       /* DATE */
    int from_year, to_year;         /* first and last year the rule applies; 0 = unbounded */
    char name[RL_HOLIDAY_NAME_MAX]; /* optional, may be "" */
} rl_holiday_rule_t;

typedef struct rl_calendar rl_calendar_t;

/* A new empty calendar (no day is a holiday), or NULL when out of memory. */
rl_calendar_t *rl_calendar_new(void);

/* Frees the calendar and sets *self_p to NULL. Accepts NULL and a pointer to NULL. */
void rl_calendar_destroy(rl_calendar_t **self_p);

/* Validates `rule`, copies it into the calendar and marks its dates in the lookup bitmap.
 * Returns 0, or -1 with a static reason in *err (if err is not NULL) when self or rule is NULL,
 * the kind is unknown, month/day is impossible (month 13, Feb 30; Feb 29 is accepted for
 * recurring kinds, and for DATE only in a leap year), the offset is outside -100..100, a year
 * (DATE year, from_year, to_year) is outside 1900..2200, from_year > to_year, the name is not
 * NUL-terminated, or memory runs out; the calendar is then unchanged.
 * Not thread-safe: build the calendar first, then share it read-only. */
int rl_calendar_add(rl_calendar_t *self, const rl_holiday_rule_t *rule, const char **err);

/* Parses a rule spec string, as written in policy YAML, into *out (zeroed first).
 *   spec    = kind SP argument *(SP option)
 *   kind    = "fixed" | "next-monday" | "cl-monday"  with argument MM-DD
 *           | "easter" | "easter-next-monday"        with argument [+|-]N  (days, -100..100)
 *           | "date"                                 with argument YYYY-MM-DD
 *   option  = "from" SP YYYY | "to" SP YYYY | "name" SP text   ("name" takes the rest, trimmed)
 * Examples: "fixed 01-01", "next-monday 01-06", "cl-monday 06-29", "easter -2", "easter +43",
 * "easter-next-monday +60", "date 2025-06-20", "fixed 06-07 from 2024 name Batalla de Arica".
 * Runs of spaces/tabs separate tokens. The parsed rule gets the same checks as rl_calendar_add.
 * Returns 0, or -1 with a static reason in *err (if err is not NULL). */
int rl_holiday_rule_parse(const char *spec, rl_holiday_rule_t *out, const char **err);

/* 1 if local day `days` (since 1970-01-01) is a holiday, else 0 (also for a NULL calendar).
 * O(1) bit test for years 1900..2200; other years (1..9999) evaluate the rules; outside those,
 * 0. If `name` is not NULL it receives, on 1, the name of the first rule (in insertion order)
 * with a non-empty name landing on that day, or "" — valid until the calendar is destroyed —
 * and on 0, NULL. Safe to call from many threads at once once no rl_calendar_add runs. */
int rl_calendar_is_holiday(const rl_calendar_t *self, int64_t days, const char **name);

/* Writes the holidays falling in civil year `year` (1..9999), ascending and without duplicates,
 * into out[0..cap). Returns the number of holidays, which may exceed cap (then only cap are
 * written), or -1 if self is NULL, cap < 0, out is NULL while cap > 0, or the year is out of
 * range. */
int rl_calendar_list(const rl_calendar_t *self, int year, int64_t *out, int cap);

/* Day number (since 1970-01-01) of Western Easter Sunday of `year` by the Gregorian computus
 * (proleptic before 1583), for year >= 1; INT64_MIN for year < 1. */
int64_t rl_easter(int year);

#endif

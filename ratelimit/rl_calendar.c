/* rl_calendar.c — holiday rules, their evaluation per year, and the per-calendar day bitmap.
 *
 * Every rl_calendar_add evaluates the new rule for each year of 1900..2200 (plus one year either
 * side, since moves and Easter offsets can cross New Year) and sets one bit per holiday in a flat
 * bitmap indexed by day, so rl_calendar_is_holiday is a bounds check and a bit test with no
 * writes: concurrent readers need no locks. Names and years outside the bitmap are answered by
 * re-evaluating the rules. Parsing of the YAML spec strings lives here too; nothing is logged. */
#include "rl_calendar.h"

#include "rl_date.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Years answered at all (rl_easter and the civil arithmetic are exact there). */
#define S_MIN_ANY_YEAR 1
#define S_MAX_ANY_YEAR 9999

struct rl_calendar {
    rl_holiday_rule_t *rules; /* owned, in insertion order */
    size_t nrules;
    size_t cap;
    int64_t base;   /* day number of RL_CAL_MIN_YEAR-01-01: bit 0 */
    int64_t span;   /* days covered, through RL_CAL_MAX_YEAR-12-31 */
    uint64_t *bits; /* owned, (span + 63) / 64 words */
};

int64_t rl_easter(int year) {
    if (year < 1) {
        return INT64_MIN;
    }
    /* Anonymous Gregorian algorithm (Meeus/Jones/Butcher); all terms non-negative for year >= 1. */
    const int a = year % 19;
    const int b = year / 100;
    const int c = year % 100;
    const int d = b / 4;
    const int e = b % 4;
    const int f = (b + 8) / 25;
    const int g = (b - f + 1) / 3;
    const int h = (19 * a + b - d - g + 15) % 30;
    const int i = c / 4;
    const int k = c % 4;
    const int l = (32 + 2 * e + 2 * i - h - k) % 7;
    const int m = (a + 11 * h + 22 * l) / 451;
    const int month = (h + l - 7 * m + 114) / 31;
    const int day = (h + l - 7 * m + 114) % 31 + 1;
    return rl_days_from_civil(year, month, day);
}

/* Moves `days` to the following Monday unless it is one. */
static int64_t s_next_monday(int64_t days) {
    const int wd = rl_weekday_from_days(days);
    return wd == 0 ? days : days + (7 - wd);
}

/* Ley 19.668: Tue, Wed, Thu -> Monday of the same week; Fri -> next Monday; Sat-Mon stay. */
static int64_t s_cl_monday(int64_t days) {
    const int wd = rl_weekday_from_days(days);
    if (wd >= 1 && wd <= 3) {
        return days - wd;
    }
    if (wd == 4) {
        return days + 3;
    }
    return days;
}

/* The day `rule` yields for law year `year`, in *out; false when it yields none that year.
 * Assumes a validated rule and S_MIN_ANY_YEAR <= year <= S_MAX_ANY_YEAR + 1. */
static bool s_rule_day(const rl_holiday_rule_t *rule, int year, int64_t *out) {
    if ((rule->from_year != 0 && year < rule->from_year) ||
        (rule->to_year != 0 && year > rule->to_year)) {
        return false;
    }
    switch (rule->kind) {
        case RL_HOL_FIXED:
        case RL_HOL_NEXT_MONDAY:
        case RL_HOL_CL_MONDAY: {
            if (rule->day > rl_days_in_month(year, rule->month)) {
                return false; /* Feb 29 outside leap years */
            }
            const int64_t d = rl_days_from_civil(year, rule->month, rule->day);
            *out = rule->kind == RL_HOL_FIXED         ? d
                   : rule->kind == RL_HOL_NEXT_MONDAY ? s_next_monday(d)
                                                      : s_cl_monday(d);
            return true;
        }
        case RL_HOL_EASTER:
            *out = rl_easter(year) + rule->offset;
            return true;
        case RL_HOL_EASTER_NEXT_MONDAY:
            *out = s_next_monday(rl_easter(year) + rule->offset);
            return true;
        case RL_HOL_DATE:
            if (year != rule->year) {
                return false;
            }
            *out = rl_days_from_civil(year, rule->month, rule->day);
            return true;
    }
    return false;
}

/* A validated rule landing on `days` of civil year `year`? Moves and offsets reach at most one
 * year either side, so law years year-1..year+1 are tried. */
static bool s_rule_hits(const rl_holiday_rule_t *rule, int year, int64_t days) {
    for (int y = year - 1; y <= year + 1; y++) {
        int64_t d;
        if (y >= S_MIN_ANY_YEAR && s_rule_day(rule, y, &d) && d == days) {
            return true;
        }
    }
    return false;
}

static bool s_year_ok(int y) {
    return y >= RL_CAL_MIN_YEAR && y <= RL_CAL_MAX_YEAR;
}

/* Checks a rule as rl_calendar_add and rl_holiday_rule_parse promise; NULL if valid. */
static const char *s_rule_check(const rl_holiday_rule_t *rule) {
    switch (rule->kind) {
        case RL_HOL_FIXED:
        case RL_HOL_NEXT_MONDAY:
        case RL_HOL_CL_MONDAY:
        case RL_HOL_DATE:
            if (rule->kind == RL_HOL_DATE && !s_year_ok(rule->year)) {
                return "year out of range 1900..2200";
            }
            if (rule->month < 1 || rule->month > 12) {
                return "month out of range 1..12";
            }
            /* Recurring kinds accept Feb 29 (it then occurs in leap years only). */
            if (rule->day < 1 ||
                rule->day >
                    rl_days_in_month(rule->kind == RL_HOL_DATE ? rule->year : 2000, rule->month)) {
                return "day out of range for the month";
            }
            break;
        case RL_HOL_EASTER:
        case RL_HOL_EASTER_NEXT_MONDAY:
            if (rule->offset < -RL_CAL_MAX_OFFSET || rule->offset > RL_CAL_MAX_OFFSET) {
                return "easter offset out of range -100..100";
            }
            break;
        default:
            return "unknown rule kind";
    }
    if (rule->from_year != 0 && !s_year_ok(rule->from_year)) {
        return "from year out of range 1900..2200";
    }
    if (rule->to_year != 0 && !s_year_ok(rule->to_year)) {
        return "to year out of range 1900..2200";
    }
    if (rule->from_year != 0 && rule->to_year != 0 && rule->from_year > rule->to_year) {
        return "from year after to year";
    }
    if (memchr(rule->name, '\0', sizeof rule->name) == NULL) {
        return "name not NUL-terminated";
    }
    return NULL;
}

static int s_fail(const char **err, const char *reason) {
    if (err != NULL) {
        *err = reason;
    }
    return -1;
}

rl_calendar_t *rl_calendar_new(void) {
    rl_calendar_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        return NULL;
    }
    self->base = rl_days_from_civil(RL_CAL_MIN_YEAR, 1, 1);
    self->span = rl_days_from_civil(RL_CAL_MAX_YEAR + 1, 1, 1) - self->base;
    self->bits = calloc((size_t)(self->span + 63) / 64, sizeof *self->bits);
    if (self->bits == NULL) {
        free(self);
        return NULL;
    }
    return self;
}

void rl_calendar_destroy(rl_calendar_t **self_p) {
    if (self_p == NULL || *self_p == NULL) {
        return;
    }
    rl_calendar_t *self = *self_p;
    free(self->rules);
    free(self->bits);
    free(self);
    *self_p = NULL;
}

int rl_calendar_add(rl_calendar_t *self, const rl_holiday_rule_t *rule, const char **err) {
    if (self == NULL || rule == NULL) {
        return s_fail(err, "calendar or rule is NULL");
    }
    const char *reason = s_rule_check(rule);
    if (reason != NULL) {
        return s_fail(err, reason);
    }
    if (self->nrules == self->cap) {
        const size_t cap = self->cap ? self->cap * 2 : 16;
        rl_holiday_rule_t *rules = realloc(self->rules, cap * sizeof *rules);
        if (rules == NULL) {
            return s_fail(err, "out of memory");
        }
        self->rules = rules;
        self->cap = cap;
    }
    rl_holiday_rule_t *copy = &self->rules[self->nrules++];
    *copy = *rule;
    for (int y = RL_CAL_MIN_YEAR - 1; y <= RL_CAL_MAX_YEAR + 1; y++) {
        int64_t d;
        if (s_rule_day(copy, y, &d)) {
            const int64_t i = d - self->base;
            if (i >= 0 && i < self->span) {
                self->bits[i / 64] |= UINT64_C(1) << (i % 64);
            }
        }
    }
    return 0;
}

/* Name of the first named rule landing on `days` (else ""), or NULL if no rule does. */
static const char *s_lookup(const rl_calendar_t *self, int year, int64_t days) {
    const char *found = NULL;
    for (size_t r = 0; r < self->nrules; r++) {
        const rl_holiday_rule_t *rule = &self->rules[r];
        if (s_rule_hits(rule, year, days)) {
            if (rule->name[0] != '\0') {
                return rule->name;
            }
            if (found == NULL) {
                found = "";
            }
        }
    }
    return found;
}

int rl_calendar_is_holiday(const rl_calendar_t *self, int64_t days, const char **name) {
    if (name != NULL) {
        *name = NULL;
    }
    if (self == NULL) {
        return 0;
    }
    if (days >= self->base && days < self->base + self->span) {
        const int64_t i = days - self->base;
        if (!((self->bits[i / 64] >> (i % 64)) & 1u)) {
            return 0;
        }
        if (name != NULL) {
            *name = s_lookup(self, rl_civil_from_days(days).year, days);
        }
        return 1;
    }
    /* Outside the bitmap: evaluate the rules. */
    if (days < rl_days_from_civil(S_MIN_ANY_YEAR, 1, 1) ||
        days > rl_days_from_civil(S_MAX_ANY_YEAR, 12, 31)) {
        return 0;
    }
    const char *found = s_lookup(self, rl_civil_from_days(days).year, days);
    if (found == NULL) {
        return 0;
    }
    if (name != NULL) {
        *name = found;
    }
    return 1;
}

int rl_calendar_list(const rl_calendar_t *self, int year, int64_t *out, int cap) {
    if (self == NULL || cap < 0 || (out == NULL && cap > 0) || year < S_MIN_ANY_YEAR ||
        year > S_MAX_ANY_YEAR) {
        return -1;
    }
    const int64_t first = rl_days_from_civil(year, 1, 1);
    const int64_t next = rl_days_from_civil(year + 1, 1, 1);
    uint64_t marks[6] = {0}; /* 366 days of `year`: sorts and deduplicates in one go */
    for (size_t r = 0; r < self->nrules; r++) {
        for (int y = year - 1; y <= year + 1; y++) {
            int64_t d;
            if (y >= S_MIN_ANY_YEAR && s_rule_day(&self->rules[r], y, &d) && d >= first &&
                d < next) {
                marks[(d - first) / 64] |= UINT64_C(1) << ((d - first) % 64);
            }
        }
    }
    int n = 0;
    for (int64_t i = 0; i < next - first; i++) {
        if ((marks[i / 64] >> (i % 64)) & 1u) {
            if (n < cap) {
                out[n] = first + i;
            }
            n++;
        }
    }
    return n;
}

/* ---- spec parsing ---------------------------------------------------------------------- */

static bool s_is_space(char c) {
    return c == ' ' || c == '\t';
}

static bool s_is_digit(char c) {
    return c >= '0' && c <= '9';
}

static const char *s_skip_space(const char *p) {
    while (s_is_space(*p)) {
        p++;
    }
    return p;
}

/* True if the token at *p is exactly `word` (followed by a space or the end); advances past it. */
static bool s_take_word(const char **p, const char *word) {
    const size_t n = strlen(word);
    if (strncmp(*p, word, n) != 0 || (!s_is_space((*p)[n]) && (*p)[n] != '\0')) {
        return false;
    }
    *p += n;
    return true;
}

/* Reads min_digits..max_digits decimal digits at *p into *out; advances past them. */
static bool s_take_uint(const char **p, int min_digits, int max_digits, int *out) {
    int v = 0;
    int n = 0;
    while (s_is_digit((*p)[n]) && n < max_digits) {
        v = v * 10 + ((*p)[n] - '0');
        n++;
    }
    if (n < min_digits || s_is_digit((*p)[n])) {
        return false;
    }
    *p += n;
    *out = v;
    return true;
}

/* The current token must end here. */
static bool s_token_end(const char *p) {
    return *p == '\0' || s_is_space(*p);
}

/* MM-DD */
static bool s_take_month_day(const char **p, int *month, int *day) {
    const char *q = *p;
    if (!s_take_uint(&q, 1, 2, month) || *q != '-') {
        return false;
    }
    q++;
    if (!s_take_uint(&q, 1, 2, day) || !s_token_end(q)) {
        return false;
    }
    *p = q;
    return true;
}

/* A four-digit year ending the token. */
static bool s_take_year(const char **p, int *year) {
    const char *q = *p;
    if (!s_take_uint(&q, 4, 4, year) || !s_token_end(q)) {
        return false;
    }
    *p = q;
    return true;
}

typedef enum { S_ARG_MONTH_DAY, S_ARG_OFFSET, S_ARG_DATE } s_arg_t;

static const struct {
    const char *word;
    rl_holiday_kind_t kind;
    s_arg_t arg;
} s_kinds[] = {
    /* s_take_word matches whole tokens, so "easter" never swallows "easter-next-monday". */
    {"fixed", RL_HOL_FIXED, S_ARG_MONTH_DAY},
    {"next-monday", RL_HOL_NEXT_MONDAY, S_ARG_MONTH_DAY},
    {"cl-monday", RL_HOL_CL_MONDAY, S_ARG_MONTH_DAY},
    {"easter", RL_HOL_EASTER, S_ARG_OFFSET},
    {"easter-next-monday", RL_HOL_EASTER_NEXT_MONDAY, S_ARG_OFFSET},
    {"date", RL_HOL_DATE, S_ARG_DATE},
};

/* Parses the argument of a kind at *p into out; NULL or a reason. */
static const char *s_parse_arg(const char **p, s_arg_t arg, rl_holiday_rule_t *out) {
    const char *q = *p;
    switch (arg) {
        case S_ARG_MONTH_DAY:
            if (!s_take_month_day(&q, &out->month, &out->day)) {
                return "expected MM-DD after the rule kind";
            }
            break;
        case S_ARG_OFFSET: {
            int sign = 1;
            if (*q == '+' || *q == '-') {
                sign = *q == '-' ? -1 : 1;
                q++;
            }
            int v;
            /* Up to 4 digits so "+1000" reads as a number and fails the range check. */
            if (!s_take_uint(&q, 1, 4, &v) || !s_token_end(q)) {
                return "expected a day offset like -2 or +43 after easter";
            }
            out->offset = sign * v;
            break;
        }
        case S_ARG_DATE:
            if (!s_take_uint(&q, 4, 4, &out->year) || *q != '-') {
                return "expected YYYY-MM-DD after date";
            }
            q++;
            if (!s_take_month_day(&q, &out->month, &out->day)) {
                return "expected YYYY-MM-DD after date";
            }
            break;
    }
    *p = q;
    return NULL;
}

/* Parses the options after the argument; NULL or a reason. */
static const char *s_parse_options(const char *p, rl_holiday_rule_t *out) {
    bool have_from = false;
    bool have_to = false;
    for (;;) {
        p = s_skip_space(p);
        if (*p == '\0') {
            return NULL;
        }
        int *year = NULL;
        bool *seen = NULL;
        if (s_take_word(&p, "from")) {
            year = &out->from_year;
            seen = &have_from;
        } else if (s_take_word(&p, "to")) {
            year = &out->to_year;
            seen = &have_to;
        }
        if (year != NULL) {
            if (*seen) {
                return "option given twice";
            }
            p = s_skip_space(p);
            if (!s_take_year(&p, year)) {
                return "expected a four-digit year after from/to";
            }
            *seen = true;
        } else if (s_take_word(&p, "name")) {
            p = s_skip_space(p);
            size_t n = strlen(p);
            while (n > 0 && s_is_space(p[n - 1])) {
                n--;
            }
            if (n == 0) {
                return "empty name";
            }
            if (n >= sizeof out->name) {
                return "name longer than 63 bytes";
            }
            memcpy(out->name, p, n);
            out->name[n] = '\0';
            return NULL;
        } else {
            return "unexpected text after the rule (options: from YYYY, to YYYY, name TEXT)";
        }
    }
}

int rl_holiday_rule_parse(const char *spec, rl_holiday_rule_t *out, const char **err) {
    if (spec == NULL || out == NULL) {
        return s_fail(err, "spec or output is NULL");
    }
    memset(out, 0, sizeof *out);
    const char *p = s_skip_space(spec);
    if (*p == '\0') {
        return s_fail(err, "empty holiday rule");
    }
    size_t k = 0;
    while (k < sizeof s_kinds / sizeof s_kinds[0] && !s_take_word(&p, s_kinds[k].word)) {
        k++;
    }
    if (k == sizeof s_kinds / sizeof s_kinds[0]) {
        return s_fail(err, "unknown rule kind (fixed, next-monday, cl-monday, easter, "
                           "easter-next-monday, date)");
    }
    out->kind = s_kinds[k].kind;
    p = s_skip_space(p);
    const char *reason = s_parse_arg(&p, s_kinds[k].arg, out);
    if (reason == NULL) {
        reason = s_parse_options(p, out);
    }
    if (reason == NULL) {
        reason = s_rule_check(out);
    }
    return reason == NULL ? 0 : s_fail(err, reason);
}

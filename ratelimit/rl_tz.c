/* rl_tz.c — TZif (RFC 8536) reader, POSIX TZ footer rules and UTC <-> local conversion.
 *
 * A zone is flattened at load time into one sorted table of instants at which the UTC offset or
 * the DST flag changes: the file's explicit transitions, then transitions generated from the
 * footer rule up to 2200. Lookups binary-search that table; outside it the footer rule is
 * evaluated directly (a pure function of the year). Nothing is mutated after load, so
 * conversions need no locks. The process-wide name cache is at the end of the file. This file
 * does not decide legality of contact; it only answers "what time is it there". */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "rl_tz.h"

#include "rl_date.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME_MAX       255
#define S_PATH_MAX       4096
#define S_FILE_MAX       (1 << 20)          /* real TZif files are < 4 KiB */
#define S_T_LIMIT        ((int64_t)1 << 50) /* instants are clamped to +-S_T_LIMIT */
#define S_OFF_MIN        (-89999) /* RFC 8536: utoff should lie in -25:59:59 .. +25:59:59 */
#define S_OFF_MAX        93599
#define S_GEN_FIRST_YEAR 1900 /* footer transitions are tabulated from here ... */
#define S_GEN_LAST_YEAR  2200 /* ... up to (exclusive) Jan 1 of this year */
#define S_DAY            86400

/* One end of a DST period in a POSIX TZ rule. */
typedef struct {
    char kind;    /* 'J': Julian 1..365 without Feb 29; 'N': zero-based 0..365; 'M': Mm.w.d */
    int day;      /* J/N: day number; M: weekday 0 = Sunday .. 6 */
    int month;    /* M: 1..12 */
    int week;     /* M: 1..5, 5 = last */
    int32_t time; /* seconds after local midnight, -167h .. +167h (RFC 8536 extension) */
} s_rule_date_t;

/* A parsed POSIX TZ string. */
typedef struct {
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    bool has_dst;
    s_rule_date_t start, end;
} s_rule_t;

struct rl_zone {
    char *name;
    uint32_t n;     /* number of transitions */
    int64_t *trans; /* n strictly ascending instants where offset or DST flag change */
    int32_t *offs;  /* n + 1 entries: offs[i] is in force on [trans[i-1], trans[i]) */
    uint8_t *dsts;  /* n + 1 entries, likewise */
    bool has_rule;  /* a footer rule with DST governs t >= rule_from outside [gen_lo, gen_hi) */
    int64_t rule_from;
    int64_t gen_lo;
    int64_t gen_hi;
    int32_t max_off; /* largest offset the zone can ever use */
    s_rule_t rule;
};

/* ---------------------------------------------------------------------------------------------
 * POSIX TZ rules */

static int64_t s_clamp(int64_t t) {
    return t < -S_T_LIMIT ? -S_T_LIMIT : t > S_T_LIMIT ? S_T_LIMIT : t;
}

/* Local day number (since 1970-01-01) on which rule date d falls in year y. */
static int64_t s_rule_day(const s_rule_date_t *d, int y) {
    if (d->kind == 'J')
        return rl_days_from_civil(y, 1, 1) + d->day - 1 + (rl_is_leap(y) && d->day >= 60);
    if (d->kind == 'N')
        return rl_days_from_civil(y, 1, 1) + d->day;
    int64_t first = rl_days_from_civil(y, d->month, 1);
    int target = (d->day + 6) % 7; /* POSIX 0 = Sunday -> ISO 6 */
    int64_t day =
        first + (target - rl_weekday_from_days(first) + 7) % 7 + (int64_t)(d->week - 1) * 7;
    int64_t end = first + rl_days_in_month(y, d->month);
    while (day >= end)
        day -= 7;
    return day;
}

/* UTC instants at which DST starts (*s) and ends (*e) in year y. */
static void s_rule_year(const s_rule_t *r, int y, int64_t *s, int64_t *e) {
    *s = s_rule_day(&r->start, y) * S_DAY + r->start.time - r->std_off;
    *e = s_rule_day(&r->end, y) * S_DAY + r->end.time - r->dst_off;
}

static int s_year_of(int64_t t) {
    return rl_civil_from_days(rl_floor_div(t, S_DAY)).year;
}

/* Whether DST is in force at t (|t| <= S_T_LIMIT): the state set by the latest rule event at or
 * before t; on equal instants the later year's event, then the end of DST, wins. */
static bool s_rule_is_dst(const s_rule_t *r, int64_t t) {
    if (!r->has_dst)
        return false;
    int y = s_year_of(t);
    int64_t best = INT64_MIN;
    bool dst = false;
    for (int yy = y - 2; yy <= y + 1; yy++) {
        int64_t s, e;
        s_rule_year(r, yy, &s, &e);
        int64_t ev[2] = {s <= e ? s : e, s <= e ? e : s};
        bool evdst[2] = {s <= e, !(s <= e)};
        for (int i = 0; i < 2; i++) {
            if (ev[i] <= t && ev[i] >= best) {
                best = ev[i];
                dst = evdst[i];
            }
        }
    }
    return dst;
}

/* First instant after t (|t| <= S_T_LIMIT) at which the rule's DST state changes, or INT64_MAX.
 * Events that change nothing (degenerate rules such as all-year DST) are skipped. */
static int64_t s_rule_next(const s_rule_t *r, int64_t t) {
    if (!r->has_dst)
        return INT64_MAX;
    bool cur = s_rule_is_dst(r, t);
    for (int guard = 0; guard < 8 && t < S_T_LIMIT; guard++) {
        int y = s_year_of(t);
        int64_t best = INT64_MAX;
        for (int yy = y - 1; yy <= y + 2; yy++) {
            int64_t s, e;
            s_rule_year(r, yy, &s, &e);
            if (s > t && s < best)
                best = s;
            if (e > t && e < best)
                best = e;
        }
        if (best > S_T_LIMIT)
            return INT64_MAX;
        if (s_rule_is_dst(r, best) != cur)
            return best;
        t = best;
    }
    return INT64_MAX;
}

/* Offset and DST flag of the footer rule at t, plus the next change after t. */
static void s_rule_lookup(const s_rule_t *r, int64_t t, int32_t *off, int *dst, int64_t *next) {
    int64_t c = s_clamp(t);
    bool d = s_rule_is_dst(r, c);
    *off = d ? r->dst_off : r->std_off;
    *dst = d;
    if (next)
        *next = t >= S_T_LIMIT ? INT64_MAX : s_rule_next(r, c);
}

/* Parses an unsigned decimal of 1..max_digits digits, at most max_value. */
static bool s_parse_num(const char **p, int max_digits, int max_value, int *out) {
    int v = 0, n = 0;
    while (**p >= '0' && **p <= '9' && n < max_digits) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0 || v > max_value || (**p >= '0' && **p <= '9'))
        return false;
    *out = v;
    return true;
}

/* Parses [+-]hh[:mm[:ss]] with hh <= max_hours into seconds. */
static bool s_parse_hms(const char **p, int max_hours, int32_t *out) {
    int sign = 1, h, m = 0, s = 0;
    if (**p == '+' || **p == '-') {
        sign = **p == '-' ? -1 : 1;
        (*p)++;
    }
    if (!s_parse_num(p, 3, max_hours, &h))
        return false;
    if (**p == ':') {
        (*p)++;
        if (!s_parse_num(p, 2, 59, &m))
            return false;
        if (**p == ':') {
            (*p)++;
            if (!s_parse_num(p, 2, 59, &s))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

/* Skips a zone abbreviation: 3+ letters, or <...> of 3+ characters in [A-Za-z0-9+-]. */
static bool s_parse_abbr(const char **p) {
    const char *s = *p;
    int n = 0;
    if (*s == '<') {
        s++;
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
               *s == '+' || *s == '-') {
            s++;
            n++;
        }
        if (*s != '>')
            return false;
        s++;
    } else {
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
            s++;
            n++;
        }
    }
    *p = s;
    return n >= 3;
}

/* Parses a rule date "Jn", "n" or "Mm.w.d", then an optional "/time" (default 02:00:00). */
static bool s_parse_rule_date(const char **p, s_rule_date_t *d) {
    memset(d, 0, sizeof *d);
    if (**p == 'J') {
        (*p)++;
        d->kind = 'J';
        if (!s_parse_num(p, 3, 365, &d->day) || d->day < 1)
            return false;
    } else if (**p == 'M') {
        (*p)++;
        d->kind = 'M';
        if (!s_parse_num(p, 2, 12, &d->month) || d->month < 1 || *(*p)++ != '.')
            return false;
        if (!s_parse_num(p, 1, 5, &d->week) || d->week < 1 || *(*p)++ != '.')
            return false;
        if (!s_parse_num(p, 1, 6, &d->day))
            return false;
    } else {
        d->kind = 'N';
        if (!s_parse_num(p, 3, 365, &d->day))
            return false;
    }
    d->time = 2 * 3600;
    if (**p == '/') {
        (*p)++;
        if (!s_parse_hms(p, 167, &d->time))
            return false;
    }
    return true;
}

/* Parses a POSIX TZ string as used in TZif footers (RFC 8536 §3.3): std offset [dst [offset]
 * [,start[/time],end[/time]]]. Without a rule the US rule M3.2.0,M11.1.0 is assumed. */
static bool s_parse_posix(const char *str, s_rule_t *r) {
    const char *p = str;
    int32_t v;
    memset(r, 0, sizeof *r);
    if (!s_parse_abbr(&p) || !s_parse_hms(&p, 24, &v))
        return false;
    r->std_off = -v;
    r->dst_off = r->std_off;
    if (*p == '\0')
        return true;
    if (!s_parse_abbr(&p))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!s_parse_hms(&p, 24, &v))
            return false;
        r->dst_off = -v;
    }
    if (*p == '\0') {
        const char *def = "M3.2.0,M11.1.0";
        return s_parse_rule_date(&def, &r->start) && *def++ == ',' &&
               s_parse_rule_date(&def, &r->end);
    }
    if (*p++ != ',' || !s_parse_rule_date(&p, &r->start) || *p++ != ',' ||
        !s_parse_rule_date(&p, &r->end))
        return false;
    return *p == '\0';
}

/* ---------------------------------------------------------------------------------------------
 * TZif parsing */

typedef struct {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} s_counts_t;

typedef struct {
    int32_t off;
    uint8_t isdst;
} s_ttinfo_t;

static uint32_t s_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t s_be64(const uint8_t *p) {
    return (int64_t)((uint64_t)s_be32(p) << 32 | s_be32(p + 4));
}

/* Reads a 44-byte header at buf[pos]; fails if it does not fit or the magic is wrong. */
static bool s_header(const uint8_t *buf, size_t len, size_t pos, uint8_t *version, s_counts_t *c) {
    if (len < 44 || pos > len - 44 || memcmp(buf + pos, "TZif", 4) != 0)
        return false;
    *version = buf[pos + 4];
    const uint8_t *q = buf + pos + 20;
    c->isutcnt = s_be32(q);
    c->isstdcnt = s_be32(q + 4);
    c->leapcnt = s_be32(q + 8);
    c->timecnt = s_be32(q + 12);
    c->typecnt = s_be32(q + 16);
    c->charcnt = s_be32(q + 20);
    return true;
}

/* Size of a data block with tsize-byte times (4 in v1, 8 in v2+); 64-bit, cannot overflow. */
static uint64_t s_block_size(const s_counts_t *c, unsigned tsize) {
    return (uint64_t)c->timecnt * (tsize + 1) + (uint64_t)c->typecnt * 6 + c->charcnt +
           (uint64_t)c->leapcnt * (tsize + 4) + c->isstdcnt + c->isutcnt;
}

/* Builds the zone's flattened table from a validated data block plus optional footer rule. */
static bool s_build(rl_zone_t *z, const int64_t *times, const uint8_t *idx, uint32_t timecnt,
                    const s_ttinfo_t *types, const s_rule_t *rule, bool has_footer) {
    /* The state after the last explicit transition (or everywhere, without transitions) comes from
     * the footer if there is one (RFC 8536 §3.2), else from the file's types. */
    z->has_rule = has_footer && rule->has_dst;
    if (z->has_rule)
        z->rule = *rule;
    /* Generated transitions cover [gen_lo, gen_hi): from the last explicit transition (or 1900
     * when there is none, the rule then also governing everything before) to 2200, or until the
     * table is full for a file whose last transition is absurdly early. */
    z->rule_from = timecnt ? times[timecnt - 1] : INT64_MIN;
    z->gen_lo = timecnt ? z->rule_from : rl_days_from_civil(S_GEN_FIRST_YEAR, 1, 1) * S_DAY;
    z->gen_hi = rl_days_from_civil(S_GEN_LAST_YEAR, 1, 1) * S_DAY;
    if (z->gen_hi < z->gen_lo)
        z->gen_hi = z->gen_lo;

    size_t cap = (size_t)timecnt + 1;
    if (z->has_rule)
        cap += 2 * (size_t)(S_GEN_LAST_YEAR - S_GEN_FIRST_YEAR + 2);
    int64_t *tr = malloc(cap * sizeof *tr);
    int32_t *of = malloc((cap + 1) * sizeof *of);
    uint8_t *ds = malloc(cap + 1);
    if (!tr || !of || !ds) {
        free(tr);
        free(of);
        free(ds);
        return false;
    }

    /* Candidate list: state before everything, then (instant, state) pairs. */
    size_t m = 0;
    of[0] = types[0].off;
    ds[0] = types[0].isdst;
    for (uint32_t i = 0; i < timecnt; i++) {
        tr[m] = times[i];
        of[m + 1] = types[idx[i]].off;
        ds[m + 1] = types[idx[i]].isdst;
        m++;
    }
    if (has_footer) {
        int32_t off;
        int dst;
        s_rule_lookup(rule, z->gen_lo, &off, &dst, NULL);
        of[m] = off; /* replaces the last explicit state, or the initial one */
        ds[m] = (uint8_t)dst;
        if (z->has_rule) {
            for (int64_t t = s_rule_next(rule, s_clamp(z->gen_lo)); t < z->gen_hi;
                 t = s_rule_next(rule, t)) {
                if (m == cap) {
                    z->gen_hi = t;
                    break;
                }
                s_rule_lookup(rule, t, &off, &dst, NULL);
                tr[m] = t;
                of[m + 1] = off;
                ds[m + 1] = (uint8_t)dst;
                m++;
            }
        }
    }

    /* Drop entries that change neither offset nor DST flag (e.g. abbreviation-only changes). */
    size_t n = 0;
    int32_t max_off = of[0];
    for (size_t i = 0; i < m; i++) {
        if (of[i + 1] == of[n] && ds[i + 1] == ds[n])
            continue;
        tr[n] = tr[i];
        of[n + 1] = of[i + 1];
        ds[n + 1] = ds[i + 1];
        n++;
        if (of[n] > max_off)
            max_off = of[n];
    }
    if (z->has_rule) {
        if (rule->std_off > max_off)
            max_off = rule->std_off;
        if (rule->dst_off > max_off)
            max_off = rule->dst_off;
    }
    z->n = (uint32_t)n;
    z->trans = tr;
    z->offs = of;
    z->dsts = ds;
    z->max_off = max_off;
    return true;
}

/* Parses and validates a whole TZif image into z. */
static bool s_parse(rl_zone_t *z, const uint8_t *buf, size_t len) {
    uint8_t version;
    s_counts_t c;
    if (!s_header(buf, len, 0, &version, &c))
        return false;
    if (version != 0 && version != '2' && version != '3' && version != '4')
        return false;
    size_t pos = 44;
    unsigned tsize = 4;
    if (version != 0) {
        /* Skip the 32-bit block; only its size matters. */
        uint64_t v1 = s_block_size(&c, 4);
        if (v1 > len - pos || !s_header(buf, len, pos + (size_t)v1, &version, &c))
            return false;
        if (version < '2' || version > '4')
            return false;
        pos += (size_t)v1 + 44;
        tsize = 8;
    }

    /* Counts, as RFC 8536 §3.1 requires; leap-second ("right/") files are refused. */
    if (c.typecnt == 0 || c.typecnt > 256 || c.charcnt == 0 || c.leapcnt != 0 ||
        (c.isstdcnt != 0 && c.isstdcnt != c.typecnt) || (c.isutcnt != 0 && c.isutcnt != c.typecnt))
        return false;
    uint64_t bsize = s_block_size(&c, tsize);
    if (bsize > len - pos)
        return false;
    const uint8_t *p = buf + pos;
    const uint8_t *ptimes = p;
    const uint8_t *pidx = ptimes + (size_t)c.timecnt * tsize;
    const uint8_t *ptypes = pidx + c.timecnt;
    const uint8_t *pchars = ptypes + (size_t)c.typecnt * 6;
    const uint8_t *pstd = pchars + c.charcnt; /* leapcnt == 0 */
    const uint8_t *put = pstd + c.isstdcnt;
    pos += (size_t)bsize;

    s_ttinfo_t types[256];
    if (pchars[c.charcnt - 1] != '\0') /* every designation must be NUL-terminated */
        return false;
    for (uint32_t i = 0; i < c.typecnt; i++) {
        const uint8_t *q = ptypes + (size_t)i * 6;
        int32_t off = (int32_t)s_be32(q);
        if (off < S_OFF_MIN || off > S_OFF_MAX || q[4] > 1 || q[5] >= c.charcnt)
            return false;
        types[i].off = off;
        types[i].isdst = q[4];
        if (c.isstdcnt && pstd[i] > 1)
            return false;
        if (c.isutcnt && (put[i] > 1 || (put[i] == 1 && (!c.isstdcnt || pstd[i] != 1))))
            return false;
    }

    int64_t *times = malloc(((size_t)c.timecnt + 1) * sizeof *times);
    if (!times)
        return false;
    bool ok = true;
    for (uint32_t i = 0; i < c.timecnt && ok; i++) {
        times[i] = tsize == 8 ? s_be64(ptimes + (size_t)i * 8)
                              : (int64_t)(int32_t)s_be32(ptimes + (size_t)i * 4);
        if (pidx[i] >= c.typecnt || (i > 0 && times[i] <= times[i - 1]))
            ok = false;
    }

    /* Footer (v2+): "\n" POSIX-TZ "\n", ending the file. */
    s_rule_t rule;
    bool has_footer = false;
    if (ok && tsize == 8) {
        const char *f = (const char *)buf + pos;
        size_t flen = len - pos;
        const char *nl = flen >= 2 && f[0] == '\n' ? memchr(f + 1, '\n', flen - 1) : NULL;
        if (!nl || (size_t)(nl - f) != flen - 1 || flen - 2 > 255) {
            ok = false;
        } else if (flen > 2) {
            char tz[256];
            memcpy(tz, f + 1, flen - 2);
            tz[flen - 2] = '\0';
            ok = strlen(tz) == flen - 2 && s_parse_posix(tz, &rule);
            has_footer = ok;
        }
    } else if (ok && pos != len) {
        ok = false; /* trailing garbage after a v1 file */
    }
    if (ok)
        ok = s_build(z, times, pidx, c.timecnt, types, &rule, has_footer);
    free(times);
    return ok;
}

/* Reads a whole regular file of at most S_FILE_MAX bytes. The caller frees *buf. */
static bool s_read_file(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 8192, n = 0;
    uint8_t *b = malloc(cap);
    bool ok = b != NULL;
    while (ok) {
        if (n == cap) {
            if (cap > S_FILE_MAX) {
                ok = false;
                break;
            }
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                ok = false;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            ok = !ferror(f);
            break;
        }
    }
    fclose(f);
    if (!ok || n > S_FILE_MAX) {
        free(b);
        return false;
    }
    *buf = b;
    *len = n;
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Public API: loading */

rl_zone_t *rl_zone_load_file(const char *path, const char *name) {
    if (!path)
        return NULL;
    uint8_t *buf;
    size_t len;
    if (!s_read_file(path, &buf, &len))
        return NULL;
    rl_zone_t *z = calloc(1, sizeof *z);
    if (z) {
        const char *nm = name ? name : path;
        size_t nlen = strlen(nm);
        z->name = malloc(nlen + 1);
        if (z->name)
            memcpy(z->name, nm, nlen + 1);
        if (!z->name || !s_parse(z, buf, len))
            rl_zone_destroy(&z);
    }
    free(buf);
    return z;
}

void rl_zone_destroy(rl_zone_t **self_p) {
    if (!self_p || !*self_p)
        return;
    rl_zone_t *z = *self_p;
    free(z->name);
    free(z->trans);
    free(z->offs);
    free(z->dsts);
    free(z);
    *self_p = NULL;
}

const char *rl_zone_name(const rl_zone_t *z) {
    return z->name;
}

/* ---------------------------------------------------------------------------------------------
 * Public API: conversions */

/* Offset and DST flag in force at t, and (if next) the next change strictly after t. */
static inline void s_lookup(const rl_zone_t *z, int64_t t, int32_t *off, int *dst, int64_t *next) {
    if (z->has_rule && t >= z->rule_from && (t < z->gen_lo || t >= z->gen_hi)) {
        s_rule_lookup(&z->rule, t, off, dst, next);
        return;
    }
    uint32_t lo = 0, hi = z->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *off = z->offs[lo];
    *dst = z->dsts[lo];
    if (next)
        /* Past the table's last change the state holds until the rule's first change >= gen_hi. */
        *next = lo < z->n     ? z->trans[lo]
                : z->has_rule ? s_rule_next(&z->rule, s_clamp(t >= z->gen_hi ? t : z->gen_hi - 1))
                              : INT64_MAX;
}

int32_t rl_zone_offset(const rl_zone_t *z, int64_t t) {
    int32_t off;
    int dst;
    s_lookup(z, t, &off, &dst, NULL);
    return off;
}

void rl_zone_local(const rl_zone_t *z, int64_t t, rl_local_t *out) {
    int32_t off;
    int dst;
    t = s_clamp(t);
    s_lookup(z, t, &off, &dst, NULL);
    int64_t local = t + off;
    int64_t days = rl_floor_div(local, S_DAY);
    int32_t sod = (int32_t)(local - days * S_DAY);
    rl_date_t d = rl_civil_from_days(days);
    out->year = d.year;
    out->month = d.month;
    out->day = d.day;
    out->hour = sod / 3600;
    out->min = sod / 60 % 60;
    out->sec = sod % 60;
    out->wday = rl_weekday_from_days(days);
    out->days = days;
    out->sec_of_day = sod;
    out->utc_offset = off;
    out->is_dst = dst;
}

int64_t rl_zone_from_local(const rl_zone_t *z, int64_t local_days, int32_t sec_of_day) {
    /* Wanted: min { t : t + off(t) >= L }. No t below L - max_off qualifies; walk the constant-
     * offset segments from there: in [a, next) with offset o the first candidate is max(a, L-o). */
    const int64_t dlim = S_T_LIMIT / S_DAY;
    if (local_days > dlim)
        local_days = dlim;
    if (local_days < -dlim)
        local_days = -dlim;
    int64_t want = local_days * S_DAY + sec_of_day;
    int64_t t = want - z->max_off;
    for (;;) {
        int32_t off;
        int dst;
        int64_t next;
        s_lookup(z, t, &off, &dst, &next);
        int64_t c = want - off > t ? want - off : t;
        if (c < next || next <= t)
            return c;
        t = next;
    }
}

int64_t rl_zone_next_transition(const rl_zone_t *z, int64_t t) {
    int32_t off;
    int dst;
    int64_t next;
    s_lookup(z, t, &off, &dst, &next);
    return next;
}

/* ---------------------------------------------------------------------------------------------
 * Process-wide cache: an insert-only open-addressing table of atomic pointers. Readers never
 * lock; a miss takes the mutex, re-probes, loads and publishes with a release store. Zones are
 * never removed, so a published pointer stays valid until exit. */

#define S_CACHE_SLOTS 4096 /* power of two; about 600 IANA names exist */
#define S_CACHE_MAX   (S_CACHE_SLOTS / 2)

static _Atomic(rl_zone_t *) s_cache[S_CACHE_SLOTS];
static size_t s_cache_count; /* guarded by s_cache_lock */
static pthread_mutex_t s_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t s_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s) {
        h ^= (uint8_t)*s++;
        h *= 16777619u;
    }
    return h;
}

/* Probes for name; returns the zone or NULL, and the first empty slot seen in *empty. */
static rl_zone_t *s_cache_find(const char *name, uint32_t h, size_t *empty) {
    for (size_t i = 0; i < S_CACHE_SLOTS; i++) {
        size_t slot = (h + i) & (S_CACHE_SLOTS - 1);
        rl_zone_t *z = atomic_load_explicit(&s_cache[slot], memory_order_acquire);
        if (!z) {
            *empty = slot;
            return NULL;
        }
        if (strcmp(z->name, name) == 0)
            return z;
    }
    *empty = S_CACHE_SLOTS;
    return NULL;
}

/* Name rules: 1..255 characters of [A-Za-z0-9/_+-], relative, no empty component (hence no
 * "//" or trailing '/'); '.' is not allowed at all, so ".." cannot occur. */
static bool s_valid_name(const char *name) {
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char ch = *p;
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '+' || ch == '-';
        if (!ok || n >= S_NAME_MAX || (ch == '/' && (n == 0 || p[1] == '/' || p[1] == '\0')))
            return false;
    }
    return n > 0;
}

const rl_zone_t *rl_zone_get(const char *name) {
    if (!name)
        return NULL;
    uint32_t h = s_hash(name);
    size_t empty;
    rl_zone_t *z = s_cache_find(name, h, &empty);
    if (z || !s_valid_name(name))
        return z;

    pthread_mutex_lock(&s_cache_lock);
    z = s_cache_find(name, h, &empty);
    if (!z && empty < S_CACHE_SLOTS && s_cache_count < S_CACHE_MAX) {
        const char *dir = getenv("TZDIR");
        if (!dir || !*dir)
            dir = "/usr/share/zoneinfo";
        char path[S_PATH_MAX];
        int pn = snprintf(path, sizeof path, "%s/%s", dir, name);
        if (pn > 0 && (size_t)pn < sizeof path)
            z = rl_zone_load_file(path, name);
        if (z) {
            atomic_store_explicit(&s_cache[empty], z, memory_order_release);
            s_cache_count++;
        }
    }
    pthread_mutex_unlock(&s_cache_lock);
    return z;
}

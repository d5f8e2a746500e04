/* pc_time.c — RFC 3339 parsing and formatting for pregonctl (see pc_time.h). */
#include "pc_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rl_date.h"

static int s_num(const char *s, int digits, int *out) {
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int pc_time_parse(const char *s, int64_t *out) {
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) < 20 || s_num(s, 4, &y) || s[4] != '-' || s_num(s + 5, 2, &mo) ||
        s[7] != '-' || s_num(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s_num(s + 11, 2, &h) || s[13] != ':' || s_num(s + 14, 2, &mi) || s[16] != ':' ||
        s_num(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > rl_days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int off = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (s_num(p + 1, 2, &oh) || s_num(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
    if (se == 60)
        se = 59; /* a leap second names the last second of its minute */
    *out = rl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return 0;
}

void pc_time_format(int64_t t, const rl_zone_t *z, char *buf, size_t len) {
    if (!z) {
        int64_t days = rl_floor_div(t, 86400), sod = t - days * 86400;
        rl_date_t d = rl_civil_from_days(days);
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", d.year, d.month, d.day,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
        return;
    }
    rl_local_t lt;
    rl_zone_local(z, t, &lt);
    int off = lt.utc_offset < 0 ? -lt.utc_offset : lt.utc_offset;
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", lt.year, lt.month, lt.day,
             lt.hour, lt.min, lt.sec, lt.utc_offset < 0 ? '-' : '+', off / 3600, off / 60 % 60);
}

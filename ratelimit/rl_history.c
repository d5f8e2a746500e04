/* rl_history.c — encoding and decoding of contact-history records (format in rl_history.h). */
#include "rl_history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t s_fnv32(uint32_t h, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

uint32_t rl_job_ref(const char *tenant, const char *job_id) {
    uint32_t h = s_fnv32(2166136261u, tenant ? tenant : "");
    h = s_fnv32(h ^ 0x1f, job_id ? job_id : "");
    return h ? h : 1;
}

/* Parses an unsigned number in `base` from [*p, end) up to `stop`; advances *p past `stop`. */
static int s_field(const char **p, const char *end, char stop, int base, uint64_t *out) {
    const char *q = *p;
    uint64_t v = 0;
    int digits = 0;
    while (q < end && *q != stop) {
        int d;
        if (*q >= '0' && *q <= '9')
            d = *q - '0';
        else if (base == 16 && *q >= 'a' && *q <= 'f')
            d = *q - 'a' + 10;
        else
            return -1;
        if (++digits > (base == 16 ? 16 : 19)) /* more would wrap the uint64_t */
            return -1;
        v = v * (uint64_t)base + (uint64_t)d;
        q++;
    }
    if (q == end || digits == 0)
        return -1;
    *out = v;
    *p = q + 1;
    return 0;
}

int rl_history_decode(const char *text, size_t len, rl_contact_t *out, uint32_t *refs, size_t cap) {
    const char *p = text, *end = text + len;
    size_t n = 0, total = 0;
    while (p < end) {
        uint64_t at, ch, fl, debt, ref;
        if (s_field(&p, end, ',', 10, &at) || s_field(&p, end, ',', 10, &ch) ||
            s_field(&p, end, ',', 10, &fl) || s_field(&p, end, ',', 16, &debt) ||
            s_field(&p, end, ';', 16, &ref) || ch >= 64 || fl > 255 || at > INT64_MAX ||
            debt > UINT32_MAX || ref > UINT32_MAX)
            return -1;
        total++;
        if (cap == 0)
            continue;
        if (n == cap) { /* keep the newest `cap`: shift the window by one */
            memmove(out, out + 1, (cap - 1) * sizeof *out);
            if (refs)
                memmove(refs, refs + 1, (cap - 1) * sizeof *refs);
            n--;
        }
        out[n] = (rl_contact_t){(int64_t)at, debt, (uint8_t)ch, (uint8_t)fl};
        if (refs)
            refs[n] = (uint32_t)ref;
        n++;
    }
    (void)total;
    return (int)n;
}

int rl_history_encode(const rl_contact_t *recs, const uint32_t *refs, size_t n, int64_t keep_from,
                      char *buf, size_t buf_len) {
    size_t off = 0;
    if (buf_len == 0)
        return -1;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (recs[i].at < keep_from)
            continue;
        int w = snprintf(buf + off, buf_len - off, "%lld,%u,%u,%x,%x;", (long long)recs[i].at,
                         recs[i].channel, recs[i].flags, (unsigned)(recs[i].debt & 0xffffffffu),
                         refs ? refs[i] : 1u);
        if (w < 0 || (size_t)w >= buf_len - off)
            return -1;
        off += (size_t)w;
    }
    return (int)off;
}

/* pg_utf8.c — UTF-8 decoding, validation and repair (see pg_utf8.h).
 *
 * Follows the well-formed byte sequences table of the Unicode standard (section 3.9, table 3-7):
 * the second byte's range depends on the lead byte, which rules out overlongs and surrogates. */
#include "pg_utf8.h"

#include <stdlib.h>
#include <string.h>

int32_t pg_utf8_next(const char *s, size_t len, size_t *pos) {
    const unsigned char *p = (const unsigned char *)s + *pos;
    size_t avail = len - *pos;
    unsigned char b0 = p[0];
    if (b0 < 0x80) {
        *pos += 1;
        return b0;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    int32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        cp = b0 & 0x0F;
        if (b0 == 0xE0)
            lo = 0xA0;
        else if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        cp = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        *pos += 1;
        return -1;
    }
    if (avail < need + 1 || p[1] < lo || p[1] > hi) {
        *pos += 1;
        return -1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i > 1 && (p[i] < 0x80 || p[i] > 0xBF)) {
            *pos += 1;
            return -1;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *pos += need + 1;
    return cp;
}

bool pg_utf8_valid(const char *s, size_t len) {
    size_t pos = 0;
    while (pos < len) {
        if (pg_utf8_next(s, len, &pos) < 0)
            return false;
    }
    return true;
}

size_t pg_utf8_count(const char *s, size_t len) {
    size_t pos = 0, n = 0;
    while (pos < len) {
        (void)pg_utf8_next(s, len, &pos);
        n++;
    }
    return n;
}

char *pg_utf8_sanitize(const char *s, size_t len, size_t *out_len) {
    /* Worst case: every byte becomes the 3-byte U+FFFD. */
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t pos = 0, o = 0;
    while (pos < len) {
        size_t start = pos;
        if (pg_utf8_next(s, len, &pos) < 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        } else {
            memcpy(out + o, s + start, pos - start);
            o += pos - start;
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

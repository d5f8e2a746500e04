/* pg_log.c — timestamped, masked, escaped, bounded log lines (see pg_log.h).
 *
 * A line is built in three stack buffers: the message formatted raw (with room past the line
 * bound so a contact straddling the cut is still seen whole), the same text with contacts
 * masked, and the final line (timestamp, program, escaped message), written with one write(2).
 * The escaper works on "units": one ASCII byte, one valid UTF-8 sequence, or one invalid byte;
 * a line or a quote is only ever cut between units. No allocation, no global state changed
 * after set-up, so it is safe from any thread. */
#include "pg_log.h"

#include "pg_utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Raw bytes formatted beyond what a line can show, so masking sees the contact the cut splits. */
#define S_RAW_SLACK 512
/* When the raw text was cut, up to this many trailing bytes of a possibly cut token are dropped
 * before masking (longer than any e-mail address), so half a contact is never shown unmasked. */
#define S_TOKEN_MAX 320
/* Program names longer than this are cut. */
#define S_PROGRAM_MAX 64

static const char *s_program = "pregon";
static FILE *s_output = NULL; /* NULL: stderr */
static int64_t (*s_clock)(void *ctx) = NULL;
static void *s_clock_ctx = NULL;

static bool s_json; /* one JSON object a line (pg_log_set_json, PREGON_LOG_FORMAT=json) */

void pg_log_init(const char *program) {
    s_program = program ? program : "pregon";
    const char *f = getenv("PREGON_LOG_FORMAT");
    s_json = f && strcmp(f, "json") == 0;
}

void pg_log_set_json(bool on) {
    s_json = on;
}

/* The JSON form of a line already escaped for a terminal (no control byte is left in it: only
 * the backslash of those escapes and the double quote need escaping again):
 *   {"ts":"2026-12-02T21:04:05.123Z","program":"pregond","msg":"..."} */
static size_t s_json_line(char *out, size_t cap, const char *ts, const char *program, size_t prog_n,
                          const char *msg, size_t msg_n) {
    size_t w = (size_t)snprintf(out, cap, "{\"ts\":\"%.24s\",\"program\":\"", ts);
    const char *parts[2] = {program, msg};
    size_t lens[2] = {prog_n, msg_n};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < lens[k] && w + 8 < cap; i++) {
            char c = parts[k][i];
            if (c == '\\' || c == '"')
                out[w++] = '\\';
            out[w++] = c;
        }
        const char *sep = k == 0 ? "\",\"msg\":\"" : "\"}\n";
        size_t sl = strlen(sep);
        if (w + sl >= cap)
            w = cap - sl - 1;
        memcpy(out + w, sep, sl);
        w += sl;
    }
    return w;
}

void pg_log_set_output(FILE *to) {
    s_output = to;
}

void pg_log_set_clock(int64_t (*now_ms)(void *ctx), void *ctx) {
    s_clock = now_ms;
    s_clock_ctx = ctx;
}

int64_t pg_log_now_ms(void) {
    if (s_clock)
        return s_clock(s_clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------------ */
/* escaping */

/* Length of the valid UTF-8 sequence of 2..4 bytes at p (n bytes available), or 0 when the
 * byte at p (not ASCII) does not start one (pg_utf8: RFC 3629). */
static size_t s_utf8_seq(const unsigned char *p, size_t n) {
    size_t len = 0;
    return pg_utf8_next((const char *)p, n, &len) < 0 ? 0 : len;
}

/* True for a valid sequence that must still be escaped: C1 controls, U+2028/U+2029, bidi
 * embeddings, overrides and isolates. */
static bool s_utf8_hostile(const unsigned char *p, size_t len) {
    if (len == 2)
        return p[0] == 0xc2 && p[1] <= 0x9f; /* U+0080..U+009F */
    if (len == 3 && p[0] == 0xe2 && p[1] == 0x80)
        return p[2] >= 0xa8 && p[2] <= 0xae; /* U+2028..U+202E */
    if (len == 3 && p[0] == 0xe2 && p[1] == 0x81)
        return p[2] >= 0xa6 && p[2] <= 0xa9; /* U+2066..U+2069 */
    return false;
}

static void s_hex(char *out, unsigned char c) {
    static const char digits[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    out[2] = digits[c >> 4];
    out[3] = digits[c & 15];
}

/* The source unit at p (n bytes available, n >= 1): sets *in to its length in bytes and writes
 * its escaped form to out (at most 16 bytes). Returns the length of the escaped form. */
static size_t s_unit(const unsigned char *p, size_t n, size_t *in, char out[16]) {
    unsigned char c = p[0];
    *in = 1;
    if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
        out[0] = '\\';
        out[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        s_hex(out, c);
        return 4;
    }
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    size_t len = s_utf8_seq(p, n);
    if (len == 0) {
        s_hex(out, c);
        return 4;
    }
    *in = len;
    if (s_utf8_hostile(p, len)) {
        for (size_t i = 0; i < len; i++)
            s_hex(out + 4 * i, p[i]);
        return 4 * len;
    }
    memcpy(out, p, len);
    return len;
}

/* Output being escaped into: out[0..cap), no NUL. Once a unit does not fit, or the caller
 * says the source was cut, s_out_end leaves "..." at the end (within cap). */
typedef struct {
    char *out;
    size_t cap, w;
    size_t dots_at; /* last unit boundary with room for "..." after it */
    bool cut;
} s_out_t;

static s_out_t s_out_make(char *out, size_t cap) {
    return (s_out_t){out, cap, 0, 0, false};
}

/* Appends the escaped units of src[0..n) that end within its first `limit` bytes; marks the
 * output cut when one is left out, for `limit` or for room. */
static void s_out_escape(s_out_t *o, const char *src, size_t n, size_t limit) {
    const unsigned char *p = (const unsigned char *)src;
    size_t at = 0;
    char unit[16];
    while (at < n && !o->cut) {
        size_t in;
        size_t e = s_unit(p + at, n - at, &in, unit);
        if (at + in > limit || o->w + e > o->cap) {
            o->cut = true;
            break;
        }
        memcpy(o->out + o->w, unit, e);
        o->w += e;
        at += in;
        if (o->w + 3 <= o->cap)
            o->dots_at = o->w;
    }
}

/* Ends the output ("..." if it was cut; only as many dots as fit when cap < 3). Returns the
 * number of bytes written. */
static size_t s_out_end(s_out_t *o) {
    if (!o->cut)
        return o->w;
    if (o->cap < 3) {
        memset(o->out, '.', o->cap);
        return o->cap;
    }
    if (o->w + 3 > o->cap)
        o->w = o->dots_at;
    memcpy(o->out + o->w, "...", 3);
    return o->w + 3;
}

/* Escapes src[0..n) (whole units within `limit` bytes) into out[0..cap); `cut`: the source was
 * already cut by the caller, end with "..." anyway. Returns the number of bytes written. */
static size_t s_escape(char *out, size_t cap, const char *src, size_t n, size_t limit, bool cut) {
    s_out_t o = s_out_make(out, cap);
    s_out_escape(&o, src, n, limit);
    o.cut |= cut;
    return s_out_end(&o);
}

const char *pg_log_quote(char *buf, size_t len, const char *text, size_t max) {
    if (!buf || len == 0)
        return buf;
    if (!text)
        text = "";
    /* Look a few bytes past max so a character that straddles it is recognised (and left out
     * whole) instead of being escaped as invalid bytes. */
    size_t n = strnlen(text, max > SIZE_MAX - 4 ? SIZE_MAX : max + 4);
    size_t w = s_escape(buf, len - 1, text, n, max, false);
    buf[w] = '\0';
    return buf;
}

pg_log_quoted_t pg_log_quoted(const char *text, size_t max) {
    pg_log_quoted_t q;
    pg_log_quote(q.s, sizeof q.s, text, max < PG_LOG_QUOTED_MAX ? max : PG_LOG_QUOTED_MAX);
    return q;
}

/* ------------------------------------------------------------------------------------------ */
/* masking */

static bool s_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static bool s_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A byte of an e-mail local part as pg_log recognises it. */
static bool s_local_char(unsigned char c) {
    return s_alpha(c) || s_digit(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool s_domain_char(unsigned char c) {
    return s_alpha(c) || s_digit(c) || c == '-' || c == '.';
}

/* Characters a phone number keeps at each end, for a number of `digits` digits (7..15): 2 in
 * front, 4 at the back, but always at least 3 hidden. */
static size_t s_phone_tail(size_t digits) {
    size_t tail = digits - 2 - 3;
    return tail > 4 ? 4 : tail;
}

/* Characters an e-mail local part keeps, for a local part of n characters. */
static size_t s_local_keep(size_t n) {
    return n >= 4 ? 2 : n >= 2 ? 1 : 0;
}

/* Length of the domain at d (n bytes available) when it looks like domain.tld: labels of
 * letters, digits and '-', separated by single dots, the last one of 2+ letters. Trailing dots
 * and hyphens (the end of a sentence) are not part of it. Returns 0 when it does not. */
static size_t s_domain_len(const unsigned char *d, size_t n) {
    size_t len = 0;
    while (len < n && s_domain_char(d[len]))
        len++;
    while (len > 0 && (d[len - 1] == '.' || d[len - 1] == '-'))
        len--;
    if (len == 0 || d[0] == '.' || d[0] == '-')
        return 0;
    size_t last_dot = 0;
    bool dot = false;
    for (size_t i = 0; i < len; i++) {
        if (d[i] != '.')
            continue;
        if (i + 1 < len && d[i + 1] == '.')
            return 0; /* empty label */
        last_dot = i;
        dot = true;
    }
    if (!dot || len - last_dot - 1 < 2)
        return 0;
    for (size_t i = last_dot + 1; i < len; i++)
        if (!s_alpha(d[i]))
            return 0;
    return len;
}

/* Copies src[0..n) to out (cap bytes, no NUL) with every local@domain.tld token's local part
 * masked. Returns the bytes written; stops early when out is full, with *used set to the
 * source bytes taken. */
static size_t s_mask_emails(char *out, size_t cap, const char *src, size_t n, size_t *used) {
    const unsigned char *p = (const unsigned char *)src;
    size_t w = 0, i = 0, mark = 0; /* mark: end of the last masked address */
    while (i < n) {
        if (p[i] != '@') {
            if (w == cap)
                break;
            out[w++] = (char)p[i++];
            continue;
        }
        /* the local part is the run of local characters just copied, leading dots left out */
        size_t local = 0;
        while (local < w - mark && s_local_char((unsigned char)out[w - local - 1]))
            local++;
        while (local > 0 && out[w - local] == '.')
            local--;
        size_t domain = s_domain_len(p + i + 1, n - i - 1);
        if (local == 0 || domain == 0) {
            if (w == cap)
                break;
            out[w++] = '@';
            i++;
            continue;
        }
        size_t keep = s_local_keep(local);
        w -= local - keep;
        size_t need = 3 + 1 + domain;
        if (w + need > cap)
            break;
        memcpy(out + w, "***@", 4);
        memcpy(out + w + 4, p + i + 1, domain);
        w += need;
        i += 1 + domain;
        mark = w;
    }
    *used = i;
    return w;
}

/* Masks in place every '+' followed by 7..15 digits in s[0..n). */
static void s_mask_phones(char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '+')
            continue;
        size_t d = 0;
        while (i + 1 + d < n && s_digit((unsigned char)s[i + 1 + d]))
            d++;
        if (d >= 7 && d <= 15) {
            size_t tail = s_phone_tail(d);
            memset(s + i + 3, '*', d - 2 - tail);
        }
        i += d;
    }
}

/* Number of source bytes taken by the first `chars` units of s[0..n). */
static size_t s_units_bytes(const char *s, size_t n, size_t chars) {
    const unsigned char *p = (const unsigned char *)s;
    size_t at = 0;
    char unit[16];
    while (chars-- > 0 && at < n) {
        size_t in;
        s_unit(p + at, n - at, &in, unit);
        at += in;
    }
    return at;
}

/* Number of units in s[0..n). */
static size_t s_units(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t at = 0, count = 0;
    char unit[16];
    while (at < n) {
        size_t in;
        s_unit(p + at, n - at, &in, unit);
        at += in;
        count++;
    }
    return count;
}

const char *pg_log_mask(char *buf, size_t len, const char *contact) {
    if (!buf || len == 0)
        return buf;
    buf[0] = '\0';
    if (!contact || !*contact)
        return buf;
    s_out_t o = s_out_make(buf, len - 1);
    /* Enough to recognise any contact; what is longer is treated by its first 1024 bytes. */
    size_t n = strnlen(contact, 1024);

    size_t digits = 0;
    while (1 + digits < n && s_digit((unsigned char)contact[1 + digits]))
        digits++;
    const char *at = memrchr(contact, '@', n);
    if (contact[0] == '+' && 1 + digits == n && digits >= 7 && digits <= 15) {
        char phone[17];
        memcpy(phone, contact, n);
        s_mask_phones(phone, n);
        s_out_escape(&o, phone, n, n);
    } else if (at && at > contact && at + 1 < contact + n) {
        size_t local_n = (size_t)(at - contact);
        size_t keep = s_units_bytes(contact, local_n, s_local_keep(s_units(contact, local_n)));
        s_out_escape(&o, contact, keep, keep);
        s_out_escape(&o, "***@", 4, 4);
        s_out_escape(&o, at + 1, n - local_n - 1, 253);
    } else {
        size_t chars = s_units(contact, n);
        size_t keep = chars >= 8 ? 2 : chars >= 4 ? 1 : 0;
        size_t head = s_units_bytes(contact, n, keep);
        size_t tail_from = s_units_bytes(contact, n, chars - keep);
        s_out_escape(&o, contact, head, head);
        s_out_escape(&o, "***", 3, 3);
        s_out_escape(&o, contact + tail_from, n - tail_from, n - tail_from);
    }
    buf[s_out_end(&o)] = '\0';
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* lines */

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes and a NUL) for Unix time ms. */
static void s_timestamp(int64_t ms, char out[32]) {
    const int64_t max_ms = INT64_C(253402300799999); /* 9999-12-31T23:59:59.999Z */
    ms = ms < 0 ? 0 : ms > max_ms ? max_ms : ms;
    int64_t secs = ms / 1000, frac = ms % 1000;
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, 32, "0000-00-00T00:00:00.000Z");
        return;
    }
    snprintf(out + 19, 32 - 19, ".%03dZ", (int)frac);
}

/* Writes all of buf[0..n) to `to` in one write(2) (more only after a partial write). */
static void s_emit(FILE *to, const char *buf, size_t n) {
    int fd = fileno(to);
    if (fd < 0) {
        fwrite(buf, 1, n, to);
        fflush(to);
        return;
    }
    fflush(to);
    while (n > 0) {
        ssize_t r = write(fd, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        buf += r;
        n -= (size_t)r;
    }
}

/* Is c a byte that can end a token (so the text after it starts a new one)? */
static bool s_token_break(unsigned char c) {
    return !(s_local_char(c) || s_domain_char(c) || c == '@');
}

void pg_logv(const char *fmt, va_list ap) {
    char raw[PG_LOG_LINE_MAX + S_RAW_SLACK];
    int r = vsnprintf(raw, sizeof raw, fmt, ap);
    size_t raw_n = r < 0 ? 0 : (size_t)r;
    bool cut = r < 0 || raw_n >= sizeof raw;
    if (raw_n >= sizeof raw)
        raw_n = sizeof raw - 1;
    if (cut && r >= 0) {
        /* The raw text ends inside the slack, maybe inside a contact: drop that last token. */
        size_t drop = 0;
        while (drop < S_TOKEN_MAX && drop < raw_n &&
               !s_token_break((unsigned char)raw[raw_n - drop - 1]))
            drop++;
        raw_n -= drop;
    }

    char masked[PG_LOG_LINE_MAX + S_RAW_SLACK];
    size_t used;
    size_t masked_n = s_mask_emails(masked, sizeof masked, raw, raw_n, &used);
    if (used < raw_n) /* masking grew the text past the buffer, far past what a line shows */
        cut = true;
    s_mask_phones(masked, masked_n);

    char line[PG_LOG_LINE_MAX];
    s_timestamp(pg_log_now_ms(), line);
    size_t w = 24;
    line[w++] = ' ';
    w += s_escape(line + w, S_PROGRAM_MAX, s_program, strnlen(s_program, S_PROGRAM_MAX + 4),
                  S_PROGRAM_MAX, false);
    line[w++] = ':';
    line[w++] = ' ';
    w += s_escape(line + w, sizeof line - w - 1, masked, masked_n, masked_n, cut);
    line[w++] = '\n';
    if (s_json) {
        char js[2 * PG_LOG_LINE_MAX + 64];
        size_t prog_end = 25;
        while (prog_end < w && line[prog_end] != ':')
            prog_end++;
        size_t msg_at = prog_end + 2 < w ? prog_end + 2 : w - 1;
        size_t n = s_json_line(js, sizeof js, line, line + 25, prog_end - 25, line + msg_at,
                               w - 1 - msg_at);
        s_emit(s_output ? s_output : stderr, js, n);
        return;
    }
    s_emit(s_output ? s_output : stderr, line, w);
}

void pg_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pg_logv(fmt, ap);
    va_end(ap);
}

/* pg_log.c — interim logging (see pg_log.h). */
#include "pg_log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *s_program = "pregon";

void pg_log_init(const char *program) {
    s_program = program;
}

const char *pg_log_quote(char *buf, size_t len, const char *text, size_t max) {
    size_t o = 0;
    for (size_t i = 0; text && text[i] && i < max && o + 5 < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            o += (size_t)snprintf(buf + o, len - o, c == '\\' ? "\\\\" : "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

const char *pg_log_mask(char *buf, size_t len, const char *contact) {
    snprintf(buf, len, "%.2s***", contact ? contact : "");
    return buf;
}

void pg_log(const char *fmt, ...) {
    char msg[2048], line[2300], ts[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char esc[2200];
    pg_log_quote(esc, sizeof esc, msg, sizeof msg);
    int n = snprintf(line, sizeof line, "%s %s: %s\n", ts, s_program, esc);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

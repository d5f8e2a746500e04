/* pg_log.h — the one logging module of every pregon process (pregond, the channel workers, the
 * sandbox, pregonctl's error lines): one timestamped, escaped, masked, bounded line per event.
 *
 * A line reads "2026-12-02T21:04:05.123Z program: message\n" (UTC, milliseconds) and is written
 * with one write(2), so processes sharing a file (O_APPEND) or a pipe never interleave within a
 * line. The message is treated as hostile: whatever a provider, a broker peer or a job put in
 * it can neither start a new line, move the terminal's cursor, reorder the text on screen nor
 * grow the line past PG_LOG_LINE_MAX.
 *
 * Escaping (pg_log, pg_log_quote, pg_log_mask): backslash -> \\, LF -> \n, CR -> \r, TAB -> \t;
 * every other C0 control byte (ESC included) and DEL -> \xNN (lowercase hex); C1 controls
 * (U+0080..U+009F), the line and paragraph separators U+2028/U+2029 and the bidi embedding,
 * override and isolate controls (U+202A..U+202E, U+2066..U+2069) -> the \xNN of each of their
 * UTF-8 bytes; every byte that is not part of a valid UTF-8 sequence (stray continuation bytes,
 * overlong forms, surrogates, above U+10FFFF, sequences cut short) -> \xNN. Any other valid
 * UTF-8 ("…", "ñ") is kept as it is. Escaping is never undone: a pg_log_quote'd text inside a
 * pg_log message is escaped once more (ESC shows as \\x1b): unambiguous, only less pretty.
 *
 * Masking (pg_log): a safety net over the whole formatted message. Any '+' followed by 7 to 15
 * digits, and any local@domain.tld token, is masked as pg_log_mask does. It cannot recognise a
 * PSID or a phone number written without '+': callers mask contact points themselves with
 * pg_log_mask. Secrets (auth tokens, API keys, CURVE secret keys) are never passed to a log
 * function at all: no masking here is meant to catch them.
 *
 * Threads: pg_log_init/set_output/set_clock are meant to be called once, before any thread
 * starts; after that pg_log, pg_log_quote and pg_log_mask may be called from any thread (they
 * use only the caller's stack). Not async-signal-safe: signal handlers set flags, the loop logs.
 */
#ifndef PG_LOG_H
#define PG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Maximum length of one line in bytes, timestamp, program and final '\n' included. A longer
 * message is cut at a character (or escape) boundary and ends with "...". */
#define PG_LOG_LINE_MAX 2048

/* A pg_log_mask buffer of this size holds any real contact point whole (a hostile one, whose
 * escapes make it longer, is cut with "..."). */
#define PG_LOG_MASK_LEN 320

/* Sets the program name printed on every line ("pregond", "pregon-sms"). Borrowed: the string
 * must outlive every later log call (a literal or argv). NULL or never called: "pregon". */
void pg_log_init(const char *program);

/* JSON lines instead of text (for Loki, ELK): {"ts":..., "program":..., "msg":...}, the message
 * escaped as for the terminal, then for JSON. pg_log_init turns it on when the environment says
 * PREGON_LOG_FORMAT=json (every process, systemd units set it); pregond's log.format: json too. */
void pg_log_set_json(bool on);

/* Sends the lines to `to` instead of stderr (NULL: back to stderr). Borrowed. Lines go to the
 * stream's file descriptor with write(2) after fflush(to); a stream without a descriptor (e.g.
 * open_memstream) gets one fwrite + fflush per line instead. */
void pg_log_set_output(FILE *to);

/* Replaces the clock that timestamps lines (and that pg_logsum uses by default) with `now_ms`,
 * which returns Unix time in milliseconds; `ctx` is passed back to it. NULL: the system clock
 * (CLOCK_REALTIME). For tests. */
void pg_log_set_clock(int64_t (*now_ms)(void *ctx), void *ctx);

/* The current time of pg_log's clock, Unix ms. */
int64_t pg_log_now_ms(void);

/* Writes one line: timestamp, program, then the printf-formatted message masked, escaped and
 * bounded as described at the top of this file. Write errors are ignored (there is nowhere
 * left to report them); EINTR is retried. */
void pg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pg_log with a va_list, for adapters (a library's logger callback). */
void pg_logv(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Escaped, bounded copy of untrusted text, for quoting a worker id, a broker's reason or a
 * provider's detail inside a message (or on a stderr line that does not go through pg_log).
 * Shows at most `max` bytes of `text` (never half a UTF-8 character) and ends with "..." when
 * it had to leave anything out, whether for `max` or for `len`. Always NUL-terminated when
 * len > 0. NULL text reads as "". Escapes but does not mask: contacts go through pg_log_mask.
 * Returns buf. */
const char *pg_log_quote(char *buf, size_t len, const char *text, size_t max);

/* Most bytes of text pg_log_quoted shows. */
#define PG_LOG_QUOTED_MAX 256

/* pg_log_quote's result held by value, room for PG_LOG_QUOTED_MAX bytes escaped. */
typedef struct {
    char s[4 * PG_LOG_QUOTED_MAX + 4];
} pg_log_quoted_t;

/* pg_log_quote by value, for quoting inline in a call without a buffer of one's own:
 *     pg_log("worker %s joined", pg_log_quoted(id, 64).s);
 * The .s of the returned temporary lives until the end of the full expression (the call), not
 * beyond: keep the struct in a variable to use it later. Shows at most
 * min(max, PG_LOG_QUOTED_MAX) bytes of text. */
pg_log_quoted_t pg_log_quoted(const char *text, size_t max);

/* Masks a contact point for a log line, escaped as above:
 *   "+573001234567"          -> "+57******4567": '+' followed by 7..15 digits keeps '+', the
 *                               first 2 and the last 4 digits, one '*' per hidden digit (at
 *                               least 3 hidden: 7 digits keep the last 2, 8 the last 3);
 *   "juan.perez@example.com" -> "ju***@example.com": the local part keeps its first 2
 *                               characters (1 if it has 2 or 3, none if it has 1), then "***",
 *                               then '@' and the domain (at most 253 bytes shown);
 *   anything else (a PSID)   -> first 2 and last 2 characters around "***" ("12***89"), 1 and 1
 *                               when it has 4 to 7 characters, only "***" when fewer.
 * NULL or "" gives "". A result longer than len - 1 bytes is cut and ends with "..."; always
 * NUL-terminated when len > 0. Returns buf. */
const char *pg_log_mask(char *buf, size_t len, const char *contact);

#endif

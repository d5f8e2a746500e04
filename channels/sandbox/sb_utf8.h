/* sb_utf8.h — UTF-8 helpers for the sandbox: validation, code-point counting, decoding.
 *
 * Providers count message lengths in characters, not bytes, and jansson only accepts valid UTF-8,
 * so the simulator needs these three small operations. Pure functions, no allocation except
 * sb_utf8_sanitize(). Overlong forms, surrogates and code points above U+10FFFF are invalid. */
#ifndef SB_UTF8_H
#define SB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point starting at s[*pos] (len bytes in s) and advances *pos past it.
 * Returns the code point, or -1 for an invalid sequence (then *pos advances by one byte). */
int32_t sb_utf8_next(const char *s, size_t len, size_t *pos);

/* True when the len bytes at s are well-formed UTF-8 (embedded NULs are allowed). */
bool sb_utf8_valid(const char *s, size_t len);

/* Number of code points in s; each invalid byte counts as one. */
size_t sb_utf8_count(const char *s, size_t len);

/* Returns a NUL-terminated copy of s where every invalid byte is replaced by U+FFFD, and its
 * length in *out_len. You own the result (free()). NULL when out of memory. */
char *sb_utf8_sanitize(const char *s, size_t len, size_t *out_len);

#endif

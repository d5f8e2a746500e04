/* pg_utf8.h — the one UTF-8 decoder of the tree: validation, code-point counting, decoding, repair.
 *
 * The broker checks that job fields are well-formed (proto3 strings must be), the template
 * renderer counts characters, the sandbox counts SMS segments and keeps JSON valid. Strict RFC
 * 3629: overlong forms, surrogates, code points above U+10FFFF and truncated sequences are invalid;
 * NUL bytes are valid (callers that refuse them check separately). Pure functions, no allocation
 * except pg_utf8_sanitize(); thread-safe. */
#ifndef PG_UTF8_H
#define PG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point starting at s[*pos] (len bytes in s) and advances *pos past it.
 * Returns the code point, or -1 for an invalid sequence (then *pos advances by one byte). */
int32_t pg_utf8_next(const char *s, size_t len, size_t *pos);

/* True when the len bytes at s are well-formed UTF-8 (embedded NULs are allowed). */
bool pg_utf8_valid(const char *s, size_t len);

/* Number of code points in s; each invalid byte counts as one. */
size_t pg_utf8_count(const char *s, size_t len);

/* Returns a NUL-terminated copy of s where every invalid byte is replaced by U+FFFD, and its
 * length in *out_len. You own the result (free()). NULL when out of memory. */
char *pg_utf8_sanitize(const char *s, size_t len, size_t *out_len);

#endif

/* pg_form.h — an ordered list of name/value pairs: the fields of an HTML form.
 *
 * pg_http fills one from MHD's post processor (values may arrive in chunks); webhook receivers
 * (pregon-hooks) and the sandbox's provider modules read it, sign it (pg_sig), and build new ones
 * for outgoing requests, which it encodes as application/x-www-form-urlencoded. Decoding is MHD's
 * job, never this module's. Depends on libc only. Not thread-safe: one form belongs to one request
 * or one webhook. */
#ifndef PG_FORM_H
#define PG_FORM_H

#include <stddef.h>
#include <stdint.h>

typedef struct pg_form pg_form_t;

/* Returns an empty form, or NULL when out of memory. */
pg_form_t *pg_form_new(void);

/* Frees the form; accepts NULL and nulls the caller's pointer. */
void pg_form_destroy(pg_form_t **self_p);

/* Appends a field (both strings are copied). Returns 0, or -1 when out of memory. */
int pg_form_add(pg_form_t *self, const char *name, const char *value);

/* Feeds one piece of a field as MHD's post processor delivers it: off == 0 starts a new field,
 * off > 0 appends to the last one (whose name must be name). Values may contain NUL bytes.
 * Returns 0, or -1 when out of memory or when the chunk does not continue the last field. */
int pg_form_add_chunk(pg_form_t *self, const char *name, const char *data, size_t size,
                      uint64_t off);

/* Number of fields. */
size_t pg_form_count(const pg_form_t *self);

/* Name, value and value length (in bytes) of field i < pg_form_count(); borrowed, valid until the
 * form changes or is destroyed. */
const char *pg_form_name(const pg_form_t *self, size_t i);
const char *pg_form_value(const pg_form_t *self, size_t i);
size_t pg_form_value_len(const pg_form_t *self, size_t i);

/* Value of the first field called name, or NULL. Borrowed, as above. */
const char *pg_form_get(const pg_form_t *self, const char *name);

/* Same, also giving the value's length in bytes (values may hold NULs). */
const char *pg_form_getn(const pg_form_t *self, const char *name, size_t *len);

/* Encodes the form as application/x-www-form-urlencoded: names and values percent-encoded
 * byte-wise except the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), as libcurl's
 * curl_easy_escape() does, fields joined by '&'. You own the string (free()); NULL when out of
 * memory. */
char *pg_form_encode(const pg_form_t *self);

#endif

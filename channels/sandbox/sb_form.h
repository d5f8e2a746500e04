/* sb_form.h — an ordered list of name/value pairs: the fields of an HTML form.
 *
 * The server fills one from MHD's post processor (values may arrive in chunks); provider modules
 * read it, and build new ones for outgoing webhooks, which it encodes as
 * application/x-www-form-urlencoded. Decoding is MHD's job, never this module's. Not thread-safe:
 * one form belongs to one request or one webhook. */
#ifndef SB_FORM_H
#define SB_FORM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_form sb_form_t;

/* Returns an empty form, or NULL when out of memory. */
sb_form_t *sb_form_new(void);

/* Frees the form; accepts NULL and nulls the caller's pointer. */
void sb_form_destroy(sb_form_t **self_p);

/* Appends a field (both strings are copied). Returns 0, or -1 when out of memory. */
int sb_form_add(sb_form_t *self, const char *name, const char *value);

/* Feeds one piece of a field as MHD's post processor delivers it: off == 0 starts a new field,
 * off > 0 appends to the last one (whose name must be name). Values may contain NUL bytes.
 * Returns 0, or -1 when out of memory or when the chunk does not continue the last field. */
int sb_form_add_chunk(sb_form_t *self, const char *name, const char *data, size_t size,
                      uint64_t off);

/* Number of fields. */
size_t sb_form_count(const sb_form_t *self);

/* Name, value and value length (in bytes) of field i < sb_form_count(); borrowed, valid until the
 * form changes or is destroyed. */
const char *sb_form_name(const sb_form_t *self, size_t i);
const char *sb_form_value(const sb_form_t *self, size_t i);
size_t sb_form_value_len(const sb_form_t *self, size_t i);

/* Value of the first field called name, or NULL. Borrowed, as above. */
const char *sb_form_get(const sb_form_t *self, const char *name);

/* Same, also giving the value's length in bytes (values may hold NULs). */
const char *sb_form_getn(const sb_form_t *self, const char *name, size_t *len);

/* Encodes the form as application/x-www-form-urlencoded. You own the string (free()); NULL when
 * out of memory. */
char *sb_form_encode(const sb_form_t *self);

/* The form as a JSON object (new reference): repeated names become arrays, invalid UTF-8 is
 * replaced by U+FFFD. NULL when out of memory. */
json_t *sb_form_to_json(const sb_form_t *self);

#endif

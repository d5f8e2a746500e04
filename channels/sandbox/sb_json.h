/* sb_json.h — the sandbox's JSON conventions on jansson: JSON replies, request forms as objects,
 * strings made valid.
 *
 * Provider APIs answer JSON and the store keeps every request's parameters as JSON, but what
 * clients send need not be valid UTF-8, which jansson refuses: invalid bytes become U+FFFD here.
 * Stateless; thread-safe. */
#ifndef SB_JSON_H
#define SB_JSON_H

#include "pg_form.h"
#include "pg_http.h"

#include <jansson.h>
#include <stddef.h>

/* Replies with status and a JSON body (the reference is stolen; NULL means an empty object).
 * Out of memory gives a bodiless 500. */
void sb_reply_json(pg_http_request_t *req, int status, json_t *body);

/* The request's body parsed as a JSON value (new reference), or NULL after replying 400 with
 * {"status":400,"error":"..."} saying why (no body, invalid JSON and where). */
json_t *sb_json_body(pg_http_request_t *req);

/* A JSON string of s[0..len), invalid UTF-8 replaced by U+FFFD; JSON null when s is NULL.
 * New reference, NULL when out of memory. */
json_t *sb_json_text(const char *s, size_t len);

/* The form as a JSON object (new reference): repeated names become arrays, invalid UTF-8 is
 * replaced by U+FFFD. NULL when out of memory. */
json_t *sb_json_form(const pg_form_t *form);

#endif

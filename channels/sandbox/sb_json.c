/* sb_json.c — JSON replies and conversions (see sb_json.h). */
#include "sb_json.h"

#include "pg_utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Serializes into one right-sized allocation (json_dumps grows a buffer step by step). */
static char *s_dump(const json_t *body, size_t *len) {
    size_t cap = 1024;
    char *text = malloc(cap);
    size_t n = text ? json_dumpb(body, text, cap - 1, JSON_COMPACT) : 0;
    if (text && n >= cap) {
        char *grown = realloc(text, n + 1);
        if (grown && json_dumpb(body, grown, n, JSON_COMPACT) == n) {
            text = grown;
        } else {
            free(grown ? grown : text);
            text = NULL;
        }
    }
    if (!text || n == 0) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

void sb_reply_json(pg_http_request_t *req, int status, json_t *body) {
    size_t len = 2;
    char *text = body ? s_dump(body, &len) : strdup("{}");
    json_decref(body);
    if (!text) {
        pg_http_reply(req, 500, "application/json", NULL, 0);
        return;
    }
    pg_http_reply(req, status, "application/json", text, len);
}

json_t *sb_json_body(pg_http_request_t *req) {
    size_t len;
    const char *body = pg_http_request_body(req, &len);
    if (!body) {
        pg_http_reply_error(req, 400, "a JSON body is required");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    if (!j) {
        char why[256];
        snprintf(why, sizeof why, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        pg_http_reply_error(req, 400, why);
    }
    return j;
}

json_t *sb_json_text(const char *s, size_t len) {
    if (!s)
        return json_null();
    if (pg_utf8_valid(s, len))
        return json_stringn(s, len);
    size_t clean_len;
    char *clean = pg_utf8_sanitize(s, len, &clean_len);
    json_t *j = clean ? json_stringn(clean, clean_len) : NULL;
    free(clean);
    return j;
}

json_t *sb_json_form(const pg_form_t *form) {
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < pg_form_count(form); i++) {
        const char *name = pg_form_name(form, i);
        json_t *v = sb_json_text(pg_form_value(form, i), pg_form_value_len(form, i));
        if (!v)
            goto fail;
        /* Keys must be valid UTF-8 for jansson too. */
        char *key = pg_utf8_valid(name, strlen(name)) ? strdup(name)
                                                      : pg_utf8_sanitize(name, strlen(name), NULL);
        if (!key) {
            json_decref(v);
            goto fail;
        }
        json_t *prev = json_object_get(obj, key);
        int rc;
        if (!prev) {
            rc = json_object_set_new(obj, key, v);
        } else if (json_is_array(prev)) {
            rc = json_array_append_new(prev, v);
        } else {
            /* The _new functions steal v (and arr) even when they fail. */
            json_t *arr = json_pack("[O]", prev);
            if (!arr) {
                json_decref(v);
                rc = -1;
            } else if (json_array_append_new(arr, v) != 0) {
                json_decref(arr);
                rc = -1;
            } else {
                rc = json_object_set_new(obj, key, arr);
            }
        }
        free(key);
        if (rc != 0)
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

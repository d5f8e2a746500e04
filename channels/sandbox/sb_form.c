/* sb_form.c — ordered name/value list (see sb_form.h).
 *
 * A flat growable array; forms are small (a dozen fields), so lookups are linear.
 * Percent-encoding uses libcurl's curl_easy_escape(), whose handle argument is unused since
 * libcurl 7.82, so NULL is passed. */
#include "sb_form.h"

#include "sb_utf8.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    char *value;
    size_t value_len;
} s_field_t;

struct sb_form {
    s_field_t *fields;
    size_t count;
    size_t cap;
};

sb_form_t *sb_form_new(void) {
    return calloc(1, sizeof(sb_form_t));
}

void sb_form_destroy(sb_form_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_form_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free(self->fields[i].name);
        free(self->fields[i].value);
    }
    free(self->fields);
    free(self);
    *self_p = NULL;
}

static int s_append(sb_form_t *self, const char *name, const char *data, size_t size) {
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        s_field_t *f = realloc(self->fields, cap * sizeof(*f));
        if (!f)
            return -1;
        self->fields = f;
        self->cap = cap;
    }
    char *n = strdup(name);
    char *v = malloc(size + 1);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    if (size)
        memcpy(v, data, size);
    v[size] = '\0';
    self->fields[self->count++] = (s_field_t){n, v, size};
    return 0;
}

int sb_form_add(sb_form_t *self, const char *name, const char *value) {
    return s_append(self, name, value, strlen(value));
}

int sb_form_add_chunk(sb_form_t *self, const char *name, const char *data, size_t size,
                      uint64_t off) {
    if (off == 0)
        return s_append(self, name, data, size);
    if (self->count == 0)
        return -1;
    s_field_t *f = &self->fields[self->count - 1];
    if (strcmp(f->name, name) != 0 || off != f->value_len)
        return -1;
    char *v = realloc(f->value, f->value_len + size + 1);
    if (!v)
        return -1;
    if (size)
        memcpy(v + f->value_len, data, size);
    f->value = v;
    f->value_len += size;
    v[f->value_len] = '\0';
    return 0;
}

size_t sb_form_count(const sb_form_t *self) {
    return self->count;
}

const char *sb_form_name(const sb_form_t *self, size_t i) {
    return i < self->count ? self->fields[i].name : NULL;
}

const char *sb_form_value(const sb_form_t *self, size_t i) {
    return i < self->count ? self->fields[i].value : NULL;
}

size_t sb_form_value_len(const sb_form_t *self, size_t i) {
    return i < self->count ? self->fields[i].value_len : 0;
}

const char *sb_form_getn(const sb_form_t *self, const char *name, size_t *len) {
    for (size_t i = 0; i < self->count; i++) {
        if (strcmp(self->fields[i].name, name) == 0) {
            if (len)
                *len = self->fields[i].value_len;
            return self->fields[i].value;
        }
    }
    return NULL;
}

const char *sb_form_get(const sb_form_t *self, const char *name) {
    return sb_form_getn(self, name, NULL);
}

char *sb_form_encode(const sb_form_t *self) {
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < self->count; i++) {
        const s_field_t *f = &self->fields[i];
        char *n = curl_easy_escape(NULL, f->name, (int)strlen(f->name));
        char *v = curl_easy_escape(NULL, f->value, (int)f->value_len);
        if (!n || !v) {
            curl_free(n);
            curl_free(v);
            free(out);
            return NULL;
        }
        size_t need = len + strlen(n) + strlen(v) + 3;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                curl_free(n);
                curl_free(v);
                free(out);
                return NULL;
            }
            out = grown;
        }
        len += (size_t)sprintf(out + len, "%s%s=%s", i ? "&" : "", n, v);
        curl_free(n);
        curl_free(v);
    }
    return out;
}

static json_t *s_json_string(const char *s, size_t len) {
    if (sb_utf8_valid(s, len))
        return json_stringn(s, len);
    size_t clean_len;
    char *clean = sb_utf8_sanitize(s, len, &clean_len);
    if (!clean)
        return NULL;
    json_t *j = json_stringn(clean, clean_len);
    free(clean);
    return j;
}

json_t *sb_form_to_json(const sb_form_t *self) {
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < self->count; i++) {
        const s_field_t *f = &self->fields[i];
        json_t *v = s_json_string(f->value, f->value_len);
        if (!v)
            goto fail;
        /* Keys must be valid UTF-8 for jansson too. */
        char *key = sb_utf8_valid(f->name, strlen(f->name))
                        ? strdup(f->name)
                        : sb_utf8_sanitize(f->name, strlen(f->name), NULL);
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

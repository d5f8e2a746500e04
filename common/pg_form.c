/* pg_form.c — ordered name/value list (see pg_form.h).
 *
 * A flat growable array; forms are small (a dozen fields), so lookups are linear. Encoding is
 * done here (two passes: size, then write) so that the module needs no library: percent-encoding
 * an output is one table lookup per byte, unlike parsing, which stays MHD's. */
#include "pg_form.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    char *value;
    size_t value_len;
} s_field_t;

struct pg_form {
    s_field_t *fields;
    size_t count;
    size_t cap;
};

pg_form_t *pg_form_new(void) {
    return calloc(1, sizeof(pg_form_t));
}

void pg_form_destroy(pg_form_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pg_form_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free(self->fields[i].name);
        free(self->fields[i].value);
    }
    free(self->fields);
    free(self);
    *self_p = NULL;
}

static int s_append(pg_form_t *self, const char *name, const char *data, size_t size) {
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

int pg_form_add(pg_form_t *self, const char *name, const char *value) {
    return s_append(self, name, value, strlen(value));
}

int pg_form_add_chunk(pg_form_t *self, const char *name, const char *data, size_t size,
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

size_t pg_form_count(const pg_form_t *self) {
    return self->count;
}

const char *pg_form_name(const pg_form_t *self, size_t i) {
    return i < self->count ? self->fields[i].name : NULL;
}

const char *pg_form_value(const pg_form_t *self, size_t i) {
    return i < self->count ? self->fields[i].value : NULL;
}

size_t pg_form_value_len(const pg_form_t *self, size_t i) {
    return i < self->count ? self->fields[i].value_len : 0;
}

const char *pg_form_getn(const pg_form_t *self, const char *name, size_t *len) {
    for (size_t i = 0; i < self->count; i++) {
        if (strcmp(self->fields[i].name, name) == 0) {
            if (len)
                *len = self->fields[i].value_len;
            return self->fields[i].value;
        }
    }
    return NULL;
}

const char *pg_form_get(const pg_form_t *self, const char *name) {
    return pg_form_getn(self, name, NULL);
}

static bool s_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Writes the encoding of s[0..len) at out (when not NULL); returns its length. */
static size_t s_escape(const char *s, size_t len, char *out) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (s_unreserved(c)) {
            if (out)
                out[n] = (char)c;
            n++;
        } else {
            if (out) {
                out[n] = '%';
                out[n + 1] = hex[c >> 4];
                out[n + 2] = hex[c & 15];
            }
            n += 3;
        }
    }
    return n;
}

char *pg_form_encode(const pg_form_t *self) {
    size_t total = 1;
    for (size_t i = 0; i < self->count; i++) {
        const s_field_t *f = &self->fields[i];
        total += (i ? 1 : 0) + s_escape(f->name, strlen(f->name), NULL) + 1 +
                 s_escape(f->value, f->value_len, NULL);
    }
    char *out = malloc(total);
    if (!out)
        return NULL;
    size_t pos = 0;
    for (size_t i = 0; i < self->count; i++) {
        const s_field_t *f = &self->fields[i];
        if (i)
            out[pos++] = '&';
        pos += s_escape(f->name, strlen(f->name), out + pos);
        out[pos++] = '=';
        pos += s_escape(f->value, f->value_len, out + pos);
    }
    out[pos] = '\0';
    return out;
}

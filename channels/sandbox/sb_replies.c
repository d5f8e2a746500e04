/* sb_replies.c — the reply script (see sb_replies.h): a mutex-guarded array of rules in the
 * order given; lookups scan it (a test scripts a handful of numbers, a demo a few hundred). */
#include "sb_replies.h"

#include "pg_contact.h"
#include "pg_utf8.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_BODY  1600
#define S_MAX_DELAY 3600000
#define S_MAX_TIMES 1000000
#define S_MAX_RULES 100000

typedef struct {
    char number[24];
    char *body;
    unsigned delay_ms;
    unsigned times; /* uses left; 0 = every message */
} s_rule_t;

struct sb_replies {
    pthread_mutex_t lock;
    s_rule_t *rules;
    size_t n;
    size_t cap;
};

sb_replies_t *sb_replies_new(void) {
    sb_replies_t *self = calloc(1, sizeof(*self));
    if (!self || pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

static void s_clear(sb_replies_t *self) {
    for (size_t i = 0; i < self->n; i++)
        free(self->rules[i].body);
    self->n = 0;
}

void sb_replies_destroy(sb_replies_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_replies_t *self = *self_p;
    s_clear(self);
    free(self->rules);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* Fills *r from o (body borrowed from o); returns NULL or why o is not a rule. */
static const char *s_parse(const json_t *o, s_rule_t *r, const char **body) {
    *r = (s_rule_t){.times = 1};
    *body = NULL;
    if (!json_is_object(o))
        return "each rule must be a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        if (strcmp(key, "number") == 0) {
            const char *n = json_string_value(v);
            if (!pg_contact_e164(n))
                return "number must be E.164 (+ and 7 to 15 digits)";
            snprintf(r->number, sizeof r->number, "%s", n);
        } else if (strcmp(key, "body") == 0) {
            *body = json_string_value(v);
            size_t len = *body ? json_string_length(v) : 0;
            if (len == 0 || len > S_MAX_BODY || !pg_utf8_valid(*body, len) ||
                memchr(*body, '\0', len))
                return "body must be 1 to 1600 bytes of text";
        } else if (strcmp(key, "delay_ms") == 0 || strcmp(key, "times") == 0) {
            json_int_t n = json_integer_value(v);
            bool delay = key[0] == 'd';
            if (!json_is_integer(v) || n < 0 || n > (delay ? S_MAX_DELAY : S_MAX_TIMES))
                return "delay_ms must be 0..3600000 and times 0..1000000";
            if (delay)
                r->delay_ms = (unsigned)n;
            else
                r->times = (unsigned)n;
        } else {
            return "unknown field in a reply rule (number, body, delay_ms, times)";
        }
    }
    if (!r->number[0] || !*body)
        return "a reply rule needs number and body";
    return NULL;
}

int sb_replies_add_json(sb_replies_t *self, const json_t *j, char *err, size_t errlen) {
    size_t n = json_is_array(j) ? json_array_size(j) : 1;
    s_rule_t *add = calloc(n ? n : 1, sizeof(*add));
    if (!add) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *why = n == 0 ? "no rules given" : NULL;
    for (size_t i = 0; !why && i < n; i++) {
        const char *body;
        why = s_parse(json_is_array(j) ? json_array_get(j, i) : j, &add[i], &body);
        if (!why && !(add[i].body = strdup(body)))
            why = "out of memory";
    }
    pthread_mutex_lock(&self->lock);
    if (!why && self->n + n > S_MAX_RULES)
        why = "too many reply rules pending (100000 at most)";
    if (!why && self->n + n > self->cap) {
        size_t cap = self->cap ? self->cap : 16;
        while (cap < self->n + n)
            cap *= 2;
        s_rule_t *grown = realloc(self->rules, cap * sizeof(*grown));
        if (grown) {
            self->rules = grown;
            self->cap = cap;
        } else {
            why = "out of memory";
        }
    }
    if (!why) {
        memcpy(self->rules + self->n, add, n * sizeof(*add));
        self->n += n;
    }
    pthread_mutex_unlock(&self->lock);
    if (why) {
        for (size_t i = 0; i < n; i++)
            free(add[i].body);
        snprintf(err, errlen, "%s", why);
    }
    free(add);
    return why ? -1 : (int)n;
}

int sb_replies_load_file(sb_replies_t *self, const char *path, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    char why[256];
    int n = sb_replies_add_json(self, j, why, sizeof why);
    json_decref(j);
    if (n < 0)
        snprintf(err, errlen, "%s: %s", path, why);
    return n;
}

bool sb_replies_take(sb_replies_t *self, const char *number, char **body, unsigned *delay_ms) {
    bool found = false;
    if (!number)
        return false;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n; i++) {
        s_rule_t *r = &self->rules[i];
        if (strcmp(r->number, number) != 0)
            continue;
        if (!(*body = strdup(r->body)))
            break;
        *delay_ms = r->delay_ms;
        found = true;
        if (r->times > 0 && --r->times == 0) {
            free(r->body);
            memmove(r, r + 1, (self->n - i - 1) * sizeof(*r));
            self->n--;
        }
        break;
    }
    pthread_mutex_unlock(&self->lock);
    return found;
}

json_t *sb_replies_list(sb_replies_t *self) {
    json_t *arr = json_array();
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; arr && i < self->n; i++) {
        const s_rule_t *r = &self->rules[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "number", r->number, "body", r->body,
                              "delay_ms", (json_int_t)r->delay_ms, "times", (json_int_t)r->times);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    pthread_mutex_unlock(&self->lock);
    return arr;
}

size_t sb_replies_pending(sb_replies_t *self) {
    pthread_mutex_lock(&self->lock);
    size_t n = self->n;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void sb_replies_clear(sb_replies_t *self) {
    pthread_mutex_lock(&self->lock);
    s_clear(self);
    pthread_mutex_unlock(&self->lock);
}

/* sb_calls_callee.c — the callee script and odds of the Calls sandbox (see sb_calls_callee.h).
 *
 * A rule is kept as its parsed sb_callee_t plus the JSON it came from (shown back as given) and
 * its uses left. Picking scans the rules (tests use a few dozen; a linear scan is enough) and
 * draws from a splitmix64 generator under the same mutex. */
#include "sb_calls_callee.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_RULES   100000
#define S_MAX_SECONDS 86400.0
#define S_N_ANSWERS   5
#define S_MAX_ODDS    10

typedef struct {
    sb_callee_t callee;
    json_t *given;
    unsigned long uses_left; /* 0 = for ever */
} s_rule_t;

typedef struct {
    char digits[SB_CALLEE_MAX_DIGITS + 1];
    double p;
} s_digit_odds_t;

struct sb_callees {
    pthread_mutex_t lock;
    s_rule_t *rules;
    size_t n, cap;
    double answer_w[S_N_ANSWERS];
    s_digit_odds_t digits[S_MAX_ODDS];
    size_t n_digits;
    double transfer_answered;
    uint64_t rng;
};

static const char *const s_answers[S_N_ANSWERS] = {"human", "machine", "no-answer", "busy",
                                                   "failed"};
static const char *const s_dials[] = {"answered", "busy", "no-answer", "failed"};

const char *sb_callee_answer_name(sb_callee_answer_t a) {
    return (unsigned)a < S_N_ANSWERS ? s_answers[a] : "?";
}

const char *sb_dial_outcome_name(sb_dial_outcome_t d) {
    return (unsigned)d < 4 ? s_dials[d] : "?";
}

sb_callees_t *sb_callees_new(uint64_t seed) {
    sb_callees_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    self->answer_w[SB_CALLEE_HUMAN] = 1.0;
    self->transfer_answered = 1.0;
    self->rng = seed;
    return self;
}

void sb_callees_destroy(sb_callees_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_callees_t *self = *self_p;
    sb_callees_clear(self);
    free(self->rules);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* reading rules */

/* Index of name in names[0..n), -1 when absent. */
static int s_index(const char *name, const char *const *names, int n) {
    for (int i = 0; name && i < n; i++) {
        if (strcmp(name, names[i]) == 0)
            return i;
    }
    return -1;
}

/* A seconds field into simulated ms: def_ms when absent; false when not a number 0..86400. */
static bool s_seconds(const json_t *o, const char *key, unsigned def_ms, unsigned *out) {
    json_t *v = json_object_get(o, key);
    *out = def_ms;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > S_MAX_SECONDS)
        return false;
    *out = (unsigned)llround(json_number_value(v) * 1000.0);
    return true;
}

/* True when s is 1..16 characters of 0-9, * and #. */
static bool s_digits_ok(const char *s) {
    size_t n = strlen(s);
    if (n > SB_CALLEE_MAX_DIGITS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '*' || s[i] == '#'))
            return false;
    }
    return true;
}

/* One element of "press": a string (or null) or {"digits", "after_s"}. */
static const char *s_press(const json_t *v, sb_press_t *out) {
    out->after_ms = 2000;
    const json_t *d = v;
    if (json_is_object(v)) {
        d = json_object_get(v, "digits");
        if (!s_seconds(v, "after_s", 2000, &out->after_ms))
            return "press after_s must be seconds 0..86400";
    }
    if (!d || json_is_null(d)) {
        out->digits[0] = '\0';
        return NULL;
    }
    if (!json_is_string(d) || !s_digits_ok(json_string_value(d)))
        return "press digits must be up to 16 of 0-9 * #";
    snprintf(out->digits, sizeof out->digits, "%s", json_string_value(d));
    return NULL;
}

static const char *s_presses(const json_t *p, sb_callee_t *c) {
    if (!p)
        return NULL;
    if (!json_is_array(p))
        return s_press(p, &c->presses[c->n_presses++]);
    if (json_array_size(p) > SB_CALLEE_MAX_PRESSES)
        return "at most 8 presses";
    size_t i;
    json_t *v;
    json_array_foreach(p, i, v) {
        const char *why = s_press(v, &c->presses[c->n_presses++]);
        if (why)
            return why;
    }
    return NULL;
}

/* Parses one rule; returns NULL or what is wrong. */
static const char *s_rule(const json_t *o, s_rule_t *r) {
    static const char *const keys[] = {"number",   "answer", "ring_s",   "greeting_s", "press",
                                       "transfer", "talk_s", "hangup_s", "times"};
    if (!json_is_object(o))
        return "a rule is a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        if (s_index(key, keys, 9) < 0)
            return "unknown field (number, answer, ring_s, greeting_s, press, transfer, talk_s, "
                   "hangup_s, times)";
    }
    sb_callee_t *c = &r->callee;
    memset(r, 0, sizeof *r);
    const char *number = json_string_value(json_object_get(o, "number"));
    if (!number || !number[0] || strlen(number) >= sizeof c->rule)
        return "number must be a number or prefix of 1..47 characters";
    snprintf(c->rule, sizeof c->rule, "%s", number);
    json_t *a = json_object_get(o, "answer"), *t = json_object_get(o, "transfer");
    int ai = a ? s_index(json_string_value(a), s_answers, S_N_ANSWERS) : 0;
    int ti = t ? s_index(json_string_value(t), s_dials, 4) : 0;
    if (ai < 0)
        return "answer must be human, machine, no-answer, busy or failed";
    if (ti < 0)
        return "transfer must be answered, busy, no-answer or failed";
    c->answer = (sb_callee_answer_t)ai;
    c->transfer = (sb_dial_outcome_t)ti;
    if (!s_seconds(o, "ring_s", 3000, &c->ring_ms) ||
        !s_seconds(o, "greeting_s", 5000, &c->greeting_ms) ||
        !s_seconds(o, "talk_s", 20000, &c->talk_ms) || !s_seconds(o, "hangup_s", 0, &c->hangup_ms))
        return "ring_s, greeting_s, talk_s and hangup_s must be seconds 0..86400";
    const char *why = s_presses(json_object_get(o, "press"), c);
    if (why)
        return why;
    json_t *times = json_object_get(o, "times");
    if (times && (!json_is_integer(times) || json_integer_value(times) < 0 ||
                  json_integer_value(times) > 1000000))
        return "times must be 0..1000000 (0: every call)";
    r->uses_left = times ? (unsigned long)json_integer_value(times) : 0;
    return NULL;
}

int sb_callees_add_json(sb_callees_t *self, const json_t *rules, char *err, size_t errlen) {
    size_t n = json_is_array(rules) ? json_array_size(rules) : 1;
    s_rule_t *parsed = calloc(n ? n : 1, sizeof *parsed);
    if (!parsed) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_is_array(rules) ? json_array_get(rules, i) : rules;
        const char *why = s_rule(o, &parsed[i]);
        if (why) {
            snprintf(err, errlen, "rule %zu: %s", i, why);
            for (size_t k = 0; k < i; k++)
                json_decref(parsed[k].given);
            free(parsed);
            return -1;
        }
        parsed[i].given = json_deep_copy(o);
    }
    pthread_mutex_lock(&self->lock);
    int rc = (int)n;
    if (self->n + n > S_MAX_RULES) {
        rc = -1;
        snprintf(err, errlen, "at most %d rules", S_MAX_RULES);
    } else if (self->n + n > self->cap) {
        size_t cap = (self->n + n) * 2;
        s_rule_t *grown = realloc(self->rules, cap * sizeof *grown);
        if (!grown) {
            rc = -1;
            snprintf(err, errlen, "out of memory");
        } else {
            self->rules = grown;
            self->cap = cap;
        }
    }
    if (rc >= 0) {
        memcpy(self->rules + self->n, parsed, n * sizeof *parsed);
        self->n += n;
    }
    pthread_mutex_unlock(&self->lock);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            json_decref(parsed[i].given);
    }
    free(parsed);
    return rc;
}

int sb_callees_load_file(sb_callees_t *self, const char *path, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    char why[256];
    int n = sb_callees_add_json(self, j, why, sizeof why);
    json_decref(j);
    if (n < 0)
        snprintf(err, errlen, "%s: %s", path, why);
    return n;
}

int sb_callees_set_odds_json(sb_callees_t *self, const json_t *odds, char *err, size_t errlen) {
    double w[S_N_ANSWERS] = {0}, total = 0, transfer = 1.0;
    s_digit_odds_t digits[S_MAX_ODDS];
    size_t nd = 0;
    const char *key;
    json_t *v;
    if (!json_is_object(odds)) {
        snprintf(err, errlen, "the odds are a JSON object");
        return -1;
    }
    json_object_foreach((json_t *)odds, key, v) {
        int i = s_index(key, s_answers, S_N_ANSWERS);
        bool dig = strcmp(key, "digits") == 0, tr = strcmp(key, "transfer_answered") == 0;
        if (i < 0 && !dig && !tr) {
            snprintf(err, errlen, "unknown odds field %.40s", key);
            return -1;
        }
        if (dig) {
            const char *d;
            json_t *p;
            double sum = 0;
            if (!json_is_object(v) || json_object_size(v) > S_MAX_ODDS)
                return snprintf(err, errlen, "digits: {\"1\": p, ...}, at most 10"), -1;
            json_object_foreach(v, d, p) {
                if (!s_digits_ok(d) || !json_is_number(p) || json_number_value(p) < 0 ||
                    (sum += json_number_value(p)) > 1.0 + 1e-9)
                    return snprintf(err, errlen, "digits: probabilities summing to <= 1"), -1;
                snprintf(digits[nd].digits, sizeof digits[nd].digits, "%s", d);
                digits[nd++].p = json_number_value(p);
            }
            continue;
        }
        if (!json_is_number(v) || json_number_value(v) < 0 || (tr && json_number_value(v) > 1)) {
            snprintf(err, errlen, "%.40s must be a non-negative number", key);
            return -1;
        }
        if (tr)
            transfer = json_number_value(v);
        else
            total += w[i] = json_number_value(v);
    }
    if (total <= 0) {
        snprintf(err, errlen, "some answer must have a weight");
        return -1;
    }
    pthread_mutex_lock(&self->lock);
    memcpy(self->answer_w, w, sizeof w);
    memcpy(self->digits, digits, sizeof digits);
    self->n_digits = nd;
    self->transfer_answered = transfer;
    pthread_mutex_unlock(&self->lock);
    return 0;
}

void sb_callees_clear(sb_callees_t *self) {
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n; i++)
        json_decref(self->rules[i].given);
    self->n = 0;
    pthread_mutex_unlock(&self->lock);
}

json_t *sb_callees_json(sb_callees_t *self) {
    json_t *rules = json_array(), *odds = json_object(), *digits = json_object();
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; rules && i < self->n; i++) {
        json_t *r = json_deep_copy(self->rules[i].given);
        if (r)
            json_object_set_new(r, "uses_left", json_integer((json_int_t)self->rules[i].uses_left));
        json_array_append_new(rules, r);
    }
    for (int i = 0; odds && i < S_N_ANSWERS; i++)
        json_object_set_new(odds, s_answers[i], json_real(self->answer_w[i]));
    for (size_t i = 0; digits && i < self->n_digits; i++)
        json_object_set_new(digits, self->digits[i].digits, json_real(self->digits[i].p));
    if (odds)
        json_object_set_new(odds, "transfer_answered", json_real(self->transfer_answered));
    pthread_mutex_unlock(&self->lock);
    if (odds && digits)
        json_object_set_new(odds, "digits", digits);
    json_t *o = rules && odds ? json_pack("{s:o, s:o}", "rules", rules, "odds", odds) : NULL;
    if (!o) {
        json_decref(rules);
        json_decref(odds);
    }
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* picking */

/* A uniform double in [0, 1). Lock held. */
static double s_uniform(sb_callees_t *self) {
    uint64_t z = (self->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* The callee drawn from the odds. Lock held. */
static void s_draw(sb_callees_t *self, sb_callee_t *out) {
    memset(out, 0, sizeof *out);
    double total = 0;
    for (int i = 0; i < S_N_ANSWERS; i++)
        total += self->answer_w[i];
    double x = s_uniform(self) * total;
    int a = 0;
    while (a < S_N_ANSWERS - 1 && (x -= self->answer_w[a]) >= 0)
        a++;
    while (self->answer_w[a] == 0 && a > 0) /* x fell on a weightless tail */
        a--;
    out->answer = (sb_callee_answer_t)a;
    out->ring_ms = 3000;
    out->greeting_ms = 5000;
    out->talk_ms = 20000;
    out->transfer =
        s_uniform(self) < self->transfer_answered ? SB_DIAL_ANSWERED : SB_DIAL_NO_ANSWER;
    double y = s_uniform(self);
    for (size_t i = 0; i < self->n_digits; i++) {
        if ((y -= self->digits[i].p) < 0) {
            snprintf(out->presses[0].digits, sizeof out->presses[0].digits, "%s",
                     self->digits[i].digits);
            out->presses[0].after_ms = 2000;
            out->n_presses = 1;
            break;
        }
    }
}

void sb_callees_pick(sb_callees_t *self, const char *to, sb_callee_t *out) {
    pthread_mutex_lock(&self->lock);
    size_t best = self->n, best_len = 0;
    for (size_t i = 0; to && i < self->n; i++) {
        size_t len = strlen(self->rules[i].callee.rule);
        if (len > best_len && strncmp(to, self->rules[i].callee.rule, len) == 0) {
            best = i;
            best_len = len;
        }
    }
    if (best == self->n) {
        s_draw(self, out);
    } else {
        s_rule_t *r = &self->rules[best];
        *out = r->callee;
        if (r->uses_left > 0 && --r->uses_left == 0) {
            json_decref(r->given);
            memmove(r, r + 1, (self->n - best - 1) * sizeof *r);
            self->n--;
        }
    }
    pthread_mutex_unlock(&self->lock);
}

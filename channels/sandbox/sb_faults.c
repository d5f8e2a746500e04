/* sb_faults.c — scripted and random fault decisions (see sb_faults.h).
 *
 * One mutex guards rates, script and generators. The generators are splitmix64 streams: one for
 * fault draws, one for jitter, so turning jitter on does not change which requests fail.
 * The script is a small array scanned in order (tests push a handful of rules). */
#include "sb_faults.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_RULES 1024

struct sb_faults {
    pthread_mutex_t lock;
    sb_fault_rates_t rates;
    uint64_t fault_state;
    uint64_t jitter_state;
    sb_fault_rule_t *rules;
    size_t n_rules;
};

static uint64_t s_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1) from the top 53 bits. */
static double s_uniform(uint64_t *state) {
    return (double)(s_splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

void sb_fault_rates_default(sb_fault_rates_t *rates) {
    *rates = (sb_fault_rates_t){.timeout_hold_ms = 30000};
}

static bool s_prob_ok(double p) {
    return isfinite(p) && p >= 0.0 && p <= 1.0;
}

const char *sb_fault_rates_check(const sb_fault_rates_t *r) {
    if (!s_prob_ok(r->p429))
        return "p429 must be between 0 and 1";
    if (!s_prob_ok(r->p5xx))
        return "p5xx must be between 0 and 1";
    if (!s_prob_ok(r->ptimeout))
        return "ptimeout must be between 0 and 1";
    if (r->p429 + r->p5xx + r->ptimeout > 1.0 + 1e-9)
        return "p429 + p5xx + ptimeout must not exceed 1";
    if (r->latency_ms > 600000 || r->jitter_ms > 600000)
        return "latency_ms and jitter_ms must be at most 600000";
    if (r->timeout_hold_ms > 3600000)
        return "timeout_hold_ms must be at most 3600000";
    return NULL;
}

const char *sb_fault_rule_check(sb_fault_rule_t *rule) {
    if (rule->count == 0)
        return "count must be at least 1";
    if (rule->error_code < 0)
        return "error_code must be positive";
    if (rule->retry_after < -1 || rule->retry_after > 86400)
        return "retry_after must be between 0 and 86400";
    if (rule->timeout)
        return NULL;
    if (rule->status == 0 && rule->error_code > 0)
        rule->status = 400;
    if (rule->status == 0)
        return "a rule needs status, error_code or timeout";
    if (rule->status < 200 || rule->status > 599)
        return "status must be between 200 and 599";
    return NULL;
}

sb_faults_t *sb_faults_new(const sb_fault_rates_t *rates, uint64_t seed) {
    if (sb_fault_rates_check(rates))
        return NULL;
    sb_faults_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->rules = calloc(S_MAX_RULES, sizeof(*self->rules));
    if (!self->rules || pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self->rules);
        free(self);
        return NULL;
    }
    self->rates = *rates;
    sb_faults_reseed(self, seed);
    return self;
}

void sb_faults_destroy(sb_faults_t **self_p) {
    if (!self_p || !*self_p)
        return;
    sb_faults_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    free(self->rules);
    free(self);
    *self_p = NULL;
}

const char *sb_faults_set_rates(sb_faults_t *self, const sb_fault_rates_t *rates) {
    const char *why = sb_fault_rates_check(rates);
    if (why)
        return why;
    pthread_mutex_lock(&self->lock);
    self->rates = *rates;
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

void sb_faults_get_rates(sb_faults_t *self, sb_fault_rates_t *out) {
    pthread_mutex_lock(&self->lock);
    *out = self->rates;
    pthread_mutex_unlock(&self->lock);
}

void sb_faults_reseed(sb_faults_t *self, uint64_t seed) {
    pthread_mutex_lock(&self->lock);
    self->fault_state = seed;
    self->jitter_state = seed ^ 0xD1B54A32D192ED03ULL;
    pthread_mutex_unlock(&self->lock);
}

const char *sb_faults_script_add(sb_faults_t *self, const sb_fault_rule_t *rule) {
    sb_fault_rule_t copy = *rule;
    const char *why = sb_fault_rule_check(&copy);
    if (why)
        return why;
    copy.to[sizeof copy.to - 1] = '\0';
    copy.provider[sizeof copy.provider - 1] = '\0';
    pthread_mutex_lock(&self->lock);
    if (self->n_rules == S_MAX_RULES) {
        pthread_mutex_unlock(&self->lock);
        return "too many pending script rules (1024)";
    }
    self->rules[self->n_rules++] = copy;
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

void sb_faults_script_clear(sb_faults_t *self) {
    pthread_mutex_lock(&self->lock);
    self->n_rules = 0;
    pthread_mutex_unlock(&self->lock);
}

size_t sb_faults_script_list(sb_faults_t *self, sb_fault_rule_t *out, size_t max) {
    pthread_mutex_lock(&self->lock);
    size_t n = self->n_rules;
    memcpy(out, self->rules, (n < max ? n : max) * sizeof(*out));
    pthread_mutex_unlock(&self->lock);
    return n;
}

static bool s_rule_matches(const sb_fault_rule_t *r, const char *provider, const char *to) {
    if (r->provider[0] && (!provider || strcmp(r->provider, provider) != 0))
        return false;
    if (r->to[0] && (!to || strcmp(r->to, to) != 0))
        return false;
    return true;
}

static sb_fault_t s_from_rule(const sb_fault_rule_t *r) {
    if (r->timeout)
        return (sb_fault_t){SB_FAULT_TIMEOUT, 0, 0, -1};
    int retry_after = r->retry_after;
    if (retry_after < 0 && r->status == 429)
        retry_after = 1;
    return (sb_fault_t){SB_FAULT_STATUS, r->status, r->error_code, retry_after};
}

sb_fault_t sb_faults_decide(sb_faults_t *self, const char *provider, const char *to) {
    sb_fault_t f = {SB_FAULT_NONE, 0, 0, -1};
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->n_rules; i++) {
        sb_fault_rule_t *r = &self->rules[i];
        if (!s_rule_matches(r, provider, to))
            continue;
        f = s_from_rule(r);
        if (--r->count == 0) {
            memmove(r, r + 1, (self->n_rules - i - 1) * sizeof(*r));
            self->n_rules--;
        }
        pthread_mutex_unlock(&self->lock);
        return f;
    }
    const sb_fault_rates_t *rt = &self->rates;
    if (rt->p429 > 0 || rt->p5xx > 0 || rt->ptimeout > 0) {
        double u = s_uniform(&self->fault_state);
        if (u < rt->p429) {
            f = (sb_fault_t){SB_FAULT_STATUS, 429, 0, 1};
        } else if (u < rt->p429 + rt->p5xx) {
            int status = (s_splitmix64(&self->fault_state) & 1) ? 503 : 500;
            f = (sb_fault_t){SB_FAULT_STATUS, status, 0, -1};
        } else if (u < rt->p429 + rt->p5xx + rt->ptimeout) {
            f = (sb_fault_t){SB_FAULT_TIMEOUT, 0, 0, -1};
        }
    }
    pthread_mutex_unlock(&self->lock);
    return f;
}

unsigned sb_faults_delay_ms(sb_faults_t *self) {
    pthread_mutex_lock(&self->lock);
    unsigned ms = self->rates.latency_ms;
    if (self->rates.jitter_ms)
        ms += (unsigned)(s_splitmix64(&self->jitter_state) % (self->rates.jitter_ms + 1ULL));
    pthread_mutex_unlock(&self->lock);
    return ms;
}

unsigned sb_faults_hold_ms(sb_faults_t *self) {
    pthread_mutex_lock(&self->lock);
    unsigned ms = self->rates.timeout_hold_ms;
    pthread_mutex_unlock(&self->lock);
    return ms;
}

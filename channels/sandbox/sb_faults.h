/* sb_faults.h — the fault plan: which provider requests fail, how, and how slowly all answer.
 *
 * Two layers, consulted in this order for every provider request:
 *   1. a script: FIFO rules "the next N requests (optionally only to recipient X, only for
 *      provider P) answer status S / error code E / no answer at all";
 *   2. random rates: p429, p5xx (500 or 503), ptimeout, drawn from a seeded generator, so a run
 *      with the same seed and the same request order fails the same requests.
 * Plus the latency every provider answer waits: latency_ms + uniform [0, jitter_ms].
 * The plan only decides; rendering the provider's error body is the provider module's job and
 * holding the connection is the server's. Thread-safe: any thread may decide or reconfigure. */
#ifndef SB_FAULTS_H
#define SB_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_faults sb_faults_t;

/* Random rates and delays. Probabilities are in [0, 1] and their sum must not exceed 1. */
typedef struct {
    double p429;
    double p5xx;
    double ptimeout;
    unsigned latency_ms;      /* fixed delay before each provider answer */
    unsigned jitter_ms;       /* plus uniform 0..jitter_ms */
    unsigned timeout_hold_ms; /* how long a "timeout" holds the request before closing it */
} sb_fault_rates_t;

/* One scripted rule. */
typedef struct {
    unsigned count;    /* requests it still applies to, >= 1 */
    char to[64];       /* only requests to this recipient; "" = any */
    char provider[32]; /* only this provider ("twilio-sms"); "" = any */
    int status;        /* HTTP status to answer; 0 = 400 when error_code is set */
    int error_code;    /* provider error code; 0 = the provider's default for status */
    int retry_after;   /* Retry-After seconds; -1 = 1 for 429, none otherwise */
    bool timeout;      /* hold without answering instead (status ignored) */
} sb_fault_rule_t;

typedef enum {
    SB_FAULT_NONE,    /* answer normally */
    SB_FAULT_STATUS,  /* answer status/error_code (+ Retry-After when retry_after >= 0) */
    SB_FAULT_TIMEOUT, /* do not answer; close after timeout_hold_ms */
} sb_fault_kind_t;

/* A decision for one request. */
typedef struct {
    sb_fault_kind_t kind;
    int status;
    int error_code;
    int retry_after; /* seconds, -1 = no Retry-After header */
} sb_fault_t;

/* Default rates: nothing fails, no latency, timeout_hold_ms 30000. */
void sb_fault_rates_default(sb_fault_rates_t *rates);

/* Checks rates; returns NULL when valid, else a static description of the first problem. */
const char *sb_fault_rates_check(const sb_fault_rates_t *rates);

/* Checks (and normalises: status 0 with an error code becomes 400) a rule; returns NULL when
 * valid, else a static description of the problem. */
const char *sb_fault_rule_check(sb_fault_rule_t *rule);

/* Returns a plan with the given (checked) rates and seed, or NULL on invalid rates or
 * out of memory. */
sb_faults_t *sb_faults_new(const sb_fault_rates_t *rates, uint64_t seed);

/* Frees the plan; accepts NULL and nulls the caller's pointer. */
void sb_faults_destroy(sb_faults_t **self_p);

/* Replaces the rates. Returns NULL on success, else (rates unchanged) why they are invalid. */
const char *sb_faults_set_rates(sb_faults_t *self, const sb_fault_rates_t *rates);

/* Copies the current rates into *out. */
void sb_faults_get_rates(sb_faults_t *self, sb_fault_rates_t *out);

/* Restarts the random generators from seed. */
void sb_faults_reseed(sb_faults_t *self, uint64_t seed);

/* Appends a rule (checked with sb_fault_rule_check). Returns NULL on success, else why not
 * (invalid rule, too many pending rules, out of memory). */
const char *sb_faults_script_add(sb_faults_t *self, const sb_fault_rule_t *rule);

/* Drops every pending rule. */
void sb_faults_script_clear(sb_faults_t *self);

/* Copies up to max pending rules (with their remaining counts) into out; returns how many
 * rules are pending in total. */
size_t sb_faults_script_list(sb_faults_t *self, sb_fault_rule_t *out, size_t max);

/* Decides the fate of one request of provider to recipient to (either may be NULL), consuming
 * one use of the first matching scripted rule if any, else drawing against the rates. */
sb_fault_t sb_faults_decide(sb_faults_t *self, const char *provider, const char *to);

/* Draws the delay (ms) before answering one provider request: latency_ms + jitter. */
unsigned sb_faults_delay_ms(sb_faults_t *self);

/* Current timeout_hold_ms. */
unsigned sb_faults_hold_ms(sb_faults_t *self);

#endif

/* sb_calls_callee.h — who picks up a simulated Twilio call, and what they do: the callee model
 * of the Calls sandbox, by script per number or by odds.
 *
 * A script is a list of rules matched on the dialled number by prefix (longest wins; among
 * rules of one length the first added that still has uses), each rule JSON like
 *   {"number": "+1555", "answer": "human"|"machine"|"no-answer"|"busy"|"failed",
 *    "ring_s": 3, "greeting_s": 5, "press": "1" | ["1", ""] | [{"digits": "1", "after_s": 2}],
 *    "transfer": "answered"|"busy"|"no-answer"|"failed", "talk_s": 20, "hangup_s": 0,
 *    "times": 0}
 * "press" gives what is keyed at each <Gather> in turn ("" or null: nothing; later gathers get
 * nothing), after_s after the gather starts (default 2); "greeting_s" is a machine's greeting
 * before the beep (what DetectMessageEnd waits for); "hangup_s" > 0: a human hangs up that
 * long after answering; "times" > 0: the rule is used that many times, then dropped.
 * Numbers no rule matches draw from the odds:
 *   {"human": 1, "machine": 0, "no-answer": 0, "busy": 0, "failed": 0,
 *    "digits": {"1": 0.3, "2": 0.1}, "transfer_answered": 1}
 * (answers weighted, digits pressed at the first gather with those probabilities, the rest
 * nothing). Times are simulated seconds (the engine scales them). Thread-safe (one mutex);
 * randomness from a seeded generator, so a seed replays a run. */
#ifndef SB_CALLS_CALLEE_H
#define SB_CALLS_CALLEE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SB_CALLEE_HUMAN,
    SB_CALLEE_MACHINE,
    SB_CALLEE_NO_ANSWER,
    SB_CALLEE_BUSY,
    SB_CALLEE_FAILED,
} sb_callee_answer_t;

typedef enum {
    SB_DIAL_ANSWERED,
    SB_DIAL_BUSY,
    SB_DIAL_NO_ANSWER,
    SB_DIAL_FAILED,
} sb_dial_outcome_t;

#define SB_CALLEE_MAX_PRESSES 8
#define SB_CALLEE_MAX_DIGITS  16

typedef struct {
    char digits[SB_CALLEE_MAX_DIGITS + 1]; /* "" = presses nothing */
    unsigned after_ms;                     /* simulated ms after the gather starts */
} sb_press_t;

/* One callee's behaviour for one call (a value: copy freely). Times in simulated ms. */
typedef struct {
    sb_callee_answer_t answer;
    unsigned ring_ms;
    unsigned greeting_ms;
    sb_press_t presses[SB_CALLEE_MAX_PRESSES];
    size_t n_presses;
    sb_dial_outcome_t transfer;
    unsigned talk_ms;
    unsigned hangup_ms; /* 0 = never */
    char rule[48];      /* the matching rule's number, "" when drawn from the odds */
} sb_callee_t;

typedef struct sb_callees sb_callees_t;

/* Returns an empty script with the odds {"human": 1} and the generator seeded with seed. NULL
 * when out of memory. */
sb_callees_t *sb_callees_new(uint64_t seed);

/* Frees; accepts NULL and nulls the caller's pointer. */
void sb_callees_destroy(sb_callees_t **self_p);

/* Adds one rule (object) or several (array). Returns how many were added, or -1 with a reason
 * in err (nothing added). */
int sb_callees_add_json(sb_callees_t *self, const json_t *rules, char *err, size_t errlen);

/* Reads rules from a JSON file. Returns how many, or -1 with a reason in err. */
int sb_callees_load_file(sb_callees_t *self, const char *path, char *err, size_t errlen);

/* Replaces the odds (fields absent weigh 0, "digits" absent: none, "transfer_answered" absent:
 * 1). Returns 0, or -1 with a reason in err (odds unchanged). */
int sb_callees_set_odds_json(sb_callees_t *self, const json_t *odds, char *err, size_t errlen);

/* Drops every rule (the odds stay). */
void sb_callees_clear(sb_callees_t *self);

/* {"rules": [...as given, with "uses_left"], "odds": {...}}; NULL when out of memory. */
json_t *sb_callees_json(sb_callees_t *self);

/* What the callee of number to does on this call (uses one of a rule's times). */
void sb_callees_pick(sb_callees_t *self, const char *to, sb_callee_t *out);

/* Names as the JSON spells them ("human", "no-answer"; "answered", "busy"...). */
const char *sb_callee_answer_name(sb_callee_answer_t a);
const char *sb_dial_outcome_name(sb_dial_outcome_t d);

#endif

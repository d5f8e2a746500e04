/* sb_calls_call.h — internal to the Calls engine: one simulated call and the two halves that
 * share it, sb_calls_engine.c (thread, timers, HTTP transfers, readers) and sb_calls_run.c
 * (what a call does: ringing, answering, running TwiML verbs, hanging up).
 *
 * Every function here runs on the engine's thread with the engine's mutex held, except where
 * said. A call belongs to the engine's list from placement until forgotten; it has at most one
 * timer and one document fetch pending at a time, and a FIFO of status callbacks of which one
 * is in flight at a time. Not a public interface: only those two files include it. */
#ifndef SB_CALLS_CALL_H
#define SB_CALLS_CALL_H

#include "sb_calls_engine.h"
#include "sb_calls_twiml.h"

#include "pg_form.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SB_CALL_DIALING,  /* ringing; the timer ends it */
    SB_CALL_DETECT,   /* answered, AMD listening; the timer ends it */
    SB_CALL_FETCHING, /* waiting for a document */
    SB_CALL_RUNNING,  /* in a verb; the timer ends it */
    SB_CALL_DONE,
} sb_call_state_t;

/* What the call's one timer does when it fires. */
typedef enum {
    SB_T_NONE,
    SB_T_RING_END, /* the callee answers, or does not */
    SB_T_DETECTED, /* AMD has decided: fetch the Url */
    SB_T_VERB_END, /* Say/Play/Pause done: next verb */
    SB_T_DIGITS,   /* the callee keys the gather's digits */
    SB_T_NO_INPUT, /* the gather timed out */
    SB_T_DIAL_END, /* the transferred leg ended */
    SB_T_HANGUP,   /* the callee hangs up */
} sb_timer_kind_t;

typedef struct sb_call_cb sb_call_cb_t;

/* A status callback waiting its turn. */
struct sb_call_cb {
    sb_call_cb_t *next;
    char *url;
    char *body;        /* form-encoded; NULL for a GET (fields in the URL) */
    char *signature;   /* X-Twilio-Signature value */
    const char *event; /* "initiated"... (static) */
};

typedef struct sb_call sb_call_t;

struct sb_call {
    sb_call_t *prev, *next; /* the engine's list, in placement order */
    char *sid, *account, *token, *to, *from, *url, *method, *status_callback, *cb_method;
    char *amd;   /* MachineDetection, NULL when off */
    char *twiml; /* the inline document (Twiml), NULL when url is fetched */
    unsigned events, timeout_s, time_limit_s;
    unsigned max_documents; /* the engine's max_documents */
    sb_callee_t callee;

    sb_call_state_t state;
    const char *status;      /* CallStatus: queued, ringing, in-progress, completed, busy... */
    const char *answered_by; /* NULL until AMD decides (or without AMD) */
    int64_t created_ms, started_ms, answered_ms, ended_ms; /* real; 0 = not yet */
    uint64_t sim_ms;        /* simulated ms since answered, the waits summed */
    uint64_t hangup_sim_ms; /* the callee hangs up at this sim_ms; 0 = never */
    unsigned sequence;      /* status callbacks numbered so far */
    unsigned active_at_start;

    /* the document being run */
    sb_twiml_t *doc;
    char *doc_url;
    size_t pc;                /* verb index in doc */
    unsigned gathers;         /* gathers met so far (indexes callee.presses) */
    unsigned documents;       /* fetched so far */
    const sb_tw_verb_t *verb; /* the verb the timer belongs to */
    char pending_digits[SB_CALLEE_MAX_DIGITS + 1];
    unsigned dial_s; /* the last Dial's connected seconds */
    bool in_dial;    /* a Dial's leg is ringing or connected (verb is the Dial) */
    uint64_t dial_start_sim_ms;

    /* the one timer */
    sb_timer_kind_t timer;
    uint64_t timer_gen;    /* heap entries of older generations are stale */
    uint64_t timer_sim_ms; /* what the wait adds to sim_ms */

    /* HTTP */
    bool fetching;
    sb_call_cb_t *cb_head, *cb_tail;
    bool cb_inflight;

    /* the transcript */
    json_t *events_log; /* array of {"t_ms", "what", ...} */
    json_t *said;       /* array of texts */
    json_t *digits;     /* array: what was keyed at each gather ("" = nothing) */
    json_t *callbacks;  /* {"event": HTTP status} */
    char *transfer;     /* the last Dial's target */
    const char *dial_status;
};

/* --- provided by sb_calls_engine.c --- */

/* Now in real ms since the epoch. */
int64_t sb_calls_now_ms(void);

/* Arms the call's one timer (replacing any) to fire after sim_ms simulated ms (scaled). */
void sb_calls_timer(sb_calls_engine_t *e, sb_call_t *c, sb_timer_kind_t kind, uint64_t sim_ms);

/* Starts fetching url with method and fields (signed with the call's token, as Twilio requests
 * it); sb_calls_run_fetched() gets the answer. why names it in the transcript. Returns 0, or -1
 * when it could not start (out of memory). */
int sb_calls_fetch(sb_calls_engine_t *e, sb_call_t *c, const char *url, const char *method,
                   const pg_form_t *fields, const char *why);

/* Queues a status callback of event with fields (signed), sent after those before it. */
void sb_calls_status(sb_calls_engine_t *e, sb_call_t *c, const char *event,
                     const pg_form_t *fields);

/* Appends {"t_ms": now, "what": what, ...obj's fields} to the transcript (obj stolen; may be
 * NULL). */
void sb_calls_log(sb_call_t *c, const char *what, json_t *obj);

/* Counts a call finished (and no longer active). */
void sb_calls_finished(sb_calls_engine_t *e, sb_call_t *c);

/* --- provided by sb_calls_run.c --- */

/* A call just placed: initiated, ringing, the ring timer. */
void sb_calls_run_start(sb_calls_engine_t *e, sb_call_t *c);

/* The call's timer fired. */
void sb_calls_run_timer(sb_calls_engine_t *e, sb_call_t *c);

/* A document fetch ended: status is the HTTP status (0: transport error), body[0..len) the
 * answer. */
void sb_calls_run_fetched(sb_calls_engine_t *e, sb_call_t *c, long status, const char *body,
                          size_t len);

/* The common fields of every request Twilio makes about the call. NULL when out of memory. */
pg_form_t *sb_calls_run_form(const sb_call_t *c);

#endif

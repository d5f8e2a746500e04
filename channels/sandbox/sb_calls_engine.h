/* sb_calls_engine.h — the simulated phone network behind the sandbox's Twilio Calls: places each
 * accepted call, rings the callee (sb_calls_callee), fetches and runs its TwiML
 * (sb_calls_twiml) over real HTTP, posts the Gather and Dial actions and the status callbacks,
 * all signed like Twilio (X-Twilio-Signature with the account's AuthToken, pg_sig), and keeps
 * each call's transcript.
 *
 * One thread runs every call: a timer queue (min-heap) for the simulated waits (ringing, speech,
 * pauses, key presses, gather timeouts, transferred legs) and a libcurl multi handle for the
 * HTTP, so thousands of calls proceed at once and no server thread ever waits. Simulated
 * durations are multiplied by the time scale (0.01: a 30 s call takes 300 ms); timestamps in
 * transcripts are real (ms since the epoch), durations reported (CallDuration) simulated.
 * A call's status callbacks go out one after another, in order, never blocking the call (as
 * Twilio's do); a document fetch (Url, Gather action, Dial action, Redirect) holds the call
 * until it is answered. Status callbacks and fetches are this thread's own transfers, not
 * sb_webhook's: the fetches need the answer and the callbacks their order; they are counted in
 * the engine's stats ("callbacks", "fetches").
 *
 * Thread-safe: sb_calls_engine_place() and the readers from any thread (one mutex). */
#ifndef SB_CALLS_ENGINE_H
#define SB_CALLS_ENGINE_H

#include "sb_calls_callee.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_calls_engine sb_calls_engine_t;

/* Status callback events asked for (StatusCallbackEvent); none asked = completed only. */
enum {
    SB_CALLS_EV_INITIATED = 1,
    SB_CALLS_EV_RINGING = 2,
    SB_CALLS_EV_ANSWERED = 4,
    SB_CALLS_EV_COMPLETED = 8,
};

typedef struct {
    double time_scale;        /* real ms per simulated ms, (0, 1000] */
    unsigned max_kept;        /* finished calls kept for reading, oldest dropped (>= 1) */
    unsigned http_timeout_ms; /* per fetch or callback (Twilio waits 15 s) */
    unsigned max_documents;   /* documents one call may fetch (Redirect loops end there) */
} sb_calls_config_t;

/* A call Calls.json accepted. Strings are copied; NULL for optional ones. */
typedef struct {
    const char *sid;
    const char *account;
    const char *token; /* the account's AuthToken: signs every request of the call */
    const char *to;
    const char *from;
    const char *url;    /* the TwiML's; NULL when twiml is given */
    const char *twiml;  /* the document itself (Twiml parameter), or NULL */
    const char *method; /* "POST" or "GET" */
    const char *status_callback;
    const char *status_callback_method;
    unsigned events;               /* SB_CALLS_EV_* */
    const char *machine_detection; /* NULL, "Enable" or "DetectMessageEnd" */
    unsigned timeout_s;            /* ringing before no-answer */
    unsigned time_limit_s;         /* TimeLimit: longest in-progress call (Twilio: 14400) */
    int64_t created_ms;            /* arrival of the request, real */
    sb_callee_t callee;
} sb_calls_new_t;

/* Starts the engine's thread. curl_global_init() must have run. Returns NULL with a reason in
 * err on a bad config, out of memory, or when the thread or libcurl cannot start. */
sb_calls_engine_t *sb_calls_engine_new(const sb_calls_config_t *cfg, char *err, size_t errlen);

/* Stops the thread (calls in progress are abandoned where they are) and frees; accepts NULL
 * and nulls the caller's pointer. */
void sb_calls_engine_destroy(sb_calls_engine_t **self_p);

/* Places a call; it starts ringing at once. Returns 0, or -1 when memory runs out or the
 * engine is stopping. */
int sb_calls_engine_place(sb_calls_engine_t *self, const sb_calls_new_t *call);

/* Changes the time scale of what is scheduled from now on. */
void sb_calls_engine_set_scale(sb_calls_engine_t *self, double time_scale);
double sb_calls_engine_scale(sb_calls_engine_t *self);

/* The calls (transcripts) in the order placed, as a new JSON array; only the call sid when sid
 * is not NULL, only calls to `to` when to is not NULL, only finished ones when done_only. NULL
 * when out of memory. The fields are described in NOTES-vsand.md and the module's header. */
json_t *sb_calls_engine_calls(sb_calls_engine_t *self, const char *sid, const char *to,
                              bool done_only);

/* Finished calls since start (or since the last forget). */
uint64_t sb_calls_engine_finished(sb_calls_engine_t *self);

/* Drops the finished calls' transcripts and resets finished and max_concurrent. */
void sb_calls_engine_forget(sb_calls_engine_t *self);

/* Counters: {"placed", "active", "finished", "max_concurrent", "callbacks", "callbacks_failed",
 * "fetches", "fetches_failed", "time_scale"}. NULL when out of memory. */
json_t *sb_calls_engine_stats(sb_calls_engine_t *self);

#endif

/* vc_twilio.h — the Twilio Calls driver of pregon-voice.
 *
 * Builds POST {base_url}/2010-04-01/Accounts/{AccountSid}/Calls.json (Basic auth) for a Dispatch
 * whose content is a voice script (any other content is FAILED "content-not-voice"):
 *   To            the job's contact;
 *   From          the caller id the pool chooses (vc_pool: local presence, sticky per debtor,
 *                 daily cap, retired numbers skipped), else job.sender, else --from;
 *   Url           {hooks}/twilio/voice/twiml?t=TENANT&j=JOB&l=LEASE&s=TOKEN (pg_callsig: a URL
 *                 only this worker and pregon-hooks can mint), Method POST;
 *   StatusCallback {hooks}/twilio/voice/status?... the same query, StatusCallbackMethod POST,
 *                 StatusCallbackEvent initiated, ringing, answered, completed;
 *   MachineDetection  the pool's setting, else --machine-detection (Enable, DetectMessageEnd;
 *                 "off" sends none);
 *   Timeout       --ring-timeout-s; TimeLimit --max-call-s (Twilio hangs up past it).
 * Lines: a call holds its worker slot (chw_driver_t.hold_ms) for Timeout + TimeLimit + slack
 * after Calls.json answered (or when the answer was lost: UNKNOWN), which bounds the call's
 * life by Twilio's own limits, so --concurrency lines are never exceeded (see NOTES-voice.md).
 * Calls per second: every call of the worker is shaped under one key (the account). Never
 * logs; never exposes the auth token or the URL key. */
#ifndef VC_TWILIO_H
#define VC_TWILIO_H

#include <stddef.h>
#include <stdint.h>

#include "chw_worker.h"
#include "vc_pool.h"

typedef struct vc_twilio vc_twilio_t;

typedef struct {
    const char *base_url;          /* "https://api.twilio.com" */
    const char *account_sid;       /* AC... */
    const char *auth_token;        /* secret: copied, wiped on destroy */
    const char *hooks_url;         /* pregon-hooks' public base, e.g. "https://hooks.example.com" */
    const char *url_key;           /* secret shared with pregon-hooks (pg_callsig) */
    const char *from;              /* default caller id; may be NULL */
    const char *pools;             /* pool file; may be NULL (no pools: job.sender or from) */
    const char *retired;           /* retired list; NULL = POOLS.retired */
    const char *counts_state;      /* day counts kept across restarts (vc_counts.h); NULL: none */
    const char *machine_detection; /* "off" | "Enable" | "DetectMessageEnd"; NULL = off */
    unsigned ring_timeout_s;       /* Timeout, 5..600 */
    unsigned max_call_s;           /* TimeLimit, 10..14400 */
    unsigned line_slack_s;         /* added to the hold: queueing and clock slack */
    int64_t (*clock_ms)(void *ctx); /* wall clock (Unix ms) for the daily caps; NULL = real */
    void *clock_ctx;
} vc_twilio_config_t;

/* New driver state; NULL with a reason in err on a bad setting or an unloadable pool file. */
vc_twilio_t *vc_twilio_new(const vc_twilio_config_t *config, char *err, size_t err_len);
/* Frees it (wiping the secrets); accepts NULL; nulls the caller's pointer. */
void vc_twilio_destroy(vc_twilio_t **self_p);
/* The account sid (borrowed). */
const char *vc_twilio_account_sid(const vc_twilio_t *self);
/* The runtime driver backed by self (which must outlive the worker). */
chw_driver_t vc_twilio_driver(vc_twilio_t *self);
/* The line hold in ms: (ring_timeout_s + max_call_s + line_slack_s) * 1000. */
int64_t vc_twilio_hold_ms(const vc_twilio_t *self);

/* The form body of one call (values escaped with curl_easy_escape). amd: "" = none. Returns a
 * malloc'd string, or NULL when out of memory. */
char *vc_twilio_form(const char *to, const char *from, const char *twiml_url,
                     const char *status_url, const char *amd, unsigned timeout_s,
                     unsigned time_limit_s);

/* "{hooks}/twilio/voice/{route}?t=..&j=..&l=..&s=TOKEN", malloc'd; NULL when out of memory. */
char *vc_twilio_call_url(const char *hooks_url, const char *route, const char *key,
                         const char *tenant, const char *job, const char *lease);

#endif

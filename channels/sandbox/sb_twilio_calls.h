/* sb_twilio_calls.h — simulated Twilio Programmable Voice: the Calls resource, and a phone
 * network behind it (sb_calls_engine) that runs each call's TwiML against a scripted callee.
 *
 * POST /2010-04-01/Accounts/{AccountSid}/Calls.json with Basic auth and a form (To, From, Url
 * or Twiml, Method, StatusCallback, StatusCallbackMethod, StatusCallbackEvent, MachineDetection,
 * Timeout, TimeLimit): validates like Twilio (20003, 21201, 21211, 21213, 21212, 21205, 21609,
 * 21626, then the recipient number table of the "twilio" module), answers 201 with a Twilio-shaped
 * call resource (sid CA..., status queued) and places the call. GET
 * /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json: the call's status now. Accounts are the
 * "twilio" module's (listed before this one). Control routes (JSON): GET
 * /_sandbox/twilio-calls/calls[?sid=CA..][&to=+E164][&done=1]
 *              {"calls": [transcript...], "stats": {...}} (fields in NOTES-vsand.md)
 *   DELETE /_sandbox/twilio-calls/calls      forget finished calls, reset finished/max_concurrent
 *   GET    /_sandbox/twilio-calls/wait?finished=N[&timeout_ms=T]   long poll {"finished","reached"}
 *   GET|POST|DELETE /_sandbox/twilio-calls/callees   the callee script (sb_calls_callee.h)
 *   POST   /_sandbox/twilio-calls/odds       the callee odds for numbers no rule matches
 *   GET|POST /_sandbox/twilio-calls/config   {"time_scale": F}
 *   POST   /_sandbox/twilio-calls/forge      {"url"[, "kind": "gather"|"status"|"dial",
 *              "call_sid", "digits", "call_status", "from", "to"]}: one request signed with a
 *              wrong token, sent now; answers {"status": the receiver's HTTP status}
 * Flags: --calls-time-scale F, --calls-script FILE, --calls-odds JSON, --calls-seed N,
 * --calls-max-kept N, --calls-http-timeout-ms N. */
#ifndef SB_TWILIO_CALLS_H
#define SB_TWILIO_CALLS_H

#include "sb_module.h"

/* The sandbox module "twilio-calls"; needs "twilio" before it. */
extern const sb_module_t sb_twilio_calls_module;

#endif

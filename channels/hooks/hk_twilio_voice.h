/* hk_twilio_voice.h — the Twilio Calls module of pregon-hooks ("twilio-voice"): the IVR.
 *
 * pregon-voice places each call with its own URLs (vc_twilio.h): the query t=TENANT&j=JOB&
 * l=LEASE&s=TOKEN, TOKEN = pg_callsig under the key both processes share. Every route checks
 * X-Twilio-Signature (auth token of the AccountSid posted) and the token (403 "unsigned",
 * "unknown-account", "forged", "bad-call-token"), then:
 *   POST /twilio/voice/twiml   the call was answered; asks pregond for the job's script
 *       (ScriptRequest: only while the lease is the job's) and answers TwiML (libxml2's
 *       writer): AnsweredBy machine_* or fax -> the voicemail text alone (Reg F limited
 *       content) or a hang-up; otherwise <Gather numDigits=1> around the speech, repeated
 *       no_input_repeats times, then the goodbye and <Hangup/>; a human (or no AMD) is a
 *       DELIVERY_STATUS "delivered" event (a direct contact; event id CallSid:answered);
 *   POST /twilio/voice/gather  Digits: an IVR_DIGITS event, and by the digit's action:
 *       transfer -> <Say>, <Dial callerId timeout action=/twilio/voice/dial><Number>|<Sip>;
 *       repeat (and an unmapped digit) -> the script again; opt-out -> an OPT_OUT event for the
 *       number on voice, the confirmation and <Hangup/>; wrong-number -> a WRONG_NUMBER event,
 *       its say, <Hangup/>; promise, hangup -> its say and <Hangup/>;
 *   POST /twilio/voice/dial    the transfer's end: DialCallStatus completed or answered -> a
 *       CONVERSATION event (Reg F: no call about the debt for 7 days), then <Hangup/>;
 *   POST /twilio/voice/status  CallStatus busy, no-answer, failed, canceled -> DELIVERY_STATUS
 *       "failed" (error_code = the CallStatus; event id CallSid:status); others: 200, nothing.
 * A script pregond does not give (the lease is over, the job unknown) is answered <Hangup/>. */
#ifndef HK_TWILIO_VOICE_H
#define HK_TWILIO_VOICE_H

#include "hk_module.h"
#include "hk_secrets.h"

/* Fills *out with the module (call from the main thread, before the server's threads start:
 * it initialises libxml2). tokens (AccountSid -> auth token) are borrowed and must outlive
 * it; url_key (the pg_callsig key) is copied. Returns 0, or -1 when out of memory or url_key is
 * empty. The module's destroy frees its copy. */
int hk_twilio_voice_init(hk_module_t *out, const hk_secrets_t *tokens, const char *url_key);

/* The main TwiML of a script (exposed for the unit tests): a malloc'd UTF-8 document, or NULL
 * when out of memory. gather_url is the Gather action. */
char *hk_twilio_voice_twiml(const Pregon__VoiceScript *script, const char *gather_url);

#endif

/* sb_twilio_sms.h — simulated Twilio Programmable Messaging: the Messages resource.
 *
 * POST /2010-04-01/Accounts/{AccountSid}/Messages.json with Basic auth and a form body
 * (To, From | MessagingServiceSid, Body, StatusCallback): validates like Twilio (21604, 21211,
 * 21603, 21212, 21602, 21617, 21609, then the recipient number table), answers 201 with a
 * Twilio-shaped message resource, and hands the message to sb_twilio_hooks, which posts its
 * signed status callbacks and the scripted replies. Faults, latency and recording are the
 * server's (sb_server); accounts and number tables are sb_twilio's ("twilio" module). */
#ifndef SB_TWILIO_SMS_H
#define SB_TWILIO_SMS_H

#include "sb_module.h"

#include <stddef.h>

typedef struct sb_twilio_sms sb_twilio_sms_t;

/* The sandbox module "twilio-sms" (its state is an sb_twilio_sms_t); needs "twilio" before it. */
extern const sb_module_t sb_twilio_sms_module;

/* Number of GSM-7 or UCS-2 segments Twilio would bill for body (len bytes of UTF-8). Exposed
 * for tests. */
unsigned sb_twilio_sms_segments(const char *body, size_t len);

#endif

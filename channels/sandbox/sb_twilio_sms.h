/* sb_twilio_sms.h — simulated Twilio Programmable Messaging: the Messages resource.
 *
 * POST /2010-04-01/Accounts/{AccountSid}/Messages.json with Basic auth and a form body
 * (To, From | MessagingServiceSid, Body, StatusCallback): validates like Twilio (21604, 21211,
 * 21603, 21212, 21602, 21617, 21609, then the recipient number table), answers 201 with a
 * Twilio-shaped message resource, and optionally posts signed status callbacks (sent, then
 * delivered / undelivered, or failed) through sb_webhook. Faults, latency and recording are the
 * server's (sb_server); accounts and number tables are sb_twilio's. */
#ifndef SB_TWILIO_SMS_H
#define SB_TWILIO_SMS_H

#include "sb_server.h"
#include "sb_twilio.h"
#include "sb_webhook.h"

#include <stdbool.h>

typedef struct sb_twilio_sms sb_twilio_sms_t;

typedef struct {
    bool callbacks;             /* post StatusCallback webhooks */
    unsigned callback_delay_ms; /* "sent" after this, the final status after twice this */
} sb_twilio_sms_config_t;

/* Creates the module. twilio (accounts, tables) is borrowed; hooks is borrowed and may be NULL
 * when callbacks are off. Both must outlive the module. NULL when out of memory. */
sb_twilio_sms_t *sb_twilio_sms_new(const sb_twilio_sms_config_t *cfg, const sb_twilio_t *twilio,
                                   sb_webhook_t *hooks);

/* Frees; accepts NULL and nulls the caller's pointer. Destroy after the server has stopped. */
void sb_twilio_sms_destroy(sb_twilio_sms_t **self_p);

/* Registers the Messages route on server (provider name "twilio-sms"). Returns 0 or -1. */
int sb_twilio_sms_register(sb_twilio_sms_t *self, sb_server_t *server);

/* Number of GSM-7 or UCS-2 segments Twilio would bill for body (len bytes of UTF-8). Exposed
 * for tests. */
unsigned sb_twilio_sms_segments(const char *body, size_t len);

#endif

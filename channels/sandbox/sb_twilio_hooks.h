/* sb_twilio_hooks.h — what simulated Twilio Messaging posts back: status callbacks to each
 * message's StatusCallback, inbound messages (scripted replies) to the inbound URL, duplicated
 * and forged callbacks for tests, and the control routes that steer them.
 *
 * Every post is a form signed with X-Twilio-Signature (pg_sig) by the account's AuthToken over
 * the URL it goes to, sent through sb_webhook and counted there by kind: "twilio-sms/status",
 * "twilio-sms/inbound", "twilio-sms/forged". Status callbacks: "sent" after callback_delay_ms,
 * then the final status ("delivered", or the --dlr / POST /_sandbox/twilio/dlr outcome
 * "undelivered"/"failed" with its ErrorCode) after twice that; "failed" comes alone. With
 * duplicates on, each status callback is posted twice (providers retry webhooks). Control routes
 * (JSON in and out, 400 with {"status","error"} on bad input):
 *   GET  /_sandbox/twilio-sms/config    {"callbacks","callback_delay_ms","inbound_url",
 *   POST /_sandbox/twilio-sms/config     "duplicate_callbacks","duplicate_delay_ms"}: partial
 * update GET|POST|DELETE /_sandbox/twilio-sms/replies   the reply script (sb_replies.h) POST
 * /_sandbox/twilio-sms/inbound   {"from","to","body"[,"url"]}: one inbound message now POST
 * /_sandbox/twilio-sms/forge     {"url"[,"kind":"status"|"inbound","message_sid",
 *                                        "status","to","from","body"]}: one callback signed with
 *                                        a wrong token
 * Thread-safe: MHD threads call sb_twilio_hooks_message() and the control handlers at once. */
#ifndef SB_TWILIO_HOOKS_H
#define SB_TWILIO_HOOKS_H

#include "sb_replies.h"
#include "sb_server.h"
#include "sb_twilio.h"
#include "sb_webhook.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sb_twilio_hooks sb_twilio_hooks_t;

/* A message just accepted by the Messages resource. Borrowed for the call. */
typedef struct {
    const char *sid;
    const char *account;
    const char *token; /* the account's AuthToken: signs the callbacks */
    const char *to;
    const char *from; /* NULL when sent with MessagingServiceSid only */
    const char *mss;
    const char *status_callback; /* NULL: no status callbacks */
} sb_twilio_message_t;

/* Returns the object with callbacks off, delay 1000 ms, no inbound URL, no duplicates
 * (duplicate delay 50 ms), an empty reply script. NULL when out of memory. */
sb_twilio_hooks_t *sb_twilio_hooks_new(void);

/* Frees; accepts NULL and nulls the caller's pointer. After the server has stopped. */
void sb_twilio_hooks_destroy(sb_twilio_hooks_t **self_p);

/* Settings (any time, any thread). set_inbound_url returns -1 with a reason in err when url is
 * not an http(s) URL; NULL clears it. */
void sb_twilio_hooks_set_callbacks(sb_twilio_hooks_t *self, bool on, unsigned delay_ms);
void sb_twilio_hooks_set_duplicates(sb_twilio_hooks_t *self, bool on);
int sb_twilio_hooks_set_inbound_url(sb_twilio_hooks_t *self, const char *url, char *err,
                                    size_t errlen);

/* The reply script (borrowed, lives as long as self). */
sb_replies_t *sb_twilio_hooks_replies(sb_twilio_hooks_t *self);

/* Starts: twilio, hooks and server are borrowed and outlive self. Registers the control routes.
 * Returns 0, or -1 with a reason in err. */
int sb_twilio_hooks_start(sb_twilio_hooks_t *self, const sb_twilio_t *twilio, sb_webhook_t *hooks,
                          sb_server_t *server, char *err, size_t errlen);

/* Schedules what follows an accepted message: its status callbacks, and the reply of the
 * script for its recipient, if any. */
void sb_twilio_hooks_message(sb_twilio_hooks_t *self, const sb_twilio_message_t *m);

/* Counters as a new JSON object: {"status_callbacks", "duplicates", "inbound",
 * "inbound_without_url", "forged", "replies_pending"}. NULL when out of memory. */
json_t *sb_twilio_hooks_stats(sb_twilio_hooks_t *self);

/* True when url is an http or https URL with a host (what Twilio accepts as a callback). */
bool sb_twilio_url_ok(const char *url);

#endif

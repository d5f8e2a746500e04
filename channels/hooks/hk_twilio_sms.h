/* hk_twilio_sms.h — the Twilio Messaging module of pregon-hooks ("twilio-sms").
 *
 *   POST /twilio/sms/status    a message's StatusCallback: MessageSid, MessageStatus, ErrorCode,
 *                              To, From, AccountSid -> one DELIVERY_STATUS event (provider_id =
 *                              MessageSid, status, error_code, contact = To, sender = From,
 *                              event_id = MessageSid ":" MessageStatus);
 *   POST /twilio/sms/inbound   a message from a debtor ("A message comes in"): MessageSid,
 *                              AccountSid, From (the debtor), To (our number), Body -> one
 *                              OPT_OUT, OPT_IN (hk_keyword; status = the keyword matched) or
 *                              REPLY event (contact = From, sender = To, text = Body,
 *                              event_id = MessageSid).
 * Both check X-Twilio-Signature with the auth token of the request's AccountSid (403 and a
 * reason: "unsigned" without the header, "unknown-account" for an AccountSid without a token,
 * "forged" for a wrong signature), refuse signed requests missing a field (400
 * "missing-field") and answer an empty TwiML <Response/> (text/xml) once the event is acked.
 * MessageStatus is forwarded as Twilio wrote it when it is a plain lower-case word: pregond
 * knows which statuses move a job. Text that is not UTF-8 is repaired (U+FFFD), not refused. */
#ifndef HK_TWILIO_SMS_H
#define HK_TWILIO_SMS_H

#include "hk_module.h"
#include "hk_secrets.h"

/* Fills *out with the module; tokens (AccountSid -> auth token) are borrowed and must outlive
 * it. Returns 0, or -1 when out of memory. */
int hk_twilio_sms_init(hk_module_t *out, const hk_secrets_t *tokens);

#endif

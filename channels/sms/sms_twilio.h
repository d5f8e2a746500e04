/* sms_twilio.h — the Twilio Programmable Messaging driver of pregon-sms.
 *
 * Builds POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json (Basic auth, form fields
 * To, From or MessagingServiceSid, Body, StatusCallback) for a Dispatch whose content is text
 * (any other content is FAILED "content-not-text") and classifies Twilio's
 * answer into a worker outcome (retry classes of shared/PROVIDERS.md). The pure parts (form
 * encoding, classification) are public for the unit tests; the runtime sees only the driver.
 * This module never logs and never exposes the auth token. */
#ifndef SMS_TWILIO_H
#define SMS_TWILIO_H

#include <stddef.h>

#include "chw_worker.h"

typedef struct sms_twilio sms_twilio_t;

typedef struct {
    const char *base_url;    /* e.g. "https://api.twilio.com" (no trailing path) */
    const char *account_sid; /* AC... */
    const char *auth_token;  /* secret: copied, wiped on destroy */
    const char *from;        /* default From number; may be NULL */
    const char
        *messaging_service_sid;  /* default MessagingServiceSid (wins over from); may be NULL */
    const char *status_callback; /* StatusCallback URL; may be NULL */
} sms_twilio_config_t;

/* New driver state; NULL on allocation failure or missing base_url/account_sid/auth_token. */
sms_twilio_t *sms_twilio_new(const sms_twilio_config_t *config);
/* Frees it (wiping the token); accepts NULL; nulls the caller's pointer. */
void sms_twilio_destroy(sms_twilio_t **self_p);
/* The account sid `self` sends as (borrowed from it). */
const char *sms_twilio_account_sid(const sms_twilio_t *self);
/* The runtime driver backed by `self` (which must outlive the worker). */
chw_driver_t sms_twilio_driver(sms_twilio_t *self);

/* Form-encodes the request body (application/x-www-form-urlencoded, values escaped with
 * curl_easy_escape): To, then `from_field` (=From or MessagingServiceSid) if `from` is not
 * empty, Body, StatusCallback if not NULL/empty. Returns a malloc'd string the caller frees,
 * or NULL on allocation failure. */
char *sms_twilio_form(const char *to, const char *from_field, const char *from, const char *body,
                      const char *status_callback);

/* Classifies Twilio's answer:
 *   2xx -> SENT (provider_id = "sid");  429 or 20429, 5xx -> RETRY;
 *   401 or 20003 -> CONFIG_ERROR;  21606, 21608, 21408 -> CONFIG_ERROR;
 *   21610 -> FAILED "opted-out";  21211, 21612, 21614, 21635 and any other 4xx -> FAILED;
 *   anything else (1xx, 3xx) -> UNKNOWN.
 * provider_code is Twilio's "code" when the body has one. */
void sms_twilio_classify(long status, const char *body, size_t body_len, chw_result_t *out);

/* What an operator should do about a CONFIG_ERROR that halted the channel (Twilio 20003, 21606,
 * 21608, 21408, a bad base URL, ...): one static sentence ending in "and restart". */
const char *sms_twilio_halt_hint(const chw_result_t *result);

/* The account sid masked for logs: "AC…1234" (all but the last 4 characters hidden). */
void sms_twilio_mask_sid(const char *sid, char *out, size_t out_len);

#endif

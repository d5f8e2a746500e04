/* chw_twilio.h — what every driver of a Twilio REST resource sets up the same way: pregon-sms
 * (Messages.json) and pregon-voice (Calls.json) POST a form to
 *     BASE/2010-04-01/Accounts/ACCOUNT_SID/RESOURCE
 * with the headers Accept: application/json, an empty Expect (no 100-continue round trip) and
 * Authorization: Basic base64(sid:token), built once here: handing curl the username and
 * password would make it encode and format that header again for every request.
 * Also the application/x-www-form-urlencoded body builder both use (values escaped with
 * curl_easy_escape).
 *
 * Ownership: a chw_twilio_t owns copies of everything it was given; the auth token lives only
 * in the Authorization line, which chw_twilio_destroy wipes before freeing. Read-only once
 * built: one instance serves every transfer of a worker (not thread-safe to destroy while in
 * use). A chw_form_t owns its buffer until chw_form_finish hands it to the caller. */
#ifndef CHW_TWILIO_H
#define CHW_TWILIO_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "chw_retry.h"

typedef struct chw_twilio chw_twilio_t;

/* The endpoint of `resource` (e.g. "Messages.json") of the account at base_url (e.g.
 * "https://api.twilio.com"; trailing '/' ignored), requests saying user_agent. NULL when an
 * argument is missing or empty, or out of memory. */
chw_twilio_t *chw_twilio_new(const char *base_url, const char *account_sid, const char *auth_token,
                             const char *resource, const char *user_agent);
void chw_twilio_destroy(chw_twilio_t **self_p);

/* The account sid ("" for NULL), and the resource's full URL (NULL for NULL). */
const char *chw_twilio_account_sid(const chw_twilio_t *self);
const char *chw_twilio_url(const chw_twilio_t *self);

/* The request headers (borrowed, owned by self): Accept, Expect, Authorization. */
const struct curl_slist *chw_twilio_headers(const chw_twilio_t *self);

/* Sets easy up to POST form (borrowed: it must live until the transfer is over; the drivers
 * keep it as the job's state) to the resource with the account's headers. Returns 0, or -1
 * with err filled (CHW_RETRY: curl refused an option). */
int chw_twilio_post(const chw_twilio_t *self, CURL *easy, const char *form, chw_result_t *err);

/* A form body being built: zero-initialise it ({0}), add fields, finish. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed; /* an add ran out of memory: finish returns NULL */
} chw_form_t;

/* Appends "&name=escaped(value)" (no '&' first). After a failure it does nothing. */
void chw_form_add(chw_form_t *form, const char *name, const char *value);

/* The body (NUL-terminated, "" when nothing was added; the caller frees it), or NULL when an add
 * failed or out of memory. The form is empty again afterwards. */
char *chw_form_finish(chw_form_t *form);

#endif

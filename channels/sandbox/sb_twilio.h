/* sb_twilio.h — what every simulated Twilio API shares: accounts and Basic auth, the error body,
 * SIDs and dates, and the number tables (synchronous error codes by recipient
 * prefix, delivery outcomes for status callbacks).
 *
 * Messages (sb_twilio_sms) and Calls (sb_twilio_calls) use it. It is also the sandbox module
 * "twilio" (sb_twilio_module: the flags --account, --to-error, --dlr and the control route
 * POST /_sandbox/twilio/dlr), listed before the Twilio API modules, which find it with
 * sb_env_module(env, "twilio"). Accounts are fixed before the server starts; the number tables
 * may grow at any time (a lock guards them), so the object is safe to share between threads. */
#ifndef SB_TWILIO_H
#define SB_TWILIO_H

#include "sb_module.h"
#include "sb_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct sb_twilio sb_twilio_t;

/* Size of a Twilio SID buffer: two letters, 32 hex digits, NUL. */
#define SB_TWILIO_SID_SIZE 35

/* Returns an object with no accounts and the built-in number tables: To +15005550001 -> 21211,
 * +15005550002 -> 21612, +15005550004 -> 21610, +15005550009 -> 21614 (Twilio's test-credential
 * magic numbers), and delivery outcomes +150055530001 failed/30001, +15005553000{3,5,6,7,8}
 * undelivered/3000N. NULL when out of memory. */
sb_twilio_t *sb_twilio_new(void);

/* Frees; accepts NULL and nulls the caller's pointer. */
void sb_twilio_destroy(sb_twilio_t **self_p);

/* Adds an account from "AccountSid:AuthToken". Returns 0, or -1 with a reason in err. */
int sb_twilio_add_account(sb_twilio_t *self, const char *spec, char *err, size_t errlen);

/* Number of accounts. */
size_t sb_twilio_account_count(const sb_twilio_t *self);

/* Account i < sb_twilio_account_count(): its AccountSid and AuthToken (borrowed, live as long as
 * self). false when i is out of range. */
bool sb_twilio_account(const sb_twilio_t *self, size_t i, const char **sid, const char **token);

/* Adds a synchronous error for recipients starting with PREFIX, from "PREFIX:CODE"
 * (e.g. "+57300999:21610"). Longest prefix wins. Returns 0, or -1 with a reason in err. */
int sb_twilio_add_to_error(sb_twilio_t *self, const char *spec, char *err, size_t errlen);

/* Adds a delivery outcome for recipients starting with PREFIX, from "PREFIX:STATUS:CODE",
 * STATUS undelivered or failed (e.g. "+57300888:undelivered:30003"), or delivered (":0" or no
 * code: an exception to a shorter prefix). Among rules of the same prefix length the last
 * added wins. Returns 0, or -1 with a reason in err. Any thread. */
int sb_twilio_add_dlr(sb_twilio_t *self, const char *spec, char *err, size_t errlen);

/* Checks req's Basic credentials: the user must be a configured AccountSid equal to path_sid,
 * the password its AuthToken (compared in constant time). Returns that account's token
 * (borrowed, lives as long as self) or NULL. */
const char *sb_twilio_authenticate(const sb_twilio_t *self, pg_http_request_t *req,
                                   const char *path_sid);

/* The sandbox module "twilio" (its state is an sb_twilio_t). */
extern const sb_module_t sb_twilio_module;

/* Synchronous error code for recipient to, 0 when none. */
int sb_twilio_to_error(const sb_twilio_t *self, const char *to);

/* Delivery outcome for recipient to: false when it is simply delivered, else true with
 * *status ("undelivered"/"failed", static) and *code. */
bool sb_twilio_dlr(const sb_twilio_t *self, const char *to, const char **status, int *code);

/* Replies with Twilio's error body {"code","message","more_info","status"} and records the
 * code as the outcome. code 0 = Twilio's code for status (401 20003, 404 20404, 429 20429,
 * 5xx 20500; otherwise 20000 + status, a sandbox convention). message NULL = the code's usual
 * text. 401 adds WWW-Authenticate. */
void sb_twilio_reply_error(pg_http_request_t *req, int status, int code, const char *message);

/* Usual message for a Twilio error code (static; generic text for unknown codes). */
const char *sb_twilio_error_message(int code);

/* Writes prefix (two letters) + 32 lowercase hex digits into out: unique within the process
 * (a counter through a bijective mixer), unpredictable across runs (keyed from RAND_bytes once).
 * Thread-safe. Returns 0, or -1 when the random generator fails to give the key. */
int sb_twilio_new_sid(const char *prefix, char out[SB_TWILIO_SID_SIZE]);

/* Formats t as Twilio's RFC 2822 dates: "Wed, 22 Nov 2023 15:25:00 +0000". */
void sb_twilio_date(time_t t, char out[40]);

#endif

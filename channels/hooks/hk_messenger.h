/* hk_messenger.h — the Messenger module of pregon-hooks ("messenger").
 *
 *   GET  /messenger/webhook   the subscription check: hub.mode=subscribe, hub.verify_token equal
 *                             (constant time) to the configured verify token -> 200 with
 *                             hub.challenge as a text/plain body; otherwise 403 "bad-verify-token"
 *                             (400 "missing-field" without hub.challenge). No event.
 *   POST /messenger/webhook   {"object":"page","entry":[{"id":PAGE,"time":T,"messaging":[...]}]}
 *                             signed with X-Hub-Signature-256 = "sha256=" hex(HMAC-SHA256(app
 *                             secret, raw body)) (pg_sig_meta_verify): 403 "unsigned" without the
 *                             header, "no-secret" when no app secret is configured, "forged" for
 *                             a wrong one; a signed body that is not a page object, 400. Each
 *                             messaging item becomes events (channel MESSENGER, provider
 *                             "messenger", contact = sender.id (the PSID), sender = the page):
 *       message (not an echo)  one REPLY, or OPT_OUT / OPT_IN / PAYMENT_CLAIMED / WRONG_NUMBER
 *                              when the whole text is a keyword (hk_keyword; status and keyword
 *                              = the keyword matched), text, provider_id = event_id
 *                              = mid, at = timestamp: a reply opens the debtor's 24-hour window
 *                              (pregond's part);
 *       delivery               one DELIVERY_STATUS "delivered" per mid (provider_id = the mid,
 *                              event_id = mid ":delivered"); without mids, one naming only the
 *                              PSID and at = the watermark ("everything before it"), event_id
 *                              "delivered:" PAGE ":" PSID ":" WATERMARK;
 *       read                   one DELIVERY_STATUS "read" naming the PSID, at = the watermark,
 *                              event_id "read:" PAGE ":" PSID ":" WATERMARK (Messenger names no
 *                              message: pregond maps it through the PSID's contact map);
 *       postback               as a message, the button's title as text (its payload read as a
 *                              keyword too), event_id = mid or
 *                              "postback:" PSID ":" TIMESTAMP;
 *     anything else (echoes, reactions, referrals) is answered and ignored. The answer is 200
 *     "EVENT_RECEIVED" once pregond acknowledged every event. Text that is not UTF-8 cannot
 *     come through jansson: such a body is refused 400 "bad-json". */
#ifndef HK_MESSENGER_H
#define HK_MESSENGER_H

#include "hk_module.h"

#include <stddef.h>

/* Fills *out with the module. app_secret and verify_token (either may be NULL or "": every
 * POST, respectively every GET, is refused) are copied; the copies are wiped by the module's
 * destroy. Returns 0, or -1 when out of memory. */
int hk_messenger_init(hk_module_t *out, const char *app_secret, const char *verify_token);

#endif

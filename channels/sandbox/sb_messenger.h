/* sb_messenger.h — simulated Messenger Platform: the Send API, the 24-hour window, and the
 * signed webhooks a page's subscription receives.
 *
 * POST /messenger/{version}/{page-id}/messages (page-id "me": the token's page; the Graph API's
 * path under /messenger, since WhatsApp Cloud's sandbox holds the bare /{version}/{id}/messages:
 * a worker's base URL is http://SANDBOX/messenger) with the page access
 * token as "Authorization: Bearer TOKEN" or ?access_token=TOKEN and a JSON body
 * {"recipient":{"id":PSID},"messaging_type":"RESPONSE"|"UPDATE"|"MESSAGE_TAG"[,"tag"],
 *  "message":{"text":TEXT}}. Checked in the order a client sees from Graph: the token (190),
 * the page (100/33), the body (100), then the recipient's scripted outcome (the sandbox's fault
 * plan, /_sandbox/script with "provider":"messenger" and "to":PSID: any Graph code, rendered
 * with its usual subcode: 10/2018278, 551/1545041, 100/2018001, 1200, 2, 4, 613, 190), then the
 * standard messaging window: RESPONSE and UPDATE need an inbound message from that PSID to that
 * page within the last window_s (24 h) of the sandbox's clock, which only this sandbox's own
 * scripted inbound messages open; outside it, 10/2018278. MESSAGE_TAG needs a tag and skips
 * the window. Accepted: 200 {"recipient_id","message_id":"m_..."} and, with a webhook URL, a
 * signed delivery webhook ({"delivery":{"mids":[mid],"watermark"}}) after callback_delay_ms and
 * a read webhook ({"read":{"watermark"}}) after twice that.
 * Every webhook is {"object":"page","entry":[{"id":PAGE,"time","messaging":[...]}]} with
 * X-Hub-Signature-256 = "sha256=" hex(HMAC-SHA256(app secret, body)), counted by sb_webhook as
 * "messenger/message", "messenger/delivery", "messenger/read", "messenger/forged".
 * Control routes (JSON; 400 {"status","error"} on bad input):
 *   GET|POST /_sandbox/messenger/config   {"webhook_url","deliveries","reads",
 *                                          "callback_delay_ms","window_s","clock_offset_s"}:
 *                                          partial update
 *   POST /_sandbox/messenger/inbound      {"psid","text"[,"page","url"]}: the person writes to
 *                                          the page now: opens (restarts) the window, posts the
 *                                          signed message webhook when there is a URL and an app
 *                                          secret -> 202 {"mid","timestamp","posted"}
 *   POST /_sandbox/messenger/forge        {"kind":"message"|"delivery"|"read","psid"[,"page",
 *                                          "mid","text","url"]}: one webhook signed with a wrong
 *                                          secret -> 202
 *   GET  /_sandbox/messenger/windows      [{"page","psid","opened_ms","open"}]
 * Flags: --messenger-page ID:TOKEN (repeatable), --messenger-app-secret SECRET,
 * --messenger-webhook-url URL, --messenger-callback-delay-ms N, --messenger-window-s N.
 * Thread-safe: MHD threads call the handlers at once; one mutex guards settings, the window
 * table and the counters. */
#ifndef SB_MESSENGER_H
#define SB_MESSENGER_H

#include "sb_module.h"

/* The sandbox module "messenger" (its state is private). */
extern const sb_module_t sb_messenger_module;

#endif
